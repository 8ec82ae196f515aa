"""Sessions under a careless user's hands: a step-up late in a long session."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.commissions.models import Employee
from apps.identities.models import User
from tests.authn.test_sessions import password_login, travel

pytestmark = pytest.mark.django_db


def test_a_step_up_at_the_idp_late_in_a_level_2_session_does_not_log_out_at_once(
        client: Client, federation: Any, nurse: tuple[User, Employee]) -> None:
    """13 hours into a password session (AAL2 allows 24), a step-up at LoA 3 (whose sessions last
    at most 12 hours, NIST SP 800-63B rev. 4 2.3.3) is a new authentication: the session's level
    and its clock start from it, and the page the step-up was for opens."""
    user = nurse[0]
    password_login(client, user)
    travel(client, since_login=13 * 3600, since_activity=60)
    page = federation.login(client, user.person, step_up=True, next_path="/my/eids/new/")
    assert page.status_code == 302 and page["Location"] == "/my/eids/new/"
    assert client.get("/my/eids/new/").status_code == 200
    assert client.session["_auth_user_id"] == str(user.pk)


def test_the_overall_limit_still_counts_from_the_step_up(
        client: Client, federation: Any, nurse: tuple[User, Employee]) -> None:
    user = nurse[0]
    password_login(client, user)
    federation.login(client, user.person, step_up=True)
    travel(client, since_login=12 * 3600 + 60, since_activity=60)
    response = client.get(reverse("selfservice:my_eids"))
    assert response.status_code == 302 and "_auth_user_id" not in client.session
