"""What the session knows about how the user logged in: level of assurance, methods, step-up.

Stored under `request.session["authn"]` as `{"loa": URI | None, "methods": [str], "at": epoch
seconds, "step_up": StepUpProof.as_session() | None}`. Method names follow RFC 8176 (`pwd`, `otp`);
the demo patient login uses `demo`. LoA URIs are the Swedish framework's.

Between the password and the second factor the session holds only a pending login
(`PENDING_KEY`): the user's id, when the password was accepted and the account's session hash at
that moment. It expires after `PENDING_MAX_AGE_SECONDS` and when the password (or the account's
session epoch) changed in between, so a second factor entered later starts over (NIST SP 800-63B
7.1: bind each step to the same authentication).
"""

from __future__ import annotations

import hmac
import time
import uuid
from typing import Any

from django.http import HttpRequest

from apps.core.assurance import StepUpProof, is_fresh
from apps.core.loa import level
from apps.identities.models import User

PENDING_KEY = "authn_pending"
#: The second factor must follow the password within 5 minutes.
PENDING_MAX_AGE_SECONDS = 300


def set_login(request: HttpRequest, *, loa: str | None, methods: list[str],
              idp: str | None = None) -> None:
    """Record a completed login (call after `django.contrib.auth.login`, which cycles the key);
    `idp` is the SAML IdP's entityID for a federated login."""
    request.session.pop(PENDING_KEY, None)
    request.session["authn"] = {"loa": loa, "methods": methods, "at": int(time.time()),
                                "idp": idp, "step_up": None}


def get(request: HttpRequest) -> dict[str, Any]:
    """The session's authentication facts, or {} when not logged in."""
    value = request.session.get("authn") or {}
    return dict(value)


def set_pending(request: HttpRequest, user: User) -> None:
    """The password of `user` was accepted now: wait for the second factor."""
    request.session[PENDING_KEY] = {"user": str(user.pk), "at": int(time.time()),
                                    "hash": user.get_session_auth_hash()}


def pending_user(request: HttpRequest) -> User | None:
    """The user whose password was accepted, if that was at most PENDING_MAX_AGE_SECONDS ago and
    the account's password and sessions are unchanged since; else None (and the state is dropped)."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    try:
        user_id = uuid.UUID(str(pending.get("user")))
        fresh = 0 <= time.time() - int(pending.get("at", 0)) <= PENDING_MAX_AGE_SECONDS
    except (TypeError, ValueError):
        user_id, fresh = None, False
    user = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
    if user is None or not fresh or not hmac.compare_digest(
            str(pending.get("hash", "")), user.get_session_auth_hash()):
        request.session.pop(PENDING_KEY, None)
        return None
    return user


def has_pending(request: HttpRequest) -> bool:
    """True when a pending login state exists (fresh or not)."""
    return PENDING_KEY in request.session


def store_step_up(request: HttpRequest, proof: StepUpProof) -> None:
    """Keep the step-up proof minted by `services.step_up_verify` for the next sensitive action."""
    data = get(request)
    data["step_up"] = proof.as_session()
    request.session["authn"] = data


def step_up_proof(request: HttpRequest) -> StepUpProof | None:
    """The stored step-up proof, or None."""
    return StepUpProof.from_session(get(request).get("step_up"))


def has_fresh_step_up(request: HttpRequest, *, min_loa: str | None = None) -> bool:
    """True when the logged-in user holds a step-up proof that is still fresh (and, with
    `min_loa`, made at that level of assurance or a stronger one)."""
    user = request.user
    return isinstance(user, User) and is_fresh(step_up_proof(request), user.pk, min_loa=min_loa)


def consume_step_up(request: HttpRequest) -> None:
    """Spend the step-up: one re-entry of the second factor authorises one sensitive action."""
    data = get(request)
    data["step_up"] = None
    request.session["authn"] = data


def raise_level(request: HttpRequest, *, loa: str, method: str, idp: str | None) -> None:
    """A step-up proved level `loa` by `method` (e.g. "saml" at `idp`) in this session: the
    session's level becomes the stronger of the two (NIST SP 800-63B: the session's assurance is
    that of its strongest current authentication), and the session key is rotated."""
    data = get(request)
    if level(loa) > level(data.get("loa")):
        data["loa"] = loa
    methods = list(data.get("methods") or [])
    if method not in methods:
        methods.append(method)
    data["methods"], data["idp"] = methods, idp or data.get("idp")
    request.session.cycle_key()
    request.session["authn"] = data
