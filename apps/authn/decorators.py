"""View decorators: who may open a page. Each one redirects to the matching login, except
`loa_required`, which explains which level of assurance the page needs (status 403).

A login counts only when it was completed in this session (`session.set_login`): a staff member
with a session at LoA 2 or higher (password and TOTP, or a federated e-ID login), a patient with a
session at LoA 2 or higher (a citizen e-ID login).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from apps.authn import commission as choice
from apps.authn import session
from apps.commissions.vocabularies import Purpose
from apps.core import loa as levels
from apps.identities.models import User

if TYPE_CHECKING:
    from apps.commissions.models import Commission

View = Callable[..., HttpResponse]


def login_redirect(request: HttpRequest, name: str = "authn:login") -> HttpResponseRedirect:
    """To the login page `name`, which comes back to this request (`next`)."""
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


def is_staff_session(request: HttpRequest) -> bool:
    """A staff account with a login completed in this session at LoA 2 or higher."""
    user = request.user
    return (isinstance(user, User) and user.kind == User.Kind.STAFF
            and session.has_login(request) and session.level(request) >= 2)


def is_patient_session(request: HttpRequest) -> bool:
    """A patient account with a login completed in this session at LoA 2 or higher."""
    user = request.user
    return (isinstance(user, User) and user.kind == User.Kind.PATIENT
            and session.has_login(request) and session.level(request) >= 2)


def staff_required(view: View) -> View:
    """Staff logged in in this session at LoA 2 or higher: password and TOTP (django-otp), or a
    federated login (SAML, no OTP device). Otherwise redirect to the login page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_staff_session(request):
            return login_redirect(request, "authn:login")
        return view(request, *args, **kwargs)

    return wrapper


def patient_required(view: View) -> View:
    """A patient logged in in this session (LoA 2 or higher, through a citizen e-ID IdP); others
    go to the e-ID choice for patients."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_patient_session(request):
            return HttpResponseRedirect(f"{reverse('federation:discovery')}?" + urlencode(
                {"for": "patient", "next": request.get_full_path()}))
        return view(request, *args, **kwargs)

    return wrapper


def user_required(view: View) -> View:
    """Staff or a patient, as `staff_required` or `patient_required` would accept them (pages
    about the user's own account, such as their sessions)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not (is_staff_session(request) or is_patient_session(request)):
            # The e-ID choice for staff and patients alike (the staff password login is linked
            # from it): either may own the page.
            return login_redirect(request, "federation:discovery")
        return view(request, *args, **kwargs)

    return wrapper


def required_loa(purpose: str) -> str:
    """The framework URI settings.PORTAL_LOA_REQUIRED names for `purpose` (`administration`,
    `issue_for_others`, `self_issuance`). Raises KeyError for an unknown purpose."""
    return str(settings.PORTAL_LOA_REQUIRED[purpose])


#: Step-up purposes of an e-service that asks for a level of assurance or a fresh login (OpenID
#: Connect `acr_values`, `prompt=login`, `max_age`; docs/identity-provider.md), by level number.
E_SERVICE_STEP_UP_PURPOSES: dict[int, str] = {2: "e_service_loa2", 3: "e_service_loa3",
                                              4: "e_service_loa4"}
_E_SERVICE_LEVELS = {levels.LOA2: 2, levels.LOA3: 3, levels.LOA4: 4}


def step_up_loa(purpose: str) -> str:
    """The level (framework URI) a step-up for `purpose` must reach: settings.PORTAL_LOA_REQUIRED
    for a sensitive action, the e-service's level for `E_SERVICE_STEP_UP_PURPOSES`, else LoA 2."""
    if purpose in settings.PORTAL_LOA_REQUIRED:
        return required_loa(purpose)
    for uri, number in _E_SERVICE_LEVELS.items():
        if E_SERVICE_STEP_UP_PURPOSES[number] == purpose:
            return uri
    return levels.LOA2


def loa_required(purpose: str) -> Callable[[View], View]:
    """The session's level of assurance must satisfy settings.PORTAL_LOA_REQUIRED[purpose];
    otherwise a page (status 403) says which level the page needs, which level the session has,
    and how to get it: log in again with the organisation's e-ID (a link to the login page that
    comes back here). Put it under `staff_required`/`patient_required`, which decide who is
    logged in at all. Raises KeyError at import time for an unknown purpose."""
    required_loa(purpose)  # an unknown purpose fails where the view is defined

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            required = required_loa(purpose)
            if not levels.satisfies(session.loa(request), required):
                login_url = (f"{reverse('federation:discovery')}?"
                             f"{urlencode({'for': 'staff', 'next': request.get_full_path()})}")
                return render(request, "authn/loa_required.html", {
                    "required_level": levels.level(required),
                    "session_level": session.level(request),
                    "login_url": login_url,
                }, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def step_up_redirect(request: HttpRequest, purpose: str,
                     next_path: str | None = None) -> HttpResponse | None:
    """None when the session holds a fresh step-up (STEP_UP_MAX_AGE_SECONDS) at the level
    `settings.PORTAL_LOA_REQUIRED[purpose]` asks for; else the redirect to the step-up page, which
    comes back to `next_path` (default: this page)."""
    if session.has_fresh_step_up(request, min_loa=required_loa(purpose)):
        return None
    return HttpResponseRedirect(f"{reverse('authn:step_up')}?" + urlencode(
        {"next": next_path or request.get_full_path(), "purpose": purpose}))


def step_up_required(purpose: str) -> Callable[[View], View]:
    """`step_up_redirect(request, purpose)` before the view runs."""
    required_loa(purpose)  # an unknown purpose fails where the view is defined

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            return step_up_redirect(request, purpose) or view(request, *args, **kwargs)

        return wrapper

    return decorator
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
