"""Hostile input at the federation endpoints: whatever arrives, a page or a redirect, never a 500."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

XMLISH = st.lists(st.sampled_from([
    "<", ">", "/", "=", '"', "samlp:Response", "saml:Assertion", "xmlns:samlp=", "ID=",
    "InResponseTo=", "urn:oasis:names:tc:SAML:2.0:protocol", "<!DOCTYPE", "<!ENTITY",
    "&x;", "]]>", "<![CDATA[", "ds:Signature", " ", "\x00", "é", "_abc",
]), max_size=40).map("".join)
RESPONSES = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    XMLISH.map(lambda s: base64.b64encode(s.encode()).decode()),
    st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode()),
)


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(value=RESPONSES, relay=st.text(max_size=50))
def test_the_acs_never_answers_500(federation: Any, value: str, relay: str) -> None:
    answer = Client().post("/saml/acs/", {"SAMLResponse": value, "RelayState": relay})
    assert answer.status_code in (303, 400), answer


def test_login_to_an_unknown_idp_leads_back_to_the_choice(client: Client, federation: Any) -> None:
    answer = client.get(f"/saml/login/{uuid.uuid4()}/", {"next": "//evil.example"})
    assert answer.status_code == 302 and answer["Location"] == "/saml/?next=%2F"
    assert "This e-ID provider cannot be used right now." in client.get(
        answer["Location"]).content.decode()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(accounts=st.text(max_size=40), next_=st.text(max_size=80), purpose=st.text(max_size=20))
def test_the_discovery_page_takes_any_parameters(
        federation: Any, accounts: str, next_: str, purpose: str) -> None:
    answer = Client().get("/saml/", {"for": accounts, "next": next_, "purpose": purpose})
    assert answer.status_code == 200
