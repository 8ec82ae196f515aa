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
from apps.core.actors import ANONYMOUS, SYSTEM
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
                                              step_up=proof(issuer)).password
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


def issuer_client(issuer):
    client = login_session(Client(), issuer)
    session = client.session
    authn = session["authn"]
    authn["step_up"] = proof(issuer).as_session()
    session["authn"] = authn
    session.save()
    return client


def recovery_form(action):
    return {"recovery-action": action, "recovery-document_type": "passport",
            "recovery-document_last_four": "4711",
            "recovery-document_expires_on": (timezone.localdate()
                                             + dt.timedelta(days=90)).isoformat()}


def test_the_issuer_page_offers_recovery_and_shows_the_password_once(issuer, nurse):
    user, _ = nurse
    client = issuer_client(issuer)
    url = reverse("selfservice:issuer_recovery", args=[user.person.pk])
    missing = client.post(url, {"recovery-action": "one_time_password"})
    assert missing.status_code == 400
    assert set(missing.context["recovery_form"].errors) >= {
        "document_type", "document_last_four", "document_expires_on"}
    shown = client.post(url, recovery_form("one_time_password"))
    assert shown.status_code == 200 and shown.context["password"]
    assert shown["Cache-Control"].startswith("max-age=0") or "no-store" in shown["Cache-Control"]


@pytest.mark.parametrize("action", ["second_factor", "one_time_password"])
def test_the_issuer_sees_what_was_done_not_a_step_up_prompt(issuer, nurse, action):
    """Found: after removing the authenticator the issuer was redirected to the person's page,
    which asked to confirm it is them again (the step-up was spent). Now the answer says what
    was done; a further change still needs a fresh step-up."""
    user, _ = nurse
    client = issuer_client(issuer)
    done = client.post(reverse("selfservice:issuer_recovery", args=[user.person.pk]),
                       recovery_form(action))
    assert done.status_code == 200, done.get("Location")
    text = done.content.decode()
    assert "Confirm it is you" not in text
    assert reverse("selfservice:issuer_search") in text
    if action == "second_factor":
        assert f"The authenticator app of {user.person} is removed" in text
        assert not TOTPDevice.objects.filter(user=user).exists()
    else:
        assert done.context["password"] in text
        until = timezone.localtime(LoginObligation.objects.get(user=user).expires_at)
        assert f"It works until {until:%Y-%m-%d %H:%M}" in text
    again = client.post(reverse("selfservice:issuer_recovery", args=[user.person.pk]),
                        recovery_form(action))
    assert again.status_code == 302 and reverse("authn:step_up") in again["Location"]


def test_a_one_time_password_expires_after_a_week(issuer, nurse, settings):
    """It works for `PORTAL_ONE_TIME_PASSWORD_SECONDS` (7 days by default); then the login is
    refused with a message that sends the person to an issuer, and audited."""
    assert settings.PORTAL_ONE_TIME_PASSWORD_SECONDS == 7 * 86400
    user, _ = nurse
    given = recovery.one_time_password_set(actor=issuer, person=user.person,
                                           identity_document=DOCUMENT, step_up=proof(issuer))
    obligation = LoginObligation.objects.get(user=user)
    assert obligation.expires_at is not None
    assert abs((obligation.expires_at - timezone.now()) - dt.timedelta(days=7)) < dt.timedelta(
        minutes=1)
    assert given.expires_at == obligation.expires_at
    LoginObligation.objects.filter(pk=obligation.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1))  # a week has passed
    client = Client()
    refused = client.post(reverse("authn:login"), {"username": user.username,
                                                   "password": given.password})
    assert refused.status_code == 200
    assert ("The one-time password you were given has expired. Contact an e-ID issuer"
            in refused.content.decode())
    assert client.get(reverse("authn:otp")).status_code == 302  # not half logged in
    event = AuditEvent.objects.filter(action="login.failed").latest("occurred_at")
    assert event.changes["step"] == [None, "one_time_password_expired"]
    assert str(event.actor_id) != str(user.pk)  # the login did not complete: anonymous


def test_enrolment_at_login_is_audited_as_the_account(issuer, nurse, otp_clock):
    """Found: the new authenticator set up at login was audited with the anonymous actor,
    although the password was just accepted (`login.succeeded` names the account)."""
    user, _ = nurse
    reset(issuer, user.person)
    with pytest.raises(Forbidden):
        recovery.totp_enrol_at_login(actor=ANONYMOUS, user=user)
    with pytest.raises(Forbidden):
        recovery.totp_enrol_at_login(actor=issuer, user=user)
    client = Client()
    client.post(reverse("authn:login"), {"username": user.username, "password": PASSWORD})
    client.get(reverse("authn:enrol"))
    key = TOTPDevice.objects.get(user=user, confirmed=False).bin_key.hex()
    assert client.post(reverse("authn:enrol"), {"token": totp_now(key)}).status_code == 302
    device = TOTPDevice.objects.get(user=user)
    for action in ("otp_device.started", "otp_device.created"):
        event = AuditEvent.objects.get(action=action, target_id=str(device.pk))
        assert (str(event.actor_id), event.actor_kind) == (str(user.pk), "user"), action


