"""Second factors. A TOTP device is django-otp's, with its key stored encrypted (`totp_keys`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice as PlainTOTPDevice

from apps.authn import totp_keys


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
