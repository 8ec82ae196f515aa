"""Staff pages for blocks (spärrar): find the patient, see their blocks at my care provider,
register a block, lift it (hävning) or remove a wrong registration (makulering), lift it
temporarily for my care unit (tillfällig hävning) and end that early; see which of the patient's
blocks at other care providers hide information from my care unit, and lift those temporarily for
it; and the care provider's list of blocks (PDL 2008:355 4 kap. 4 §, 6 kap. 2 och 7 §§; Inera's
Spärr contract; docs/decisions.md, "Blocks"; docs/journey-blocks.md).

For a staff member logged in with password and second factor (`staff_required`) who acts under a
chosen care commission at a care unit (`care_commission_required`). The pages act for the
commission's care provider (the owner of the information a block hides) and, for temporary
revokes, at the commission's care unit. Finding the patient is a POST, audited once
(`block.patient_looked_up`) and kept in the session as `apps.selfservice.lookup` describes. A block
of another care provider answers 404, except on the temporary revoke page when it is in force and
hides information from the commission's care unit; a temporary revoke for another unit answers
404. Dates are Swedish calendar days and times Swedish local time, stored in UTC.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from apps.authn.decorators import acting_commission, acting_user, staff_required
from apps.blocks import policies, selectors, services
from apps.blocks.models import Block, TemporaryRevoke
from apps.consents.selectors import employee_list_for_unit
from apps.core.errors import PortalError
from apps.core.forms import DateField, add_portal_error, end_of_last_day, start_of_day
from apps.core.paging import COUNT_CAP, capped_count, keyset_page_for_request
from apps.organisations.selectors import care_unit_list_for_provider
from apps.selfservice.care import care_commission_required
from apps.selfservice.lookup import FindPatientForm, Lookup, PatientLookup
from apps.selfservice.patient import employee_label, unit_choices

if TYPE_CHECKING:
    from apps.commissions.models import Employee
    from apps.organisations.models import Organisation

LOOKUP = PatientLookup("selfservice_care_blocks_lookup")
#: Blocks on one page of the care provider's list.
PAGE_SIZE = 50

# --- forms ----------------------------------------------------------------------------------------

BLOCK_TYPE_CHOICES = [
    (Block.Type.INNER.value, _("Inner block: the care unit's information is hidden from the care "
                               "provider's other care units")),
    (Block.Type.OUTER.value, _("Outer block: the information is hidden from other care providers")),
]
EXCLUDABLE_CHOICES = [
    ("lak", _("Medication (lak)")),
    ("upp", _("Alert information (upp)")),
]


class BlockForm(forms.Form):
    """A new block of the present patient's information at my care provider. `units` are the
    care provider's care units; `chosen_unit()` is the one chosen, if any; `period()` the
    information period in UTC ([00:00 on the first day, 00:00 after the last day), either end
    open)."""

    block_type = forms.ChoiceField(label=_("Type of block"), choices=BLOCK_TYPE_CHOICES,
                                   widget=forms.RadioSelect)
    care_unit = forms.ChoiceField(
        label=_("Care unit whose information is blocked"), required=False,
        help_text=_("Required for an inner block. For an outer block, leave it empty to block all "
                    "of the care provider's information."),
        error_messages={"invalid_choice": _("Choose a care unit of this care provider.")},
    )
    period_start = DateField(label=_("Information from (first day, optional)"), required=False)
    period_end = DateField(
        label=_("Information until (last day, optional)"), required=False,
        help_text=_("Leave both dates empty to block all information, whenever it was written."),
    )
    excluded_types = forms.MultipleChoiceField(
        label=_("Leave visible despite the block (optional)"), choices=EXCLUDABLE_CHOICES,
        required=False, widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("Only medication and alert information can be "
                                            "excluded from a block.")},
    )
    patient_present = forms.BooleanField(
        label=_("The patient is present and asks for this block"),
        error_messages={"required": _("Confirm that the patient is present and asks for this "
                                      "block.")},
    )

    def __init__(self, *args: Any, units: list[Organisation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.units = {str(u.pk): u for u in units}
        self.fields["care_unit"].choices = unit_choices(units)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("period_start"), data.get("period_end")
        if first and last and last < first:
            self.add_error("period_end", _("The last day cannot be before the first day."))
        return data

    def chosen_unit(self) -> Organisation | None:
        return self.units.get(self.cleaned_data.get("care_unit") or "")

    def period(self) -> tuple[datetime | None, datetime | None]:
        first, last = self.cleaned_data.get("period_start"), self.cleaned_data.get("period_end")
        return (start_of_day(first) if first else None, end_of_last_day(last) if last else None)


class ReasonForm(forms.Form):
    """Why: for lifting, removing, or ending a temporary lifting early."""

    reason = forms.CharField(label=_("Reason"), max_length=1000,
                             widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, label: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].label = label


class LocalDateTimeInput(forms.DateTimeInput):
    """The browser's date and time picker (`datetime-local`), values as `YYYY-MM-DDTHH:MM`."""

    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M")


