"""Patient self-service: "My blocks" (spärrar) and asking for one (a block request).

Pages for a logged-in patient (`patient_required`). The patient sees their blocks (type in plain
words, state, whose information, the information period, the types kept visible) with their
temporary liftings, and their block requests; they ask for a block and may withdraw a request
while it waits. Staff at the care provider confirm or decline the request
(`care_block_requests`; docs/decisions.md, "Block requests"). Only the patient's own account asks:
guardians cannot ask on a child's behalf (PDL 2008:355 4 kap. 4 §).

The information period is chosen as Swedish calendar days, both optional and included: from 00:00
Europe/Stockholm on the first day to 00:00 after the last, stored in UTC.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from apps.authn.decorators import patient_required
from apps.blocks import selectors, services
from apps.blocks.models import Block, BlockRequest
from apps.commissions.vocabularies import InformationClass
from apps.core.errors import PortalError
from apps.core.forms import DateField, add_portal_error, end_of_last_day, start_of_day
from apps.organisations import selectors as organisation_selectors
from apps.selfservice.patient import unit_choices

TYPE_CHOICES = [
    (Block.Type.INNER.value,
     _("Inner block: hide one care unit's information from the rest of its care provider")),
    (Block.Type.OUTER.value,
     _("Outer block: hide a care provider's information from other care providers")),
]
EXCLUDE_CHOICES = [
    (InformationClass.MEDICATION.value, _("Medication")),
    (InformationClass.ALERTS.value, _("Alert information (for example allergies)")),
]


class BlockRequestForm(forms.Form):
    """What the patient asks to block. An inner block names a care unit (its care provider follows
    from it); an outer block names a care provider. Both lists are on the page at once, so the
    form works without JavaScript; the one that does not fit the chosen type is ignored."""

    block_type = forms.ChoiceField(
        label=_("Type of block"), choices=TYPE_CHOICES, widget=forms.RadioSelect,
        error_messages={"required": _("Choose inner or outer block."),
                        "invalid_choice": _("Choose inner or outer block.")},
    )
    care_unit = forms.ChoiceField(
        label=_("Care unit (for an inner block)"), required=False,
        help_text=_("The care unit whose information you want hidden from the rest of its care "
                    "provider."),
        error_messages={"invalid_choice": _("Choose a care unit from the list.")},
    )
    care_provider = forms.ChoiceField(
        label=_("Care provider (for an outer block)"), required=False,
        help_text=_("The care provider whose information you want hidden from other care "
                    "providers."),
        error_messages={"invalid_choice": _("Choose a care provider from the list.")},
    )
    first_day = DateField(
        label=_("Information from (optional)"), required=False,
        help_text=_("Block only information recorded from this day. Leave empty for all earlier "
                    "information."),
    )
    last_day = DateField(
        label=_("Information until (optional)"), required=False,
        help_text=_("Block only information recorded up to and including this day. Leave empty "
                    "for all later information."),
    )
    excluded_types = forms.MultipleChoiceField(
        label=_("Keep visible despite the block (optional)"), choices=EXCLUDE_CHOICES,
        required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("Information that can matter for your safety may stay visible to all care "
                    "staff."),
        error_messages={"invalid_choice": _("Only medication and alert information can be kept "
                                            "visible.")},
    )
    message = forms.CharField(
        label=_("Message to the staff (optional)"), required=False,
        max_length=BlockRequest.MESSAGE_MAX, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("At most 500 characters. For example when you can come to the care unit."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        units = list(organisation_selectors.care_unit_list())
        self.units = {str(u.pk): u for u in units}
        self.providers = {str(p.pk): p for p in selectors.care_provider_list()}
        self.fields["care_unit"].choices = unit_choices(units)  # type: ignore[attr-defined]
        self.fields["care_provider"].choices = [  # type: ignore[attr-defined]
            ("", _("Choose a care provider")), *((pk, p.name) for pk, p in self.providers.items())]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        block_type = data.get("block_type")
        if block_type == Block.Type.INNER and not data.get("care_unit"):
            self.add_error("care_unit", _("Choose the care unit whose information you want "
                                          "hidden."))
        if block_type == Block.Type.OUTER and not data.get("care_provider"):
            self.add_error("care_provider", _("Choose the care provider whose information you "
                                              "want hidden."))
        first, last = data.get("first_day"), data.get("last_day")
        if first and last and last < first:
            self.add_error("last_day", _("The last day cannot be before the first day."))
        return data

    def request_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `services.block_request_submit` from the cleaned data."""
        data = self.cleaned_data
        if data["block_type"] == Block.Type.INNER:
            unit = self.units[data["care_unit"]]
            provider = unit.care_provider
        else:
            unit, provider = None, self.providers[data["care_provider"]]
        first, last = data.get("first_day"), data.get("last_day")
        return {
            "block_type": data["block_type"], "care_provider": provider, "care_unit": unit,
            "period_start": start_of_day(first) if first else None,
            "period_end": end_of_last_day(last) if last else None,
            "excluded_types": data["excluded_types"], "message": data["message"],
        }


@patient_required
def blocks_view(request: HttpRequest) -> HttpResponse:
    """My blocks: my blocks (with their temporary liftings) and my block requests, newest first."""
    patient = request.user.person  # type: ignore[union-attr]
    return render(request, "selfservice/patient/blocks.html", {
        "blocks": list(selectors.block_list_for_patient(patient)),
        "requests": list(selectors.block_request_list_for_patient(patient)),
    })


@patient_required
@require_http_methods(["GET", "POST"])
def request_view(request: HttpRequest) -> HttpResponse:
    """Ask for a block: the form; on success back to My blocks, where the request waits for
    staff. A refusal of the service (e.g. too many pending requests) shows on the form."""
    patient = request.user.person  # type: ignore[union-attr]
    form = BlockRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.block_request_submit(actor=request.user,  # type: ignore[arg-type]
                                          patient=patient, **form.request_kwargs())
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            messages.success(request, _("Your request has been sent. Staff at the care provider "
                                        "will confirm the block after checking your identity."))
            return redirect("selfservice:patient_blocks")
    return render(request, "selfservice/patient/block_request.html", {"form": form})


@patient_required
@require_http_methods(["GET", "POST"])
def withdraw_view(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    """Confirm, then withdraw one of my pending block requests. Someone else's request: 404."""
    patient = request.user.person  # type: ignore[union-attr]
    block_request = selectors.block_request_get_for_patient(patient, request_id)  # NotFound → 404
    if request.method == "POST":
        try:
            services.block_request_withdraw(actor=request.user,  # type: ignore[arg-type]
                                            request=block_request)
        except PortalError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Your request has been withdrawn."))
        return redirect("selfservice:patient_blocks")
    if block_request.state != BlockRequest.State.PENDING:
        messages.error(request, _("This request has already been answered or withdrawn."))
        return redirect("selfservice:patient_blocks")
    return render(request, "selfservice/patient/block_request_withdraw.html",
                  {"block_request": block_request})


urlpatterns = [
    path("patient/blocks/", blocks_view, name="patient_blocks"),
    path("patient/blocks/request/", request_view, name="patient_block_request"),
    path("patient/blocks/requests/<uuid:request_id>/withdraw/", withdraw_view,
         name="patient_block_request_withdraw"),
]
