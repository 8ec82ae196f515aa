"""The staff member's own credentials: changing the password (NIST SP 800-63B rev. 4, 3.1.1.2)
and replacing the authenticator app need the current password or authenticator and the second
factor now; either change ends every other session and e-mails the person."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.authn import account, selectors, services
from apps.authn.models import TOTPDevice, UserSession
from apps.authn.session import key_hash
from apps.core.actors import ANONYMOUS
from apps.core.assurance import mint_step_up
from apps.core.errors import Forbidden, ValidationFailed
from apps.core.loa import LOA2
from apps.outbox.delivery import deliver_pending
from apps.outbox.models import OutboxEvent
from tests.conftest import PASSWORD, TOTP_KEY, login_session, make_staff, totp_now

NEW_PASSWORD = "lingon sylt på fredag"


def request():
    return RequestFactory().post("/my/account/password/", REMOTE_ADDR="10.1.2.3")


def change(user, **overrides):
    arguments = {"actor": user, "request": request(), "current_password": PASSWORD,
                 "new_password": NEW_PASSWORD, "token": totp_now()}
    arguments.update(overrides)
    return account.password_change(**arguments)


def two_sessions(user):
    """Two logged-in browsers of `user`; returns (this one's key hash, the other client)."""
    here = login_session(Client(), user, loa=LOA2, methods=("pwd", "otp"), idp=None)
    there = login_session(Client(), user, loa=LOA2, methods=("pwd", "otp"), idp=None)
    return key_hash(here.cookies[settings.SESSION_COOKIE_NAME].value), there


def test_a_wrong_current_password_is_refused_and_audited(hospital_admin):
    with pytest.raises(ValidationFailed) as refused:
        change(hospital_admin, current_password="not my password")
    assert (refused.value.code, refused.value.field) == ("password.wrong", "current_password")
    assert AuditEvent.objects.filter(action="step_up.failed", outcome="failure").exists()
    hospital_admin.refresh_from_db()
    assert hospital_admin.check_password(PASSWORD)


def test_the_second_factor_is_needed_now(hospital_admin):
    with pytest.raises(ValidationFailed) as missing:
        change(hospital_admin, token="")
    assert missing.value.code == "second_factor.required"
    with pytest.raises(ValidationFailed) as wrong:
        change(hospital_admin, token="000000" if totp_now() != "000000" else "111111")
    assert wrong.value.code == "otp.failed"
    stale = mint_step_up(hospital_admin.pk, "otp", loa=LOA2, now=time.time() - 600)
    with pytest.raises(ValidationFailed) as old:
        change(hospital_admin, token="", step_up=stale)
    assert old.value.code == "second_factor.required"
    hospital_admin.refresh_from_db()
    assert hospital_admin.check_password(PASSWORD)


def test_a_fresh_step_up_stands_in_for_the_code(hospital_admin):
    proof = mint_step_up(hospital_admin.pk, "otp", loa=LOA2)
    change(hospital_admin, token="", step_up=proof)
    hospital_admin.refresh_from_db()
    assert hospital_admin.check_password(NEW_PASSWORD)


@pytest.mark.parametrize("password", ["kort123", "password123", "iloveyou2"])
def test_short_and_common_passwords_are_refused(hospital_admin, password):
    with pytest.raises(ValidationFailed) as refused:
        change(hospital_admin, new_password=password)
    assert (refused.value.code, refused.value.field) == ("password.invalid", "new_password")


def test_length_rules_follow_the_factors_and_allow_long_unicode(tree):
    """8 characters with a second factor, 15 without (SP 800-63B rev. 4, 3.1.1.2 items 2-3); no
    composition rules; 64 characters and more are allowed (item 4)."""
    with_factor, _ = make_staff(tree["hospital"], "Mona", "Mfa")
    without, _ = make_staff(tree["hospital"], "Olle", "Only", totp=False)
    validate_password("blåbärs!", with_factor)
    with pytest.raises(ValidationError):
        validate_password("blåbärsris!", without)  # 11 < 15
    validate_password("blåbärsris i skogen", without)
    validate_password("ä" * 10 + " ord" * 20, with_factor)  # 90 characters, no digits or symbols


def test_the_password_is_compared_in_nfkc(hospital_admin):
    """A password set with full-width letters logs in with the plain ones (3.1.1.2 item 8)."""
    change(hospital_admin, new_password="ｆｕｌｌ ｗｉｄｔｈ lösen")
    user = services.password_check(actor=ANONYMOUS, request=request(),
                                   username=hospital_admin.username,
                                   password="full width lösen")
    assert user == hospital_admin


def test_a_change_ends_the_other_sessions_and_mails_the_person(hospital_admin):
    here, there = two_sessions(hospital_admin)
    change(hospital_admin, keep_key_hash=here)
    active = UserSession.objects.filter(user=hospital_admin, ended_at__isnull=True)
    assert [row.key_hash for row in active] == [here]
    assert there.get(reverse("selfservice:my_sessions")).status_code == 302  # logged out there
    event = AuditEvent.objects.get(action="password.changed")
    assert event.changes["sessions_ended"] == [None, 1]
    assert PASSWORD not in str(event.changes) and NEW_PASSWORD not in str(event.changes)
    assert OutboxEvent.objects.filter(topic="password.changed").count() == 1
    deliver_pending()
    assert [m.to for m in mail.outbox] == [[hospital_admin.person.email]]
    assert "password" in mail.outbox[0].subject.lower()
    deliver_pending()
    assert len(mail.outbox) == 1  # sent once


def test_guessing_the_current_password_is_throttled(hospital_admin):
    for _ in range(10):
        with pytest.raises(ValidationFailed):
            change(hospital_admin, current_password="guess")
    with pytest.raises(ValidationFailed) as refused:
        change(hospital_admin)
    assert refused.value.code == "login.throttled"


def test_a_patient_account_has_no_password_to_change_here(patient):
    """The services act on the actor's own account only (no target to name), and only staff."""
    with pytest.raises(Forbidden):
        account.password_change(actor=patient, request=request(), current_password="x",
                                new_password=NEW_PASSWORD)


def test_the_new_authenticator_is_confirmed_before_the_old_one_stops(hospital_admin, otp_clock):
    here, there = two_sessions(hospital_admin)
    old = TOTPDevice.objects.get(user=hospital_admin)
    new = account.totp_enrolment_start(actor=hospital_admin)
    assert not new.confirmed and selectors.totp_enrolment_pending(hospital_admin) == new
    with pytest.raises(ValidationFailed) as wrong:
        account.totp_device_replace(actor=hospital_admin, new_token=totp_now(),
                                    token=totp_now(), keep_key_hash=here)
    assert wrong.value.code == "otp.new_wrong"
    assert TOTPDevice.objects.filter(pk=old.pk, confirmed=True).exists()  # the old one still works
    otp_clock.now += 30
    time.sleep(1.1)  # django-otp makes the device wait 1 second after one wrong code
    new_key = new.bin_key.hex()
    account.totp_device_replace(actor=hospital_admin, new_token=totp_now(new_key),
                                token=totp_now(), keep_key_hash=here)
    assert list(TOTPDevice.objects.filter(user=hospital_admin)) == [new]
    assert TOTPDevice.objects.get(pk=new.pk).confirmed
    assert UserSession.objects.filter(user=hospital_admin, ended_at__isnull=True).count() == 1
    assert there.get(reverse("selfservice:my_sessions")).status_code == 302
    otp_clock.now += 30
    assert services.otp_check(actor=ANONYMOUS, user=hospital_admin, token=totp_now(new_key)) == new
    otp_clock.now += 30
    with pytest.raises(ValidationFailed):
        services.otp_check(actor=ANONYMOUS, user=hospital_admin, token=totp_now(TOTP_KEY))
    deliver_pending()
    assert "authenticator" in mail.outbox[0].subject.lower()
    assert AuditEvent.objects.filter(action="otp_device.replaced").count() == 1


def test_replacing_needs_the_current_factor(hospital_admin):
    new = account.totp_enrolment_start(actor=hospital_admin)
    with pytest.raises(ValidationFailed) as missing:
        account.totp_device_replace(actor=hospital_admin, new_token=totp_now(new.bin_key.hex()))
    assert missing.value.code == "second_factor.required"
    assert not TOTPDevice.objects.get(pk=new.pk).confirmed


def test_the_e_mail_address_is_changed_with_the_second_factor(hospital_admin):
    with pytest.raises(ValidationFailed) as missing:
        account.contact_email_change(actor=hospital_admin, email="astrid@region.example")
    assert missing.value.code == "second_factor.required"
    with pytest.raises(ValidationFailed) as invalid:
        account.contact_email_change(actor=hospital_admin, email="not an address",
                                     token=totp_now())
    assert invalid.value.code == "email.invalid"
    # 252 characters as typed, 492 once NFKC writes each "ﬀ" as "ff": too long for the column.
    long_email = "a@" + ".".join(["ﬀ" * 30] * 8) + ".se"
    with pytest.raises(ValidationFailed) as too_long:
        account.contact_email_change(actor=hospital_admin, email=long_email, token=totp_now())
    assert (too_long.value.code, too_long.value.field) == ("text.too_long", "email")
    account.contact_email_change(actor=hospital_admin, email="astrid@region.example",
                                 token=totp_now())
    hospital_admin.person.refresh_from_db()
    assert hospital_admin.person.email == "astrid@region.example"
    event = AuditEvent.objects.get(action="contact.email_changed")
    assert event.changes["email"][1] == "astrid@region.example"


def test_a_session_ended_during_its_own_change_is_logged_out_not_kept(hospital_admin, nurse):
    """Found: an administrator ended the session while its password change was in flight; the
    change then rotated the key and kept the browser logged in with no active session record,
    which nobody could see or end. Now the browser is logged out (the change itself stands)."""
    from importlib import import_module

    from apps.authn import session

    user = nurse[0]
    browser = login_session(Client(), user)
    cookie = browser.cookies[settings.SESSION_COOKIE_NAME].value
    row = UserSession.objects.get(key_hash=key_hash(cookie))
    services.session_end(actor=hospital_admin, user_session=row, reason="admin",
                         note="Computer left unlocked")
    request = RequestFactory().post("/my/account/password/")
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(cookie)
    request.user = user
    assert session.keep_after_credential_change(request, user) is False
    assert not request.session.get("_auth_user_id")
    assert not UserSession.objects.filter(user=user, ended_at__isnull=True).exists()
    assert browser.get(reverse("selfservice:my_sessions")).status_code == 302


@pytest.mark.parametrize(("what", "reason"), [
    ("password", "ended because the password was changed"),
    ("authenticator", "ended because the authenticator was replaced")])
def test_sessions_ended_by_a_credential_change_say_which(hospital_admin, otp_clock, what, reason):
    """Found: the other sessions were listed as ended because the "account or entitlement
    changed", which the person could not tell from an administrator's change."""
    here = login_session(Client(), hospital_admin, loa=LOA2, methods=("pwd", "otp"), idp=None)
    login_session(Client(), hospital_admin, loa=LOA2, methods=("pwd", "otp"), idp=None)
    keep = key_hash(here.cookies[settings.SESSION_COOKIE_NAME].value)
    if what == "password":
        change(hospital_admin, keep_key_hash=keep)
    else:
        new = account.totp_enrolment_start(actor=hospital_admin)
        account.totp_device_replace(actor=hospital_admin, new_token=totp_now(new.bin_key.hex()),
                                    token=totp_now(), keep_key_hash=keep)
    ended = UserSession.objects.get(user=hospital_admin, ended_at__isnull=False)
    assert ended.end_reason == what
    hospital_admin.refresh_from_db()  # the new password's session hash
    page = login_session(Client(), hospital_admin, loa=LOA2, methods=("pwd", "otp"),
                         idp=None).get(reverse("selfservice:my_sessions"))
    assert reason in page.content.decode()


def test_a_changed_e_mail_address_is_told_to_the_old_one(hospital_admin):
    """NIST SP 800-63B rev. 4, 6.1.2.3: the old address learns of the change (an intruder who
    changed it would otherwise silence every later notice); the new address is not revealed."""
    old = hospital_admin.person.email
    account.contact_email_change(actor=hospital_admin, email="astrid@region.example",
                                 token=totp_now())
    deliver_pending()
    assert [m.to for m in mail.outbox] == [[old]]
    assert mail.outbox[0].subject == "Your e-mail address was changed"
    assert "astrid@region.example" not in mail.outbox[0].body
    notified = AuditEvent.objects.get(action="account.notified")
    assert notified.changes["topic"] == [None, "contact.email_changed"]
    deliver_pending()
    assert len(mail.outbox) == 1  # sent once


def test_no_notice_when_there_was_no_address_or_no_change(hospital_admin, otp_clock):
    person = hospital_admin.person
    person.email = ""
    person.save(update_fields=["email"])
    account.contact_email_change(actor=hospital_admin, email="astrid@region.example",
                                 token=totp_now())
    otp_clock.now += 30
    account.contact_email_change(actor=hospital_admin, email="astrid@region.example",
                                 token=totp_now())
    assert not OutboxEvent.objects.filter(topic="contact.email_changed").exists()
