"""View decorators: who may open a page. Each one redirects to the matching login."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from apps.authn import commission as choice
from apps.authn import session
from apps.commissions.vocabularies import Purpose
from apps.identities.models import User

if TYPE_CHECKING:
    from apps.commissions.models import Commission

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
    """A patient logged in (in this issue: the demo login)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_authenticated and user.kind == User.Kind.PATIENT):  # type: ignore[union-attr]
            return _login_redirect(request, "authn:patient_login")
        return view(request, *args, **kwargs)

    return wrapper


def step_up_required(view: View) -> View:
    """A fresh re-entry of the second factor (STEP_UP_MAX_AGE_SECONDS) before the view runs;
    otherwise redirect to the step-up page, which comes back here."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not session.has_fresh_step_up(request):
            return _login_redirect(request, "authn:step_up")
        return view(request, *args, **kwargs)

    return wrapper


def acting_commission(request: HttpRequest) -> Commission:
    """The commission a page behind `commission_required` acts under (validated this request)."""
    chosen = choice.chosen(request)
    if chosen is None:
        raise TypeError("acting_commission() needs a page behind commission_required")
    return chosen


@overload
def commission_required(view: View) -> View: ...
@overload
def commission_required(*, purpose: str | None = None,
                        care_unit: bool = False) -> Callable[[View], View]: ...


def commission_required(view: View | None = None, *, purpose: str | None = None,
                        care_unit: bool = False) -> View | Callable[[View], View]:
    """A page that acts under a chosen commission (put it below `staff_required`): the commission
    the session acts under, re-validated this request by `CommissionMiddleware`, optionally with
    `purpose` (a `Purpose` code, e.g. "Vård och behandling") and, with `care_unit`, at a care
    unit (not directly under a care provider). Otherwise the page answers 403 with a page that
    explains which commission is needed and links to the choice page, which comes back here.
    Use as `@commission_required` or `@commission_required(purpose=..., care_unit=True)`."""

    def decorate(inner: View) -> View:
        @wraps(inner)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            chosen = choice.chosen(request)
            fits = chosen is not None and (purpose is None or chosen.purpose == purpose) and (
                not care_unit or chosen.care_unit_id is not None)
            if not fits:
                back = request.get_full_path() if request.method in ("GET", "HEAD") else request.path
                return render(request, "authn/commission_required.html", {
                    "chosen": chosen, "purpose": Purpose(purpose).label if purpose else None,
                    "care_unit": care_unit, "choice_url": choice.choice_url(back),
                }, status=403)
            return inner(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate
