"""A lost authenticator or password: an issuer in scope, after checking an identity document and
with a fresh step-up, removes the authenticator app (enrolled anew at the next login) or sets a
one-time password (changed at the next login before anything else)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.authn import recovery
from apps.authn.models import LoginObligation, TOTPDevice, UserSession
from apps.commissions import services as commissions
from apps.commissions.models import Role
from apps.core.actors import SYSTEM
from apps.core.assurance import mint_step_up
from apps.core.errors import Forbidden, NotFound, ValidationFailed
from apps.core.loa import LOA2, LOA3
from apps.identities.documents import IdentityDocument
from tests.conftest import PASSWORD, login_session, make_staff, totp_now

DOCUMENT = IdentityDocument(type="passport", last_four="4711",
                            expires_on=timezone.localdate() + dt.timedelta(days=400))


def proof(user):
    return mint_step_up(user.pk, "saml", loa=LOA3)


def reset(actor, person, **overrides):
    arguments = {"actor": actor, "person": person, "identity_document": DOCUMENT,
                 "step_up": proof(actor)}
    arguments.update(overrides)
    return recovery.second_factor_reset(**arguments)


def test_only_an_issuer_in_scope_with_a_document_and_a_fresh_step_up(
        issuer, hospital_admin, nurse, tree):
    user, _ = nurse
    with pytest.raises(Forbidden):  # a local administrator is no issuer
        reset(hospital_admin, user.person)
    primary_issuer, _ = make_staff(tree["primary"], "Petra", "Primary")
    commissions.role_grant(actor=SYSTEM, person=primary_issuer.person, role=Role.ISSUER,
                           organisation=tree["primary"], valid_from=timezone.now(),
                           valid_until=None)
    with pytest.raises(NotFound):  # the nurse works at the hospital, outside Petra's scope
        reset(primary_issuer, user.person)
    with pytest.raises(NotFound):  # never for themself
        reset(issuer, issuer.person)
    with pytest.raises(ValidationFailed) as missing:
        reset(issuer, user.person, identity_document=None)
    assert missing.value.code == "document.required"
    with pytest.raises(Forbidden) as stale:
        reset(issuer, user.person, step_up=mint_step_up(issuer.pk, "otp", loa=LOA2))
    assert stale.value.code == "step_up_required"
    assert TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    assert not AuditEvent.objects.filter(action="second_factor.reset").exists()


def test_a_removed_authenticator_is_enrolled_anew_at_the_next_login(issuer, nurse, otp_clock):
    user, _ = nurse
    elsewhere = login_session(Client(), user, loa=LOA2, methods=("pwd", "otp"), idp=None)
    assert reset(issuer, user.person) == 1
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not UserSession.objects.filter(user=user, ended_at__isnull=True).exists()
    assert elsewhere.get(reverse("selfservice:my_account")).status_code == 302
    event = AuditEvent.objects.get(action="second_factor.reset")
    assert event.changes["document_type"] == [None, "passport"]
    assert event.changes["document_last_four"] == [None, "4711"]

    client = Client()
    client.post(reverse("authn:login"), {"username": user.username, "password": PASSWORD})
    response = client.get(reverse("authn:otp"))
    assert response.status_code == 302 and reverse("authn:enrol") in response["Location"]
    page = client.get(reverse("authn:enrol"))
    key = TOTPDevice.objects.get(user=user, confirmed=False).bin_key.hex()
    assert page.status_code == 200 and page.context["secret"]
    wrong = client.post(reverse("authn:enrol"), {"token": "000000" if totp_now(key) != "000000"
                                                 else "111111"})
    assert wrong.status_code == 400
    otp_clock.now += 30
    time.sleep(1.1)  # django-otp makes the device wait 1 second after one wrong code
    done = client.post(reverse("authn:enrol"), {"token": totp_now(key)})
    assert done.status_code == 302, done.content.decode()
    assert client.get(reverse("selfservice:my_account")).status_code == 200
    assert not LoginObligation.objects.filter(user=user).exists()
    assert TOTPDevice.objects.get(user=user).confirmed


def test_a_one_time_password_must_be_changed_first(issuer, nurse, otp_clock):
    user, _ = nurse
    password = recovery.one_time_password_set(actor=issuer, person=user.person,
                                              identity_document=DOCUMENT,
                                              step_up=proof(issuer))
    assert len(password) >= 15
    assert password not in str(list(AuditEvent.objects.values_list("changes", flat=True)))
    client = Client()
    client.post(reverse("authn:login"), {"username": user.username, "password": password})
    otp_clock.now += 30
    client.post(reverse("authn:otp"), {"token": totp_now()})
    forced = client.get(reverse("selfservice:my_sessions"))
    assert forced.status_code == 302 and forced["Location"] == reverse("selfservice:my_password")
    changed = client.post(reverse("selfservice:my_password"), {
        "current_password": password, "new_password": "mitt eget nya lösen",
        "new_password_again": "mitt eget nya lösen", "token": ""})
    assert changed.status_code == 302, changed.content.decode()
    assert client.get(reverse("selfservice:my_sessions")).status_code == 200
    assert not LoginObligation.objects.filter(user=user).exists()
    assert AuditEvent.objects.get(action="password.changed").changes[
        "replaced_one_time_password"] == [None, True]


def test_the_issuer_page_offers_recovery_and_shows_the_password_once(issuer, nurse):
    user, _ = nurse
    client = login_session(Client(), issuer)
    session = client.session
    authn = session["authn"]
    authn["step_up"] = proof(issuer).as_session()
    session["authn"] = authn
    session.save()
    url = reverse("selfservice:issuer_recovery", args=[user.person.pk])
    missing = client.post(url, {"recovery-action": "one_time_password"})
    assert missing.status_code == 400
    assert set(missing.context["recovery_form"].errors) >= {
        "document_type", "document_last_four", "document_expires_on"}
    shown = client.post(url, {
        "recovery-action": "one_time_password", "recovery-document_type": "passport",
        "recovery-document_last_four": "4711",
        "recovery-document_expires_on": (timezone.localdate() + dt.timedelta(days=90)).isoformat()})
    assert shown.status_code == 200 and shown.context["password"]
    assert shown["Cache-Control"].startswith("max-age=0") or "no-store" in shown["Cache-Control"]
