"""Two HR system requests creating one `userName` at the same moment, on PostgreSQL: one is 201,
the other 409 `uniqueness` (the unique username index decides; never a 500), and one person
exists (docs/scim-inbound.md)."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import httpx2
import pytest

from apps.identities.models import User
from tests.api.scim_support import SCIM, client_token, hr_system, new_user
from tests.concurrency.support import at_once
from tests.federation.oidc_support import use_provider

pytestmark = pytest.mark.django_db(transaction=True)


def _post(base_url: str, token: str, given: str) -> tuple[int, Any]:
    answer = httpx2.post(f"{base_url}/scim/v2/Users", timeout=60,
                         content=json.dumps(new_user("same.name", given=given)),
                         headers={"Authorization": f"Bearer {token}", "Content-Type": SCIM})
    return answer.status_code, answer.json()


def test_two_posts_of_one_username_at_once_make_one_user(live_server: Any, settings: Any,
                                                         tree: Any) -> None:
    use_provider(settings, live_server.url)
    token = client_token(hr_system(tree["hospital"]))
    answers = at_once([partial(_post, live_server.url, token, given)
                       for given in ("Anna", "Berit")])
    assert sorted(status for status, _ in answers) == [201, 409]
    refused = next(body for status, body in answers if status == 409)
    assert refused["scimType"] == "uniqueness"
    assert User.objects.filter(username="same.name").count() == 1
