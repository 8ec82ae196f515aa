"""Session time limits by level of assurance (NIST SP 800-63B revision 4, section 5.2,
"Reauthentication"; the figures in sections 2.2.3 and 2.3.3).

Each request of a logged-in session checks two timeouts, with the limits of the login's level
(settings.PORTAL_SESSION_LIMITS; LoA 2 and a login without a level use AAL2's, LoA 3 and 4
AAL3's, docs/decisions.md): the overall timeout, counted from the login (`authn["at"]`), and the
inactivity timeout, counted from the last recorded activity (`session.SEEN_KEY`, written at most
once a minute together with the session record's `last_seen_at`, `ACTIVITY_WRITE_SECONDS`). A
session past either is logged out, its record ended (reason `absolute` or `idle`, audited as the
portal's act) and the browser sent to the login page with a message saying why. Under /api/ the
request simply goes on logged out (the API answers problem+json for it).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.authn import selectors, services, session
from apps.authn.models import UserSession
from apps.core import loa as levels
from apps.core.actors import SYSTEM
from apps.core.errors import PortalError
from apps.identities.models import User

#: Activity is written to the session and its record at most once per this many seconds.
ACTIVITY_WRITE_SECONDS = 60


def limits_for(loa: str | None) -> dict[str, int]:
    """`{"max_age": seconds, "idle": seconds}` for a login at `loa` (a framework URI or None):
    AAL3's limits for LoA 3 and 4, AAL2's for anything lower."""
    aal = "aal3" if levels.level(loa) >= 3 else "aal2"
    return dict(settings.PORTAL_SESSION_LIMITS[aal])


def _epoch(value: object) -> int | None:
    """An epoch second stored in the session, or None for anything else."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _loa_of(authn: dict[str, object]) -> str | None:
    value = authn.get("loa")
    return value if isinstance(value, str) else None


def expiry(authn: dict[str, object], seen: object, now: float) -> str | None:
    """Why a session with the facts `authn` (`session.get`), last activity `seen` (epoch
    seconds, or None) is over at `now` (epoch seconds): `absolute`, `idle`, or None. A login
    time that is not an epoch second counts as long past."""
    at = _epoch(authn.get("at"))
    if at is None:
        return UserSession.EndReason.ABSOLUTE
    last = _epoch(seen) or at
    figures = limits_for(_loa_of(authn))
    if now - at > figures["max_age"]:
        return UserSession.EndReason.ABSOLUTE
    if now - last > figures["idle"]:
        return UserSession.EndReason.IDLE
    return None


def _message(reason: str, figures: dict[str, int]) -> str:
    if reason == UserSession.EndReason.IDLE:
        minutes = max(1, figures["idle"] // 60)
        return ngettext(
            "You were logged out after %(minutes)d minute without activity. Log in again.",
            "You were logged out after %(minutes)d minutes without activity. Log in again.",
            minutes) % {"minutes": minutes}
    hours = max(1, figures["max_age"] // 3600)
    return ngettext(
        "You were logged out because %(hours)d hour has passed since you logged in. Log in again.",
        "You were logged out because %(hours)d hours have passed since you logged in. Log in "
        "again.", hours) % {"hours": hours}


#: The liveness and readiness probes (docs/deployment.md, "Health and readiness"): they answer
#: whatever session cookie a client sends, and never end or touch a session.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})


class SessionTimeoutMiddleware:
    """Ends logged-in sessions past their level's idle or overall limit (module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info in PROBE_PATHS:  # a probe answers as it is, whatever its cookies
            return self.get_response(request)
        user = getattr(request, "user", None)
        authn = session.get(request) if isinstance(user, User) else {}
        if not authn.get("at"):
            return self.get_response(request)
        now = time.time()
        seen = request.session.get(session.SEEN_KEY)
        reason = expiry(authn, seen, now)
        if reason is None:
            last = _epoch(seen)
            if last is None or now - last >= ACTIVITY_WRITE_SECONDS:
                session.touch(request, int(now))
            return self.get_response(request)
        assert isinstance(user, User)
        return self._expire(request, user, authn, reason)

    def _expire(self, request: HttpRequest, user: User, authn: dict[str, object],
                reason: str) -> HttpResponse:
        record = selectors.session_get_by_key_hash(session.current_key_hash(request))
        if record is not None:
            with contextlib.suppress(PortalError):  # ended meanwhile: it is over either way
                services.session_end(actor=SYSTEM, user_session=record, reason=reason)
        figures = limits_for(_loa_of(authn))
        kind = user.kind
        logout(request)
        if request.path.startswith("/api/"):
            return self.get_response(request)
        messages.info(request, _message(reason, figures))
        target = request.get_full_path() if request.method == "GET" else "/"
        query = {"for": "patient" if kind == User.Kind.PATIENT else "staff", "next": target}
        return HttpResponseRedirect(f"{reverse('federation:discovery')}?{urlencode(query)}")


class PasswordChangeRequiredMiddleware:
    """A session logged in with a one-time password an issuer handed over
    (`apps.authn.recovery.one_time_password_set`) opens only the change-password page, the logout
    and the language switch until the password is changed (`session.MUST_CHANGE_PASSWORD`).
    Every other page redirects there; API calls are answered by their own authentication."""

    ALLOWED = ("selfservice:my_password", "authn:logout", "set_language")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (session.get(request).get(session.MUST_CHANGE_PASSWORD)
                and not request.path.startswith(("/api/", "/static/"))
                and request.path not in {reverse(name) for name in self.ALLOWED}):
            messages.info(request, _("Choose your own password before you go on. Type the "
                                     "password you were given as the current password: it "
                                     "works only until you have chosen your own."))
            return HttpResponseRedirect(reverse("selfservice:my_password"))
        return self.get_response(request)
