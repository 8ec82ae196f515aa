"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0; docs/identity-provider.md,
"Logout") over real HTTP against the live server, with Authlib as the relying party: the
end-session endpoint from discovery, the portal's one logout (session ended, audited, tokens
revoked), exact post-logout redirect URIs with `state`, the confirmation asked without a valid
`id_token_hint` of the logged-in person, and no 500 for hostile input."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from jwcrypto import jwk, jwt

from apps.audit.models import AuditEvent
from apps.authn.models import UserSession
from apps.core.actors import SYSTEM
from apps.core.errors import ValidationFailed
from apps.federation import services_oidc
from apps.federation.oidc import keys
from tests.federation.oidc_support import (
    POST_LOGOUT_REDIRECT_URI,
    RelyingParty,
    browser,
    register,
    use_provider,
)

pytestmark = pytest.mark.django_db(transaction=True)

STATE = "af0ifjsldkj"
MY_ESERVICES = "/my/e-services/"


@pytest.fixture
def portal(live_server: Any, settings: Any, tree: Any, tmp_path: Path) -> str:
    settings.OIDC_KEY_DIR = tmp_path / "oidc"  # rotation must not touch other tests' keys
    use_provider(settings, live_server.url)
    return str(live_server.url)


def logged_in(user: Any) -> bool:
    return UserSession.objects.filter(user=user, ended_at__isnull=True).exists()


def end_session(rp: RelyingParty, user_agent: requests.Session,
                **parameters: str) -> requests.Response:
    """The browser sent to the end-session endpoint named by the discovery document."""
    return user_agent.get(rp.discovery["end_session_endpoint"], params=parameters,
                          allow_redirects=False, timeout=30)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _signature = token.split(".")
    return (json.loads(base64.urlsafe_b64decode(header + "==")),
            json.loads(base64.urlsafe_b64decode(payload + "==")))


def signed_by_portal(claims: dict[str, Any]) -> str:
    """`claims` signed with the portal's current ES256 key, as `finalize_id_token` signs."""
    key = keys.signing_key("ES256")
    token = jwt.JWT(header={"alg": "ES256", "kid": keys.kid(key), "typ": "JWT"}, claims=claims)
    token.make_signed_token(key)
    return str(token.serialize())


def test_discovery_names_the_end_session_endpoint(portal: str, tree: Any) -> None:
    rp = RelyingParty(portal, register(tree["cardio"]))
    assert rp.discovery["end_session_endpoint"] == f"{portal}/oauth2/logout/"


