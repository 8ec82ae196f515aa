"""Helpers for the OpenID Connect provider's tests: clients registered and approved through the
services, a logged-in browser session for the live server, and a relying party built on Authlib
(an independent OAuth 2.0 / OIDC client library) with joserfc verifying ID tokens."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.conf import settings
from django.test import Client as DjangoClient
from joserfc import jwt
from joserfc.jwk import KeySet

from apps.core.actors import SYSTEM
from apps.federation import services_oidc
from apps.federation.models import Client
from apps.federation.oidc import keys
from apps.identities.models import User
from apps.organisations.models import Organisation
from tests.conftest import login_session

REDIRECT_URI = "https://rp.example/callback"
POST_LOGOUT_REDIRECT_URI = "https://rp.example/logged-out"


def continued_to(page: str) -> str:
    """The authorization request that the page "Continuing to the e-service" (the end of a login
    that began at an e-service) moves on to: its link's address."""
    found = re.search(r'<a class="button" href="([^"]+)">Continue to the e-service</a>', page)
    assert found, "not the page continuing to the e-service"
    return html.unescape(found.group(1))


def use_provider(settings_fixture: Any, issuer: str) -> None:
    """Signing keys present, and the issuer and the access tokens' audience set to the server
    under test."""
    keys.ensure()
    settings_fixture.OAUTH_ACCESS_TOKEN_AUDIENCE = f"{issuer}/api/"
    settings_fixture.OAUTH2_PROVIDER = {**settings_fixture.OAUTH2_PROVIDER,
                                        "OIDC_ISS_ENDPOINT": issuer}


@dataclass
class Registered:
    client: Client
    secret: str

    @property
    def client_id(self) -> str:
        return self.client.client_id


def register(organisation: Organisation, *, grant_type: str = "authorization-code",
             client_type: str = "confidential", redirect_uris: list[str] | None = None,
             post_logout_redirect_uris: list[str] | None = None,
             approve: bool = True, first_party: bool = True, algorithm: str = "ES256",
             scopes: tuple[str, ...] = ("openid", "profile"),
             claims: tuple[str, ...] = ("sub",)) -> Registered:
    """A client of `organisation` registered (and by default approved) through the services."""
    done = services_oidc.client_register(
        actor=SYSTEM, organisation=organisation, name="Journal e-service",
        contact_name="Ella Example", contact_email="ella@example.invalid",
        client_type=client_type, grant_type=grant_type,
        redirect_uris=([REDIRECT_URI] if redirect_uris is None else redirect_uris)
        if grant_type == "authorization-code" else [],
        post_logout_redirect_uris=([POST_LOGOUT_REDIRECT_URI] if post_logout_redirect_uris is None
                                   else post_logout_redirect_uris)
        if grant_type == "authorization-code" else [],
        allowed_scopes=list(scopes), allowed_claims=list(claims), algorithm=algorithm,
        first_party=first_party)
    client = services_oidc.client_approve(actor=SYSTEM, client=done.client) if approve else done.client
    return Registered(client, done.secret)


def browser(base_url: str, user: User, **login: Any) -> requests.Session:
    """A requests session holding `user`'s portal login (by default a federated login at LoA 3;
    `login` as `tests.conftest.login_session` takes it)."""
    logged_in = login_session(DjangoClient(), user, **login)
    found = requests.Session()
    found.cookies.set(settings.SESSION_COOKIE_NAME,
                      logged_in.cookies[settings.SESSION_COOKIE_NAME].value)
    found.headers["Accept-Language"] = "en"
    return found


class RelyingParty:
    """An e-service using Authlib's OAuth2Session against the portal at `base_url`."""

    def __init__(self, base_url: str, registered: Registered, *,
                 redirect_uri: str = REDIRECT_URI, scope: str | None = "openid profile") -> None:
        self.base_url = base_url
        self.discovery = requests.get(f"{base_url}/.well-known/openid-configuration",
                                      timeout=30).json()
        self.registered = registered
        self.session = OAuth2Session(
            registered.client_id, registered.secret or None, scope=scope,
            redirect_uri=redirect_uri, code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if registered.secret else "none")

    def authorize(self, browser_session: requests.Session, **extra: str) -> dict[str, list[str]]:
        """Send the browser to the authorization endpoint; the query of the redirect back
        (Location), or {"status": [...]} when the portal answered without redirecting."""
        self.verifier = generate_token(48)
        self.nonce = generate_token(16)
        url, self.state = self.session.create_authorization_url(
            self.discovery["authorization_endpoint"], code_verifier=self.verifier,
            nonce=self.nonce, **extra)
        answer = browser_session.get(url, allow_redirects=False, timeout=30)
        if answer.status_code != 302:
            return {"status": [str(answer.status_code)]}
        return parse_qs(urlsplit(answer.headers["Location"]).query)

    def redeem(self, code: str) -> dict[str, Any]:
        """Exchange `code` with the verifier of the last `authorize` (raises Authlib's
        OAuthError when refused)."""
        return dict(self.session.fetch_token(
            self.discovery["token_endpoint"], grant_type="authorization_code", code=code,
            code_verifier=self.verifier))

    def login(self, browser_session: requests.Session) -> dict[str, Any]:
        query = self.authorize(browser_session)
        return self.redeem(query["code"][0])

    def verify_id_token(self, id_token: str) -> dict[str, Any]:
        """The ID token's claims, its signature verified with the published JWKS and the
        OIDC Core 3.1.3.7 claims checked (iss, aud, exp, nonce)."""
        jwks = KeySet.import_key_set(requests.get(self.discovery["jwks_uri"], timeout=30).json())
        token = jwt.decode(id_token, jwks, algorithms=["ES256", "RS256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": self.discovery["issuer"]},
            aud={"essential": True, "value": self.registered.client_id},
            exp={"essential": True}, nonce={"essential": True, "value": self.nonce},
        ).validate(token.claims)
        return dict(token.claims)


def s256(verifier: str) -> str:
    return str(create_s256_code_challenge(verifier))


def works(rp: RelyingParty, token: dict[str, Any]) -> tuple[int, bool]:
    """The userinfo status and introspection's `active` for the access token (False when the
    client itself is refused: a suspended client cannot introspect)."""
    userinfo = requests.get(rp.discovery["userinfo_endpoint"], timeout=30,
                            headers={"Authorization": f"Bearer {token['access_token']}"})
    introspected = requests.post(rp.discovery["introspection_endpoint"],
                                 data={"token": token["access_token"]},
                                 auth=(rp.registered.client_id, rp.registered.secret), timeout=30)
    if introspected.status_code != 200:
        return userinfo.status_code, False
    return userinfo.status_code, bool(introspected.json()["active"])
