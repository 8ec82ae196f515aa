"""Mobile e-ID pages: staff self-service ("My e-IDs") and the issuer's pages.

Self-service (inherited identification): list own e-IDs, revoke one, and get a new activation code
after a fresh login at the level `PORTAL_LOA_REQUIRED["self_issuance"]` asks (step-up). Issuer
(administrative process): find a staff member in scope, confirm it is you (step-up at
`PORTAL_LOA_REQUIRED["issue_for_others"]`), record the identity document checked, create a code
for them, revoke their e-IDs.
A code page is the answer to a POST only, sent with `Cache-Control: no-store`, so reloading or
going back never shows the secrets again.
"""

from __future__ import annotations

import uuid
from functools import wraps
from typing import Any

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from apps.authn import recovery, session
from apps.authn.decorators import (
    loa_required,
    staff_required,
    step_up_redirect,
    step_up_required,
)
from apps.core.errors import PortalError
from apps.core.forms import DateField, add_portal_error
from apps.identities.documents import IdentityDocumentType
from apps.identities.models import Person, User
from apps.issuance import policies, rules, selectors, services

APP_COMMAND = ".venv/bin/python clients/mobile_app/eid_app.py"


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


class RevokeForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for revoking"), max_length=rules.MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For example: phone lost, phone replaced, no longer needed."),
    )


class StaffSearchForm(forms.Form):
    q = forms.CharField(label=_("Personal identity number or HSA-id"), max_length=100,
                        required=False)


