"""HR system requests at the same moment, on PostgreSQL (docs/scim-inbound.md): two creating one
`userName` (one is 201, the other 409 `uniqueness`: the unique username index decides; never a
500), and two changes holding one `If-Match` version (one is applied, the other 412)."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import httpx2
import pytest

from apps.commissions.models import RoleAssignment
from apps.identities.models import User
from tests.api.scim_support import PATCH_SCHEMA, SCIM, client_token, hr_system, new_user
from tests.concurrency.support import at_once
from tests.conftest import make_staff
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


def _send(base_url: str, token: str, method: str, path: str, version: str,
          body: Any = None) -> int:
    answer = httpx2.request(method, f"{base_url}/scim/v2/{path}", timeout=60,
                            content=json.dumps(body) if body is not None else None,
                            headers={"Authorization": f"Bearer {token}", "Content-Type": SCIM,
                                     "If-Match": version})
    return answer.status_code


def _version(base_url: str, token: str, path: str) -> str:
    return str(httpx2.get(f"{base_url}/scim/v2/{path}", timeout=60,
                          headers={"Authorization": f"Bearer {token}"}).json()["meta"]["version"])


def test_two_group_changes_holding_one_version_are_never_both_applied(
        live_server: Any, settings: Any, tree: Any) -> None:
    """If-Match (RFC 7644 §3.14): once one request's change commits, the other's version is
    stale: one is applied, the other is 412."""
    use_provider(settings, live_server.url)
    token = client_token(hr_system(tree["hospital"]))
    people = [str(make_staff(tree["cardio"], f"Pe{i}", "Race", totp=False)[0].person_id)
              for i in range(6)]
    for round_ in range(3):
        version = _version(live_server.url, token, "Groups/issuer")
        adds = [{"schemas": [PATCH_SCHEMA], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": p}]}]}
            for p in people[2 * round_: 2 * round_ + 2]]
        outcomes = sorted(at_once([partial(_send, live_server.url, token, "PATCH",
                                           "Groups/issuer", version, add) for add in adds]))
        assert outcomes in ([200, 412], [204, 412]), outcomes
    assert RoleAssignment.objects.filter(role="issuer", person_id__in=people).count() == 3


def test_a_delete_and_a_patch_holding_one_version_are_never_both_applied(
        live_server: Any, settings: Any, tree: Any) -> None:
    """DELETE compares If-Match under the person's lock, after a PATCH holding the same version
    committed: only one of the two is applied, the other refused (412, RFC 7644 §3.14)."""
    use_provider(settings, live_server.url)
    token = client_token(hr_system(tree["hospital"]))
    for i in range(4):
        user, _ = make_staff(tree["cardio"], f"Del{i}", "Race", totp=False, care=True)
        path = f"Users/{user.person_id}"
        version = _version(live_server.url, token, path)
        rename = {"schemas": [PATCH_SCHEMA], "Operations": [
            {"op": "replace", "path": "name.familyName", "value": f"Renamed{i}"}]}
        outcomes = at_once([partial(_send, live_server.url, token, "PATCH", path, version,
                                    rename),
                            partial(_send, live_server.url, token, "DELETE", path, version)])
        assert sorted(s in (200, 204) for s in outcomes) == [False, True], outcomes