def test_logout_with_hint_ends_the_session_and_its_tokens_and_returns_with_state(
        portal: str, tree: Any, nurse: Any) -> None:
    user = nurse[0]
    rp = RelyingParty(portal, register(tree["cardio"]))
    user_agent = browser(portal, user)
    token = rp.login(user_agent)
    session_row = UserSession.objects.get(user=user, ended_at__isnull=True)

    answer = end_session(rp, user_agent, id_token_hint=token["id_token"],
                         post_logout_redirect_uri=POST_LOGOUT_REDIRECT_URI, state=STATE)

    assert answer.status_code == 302
    assert answer.headers["Location"] == f"{POST_LOGOUT_REDIRECT_URI}?state={STATE}"
    session_row.refresh_from_db()
    assert session_row.ended_at is not None and session_row.end_reason == "logout"
    assert AuditEvent.objects.filter(action="session.ended", target_id=str(session_row.pk),
                                     actor_id=user.pk).exists()
    assert AuditEvent.objects.filter(action="oauth_tokens.revoked", actor_id=user.pk).exists()
    assert user_agent.get(f"{portal}{MY_ESERVICES}", allow_redirects=False,
                          timeout=30).status_code == 302  # to the login page
    with pytest.raises(OAuthError) as refused:
        rp.session.refresh_token(rp.discovery["token_endpoint"],
                                 refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_grant"
    introspected = requests.post(rp.discovery["introspection_endpoint"],
                                 data={"token": token["access_token"]},
                                 auth=(rp.registered.client_id, rp.registered.secret), timeout=30)
    assert introspected.json() == {"active": False}


def test_an_expired_hint_and_one_signed_by_a_retired_key_still_log_out(
        portal: str, tree: Any, nurse: Any) -> None:
    user = nurse[0]
    rp = RelyingParty(portal, register(tree["cardio"]))
    user_agent = browser(portal, user)
    hint = rp.login(user_agent)["id_token"]
    keys.rotate("ES256")  # the hint's key is retired, still in the JWKS
    answer = end_session(rp, user_agent, id_token_hint=hint,
                         post_logout_redirect_uri=POST_LOGOUT_REDIRECT_URI)
    assert answer.headers["Location"] == POST_LOGOUT_REDIRECT_URI and not logged_in(user)

    user_agent = browser(portal, user)
    _header, claims = unverified_parts(rp.login(user_agent)["id_token"])
    expired = signed_by_portal({**claims, "iat": int(time.time()) - 7200,
                                "exp": int(time.time()) - 3600})
    answer = end_session(rp, user_agent, id_token_hint=expired)
    assert answer.status_code == 302 and not logged_in(user)


@pytest.mark.parametrize("uri", [
    "https://rp.example/not-registered",
    f"{POST_LOGOUT_REDIRECT_URI}/",
    POST_LOGOUT_REDIRECT_URI.upper(),
    "https://RP.example/logged-out",
    f"{POST_LOGOUT_REDIRECT_URI}?next=https://evil.example/",
    "https://evil.example/logged-out",
    "//evil.example/",
    "javascript:alert(1)",
])
def test_only_the_exact_registered_uri_is_returned_to(
        portal: str, tree: Any, nurse: Any, uri: str) -> None:
    user = nurse[0]
    rp = RelyingParty(portal, register(tree["cardio"]))
    user_agent = browser(portal, user)
    hint = rp.login(user_agent)["id_token"]
    answer = end_session(rp, user_agent, id_token_hint=hint, post_logout_redirect_uri=uri,
                         state=STATE)
    assert answer.status_code == 302 and answer.headers["Location"] == "/"  # the portal's page
    assert not logged_in(user)
    home = user_agent.get(f"{portal}/", timeout=30)
    assert "You are logged out." in home.text


def confirmation(answer: requests.Response) -> str:
    assert answer.status_code == 200
    assert "Log out of the portal?" in answer.text
    return answer.text


def test_a_hint_of_another_person_asks_first(
        portal: str, tree: Any, nurse: Any, patient: Any) -> None:
    rp = RelyingParty(portal, register(tree["cardio"]))
    others = rp.login(browser(portal, nurse[0]))["id_token"]
    user_agent = browser(portal, patient)
    page = confirmation(end_session(rp, user_agent, id_token_hint=others,
                                    post_logout_redirect_uri=POST_LOGOUT_REDIRECT_URI,
                                    state=STATE))
    assert "Journal e-service asks you to log out of the portal." in page
    assert logged_in(patient) and logged_in(nurse[0])


def forged_hints(real: str) -> list[str]:
    header, claims = unverified_parts(real)
    public = keys.jwks()["keys"][0]
    public_pem = jwk.JWK(**public).export_to_pem()
    body = f"{b64(json.dumps({**header, 'alg': 'HS256'}).encode())}.{b64(json.dumps(claims).encode())}"
    hs256 = f"{body}.{b64(hmac.new(public_pem, body.encode(), hashlib.sha256).digest())}"
    none = (f"{b64(json.dumps({'alg': 'none', 'kid': header['kid']}).encode())}."
            f"{b64(json.dumps(claims).encode())}.")
    stranger = jwk.JWK.generate(kty="EC", crv="P-256")
    other_key = jwt.JWT(header={"alg": "ES256", "kid": header["kid"]}, claims=claims)
    other_key.make_signed_token(stranger)
    other_issuer = signed_by_portal({**claims, "iss": "https://evil.example"})
    tampered = real.split(".")
    tampered[1] = b64(json.dumps({**claims, "sub": "00000000-0000-0000-0000-000000000000"})
                      .encode())
    return [hs256, none, str(other_key.serialize()), other_issuer, ".".join(tampered),
            "garbage", "a.b.c", "e30.e30.", "....", real + "x", "\u00e9" * 50]


def test_forged_or_malformed_hints_ask_first(portal: str, tree: Any, nurse: Any) -> None:
    user = nurse[0]
    rp = RelyingParty(portal, register(tree["cardio"]))
    user_agent = browser(portal, user)
    real = rp.login(user_agent)["id_token"]
    for hint in forged_hints(real):
        confirmation(end_session(rp, user_agent, id_token_hint=hint,
                                 post_logout_redirect_uri=POST_LOGOUT_REDIRECT_URI))
        assert logged_in(user), hint


def test_a_client_id_other_than_the_hints_audience_asks_and_returns_nowhere(
        portal: str, tree: Any, nurse: Any) -> None:
    user = nurse[0]
    rp = RelyingParty(portal, register(tree["cardio"]))
    other = register(tree["cardio"])
    user_agent = browser(portal, user)
    hint = rp.login(user_agent)["id_token"]
    answer = end_session(rp, user_agent, id_token_hint=hint, client_id=other.client_id,
                         post_logout_redirect_uri=POST_LOGOUT_REDIRECT_URI, state=STATE)
    page = confirmation(answer)
    assert "An e-service asks you to log out of the portal." in page
    assert logged_in(user)
    done = post_confirmation(user_agent, answer, portal)
    assert done.headers["Location"] == "/" and not logged_in(user)


def test_a_suspended_clients_hint_asks_and_returns_nowhere(
        portal: str, tree: Any, nurse: Any) -> None:
    user = nurse[0]
    rp = RelyingParty(portal, register(tree["cardio"]))
    user_agent = browser(portal, user)
    hint = rp.login(user_agent)["id_token"]
    services_oidc.client_suspend(actor=SYSTEM, client=rp.registered.client, reason="incident")
    answer = end_session(rp, user_agent, id_token_hint=hint,
                         post_logout_redirect_uri=POST_LOGOUT_REDIRECT_URI, state=STATE)
    confirmation(answer)
    assert logged_in(user)
    assert post_confirmation(user_agent, answer, portal).headers["Location"] == "/"


def post_confirmation(user_agent: requests.Session, page: requests.Response, portal: str,
                      **fields: str) -> requests.Response:
    """The confirmation form posted as the browser would (its hidden fields, the CSRF cookie and
    token, the Log out button)."""
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    data = {**{name: value.replace("&amp;", "&") for name, value in hidden.items()},
            "allow": "true", **fields}
    return user_agent.post(f"{portal}/oauth2/logout/confirm/", data=data, allow_redirects=False,
                           timeout=30)


def test_without_hint_a_get_asks_and_the_posted_confirmation_logs_out(
        portal: str, tree: Any, nurse: Any) -> None:
    user = nurse[0]
    rp = RelyingParty(portal, register(tree["cardio"]))
    user_agent = browser(portal, user)
    rp.login(user_agent)
    answer = end_session(rp, user_agent, client_id=rp.registered.client_id,
                         post_logout_redirect_uri=POST_LOGOUT_REDIRECT_URI, state=STATE)
    page = confirmation(answer)
    assert "Journal e-service asks you to log out of the portal." in page
    assert "form-action 'self' https://rp.example" in answer.headers["Content-Security-Policy"]
    assert logged_in(user)

    forged = requests.post(f"{portal}/oauth2/logout/confirm/", cookies=user_agent.cookies,
                           data={"allow": "true", "client_id": rp.registered.client_id},
                           timeout=30)
    assert forged.status_code == 403 and logged_in(user)  # no CSRF token: refused
    posted = requests.post(rp.discovery["end_session_endpoint"], cookies=user_agent.cookies,
                           data={"allow": "true", "client_id": rp.registered.client_id},
                           timeout=30)  # an e-service's POST (section 2) asks as a GET does
    assert confirmation(posted) and logged_in(user)
    stay = post_confirmation(user_agent, answer, portal, allow="")
    assert stay.headers["Location"] == "/" and logged_in(user)

    done = post_confirmation(user_agent, answer, portal)
    assert done.headers["Location"] == f"{POST_LOGOUT_REDIRECT_URI}?state={STATE}"
    assert not logged_in(user)


def test_when_not_logged_in_it_says_so_or_returns_to_the_registered_uri(
        portal: str, tree: Any, nurse: Any) -> None:
    rp = RelyingParty(portal, register(tree["cardio"]))
    hint = rp.login(browser(portal, nurse[0]))["id_token"]
    anonymous = requests.Session()
    anonymous.headers["Accept-Language"] = "en"
    answer = end_session(rp, anonymous, id_token_hint=hint,
                         post_logout_redirect_uri=POST_LOGOUT_REDIRECT_URI, state=STATE)
    assert answer.headers["Location"] == f"{POST_LOGOUT_REDIRECT_URI}?state={STATE}"
    answer = end_session(rp, anonymous, client_id=rp.registered.client_id)
    assert answer.headers["Location"] == "/"
    assert "You were not logged in." in anonymous.get(f"{portal}/", timeout=30).text
    assert logged_in(nurse[0])  # the hint's person elsewhere is not logged out


def test_the_pages_are_in_swedish(portal: str, tree: Any, nurse: Any) -> None:
    rp = RelyingParty(portal, register(tree["cardio"]))
    user_agent = browser(portal, nurse[0])
    user_agent.headers["Accept-Language"] = "sv"
    page = end_session(rp, user_agent, client_id=rp.registered.client_id).text
    assert "Logga ut från portalen?" in page and 'lang="sv"' in page


HOSTILE = ["\x00", "x\x00y", "A" * 20000, "\u202e\ufeff", "%00", "' OR 1=1 --", "<script>",
           "https://rp.example/logged-out\x00"]


def csrf_token(rp: RelyingParty, user_agent: requests.Session) -> str:
    """The CSRF token of a confirmation page (its cookie stays in `user_agent`)."""
    page = end_session(rp, user_agent, client_id=rp.registered.client_id).text
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_no_hostile_parameter_yields_a_500(portal: str, tree: Any, nurse: Any) -> None:
    user = nurse[0]
    rp = RelyingParty(portal, register(tree["cardio"]))
    user_agent = browser(portal, user)
    hint = rp.login(user_agent)["id_token"]
    url = rp.discovery["end_session_endpoint"]
    for value in HOSTILE:
        for name in ("id_token_hint", "client_id", "post_logout_redirect_uri", "state",
                     "logout_hint", "ui_locales", "allow"):
            parameters = {"id_token_hint": hint, "client_id": rp.registered.client_id,
                          name: value}
            for method in ("get", "post", "confirm"):
                if not logged_in(user):
                    user_agent = browser(portal, user)
                if method == "get":
                    answer = user_agent.get(f"{url}?{urlencode(parameters)}",
                                            allow_redirects=False, timeout=30)
                elif method == "post":
                    answer = user_agent.post(url, data=parameters, allow_redirects=False,
                                             timeout=30)
                else:
                    answer = user_agent.post(f"{url}confirm/", allow_redirects=False, data={
                        **parameters, "csrfmiddlewaretoken": csrf_token(rp, user_agent)},
                        timeout=30)
                assert answer.status_code in (200, 302, 400), (name, value, method)
                if answer.status_code == 302:
                    assert answer.headers["Location"].startswith(("/", POST_LOGOUT_REDIRECT_URI))
    repeated = user_agent.get(f"{url}?client_id=a&client_id=b&state=1&state=2", timeout=30)
    assert repeated.status_code == 200
    assert user_agent.put(url, timeout=30).status_code == 405
    assert user_agent.get(f"{url}confirm/", timeout=30).status_code == 405


@pytest.mark.parametrize("uri", [
    "http://rp.example/logged-out", "https://*.rp.example/logged-out",
    "https://rp.example/logged-out#x", "https://user@rp.example/logged-out", "rp.example/x",
    "http://localhost/logged-out", "ftp://rp.example/x"])
def test_registration_refuses_a_bad_post_logout_uri(tree: Any, uri: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        register(tree["cardio"], post_logout_redirect_uris=[uri])
    assert refused.value.field == "post_logout_redirect_uris"


def test_registration_keeps_loopback_and_https_post_logout_uris(tree: Any) -> None:
    uris = ["https://rp.example/bye", "http://127.0.0.1:8002/logged-out"]
    client = register(tree["cardio"], post_logout_redirect_uris=uris).client
    assert client.post_logout_redirect_uris.split() == uris
    updated = services_oidc.client_update(
        actor=SYSTEM, client=client, contact_name="Ella", contact_email="ella@example.invalid",
        redirect_uris=client.redirect_uris.split(), post_logout_redirect_uris=uris[:1])
    assert updated.post_logout_redirect_uris == uris[0]
    assert AuditEvent.objects.filter(action="oauth_client.updated",
                                     target_id=str(client.pk)).exists()
