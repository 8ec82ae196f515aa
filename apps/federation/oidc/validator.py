"""The portal's rules for django-oauth-toolkit: the one validator class (DOT's seam to customise,
settings.OAUTH2_PROVIDER["OAUTH2_VALIDATOR_CLASS"]). docs/identity-provider.md describes the
profile; each rule below cites its source.

Lock order of a token request (docs/architecture.md): the token endpoint runs in one
transaction (`views.TokenView`); an authorization code's grant row is locked (`SELECT ... FOR
UPDATE`) before anything is issued for it, then DOT's refresh token and access token rows; a
refresh token's row is locked when it is read (`PortalValidator.validate_refresh_token`), then
its access token row is written (`rotate`).
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from jwcrypto import jwt
from oauth2_provider.models import refresh_token_expire_timedelta, set_token_value
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors

from apps.commissions.models import ValidityStatus
from apps.federation import actors, services_oidc, services_tokens
from apps.federation.models import AccessToken, Client, Grant, IDToken, RefreshToken
from apps.federation.oidc import claims, keys, secrets
from apps.federation.oidc.vocabulary import CLAIMS, GrantType
from apps.identities.models import User

#: The token endpoint's grant types and the registration each needs (RFC 9700 2.1.2 and 2.4: no
#: implicit, no password grant; a code client refreshes, RFC 6749 section 6).
GRANTS = {
    "authorization_code": GrantType.AUTHORIZATION_CODE,
    "refresh_token": GrantType.AUTHORIZATION_CODE,
    "client_credentials": GrantType.CLIENT_CREDENTIALS,
}

#: RFC 7636 4.2: BASE64URL(SHA-256(verifier)) is 43 characters of the base64url alphabet.
S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
#: What a grant stores of the OIDC `nonce` (DOT's column).
NONCE_MAX_LENGTH = 255
#: Scopes about the user (OIDC Core 3.1.2.1 and 5.4; `claims.SCOPE_CLAIMS`): meaningless
#: without one.
USER_SCOPES = set(claims.SCOPE_CLAIMS)


def revoke_grant_tokens(grant: Grant) -> None:
    """Revoke every token issued for the authorization code `grant`, including those rotated
    from its refresh tokens since (RFC 6749 4.1.2: a code used twice revokes what it gave).

    The families' refresh tokens are locked before the access tokens are deleted, the order a
    refresh takes (`PortalValidator.validate_refresh_token`, then `rotate`): a refresh of the
    same family running at this moment finishes first, and the statements after the lock see the
    refresh token it added (PostgreSQL read committed: each statement sees what committed before
    it), so that one is revoked too."""
    families = set(RefreshToken.objects.filter(access_token__grant=grant)
                   .values_list("token_family", flat=True))
    list(RefreshToken.objects.select_for_update().filter(token_family__in=families)
         .values_list("pk", flat=True))
    AccessToken.objects.filter(grant=grant).delete()
    for family in families:
        RefreshToken.revoke_family(family)


def login_of(grant: Grant | None) -> dict[str, Any]:
    """The login an authorization code was issued in, for the access token's RFC 9068 2.2.1
    claims (`access_tokens.claims`): `acr`, `amr` and `auth_time` (UTC)."""
    if grant is None:
        return {}
    return {"acr": grant.acr, "amr": grant.amr, "auth_time": grant.auth_time}


def entitled(user: User, carried: AccessToken | Grant, now: datetime) -> bool:
    """Whether what `carried` (the access token a refresh token belongs to, or the authorization
    code being redeemed) carries still entitles new tokens at `now` (UTC): the account is
    active, its login session has not ended and its commission is active (the portal's rule that
    entitlement is checked when used; ending any of them also revokes the tokens,
    `services_tokens.tokens_revoke`, but not a code that is not redeemed yet)."""
    return (user.is_active
            and (carried.session is None or carried.session.ended_at is None)
            and (carried.commission is None
                 or carried.commission.status(now) == ValidityStatus.ACTIVE))


def rotate(token: dict[str, Any], request: Any) -> AccessToken:
    """Store a refresh grant's new pair in three statements, the used refresh token's row locked
    by `PortalValidator.validate_refresh_token`: the access token row takes the new value and
    expiry (its old value is refused from now on: introspection and the portal's APIs look
    tokens up by SHA-256), the used refresh token is revoked, kept so that presenting it again
    is recognised (RFC 9700 4.14.2), and the new refresh token joins its family.

    Replaces DOT's rotation (`_save_bearer_token`), which locks and reads the pair again, deletes
    the old access token and inserts a new one inside savepoints. What the access token carries
    (person, session, commission, code, ID token) is unchanged by a refresh."""
    now = timezone.now()
    used: RefreshToken = request.refresh_token_instance
    access = used.access_token
    set_token_value(access, token["access_token"])
    access.scope = token["scope"]
    access.expires = now + timedelta(
        seconds=token.get("expires_in", oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS))
    access.source_refresh_token = used
    access.created = now
    access.save(update_fields=["token", "token_checksum", "scope", "expires",
                               "source_refresh_token", "created", "updated"])
    RefreshToken.objects.filter(pk=used.pk).update(revoked=now, access_token=None, updated=now)
    fresh = RefreshToken(user=request.user, application=request.client, access_token=access,
                         token_family=used.token_family)
    set_token_value(fresh, token["refresh_token"])
    fresh.save()
    return access


class PortalValidator(OAuth2Validator):
    """DOT's validator with the portal's rules: only approved clients (`Client.is_usable`), only
    the code flow with PKCE S256 and the refresh and client credentials grants, client secrets
    as keyed hashes, single-use codes whose replay revokes what they gave, and tokens that record
    the person, session and commission they carry."""

    # --- clients -----------------------------------------------------------------------------

    def _check_secret(self, provided_secret: str, stored_secret: str) -> bool:
        """HMAC-SHA-256 under the server pepper (`secrets`), never a password hash."""
        return secrets.matches(provided_secret or "", stored_secret or "")

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        """DOT's client authentication (RFC 6749 2.3.1: HTTP Basic, then the body); a failure for
        a known, usable client is audited (`oauth_client.authentication_failed`), never with the
        secret tried."""
        authenticated = bool(self._authenticate_basic_auth(request))
        named = request.client
        if not authenticated:
            authenticated = bool(self._authenticate_request_body(request))
            named = request.client or named
        if not authenticated and isinstance(named, Client):
            services_oidc.client_authentication_failed(actor=actors.OIDC_PROVIDER, client=named)
        return authenticated

    # --- the authorization request -----------------------------------------------------------

    def validate_response_type(self, client_id: str, response_type: str, client: Client,
                               request: Any, *args: Any, **kwargs: Any) -> bool:
        """Only `code` (RFC 9700 2.1.2: no implicit or hybrid), for a code client; a PKCE
        challenge must use S256 (RFC 9700 2.1.1; RFC 7636 4.2: `plain`, also the default when
        no method is named, is refused, and an S256 challenge is 43 base64url characters); a
        `nonce` fits its column (255); the response goes in the query (OAuth 2.0 Multiple
        Response Type Encoding Practices 2.1: the code flow's default, the only mode discovery
        names). Raises InvalidRequestError, answered to the client's redirect URI."""
        if response_type != "code" or not client.allows_grant_type(GrantType.AUTHORIZATION_CODE):
            return False
        if request.response_mode not in (None, "query"):
            raise errors.InvalidRequestError(
                description="response_mode must be query.", request=request)
        if request.code_challenge is not None and (
                request.code_challenge_method != "S256"
                or not S256_CHALLENGE.fullmatch(request.code_challenge)):
            raise errors.InvalidRequestError(
                description="code_challenge_method must be S256 (a 43-character challenge).",
                request=request)
        if len(request.nonce or "") > NONCE_MAX_LENGTH:
            raise errors.InvalidRequestError(description="nonce is too long.", request=request)
        return True

    def validate_scopes(self, client_id: str, scopes: list[str], client: Client, request: Any,
                        *args: Any, **kwargs: Any) -> bool:
        """Every requested scope is one the server knows and the client's registration allows;
        a client credentials token, which has no user, gets no user scope (`USER_SCOPES`)."""
        if request.grant_type == "client_credentials" and set(scopes) & USER_SCOPES:
            return False
        return (super().validate_scopes(client_id, scopes, client, request, *args, **kwargs)
                and set(scopes) <= set(client.allowed_scopes))

    def get_default_scopes(self, client_id: str, request: Any, *args: Any,
                           **kwargs: Any) -> list[str]:
        """The default scopes the client's registration allows (no user scope for a client
        credentials token)."""
        allowed = set(request.client.allowed_scopes) if request.client else set()
        if request.grant_type == "client_credentials":
            allowed -= USER_SCOPES
        return [scope for scope in super().get_default_scopes(client_id, request)
                if scope in allowed]

    def validate_silent_login(self, request: Any) -> bool:
        """`prompt=none` (OIDC Core 3.1.2.1): the endpoint runs only for a logged-in user
        (`views.authorize_view`)."""
        return True

    def validate_silent_authorization(self, request: Any) -> bool:
        """`prompt=none` without a consent screen: only for first-party clients; others get
        `consent_required` (OIDC Core 3.1.2.6)."""
        return bool(request.client and request.client.first_party)

    def _create_authorization_code(self, request: Any, code: dict[str, str],
                                   expires: Any = None) -> Grant:
        """DOT's grant, with the login it was issued in (`views.AuthorizationView` passes it as
        `portal_login`)."""
        grant: Grant = super()._create_authorization_code(request, code, expires)
        login = getattr(request, "portal_login", None) or {}
        for name in ("session_id", "commission_id", "acr", "amr", "auth_time"):
            if name in login:
                setattr(grant, name, login[name])
        grant.save(update_fields=["session", "commission", "acr", "amr", "auth_time"])
        return grant

    # --- the token request ---------------------------------------------------------------------

    def validate_grant_type(self, client_id: str, grant_type: str, client: Client, request: Any,
                            *args: Any, **kwargs: Any) -> bool:
        """Only the grants of `GRANTS`, each for a client registered for it."""
        return GRANTS.get(grant_type) == client.authorization_grant_type

    def validate_code(self, client_id: str, code: str, client: Client, request: Any,
                      *args: Any, **kwargs: Any) -> bool:
        """The code is this client's, unexpired (60 s) and not redeemed; its row stays locked
        until the token request's transaction ends, so two redemptions at once issue tokens at
        most once. A code redeemed before revokes what it gave (RFC 6749 4.1.2). A
        `code_verifier` for a code issued without a challenge is refused (RFC 9700 2.1.1: no
        PKCE downgrade). What the code carries must still entitle it (`entitled`): a code
        issued in a session that has ended since, under a commission that has ended, or to an
        account deactivated since, is refused (`invalid_grant`)."""
        grant = (Grant.objects.select_for_update(of=("self",))
                 .select_related("user", "session", "commission")
                 .filter(code=code, application=client).first())
        if grant is None:
            return False
        if grant.redeemed_at is not None:
            revoke_grant_tokens(grant)
            return False
        if grant.is_expired() or not entitled(grant.user, grant, timezone.now()):
            return False
        if request.code_verifier is not None and not grant.code_challenge:
            return False
        request.scopes = grant.scope.split(" ")
        request.user = grant.user
        if grant.nonce:
            request.nonce = grant.nonce
        if grant.claims:
            request.claims = json.loads(grant.claims)
        request.portal_carried = {"person_id": grant.user.person_id,
                                  "session_id": grant.session_id,
                                  "commission_id": grant.commission_id, "grant_id": grant.pk}
        request.portal_authentication = login_of(grant)
        return True

    def invalidate_authorization_code(self, client_id: str, code: str, request: Any,
                                      *args: Any, **kwargs: Any) -> None:
        """Mark the code redeemed (kept, so a replay is recognised). Raises InvalidGrantError
        when it was redeemed in between."""
        redeemed = Grant.objects.filter(code=code, application=request.client,
                                        redeemed_at__isnull=True).update(redeemed_at=timezone.now())
        if not redeemed:
            raise errors.InvalidGrantError(request=request)

    def validate_refresh_token(self, refresh_token: str, client: Client, request: Any,
                               *args: Any, **kwargs: Any) -> bool:
        """The refresh token is this client's, unrevoked, unexpired and still entitled; its row
        stays locked until the token request's transaction ends, so two refreshes of one token
        at once rotate it at most once. A used (revoked) refresh token revokes its whole family
        (RFC 9700 4.14.2). Entitlement is checked at use: the account is active, the login
        session has not ended and the commission it carries is active (docs/identity-provider.md,
        "Flows").

        Replaces DOT's check, which reads the token without a lock and then its user, client,
        grant and commission one by one: here one `SELECT ... FOR UPDATE OF` the refresh token
        joins what the new tokens carry, and the row is kept on the request for
        `get_original_scopes` and `rotate`. DOT's grace period is not applied
        (the portal sets REFRESH_TOKEN_GRACE_PERIOD_SECONDS to 0): any used token is a reuse."""
        checksum = hashlib.sha256(refresh_token.encode()).hexdigest()
        # Several rows may share a checksum (DOT's uniqueness is (token_checksum, revoked)):
        # the unrevoked one first, as DOT does.
        used = (RefreshToken.objects.select_for_update(of=("self",))
                .select_related("user__person", "access_token__grant", "access_token__session",
                                "access_token__commission")
                .filter(token_checksum=checksum)
                .order_by(F("revoked").desc(nulls_first=True)).first())
        if used is None:
            return False
        if used.revoked is not None:
            RefreshToken.revoke_family(used.token_family)
            return False
        carried, now = used.access_token, timezone.now()
        expire_delta = refresh_token_expire_timedelta()
        if (carried is None or (expire_delta and carried.expires + expire_delta <= now)
                or used.application_id != client.pk or not entitled(used.user, carried, now)):
            return False
        request.user = used.user
        request.refresh_token = refresh_token
        request.refresh_token_instance = used
        request.portal_carried = {
            "person_id": carried.person_id, "session_id": carried.session_id,
            "commission_id": carried.commission_id, "grant_id": carried.grant_id}
        request.portal_authentication = login_of(carried.grant)
        return True

    def get_discovery_claims(self, request: Any) -> list[str]:
        """`claims_supported` of the discovery document (OIDC Discovery 1.0 section 3): every
        claim a client may be registered for (`vocabulary.CLAIMS`), not only `sub`."""
        return list(CLAIMS)

    def refresh_id_token(self, request: Any) -> bool:
        """No new ID token on a refresh (OIDC Core 12.2 allows leaving it out; docs/decisions.md):
        the login it would describe is the one the first ID token described."""
        return False

    def _create_access_token(self, expires: Any, request: Any, token: dict[str, Any],
                             source_refresh_token: RefreshToken | None = None) -> AccessToken:
        """DOT's access token, with the person, session, commission and code it carries."""
        id_token = token.get("id_token")
        access_token = AccessToken(
            user=request.user, scope=token["scope"], expires=expires,
            id_token=self._load_id_token(id_token) if id_token else None,
            application=request.client, source_refresh_token=source_refresh_token,
            resource=getattr(request, "resource", []),
            **(getattr(request, "portal_carried", None) or {}))
        self._set_token_value(access_token, token["access_token"])
        access_token.save()
        return access_token

    # --- audit (services_tokens) ------------------------------------------------------------

    def save_bearer_token(self, token: dict[str, Any], request: Any, *args: Any,
                          **kwargs: Any) -> Any:
        """DOT's storage (`rotate` for a refresh), then one audit event per token response
        (`services_tokens.token_issued`): acted by the user, or by the OIDC provider for a client
        credentials token. Without DOT's savepoint: the token endpoint's transaction
        (`views.TokenView`) covers both."""
        if request.grant_type == "refresh_token":
            saved = rotate(token, request)
        else:
            saved = self._save_bearer_token(token, request, *args, **kwargs)
        user = request.user if request.grant_type != "client_credentials" else None
        services_tokens.token_issued(
            actor=user or actors.OIDC_PROVIDER, client=request.client,
            person=user.person if user else None, grant_type=request.grant_type,
            scope=token.get("scope", ""))
        return saved

    def revoke_token(self, token: str, token_type_hint: str | None, request: Any, *args: Any,
                     **kwargs: Any) -> None:
        """DOT's RFC 7009 revocation (only the requesting client's tokens), audited
        (`services_tokens.token_revoked_by_client`)."""
        with transaction.atomic():
            super().revoke_token(token, token_type_hint, request, *args, **kwargs)
            if isinstance(request.client, Client):
                services_tokens.token_revoked_by_client(actor=actors.OIDC_PROVIDER,
                                                        client=request.client)

    # --- OpenID Connect ----------------------------------------------------------------------

    def get_oidc_claims(self, token: Any, token_handler: Any, request: Any) -> dict[str, Any]:
        """The claims of the ID token and of userinfo (`claims.for_request`): `sub` is the person
        (OIDC Core 5.7: stable, never reassigned), whichever of their accounts logged in; the
        others as the granted scopes and the client's registration allow."""
        request.portal_claims = claims.for_request(request)
        return dict(request.portal_claims)

    def get_id_token_dictionary(self, token: Any, token_handler: Any,
                                request: Any) -> tuple[dict[str, Any], Any]:
        """DOT's ID token claims with `auth_time` from the login the code was issued in (OIDC
        Core 2), not the account's last login, and only when the client may receive it."""
        found, expires = super().get_id_token_dictionary(token, token_handler, request)
        found.pop("auth_time", None)
        if "auth_time" in request.portal_claims:
            found["auth_time"] = request.portal_claims["auth_time"]
        return found, expires

    def finalize_id_token(self, id_token: dict[str, Any], token: dict[str, Any],
                          token_handler: Any, request: Any) -> str:
        """Sign the ID token (OIDC Core 2) with the client's algorithm (ES256 by default) and the
        key's RFC 7638 thumbprint as `kid`, so a relying party picks the key from the JWKS."""
        claims, expiration_time = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**claims)
        if "nonce" not in id_token and request.nonce:
            id_token["nonce"] = request.nonce
        key = request.client.jwk_key
        header = {"typ": "JWT", "alg": request.client.algorithm, "kid": keys.kid(key)}
        signed = jwt.JWT(header=json.dumps(header), claims=json.dumps(id_token, default=str))
        signed.make_signed_token(key)
        record = IDToken.objects.create(user=request.user, scope=" ".join(request.scopes),
                                        expires=expiration_time, jti=id_token["jti"],
                                        application=request.client)
        request.access_token = record
        request.id_token = record
        return str(signed.serialize())
