"""Reads for the login pages."""

from __future__ import annotations

from apps.authn.models import TOTPDevice
from apps.identities.models import User


def has_totp_device(user: User) -> bool:
    """True when the account has a confirmed TOTP second factor."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()
