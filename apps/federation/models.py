"""Identity providers the portal trusts, federated accounts, and the SAML2 state every web process
shares: outstanding authentication requests and the assertion ids already accepted; and, for the
portal's own OpenID Connect provider, its clients, codes and tokens.

Nothing here lives in one process: a response posted to any web process finds its request and the
replay store in the database (docs/authentication.md, "Federated login").
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import (
    AbstractAccessToken,
    AbstractApplication,
    AbstractGrant,
    AbstractIDToken,
    AbstractRefreshToken,
)

from apps.core.actors import is_reserved_label
from apps.core.models import BaseModel
from apps.federation.oidc.vocabulary import CLAIMS, ClientState, ClientType, GrantType, SigningAlgorithm


class IdentityProvider(BaseModel):
    """A SAML2 identity provider (IdP) from the deployment's configuration (`SAML_IDPS`), with the
    last good copy of its metadata.

    `accounts` says whose logins it vouches for: staff (an organisation's e-ID IdP) or patients (a
    citizen e-ID IdP). `metadata_xml` is the last copy that passed every check (signature against
    `metadata_cert` when one is configured, `validUntil` not passed, the configured entityID
    inside); a refused copy never replaces it, its reason is kept in `metadata_error`.
    `metadata_valid_until` (UTC) is the copy's own `validUntil`, if it has one.
    """

    class Accounts(models.TextChoices):
        STAFF = "staff", _("staff")
        PATIENT = "patient", _("patients")

    class State(models.TextChoices):
        MISSING = "missing", _("no metadata yet")
        OK = "ok", _("up to date")
        REFUSED = "refused", _("last refresh refused, previous copy kept")
        UNREACHABLE = "unreachable", _("last refresh failed, previous copy kept")

    entity_id = models.CharField(max_length=1024, unique=True)
    name = models.CharField(max_length=200)
    name_sv = models.CharField(max_length=200, blank=True)
    accounts = models.CharField(max_length=16, choices=Accounts.choices)
    position = models.PositiveSmallIntegerField(default=0)
    enabled = models.BooleanField(default=True)
    metadata_url = models.CharField(max_length=2000, blank=True)
    metadata_file = models.CharField(max_length=2000, blank=True)
    metadata_cert = models.TextField(blank=True, help_text="PEM certificate that signs the metadata.")
    metadata_xml = models.TextField(blank=True)
    metadata_valid_until = models.DateTimeField(null=True, blank=True)
    metadata_fetched_at = models.DateTimeField(null=True, blank=True)
    metadata_tried_at = models.DateTimeField(null=True, blank=True)
    metadata_state = models.CharField(max_length=16, choices=State.choices, default=State.MISSING)
    metadata_error = models.TextField(blank=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class FederatedIdentity(BaseModel):
    """A login account's identity at an IdP, keyed by (IdP entityID, subject) (SAML 2.0 core
    8.3.7: a persistent NameID is unique per IdP and SP). The account is linked to its person by
    the canonical identity number when the identity is first seen."""

    idp_entity_id = models.CharField(max_length=1024)
    subject = models.CharField(max_length=1024)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="federated_identities")
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["idp_entity_id", "subject"],
                                    name="federated_identity_unique"),
        ]


class AuthnRequestState(models.Model):
    """One outstanding SAML2 AuthnRequest (SAML 2.0 profiles 4.1.4.3: InResponseTo must name a
    request we sent), shared by all web processes.

    `request_id` is the AuthnRequest's ID; `binding_hash` the SHA-256 of a random value kept only in
    the browser session that sent it, so only that browser can complete the login after the
    IdP's cross-site POST (docs/authentication.md). `purpose` is a login or a step-up; `user` the
    account that asked for a step-up. The assertion consumer moves it from `pending` to `answered`
    (`user_id`, `loa`, `name_id`, `session_index` filled) or `failed` (`error` a refusal code), and
    the completing page, in the original browser, to `consumed`, once.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        ANSWERED = "answered"
        FAILED = "failed"
        CONSUMED = "consumed"

    request_id = models.CharField(max_length=100, primary_key=True)
    idp = models.ForeignKey(IdentityProvider, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=16, default="login")
    binding_hash = models.CharField(max_length=64)
    next_path = models.CharField(max_length=2000, default="/")
    requested_loa = models.CharField(max_length=100, blank=True)
    step_up_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                     null=True, blank=True, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True,
                             blank=True, related_name="+")
    loa = models.CharField(max_length=100, blank=True)
    name_id = models.TextField(blank=True)
    session_index = models.CharField(max_length=200, blank=True)
    error = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=models.F("created_at")),
                                   name="authn_request_expires_after_created"),
        ]

    def __str__(self) -> str:
        return self.request_id


