"""The OpenID Connect provider against an independent relying party (Authlib, with joserfc
verifying ID tokens) over real HTTP to the live server: the flows that work, and each RFC 9700
rule's refusal."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError

from apps.audit.models import AuditEvent
from apps.federation.models import AccessToken, Grant, RefreshToken
from tests.federation.oidc_support import REDIRECT_URI, RelyingParty, browser, register, use_provider

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def portal(live_server: Any, settings: Any, tree: Any) -> str:
    use_provider(settings, live_server.url)
    return str(live_server.url)


def test_code_with_pkce_logs_in_with_an_id_token_verified_against_the_jwks(
        portal: str, tree: Any, nurse: Any) -> None:
    user, _ = nurse
    rp = RelyingParty(portal, register(tree["cardio"]))
    query = rp.authorize(browser(portal, user))
    # RFC 9207: the authorization response names the issuer.
    assert query["iss"] == [portal] and query["state"] == [rp.state]
    token = rp.redeem(query["code"][0])
    claims = rp.verify_id_token(token["id_token"])
    assert claims["sub"] == str(user.person_id)
    userinfo = rp.session.get(rp.discovery["userinfo_endpoint"], timeout=30).json()
    assert userinfo["sub"] == str(user.person_id)
    carried = AccessToken.objects.get()
    assert carried.person_id == user.person_id and carried.session_id is not None
    assert carried.commission_id is not None  # the commission chosen at login


def test_an_rs256_client_gets_an_rs256_id_token(portal: str, tree: Any, nurse: Any) -> None:
    rp = RelyingParty(portal, register(tree["cardio"], algorithm="RS256"))
    token = rp.login(browser(portal, nurse[0]))
    assert rp.verify_id_token(token["id_token"])["aud"] == rp.registered.client_id
    header = token["id_token"].split(".")[0]
    assert b'"RS256"' in base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))


def test_a_public_native_client_logs_in_on_a_loopback_redirect(
        portal: str, tree: Any, nurse: Any) -> None:
    loopback = "http://127.0.0.1:53127/callback"
    registered = register(tree["cardio"], client_type="public", redirect_uris=[loopback])
    assert registered.secret == ""
    rp = RelyingParty(portal, registered, redirect_uri=loopback)
    assert "id_token" in rp.login(browser(portal, nurse[0]))


def test_client_credentials(portal: str, tree: Any) -> None:
    registered = register(tree["cardio"], grant_type="client-credentials", scopes=())
    rp = RelyingParty(portal, registered, scope=None)
    token = rp.session.fetch_token(rp.discovery["token_endpoint"],
                                   grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and "refresh_token" not in token
    assert AccessToken.objects.get().person_id is None


def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_whole_grant(
        portal: str, tree: Any, nurse: Any) -> None:
    rp = RelyingParty(portal, register(tree["cardio"]))
    first = rp.login(browser(portal, nurse[0]))
    second = dict(rp.session.refresh_token(rp.discovery["token_endpoint"],
                                           refresh_token=first["refresh_token"]))
    assert second["refresh_token"] != first["refresh_token"]
    carried = AccessToken.objects.get()
    assert carried.person_id == nurse[0].person_id and carried.grant_id is not None
    with pytest.raises(OAuthError) as refused:
        rp.session.refresh_token(rp.discovery["token_endpoint"],
                                 refresh_token=first["refresh_token"])
    assert refused.value.error == "invalid_grant"
    # RFC 9700 4.14.2: the whole family is revoked, the newest refresh token too.
    assert not AccessToken.objects.exists()
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    with pytest.raises(OAuthError):
        rp.session.refresh_token(rp.discovery["token_endpoint"],
                                 refresh_token=second["refresh_token"])


def test_a_replayed_code_is_refused_and_revokes_what_it_gave(
        portal: str, tree: Any, nurse: Any) -> None:
    rp = RelyingParty(portal, register(tree["cardio"]))
    code = rp.authorize(browser(portal, nurse[0]))["code"][0]
    first = rp.redeem(code)
    with pytest.raises(OAuthError) as refused:
        rp.redeem(code)
    assert refused.value.error == "invalid_grant"
    # RFC 6749 4.1.2: the tokens of the first redemption are revoked.
    assert not AccessToken.objects.exists()
    introspected = requests.post(rp.discovery["introspection_endpoint"],
                                 data={"token": first["access_token"]},
                                 auth=(rp.registered.client_id, rp.registered.secret), timeout=30)
    assert introspected.json()["active"] is False
    with pytest.raises(OAuthError):
        rp.session.refresh_token(rp.discovery["token_endpoint"],
                                 refresh_token=first["refresh_token"])


def test_pkce_plain_and_a_missing_challenge_are_refused(
        portal: str, tree: Any, nurse: Any) -> None:
    rp = RelyingParty(portal, register(tree["cardio"]))
    session = browser(portal, nurse[0])
    for extra in ({"code_challenge": "x" * 43, "code_challenge_method": "plain"},
                  {"code_challenge": "x" * 43}):
        answer = session.get(rp.discovery["authorization_endpoint"], params={
            "response_type": "code", "client_id": rp.registered.client_id,
            "redirect_uri": REDIRECT_URI, "scope": "openid", "state": "s", **extra},
            allow_redirects=False, timeout=30)
        assert answer.status_code == 302
        assert "error=invalid_request" in answer.headers["Location"]
        # RFC 9207 2: errors name the issuer too.
        assert parse_qs(urlsplit(answer.headers["Location"]).query)["iss"] == [portal]
    answer = session.get(rp.discovery["authorization_endpoint"], params={
        "response_type": "code", "client_id": rp.registered.client_id,
        "redirect_uri": REDIRECT_URI, "scope": "openid", "state": "s"},
        allow_redirects=False, timeout=30)
    assert "error=invalid_request" in answer.headers["Location"]
    assert not Grant.objects.exists()


def test_a_verifier_for_a_code_without_a_challenge_is_refused(
        portal: str, tree: Any, nurse: Any) -> None:
    rp = RelyingParty(portal, register(tree["cardio"]))
    code = rp.authorize(browser(portal, nurse[0]))["code"][0]
    Grant.objects.filter(code=code).update(code_challenge="", code_challenge_method="")
    with pytest.raises(OAuthError) as refused:
        rp.redeem(code)
    assert refused.value.error == "invalid_grant"
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize("variant", [
    REDIRECT_URI + "/",
    REDIRECT_URI.replace("callback", "Callback"),
    "https://RP.example/callback",
    REDIRECT_URI + "?extra=1",
    REDIRECT_URI + "#fragment",
    "https://rp.example:443/callback",
])
def test_a_redirect_uri_that_is_not_the_registered_string_is_refused(
        portal: str, tree: Any, nurse: Any, variant: str) -> None:
    rp = RelyingParty(portal, register(tree["cardio"]), redirect_uri=variant)
    query = rp.authorize(browser(portal, nurse[0]))
    # Never redirected to an unregistered address (RFC 6749 4.1.2.1): an error page instead.
    assert query == {"status": ["400"]}


@pytest.mark.parametrize("approve_then_suspend", [False, True])
def test_a_pending_or_suspended_client_is_refused(
        portal: str, tree: Any, nurse: Any, approve_then_suspend: bool) -> None:
    from apps.core.actors import SYSTEM
    from apps.federation import services_oidc

    registered = register(tree["cardio"], approve=approve_then_suspend)
    rp = RelyingParty(portal, registered)
    if approve_then_suspend:
        code = rp.authorize(browser(portal, nurse[0]))["code"][0]
        services_oidc.client_suspend(actor=SYSTEM, client=registered.client, reason="test")
        with pytest.raises(OAuthError) as refused:
            rp.redeem(code)
        assert refused.value.error == "invalid_client"
    assert rp.authorize(browser(portal, nurse[0])) == {"status": ["400"]}
    assert not AccessToken.objects.exists()


def test_a_wrong_secret_is_refused_and_audited(portal: str, tree: Any) -> None:
    registered = register(tree["cardio"], grant_type="client-credentials", scopes=())
    registered.client.refresh_from_db()
    assert registered.secret not in registered.client.client_secret
    assert registered.client.client_secret.startswith("hmac-sha256$")
    answer = requests.post(f"{portal}/oauth2/token/", data={"grant_type": "client_credentials"},
                           auth=(registered.client_id, registered.secret[:-1] + "x"), timeout=30)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    event = AuditEvent.objects.get(action="oauth_client.authentication_failed")
    assert event.outcome == "failure" and event.target_id == str(registered.client.pk)
    assert registered.secret not in str(event.changes)
    assert not AccessToken.objects.exists()


def test_discovery_names_only_what_the_portal_accepts(portal: str) -> None:
    found = requests.get(f"{portal}/.well-known/openid-configuration", timeout=30).json()
    assert found["issuer"] == portal
    assert found["response_types_supported"] == ["code"]
    assert found["code_challenge_methods_supported"] == ["S256"]
    assert found["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]
    assert found["authorization_response_iss_parameter_supported"] is True
    assert {"sub", "acr", "name", "https://id.oidc.se/claim/personalIdentityNumber",
            "http://sambi.se/attributes/1/employeeHsaId"} <= set(found["claims_supported"])
    jwks = requests.get(found["jwks_uri"], timeout=30).json()
    assert {key["alg"] for key in jwks["keys"]} == {"ES256", "RS256"}
    assert all("d" not in key for key in jwks["keys"])  # public halves only
