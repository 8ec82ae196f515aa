"""The OpenID Connect provider's endpoints with hostile and unusual input: never a 500, errors as
RFC 6749 JSON at the token endpoint, the authorization endpoint behind the portal's login, and no
implicit or password grant whatever the client asks."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client as DjangoClient

from apps.federation.models import AccessToken, Grant
from tests.conftest import login_session
from tests.federation.oidc_support import REDIRECT_URI, register, s256, use_provider

pytestmark = pytest.mark.django_db

VERIFIER = "v" * 64


@pytest.fixture(autouse=True)
def provider(settings: Any) -> None:
    use_provider(settings, "http://testserver")


def authorize_query(client_id: str, **extra: str) -> str:
    return urlencode({"response_type": "code", "client_id": client_id,
                      "redirect_uri": REDIRECT_URI, "scope": "openid", "state": "st",
                      "code_challenge": s256(VERIFIER), "code_challenge_method": "S256",
                      **extra})


def test_a_visitor_logs_in_first_and_comes_back(client: Any, tree: Any, nurse: Any) -> None:
    registered = register(tree["cardio"])
    url = f"/oauth2/authorize/?{authorize_query(registered.client_id)}"
    answer = client.get(url)
    assert answer.status_code == 302
    login_url = urlsplit(answer["Location"])
    # The login page for staff and patients alike: an e-service may serve either.
    assert login_url.path == "/saml/" and parse_qs(login_url.query)["next"] == [url]
    assert "for" not in parse_qs(login_url.query)
    login_session(client, nurse[0])
    back = client.get(url)
    assert back.status_code == 302 and back["Location"].startswith(REDIRECT_URI + "?code=")


def test_a_code_is_single_use_and_lives_60_seconds(client: Any, tree: Any, nurse: Any) -> None:
    registered = register(tree["cardio"])
    login_session(client, nurse[0])
    location = client.get(f"/oauth2/authorize/?{authorize_query(registered.client_id)}")["Location"]
    grant = Grant.objects.get()
    assert (grant.expires - grant.created).total_seconds() == pytest.approx(60, abs=1)
    assert parse_qs(urlsplit(location).query)["code"] == [grant.code]
    assert grant.acr == "http://id.elegnamnden.se/loa/1.0/loa3" and grant.amr == ["saml"]
    assert grant.session_id is not None and grant.auth_time is not None


@pytest.mark.parametrize("response_type", ["token", "id_token", "id_token token", "code token",
                                           "code id_token", "none", "", "c\x00de"])
def test_only_the_code_flow_is_offered(client: Any, tree: Any, nurse: Any,
                                       response_type: str) -> None:
    registered = register(tree["cardio"])
    login_session(client, nurse[0])
    answer = client.get(
        f"/oauth2/authorize/?{authorize_query(registered.client_id, response_type=response_type)}")
    assert answer.status_code in (302, 400)
    if answer.status_code == 302:
        assert answer["Location"].startswith(REDIRECT_URI + "?error=")
    assert not Grant.objects.exists()


@pytest.mark.parametrize("client_id", ["", "nope", "x" * 300, "a\x00b", "ä\u202e"])
def test_an_unknown_client_at_authorize_is_an_error_page(client: Any, nurse: Any,
                                                          client_id: str) -> None:
    login_session(client, nurse[0])
    answer = client.get(f"/oauth2/authorize/?{authorize_query(client_id)}")
    assert answer.status_code == 400
    assert "Location" not in answer


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.mark.parametrize("body", [
    {},
    {"grant_type": "password", "username": "nina.nurse", "password": "x"},
    {"grant_type": "implicit"},
    {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": "x"},
    {"grant_type": "authorization_code", "code": "a\x00b", "code_verifier": VERIFIER,
     "redirect_uri": REDIRECT_URI},
    {"grant_type": "authorization_code", "code": "x" * 5000, "redirect_uri": REDIRECT_URI},
    {"grant_type": "refresh_token", "refresh_token": "a\x00b"},
    {"grant_type": "refresh_token", "refresh_token": "\u202e" * 100},
    {"grant_type": "client_credentials", "scope": "openid admin"},
    {"grant_type": ["client_credentials", "authorization_code"]},
])
def test_the_token_endpoint_answers_hostile_input_with_rfc6749_json(
        client: Any, tree: Any, body: dict[str, Any]) -> None:
    code_client = register(tree["cardio"])
    for registered in (code_client, register(tree["cardio"], grant_type="client-credentials",
                                             scopes=())):
        answer = client.post("/oauth2/token/", body,
                             HTTP_AUTHORIZATION=basic(registered.client_id, registered.secret))
        assert 400 <= answer.status_code < 500, answer.content
        assert answer["Content-Type"].startswith("application/json")
        assert answer.json()["error"] in ("invalid_request", "invalid_grant",
                                          "unsupported_grant_type", "unauthorized_client",
                                          "invalid_scope", "invalid_client")
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize("authorization", ["Basic", "Basic !!!", "Basic " + "A" * 10000,
                                           basic("a\x00b", "x"), "Bearer x", basic("", "")])
def test_a_malformed_client_authentication_is_invalid_client(client: Any, tree: Any,
                                                             authorization: str) -> None:
    register(tree["cardio"], grant_type="client-credentials", scopes=())
    answer = client.post("/oauth2/token/", {"grant_type": "client_credentials"},
                         HTTP_AUTHORIZATION=authorization)
    assert answer.status_code in (400, 401) and answer.json()["error"] == "invalid_client"


@pytest.mark.parametrize("path", ["/oauth2/userinfo/", "/oauth2/introspect/",
                                  "/oauth2/revoke/", "/oauth2/token/", "/oauth2/jwks/",
                                  "/.well-known/openid-configuration"])
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_no_endpoint_answers_500(tree: Any, path: str, method: str) -> None:
    client = DjangoClient(raise_request_exception=False)
    answer = client.generic(method, path, "token=a%00b&x=%ff", content_type=(
        "application/x-www-form-urlencoded"), HTTP_AUTHORIZATION="Bearer a\x00b")
    assert answer.status_code < 500


def test_a_password_client_cannot_exist(tree: Any) -> None:
    from apps.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        register(tree["cardio"], grant_type="password")
    with pytest.raises(ValidationFailed):
        register(tree["cardio"], grant_type="client-credentials", client_type="public")


def test_a_client_that_is_not_first_party_asks_for_consent(
        client: Any, tree: Any, nurse: Any) -> None:
    registered = register(tree["cardio"], first_party=False)
    login_session(client, nurse[0])
    url = f"/oauth2/authorize/?{authorize_query(registered.client_id)}"
    page = client.get(url)
    assert page.status_code == 200 and "Log in to Journal e-service?" in page.content.decode()
    # The browser may follow the form's answer to the e-service (CSP 3 form-action).
    assert "form-action 'self' https://rp.example" in page["Content-Security-Policy"]
    fields = {name: value for name, value in page.context["form"].initial.items()
              if value is not None}
    refused = client.post(url, {**fields})
    assert refused["Location"].startswith(REDIRECT_URI + "?error=access_denied")
    allowed = client.post(url, {**fields, "allow": "Authorize"})
    assert allowed["Location"].startswith(REDIRECT_URI + "?code=")


def test_introspection_and_revocation(client: Any, tree: Any) -> None:
    registered = register(tree["cardio"], grant_type="client-credentials", scopes=())
    auth = basic(registered.client_id, registered.secret)
    token = client.post("/oauth2/token/", {"grant_type": "client_credentials"},
                        HTTP_AUTHORIZATION=auth).json()["access_token"]
    assert AccessToken.objects.get().token == ""  # stored only as its SHA-256 (RFC 9700)
    active = client.post("/oauth2/introspect/", {"token": token}, HTTP_AUTHORIZATION=auth).json()
    assert active["active"] is True and active["client_id"] == registered.client_id
    other = register(tree["cardio"], grant_type="client-credentials", scopes=())
    client.post("/oauth2/revoke/", {"token": token},
                HTTP_AUTHORIZATION=basic(other.client_id, other.secret))
    assert AccessToken.objects.exists()  # RFC 7009 2.1: only the client it was issued to
    assert client.post("/oauth2/revoke/", {"token": token},
                       HTTP_AUTHORIZATION=auth).status_code == 200
    assert not AccessToken.objects.exists()
    assert client.post("/oauth2/introspect/", {"token": token},
                       HTTP_AUTHORIZATION=auth).json() == {"active": False}


def test_a_client_credentials_token_gets_no_user_scope(client: Any, tree: Any) -> None:
    registered = register(tree["cardio"], grant_type="client-credentials", scopes=())
    answer = client.post("/oauth2/token/", {"grant_type": "client_credentials", "scope": "openid"},
                         HTTP_AUTHORIZATION=basic(registered.client_id, registered.secret))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_scope"
    token = client.post("/oauth2/token/", {"grant_type": "client_credentials"},
                        HTTP_AUTHORIZATION=basic(registered.client_id, registered.secret))
    assert token.json()["scope"] == ""
    userinfo = client.get("/oauth2/userinfo/",
                          HTTP_AUTHORIZATION=f"Bearer {token.json()['access_token']}")
    assert userinfo.status_code in (401, 403)  # RFC 6750 3.1: no openid scope


@pytest.mark.parametrize("extra", [
    {"claims": "{"}, {"claims": '{"id_token": 5}'}, {"max_age": "x"}, {"prompt": "login"},
    {"prompt": "create"}, {"nonce": "n" * 5000}, {"ui_locales": "sv\x00"},
    {"resource": "not a uri"}, {"request": "eyJ.a.b"}, {"request_uri": "https://x.example"},
    {"scope": "openid evil"}, {"state": "s" * 10000}, {"code_challenge": "a\x00"},
    {"code_challenge_method": "S512"}, {"id_token_hint": "abc"}, {"redirect_uri": ""},
    {"code_challenge": "x" * 300}, {"code_challenge": "a+b/" * 11}, {"display": "popup"},
])
def test_odd_authorization_requests_never_give_a_500(tree: Any, nurse: Any,
                                                      extra: dict[str, str]) -> None:
    registered = register(tree["cardio"], first_party=False)
    client = login_session(DjangoClient(raise_request_exception=False), nurse[0])
    url = f"/oauth2/authorize/?{authorize_query(registered.client_id, **extra)}"
    page = client.get(url)
    assert page.status_code < 500
    if page.status_code == 200 and page.context.get("form") is not None:
        fields = {k: v for k, v in page.context["form"].initial.items() if v is not None}
        assert client.post(url, {**fields, "allow": "Authorize"}).status_code < 500


@pytest.mark.parametrize("first_party, outcome", [(True, "?code="), (False, "?error=consent_required")])
def test_prompt_none_without_a_screen(client: Any, tree: Any, nurse: Any, first_party: bool,
                                      outcome: str) -> None:
    registered = register(tree["cardio"], first_party=first_party)
    login_session(client, nurse[0])
    answer = client.get(f"/oauth2/authorize/?{authorize_query(registered.client_id, prompt='none')}")
    assert answer["Location"].startswith(REDIRECT_URI + outcome)


@pytest.mark.parametrize("mode", ["fragment", "form_post", "web_message"])
def test_only_the_query_response_mode(client: Any, tree: Any, nurse: Any, mode: str) -> None:
    registered = register(tree["cardio"])
    login_session(client, nurse[0])
    answer = client.get(
        f"/oauth2/authorize/?{authorize_query(registered.client_id, response_mode=mode)}")
    assert answer["Location"].startswith(REDIRECT_URI + "?error=invalid_request")
    assert not Grant.objects.exists()
