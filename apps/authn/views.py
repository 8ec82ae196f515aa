"""Login pages: password, then the second factor (a TOTP code or a passkey, LoA 2); the choice
of commission; step-up. Federated login (SAML2) is apps.federation's; the passkey ceremonies'
JSON endpoints are apps.authn.passkey_views'."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from apps.authn import (
    commission,
    invitations,
    passkey_views,
    recovery,
    selectors,
    services,
    session,
)
from apps.authn.decorators import (
    E_SERVICE_STEP_UP_PURPOSES,
    acting_user,
    staff_required,
    step_up_loa,
    user_required,
)
from apps.authn.forms import CommissionChoiceForm, InvitationPasswordForm, OTPForm, PasswordForm
from apps.commissions import selectors as commission_selectors
from apps.commissions import services as commission_services
from apps.core import loa
from apps.core.actors import ANONYMOUS
from apps.core.errors import Forbidden, NotFound, PortalError
from apps.core.forms import add_portal_error


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
    return render(request, "authn/login.html", {
        "form": form, "next": _next(request),
        "passkey_level": loa.level(settings.PORTAL_PASSKEY_LOA)})


def otp_view(request: HttpRequest) -> HttpResponse:
    """Step 2: the code from the authenticator app, or one of the account's passkeys
    ("Use a passkey", through static/js/passkeys.js and `passkey_views.passkey_second_factor`);
    completes the login at LoA 2. The code form is shown when the account has a TOTP device, or
    has no passkey either (then no code is accepted, as before passkeys existed)."""
    started = session.has_pending(request)
    user = session.pending_user(request)
    if user is None:
        if started:
            messages.info(request, _("Your login took too long or your password changed. "
                                     "Log in again."))
        return redirect(f"{reverse('authn:login')}?{urlencode({'next': _next(request)})}")
    if recovery.ENROL in recovery.obligations_of(user) and not selectors.has_totp_device(user):
        return redirect(f"{reverse('authn:enrol')}?{urlencode({'next': _next(request)})}")
    passkey_offered = selectors.passkeys_list(user).exists()
    totp_offered = selectors.has_totp_device(user) or not passkey_offered
    form = OTPForm(request.POST or None)
    if request.method == "POST" and totp_offered and form.is_valid():
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
    return render(request, "authn/otp.html", {
        "form": form, "next": _next(request), "passkey_offered": passkey_offered,
        "totp_offered": totp_offered})


def enrol_view(request: HttpRequest) -> HttpResponse:
    """Step 2 for an account that must enrol an authenticator app (an issuer removed the old one,
    `recovery`; or a joiner chose their first password, `invitations`): the new
    key as a QR code and as text, then its first code, which completes the login at LoA 2."""
    user = session.pending_user(request)
    if user is None:
        return redirect(f"{reverse('authn:login')}?{urlencode({'next': _next(request)})}")
    form = OTPForm(request.POST or None)
    try:
        if request.method == "POST" and form.is_valid():
            try:
                device = recovery.totp_enrol_at_login(actor=user, user=user,
                                                      token=form.cleaned_data["token"])
            except PortalError as exc:
                if exc.field is None:
                    raise
                form.add_error(exc.field, str(exc.message))
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                otp_login(request, device)
                session.set_login(request, loa=loa.LOA2, methods=["pwd", "otp"])
                services.login_succeeded(actor=user, loa=loa.LOA2, methods=["pwd", "otp"])
                return commission.after_login(request, user, _next(request))
        device = recovery.totp_enrol_at_login(actor=user, user=user)
    except PortalError:
        return redirect(f"{reverse('authn:otp')}?{urlencode({'next': _next(request)})}")
    uri = device.config_url
    key = parse_qs(urlsplit(uri).query).get("secret", [""])[0]
    return render(request, "authn/enrol.html", {
        "form": form, "next": _next(request),
        "qr_data_uri": segno.make(uri, error="m").svg_data_uri(scale=5, border=4),
        "secret": " ".join(key[i:i + 4] for i in range(0, len(key), 4))},
        status=400 if form.errors else 200)


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_view(request: HttpRequest, token: str) -> HttpResponse:
    """`/invitation/<token>/` (no login): a joiner's e-mailed enrolment invitation. Shows the
    username and asks for a password twice (`invitations.invitation_accept`), then sends the
    person to log in, where they set up an authenticator app. An unknown, used, replaced or
    expired link, or a deactivated account, gets one clear page (410), never the form."""
    enrolment = commission_selectors.enrolment_open_by_token(token, timezone.now())
    if enrolment is None or not enrolment.user.is_active:
        return render(request, "authn/invitation_invalid.html", status=410)
    form = InvitationPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitations.invitation_accept(actor=enrolment.user, token=token,
                                          password=form.cleaned_data["password"])
        except (NotFound, Forbidden):
            return render(request, "authn/invitation_invalid.html", status=410)
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            messages.success(request, _("Your password is saved. Log in with your username and "
                                        "the new password; then you set up your authenticator "
                                        "app."))
            return redirect("authn:login")
    # The token is in the path: the site's Referrer-Policy (same-origin) never sends it to
    # another site. Not no-referrer: browsers then send `Origin: null` with the form (refused).
    return render(request, "authn/invitation.html", {
        "form": form, "username": enrolment.user.username, "person": enrolment.person,
    }, status=400 if form.errors else 200)


def lost_authenticator_view(request: HttpRequest) -> HttpResponse:
    """"Lost your authenticator app?": the two ways back. With a mobile e-ID that still works,
    log in with it, then My account → Replace authenticator app, confirming it is you with the
    e-ID (the step-up) instead of the lost app's code (`account.totp_device_replace`). Without
    one, an issuer checks an identity document and removes the app (`recovery`)."""
    return render(request, "authn/lost_authenticator.html", {
        "after_login": reverse("selfservice:my_authenticator")})


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


@user_required
def step_up_view(request: HttpRequest) -> HttpResponse:
    """Confirm it is you before a sensitive action (`?purpose=` a key of
    settings.PORTAL_LOA_REQUIRED or an e-service's level, `decorators.step_up_loa`; other purposes
    need LoA 2; `?next=`). The level the purpose
    needs decides the ways offered: for staff, a new login at an e-ID provider with ForceAuthn
    (always; apps.federation) and the mobile e-ID; for staff and patients, a passkey when
    settings.PORTAL_PASSKEY_LOA is enough (`passkey_views.step_up_offered`, its JSON endpoints);
    for staff, the code of the authenticator app when a level-2 proof is enough and the account
    has one; for patients, logging in again with their e-ID. A patient's proof opens no staff
    page: those pages are behind `staff_required` before any step-up is looked at."""
    purpose = request.GET.get("purpose", "")
    required = step_up_loa(purpose)
    user = acting_user(request)
    is_staff = user.kind == user.Kind.STAFF
    otp_allowed = is_staff and loa.level(required) <= 2 and selectors.has_totp_device(user)
    form = OTPForm(request.POST or None)
    if request.method == "POST" and otp_allowed and form.is_valid():
        try:
            proof = services.step_up_verify(actor=user, token=form.cleaned_data["token"])
        except PortalError as exc:
            form.add_error(exc.field, str(exc.message))
        else:
            if not session.store_step_up(request, proof):
                messages.info(request, session.ENDED_MESSAGE)
                return redirect("home")
            return HttpResponseRedirect(_next(request))
    current = session.get(request).get("loa")
    return render(request, "authn/step_up.html", {
        "form": form, "next": _next(request), "purpose": purpose, "otp_allowed": otp_allowed,
        "passkey_allowed": passkey_views.step_up_offered(user, required), "is_staff": is_staff,
        "required_level": loa.level(required), "session_level": loa.level(current),
        "e_service": purpose in E_SERVICE_STEP_UP_PURPOSES.values()})


def lockout_response(request: HttpRequest, response: HttpResponse,
                     credentials: dict[str, Any] | None) -> HttpResponse:
    """django-axes' `AXES_LOCKOUT_CALLABLE`, called for a login that reached a failure limit: the
    login page already tells the user, in their language, to wait (`services.password_check`
    raised `login.throttled`), so it is kept as it is."""
    return response


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Log out (POST only): the session's record ends (reason `logout`), the session is
    flushed, and the start page says so; after a federated login by way of the IdP's single
    logout (`session.log_out_to_portal`)."""
    return session.log_out_to_portal(request)
