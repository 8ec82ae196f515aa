"""Hostile bodies at the passkey JSON endpoints (nested too deeply for the decoder, larger than
any credential, not UTF-8, wrong types): each is a problem+json 400 (RFC 9457), never a 500; and
a registration's name and transports that PostgreSQL could not store (NUL, unpaired surrogates)
or that name no transport are cleaned, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.authn.models import Passkey
from tests.authn.test_passkeys import post_json, register
from tests.authn.webauthn_support import SoftAuthenticator
from tests.conftest import login_session, make_staff

pytestmark = pytest.mark.django_db

DEEP = b'{"credential": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.fixture(autouse=True)
def relying_party(settings: Any) -> None:
    settings.PORTAL_WEBAUTHN_RP_ID = "testserver"
    settings.PORTAL_WEBAUTHN_ORIGIN = "http://testserver"


@pytest.fixture
def staff(tree: Any) -> Any:
    user, _ = make_staff(tree["cardio"], "Hedda", "Hostile", care=True)
    return user


@pytest.mark.parametrize("body", [
    DEEP,
    b'{"credential": {"a": "\xff\xfe"}}',
    b'{"credential": 5}',
    b"[1, 2]",
    b'{"credential": {"rawId": "' + b"A" * 1_000_000 + b'"}}',
    b'{"credential": {"rawId": "' + b"A" * 3_000_000 + b'"}}',
    b'{"credential": {"rawId": "AAAA", "response": []}}',
    b'{"credential": {"rawId": "AAAA", "response": {"userHandle": ["x"]}}}',
])
@pytest.mark.parametrize("name", ["authn:passkey_login", "authn:passkey_second_factor"])
def test_hostile_login_bodies_are_problems(name: str, body: bytes) -> None:
    client = Client(raise_request_exception=False)
    response = client.post(reverse(name), body, content_type="application/json")
    assert response.status_code == 400, response.status_code
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("body", [DEEP, b'{"credential": {"rawId": "' + b"A" * 3_000_000 + b'"}}',
                                  b'{"credential": {"rawId": "' + b"A" * 70_000 + b'"}}'])
@pytest.mark.parametrize("name", ["authn:passkey_register", "authn:passkey_step_up"])
def test_hostile_session_bodies_are_problems(staff: Any, name: str, body: bytes) -> None:
    client = login_session(Client(raise_request_exception=False), staff)
    response = client.post(reverse(name), body, content_type="application/json")
    assert response.status_code == 400, response.status_code
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "bad_request"



# --- the registration's free members reach the database only as PostgreSQL can store them -------


@pytest.mark.parametrize(("name", "stored"), [("Lap\x00top", "Laptop"), ("Lap\ud800top", "Laptop"),
                                              ("\x07\x1b", "Passkey")])
def test_a_name_with_characters_no_text_may_hold_is_cleaned(staff: Any, name: str,
                                                              stored: str) -> None:
    client = login_session(Client(raise_request_exception=False), staff)
    response = register(client, SoftAuthenticator(), name=name)
    assert response.status_code == 201, response.content
    assert Passkey.objects.get(user=staff).name == stored


@pytest.mark.parametrize(("transports", "stored"), [
    (5, []), ({"usb": 1}, []), ("usb", []), (["\x00"], []), (["\ud800"], []),
    (["usb" * 10_000], []), (["usb", "hybrid", "carrier-pigeon", 7, {}, [], "usb"], ["usb", "hybrid"]),
])
def test_transports_keep_only_the_known_hints(staff: Any, transports: Any,
                                               stored: list[str]) -> None:
    client = login_session(Client(raise_request_exception=False), staff)
    options = post_json(client, "authn:passkey_register_options").json()
    credential = SoftAuthenticator().create(options)
    credential["response"]["transports"] = transports
    response = post_json(client, "authn:passkey_register", {"name": "Key", "credential": credential})
    assert response.status_code == 201, response.content
    assert Passkey.objects.get(user=staff).transports == stored