class AcceptedAssertion(models.Model):
    """An assertion ID already accepted from an IdP, kept until its `NotOnOrAfter` plus the allowed
    clock skew (`keep_until`, UTC), so a replay is refused by every web process (SAML 2.0 profiles
    4.1.4.5: the SP must not accept a bearer assertion twice). The unique constraint decides
    between two processes receiving the same assertion at once."""

    idp_entity_id = models.CharField(max_length=1024)
    assertion_id = models.CharField(max_length=200)
    keep_until = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["idp_entity_id", "assertion_id"],
                                    name="accepted_assertion_unique"),
        ]

    def __str__(self) -> str:
        return self.assertion_id


# --- The identity provider for e-services: django-oauth-toolkit's models, swapped -------------
# (settings.OAUTH2_PROVIDER_*_MODEL; docs/identity-provider.md). They subclass DOT's abstract
# models so that DOT's endpoints and validator work on them unchanged, and add what the portal
# needs: the owning organisation and state of a client, and on every token the person, login
# session and commission it carries, so that ending any of them can revoke it.

#: Where a loopback redirect URI may point (RFC 8252 7.3: IP literals, not "localhost", 8.3).
LOOPBACK_HOSTS = ("127.0.0.1", "[::1]")


def validate_redirect_uri(uri: str) -> None:
    """One registered redirect URI: absolute `https://host/...`, or `http://` on a loopback IP
    literal for native clients (RFC 8252 7.3); no wildcard (RFC 9700 4.1.1: exact match only), no
    fragment (RFC 6749 3.1.2), no user-info (RFC 9700 4.1.3), no whitespace, and printable ASCII
    only (RFC 3986 2: a URI is ASCII; an internationalised host is registered in its punycode
    form, so an invisible or lookalike character cannot make a URI look like another). Raises
    ValidationError naming the rule."""
    from urllib.parse import urlsplit

    from django.core.exceptions import ValidationError

    if not uri or len(uri) > 2000 or any(ord(c) <= 32 or ord(c) == 127 for c in uri):
        raise ValidationError(_("A redirect URI is an absolute address without spaces."),
                              code="redirect_uri.invalid")
    if not uri.isascii():
        raise ValidationError(_("A redirect URI may hold only ASCII characters: write an "
                                "international domain name in its xn-- form and "
                                "percent-encode other characters."),
                              code="redirect_uri.not_ascii")
    if "*" in uri:
        raise ValidationError(_("Wildcards are not allowed: each redirect URI must be exact."),
                              code="redirect_uri.wildcard")
    if "#" in uri:
        raise ValidationError(_("A redirect URI cannot have a fragment (#…)."),
                              code="redirect_uri.fragment")
    try:
        parts = urlsplit(uri)
        port = parts.port  # noqa: F841  (raises ValueError for a port that is not a number)
    except ValueError:
        raise ValidationError(_("A redirect URI is an absolute address without spaces."),
                              code="redirect_uri.invalid") from None
    if "@" in parts.netloc:
        raise ValidationError(_("A redirect URI cannot contain a user name or password."),
                              code="redirect_uri.userinfo")
    host = parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
    if not parts.hostname:
        raise ValidationError(_("A redirect URI is an absolute address without spaces."),
                              code="redirect_uri.invalid")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        return
    raise ValidationError(_("A redirect URI must use https (http only on 127.0.0.1 or [::1] for "
                            "an app on the user's device)."), code="redirect_uri.scheme")


