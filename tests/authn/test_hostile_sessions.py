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


def test_a_step_up_finishing_after_its_session_was_ended_elsewhere_logs_out(
        client: Client, federation: Any, nurse: Any) -> None:
    """Found: a session ended from another device while its step-up was completing (the request
    had read the session before the end) lived on under the step-up's new key, with no active
    record. The record is locked while the key changes; an ended one logs the browser out."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.sessions.models import Session
    from django.http import HttpRequest

    from apps.authn import services as authn_services
    from apps.authn import session
    from apps.authn.models import UserSession
    from apps.core.assurance import mint_step_up
    from apps.core.loa import LOA3

    user = nurse[0]
    federation.login(client, user.person)
    request = HttpRequest()  # the step-up's request, which read the session before the end
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(
        session_key=client.session.session_key)
    request.session.load()
    request.user = user
    row = UserSession.objects.get(user=user, ended_at__isnull=True)
    authn_services.session_end(actor=user, user_session=row, reason="ended")
    assert not session.store_step_up(request, mint_step_up(user.pk, "saml", loa=LOA3))
    assert request.session.get("authn") is None
    assert not Session.objects.exists()
