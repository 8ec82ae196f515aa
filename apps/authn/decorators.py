"""View decorators: who may open a page. Each one redirects to the matching login."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from apps.authn import session
from apps.identities.models import User

View = Callable[..., HttpResponse]


def _login_redirect(request: HttpRequest, name: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(
        f"{reverse(name)}?{urlencode({'next': request.get_full_path()})}"
    )


def acting_user(request: HttpRequest) -> User:
    """The logged-in user of a page behind `staff_required` or `patient_required` (the actor every
    service call of the page takes)."""
    user = request.user
    if not isinstance(user, User):
        raise TypeError("acting_user() needs a page behind a login decorator")
    return user


def staff_required(view: View) -> View:
    """Staff logged in with password and a verified second factor (django-otp)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_authenticated and user.kind == User.Kind.STAFF
                and user.is_verified()):  # type: ignore[union-attr,attr-defined]
            return _login_redirect(request, "authn:login")
        return view(request, *args, **kwargs)

    return wrapper


def patient_required(view: View) -> View:
    """A patient logged in (through a citizen e-ID IdP); others go to the e-ID choice."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_authenticated and user.kind == User.Kind.PATIENT):  # type: ignore[union-attr]
            return HttpResponseRedirect(f"{reverse('federation:discovery')}?" + urlencode(
                {"for": "patient", "next": request.get_full_path()}))
        return view(request, *args, **kwargs)

    return wrapper


def step_up_redirect(request: HttpRequest, purpose: str,
                     next_path: str | None = None) -> HttpResponse | None:
    """None when the session holds a fresh step-up (STEP_UP_MAX_AGE_SECONDS) at the level
    `settings.PORTAL_LOA_REQUIRED[purpose]` asks for; else the redirect to the step-up page, which
    comes back to `next_path` (default: this page)."""
    if session.has_fresh_step_up(request, min_loa=settings.PORTAL_LOA_REQUIRED[purpose]):
        return None
    return HttpResponseRedirect(f"{reverse('authn:step_up')}?" + urlencode(
        {"next": next_path or request.get_full_path(), "purpose": purpose}))


def step_up_required(purpose: str) -> Callable[[View], View]:
    """`step_up_redirect(request, purpose)` before the view runs."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            return step_up_redirect(request, purpose) or view(request, *args, **kwargs)

        return wrapper

    return decorator
