"""Passkeys as the second factor after a password, and for a step-up inside a session (W3C Web
Authentication Level 2; NIST SP 800-63B 7.1 and 4.2.3). A software authenticator
(tests/authn/webauthn_support.py) answers the portal's own options, so py_webauthn verifies real
signatures; every rule is checked as the user meets it: on the pages and JSON endpoints."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from webauthn.helpers import bytes_to_base64url

from apps.audit.models import AuditEvent
from apps.authn import services
from apps.authn.models import Passkey
from apps.core.actors import ANONYMOUS
from apps.core.errors import ValidationFailed
from apps.core.loa import LOA2, LOA3
from tests.authn.test_passkeys import post_json, register
from tests.authn.webauthn_support import UP, SoftAuthenticator
from tests.conftest import PASSWORD, login_session, make_staff, patient_login, totp_now

pytestmark = pytest.mark.django_db

OTP = reverse("authn:otp")
MY_PASSKEYS = reverse("authn:passkeys")


@pytest.fixture(autouse=True)
def relying_party(settings: Any) -> None:
    settings.PORTAL_WEBAUTHN_RP_ID = "testserver"
    settings.PORTAL_WEBAUTHN_ORIGIN = "http://testserver"


def with_passkey(user: Any) -> SoftAuthenticator:
    """A passkey registered by `user` (logged in elsewhere)."""
    authenticator = SoftAuthenticator()
    assert register(login_session(Client(), user), authenticator).status_code == 201
    return authenticator


def password(client: Client, user: Any) -> None:
    response = client.post(reverse("authn:login"), {"username": user.username,
                                                    "password": PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith(OTP)


def second_factor(client: Client, authenticator: SoftAuthenticator, next_url: str = "/",
                  **kwargs: Any) -> Any:
    options = post_json(client, "authn:passkey_second_factor_options").json()
    return post_json(client, "authn:passkey_second_factor",
                     {"credential": authenticator.get(options, **kwargs), "next": next_url})


def step_up(client: Client, authenticator: SoftAuthenticator, purpose: str = "passkey_remove",
            next_url: str = MY_PASSKEYS, **kwargs: Any) -> Any:
    options = post_json(client, "authn:passkey_step_up_options").json()
    return post_json(client, "authn:passkey_step_up", {
        "credential": authenticator.get(options, **kwargs), "purpose": purpose,
        "next": next_url})


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def staff(tree: Any) -> Any:
    user, _ = make_staff(tree["cardio"], "Petra", "Passkey", care=True)
    return user


# --- second factor after a password -------------------------------------------------------------


def test_the_second_step_offers_a_passkey_and_keeps_the_code_form(staff: Any) -> None:
    with_passkey(staff)
    client = Client()
    password(client, staff)
    page = client.get(OTP).content.decode()
    assert "Use a passkey" in page and "/static/js/passkeys.js" in page
    assert 'name="token"' in page  # without JavaScript the code still works
    assert "Or enter the code from your authenticator app" in page


def test_password_then_passkey_logs_in_at_loa2(staff: Any) -> None:
    authenticator = with_passkey(staff)
    client = Client()
    password(client, staff)
    options = post_json(client, "authn:passkey_second_factor_options").json()
    assert [item["id"] for item in options["allowCredentials"]] == [
        bytes_to_base64url(authenticator.credential_id)]
    assert options["userVerification"] == "required"
    response = post_json(client, "authn:passkey_second_factor",
                         {"credential": authenticator.get(options), "next": MY_PASSKEYS})
    assert response.status_code == 200, response.content
    assert response.json()["redirect"] == MY_PASSKEYS
    data = client.session["authn"]
    assert (data["loa"], data["methods"]) == (LOA2, ["pwd", "hwk", "user"])
    passkey = Passkey.objects.get()
    assert passkey.sign_count == 1 and passkey.last_used_at is not None
    event = AuditEvent.objects.get(action="login.succeeded", actor_id=staff.pk)
    assert event.changes == {"methods": [None, ["pwd", "hwk", "user"]]}
    page = client.get(reverse("selfservice:my_sessions")).content.decode()
    assert "password + passkey + fingerprint, face or PIN" in page


def test_another_accounts_passkey_is_refused(staff: Any, tree: Any) -> None:
    with_passkey(staff)
    other, _ = make_staff(tree["cardio"], "Olle", "Other")
    others_key = with_passkey(other)
    client = Client()
    password(client, staff)
    options = post_json(client, "authn:passkey_second_factor_options").json()
    response = post_json(client, "authn:passkey_second_factor",
                         {"credential": others_key.get(options)})
    assert response.status_code == 400
    assert response.json()["code"] == "passkey.refused"
    assert not logged_in(client)
    assert AuditEvent.objects.filter(action="login.failed", target_id=str(staff.pk),
                                     outcome=AuditEvent.Outcome.FAILURE).exists()
    assert Passkey.objects.get(user=other).last_used_at is None


def test_a_replayed_assertion_is_refused(staff: Any) -> None:
    authenticator = with_passkey(staff)
    challenge = b"one challenge for two answers"
    options = {"challenge": bytes_to_base64url(challenge)}
    first = authenticator.get(options)
    replay = authenticator.get(options)  # a later counter, but the same challenge
    services.passkey_second_factor(actor=ANONYMOUS, user=staff, credential=first,
                                   challenge=challenge)
    with pytest.raises(ValidationFailed) as refused:
        services.passkey_second_factor(actor=ANONYMOUS, user=staff, credential=replay,
                                       challenge=challenge)
    assert refused.value.code == "passkey.expired"
    # On the page: the session's challenge answers once.
    client = Client()
    password(client, staff)
    options = post_json(client, "authn:passkey_second_factor_options").json()
    answer = authenticator.get(options)
    assert post_json(client, "authn:passkey_second_factor",
                     {"credential": answer}).status_code == 200
    client.post(reverse("authn:logout"))
    password(client, staff)
    response = post_json(client, "authn:passkey_second_factor", {"credential": answer})
    assert response.json()["code"] == "passkey.expired"


@pytest.mark.parametrize("options_for", ["authn:passkey_login_options",
                                         "authn:passkey_step_up_options"])
def test_a_challenge_made_for_another_ceremony_is_refused(staff: Any, options_for: str) -> None:
    authenticator = with_passkey(staff)
    client = Client()
    if options_for == "authn:passkey_step_up_options":
        login_session(client, staff)
    password(client, staff)
    options = post_json(client, options_for).json()
    response = post_json(client, "authn:passkey_second_factor",
                         {"credential": authenticator.get(options)})
    assert response.status_code == 400
    assert response.json()["code"] == "passkey.expired"
    assert client.session.get("authn", {}).get("methods") != ["pwd", "hwk", "user"]


def test_an_assertion_without_user_verification_is_refused(staff: Any) -> None:
    authenticator = with_passkey(staff)
    client = Client()
    password(client, staff)
    response = second_factor(client, authenticator, flags=UP)
    assert response.status_code == 400
    assert response.json()["code"] == "passkey.refused"
    assert not logged_in(client)


def test_the_pending_login_expires(staff: Any) -> None:
    authenticator = with_passkey(staff)
    client = Client()
    assert post_json(client, "authn:passkey_second_factor_options").json()["code"] == (
        "login.expired")
    password(client, staff)
    options = post_json(client, "authn:passkey_second_factor_options").json()
    stored = client.session
    stored["authn_pending"]["at"] -= 301
    stored.save()
    response = post_json(client, "authn:passkey_second_factor",
                         {"credential": authenticator.get(options)})
    assert response.status_code == 400
    assert response.json()["code"] == "login.expired"
    assert "Log in again" in response.json()["detail"]
    assert not logged_in(client)


def test_a_password_change_ends_the_pending_login(staff: Any) -> None:
    authenticator = with_passkey(staff)
    client = Client()
    password(client, staff)
    options = post_json(client, "authn:passkey_second_factor_options").json()
    staff.set_password("another password entirely")
    staff.save(update_fields=["password"])
    response = post_json(client, "authn:passkey_second_factor",
                         {"credential": authenticator.get(options)})
    assert response.json()["code"] == "login.expired"


def test_an_account_with_passkeys_and_no_totp_logs_in_with_the_passkey(tree: Any) -> None:
    user, _ = make_staff(tree["cardio"], "Nina", "Nokod", totp=False, care=True)
    authenticator = with_passkey(user)
    client = Client()
    password(client, user)
    page = client.get(OTP).content.decode()
    assert "Use a passkey" in page and 'name="token"' not in page
    assert "Using a passkey needs JavaScript" in page  # what a browser without it shows
    assert second_factor(client, authenticator).status_code == 200
    assert client.session["authn"]["methods"] == ["pwd", "hwk", "user"]


def test_an_account_with_neither_sees_the_code_form_as_before(tree: Any) -> None:
    user, _ = make_staff(tree["cardio"], "Ingen", "Faktor", totp=False)
    client = Client()
    password(client, user)
    page = client.get(OTP).content.decode()
    assert "Enter the code from your authenticator app" in page and "Use a passkey" not in page
    response = client.post(OTP, {"token": totp_now()})
    assert response.status_code == 200 and not logged_in(client)
    assert post_json(client, "authn:passkey_second_factor_options").json()["code"] == (
        "passkey.refused")


def test_the_code_still_works_for_an_account_with_both(staff: Any) -> None:
    with_passkey(staff)
    client = Client()
    password(client, staff)
    assert client.post(OTP, {"token": totp_now()}).status_code == 302
    assert client.session["authn"]["methods"] == ["pwd", "otp"]


# --- step-up with a passkey ----------------------------------------------------------------------


def test_staff_steps_up_with_a_passkey(staff: Any) -> None:
    authenticator = with_passkey(staff)
    client = login_session(Client(), staff, loa=LOA2, methods=("pwd", "otp"), idp=None)
    page = client.get(f"{reverse('authn:step_up')}?purpose=passkey_remove&next={MY_PASSKEYS}")
    assert "Confirm with a passkey" in page.content.decode()
    response = step_up(client, authenticator)
    assert response.status_code == 200, response.content
    assert response.json()["redirect"] == MY_PASSKEYS
    proof = client.session["authn"]["step_up"]
    assert (proof["method"], proof["loa"]) == ("passkey", LOA2)
    assert client.session["authn"]["methods"] == ["pwd", "otp", "hwk"]
    event = AuditEvent.objects.get(action="step_up.succeeded", actor_id=staff.pk)
    assert event.changes["method"] == [None, "passkey"]
    assert event.changes["loa"] == [None, LOA2]
    assert Passkey.objects.get().last_used_at is not None


def test_a_level_2_passkey_step_up_does_not_extend_a_level_3_session(staff: Any) -> None:
    """A weaker authentication keeps the stronger session's level and clock (NIST SP 800-63B
    rev. 4, 5.2): otherwise a passkey could keep a level-3 session alive past its limit."""
    authenticator = with_passkey(staff)
    client = login_session(Client(), staff)
    session = client.session
    session["authn"] = {**session["authn"], "at": session["authn"]["at"] - 600}
    session.save()
    started = session["authn"]["at"]
    assert step_up(client, authenticator).status_code == 200
    assert client.session["authn"]["loa"] == LOA3
    assert client.session["authn"]["at"] == started


def test_a_passkey_is_not_offered_for_a_level_it_does_not_reach(staff: Any) -> None:
    authenticator = with_passkey(staff)
    client = login_session(Client(), staff)
    page = client.get(f"{reverse('authn:step_up')}?purpose=self_issuance&next=/my/eids/new/")
    assert "Confirm with a passkey" not in page.content.decode()
    response = step_up(client, authenticator, purpose="self_issuance")
    assert response.status_code == 403
    assert response.json()["code"] == "passkey.not_enough"
    assert client.session["authn"]["step_up"] is None


def test_a_deployment_at_loa3_makes_a_level_3_proof(staff: Any, settings: Any) -> None:
    settings.PORTAL_PASSKEY_LOA = LOA3
    authenticator = with_passkey(staff)
    client = login_session(Client(), staff, loa=LOA2, methods=("pwd", "otp"), idp=None)
    page = client.get(f"{reverse('authn:step_up')}?purpose=self_issuance&next=/my/eids/new/")
    assert "Confirm with a passkey" in page.content.decode()
    assert step_up(client, authenticator, purpose="self_issuance",
                   next_url="/my/eids/new/").status_code == 200
    data = client.session["authn"]
    assert (data["step_up"]["loa"], data["loa"]) == (LOA3, LOA3)
    assert client.get("/my/eids/new/").status_code == 200  # the step-up is accepted


def test_a_step_up_with_another_accounts_passkey_is_refused(staff: Any, tree: Any) -> None:
    with_passkey(staff)
    other, _ = make_staff(tree["cardio"], "Olle", "Other")
    others_key = with_passkey(other)
    client = login_session(Client(), staff)
    response = step_up(client, others_key)
    assert response.status_code == 400
    assert client.session["authn"]["step_up"] is None
    assert AuditEvent.objects.filter(action="step_up.failed", target_id=str(staff.pk)).exists()


def test_a_step_up_without_user_verification_is_refused(staff: Any) -> None:
    authenticator = with_passkey(staff)
    client = login_session(Client(), staff)
    assert step_up(client, authenticator, flags=UP).json()["code"] == "passkey.refused"
    assert client.session["authn"]["step_up"] is None


def test_the_step_up_endpoints_need_a_login(staff: Any) -> None:
    response = post_json(Client(), "authn:passkey_step_up_options")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("federation:discovery") + "?next=")


def test_a_patient_steps_up_with_a_passkey_then_removes_one(patient: Any) -> None:
    client = patient_login(Client(), patient)
    authenticator = SoftAuthenticator()
    assert register(client, authenticator, name="Phone").status_code == 201
    stored = client.session
    stored["authn"]["at"] = int(time.time()) - 600  # logged in 10 minutes ago
    stored.save()
    passkey = Passkey.objects.get()
    remove = reverse("authn:passkey_remove", args=[passkey.pk])
    refused = client.post(remove, follow=True).content.decode()
    assert "Confirm it is you first" in refused
    assert Passkey.objects.filter(pk=passkey.pk).exists()
    step_up_url = f"{reverse('authn:step_up')}?purpose=passkey_remove&next={MY_PASSKEYS}"
    assert step_up_url.replace("&", "&amp;") in client.get(MY_PASSKEYS).content.decode()
    page = client.get(step_up_url).content.decode()
    assert "Confirm with a passkey" in page and "Log in again with your e-ID" in page
    assert "organisation" not in page and 'name="token"' not in page  # staff's ways only
    assert step_up(client, authenticator).json()["redirect"] == MY_PASSKEYS
    back = client.get(MY_PASSKEYS).content.decode()
    assert "You have confirmed it is you. Go on with what you were doing" in back
    removed = client.post(remove, follow=True).content.decode()
    assert "The passkey Phone is removed." in removed
    assert not Passkey.objects.exists()
    assert client.session["authn"]["step_up"] is None  # spent on the removal


def test_a_patients_step_up_opens_no_staff_page(patient: Any, settings: Any) -> None:
    settings.PORTAL_PASSKEY_LOA = LOA3
    client = patient_login(Client(), patient)
    authenticator = SoftAuthenticator()
    assert register(client, authenticator).status_code == 201
    assert step_up(client, authenticator, purpose="self_issuance",
                   next_url="/my/eids/new/").status_code == 200
    assert client.session["authn"]["step_up"]["loa"] == LOA3
    for staff_page in ("/my/eids/new/", "/my/eids/", "/administration/"):
        response = client.get(staff_page)
        assert response.status_code in (302, 403, 404), staff_page
        assert response.status_code != 302 or "/login" in response["Location"], staff_page


@pytest.mark.parametrize("accounts", ["staff", "patient"])
def test_the_e_id_choice_offers_a_passkey_login(accounts: str) -> None:
    page = Client().get(f"{reverse('federation:discovery')}?for={accounts}").content.decode()
    assert "Log in with a passkey" in page and "js/passkeys.js" in page


def test_a_step_up_at_the_e_id_choice_offers_no_passkey_login(staff: Any) -> None:
    client = login_session(Client(), staff)
    page = client.get(f"{reverse('federation:discovery')}?for=staff&purpose=step_up")
    assert "Log in with a passkey" not in page.content.decode()


def test_a_patient_logs_in_with_a_passkey_from_the_e_id_choice(patient: Any) -> None:
    authenticator = SoftAuthenticator()
    assert register(patient_login(Client(), patient), authenticator).status_code == 201
    client = Client()
    client.get(f"{reverse('federation:discovery')}?for=patient")
    options = post_json(client, "authn:passkey_login_options").json()
    answer = post_json(client, "authn:passkey_login",
                       {"credential": authenticator.get(options), "next": "/my/consents/"})
    assert answer.status_code == 200 and logged_in(client)
    assert str(client.session["_auth_user_id"]) == str(patient.pk)
