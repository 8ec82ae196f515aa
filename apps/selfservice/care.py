"""Staff self-service: register a consent for a patient who is present, or emergency access.

For a staff member logged in with password and second factor (`staff_required`) who acts under a
chosen care commission (purpose "Vård och behandling") at a care unit (`commission_required`): the
page acts at that commission's care unit. The staff member finds the patient by personnummer or
samordningsnummer; the page then shows the patient's name (check it is the right
person) and two forms: consent (the patient is present and consents, PDL 2008:355 6 kap. 2 §) and
emergency access (the patient cannot consent, PDL 6 kap. 4 §). Assertions the staff member
registered today can be removed as wrong registrations (makulering), with a reason.

The lookup is a POST, audited once (`patient.looked_up`) and kept in the session as
`apps.selfservice.lookup` describes.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from apps.authn.decorators import acting_commission, commission_required, staff_required
from apps.commissions.vocabularies import Purpose
from apps.consents import selectors, services
from apps.core.errors import PortalError
from apps.core.forms import add_portal_error, start_of_day
from apps.selfservice.lookup import FindPatientForm, Lookup, PatientLookup
from apps.selfservice.patient import ConsentPeriodForm

if TYPE_CHECKING:
    from apps.organisations.models import Organisation

#: Durations offered for emergency access, in hours (default 24, at most 7 days = 168).
EMERGENCY_HOURS = [1, 4, 8, 24, 72, 168]
LOOKUP_SESSION_KEY = "selfservice_care_lookup"
LOOKUP = PatientLookup(LOOKUP_SESSION_KEY)


class StaffConsentForm(ConsentPeriodForm):
    """Step 2a: the consent of the patient who is present."""

    representative_name = forms.CharField(
        label=_("Representative (optional)"), required=False, max_length=200,
        help_text=_("Name of the person who consents on the patient's behalf, if not the patient."),
    )
    patient_present = forms.BooleanField(
        label=_("The patient is present and has given consent"),
        error_messages={"required": _("Confirm that the patient is present and has given consent.")},
    )


class EmergencyForm(forms.Form):
    """Step 2b: emergency access for me, with a reason."""

    reason = forms.CharField(
        label=_("Reason for emergency access"), widget=forms.Textarea(attrs={"rows": 3}),
        max_length=1000, help_text=_("Why the patient cannot consent and why care needs the "
                                     "information now. This is followed up."),
    )
    hours = forms.TypedChoiceField(
        label=_("Valid for"), coerce=int, initial=24,
        # A callable: the labels are made per form, in the language of the request showing it.
        choices=lambda: [(h, ngettext("%(n)d hour", "%(n)d hours", h) % {"n": h})
                         for h in EMERGENCY_HOURS],
        help_text=_("Emergency access ends by itself; at most 7 days."),
    )


def _units(request: HttpRequest) -> list[Organisation]:
    """The care unit of the commission acted under (a list: the selectors take several). The
    services still check, when they write, that the staff member holds an active care commission
    there (consents.policies.require_staff_at_unit)."""
    unit = acting_commission(request).care_unit
    return [unit] if unit is not None else []


#: The commission these pages act under: care and treatment, at a care unit.
care_commission_required = commission_required(purpose=Purpose.CARE, care_unit=True)


@staff_required
@care_commission_required
@require_http_methods(["GET", "POST"])
def consent_view(request: HttpRequest) -> HttpResponse:
    """Find the patient at the unit of the commission acted under (POST, audited), then register
    consent or emergency access; below, what I registered today (at that unit)."""
    units = _units(request)
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "find":
        LOOKUP.forget(request)  # a new lookup replaces the last one, also when it fails
    current = None if action == "find" else LOOKUP.current(request, units)
    find = FindPatientForm(request.POST if action == "find" else None)
    if action == "find" and find.is_valid():
        assert find.patient is not None
        lookup = Lookup(unit=units[0], patient=find.patient)
        services.patient_looked_up(actor=request.user,  # type: ignore[arg-type]
                                   patient=lookup.patient, care_unit=lookup.unit)
        LOOKUP.remember(request, lookup)
        return redirect("selfservice:care_consent")
    if action in ("consent", "emergency") and current is None:
        messages.error(request, _("Find the patient again: the lookup has ended."))
        return redirect("selfservice:care_consent")
    consent_form: StaffConsentForm | None = None
    emergency_form: EmergencyForm | None = None
    if current is not None:
        unit, patient = current.unit, current.patient
        consent_form = StaffConsentForm(request.POST if action == "consent" else None, unit=unit,
                                        prefix="consent")
        emergency_form = EmergencyForm(request.POST if action == "emergency" else None,
                                       prefix="emergency")
        if action == "consent" and consent_form.is_valid():
            valid_from, valid_until = consent_form.period()
            try:
                services.consent_give(
                    actor=request.user,  # type: ignore[arg-type]
                    patient=patient, care_unit=unit, employee=consent_form.chosen_employee(),
                    valid_from=valid_from, valid_until=valid_until,
                    representative_name=consent_form.cleaned_data["representative_name"],
                    patient_present=consent_form.cleaned_data["patient_present"],
                )
            except PortalError as exc:
                add_portal_error(consent_form, exc)
            else:
                LOOKUP.forget(request)
                messages.success(request, _("The consent has been registered."))
                return redirect("selfservice:care_consent")
        elif action == "emergency" and emergency_form.is_valid():
            hours: int = emergency_form.cleaned_data["hours"]
            try:
                services.emergency_access_register(
                    actor=request.user,  # type: ignore[arg-type]
                    patient=patient, care_unit=unit, reason=emergency_form.cleaned_data["reason"],
                    valid_until=timezone.now() + timedelta(hours=hours),
                )
            except PortalError as exc:
                add_portal_error(emergency_form, exc)
            else:
                LOOKUP.forget(request)
                messages.success(request, _("Emergency access has been registered."))
                return redirect("selfservice:care_consent")
    now = timezone.now()
    today = list(selectors.consent_list_registered_by(
        request.user, start_of_day(timezone.localdate(now)), units  # type: ignore[arg-type]
    ))
    return render(request, "selfservice/care/consent.html", {
        "find": find, "acting": acting_commission(request), "patient": current.patient if current else None,
        "unit": current.unit if current else None, "consent_form": consent_form,
        "emergency_form": emergency_form, "today": today,
    })


class DeleteForm(forms.Form):
    reason = forms.CharField(label=_("Why is the registration wrong?"), max_length=1000,
                             widget=forms.Textarea(attrs={"rows": 3}))


@staff_required
@care_commission_required
@require_http_methods(["GET", "POST"])
def delete_view(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    """Remove a consent I registered at the unit of the commission acted under as a wrong
    registration (makulering), with a reason. The consent stays in the history, marked removed.
    Others' registrations, and those at other units: 404."""
    consent = selectors.consent_get_registered_by(request.user, consent_id,  # type: ignore[arg-type]
                                                  _units(request))
    form = DeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.consent_delete(actor=request.user, consent=consent,  # type: ignore[arg-type]
                                    reason=form.cleaned_data["reason"])
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            messages.success(request, _("The consent has been removed as a wrong registration."))
            return redirect("selfservice:care_consent")
    return render(request, "selfservice/care/delete.html", {"consent": consent, "form": form})


urlpatterns = [
    path("care/consent/", consent_view, name="care_consent"),
    path("care/consent/<uuid:consent_id>/delete/", delete_view, name="care_consent_delete"),
]
