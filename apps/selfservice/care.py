"""Staff self-service: register a consent for a patient who is present, or emergency access.

For a staff member logged in with password and second factor (`staff_required`) who acts under a
chosen care commission (purpose "Vård och behandling") at a care unit (`commission_required`): the
page acts at that commission's care unit. The staff member finds the patient by personnummer or
samordningsnummer; the page then shows the patient's name (check it is the right
person) and two forms: consent (the patient is present and consents, PDL 2008:355 6 kap. 2 §) and
emergency access (the patient cannot consent, PDL 6 kap. 4 §). Assertions the staff member
registered today can be removed as wrong registrations (makulering), with a reason.

The lookup is a POST (a personnummer never appears in a URL, so not in browser history, proxy or
server logs) and is audited once (`patient.looked_up`). The chosen unit and patient are then kept
in the session, bound to the staff member and for at most `LOOKUP_MAX_AGE_SECONDS`, and checked
again on every request (the unit must still be the one of the commission acted under, so switching
commission ends the lookup); the page is shown
again after a redirect, so reloading it neither repeats the lookup nor audits it twice.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

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
from apps.identities.identifiers import IdentifierError, parse_person_number
from apps.identities.models import Person
from apps.identities.selectors import person_get_by_number
from apps.selfservice.patient import ConsentPeriodForm

if TYPE_CHECKING:
    from apps.organisations.models import Organisation

#: Durations offered for emergency access, in hours (default 24, at most 7 days = 168).
EMERGENCY_HOURS = [1, 4, 8, 24, 72, 168]
#: How long a looked-up patient stays on the page (seconds): a registration for a present patient.
LOOKUP_MAX_AGE_SECONDS = 15 * 60
LOOKUP_SESSION_KEY = "selfservice_care_lookup"


class FindPatientForm(forms.Form):
    """Step 1: which patient (at the care unit of the commission acted under)."""

    person_number = forms.CharField(
        label=_("Patient's personal identity number or coordination number"), max_length=13,
        help_text=_("For example 19121212-1212."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.patient: Person | None = None

    def clean_person_number(self) -> str:
        value: str = self.cleaned_data["person_number"]
        try:
            parse_person_number(value)
        except IdentifierError as exc:
            raise forms.ValidationError(str(exc.message)) from exc
        self.patient = person_get_by_number(value)
        if self.patient is None:
            raise forms.ValidationError(_("No patient with this number was found."))
        return value.strip()


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


@dataclass(frozen=True)
class Lookup:
    """The patient a staff member looked up, at one of their care units."""

    unit: Organisation
    patient: Person


def _remember(request: HttpRequest, lookup: Lookup) -> None:
    request.session[LOOKUP_SESSION_KEY] = {
        "user": str(request.user.pk), "unit": str(lookup.unit.pk),
        "patient": str(lookup.patient.pk), "at": int(time.time()),
    }


def _forget(request: HttpRequest) -> None:
    request.session.pop(LOOKUP_SESSION_KEY, None)


def _current(request: HttpRequest, units: list[Organisation]) -> Lookup | None:
    """The lookup kept in the session, if this staff member made it, at most
    LOOKUP_MAX_AGE_SECONDS ago, at a unit that is still one of theirs; else None (and it is
    dropped)."""
    stored = request.session.get(LOOKUP_SESSION_KEY)
    if not isinstance(stored, dict):
        return None
    unit = next((u for u in units if str(u.pk) == stored.get("unit")), None)
    fresh = isinstance(stored.get("at"), int) and (
        0 <= time.time() - stored["at"] <= LOOKUP_MAX_AGE_SECONDS)
    patient = None
    if unit is not None and fresh and stored.get("user") == str(request.user.pk):
        try:
            patient = Person.objects.filter(pk=uuid.UUID(str(stored.get("patient")))).first()
        except ValueError:
            patient = None
    if unit is None or patient is None:
        _forget(request)
        return None
    return Lookup(unit=unit, patient=patient)


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
        _forget(request)  # a new lookup replaces the last one, also when it fails
    current = None if action == "find" else _current(request, units)
    find = FindPatientForm(request.POST if action == "find" else None)
    if action == "find" and find.is_valid():
        assert find.patient is not None
        lookup = Lookup(unit=units[0], patient=find.patient)
        services.patient_looked_up(actor=request.user,  # type: ignore[arg-type]
                                   patient=lookup.patient, care_unit=lookup.unit)
        _remember(request, lookup)
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
                _forget(request)
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
                _forget(request)
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
