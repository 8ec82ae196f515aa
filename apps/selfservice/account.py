"""`/my/account/` ("Mitt konto"): the staff member's own account in one place. What the person
may change themselves (the e-mail address, the password, the authenticator app), links to their
sessions, e-IDs, passkeys and e-services, and a read-only list of their commissions and roles.
Patients keep their own pages. The rules live in `apps.authn.account`; these views stay thin.
"""

from __future__ import annotations

from typing import Any

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth.password_validation import password_validators_help_texts, validate_password
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from apps.authn import account, passwords, selectors, session
from apps.authn.decorators import acting_user, staff_required
from apps.commissions import selectors as commission_selectors
from apps.core.errors import PortalError
from apps.core.forms import add_portal_error
from apps.identities.models import User


def _token_field() -> forms.CharField:
    return forms.CharField(
        label=_("Code from your authenticator app"), required=False, max_length=16,
        help_text=_("Not needed if you confirmed it is you in the last 5 minutes."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))


class EmailForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), required=False, max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    token = _token_field()


class PasswordChangeForm(forms.Form):
    """Every rule at once: the two new passwords must match and pass
    `settings.AUTH_PASSWORD_VALIDATORS` for this account; the password fields are never shown
    again (Django's PasswordInput)."""

    current_password = forms.CharField(
        label=_("Current password"), strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    new_password = forms.CharField(
        label=_("New password"), strip=False, max_length=passwords.MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    new_password_again = forms.CharField(
        label=_("New password again"), strip=False, max_length=passwords.MAX_LENGTH,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    token = _token_field()

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["new_password"].help_text = " ".join(password_validators_help_texts())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        new, again = data.get("new_password"), data.get("new_password_again")
        if new is not None:
            try:
                validate_password(passwords.normalise(new), self.user)
            except ValidationError as exc:
                self.add_error("new_password", exc)
        if new is not None and again is not None and new != again:
            self.add_error("new_password_again", _("The two new passwords differ."))
        return data


class NewDeviceForm(forms.Form):
    new_token = forms.RegexField(
        label=_("Code from the new authenticator"), regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("Enter the 6 digits shown in the new authenticator.")},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))
    token = forms.CharField(
        label=_("Code from your current authenticator"), required=False, max_length=16,
        help_text=_("Not needed if you confirmed it is you in the last 5 minutes."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}))


def _name_missing_factor(request: HttpRequest, form: forms.Form | None) -> None:
    """On a refused form, also say that the second factor is missing (no code, no fresh
    step-up), which the service says only when it gets that far: every error at once."""
    if (form is not None and form.errors and "token" not in form.errors
            and not str(form.data.get("token", "")).strip()
            and not session.has_fresh_step_up(request)):
        form.add_error("token", account.SECOND_FACTOR_NEEDED)


def _base_context(request: HttpRequest, user: User) -> dict[str, Any]:
    return {"fresh_step_up": session.has_fresh_step_up(request),
            "has_totp": selectors.has_totp_device(user)}


@staff_required
@never_cache
@require_http_methods(["GET", "POST"])
def my_account(request: HttpRequest) -> HttpResponse:
    """The overview, and the e-mail form (POST)."""
    user = acting_user(request)
    form = EmailForm(request.POST or None, initial={"email": user.person.email})
    if request.method == "POST" and form.is_valid():
        try:
            account.contact_email_change(actor=user, email=form.cleaned_data["email"],
                                         token=form.cleaned_data["token"],
                                         step_up=session.step_up_proof(request))
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            session.consume_step_up(request)
            messages.success(request, _("Your e-mail address is saved."))
            return redirect("selfservice:my_account")
    _name_missing_factor(request, form)
    commissions = list(commission_selectors.commission_list_for_person(user.person))
    roles = list(commission_selectors.role_list_for_person(user.person))
    return render(request, "selfservice/account/overview.html", {
        **_base_context(request, user), "form": form, "person": user.person,
        "commissions": commissions, "roles": roles,
    }, status=400 if form.errors else 200)


