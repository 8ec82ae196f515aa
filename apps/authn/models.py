"""Second factors (a TOTP device is django-otp's, with its key stored encrypted: `totp_keys`)
and the record of each login session (`UserSession`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice as PlainTOTPDevice

from apps.authn import totp_keys
from apps.core.models import BaseModel


class TOTPDevice(TimestampMixin, ThrottlingMixin, Device):
    """A TOTP second factor (RFC 6238) of `user`: django-otp's `otp_totp.TOTPDevice` with the key
    encrypted at rest. The fields mean what django-otp's do (`step` seconds, `t0` Unix time,
    `digits`, `tolerance` and `drift` in steps, `last_t` the time step of the last accepted code);
    only `encrypted_key` differs: the Fernet token of the binary key, never the key itself.

    Verification is django-otp's own (`verify_token`: one code per time step, exponential
    throttling after failures, `last_t` refusing a code twice, RFC 6238 section 5.2); it reads the
    key only through `bin_key`, which decrypts. The primary key is an integer because django-otp
    stores `persistent_id` ("authn.totpdevice/<id>") in the session. `user` has no reverse accessor:
    django-otp's own model (still installed for its migrations, its table emptied by
    migration 0002) would clash with it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+", help_text="The account this device belongs to.")
    encrypted_key = models.TextField(help_text="Fernet token of the binary key (apps.authn.totp_keys).")
    step = models.PositiveSmallIntegerField(default=30, help_text="The time step in seconds.")
    t0 = models.BigIntegerField(default=0, help_text="The Unix time at which to begin counting steps.")
    digits = models.PositiveSmallIntegerField(choices=[(6, 6), (8, 8)], default=6,
                                              help_text="The number of digits in a code.")
    tolerance = models.PositiveSmallIntegerField(
        default=1, help_text="The number of time steps in the past or future to allow.")
    drift = models.SmallIntegerField(
        default=0, help_text="The number of time steps the prover is known to deviate from our clock.")
    last_t = models.BigIntegerField(
        default=-1, help_text="The time step of the last accepted code; the next must be later.")

    class Meta(Device.Meta):
        verbose_name = _("TOTP device")

    # django-otp's TOTP behaviour, unchanged: verification, throttling and the otpauth:// URI.
    verify_token = PlainTOTPDevice.verify_token
    get_throttle_factor = PlainTOTPDevice.get_throttle_factor
    config_url = PlainTOTPDevice.config_url
    _read_str_from_settings = PlainTOTPDevice._read_str_from_settings

    @property
    def bin_key(self) -> bytes:
        """The binary key, decrypted (raises `cryptography.fernet.InvalidToken` when no key of
        settings.PORTAL_TOTP_ENCRYPTION_KEYS made the token)."""
        return totp_keys.decrypt(self.encrypted_key)

    def _totp(self) -> TOTP:
        return TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)

    def accepts(self, token: int) -> bool:
        """True when `verify_token` would accept `token` now: a code of a step within `tolerance`
        of ours and later than `last_t`. Changes nothing (no throttling, no `last_t`)."""
        return bool(self._totp().verify(token, self.tolerance, self.last_t + 1))

    def has_used(self, token: int) -> bool:
        """True when `token` is a code of this device within `tolerance` steps that is refused only
        because its step is not later than `last_t`: the code (or a later one) was accepted
        already (RFC 6238 section 5.2). Changes nothing."""
        return bool(self._totp().verify(token, self.tolerance)) and not self.accepts(token)


