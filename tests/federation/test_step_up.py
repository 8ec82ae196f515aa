"""Step-up at the IdP (SAML 2.0 core 3.4.1: ForceAuthn and RequestedAuthnContext): the answer must
be for the person already logged in, raises the session's level and rotates its key."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.authn.models import UserSession
from apps.authn.session import key_hash
from apps.commissions.models import Employee
from apps.core.loa import LOA2, LOA3
from apps.identities.models import User
from apps.organisations.models import Organisation
from tests.conftest import PASSWORD, make_staff, totp_now
from tests.federation.support import person_attributes

pytestmark = pytest.mark.django_db


def test_a_plain_login_asks_for_no_level_and_no_new_authentication(
        client: Client, federation: Any) -> None:
    asked = federation.start(client, "staff")
    assert asked.force_authn is False and asked.requested_loas == ()
    assert "ForceAuthn" not in asked.xml and "RequestedAuthnContext" not in asked.xml


def test_a_step_up_from_a_password_and_totp_session_reaches_level_3(
        client: Client, federation: Any, nurse: tuple[User, Employee], otp_clock: Any) -> None:
    user = nurse[0]
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    client.post("/login/otp/", {"token": totp_now()})
    assert client.session["authn"]["loa"] == LOA2
    before = client.session.session_key
    asked = federation.start(client, "staff", step_up=True, next_path="/my/eids/")
    assert asked.force_authn is True and asked.requested_loas == (LOA3,)
    assert 'ForceAuthn="true"' in asked.xml and 'Comparison="minimum"' in asked.xml
    answer = federation.idps["staff"].response(asked, person_attributes(user.person))
    page = federation.post(client, answer)
    assert page.status_code == 302 and page["Location"] == "/my/eids/"
    authn = client.session["authn"]
    assert authn["loa"] == LOA3 and authn["methods"] == ["pwd", "otp", "saml"]
    assert authn["idp"] == federation.idps["staff"].entity_id and authn["step_up"]
    after = client.session.session_key
    assert after != before
    row = UserSession.objects.get(user=user, ended_at__isnull=True)
    assert row.key_hash == key_hash(after) and row.loa == LOA3
    assert row.methods == ["pwd", "otp", "saml"]
    # Audited as a step-up, at the level the IdP answered with.
    event = AuditEvent.objects.filter(action="step_up.succeeded", actor_id=str(user.pk)).get()
    assert event.changes["method"] == [None, "saml"] and event.loa == LOA3


def test_a_step_up_answered_for_another_person_is_refused(
        client: Client, federation: Any, nurse: tuple[User, Employee],
        tree: dict[str, Organisation]) -> None:
    user = nurse[0]
    other, _ = make_staff(tree["cardio"], "Otto", "Other")
    federation.login(client, user.person)
    asked = federation.start(client, "staff", step_up=True)
    answer = federation.idps["staff"].response(asked, person_attributes(other.person))
    page = federation.post(client, answer)
    assert page.status_code == 403
    assert "another person" in page.content.decode()
    assert client.session["_auth_user_id"] == str(user.pk)
    assert client.session["authn"]["step_up"] is None
