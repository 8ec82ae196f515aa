"""Each rule a SAML response must pass, proven with real signed responses from the test IdP and
hostile variants of them (SAML 2.0 core and profiles; OWASP SAML Security Cheat Sheet)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.commissions.models import Employee
from apps.core.loa import LOA2
from apps.federation.models import AuthnRequestState
from apps.identities.models import User
from tests.federation.support import person_attributes

pytestmark = pytest.mark.django_db


@pytest.fixture
def nina(nurse: tuple[User, Employee]) -> User:
    return nurse[0]


def _answer(client: Client, federation: Any, user: User, *, step_up: bool = False,
            **variant: Any) -> Any:
    request = federation.start(client, "staff", step_up=step_up)
    return federation.idps["staff"].response(request, person_attributes(user.person), **variant)


def _refused(client: Client, page: Any, code: str | None = None) -> None:
    assert page.status_code in (400, 403), page
    assert "_auth_user_id" not in client.session
    assert "Login not completed" in page.content.decode()
    if code:
        assert AuditEvent.objects.filter(action="saml_response.refused",
                                         changes__reason=[None, code]).exists()


@pytest.mark.parametrize(("variant", "code"), [
    ({"sign_assertion": False, "sign_response": True}, "saml.signature"),
    ({"sign_assertion": False, "sign_response": False}, "saml.signature"),
    ({"foreign_key": True}, "saml.signature"),
    ({"sha1": True, "sign_response": False}, None),
    ({"audience": "https://other-sp.example/metadata"}, "saml.invalid"),
    ({"recipient": "https://evil.example/saml/acs/"}, "saml.invalid"),
    ({"destination": "https://evil.example/saml/acs/"}, "saml.invalid"),
    ({"expired": True}, "saml.invalid"),
    ({"not_yet_valid": True}, "saml.invalid"),
], ids=["assertion-unsigned", "nothing-signed", "key-only-in-keyinfo", "sha1-signature", "wrong-audience",
        "wrong-recipient", "wrong-destination", "expired", "not-yet-valid"])
def test_a_response_breaking_a_rule_is_refused_and_audited(
        client: Client, federation: Any, nina: User, variant: dict[str, Any], code: str | None) -> None:
    page = federation.post(client, _answer(client, federation, nina, **variant))
    _refused(client, page, code)


@pytest.mark.parametrize("variant", [
    {"wrapping": "before"}, {"wrapping": "after"},
    {"doctype": "external_entity"}, {"doctype": "billion_laughs"},
    {"in_response_to": None}, {"in_response_to": "_not-our-request"},
], ids=["wrapping-before", "wrapping-after", "external-entity", "entity-expansion",
        "unsolicited", "wrong-in-response-to"])
def test_a_response_that_answers_no_request_of_ours_is_never_read_further(
        client: Client, federation: Any, nina: User, variant: dict[str, Any]) -> None:
    page = federation.post(client, _answer(client, federation, nina, **variant))
    _refused(client, page)
    assert not AuthnRequestState.objects.filter(status="answered").exists()


def test_a_replayed_response_is_refused(client: Client, federation: Any, nina: User) -> None:
    answer = _answer(client, federation, nina)
    assert federation.post(client, answer).status_code == 302
    thief = Client()
    _refused(thief, federation.post(thief, answer))


def test_an_assertion_id_is_accepted_once_even_if_its_request_were_open_again(
        client: Client, federation: Any, nina: User) -> None:
    answer = _answer(client, federation, nina)
    assert federation.post(client, answer).status_code == 302
    # As if a second web process had read the request while it was still pending.
    AuthnRequestState.objects.update(status="pending")
    again = Client()
    _refused(again, federation.post(again, answer))
    assert AuditEvent.objects.filter(action="saml_response.refused",
                                     changes__reason=[None, "saml.replayed"]).exists()


def test_a_response_forwarded_to_another_browser_logs_nobody_in_there(
        client: Client, federation: Any, nina: User) -> None:
    answer = _answer(client, federation, nina)
    victim = Client()
    page = federation.post(victim, answer)
    _refused(victim, page)
    # The browser that asked can still finish its own login.
    assert client.get("/saml/complete/").status_code == 302
    assert client.session["_auth_user_id"] == str(nina.pk)


def test_a_weaker_level_than_requested_at_step_up_is_refused(
        client: Client, federation: Any, nina: User) -> None:
    federation.login(client, nina.person)
    answer = _answer(client, federation, nina, step_up=True, loa=LOA2)
    page = federation.post(client, answer)
    assert page.status_code == 403
    assert "not strong enough" in page.content.decode()
    assert client.session["authn"].get("step_up") is None


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "javascript:alert(1)", "http:/evil.example"])
def test_next_accepts_only_same_site_relative_paths(
        client: Client, federation: Any, nina: User, target: str) -> None:
    response = federation.login(client, nina.person, next_path=target)
    assert response.status_code == 302 and response["Location"] == "/"


def test_the_acs_answers_garbage_with_a_page_not_an_error(client: Client, federation: Any) -> None:
    for body in ({}, {"SAMLResponse": "%%%"}, {"SAMLResponse": "PHg+"}, {"SAMLResponse": "A" * 400000}):
        page = client.post("/saml/acs/", body)
        assert page.status_code == 400
    assert client.get("/saml/acs/").status_code == 405


def test_the_completion_page_without_a_login_says_so(client: Client, federation: Any) -> None:
    page = client.get("/saml/complete/")
    assert page.status_code == 403 and "Login not completed" in page.content.decode()


def test_the_session_cookie_stays_samesite_lax(settings: Any) -> None:
    assert settings.SESSION_COOKIE_SAMESITE == "Lax"
