"""What the session knows about how the user logged in: level of assurance and methods.

Stored under `request.session["authn"]` as `{"loa": URI | None, "methods": [str], "at": epoch
seconds, "step_up_at": epoch seconds | None}`. Method names follow RFC 8176 (`pwd`, `otp`); the
demo patient login uses `demo`. LoA URIs are the Swedish framework's (domain.md, "Federation").
"""

from __future__ import annotations

import time
from typing import Any

from django.http import HttpRequest

LOA2 = "http://id.elegnamnden.se/loa/1.0/loa2"
STEP_UP_MAX_AGE_SECONDS = 300


def set_login(request: HttpRequest, *, loa: str | None, methods: list[str]) -> None:
    """Record a completed login (call after `django.contrib.auth.login`, which cycles the key)."""
    request.session["authn"] = {"loa": loa, "methods": methods, "at": int(time.time()),
                                "step_up_at": None}


def get(request: HttpRequest) -> dict[str, Any]:
    """The session's authentication facts, or {} when not logged in."""
    value = request.session.get("authn") or {}
    return dict(value)


def mark_step_up(request: HttpRequest) -> None:
    """Record a fresh re-entry of the second factor (step-up), now."""
    data = get(request)
    data["step_up_at"] = int(time.time())
    request.session["authn"] = data


def has_fresh_step_up(request: HttpRequest, max_age: int = STEP_UP_MAX_AGE_SECONDS) -> bool:
    """True when the second factor was re-entered less than `max_age` seconds ago."""
    at = get(request).get("step_up_at")
    return at is not None and time.time() - at < max_age


def consume_step_up(request: HttpRequest) -> None:
    """Spend the step-up: one re-entry of the second factor authorises one sensitive action."""
    data = get(request)
    data["step_up_at"] = None
    request.session["authn"] = data