class Client(AbstractApplication):
    """An e-service or API client (an OAuth 2.0 client, RFC 6749 section 2) registered by an
    organisation's administrators and approved by a federation operator.

    DOT's fields keep their meaning (`client_id`, `client_type`, `authorization_grant_type`,
    `redirect_uris` and `post_logout_redirect_uris` space-separated, `name`, `algorithm`),
    restricted to what the portal allows (`vocabulary`). `client_secret` holds only
    `hmac-sha256$<hex>` of the secret under settings.OAUTH_CLIENT_SECRET_PEPPER
    (`apps.federation.oidc.secrets`), "" for a public client.
    `organisation` owns it; `contact_name`/`contact_email` answer for it. Only an `approved`
    client is usable (`is_usable`, checked by DOT at every authorization and token request).
    `first_party` clients are the region's own and skip the consent screen. `allowed_scopes` and
    `allowed_claims` are what its registration allows (lists of `SCOPES` and
    `vocabulary.CLAIMS` names); nothing outside them is ever released.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    #: DOT's owner of an application; the portal's clients belong to `organisation` instead.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True,
                             blank=True, related_name="+", editable=False)
    client_type = models.CharField(_("client type"), max_length=32, choices=ClientType.choices)
    authorization_grant_type = models.CharField(_("grant type"), max_length=44,
                                                choices=GrantType.choices)
    client_secret = models.CharField(max_length=255, blank=True, default="", editable=False)
    hash_client_secret = None  # type: ignore[assignment]  # the secret is an HMAC (oidc.secrets)
    algorithm = models.CharField(_("ID token signature"), max_length=5,
                                 choices=SigningAlgorithm.choices, default=SigningAlgorithm.ES256)
    organisation = models.ForeignKey("organisations.Organisation", on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("organisation"))
    contact_name = models.CharField(_("contact person"), max_length=200)
    contact_email = models.EmailField(_("contact e-mail"))
    state = models.CharField(_("state"), max_length=16, choices=ClientState.choices,
                             default=ClientState.PENDING)
    first_party = models.BooleanField(_("first party (no consent screen)"), default=False)
    allowed_scopes = models.JSONField(_("allowed scopes"), default=list, blank=True)
    allowed_claims = models.JSONField(_("allowed claims"), default=list, blank=True)

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=ClientState.values),
                                   name="client_state_known"),
            models.CheckConstraint(condition=Q(authorization_grant_type__in=GrantType.values),
                                   name="client_grant_type_allowed"),
            models.CheckConstraint(condition=Q(algorithm__in=SigningAlgorithm.values),
                                   name="client_algorithm_allowed"),
            models.CheckConstraint(
                condition=~Q(client_type=ClientType.PUBLIC)
                | ~Q(authorization_grant_type=GrantType.CLIENT_CREDENTIALS),
                name="client_credentials_needs_confidential"),
        ]

    def __str__(self) -> str:
        return self.name or self.client_id

    @property
    def skip_authorization(self) -> bool:  # type: ignore[override]
        """DOT's name for "no consent screen": only first-party clients skip it."""
        return self.first_party

    def is_usable(self, request: Any) -> bool:
        """Only an approved client may authorize or get tokens (checked at use, so a suspension
        takes effect at the next request)."""
        return self.state == ClientState.APPROVED

    def redirect_uri_allowed(self, uri: str) -> bool:
        """Exact string comparison with a registered URI (RFC 9700 4.1.1; OAuth 2.1 draft 7.5.3):
        no loopback port freedom, no case or trailing-slash folding, no extra query."""
        return uri in self.redirect_uris.split()

    def post_logout_redirect_uri_allowed(self, uri: str) -> bool:
        """Exact string comparison with a registered post-logout redirect URI (OIDC RP-Initiated
        Logout 1.0 section 3: it MUST have been registered; compared as redirect URIs are)."""
        return uri in self.post_logout_redirect_uris.split()

    def clean(self) -> None:
        """Every registered redirect URI and post-logout redirect URI passes
        `validate_redirect_uri`; a code client has at least one redirect URI, a client
        credentials client no post-logout one and no user scope (it has no user); a client
        credentials client is confidential; scopes and claims are known; the name is not a
        reserved actor label (`apps.core.actors.is_reserved_label`). Raises ValidationError
        keyed by field."""
        from django.conf import settings
        from django.core.exceptions import ValidationError

        from apps.federation.oidc.claims import SCOPE_CLAIMS  # it imports this module

        errors: dict[str, list[Any]] = {}
        uris = self.redirect_uris.split()
        for field in ("redirect_uris", "post_logout_redirect_uris"):
            for uri in getattr(self, field).split():
                try:
                    validate_redirect_uri(uri)
                except ValidationError as exc:
                    errors.setdefault(field, []).extend(exc.error_list)
        if (self.authorization_grant_type == GrantType.CLIENT_CREDENTIALS
                and self.post_logout_redirect_uris.split()):
            errors.setdefault("post_logout_redirect_uris", []).append(ValidationError(
                _("A system client (client credentials) has no users to log out."),
                code="post_logout_redirect_uri.no_users"))
        if self.authorization_grant_type == GrantType.AUTHORIZATION_CODE and not uris:
            errors.setdefault("redirect_uris", []).append(ValidationError(
                _("A client where users log in needs at least one redirect URI."),
                code="redirect_uri.missing"))
        if (self.authorization_grant_type == GrantType.CLIENT_CREDENTIALS
                and self.client_type == ClientType.PUBLIC):
            errors.setdefault("client_type", []).append(ValidationError(
                _("A system client (client credentials) must be confidential."),
                code="client.public_credentials"))
        if is_reserved_label(self.name):
            errors.setdefault("name", []).append(ValidationError(
                _("A client's name cannot start with “system:”: audit logs would read it as the "
                  "portal's own."), code="client.reserved_name"))
        scopes = settings.OAUTH2_PROVIDER["SCOPES"]
        if not isinstance(self.allowed_scopes, list) or any(
                scope not in scopes for scope in self.allowed_scopes):
            errors.setdefault("allowed_scopes", []).append(
                ValidationError(_("Unknown scope."), code="client.scope"))
        elif (self.authorization_grant_type == GrantType.CLIENT_CREDENTIALS
              and set(self.allowed_scopes) & set(SCOPE_CLAIMS)):
            errors.setdefault("allowed_scopes", []).append(ValidationError(
                _("A system client (client credentials) has no user, so it cannot have scopes "
                  "about a user (openid, profile, identity number, commission)."),
                code="client.user_scope"))
        if not isinstance(self.allowed_claims, list) or any(
                claim not in CLAIMS for claim in self.allowed_claims):
            errors.setdefault("allowed_claims", []).append(
                ValidationError(_("Unknown claim."), code="client.claim"))
        if errors:
            raise ValidationError(errors)

    @property
    def jwk_key(self) -> Any:
        """The private JWK that signs this client's ID tokens (`algorithm`), from the key files
        (`apps.federation.oidc.keys`)."""
        from apps.federation.oidc import keys

        return keys.signing_key(self.algorithm)


