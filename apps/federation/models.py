"""Identity providers the portal trusts, federated accounts, and the SAML2 state every web process
shares: outstanding authentication requests and the assertion ids already accepted.

Nothing here lives in one process: a response posted to any web process finds its request and the
replay store in the database (docs/authentication.md, "Federated login").
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.core.models import BaseModel


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
