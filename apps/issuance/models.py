"""Activation codes (aktiveringskod) and mobile e-IDs (mobilt e-legitimation).

Rule sources: apps.issuance.rules and docs/journey-mobile-eid.md (single use, 10 minutes, at most 5
failed tries, hashed at rest, at most 3 active mobile e-IDs per person) and the reference
architecture's e-ID issuance (issuer records the
identity document; revocation record: whose e-ID, which credential, who registered it, when).
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from apps.core.models import BaseModel
from apps.identities.documents import IdentityDocumentType
from apps.identities.models import Person


class ActivationCode(BaseModel):
    """A single-use code that binds a new mobile e-ID to `person`.

    Only HMAC hashes of the two secrets are stored (see `apps.issuance.codes`). Lifecycle: open →
    used (`used_at`, redeemed) or ended (`ended_at`, with `end_cause`, a registered audit reason
    code: replaced by a newer code, or the person's entitlement ended); it stops working at
    `expires_at` (UTC, 10 minutes after creation) and when `carried_failures + failed_attempts`
    reaches 5. `carried_failures` are the person's recent failures copied in at issue, so a new
    code does not reset the failure count. When an issuer made the code for someone else
    (`issued_for_other`), the identity document they checked is recorded.
    """

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="activation_codes")
    created_by_id = models.UUIDField(null=True, blank=True)
    created_by_label = models.CharField(max_length=200)
    issued_for_other = models.BooleanField(default=False)
    document_type = models.CharField(
        _("identity document"), max_length=32, choices=IdentityDocumentType.choices, blank=True
    )
    document_last_four = models.CharField(_("last four digits"), max_length=4, blank=True)
    document_expires_on = models.DateField(_("document expiry date"), null=True, blank=True)
    secret_hash = models.CharField(max_length=64, unique=True)
    short_hash = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    #: Why it ended (`apps.issuance.audit.CODE_ENDED_CAUSES`, or `CODE_REPLACED`); empty while open
    #: and for codes ended before the cause was kept.
    end_cause = models.CharField(max_length=64, blank=True, default="")
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    carried_failures = models.PositiveSmallIntegerField(default=0)
    last_failed_at = models.DateTimeField(null=True, blank=True)
    #: The nonce of the step-up proof that authorised the code (apps.core.assurance): unique, so
    #: one re-entry of a second factor issues one code, however many requests carry it.
    step_up_nonce = models.CharField(max_length=32, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["person", "-created_at"])]
        constraints = [
            # Issuing a code ends the earlier unused ones: at most one open code per person.
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(used_at__isnull=True, ended_at__isnull=True),
                name="activation_code_one_open_per_person",
            ),
            models.CheckConstraint(
                condition=Q(used_at__isnull=True) | Q(ended_at__isnull=True),
                name="activation_code_used_or_ended",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="activation_code_expires_later"
            ),
            models.CheckConstraint(
                condition=(
                    Q(issued_for_other=False, document_type="", document_last_four="",
                      document_expires_on__isnull=True)
                    | (Q(issued_for_other=True, document_expires_on__isnull=False)
                       & ~Q(document_type="") & Q(document_last_four__regex=r"^[0-9]{4}$"))
                ),
                name="activation_code_document_when_for_other",
            ),
        ]

    def __str__(self) -> str:
        # The audit rows' target label: no words, so it never stays in the language of the
        # request that wrote it (the action's label, translated when shown, says what it is).
        return str(self.id)[:8]

    @property
    def failures(self) -> int:
        """Failed tries that count against this code (carried over + its own)."""
        return self.carried_failures + self.failed_attempts


class MobileEID(BaseModel):
    """A mobile e-ID: an X.509 certificate bound to `person`, for a key held on a device.

    `serial` is the certificate serial in lowercase hex, `fingerprint_sha256` the SHA-256 of its
    DER (hex), validity `not_before`/`not_after` in UTC. Revocation keeps who registered it, when
    and why (the reference architecture's revocation record).
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        REVOKED = "revoked", _("Revoked")

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="mobile_eids")
    activation_code = models.OneToOneField(
        ActivationCode, on_delete=models.PROTECT, related_name="eid"
    )
    serial = models.CharField(_("serial number"), max_length=40, unique=True)
    fingerprint_sha256 = models.CharField(max_length=64, unique=True)
    certificate_pem = models.TextField()
    not_before = models.DateTimeField(_("valid from"))
    not_after = models.DateTimeField(_("valid until"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices,
                              default=Status.ACTIVE)
    device_name = models.CharField(_("device"), max_length=64)  # empty: the app gave no name
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by_id = models.UUIDField(null=True, blank=True)
    revoked_by_label = models.CharField(max_length=200, blank=True)
    revocation_reason = models.TextField(_("reason"), blank=True)
    #: When the e-ID last completed a login (UTC); None until it has.
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        ordering = ["-not_before"]
        verbose_name = _("mobile e-ID")
        indexes = [
            # The revocation services count and list the revoked e-IDs (CRL, its freshness check).
            models.Index(fields=["revoked_at"], condition=Q(status="revoked"),
                         name="mobile_eid_revoked"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(not_after__gt=F("not_before")), name="mobile_eid_valid_range"
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="active", revoked_at__isnull=True, revocation_reason="")
                    | (Q(status="revoked", revoked_at__isnull=False) & ~Q(revocation_reason=""))
                ),
                name="mobile_eid_revocation_consistent",
            ),
        ]

    def __str__(self) -> str:
        # The audit rows' target label, without words (see ActivationCode.__str__).
        return f"{self.serial[:16]} ({self.device_name})" if self.device_name else self.serial[:16]

    @property
    def device_label(self) -> str:
        """The device's name as the app gave it, or (none given) "Mobile e-ID" in the reader's
        language: a default is never stored as text in one language."""
        return self.device_name or str(_("Mobile e-ID"))


