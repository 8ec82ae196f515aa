"""Passkeys (W3C Web Authentication Level 2): a logged-in staff member or patient registers one on
"My passkeys", logs in with it from the login page (first factor, LoA 2 by default), and removes
it only with a fresh factor. A software authenticator (tests/authn/webauthn_support.py) answers
the portal's own options, so py_webauthn verifies real signatures."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.authn.models import Passkey
from apps.core.loa import LOA2
from tests.authn.webauthn_support import UP, SoftAuthenticator
from tests.conftest import login_session, make_staff, patient_login, totp_now

pytestmark = pytest.mark.django_db

MY_PASSKEYS = reverse("authn:passkeys")


@pytest.fixture(autouse=True)
def relying_party(settings: Any) -> None:
    settings.PORTAL_WEBAUTHN_RP_ID = "testserver"
    settings.PORTAL_WEBAUTHN_ORIGIN = "http://testserver"


def post_json(client: Client, name: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(reverse(name), json.dumps(body or {}), content_type="application/json")


def register(client: Client, authenticator: SoftAuthenticator, name: str = "Laptop",
             **kwargs: Any) -> Any:
    options = post_json(client, "authn:passkey_register_options").json()
    credential = authenticator.create(options, **kwargs)
    return post_json(client, "authn:passkey_register", {"name": name, "credential": credential})


def passkey_login(client: Client, authenticator: SoftAuthenticator, next_url: str = "/",
                  **kwargs: Any) -> Any:
    options = post_json(client, "authn:passkey_login_options").json()
    credential = authenticator.get(options, **kwargs)
    return post_json(client, "authn:passkey_login", {"credential": credential, "next": next_url})


@pytest.fixture
def staff(tree: Any) -> Any:
    user, _ = make_staff(tree["cardio"], "Petra", "Passkey", care=True)
    return user


@pytest.fixture
def registered(staff: Any) -> SoftAuthenticator:
    authenticator = SoftAuthenticator()
    client = login_session(Client(), staff)
    assert register(client, authenticator).status_code == 201
    return authenticator


def test_staff_registers_a_passkey_and_sees_it_listed(staff: Any) -> None:
    client = login_session(Client(), staff)
    options = post_json(client, "authn:passkey_register_options").json()
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["attestation"] == "none"
    response = register(client, SoftAuthenticator(), name="Work laptop")
    assert response.status_code == 201, response.content
    passkey = Passkey.objects.get(user=staff)
    assert (passkey.name, passkey.attestation_format, passkey.transports) == (
        "Work laptop", "none", ["internal"])
    page = client.get(MY_PASSKEYS).content.decode()
    assert "Work laptop" in page and "never" in page
    assert AuditEvent.objects.filter(action="passkey.created", actor_id=staff.pk).exists()


def test_patient_registers_a_passkey(patient: Any) -> None:
    client = patient_login(Client(), patient)
    assert register(client, SoftAuthenticator()).status_code == 201
    assert Passkey.objects.filter(user=patient).count() == 1


def test_registration_from_another_origin_is_refused(staff: Any) -> None:
    client = login_session(Client(), staff)
    response = register(client, SoftAuthenticator(), origin="https://evil.example")
    assert response.status_code == 400
    assert response.json()["code"] == "passkey.refused"
    assert not Passkey.objects.exists()


def test_registration_without_user_verification_is_refused(staff: Any) -> None:
    client = login_session(Client(), staff)
    assert register(client, SoftAuthenticator(), flags=UP).status_code == 400
    assert not Passkey.objects.exists()


def test_login_with_a_passkey_at_loa2(registered: SoftAuthenticator, staff: Any) -> None:
    client = Client()
    response = passkey_login(client, registered, next_url="/my/passkeys/")
    assert response.status_code == 200, response.content
    assert response.json()["redirect"] == "/my/passkeys/"
    data = client.session["authn"]
    assert (data["loa"], data["methods"], data["idp"]) == (LOA2, ["hwk", "user"], None)
    page = client.get(MY_PASSKEYS).content.decode()
    assert "never" not in page  # last used is shown now
    passkey = Passkey.objects.get()
    assert passkey.sign_count == 1 and passkey.last_used_at is not None
    assert client.session["commission"]  # the one valid commission was chosen, as after any login
    assert AuditEvent.objects.filter(action="login.succeeded", actor_id=staff.pk).exists()


def test_login_from_another_origin_is_refused(registered: SoftAuthenticator) -> None:
    client = Client()
    response = passkey_login(client, registered, origin="https://evil.example")
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_a_challenge_answers_one_login_only(registered: SoftAuthenticator) -> None:
    client = Client()
    options = post_json(client, "authn:passkey_login_options").json()
    first = registered.get(options)
    replay = registered.get(options)  # a later counter, but the same challenge
    assert post_json(client, "authn:passkey_login", {"credential": first}).status_code == 200
    client.post(reverse("authn:logout"))
    response = post_json(client, "authn:passkey_login", {"credential": replay})
    assert response.status_code == 400
    assert response.json()["code"] == "passkey.expired"


def test_an_expired_challenge_is_refused(registered: SoftAuthenticator) -> None:
    client = Client()
    options = post_json(client, "authn:passkey_login_options").json()
    stored = client.session
    stored["authn_webauthn"]["at"] -= 301
    stored.save()
    response = post_json(client, "authn:passkey_login", {"credential": registered.get(options)})
    assert response.json()["code"] == "passkey.expired"


def test_a_counter_going_backwards_is_refused(registered: SoftAuthenticator) -> None:
    assert passkey_login(Client(), registered, count_step=5).status_code == 200
    response = passkey_login(Client(), registered, count_step=-2)  # a cloned authenticator
    assert response.status_code == 400
    assert Passkey.objects.get().sign_count == 5
    assert AuditEvent.objects.filter(action="login.failed",
                                     outcome=AuditEvent.Outcome.FAILURE).exists()


def test_an_unknown_credential_is_refused(registered: SoftAuthenticator) -> None:
    stranger = SoftAuthenticator(user_handle=registered.user_handle)
    assert passkey_login(Client(), stranger).status_code == 400


def test_another_users_credential_cannot_log_in_as_someone_else(
        registered: SoftAuthenticator, tree: Any, staff: Any) -> None:
    other, _ = make_staff(tree["cardio"], "Olle", "Other")
    response = passkey_login(Client(), registered, user_handle=other.pk.bytes)
    assert response.status_code == 400
    # A credential registered to one account is not added to another account.
    client = login_session(Client(), other)
    options = post_json(client, "authn:passkey_register_options").json()
    answer = post_json(client, "authn:passkey_register",
                       {"name": "x", "credential": registered.create(options)})
    assert answer.status_code == 400
    assert answer.json()["code"] == "passkey.exists"
    assert Passkey.objects.get().user == staff


def test_another_users_passkey_cannot_be_removed(registered: SoftAuthenticator, tree: Any) -> None:
    other, _ = make_staff(tree["cardio"], "Olle", "Other")
    client = login_session(Client(), other)
    passkey = Passkey.objects.get()
    response = client.post(reverse("authn:passkey_remove", args=[passkey.pk]))
    assert response.status_code == 404
    assert Passkey.objects.filter(pk=passkey.pk).exists()


def test_removal_needs_a_fresh_factor(registered: SoftAuthenticator, staff: Any) -> None:
    client = login_session(Client(), staff)
    stored = client.session
    stored["authn"]["at"] = int(time.time()) - 600  # logged in 10 minutes ago
    stored.save()
    passkey = Passkey.objects.get()
    assert "Confirm it is you" in client.get(MY_PASSKEYS).content.decode()
    response = client.post(reverse("authn:passkey_remove", args=[passkey.pk]), follow=True)
    assert "Confirm it is you first" in response.content.decode()
    assert Passkey.objects.filter(pk=passkey.pk).exists()
    # A fresh step-up (the authenticator app's code) allows it.
    step_up = f"{reverse('authn:step_up')}?purpose=passkey_remove&next={MY_PASSKEYS}"
    assert client.post(step_up, {"token": totp_now()}).status_code == 302
    response = client.post(reverse("authn:passkey_remove", args=[passkey.pk]), follow=True)
    assert "is removed" in response.content.decode()
    assert not Passkey.objects.exists()
    assert AuditEvent.objects.filter(action="passkey.removed", actor_id=staff.pk).exists()


def test_adding_a_passkey_needs_a_fresh_factor(staff: Any) -> None:
    # Someone at a workstation left logged in must not bind their own passkey to the account:
    # it would log them in later, past a password change and "log out everywhere".
    client = login_session(Client(), staff)
    stored = client.session
    stored["authn"]["at"] = int(time.time()) - 600  # logged in 10 minutes ago
    stored.save()
    page = client.get(MY_PASSKEYS).content.decode()
    assert "To add or remove a passkey, confirm it is you first" in page
    options = post_json(client, "authn:passkey_register_options")
    assert (options.status_code, options["Content-Type"]) == (403, "application/problem+json")
    assert options.json()["code"] == "passkey.stale"
    # Options fetched earlier, while the login was fresh, do not help either.
    stored = client.session
    stored["authn"]["at"] = int(time.time())
    stored.save()
    fresh_options = post_json(client, "authn:passkey_register_options").json()
    stored = client.session
    stored["authn"]["at"] = int(time.time()) - 600
    stored.save()
    response = post_json(client, "authn:passkey_register", {
        "name": "Intruder", "credential": SoftAuthenticator().create(fresh_options)})
    assert response.status_code == 403 and response.json()["code"] == "passkey.stale"
    assert not Passkey.objects.exists()
    # A fresh step-up (the authenticator app's code) allows it.
    step_up = f"{reverse('authn:step_up')}?purpose=passkey_remove&next={MY_PASSKEYS}"
    assert client.post(step_up, {"token": totp_now()}).status_code == 302
    assert register(client, SoftAuthenticator()).status_code == 201


def test_removal_right_after_login(registered: SoftAuthenticator, staff: Any) -> None:
    client = Client()
    assert passkey_login(client, registered).status_code == 200
    passkey = Passkey.objects.get()
    client.post(reverse("authn:passkey_remove", args=[passkey.pk]))
    assert not Passkey.objects.exists()


def test_bad_json_is_a_clear_400(staff: Any) -> None:
    client = Client()
    response = client.post(reverse("authn:passkey_login"), "not json",
                           content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    garbage = {"credential": {"rawId": "!!", "response": {"clientDataJSON": 5}}}
    post_json(client, "authn:passkey_login_options")
    assert post_json(client, "authn:passkey_login", garbage).status_code == 400


def test_login_page_offers_a_passkey(db: Any) -> None:
    page = Client().get(reverse("authn:login")).content.decode()
    assert "Log in with a passkey" in page
    assert "/static/js/passkeys.js" in page


def test_my_sessions_says_passkey(registered: SoftAuthenticator) -> None:
    client = Client()
    passkey_login(client, registered)
    page = client.get(reverse("selfservice:my_sessions")).content.decode()
    assert "passkey + fingerprint, face or PIN" in page
