"""Access tokens as JWTs (RFC 9068, "JSON Web Token Profile for OAuth 2.0 Access Tokens"), made by
DOT's token generator hook (settings.OAUTH2_PROVIDER["ACCESS_TOKEN_GENERATOR"]); refresh tokens
stay opaque random strings. DOT still records each access token by its SHA-256
(`models.AccessToken`), so introspection (RFC 7662) and revocation (RFC 7009) work on them, and a
resource server can instead verify one offline with the JWKS (`verify`, docs/identity-provider.md,
"Access tokens").
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any

from django.conf import settings
from jwcrypto import jwk, jwt
from jwcrypto.common import JWException
from oauth2_provider.settings import oauth2_settings

from apps.federation.models import AccessToken
from apps.federation.oidc import keys
from apps.federation.oidc.claims import RFC8176_AMR

#: RFC 9068 2.1: the media type of an access token JWT, in the `typ` header.
TYPE = "at+jwt"


def audience() -> str:
    """The audience of every access token (RFC 9068 2.2 `aud`): the portal's APIs
    (settings.OAUTH_ACCESS_TOKEN_AUDIENCE). One audience for all clients: RFC 8707 resource
    indicators are not accepted (docs/decisions.md)."""
    return str(settings.OAUTH_ACCESS_TOKEN_AUDIENCE)


def claims(request: Any, now: int) -> dict[str, Any]:
    """The RFC 9068 2.2 claims for the token request `request` (an oauthlib request the
    validator filled in) issued at `now` (seconds since the epoch, UTC): `iss`, `exp`, `aud`,
    `sub` (the person, as in the ID token, or the client's id for client credentials, RFC 9068
    2.2), `client_id`, `iat`, `jti`, `scope`, and with a user login RFC 9068 2.2.1's `acr`,
    `amr` and `auth_time` of that login."""
    carried = getattr(request, "portal_carried", None) or {}
    person = carried.get("person_id")
    body: dict[str, Any] = {
        "iss": oauth2_settings.oidc_issuer(request),
        "exp": now + int(oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS),
        "aud": audience(),
        "sub": str(person) if person else request.client.client_id,
        "client_id": request.client.client_id,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "scope": " ".join(request.scopes or []),
    }
    login = getattr(request, "portal_authentication", None) or {}
    if login.get("acr"):
        body["acr"] = login["acr"]
    # Only RFC 8176's registered values, as in the ID token (`claims.login_claims`).
    amr = [name for name in login.get("amr") or [] if name in RFC8176_AMR]
    if amr:
        body["amr"] = amr
    if login.get("auth_time"):
        body["auth_time"] = int(login["auth_time"].timestamp())
    return body


def generate(request: Any, refresh_token: bool = False) -> str:
    """DOT's ACCESS_TOKEN_GENERATOR: the signed access token JWT for `request`, signed with the
    client's algorithm (ES256 by default, RS256 when registered so) and its key's `kid`."""
    key = keys.signing_key(request.client.algorithm)
    header = {"typ": TYPE, "alg": request.client.algorithm, "kid": keys.kid(key)}
    token = jwt.JWT(header=json.dumps(header), claims=json.dumps(claims(request, int(time.time()))))
    token.make_signed_token(key)
    return str(token.serialize())


class InvalidAccessToken(Exception):
    """The bearer token is not a valid access token of this portal for its APIs."""


def verify(token: str, *, issuer: str) -> dict[str, Any]:
    """The claims of `token` after the checks of RFC 9068 section 4: `typ` is at+jwt, the
    signature verifies with a published key (`keys.jwks`) of an allowed algorithm, `iss` is
    `issuer`, `aud` holds `audience()`, and `exp` has not passed. Raises InvalidAccessToken.
    Offline: a revoked token verifies until it expires; a resource server that must notice
    revocation at once introspects (docs/identity-provider.md)."""
    try:
        parsed = jwt.JWT(jwt=token, key=jwk.JWKSet.from_json(json.dumps(keys.jwks())),
                         algs=list(keys.FILES), expected_type="JWS",
                         check_claims={"iss": issuer, "aud": audience(), "exp": None})
        if parsed.token.jose_header.get("typ") != TYPE:
            raise InvalidAccessToken("typ is not at+jwt.")
        return dict(json.loads(parsed.claims))
    except (JWException, ValueError, TypeError, KeyError) as exc:
        raise InvalidAccessToken(str(exc)) from exc


def authenticate(token: str, *, issuer: str) -> dict[str, Any]:
    """What the portal's own APIs do with a bearer access token (RFC 6750): `verify` it, then
    check its record is still there and unexpired, so a revocation (RFC 7009, or the user's)
    takes effect at once. Returns the claims; raises InvalidAccessToken."""
    claims = verify(token, issuer=issuer)
    checksum = hashlib.sha256(token.encode()).hexdigest()
    record = AccessToken.objects.filter(token_checksum=checksum).first()
    if record is None or record.is_expired():
        raise InvalidAccessToken("The access token was revoked or has expired.")
    return claims
