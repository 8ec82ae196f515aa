"""Patient self-service: "My consents" (give, see, withdraw) and "Who read my records" (log extract).

Pages for a logged-in patient (`patient_required`). Dates are chosen as calendar days in
Europe/Stockholm and stored as UTC instants: a start date of today means now; a later start date
means 00:00 that day; the optional last day is inclusive, so the consent ends at 00:00 the day after.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from apps.audit import registry
from apps.audit.selectors import audit_list_for_person
from apps.authn.decorators import patient_required
from apps.consents import policies, selectors, services
from apps.core.errors import PortalError
from apps.core.forms import DateField, add_portal_error, end_of_last_day, start_of_day

if TYPE_CHECKING:
    from apps.commissions.models import Employee
    from apps.organisations.models import Organisation

LOG_PAGE_SIZE = 25


# --- shared with the staff page (care.py) ---------------------------------------------------------

def period_from_days(first_day: date, last_day: date | None,
                     now: datetime | None = None) -> tuple[datetime, datetime | None]:
    """(valid_from, valid_until) in UTC for a consent from `first_day` through `last_day` inclusive
    (Europe/Stockholm calendar days). A first day of today starts now (not at midnight, which would
    backdate the consent); no last day means an open end."""
    now = now or timezone.now()
    valid_from = now if first_day == timezone.localdate(now) else start_of_day(first_day)
    valid_until = end_of_last_day(last_day) if last_day else None
    return valid_from, valid_until


def employee_label(employee: Employee) -> str:
    return f"{employee.person} ({employee.hsa_id})"


WHO_CHOICES = [
    ("all", _("All staff with a commission at the care unit")),
    ("one", _("One named staff member")),
]


class ConsentPeriodForm(forms.Form):
    """Who at the unit may read, and for which days. Subclasses add the care unit (patient page)
    or the presence confirmation (staff page). `unit` narrows the staff list to that unit."""

    who = forms.ChoiceField(label=_("Who may read"), choices=WHO_CHOICES, initial="all",
                            widget=forms.RadioSelect)
    employee = forms.ChoiceField(
        label=_("Staff member (only if one named staff member)"), required=False,
        help_text=_("Staff with an active care commission at the care unit, by name and HSA-id."),
        error_messages={"invalid_choice": _(
            "This staff member has no active care commission at the chosen care unit. Choose "
            "from the list.")},
    )
    valid_from = DateField(label=_("First day"),
                                 help_text=_("Today or later."))
    valid_until = DateField(label=_("Last day (optional)"), required=False,
                                  help_text=_("Leave empty for a consent without an end date."))

    def __init__(self, *args: Any, unit: Organisation | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["valid_from"].initial = timezone.localdate()
        now = timezone.now()
        pairs = selectors.employees_at_units(now, unit)
        self.employees = {str(e.pk): e for _, e in pairs}
        choices: list[Any] = [("", _("Choose a staff member"))]
        if unit is not None:
            choices += [(str(e.pk), employee_label(e)) for _, e in pairs]
        else:
            groups: dict[str, list[tuple[str, str]]] = {}
            for u, e in pairs:
                groups.setdefault(u.name, []).append((str(e.pk), employee_label(e)))
            choices += list(groups.items())
        self.fields["employee"].choices = choices  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first = data.get("valid_from")
        if first and first < timezone.localdate():
            self.add_error("valid_from", _("The start cannot be in the past."))
        last = data.get("valid_until")
        if first and last and last < first:
            self.add_error("valid_until", _("The last day cannot be before the first day."))
        if data.get("who") != "one":
            self.errors.pop("employee", None)  # the staff list is ignored for "all staff"
            data.pop("employee", None)
        elif not data.get("employee") and "employee" not in self.errors:
            self.add_error("employee", _("Choose the staff member."))
        return data

    def chosen_employee(self) -> Employee | None:
        if self.cleaned_data.get("who") != "one":
            return None
        return self.employees.get(self.cleaned_data.get("employee") or "")

    def period(self) -> tuple[datetime, datetime | None]:
        return period_from_days(self.cleaned_data["valid_from"], self.cleaned_data.get("valid_until"))


# --- patient pages ---------------------------------------------------------------------------------

class GiveConsentForm(ConsentPeriodForm):
    care_unit = forms.ChoiceField(
        label=_("Care unit"), help_text=_("Care units are grouped by care provider."),
        error_messages={"invalid_choice": _("Choose a care unit from the list.")},
    )
    field_order = ["care_unit", "who", "employee", "valid_from", "valid_until"]

    def __init__(self, *args: Any, units: list[Organisation], **kwargs: Any) -> None:
        self.units = {str(u.pk): u for u in units}
        data = args[0] if args else kwargs.get("data")
        chosen = self.units.get((data or {}).get("care_unit") or "")
        super().__init__(*args, unit=chosen, **kwargs)
        groups: dict[str, list[tuple[str, str]]] = {}
        for u in units:
            provider = u.care_provider.name if u.care_provider else ""
            groups.setdefault(provider, []).append((str(u.pk), u.name))
        self.fields["care_unit"].choices = [  # type: ignore[attr-defined]
            ("", _("Choose a care unit")), *groups.items()
        ]

    def chosen_unit(self) -> Organisation:
        return self.units[self.cleaned_data["care_unit"]]


@patient_required
@require_http_methods(["GET", "POST"])
def consents_view(request: HttpRequest) -> HttpResponse:
    """My consents: tables by status, emergency accesses about me, and the "Give consent" form."""
    patient = request.user.person  # type: ignore[union-attr]
    units = list(selectors.care_unit_list())
    form = GiveConsentForm(request.POST or None, units=units)
    if request.method == "POST" and form.is_valid():
        valid_from, valid_until = form.period()
        try:
            services.consent_give(
                actor=request.user,  # type: ignore[arg-type]
                patient=patient, care_unit=form.chosen_unit(), employee=form.chosen_employee(),
                valid_from=valid_from, valid_until=valid_until,
            )
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            messages.success(request, _("Your consent has been registered."))
            return redirect("selfservice:patient_consents")
    groups = selectors.consents_grouped_for_patient(patient, timezone.now())
    context = {"form": form, "current": groups.current, "expired": groups.expired,
               "ended": groups.ended, "emergencies": groups.emergencies}
    return render(request, "selfservice/patient/consents.html", context)


@patient_required
@require_http_methods(["GET", "POST"])
def withdraw_view(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    """Confirm, then withdraw one of my consents (återkallelse). Someone else's consent: 404."""
    patient = request.user.person  # type: ignore[union-attr]
    consent = selectors.consent_get_for_patient(patient, consent_id)  # NotFound → 404
    if request.method == "POST":
        try:
            services.consent_withdraw(actor=request.user, consent=consent)  # type: ignore[arg-type]
        except PortalError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Your consent has been withdrawn."))
        return redirect("selfservice:patient_consents")
    if not policies.can_withdraw_consent(consent, timezone.now()):
        messages.error(request, _("Emergency access cannot be withdrawn.") if consent.is_emergency
                       else _("This consent is no longer in force."))
        return redirect("selfservice:patient_consents")
    return render(request, "selfservice/patient/withdraw.html", {"consent": consent})


@patient_required
def log_view(request: HttpRequest) -> HttpResponse:
    """Who read my records: my log extract (loggutdrag, PDL 2008:355 8 kap. 3 §), newest first,
    LOG_PAGE_SIZE events a page; times in Europe/Stockholm."""
    patient = request.user.person  # type: ignore[union-attr]
    page = Paginator(audit_list_for_person(patient.pk), LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"event": event, "what": registry.label(event.action)} for event in page]
    return render(request, "selfservice/patient/log.html", {"page": page, "rows": rows})


urlpatterns = [
    path("patient/", consents_view, name="patient_consents"),
    path("patient/consents/<uuid:consent_id>/withdraw/", withdraw_view, name="patient_consent_withdraw"),
    path("patient/log/", log_view, name="patient_log"),
]