@pytest.mark.parametrize("broken", ["revoked", "expired"])
def test_a_revoked_or_expired_mobile_e_id_is_no_way_back_but_an_issuer_is(
        issuer, nurse, issuing_ca, otp_clock, broken):
    """Self-service recovery needs a mobile e-ID that still works: with it revoked or past its
    validity, neither its login nor its step-up is offered or accepted, so the lost app's code is
    still needed on *Replace authenticator app*; the issuer's way still works."""
    from apps.issuance import services as issuance
    from apps.issuance.models import MobileEID
    from tests.issuance.oob_support import activate

    user, _ = nurse
    wallet = activate(user.person)
    eid = MobileEID.objects.get(serial=wallet.serial)
    if broken == "revoked":
        issuance.eid_revoke(actor=SYSTEM, eid=eid, reason="Phone lost")
    else:
        MobileEID.objects.filter(pk=eid.pk).update(
            not_after=timezone.now() - dt.timedelta(seconds=1))

    browser = Client()
    page = browser.post("/login/mobile-eid/").content.decode()
    reference = page.split("EIDAUTH1.")[1][:32]
    from apps.issuance.models import OutOfBandRequest
    req = OutOfBandRequest.objects.get(reference=reference)
    approval = Client().post(f"/api/v1/eid/auth-requests/{req.reference}/approval",
                             {"serial": wallet.serial, "number": req.number,
                              "signature": wallet.sign_b64(req)},
                             content_type="application/json")
    assert approval.status_code == 403 and approval.json()["code"] == "auth.eid"
    assert browser.get(reverse("selfservice:my_account")).status_code == 302  # not logged in

    # Still logged in somewhere with the lost app: no mobile e-ID step-up stands in for it.
    here = login_session(Client(), user, loa=LOA2, methods=("pwd", "otp"), idp=None)
    here.post(reverse("selfservice:my_authenticator_start"))
    step_up = here.get(f"{reverse('authn:step_up')}?next=/my/account/authenticator/")
    assert "Confirm with your mobile e-ID" not in step_up.content.decode()
    assert here.post("/login/step-up/mobile-eid/",
                     {"next": "/my/account/authenticator/"}).status_code == 403
    new = TOTPDevice.objects.get(user=user, confirmed=False)
    refused = here.post(reverse("selfservice:my_authenticator"),
                        {"new_token": totp_now(new.bin_key.hex()), "token": ""})
    assert refused.status_code == 400
    assert "Enter the code from your authenticator app" in refused.content.decode()

    assert reset(issuer, user.person) == 2  # the old app and the unconfirmed new key
    client = Client()
    client.post(reverse("authn:login"), {"username": user.username, "password": PASSWORD})
    assert reverse("authn:enrol") in client.get(reverse("authn:otp"))["Location"]


def test_the_next_code_typed_during_the_wait_after_a_wrong_one_says_wait(issuer, nurse,
                                                                         otp_clock):
    """Found: after one wrong code on the enrolment page, the right code of the next 30-second
    window was refused as "wrong or expired": it was django-otp's wait after a failure."""
    user, _ = nurse
    reset(issuer, user.person)
    client = Client()
    client.cookies["django_language"] = "en"
    client.post(reverse("authn:login"), {"username": user.username, "password": PASSWORD})
    client.get(reverse("authn:enrol"))
    key = TOTPDevice.objects.get(user=user, confirmed=False).bin_key.hex()
    wrong = client.post(reverse("authn:enrol"), {"token": "000000" if totp_now(key) != "000000"
                                                  else "111111"})
    assert "The code is wrong" in wrong.content.decode()
    otp_clock.now += 30
    early = client.post(reverse("authn:enrol"), {"token": totp_now(key)}).content.decode()
    assert "Wait a few seconds, then enter the next code" in early
    assert "The code is wrong" not in early
    time.sleep(1.1)  # django-otp's wait after one wrong code: 1 second
    otp_clock.now += 30
    assert client.post(reverse("authn:enrol"), {"token": totp_now(key)}).status_code == 302


@pytest.mark.parametrize("what,subject", [
    ("reset", "Your authenticator app was removed"),
    ("password", "Your account was given a one-time password"),
])
def test_the_person_is_emailed_when_an_issuer_recovers_their_account(issuer, nurse, what,
                                                                     subject):
    """Found: the person's own changes were e-mailed to them, an issuer's were not."""
    from django.core import mail

    from apps.outbox.delivery import deliver_pending

    user, _ = nurse
    if what == "reset":
        reset(issuer, user.person)
        secret = None
    else:
        secret = recovery.one_time_password_set(actor=issuer, person=user.person,
                                                identity_document=DOCUMENT,
                                                step_up=proof(issuer)).password
    mail.outbox.clear()
    deliver_pending()
    sent = [m for m in mail.outbox if m.subject == subject]
    assert len(sent) == 1 and sent[0].to == [user.person.email]
    assert "issuer" in sent[0].body and "identity document" in sent[0].body
    if secret:
        assert secret not in sent[0].body
    assert AuditEvent.objects.filter(action="account.notified", subject_person_id=user.person.pk
                                     ).exists()
