"""Patient self-service: "My consents" (give, see, withdraw) and "Who read my records" (log extract).

Pages for a logged-in patient (`patient_required`). Dates are chosen as calendar days in
Europe/Stockholm and stored as UTC instants: a start date of today means now; a later start date
means 00:00 that day; the optional last day is inclusive, so the consent ends at 00:00 the day after.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from apps.audit import registry
from apps.audit.selectors import AUDIT_KEYS, log_extract_for_person
from apps.authn.decorators import patient_required
from apps.consents import policies, selectors, services
from apps.core.errors import PortalError
from apps.core.forms import DayRangeForm, add_portal_error
from apps.core.paging import keyset_page_for_request
from apps.organisations import selectors as organisation_selectors
from apps.organisations.selectors import group_by_branch
from apps.rules import audit as rules_audit

if TYPE_CHECKING:
    from apps.audit.models import AuditEvent
    from apps.commissions.models import Employee
    from apps.organisations.models import Organisation

LOG_PAGE_SIZE = 25


# --- shared with the staff page (care.py) ---------------------------------------------------------

def employee_label(employee: Employee) -> str:
    return f"{employee.person} ({employee.hsa_id})"


def unit_choices(units: list[Organisation]) -> list[Any]:
    """Choices for a care unit select: an empty first choice, then the units grouped by their
    branch of the tree (care provider › hospital), so that units with like names stay apart."""
    return [("", _("Choose a care unit")),
            *((label, [(str(u.pk), u.name) for u in group])
              for label, group in group_by_branch(units))]


WHO_CHOICES = [
    ("all", _("All staff with a commission at the care unit")),
    ("one", _("One named staff member")),
]


class ConsentPeriodForm(DayRangeForm):
    """Who at the unit may read, and for which days. Subclasses add the care unit (patient page)
    or the presence confirmation (staff page); `unit` is the chosen care unit, if any.

    Naming one staff member takes two steps, without JavaScript: the staff list appears only
    after "one named staff member" was sent with a care unit, and then lists each employee
    HSA-id with an active care commission at that unit once (`awaiting_employee` until one is
    chosen). With "all staff" there is no staff list to show or fill in.
    """

    who = forms.ChoiceField(label=_("Who may read"), choices=WHO_CHOICES, initial="all",
                            widget=forms.RadioSelect)
    employee = forms.ChoiceField(
        label=_("Staff member"),
        help_text=_("Staff with an active care commission at the care unit, by name and HSA-id."),
        error_messages={
            "required": _("Choose the staff member."),
            "invalid_choice": _(
                "This staff member has no active care commission at the chosen care unit. Choose "
                "from the list."),
        },
    )
    today_starts_now = True

    def __init__(self, *args: Any, unit: Organisation | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["valid_from"].initial = timezone.localdate()
        self.fields["valid_from"].help_text = _("Today or later.")
        self.fields["valid_until"].help_text = _("Leave empty for a consent without an end date.")
        self.employees: dict[str, Employee] = {}
        self.awaiting_employee = False
        if unit is None or not self.is_bound or self.data.get(self.add_prefix("who")) != "one":
            del self.fields["employee"]
            return
        self.employees = {str(e.pk): e for e in selectors.employee_list_for_unit(unit, timezone.now())}
        self.fields["employee"].choices = [  # type: ignore[attr-defined]
            ("", _("Choose a staff member")),
            *((pk, employee_label(e)) for pk, e in self.employees.items()),
        ]
        # The list was not on the page yet: show it, and ask for nothing else.
        self.awaiting_employee = self.add_prefix("employee") not in self.data
        if self.awaiting_employee:
            self.fields["employee"].required = False

    def is_valid(self) -> bool:
        """Valid, and not waiting for the staff member to be chosen from the list just shown."""
        return super().is_valid() and not self.awaiting_employee

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first = data.get("valid_from")
        if first and first < timezone.localdate():
            self.add_error("valid_from", _("The start cannot be in the past."))
        if "employee" in self.fields and not self.employees:
            self.add_error("who", _("Nobody has an active care commission at this care unit now. "
                                    "Choose all staff, or another care unit."))
        return data

    def chosen_employee(self) -> Employee | None:
        return self.employees.get(self.cleaned_data.get("employee") or "")


# --- patient pages ---------------------------------------------------------------------------------

class GiveConsentForm(ConsentPeriodForm):
    care_unit = forms.ChoiceField(
        label=_("Care unit"), help_text=_("Care units are grouped by care provider and hospital."),
        error_messages={"invalid_choice": _("Choose a care unit from the list.")},
    )
    field_order = ["care_unit", "who", "employee", "valid_from", "valid_until"]

    def __init__(self, *args: Any, units: list[Organisation], **kwargs: Any) -> None:
        self.units = {str(u.pk): u for u in units}
        data = args[0] if args else kwargs.get("data")
        chosen = self.units.get((data or {}).get("care_unit") or "")
        super().__init__(*args, unit=chosen, **kwargs)
        self.fields["care_unit"].choices = unit_choices(units)  # type: ignore[attr-defined]

    def chosen_unit(self) -> Organisation:
        return self.units[self.cleaned_data["care_unit"]]


@patient_required
@require_http_methods(["GET", "POST"])
def consents_view(request: HttpRequest) -> HttpResponse:
    """My consents: tables by status, emergency accesses about me, and the "Give consent" form."""
    patient = request.user.person  # type: ignore[union-attr]
    units = list(organisation_selectors.care_unit_list())
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
    LOG_PAGE_SIZE events a page by keyset (`?after=`, `?before=`: no count, so every page costs the
    same however long the log); times in Europe/Stockholm. An allowed access decision is a read
    (or write, ...): who (the staff member's name and employee HSA-id), at which care unit (its
    name as stored in the row), when, the activity and the information type, and for emergency
    access a mark and the reason. Denied decisions are not shown (`log_extract_for_person`). The
    page costs the same few queries however many rows it shows."""
    patient = request.user.person  # type: ignore[union-attr]
    page = keyset_page_for_request(request, log_extract_for_person(patient.pk), AUDIT_KEYS,
                                   size=LOG_PAGE_SIZE)
    rows = [_log_row(event) for event in page]
    return render(request, "selfservice/patient/log.html", {"page": page, "rows": rows})


def _log_row(event: AuditEvent) -> dict[str, Any]:
    """One row of the log extract: the event, what was done, and for an access decision what
    was read (`read`: activity, information type, emergency, reason)."""
    row: dict[str, Any] = {"event": event, "what": registry.describe(
        event.action, event.target_label, event.target_type)}
    if event.action == rules_audit.ACCESS_DECIDED.code:
        changes = event.changes or {}
        row["read"] = {
            "activity": rules_audit.activity_text(str(changes.get("activity", ""))),
            "information_type": rules_audit.information_type_text(
                str(changes.get("information_type", ""))),
            "emergency": bool(changes.get("emergency")),
            "reason": event.reason,
        }
    return row


urlpatterns = [
    path("patient/", consents_view, name="patient_consents"),
    path("patient/consents/<uuid:consent_id>/withdraw/", withdraw_view, name="patient_consent_withdraw"),
    path("patient/log/", log_view, name="patient_log"),
]