class RevocationCounter(models.Model):
    """Counters of the revocation services, one row per `name`, each changed under its row lock.

    - `crl_number`: the cRLNumber of the newest CRL (RFC 5280 5.2.3). Whoever makes a CRL locks
      this row (`SELECT ... FOR UPDATE`) for the whole transaction, so numbers strictly increase
      in the order the CRLs are committed, whatever the number of web and worker processes. Kept
      apart from the CRLs themselves, so a number is never reused even if stored CRLs are pruned.
    - `revocations`: how many e-IDs `eid_revoke` has revoked, raised in the revocation's own
      transaction. A CRL records the value it covers, so comparing two numbers tells whether the
      stored CRL misses a revocation (one row read, whatever the number of revoked e-IDs).
    """

    class Name(models.TextChoices):
        CRL_NUMBER = "crl_number", "cRLNumber"
        REVOCATIONS = "revocations", "revocations"

    name = models.CharField(primary_key=True, max_length=16, choices=Name.choices)
    value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} = {self.value}"


class CertificateRevocationList(BaseModel):
    """A CRL the issuing CA published (RFC 5280 5), as served at `/issuance/crl`.

    `number` is its cRLNumber, `this_update`/`next_update` its times (UTC, whole seconds),
    `issuer_fingerprint` the SHA-256 (hex) of the CA certificate that signed it, `revocations`
    the value of the `revocations` counter it covers, `entries` how many revoked e-IDs it lists
    (revocation is final, so the same count means the same list), `sha256` the hex digest of
    `der` (the HTTP entity tag). `der` is the signed CRL; it is emptied
    (None) when a newer CRL supersedes it, so the table keeps the record of every number published
    but the bytes of the current one only.
    """

    number = models.PositiveBigIntegerField(_("CRL number"), unique=True)
    this_update = models.DateTimeField(_("this update"))
    next_update = models.DateTimeField(_("next update"))
    issuer_fingerprint = models.CharField(max_length=64)
    revocations = models.PositiveBigIntegerField()
    entries = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    der = models.BinaryField(null=True)

    class Meta:
        ordering = ["-number"]
        verbose_name = _("certificate revocation list")
        constraints = [
            models.CheckConstraint(
                condition=Q(next_update__gt=F("this_update")), name="crl_next_after_this_update"
            ),
        ]

    def __str__(self) -> str:
        return _("CRL %(number)s") % {"number": self.number}


class OutOfBandRequest(BaseModel):
    """A login the person approves in the mobile e-ID app (out-of-band authentication, NIST SP
    800-63B 5.1.3 and 5.2.10: the browser shows a number, the app signs a challenge with the
    e-ID's key).

    `reference` names the request in the QR code and the API (32 url-safe characters), `nonce`
    (32 hex) and `number` (two digits the browser shows) enter the signed challenge,
    `binding_hash` is the SHA-256 (hex) of a random value only the starting browser's session
    keeps. Valid from `created_at` to `expires_at` (UTC, 120 seconds). Lifecycle: pending →
    approved → consumed, or pending → denied | cancelled (3 wrong numbers); an expired request
    is refused whatever its status says. `eid` and `user` are set on approval.

    `purpose` "login" opens a session; "step_up" confirms the person already logged in as
    `step_up_user` (only an e-ID of that user's person may approve it; `user` is then that
    account).
    """

    class Purpose(models.TextChoices):
        LOGIN = "login", _("Login")
        STEP_UP = "step_up", _("Confirming it is you")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        DENIED = "denied", _("Denied")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")
        CONSUMED = "consumed", _("Used")

    reference = models.CharField(max_length=32, unique=True)
    nonce = models.CharField(max_length=32)
    number = models.CharField(max_length=2)
    binding_hash = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    wrong_numbers = models.PositiveSmallIntegerField(default=0)
    eid = models.ForeignKey(MobileEID, on_delete=models.PROTECT, null=True, blank=True,
                            related_name="login_requests")
    user = models.ForeignKey("identities.User", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="mobile_eid_requests")
    ip = models.GenericIPAddressField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.LOGIN)
    step_up_user = models.ForeignKey("identities.User", on_delete=models.PROTECT, null=True,
                                     blank=True, related_name="mobile_eid_step_ups")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["ip", "status", "expires_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=F("created_at")),
                                   name="oob_request_expires_later"),
            models.CheckConstraint(condition=Q(number__regex=r"^[0-9]{2}$"),
                                   name="oob_request_number_two_digits"),
            models.CheckConstraint(condition=Q(nonce__regex=r"^[0-9a-f]{32}$"),
                                   name="oob_request_nonce_hex"),
            models.CheckConstraint(condition=Q(wrong_numbers__lte=3),
                                   name="oob_request_wrong_numbers_at_most_3"),
            # Approved and consumed requests name the e-ID and account; the others none.
            models.CheckConstraint(
                condition=(Q(status__in=["approved", "consumed"], eid__isnull=False,
                             user__isnull=False, approved_at__isnull=False)
                           | (~Q(status__in=["approved", "consumed"]) & Q(eid__isnull=True,
                                                                        user__isnull=True))),
                name="oob_request_eid_when_approved",
            ),
            # A step-up names the account it confirms; a login none.
            models.CheckConstraint(
                condition=(Q(purpose="step_up", step_up_user__isnull=False)
                           | Q(purpose="login", step_up_user__isnull=True)),
                name="oob_request_step_up_user_iff_step_up",
            ),
        ]

    def __str__(self) -> str:
        return self.reference[:8]
