"""What an RP-initiated logout request (OpenID Connect RP-Initiated Logout 1.0, section 2) says,
read without trusting any of it: the e-service it comes from, the person its `id_token_hint`
names, and the address to send the browser back to. The page that acts on it is
`views.LogoutView`; docs/identity-provider.md ("Logout") and docs/decisions.md give the rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jwcrypto import jwk, jws
from jwcrypto.common import JWException
from oauthlib.common import add_params_to_uri

from apps.federation.models import Client
from apps.federation.oidc import keys
from apps.federation.oidc.vocabulary import SigningAlgorithm

#: Longer than any ID token the portal signs (a few hundred characters); longer hints are not
#: parsed at all.
HINT_MAX_LENGTH = 8192
#: DOT's `client_id` column is 100 characters.
CLIENT_ID_MAX_LENGTH = 100


@dataclass(frozen=True)
class Hint:
    """A verified `id_token_hint`: the person (`sub`, the person's UUID as text) and the client
    it was issued to (`aud`)."""

    person_id: str
    client: Client


def _public_key(kid: Any, alg: Any) -> jwk.JWK | None:
    """The published key (`keys.jwks`: current, or retired within its retention) with this
    `kid` and `alg`, or None."""
    for key in keys.jwks()["keys"]:
        if key["kid"] == kid and key["alg"] == alg:
            return jwk.JWK(**key)
    return None


def _usable_client(client_id: str) -> Client | None:
    """The approved client with this ID, or None (unknown, pending or suspended)."""
    if not client_id or len(client_id) > CLIENT_ID_MAX_LENGTH:
        return None
    client = Client.objects.filter(client_id=client_id).first()
    return client if client is not None and client.is_usable(None) else None


def verify_hint(token: str, issuer: str) -> Hint | None:
    """The `id_token_hint` when it is an ID token the portal signed (OIDC Core 3.1.3.7: a JWS
    with `alg` ES256 or RS256 by a published key named by `kid`; never `none` or an HMAC, so a
    public key cannot be used as a secret), with `iss` the issuer and `aud` an approved client,
    else None. Its expiry is not checked (RP-Initiated Logout 1.0 section 2: the OP need not
    refuse an expired hint)."""
    if not token or len(token) > HINT_MAX_LENGTH:
        return None
    try:
        signed = jws.JWS()
        signed.deserialize(token)
        header = signed.jose_header
        alg = header.get("alg")
        if alg not in SigningAlgorithm.values:
            return None
        key = _public_key(header.get("kid"), alg)
        if key is None:
            return None
        signed.verify(key, alg=alg)
        claims = json.loads(signed.payload)
    except (JWException, ValueError, TypeError, KeyError, AttributeError):
        return None
    if not isinstance(claims, dict) or claims.get("iss") != issuer:
        return None
    person_id, audience = claims.get("sub"), claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(person_id, str) or not isinstance(audiences, list) or len(audiences) != 1:
        return None  # the portal's ID tokens have one audience, the client (OIDC Core 2)
    client = _usable_client(str(audiences[0]))
    return Hint(person_id, client) if client is not None else None


@dataclass(frozen=True)
class LogoutRequest:
    """A logout request as far as it can be trusted: `client` the approved e-service it names
    (None when unknown, suspended, or when `client_id` and the hint's `aud` disagree), `person_id`
    the person of a valid hint (None without one), and `return_to` the client's registered
    post-logout redirect URI with `state` added (None when none was asked for or it is not
    registered exactly for `client`)."""

    client: Client | None
    person_id: str | None
    return_to: str | None


def read(*, id_token_hint: str, client_id: str, post_logout_redirect_uri: str, state: str,
         issuer: str) -> LogoutRequest:
    """The request's parameters (RP-Initiated Logout 1.0 section 2; "" when absent) as a
    `LogoutRequest`. A hint for another client than `client_id` counts as no hint and leaves no
    client (section 2: `client_id` MUST match the hint's `aud`). The redirect URI is used only
    when registered exactly for the client (section 3; RFC 9700 4.1.1), so it is never an open
    redirect."""
    hint = verify_hint(id_token_hint, issuer) if id_token_hint else None
    if client_id and hint is not None and hint.client.client_id != client_id:
        return LogoutRequest(client=None, person_id=None, return_to=None)
    client = hint.client if hint is not None else _usable_client(client_id)
    return_to = None
    if client is not None and post_logout_redirect_uri and client.post_logout_redirect_uri_allowed(
            post_logout_redirect_uri):
        return_to = (add_params_to_uri(post_logout_redirect_uri, [("state", state)]) if state
                     else post_logout_redirect_uri)
    return LogoutRequest(client=client, person_id=hint.person_id if hint else None,
                         return_to=return_to)
