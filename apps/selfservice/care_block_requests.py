"""Staff self-service: answer patients' block requests (begäran om spärr).

For a staff member logged in with password and second factor (`staff_required`) who acts under a
chosen care commission (purpose "Vård och behandling", `commission_required`): the pending requests
about the information of that commission's care provider, oldest first, each opening a page with
the patient's name and personnummer and the asked-for block. The staff member confirms it after
meeting the patient and checking their identity (a required checkbox), which registers the block,
or declines it with a reason the patient sees (docs/decisions.md, "Block requests"). Another care
provider's request answers 404. The services check the commission again when they write
(`apps.blocks.policies.require_block_owner_staff`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from apps.authn.decorators import acting_commission, commission_required, staff_required
from apps.blocks import selectors, services
from apps.blocks.models import BlockRequest
from apps.commissions.vocabularies import Purpose
from apps.core.errors import PortalError
from apps.core.forms import add_portal_error


class ConfirmForm(forms.Form):
    patient_met = forms.BooleanField(
        label=_("I have met the patient and checked their identity"),
        error_messages={"required": _("Confirm that you have met the patient and checked their "
                                      "identity.")},
    )


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for declining"), max_length=1000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The patient sees this on their page. For example: please come to the care "
                    "unit so that we can check your identity."),
    )


#: The commission these pages act under: care and treatment (at a unit or the care provider).
care_commission_required = commission_required(purpose=Purpose.CARE)


@staff_required
@care_commission_required
def list_view(request: HttpRequest) -> HttpResponse:
    """Pending block requests about the acting commission's care provider, oldest first."""
    commission = acting_commission(request)
    pending = list(selectors.block_request_list_pending_for_provider(commission.care_provider))
    return render(request, "selfservice/care/block_requests.html",
                  {"requests": pending, "care_provider": commission.care_provider})


@staff_required
@care_commission_required
@require_http_methods(["GET", "POST"])
def decide_view(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    """One request: the patient and the asked-for block; confirm (registers the block) or
    decline with a reason. Another care provider's request: 404. A request answered or withdrawn
    meanwhile is shown again with a message saying so."""
    commission = acting_commission(request)
    block_request = selectors.block_request_get_for_provider(commission.care_provider, request_id)
    action = request.POST.get("action") if request.method == "POST" else None
    confirm = ConfirmForm(request.POST if action == "confirm" else None, prefix="confirm")
    decline = DeclineForm(request.POST if action == "decline" else None, prefix="decline")
    answer: tuple[forms.Form, Callable[[], object], str | Promise] | None = None
    if action == "confirm" and confirm.is_valid():
        answer = (confirm, lambda: services.block_request_confirm(
            actor=request.user, commission=commission,  # type: ignore[arg-type]
            request=block_request, patient_met=confirm.cleaned_data["patient_met"]),
            _("The block has been registered."))
    elif action == "decline" and decline.is_valid():
        answer = (decline, lambda: services.block_request_decline(
            actor=request.user, commission=commission,  # type: ignore[arg-type]
            request=block_request, reason=decline.cleaned_data["reason"]),
            _("The request has been declined."))
    if answer is not None:
        form, call, done = answer
        try:
            call()
        except PortalError as exc:
            if exc.code != "block_request.not_pending":
                add_portal_error(form, exc)
            else:
                messages.error(request, str(exc.message))
                return redirect("selfservice:care_block_request", request_id=block_request.pk)
        else:
            messages.success(request, str(done))
            return redirect("selfservice:care_block_requests")
    return render(request, "selfservice/care/block_request.html", {
        "block_request": block_request, "confirm": confirm, "decline": decline,
        "pending": block_request.state == BlockRequest.State.PENDING,
    })


urlpatterns = [
    path("care/block-requests/", list_view, name="care_block_requests"),
    path("care/block-requests/<uuid:request_id>/", decide_view, name="care_block_request"),
]
