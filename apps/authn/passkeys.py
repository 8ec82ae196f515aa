"""WebAuthn ceremonies for passkeys (W3C Web Authentication Level 2), with py_webauthn.

The options a browser passes to `navigator.credentials.create()` / `.get()` come from
`registration_options` and `authentication_options`; each keeps its challenge in the session
(`CHALLENGE_KEY`: `{"purpose": "register"|"login"|"second_factor"|"step_up", "challenge":
base64url, "at": epoch seconds UTC}`), so an answer is accepted only by the ceremony it was made
for. `take_challenge` removes it whatever the outcome, so a challenge answers one ceremony only
(WebAuthn 13.4.3: challenges must not be reused) and only within `CHALLENGE_MAX_AGE_SECONDS`. The
relying party ID and the expected origin are settings.PORTAL_WEBAUTHN_RP_ID and
settings.PORTAL_WEBAUTHN_ORIGIN (docs/configuration.md). User verification is required in both
ceremonies (NIST SP 800-63B 5.1.8: a multi-factor cryptographic authenticator), attestation is
not requested ("none"), only recorded.
"""

from __future__ import annotations

import time
from typing import Any

import webauthn
from django.conf import settings
from django.http import HttpRequest
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from apps.identities.models import User

CHALLENGE_KEY = "authn_webauthn"
#: A ceremony must finish within 5 minutes of its options.
CHALLENGE_MAX_AGE_SECONDS = 300
#: What the browser is told to wait for (milliseconds, WebAuthn 5.4 `timeout`).
TIMEOUT_MS = CHALLENGE_MAX_AGE_SECONDS * 1000
#: The transport hints WebAuthn defines (5.8.4, `AuthenticatorTransport`); others are not kept.
TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)


def _remember(request: HttpRequest, purpose: str, challenge: bytes) -> None:
    request.session[CHALLENGE_KEY] = {"purpose": purpose, "challenge": bytes_to_base64url(challenge),
                                      "at": int(time.time())}


def take_challenge(request: HttpRequest, purpose: str) -> bytes | None:
    """The challenge issued for `purpose` in this session if it is at most
    CHALLENGE_MAX_AGE_SECONDS old, else None; removed from the session either way (single use)."""
    stored = request.session.pop(CHALLENGE_KEY, None)
    if not isinstance(stored, dict) or stored.get("purpose") != purpose:
        return None
    try:
        age = time.time() - int(stored.get("at", 0))
        challenge = base64url_to_bytes(str(stored.get("challenge", "")))
    except (TypeError, ValueError):
        return None
    if not 0 <= age <= CHALLENGE_MAX_AGE_SECONDS or not challenge:
        return None
    return challenge


def registration_options(request: HttpRequest, user: User, existing: list[bytes]) -> str:
    """The JSON `PublicKeyCredentialCreationOptions` (WebAuthn 5.4) for a new passkey of `user`:
    a discoverable credential (resident key required, so it can log in without a username), user
    verification required, no attestation, the account's `existing` credential IDs excluded (one
    passkey per authenticator). The user handle is the account's UUID (16 bytes, no personal
    data, WebAuthn 14.6.1)."""
    options = webauthn.generate_registration_options(
        rp_id=settings.PORTAL_WEBAUTHN_RP_ID, rp_name=str(settings.PORTAL_WEBAUTHN_RP_NAME),
        user_id=user.pk.bytes, user_name=user.username, user_display_name=str(user.person),
        timeout=TIMEOUT_MS, attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in existing])
    _remember(request, "register", options.challenge)
    return webauthn.options_to_json(options)


def authentication_options(request: HttpRequest, purpose: str = "login",
                           allowed: list[tuple[bytes, list[str]]] | None = None) -> str:
    """The JSON `PublicKeyCredentialRequestOptions` (WebAuthn 5.5) for `purpose`: "login" (the
    first factor: no allowCredentials, the authenticator offers its discoverable credentials),
    "second_factor" (after a password) or "step_up" (in a session), which name the account's
    credentials in allowCredentials (`allowed`: credential ID and transports). User verification
    is required."""
    options = webauthn.generate_authentication_options(
        rp_id=settings.PORTAL_WEBAUTHN_RP_ID, timeout=TIMEOUT_MS,
        user_verification=UserVerificationRequirement.REQUIRED,
        allow_credentials=[PublicKeyCredentialDescriptor(
            id=cid, transports=[AuthenticatorTransport(t) for t in transports
                                if t in TRANSPORTS]) for cid, transports in allowed or []])
    _remember(request, purpose, options.challenge)
    return webauthn.options_to_json(options)


def credential_id_of(credential: dict[str, Any]) -> bytes | None:
    """The raw credential ID of a browser's `PublicKeyCredential` JSON (its `rawId`, base64url),
    or None when it has none."""
    try:
        raw = base64url_to_bytes(str(credential.get("rawId") or credential.get("id") or ""))
    except (TypeError, ValueError):
        return None
    return raw or None