@staff_required
@never_cache
@require_http_methods(["GET", "POST"])
def my_password(request: HttpRequest) -> HttpResponse:
    """Change the password: current password, the second factor now, the new one twice."""
    user = acting_user(request)
    form = PasswordChangeForm(request.POST or None, user=user)
    if request.method == "POST" and not form.is_valid():
        if form.cleaned_data.get("current_password"):  # said wrong beside the other errors
            try:
                account.current_password_check(actor=user, request=request,
                                               password=form.cleaned_data["current_password"])
            except PortalError as exc:
                add_portal_error(form, exc)
    elif request.method == "POST":
        try:
            changed = account.password_change(
                actor=user, request=request, current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password"], token=form.cleaned_data["token"],
                step_up=session.step_up_proof(request),
                keep_key_hash=session.current_key_hash(request))
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            session.consume_step_up(request)
            if not session.keep_after_credential_change(request, changed):
                messages.warning(request, session.ENDED_MESSAGE)
                return redirect("home")
            messages.success(request, _("Your password is changed. You were logged out "
                                        "everywhere else, and we sent you an e-mail about it."))
            return redirect("selfservice:my_account")
    _name_missing_factor(request, form)
    return render(request, "selfservice/account/password.html", {
        **_base_context(request, user), "form": form}, status=400 if form.errors else 200)


@staff_required
@never_cache
@require_http_methods(["GET", "POST"])
def my_authenticator(request: HttpRequest) -> HttpResponse:
    """Replace the authenticator app: start (POST without a code makes a new key, shown with its
    QR code), then confirm with a code from the new app and the second factor now."""
    user = acting_user(request)
    pending = selectors.totp_enrolment_pending(user)
    form = NewDeviceForm(request.POST or None) if pending else None
    if request.method == "POST" and form is not None and form.is_valid():
        try:
            account.totp_device_replace(
                actor=user, new_token=form.cleaned_data["new_token"],
                token=form.cleaned_data["token"], step_up=session.step_up_proof(request),
                keep_key_hash=session.current_key_hash(request))
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            session.consume_step_up(request)
            if not session.keep_after_credential_change(request, user):
                messages.warning(request, session.ENDED_MESSAGE)
                return redirect("home")
            messages.success(request, _("Your new authenticator is in use; codes from the old "
                                        "one no longer work. You were logged out everywhere "
                                        "else, and we sent you an e-mail about it."))
            return redirect("selfservice:my_account")
    _name_missing_factor(request, form)
    context: dict[str, Any] = {**_base_context(request, user), "form": form}
    if pending is not None:
        uri = pending.config_url
        context.update(qr_data_uri=segno.make(uri, error="m").svg_data_uri(scale=5, border=4),
                       secret=_grouped(uri))
    return render(request, "selfservice/account/authenticator.html", context,
                  status=400 if form is not None and form.errors else 200)


def _grouped(uri: str) -> str:
    """The base32 key of an otpauth:// URI in groups of four, for typing it into an app."""
    from urllib.parse import parse_qs, urlsplit

    key = parse_qs(urlsplit(uri).query).get("secret", [""])[0]
    return " ".join(key[i:i + 4] for i in range(0, len(key), 4))


@staff_required
@require_POST
def my_authenticator_start(request: HttpRequest) -> HttpResponse:
    """Make the new key (the old authenticator keeps working until the new one is confirmed)."""
    try:
        account.totp_enrolment_start(actor=acting_user(request))
    except PortalError as exc:
        messages.error(request, str(exc.message))
    return redirect("selfservice:my_authenticator")


urlpatterns = [
    path("my/account/", my_account, name="my_account"),
    path("my/account/password/", my_password, name="my_password"),
    path("my/account/authenticator/", my_authenticator, name="my_authenticator"),
    path("my/account/authenticator/start/", my_authenticator_start,
         name="my_authenticator_start"),
]
