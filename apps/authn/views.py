"""Login pages: password, then the TOTP second factor; the choice of commission; step-up; the demo
patient login."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from apps.authn import commission, loa, selectors, services, session
from apps.authn.decorators import acting_user, staff_required
from apps.authn.forms import CommissionChoiceForm, OTPForm, PasswordForm, PatientDemoForm
from apps.commissions import selectors as commission_selectors
from apps.commissions import services as commission_services
from apps.core.actors import ANONYMOUS
from apps.core.errors import NotFound, PortalError


def _next(request: HttpRequest) -> str:
    return commission.safe_next(request)


def login_view(request: HttpRequest) -> HttpResponse:
    """Step 1: username and password."""
    form = PasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.password_check(actor=ANONYMOUS, request=request, **form.cleaned_data)
        except PortalError as exc:
            form.add_error(None, str(exc.message))
        else:
            request.session.cycle_key()
            session.set_pending(request, user)
            return redirect(f"{reverse('authn:otp')}?{urlencode({'next': _next(request)})}")
    return render(request, "authn/login.html", {"form": form, "next": _next(request)})


def otp_view(request: HttpRequest) -> HttpResponse:
    """Step 2: the code from the authenticator app; completes the login at LoA 2."""
    started = session.has_pending(request)
    user = session.pending_user(request)
    if user is None:
        if started:
            messages.info(request, _("Your login took too long or your password changed. "
                                     "Log in again."))
        return redirect(f"{reverse('authn:login')}?{urlencode({'next': _next(request)})}")
    form = OTPForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.otp_check(actor=ANONYMOUS, user=user,
                                        token=form.cleaned_data["token"])
        except PortalError as exc:
            form.add_error(exc.field, str(exc.message))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            otp_login(request, device)
            session.set_login(request, loa=loa.LOA2, methods=["pwd", "otp"])
            services.login_succeeded(actor=user, loa=loa.LOA2, methods=["pwd", "otp"])
            return commission.after_login(request, user, _next(request))
    return render(request, "authn/otp.html", {"form": form, "next": _next(request)})


@staff_required
@require_http_methods(["GET", "POST"])
def commission_view(request: HttpRequest) -> HttpResponse:
    """The choice of commission (uppdragsval): the staff member's valid commissions, each with its
    purpose, care unit and care provider (names and HSA-ids) and, for a person with several
    employee HSA-ids, the employee HSA-id; choosing one (POST) acts under it from then on and goes
    back to `next`. Reached after login (two or more valid commissions) and from the header."""
    user = acting_user(request)
    form = CommissionChoiceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            chosen = commission_services.commission_choose(
                actor=user, commission_id=form.cleaned_data["commission"])
        except NotFound:
            form.add_error("commission", _("Choose one of your valid commissions."))
        except PortalError as exc:
            form.add_error("commission", str(exc.message))
        else:
            commission.remember(request, chosen)
            messages.success(request, _("You now act under the commission %(commission)s.")
                             % {"commission": commission.describe(chosen)})
            return HttpResponseRedirect(_next(request))
    valid = commission_selectors.commission_list_valid_for_person(user.person_id, timezone.now())
    several_employees = commission_selectors.employee_count_for_person(user.person_id) > 1
    current = commission.chosen(request)
    return render(request, "authn/commission.html", {
        "form": form, "commissions": valid, "several_employees": several_employees,
        "current": current, "next": _next(request),
    })


@staff_required
def step_up_view(request: HttpRequest) -> HttpResponse:
    """Re-enter the second factor before a sensitive action (e.g. a new mobile e-ID)."""
    form = OTPForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            proof = services.step_up_verify(actor=request.user,  # type: ignore[arg-type]
                                            token=form.cleaned_data["token"])
        except PortalError as exc:
            form.add_error(exc.field, str(exc.message))
        else:
            session.store_step_up(request, proof)
            return HttpResponseRedirect(_next(request))
    return render(request, "authn/step_up.html", {"form": form, "next": _next(request)})


def patient_login_view(request: HttpRequest) -> HttpResponse:
    """Demo login for seeded patients; only with debug on (DEMO_LOGIN_ENABLED). e-ID login comes later."""
    if not settings.DEMO_LOGIN_ENABLED:
        raise Http404
    form = PatientDemoForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = selectors.patient_demo_user(form.cleaned_data["person_number"])
        except PortalError as exc:
            form.add_error(exc.field, str(exc.message))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            session.set_login(request, loa=None, methods=["demo"])
            services.login_succeeded(actor=user, loa=None, methods=["demo"])
            return HttpResponseRedirect(_next(request) if _next(request) != "/" else "/patient/")
    return render(request, "authn/patient_login.html", {"form": form, "next": _next(request)})


def lockout_response(request: HttpRequest, response: HttpResponse,
                     credentials: dict[str, Any] | None) -> HttpResponse:
    """django-axes' `AXES_LOCKOUT_CALLABLE`, called for a login that reached a failure limit: the
    login page already tells the user, in their language, to wait (`services.password_check`
    raised `login.throttled`), so it is kept as it is."""
    return response


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Log out (POST only) and say so on the start page."""
    logout(request)
    messages.success(request, _("You are logged out."))
    return redirect("home")
