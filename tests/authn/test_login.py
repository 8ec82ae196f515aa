"""Staff login (password + TOTP), step-up, and the demo patient login."""

from __future__ import annotations

from django.urls import reverse

from apps.audit.models import AuditEvent
from tests.conftest import PASSWORD, totp_now


def login(client, user, *, offset_steps: int = 0):
    client.post(reverse("authn:login"), {"username": user.username, "password": PASSWORD})
    return client.post(reverse("authn:otp"), {"token": totp_now(offset_steps=offset_steps)})


def test_password_then_code_logs_in_with_loa2(client, hospital_admin):
    response = login(client, hospital_admin)
    assert response.status_code == 302
    assert client.session["authn"]["loa"] == "http://id.elegnamnden.se/loa/1.0/loa2"
    assert client.session["authn"]["methods"] == ["pwd", "otp"]


def test_password_alone_does_not_log_in(client, hospital_admin):
    client.post(reverse("authn:login"), {"username": hospital_admin.username, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    response = client.post(reverse("authn:otp"), {"token": "000000"})
    assert "The code is wrong" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_wrong_password_has_one_message(client, hospital_admin):
    response = client.post(reverse("authn:login"), {"username": hospital_admin.username,
                                                    "password": "nope"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "Wrong username or password." in response.content.decode()


def test_a_used_code_cannot_be_replayed_for_step_up(client, hospital_admin):
    """A code works once (RFC 6238 section 5.2). The code still on the phone right after login is
    refused as used, with a hint to wait for the next one, and costs no throttle wait."""
    login(client, hospital_admin)
    response = client.post(reverse("authn:step_up"), {"token": totp_now()},
                           HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert "This code has already been used. Wait for the next code" in page
    assert "The code is wrong" not in page
    assert not client.session["authn"]["step_up"]
    response = client.post(reverse("authn:step_up"), {"token": totp_now(offset_steps=1)},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    assert client.session["authn"]["step_up"]["user_id"] == str(hospital_admin.pk)


def test_step_up_with_a_fresh_code(client, hospital_admin):
    login(client, hospital_admin)
    response = client.post(reverse("authn:step_up"), {"token": totp_now(offset_steps=1)})
    assert response.status_code == 302
    assert client.session["authn"]["step_up"]["user_id"] == str(hospital_admin.pk)


def test_next_parameter_cannot_leave_the_site(client, hospital_admin):
    client.post(reverse("authn:login") + "?next=https://evil.example/",
                {"username": hospital_admin.username, "password": PASSWORD,
                 "next": "https://evil.example/"})
    response = client.post(reverse("authn:otp"), {"token": totp_now(),
                                                  "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_pages_send_a_strict_content_security_policy(client, db):
    csp = client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_logins_and_failures_are_audited(client, hospital_admin, assert_audited):
    client.post(reverse("authn:login"), {"username": hospital_admin.username, "password": "nope"})
    failed = assert_audited("login.failed", subject=hospital_admin.person, outcome="failure")
    assert failed.changes["step"] == [None, "password"]
    login(client, hospital_admin)
    succeeded = assert_audited("login.succeeded", subject=hospital_admin.person)
    assert succeeded.actor_id == hospital_admin.pk
    assert succeeded.loa == "http://id.elegnamnden.se/loa/1.0/loa2"


def test_password_guessing_is_throttled_per_account(client, hospital_admin):
    """Unlimited password guesses; now 10 failures in 15 minutes lock the account
    for the rest of the window, even for the right password."""
    for _ in range(10):
        client.post(reverse("authn:login"), {"username": hospital_admin.username, "password": "x"})
    response = client.post(reverse("authn:login"), {"username": hospital_admin.username,
                                                    "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "Too many failed logins." in response.content.decode()


def test_an_unknown_username_gets_the_same_answer_and_is_audited(client, hospital_admin):
    """An unknown username crashed (HTTP 500), telling names apart."""
    known = client.post(reverse("authn:login"), {"username": hospital_admin.username,
                                                 "password": "x"}, HTTP_ACCEPT_LANGUAGE="en")
    unknown = client.post(reverse("authn:login"), {"username": "nobody", "password": "x"},
                          HTTP_ACCEPT_LANGUAGE="en")
    assert known.status_code == unknown.status_code == 200
    assert "Wrong username or password." in unknown.content.decode()
    event = AuditEvent.objects.filter(action="login.failed", subject_person_id=None).get()
    assert event.target_label == "nobody"


def test_failures_from_elsewhere_do_not_lock_the_owner_out(client, hospital_admin):
    """Ten failures from another address locked the owner out."""
    for _ in range(10):
        client.post(reverse("authn:login"), {"username": hospital_admin.username, "password": "x"},
                    REMOTE_ADDR="10.9.9.9")
    response = client.post(reverse("authn:login"), {"username": hospital_admin.username,
                                                    "password": PASSWORD}, REMOTE_ADDR="10.1.1.1")
    assert response.status_code == 302


def test_pages_with_personal_data_are_not_cached(client, patient):
    """Pages with personal data are never stored by a shared cache or the back button."""
    client.force_login(patient)
    assert client.get(reverse("selfservice:patient_consents"))["Cache-Control"] == "private, no-store"


def test_second_factor_eleven_minutes_after_the_password_starts_over(client, hospital_admin,
                                                                    monkeypatch):
    import time

    client.post(reverse("authn:login"), {"username": hospital_admin.username, "password": PASSWORD})
    started = time.time()
    monkeypatch.setattr(time, "time", lambda: started + 11 * 60)
    response = client.post(reverse("authn:otp"), {"token": totp_now()})
    assert response.status_code == 302 and response["Location"].startswith(reverse("authn:login"))
    assert "_auth_user_id" not in client.session


def test_second_factor_after_a_password_change_starts_over(client, hospital_admin):
    client.post(reverse("authn:login"), {"username": hospital_admin.username, "password": PASSWORD})
    hospital_admin.set_password("another long passphrase 42")
    hospital_admin.save(update_fields=["password"])
    response = client.post(reverse("authn:otp"), {"token": totp_now()})
    assert response.status_code == 302 and response["Location"].startswith(reverse("authn:login"))
    assert "_auth_user_id" not in client.session


def test_step_up_is_recorded_as_a_step_up(client, hospital_admin, assert_audited):
    login(client, hospital_admin)
    client.post(reverse("authn:step_up"), {"token": "000000"})
    event = assert_audited("step_up.failed", target=hospital_admin, outcome="failure")
    assert event.actor_id == hospital_admin.pk
    assert not AuditEvent.objects.filter(action="login.failed", changes__step=[None, "step_up"]).exists()


def test_logout_says_you_are_logged_out(client, hospital_admin):
    """Found: logging out gave no confirmation."""
    login(client, hospital_admin)
    response = client.post(reverse("authn:logout"), follow=True, HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert "You are logged out." in page and 'role="status"' in page
    assert "_auth_user_id" not in client.session
    assert "Log in as staff" in page  # the start page, for someone not logged in
    assert client.get(reverse("authn:logout")).status_code == 405  # logout stays POST only