class UserSession(BaseModel):
    """One login session of `user`, so that a person can see and end all their sessions
    (NIST SP 800-63B rev. 4, section 5.1: session management).

    `key_hash` is the lower-case hex SHA-256 of the Django session key (the cookie value), never
    the key itself: a copy of this table cannot take over a session. Session keys are 32 random
    characters of [a-z0-9] (about 165 bits), so an unsalted hash cannot be reversed. It changes
    when the key is rotated (login, step-up). `started_at` and `last_seen_at` are UTC;
    `last_seen_at` is written at most once a minute. `ip` is the client address the audit log
    records; `user_agent` the browser's header, cut to `USER_AGENT_MAX_LENGTH` characters.
    `methods` are RFC 8176 names (`pwd`, `otp`, `saml`, `demo`), `loa` the framework URI
    (apps.core.loa) or "", `idp` the SAML IdP's entityID or "". An ended session has `ended_at`
    (UTC) and `end_reason` (`EndReason`); `end_note` is the reason an administrator gave (reason
    `admin`), shown to the person on their sessions page. At most one active row holds a key hash.
    `eid_serials` are the certificate serials (lower-case hex, as `issuance.MobileEID.serial`) of
    the mobile e-IDs that logged the session in or raised its level (a step-up): the session is
    entitled by each of them, so revoking one ends it (reason `eid`). A serial, not a foreign
    key: authn and issuance are sibling layers (docs/architecture.md).
    """

    USER_AGENT_MAX_LENGTH = 300
    END_NOTE_MAX_LENGTH = 200

    class EndReason(models.TextChoices):
        LOGOUT = "logout", _("logged out")
        ENDED = "ended", _("ended by the user")
        EVERYWHERE = "everywhere", _("logged out everywhere")
        IDLE = "idle", _("no activity")
        ABSOLUTE = "absolute", _("time limit reached")
        ACCOUNT = "account", _("account or entitlement changed")
        PASSWORD = "password", _("ended because the password was changed")
        AUTHENTICATOR = "authenticator", _("ended because the authenticator was replaced")
        EID = "eid", _("the e-ID used was revoked")
        ADMIN = "admin", _("ended by an administrator")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="login_sessions")
    key_hash = models.CharField(max_length=64, help_text="SHA-256 (hex) of the session key.")
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=USER_AGENT_MAX_LENGTH, blank=True)
    methods = models.JSONField(default=list)
    loa = models.CharField(max_length=200, blank=True)
    idp = models.CharField(max_length=1024, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True)
    end_note = models.CharField(max_length=END_NOTE_MAX_LENGTH, blank=True,
                                help_text="The administrator's reason (end reason `admin`).")
    eid_serials = models.JSONField(default=list, blank=True,
                                   help_text="Serials (hex) of the mobile e-IDs that entitle it.")

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["key_hash"], condition=models.Q(ended_at__isnull=True),
                                    name="user_session_active_key_unique"),
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True, end_reason="")
                | (models.Q(ended_at__isnull=False) & ~models.Q(end_reason="")),
                name="user_session_end_has_reason"),
        ]
        indexes = [models.Index(fields=["user", "ended_at"])]

    def __str__(self) -> str:
        # The audit rows' target label: who, not when (the row has its own time, shown in
        # Swedish time; a UTC time in the label would disagree with it).
        return str(self.user)



class Passkey(BaseModel):
    """A WebAuthn public-key credential (a passkey) of `user` (W3C Web Authentication Level 2,
    section 6.1: the credential record the relying party keeps).

    `credential_id` is the authenticator's credential ID (raw bytes, unique across the portal:
    WebAuthn 7.1 step 22 refuses a credential ID already registered), `public_key` its
    COSE_Key-encoded public key (RFC 9052), `sign_count` the last signature counter seen
    (WebAuthn 6.1.1: a later assertion must carry a larger one, unless both are 0), `transports`
    the hints the browser reported ("usb", "internal", "hybrid", ...), `aaguid` the
    authenticator model (a UUID string, all zeros for "none" attestation), `attestation_format`
    the attestation statement format received ("none", "packed", ...; recorded, never required),
    `name` the label the user gave it. `last_used_at` (UTC) is the time of the last accepted
    assertion, None before the first.
    """

    NAME_MAX_LENGTH = 100

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="passkeys")
    credential_id = models.BinaryField(unique=True, help_text="The WebAuthn credential ID.")
    public_key = models.BinaryField(help_text="The COSE_Key (RFC 9052) public key.")
    sign_count = models.BigIntegerField(default=0, help_text="The last signature counter seen.")
    transports = models.JSONField(default=list, blank=True)
    aaguid = models.CharField(max_length=36, blank=True)
    attestation_format = models.CharField(max_length=32, blank=True)
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("passkey")

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"


class SpentChallenge(models.Model):
    """A WebAuthn challenge that answered a ceremony: `digest` is the lower-case hex SHA-256 of
    the challenge bytes, unique, so one challenge is accepted once even when the same answer
    arrives many times at once (W3C Web Authentication Level 2, 13.4.3: challenges are single
    use). The session keeps the challenge itself (`apps.authn.passkeys`); rows older than the
    challenges' lifetime are pruned when a new one is spent. `spent_at` is UTC."""

    digest = models.CharField(max_length=64, unique=True)
    spent_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.digest


class LoginObligation(BaseModel):
    """Something `user` must do at their next password login before anything else, set by an
    issuer who helped them in person (`apps.authn.recovery`): enrol a new authenticator app
    (`enrol_totp`, after the old one was removed) or change the one-time password they were
    handed (`change_password`). Fulfilling it deletes the row. `set_by_label` names the issuer
    (a snapshot, as in the audit log). `expires_at` (UTC; `change_password` only) ends the
    one-time password: a login with it after that is refused
    (`settings.PORTAL_ONE_TIME_PASSWORD_SECONDS`, docs/decisions.md "My account")."""

    class Kind(models.TextChoices):
        ENROL_TOTP = "enrol_totp", _("enrol a new authenticator app")
        CHANGE_PASSWORD = "change_password", _("change the one-time password")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="login_obligations")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    set_by_label = models.CharField(max_length=200)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"],
                                               name="login_obligation_unique")]

    def __str__(self) -> str:
        return f"{self.user}: {self.kind}"