class Grant(AbstractGrant):
    """An authorization code (RFC 6749 4.1.2), kept after its redemption (`redeemed_at`, UTC) so
    that a second redemption is recognised and revokes what the first issued. `session`,
    `commission`, `acr`, `amr` and `auth_time` record the login it was issued in (OIDC Core 2),
    and pass to the tokens it is exchanged for."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+")
    session = models.ForeignKey("authn.UserSession", on_delete=models.CASCADE, null=True,
                                blank=True, related_name="+")
    commission = models.ForeignKey("commissions.Commission", on_delete=models.CASCADE, null=True,
                                   blank=True, related_name="+")
    acr = models.CharField(max_length=200, blank=True)
    amr = models.JSONField(default=list, blank=True)
    auth_time = models.DateTimeField(null=True, blank=True)
    redeemed_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractGrant.Meta):
        swappable = "OAUTH2_PROVIDER_GRANT_MODEL"

    def redirect_uri_allowed(self, uri: str) -> bool:
        """RFC 6749 4.1.3: the token request's redirect_uri is identical to the authorization
        request's."""
        return uri == self.redirect_uri


class AccessToken(AbstractAccessToken):
    """An access token (RFC 6749 section 1.4), recorded by its SHA-256 only (DOT's RFC 9700
    token storage). `person`, `session` and `commission` are what it carries (None for a client
    credentials token, and `commission` None without a chosen commission): ending the session or
    the commission, or revoking the person's e-ID, revokes the tokens that carry them. `grant`
    is the authorization code it was issued for (RFC 6749 4.1.2: a replayed code revokes it)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True,
                             blank=True, related_name="+")
    person = models.ForeignKey("identities.Person", on_delete=models.CASCADE, null=True,
                               blank=True, related_name="+")
    session = models.ForeignKey("authn.UserSession", on_delete=models.CASCADE, null=True,
                                blank=True, related_name="+")
    commission = models.ForeignKey("commissions.Commission", on_delete=models.CASCADE, null=True,
                                   blank=True, related_name="+")
    grant = models.ForeignKey(Grant, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")

    class Meta(AbstractAccessToken.Meta):
        swappable = "OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL"
        indexes = [models.Index(fields=["session"]), models.Index(fields=["commission"])]


class RefreshToken(AbstractRefreshToken):
    """A refresh token (RFC 6749 section 6); its `token_family` is revoked as a whole when a used
    one is presented again (RFC 9700 4.14.2)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+")

    class Meta(AbstractRefreshToken.Meta):
        swappable = "OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL"


class IDToken(AbstractIDToken):
    """An issued ID token's record (OIDC Core 2): its `jti`, scopes and expiry."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True,
                             blank=True, related_name="+")

    class Meta(AbstractIDToken.Meta):
        swappable = "OAUTH2_PROVIDER_ID_TOKEN_MODEL"