class IdentityDocumentForm(forms.Form):
    document_type = forms.ChoiceField(
        label=_("Identity document checked"), choices=IdentityDocumentType.choices,
        widget=forms.RadioSelect,
    )
    document_last_four = forms.CharField(
        label=_("Last four digits of the document number"), min_length=4, max_length=4,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    document_expires_on = DateField(
        label=_("Document expiry date"), help_text=_("As YYYY-MM-DD. The document must be valid."),
    )

    def clean(self) -> dict[str, Any]:
        """Every problem of the document at once, next to its field, whatever else is wrong."""
        data = super().clean() or {}
        for problem in services.identity_document_problems(
            document_type=data.get("document_type"), last_four=data.get("document_last_four"),
            expires_on=data.get("document_expires_on"),
        ):
            self.add_error(problem.field, str(problem.message))
        return data

    def document(self) -> services.IdentityDocument:
        """The document recorded (only after `is_valid()`)."""
        return services.IdentityDocument(
            type=self.cleaned_data["document_type"],
            last_four=self.cleaned_data["document_last_four"],
            expires_on=self.cleaned_data["document_expires_on"],
        )


class RecoveryForm(IdentityDocumentForm):
    """A lost authenticator or password (`apps.authn.recovery`): the document checked and what
    to do."""

    ACTIONS = (("second_factor", _("Remove the authenticator app: they set up a new one at "
                                   "their next login")),
               ("one_time_password", _("Give a one-time password: they choose their own at "
                                       "their next login")))

    action = forms.ChoiceField(label=_("What the person lost"), choices=ACTIONS,
                               widget=forms.RadioSelect)

    prefix = "recovery"


def _code_page(request: HttpRequest, issued: services.IssuedCode, person: Person,
               back_url: str) -> HttpResponse:
    """The one-time page with the QR code, the typed form and the reference app's command."""
    qr = segno.make(issued.qr_payload, error="m")
    # Named after the code, which is unique: two people (or two e-IDs) never share a wallet file.
    wallet = f"var/wallet-{issued.code.pk}.json"
    portal = settings.PORTAL_BASE_URL
    context = {
        "person": person,
        "for_other": person.pk != getattr(request.user, "person_id", None),
        "issued": issued,
        "qr_data_uri": qr.svg_data_uri(scale=6, border=4),
        "expires_at": timezone.localtime(issued.code.expires_at),
        "validity_minutes": rules.CODE_VALIDITY_SECONDS // 60,
        "command_typed": (f"{APP_COMMAND} activate --portal {portal} --wallet {wallet} "
                          f"--person-number {issued.person_number} --code {issued.short_code}"),
        "command_qr": (f"{APP_COMMAND} activate --portal {portal} --wallet {wallet} "
                       f"--qr-payload {issued.qr_payload}"),
        "command_verify": f"{APP_COMMAND} verify --wallet {wallet}",
        "back_url": back_url,
    }
    return render(request, "selfservice/eids/code.html", context)


# --- self-service --------------------------------------------------------------------------------


@staff_required
@never_cache
def my_eids(request: HttpRequest) -> HttpResponse:
    """`/my/eids/`: the staff member's mobile e-IDs and the way to a new one."""
    person = _user(request).person
    eids = list(selectors.eid_list_for_person(person))
    now = timezone.now()
    active = selectors.eid_count_active(person, now)
    return render(request, "selfservice/eids/list.html", {
        "eids": eids, "now": now, "active_count": active,
        "max_active": rules.MAX_ACTIVE_EIDS, "can_get_new": active < rules.MAX_ACTIVE_EIDS,
        "is_issuer": policies.is_issuer(_user(request)),
    })


@staff_required
@step_up_required("self_issuance")
@never_cache
@require_http_methods(["GET", "POST"])
def my_eid_new(request: HttpRequest) -> HttpResponse:
    """`/my/eids/new/`: after step-up, confirm (GET) and create the code (POST → shown once)."""
    user = _user(request)
    if request.method == "POST":
        try:
            issued = services.activation_code_issue(
                actor=user, person=user.person, step_up=session.step_up_proof(request)
            )
        except PortalError as exc:
            messages.error(request, str(exc.message))
            return redirect("selfservice:my_eids")
        session.consume_step_up(request)
        return _code_page(request, issued, user.person, reverse("selfservice:my_eids"))
    return render(request, "selfservice/eids/new.html", {
        "validity_minutes": rules.CODE_VALIDITY_SECONDS // 60,
    })


@staff_required
@never_cache
@require_http_methods(["GET", "POST"])
def eid_revoke(request: HttpRequest, eid_id: uuid.UUID) -> HttpResponse:
    """`/eids/<id>/revoke/`: confirm with a reason; for the owner or an issuer in scope."""
    user = _user(request)
    eid = selectors.eid_get_for_actor(user, eid_id)  # NotFound → 404 (PortalErrorMiddleware)
    own = eid.person_id == user.person_id
    back = reverse("selfservice:my_eids") if own else reverse(
        "selfservice:issuer_person", args=[eid.person_id])
    form = RevokeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.eid_revoke(actor=user, eid=eid, reason=form.cleaned_data["reason"])
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            messages.success(request, _("The e-ID %(serial)s is revoked.") % {"serial": eid.serial})
            return redirect(back)
    return render(request, "selfservice/eids/revoke.html", {
        "eid": eid, "form": form, "own": own, "back_url": back,
    })


class DeviceNameForm(forms.Form):
    device_name = forms.CharField(
        label=_("Device name"), required=False, max_length=64,
        help_text=_("For example: Work phone. Empty: the pages say “Mobile e-ID”."))


@staff_required
@never_cache
@require_http_methods(["GET", "POST"])
def my_eid_name(request: HttpRequest, eid_id: uuid.UUID) -> HttpResponse:
    """`/my/eids/<id>/name/`: name the device of one of your own e-IDs."""
    user = _user(request)
    eid = selectors.eid_get_for_actor(user, eid_id)  # NotFound → 404
    if eid.person_id != user.person_id:
        raise Http404
    form = DeviceNameForm(request.POST or None, initial={"device_name": eid.device_name})
    if request.method == "POST" and form.is_valid():
        try:
            services.eid_rename(actor=user, eid=eid, device_name=form.cleaned_data["device_name"])
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            messages.success(request, _("The device name is saved."))
            return redirect("selfservice:my_eids")
    return render(request, "selfservice/eids/name.html", {"eid": eid, "form": form},
                  status=400 if form.errors else 200)


# --- issuer --------------------------------------------------------------------------------------


def _require_issuer(user: User) -> None:
    if not policies.is_issuer(user):
        raise Http404


def _issuer_required(view: Any) -> Any:
    """Only issuers (404 for anyone else, before the level of assurance is looked at, so a page
    that is not theirs stays a page that does not exist)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        _require_issuer(_user(request))
        return view(request, *args, **kwargs)

    return wrapper


@staff_required
@_issuer_required
@loa_required("issue_for_others")
def issuer_search(request: HttpRequest) -> HttpResponse:
    """`/issuer/`: find a staff member in the issuer's scope by personnummer or HSA-id; joiners
    waiting for a mobile e-ID from an issuer are listed below."""
    user = _user(request)
    _require_issuer(user)
    form = StaffSearchForm(request.GET or None)
    results: list[Person] = []
    searched = False
    if form.is_valid() and form.cleaned_data["q"].strip():
        searched = True
        results = [p for p in selectors.staff_search_for_issuer(user, form.cleaned_data["q"])[:50]
                   if p.pk != user.person_id]
    return render(request, "selfservice/eids/issuer_search.html", {
        "form": form, "results": results, "searched": searched,
        "waiting": selectors.staff_waiting_for_issuer(user),
    })


def _issuer_person(request: HttpRequest, person_id: uuid.UUID) -> Person:
    user = _user(request)
    _require_issuer(user)
    return selectors.staff_get_for_issuer(user, person_id)  # NotFound → 404


@staff_required
@_issuer_required
@loa_required("issue_for_others")
@never_cache
def issuer_person(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    """`/issuer/people/<id>/`: a staff member's e-IDs and the identity-document form, after a
    step-up (checked after the scope, so a person outside it is "not found" either way)."""
    person = _issuer_person(request, person_id)
    return (step_up_redirect(request, "issue_for_others")
            or _issuer_person_page(request, person, IdentityDocumentForm()))


def _issuer_person_page(request: HttpRequest, person: Person, form: IdentityDocumentForm,
                        status: int = 200,
                        recovery_form: RecoveryForm | None = None) -> HttpResponse:
    """The person page: what the issuer checks the document against (name, personal identity
    number, employee HSA-ids in scope with their organisation and title), e-IDs and the form."""
    return render(request, "selfservice/eids/issuer_person.html", {
        "person": person, "employees": list(selectors.employee_list_for_issuer(_user(request),
                                                                               person)),
        "eids": list(selectors.eid_list_for_person(person)), "form": form, "now": timezone.now(),
        "recovery_form": recovery_form or RecoveryForm(),
    }, status=status)


@staff_required
@_issuer_required
@loa_required("issue_for_others")
@never_cache
@require_POST
def issuer_code(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    """`POST /issuer/people/<id>/code/`: record the document checked and show a code once."""
    person = _issuer_person(request, person_id)
    # The step-up made on opening the person's page (at most 5 minutes ago) authorises one code.
    back = reverse("selfservice:issuer_person", args=[person.pk])
    if (redirect_to := step_up_redirect(request, "issue_for_others", back)) is not None:
        messages.info(request, _("Confirm it is you again: each activation code needs its own "
                                 "fresh login."))
        return redirect_to
    form = IdentityDocumentForm(request.POST)
    if form.is_valid():
        try:
            issued = services.activation_code_issue(
                actor=_user(request), person=person, identity_document=form.document(),
                step_up=session.step_up_proof(request),
            )
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            session.consume_step_up(request)
            return _code_page(request, issued, person,
                              reverse("selfservice:issuer_person", args=[person.pk]))
    return _issuer_person_page(request, person, form, status=400)


@staff_required
@_issuer_required
@loa_required("issue_for_others")
@never_cache
@require_POST
def issuer_recovery(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    """`POST /issuer/people/<id>/recovery/`: after checking the identity document, remove the
    person's authenticator app or give them a one-time password; the answer is a page saying
    what was done (with the password, shown once), never a redirect to the step-up."""
    person = _issuer_person(request, person_id)
    back = reverse("selfservice:issuer_person", args=[person.pk])
    if (redirect_to := step_up_redirect(request, "issue_for_others", back)) is not None:
        return redirect_to
    form = RecoveryForm(request.POST)
    if form.is_valid():
        arguments: dict[str, Any] = {"actor": _user(request), "person": person,
                                     "identity_document": form.document(),
                                     "step_up": session.step_up_proof(request)}
        try:
            given = (recovery.one_time_password_set(**arguments)
                     if form.cleaned_data["action"] == "one_time_password" else None)
            if given is None:
                recovery.second_factor_reset(**arguments)
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            session.consume_step_up(request)
            # The answer says what happened (and shows the password once); the person's page
            # would ask for a fresh step-up, since each change spends its own.
            return render(request, "selfservice/eids/recovery_done.html", {
                "person": person, "password": given and given.password,
                "expires_at": given and given.expires_at, "back_url": back})
    return _issuer_person_page(request, person, IdentityDocumentForm(), status=400,
                               recovery_form=form)


urlpatterns = [
    path("my/eids/", my_eids, name="my_eids"),
    path("my/eids/new/", my_eid_new, name="my_eid_new"),
    path("my/eids/<uuid:eid_id>/name/", my_eid_name, name="my_eid_name"),
    path("eids/<uuid:eid_id>/revoke/", eid_revoke, name="eid_revoke"),
    path("issuer/", issuer_search, name="issuer_search"),
    path("issuer/people/<uuid:person_id>/", issuer_person, name="issuer_person"),
    path("issuer/people/<uuid:person_id>/code/", issuer_code, name="issuer_code"),
    path("issuer/people/<uuid:person_id>/recovery/", issuer_recovery, name="issuer_recovery"),
]