class TemporaryRevokeForm(forms.Form):
    """Lift a block for my care unit until a time: for all its staff with a care commission, or one
    of them (`employees`, by pk); `chosen_employee()` is the one chosen, if any."""

    reason = forms.ChoiceField(label=_("Reason"), choices=TemporaryRevoke.Reason.choices,
                               widget=forms.RadioSelect)
    employee = forms.ChoiceField(
        label=_("Who may read"), required=False,
        help_text=_("In an emergency the lifting applies to you only."),
        error_messages={"invalid_choice": _("This staff member has no active care commission at "
                                            "the care unit. Choose from the list.")},
    )
    valid_until = forms.DateTimeField(
        label=_("Lifted until"), widget=LocalDateTimeInput(),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        help_text=_("Date and time, Swedish time; at most 7 days from now."),
    )

    def __init__(self, *args: Any, employees: list[Employee], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.employees = {str(e.pk): e for e in employees}
        self.fields["employee"].choices = [  # type: ignore[attr-defined]
            ("", _("All staff with a care commission at the care unit")),
            *((pk, employee_label(e)) for pk, e in self.employees.items()),
        ]
        self.fields["valid_until"].initial = timezone.localtime() + timedelta(hours=24)

    def clean_valid_until(self) -> datetime:
        value: datetime = self.cleaned_data["valid_until"]
        if not 1900 <= value.year <= 2199:  # far years overflow when converted to UTC
            raise forms.ValidationError(_("Enter a date between 1900 and 2199."))
        return value

    def chosen_employee(self) -> Employee | None:
        return self.employees.get(self.cleaned_data.get("employee") or "")


class BlockFilterForm(forms.Form):
    """The care provider's list: which care unit and which state."""

    care_unit = forms.ChoiceField(label=_("Care unit"), required=False)
    status = forms.ChoiceField(label=_("State"), required=False,
                               choices=[("", _("All states")), *Block.Status.choices])

    def __init__(self, *args: Any, units: list[Organisation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.units = {str(u.pk): u for u in units}
        self.fields["care_unit"].choices = [  # type: ignore[attr-defined]
            ("", _("All care units")), *((pk, u.name) for pk, u in self.units.items())]


# --- helpers --------------------------------------------------------------------------------------

def _provider(request: HttpRequest) -> Organisation:
    """The care provider of the commission acted under: whose blocks these pages show."""
    return acting_commission(request).care_provider


def _unit(request: HttpRequest) -> Organisation:
    """The care unit of the commission acted under (`care_commission_required` ensures one)."""
    unit = acting_commission(request).care_unit
    assert unit is not None
    return unit


def _current(request: HttpRequest) -> Lookup | None:
    return LOOKUP.current(request, [_unit(request)])


def _patient_first(request: HttpRequest, block: Block) -> HttpResponse | None:
    """Back to the search, with a message, unless the block's patient is the one looked up (and
    so present, or identified in an emergency): a block is lifted, removed or temporarily lifted
    on the patient's own request or consent (Inera's Spärr contract), never from a list by id."""
    current = _current(request)
    if current is not None and current.patient.pk == block.patient_id:
        return None
    messages.info(request, _("Look the patient up first: blocks are changed with the patient."))
    return redirect("selfservice:care_blocks")


def _back(request: HttpRequest, block: Block) -> HttpResponse:
    """To the patient's page when the patient of `block` is the one looked up, else to the list."""
    current = _current(request)
    if current is not None and current.patient.pk == block.patient_id:
        return redirect("selfservice:care_blocks")
    return redirect("selfservice:care_block_list")


# --- pages ----------------------------------------------------------------------------------------

@staff_required
@care_commission_required
@require_http_methods(["GET", "POST"])
def blocks_view(request: HttpRequest) -> HttpResponse:
    """Find the patient (POST, audited once), then show all the patient's blocks of my care
    provider (active, lifted, removed) with their temporary revokes, and what I may do with each;
    and the patient's blocks in force of other care providers that hide information from my care
    unit, with what they cover and any temporary revoke in force for my unit or me, never who
    registered them or why (docs/decisions.md, "Blocks")."""
    commission = acting_commission(request)
    unit = _unit(request)
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "find":
        LOOKUP.forget(request)  # a new lookup replaces the last one, also when it fails
    find = FindPatientForm(request.POST if action == "find" else None)
    if action == "find" and find.is_valid():
        assert find.patient is not None
        services.patient_looked_up(actor=acting_user(request), commission=commission,
                                   patient=find.patient)
        LOOKUP.remember(request, Lookup(unit=unit, patient=find.patient))
        return redirect("selfservice:care_blocks")
    current = None if action == "find" else _current(request)
    now = timezone.now()
    rows: list[dict[str, Any]] = []
    hidden: list[Block] = []
    if current is not None:
        rows = [{"block": b, "may_lift_here": policies.block_hides_from(b, unit)}
                for b in selectors.block_list_for_patient(current.patient, commission.care_provider)]
        hidden = selectors.block_list_hiding_from(current.patient, unit,
                                                  employee=commission.employee, when=now)
    revokes = [(row["block"], r) for row in rows for r in row["block"].temporary_revokes.all()]
    return render(request, "selfservice/care/blocks/blocks.html", {
        "find": find, "acting": commission, "unit": unit,
        "patient": current.patient if current else None, "rows": rows, "revokes": revokes,
        "hidden": hidden, "now": now,
    })


@staff_required
@care_commission_required
@require_http_methods(["GET", "POST"])
def register_view(request: HttpRequest) -> HttpResponse:
    """Register a block for the patient looked up (who is present), at my care provider."""
    current = _current(request)
    if current is None:
        messages.error(request, _("Find the patient again: the lookup has ended."))
        return redirect("selfservice:care_blocks")
    commission = acting_commission(request)
    units = list(care_unit_list_for_provider(commission.care_provider))
    form = BlockForm(request.POST if request.method == "POST" else None, units=units)
    if request.method == "POST" and form.is_valid():
        period_start, period_end = form.period()
        try:
            services.block_register(
                actor=acting_user(request), commission=commission, patient=current.patient,
                block_type=form.cleaned_data["block_type"], care_provider=commission.care_provider,
                care_unit=form.chosen_unit(), period_start=period_start, period_end=period_end,
                excluded_types=form.cleaned_data["excluded_types"],
            )
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            messages.success(request, _("The block has been registered."))
            return redirect("selfservice:care_blocks")
    return render(request, "selfservice/care/blocks/register.html", {
        "form": form, "patient": current.patient, "acting": commission,
    })


def _close_view(request: HttpRequest, block_id: uuid.UUID, *, remove: bool) -> HttpResponse:
    commission = acting_commission(request)
    block = selectors.block_get(block_id, commission.care_provider)
    if (elsewhere := _patient_first(request, block)) is not None:
        return elsewhere
    form = ReasonForm(request.POST if request.method == "POST" else None,
                      label=str(_("Why is the registration wrong?") if remove else
                                _("Reason for lifting")))
    if request.method == "POST" and form.is_valid():
        close = services.block_delete if remove else services.block_revoke
        try:
            close(actor=acting_user(request), commission=commission, block=block,
                  reason=form.cleaned_data["reason"])
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            messages.success(request, _("The block has been removed as a wrong registration.")
                             if remove else _("The block has been lifted."))
            return _back(request, block)
    return render(request, "selfservice/care/blocks/close.html", {
        "b": block, "form": form, "remove": remove,
    })


@staff_required
@care_commission_required
@require_http_methods(["GET", "POST"])
def revoke_view(request: HttpRequest, block_id: uuid.UUID) -> HttpResponse:
    """Lift a block of my care provider permanently (hävning) on the patient's request, with a
    reason, after a page that says it is final. Another care provider's block: 404."""
    return _close_view(request, block_id, remove=False)


@staff_required
@care_commission_required
@require_http_methods(["GET", "POST"])
def delete_view(request: HttpRequest, block_id: uuid.UUID) -> HttpResponse:
    """Remove a wrongly registered block of my care provider (makulering), with a reason, after a
    page that says it is final and that the block never counted. Another care provider's: 404."""
    return _close_view(request, block_id, remove=True)


@staff_required
@care_commission_required
@require_http_methods(["GET", "POST"])
def temporary_revoke_view(request: HttpRequest, block_id: uuid.UUID) -> HttpResponse:
    """Lift a block that hides information from my care unit temporarily (tillfällig hävning) for
    that unit: all its staff with a care commission or one named employee, with the patient's
    consent or in an emergency, until a time at most 7 days ahead (Inera's Spärr contract). The
    block is my care provider's or, in force, another's (`selectors.block_get_hiding_from`); of
    another's, the page shows what it covers, never who registered it. A block that hides nothing
    from my unit: 404."""
    commission = acting_commission(request)
    unit = _unit(request)
    block = selectors.block_get_hiding_from(block_id, unit)
    if (elsewhere := _patient_first(request, block)) is not None:
        return elsewhere
    employees = list(employee_list_for_unit(unit, timezone.now()))
    form = TemporaryRevokeForm(request.POST if request.method == "POST" else None,
                               employees=employees)
    if request.method == "POST" and form.is_valid():
        try:
            services.temporary_revoke_register(
                actor=acting_user(request), commission=commission, block=block, care_unit=unit,
                reason=form.cleaned_data["reason"], valid_until=form.cleaned_data["valid_until"],
                employee=form.chosen_employee(),
            )
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            messages.success(request, _("The block has been lifted temporarily for %(unit)s.")
                             % {"unit": unit.name})
            return _back(request, block)
    return render(request, "selfservice/care/blocks/temporary_revoke.html", {
        "b": block, "form": form, "unit": unit,
        "foreign": block.care_provider_id != commission.care_provider_id,
    })


@staff_required
@care_commission_required
@require_http_methods(["GET", "POST"])
def temporary_revoke_cancel_view(request: HttpRequest, revoke_id: uuid.UUID) -> HttpResponse:
    """End a temporary lifting for my care unit early, with a reason. Another unit's: 404."""
    commission = acting_commission(request)
    revoke = selectors.temporary_revoke_get(revoke_id, _unit(request))
    form = ReasonForm(request.POST if request.method == "POST" else None,
                      label=str(_("Reason for ending early")))
    if request.method == "POST" and form.is_valid():
        try:
            services.temporary_revoke_cancel(actor=acting_user(request), commission=commission,
                                             revoke=revoke, reason=form.cleaned_data["reason"])
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            messages.success(request, _("The temporary lifting has been ended."))
            return _back(request, revoke.block)
    return render(request, "selfservice/care/blocks/temporary_revoke_end.html", {
        "revoke": revoke, "b": revoke.block, "form": form, "now": timezone.now(),
        "foreign": revoke.block.care_provider_id != commission.care_provider_id,
    })


@staff_required
@care_commission_required
@require_GET
def list_view(request: HttpRequest) -> HttpResponse:
    """The blocks of my care provider's information, newest first, PAGE_SIZE a page by keyset
    (`?after=`, `?before=`) with how many match counted up to `COUNT_CAP`, filtered by care unit
    and state, with each patient's name and personnummer."""
    provider = _provider(request)
    units = list(care_unit_list_for_provider(provider))
    form = BlockFilterForm(request.GET or None, units=units)
    unit: Organisation | None = None
    status = ""
    if form.is_valid():
        unit = form.units.get(form.cleaned_data["care_unit"] or "")
        status = form.cleaned_data["status"] or ""
    blocks = selectors.block_list_for_care_provider(provider, care_unit=unit, status=status)
    count = capped_count(blocks, COUNT_CAP)
    page = keyset_page_for_request(request, blocks, selectors.BLOCK_LIST_KEYS, size=PAGE_SIZE)
    services.block_list_viewed(actor=acting_user(request), commission=acting_commission(request),
                               care_unit=unit, status=status,
                               position=request.GET.get("after") or request.GET.get("before") or "",
                               shown=len(page))
    query = request.GET.copy()
    for key in ("page", "after", "before"):
        query.pop(key, None)
    return render(request, "selfservice/care/blocks/list.html", {
        "form": form, "page": page, "count": count,
        "count_cap": number_format(COUNT_CAP, force_grouping=True),
        "acting": acting_commission(request), "provider": provider, "query": query.urlencode(),
    })


urlpatterns = [
    path("care/blocks/", blocks_view, name="care_blocks"),
    path("care/blocks/register/", register_view, name="care_block_register"),
    path("care/blocks/all/", list_view, name="care_block_list"),
    path("care/blocks/<uuid:block_id>/lift/", revoke_view, name="care_block_revoke"),
    path("care/blocks/<uuid:block_id>/remove/", delete_view, name="care_block_delete"),
    path("care/blocks/<uuid:block_id>/lift-temporarily/", temporary_revoke_view,
         name="care_block_temporary_revoke"),
    path("care/blocks/temporary-liftings/<uuid:revoke_id>/end/", temporary_revoke_cancel_view,
         name="care_block_temporary_revoke_end"),
]
