"""Emergency access follow-up (uppföljning av nödåtkomst): a local administrator lists the
emergency openings made at the care units (or care providers) of their scope, the ones not yet
followed up first, and marks each followed up, once, with what the follow-up found.

The care provider follows up every emergency access (PDL 2008:355 4 kap. 3 §, 6 kap. 4 §;
HSLF-FS 2016:40 4 kap. 9 §). Pages are keyset paginated (no count), one statement a page
(`apps.rules.selectors`); an opening outside the scope is answered 404 like a missing one. The
service checks the scope again (`apps.rules.policies.require_follow_up`); the views hold no rule.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from apps.authn.decorators import acting_user, loa_required, staff_required
from apps.core.errors import PortalError
from apps.core.forms import add_portal_error
from apps.rules import audit as rules_audit
from apps.rules import policies, selectors, services
from apps.rules.selectors import OpeningPosition

from .forms import EmergencyReviewForm

PAGE_SIZE = 50

#: The two lists of the page (`?state=`): to follow up (the default) and followed up.
STATES = ("open", "reviewed")


def person_number_text(stored: str | None) -> str:
    """A stored 12-digit personnummer or samordningsnummer as `YYYYMMDD-NNNN`; "" for none."""
    if not stored:
        return ""
    return f"{stored[:8]}-{stored[8:]}" if len(stored) == 12 and stored.isdigit() else stored


def _row(opening: Any) -> dict[str, Any]:
    """What a page shows of one opening (all read by the selector's one statement)."""
    employee = opening.commission.employee
    return {
        "opening": opening,
        "staff": employee.person,
        "employee_hsa_id": employee.hsa_id,
        "acting_unit": opening.care_unit or opening.care_provider,
        "owner": opening.owner_unit or opening.owner_provider,
        "owner_provider": opening.owner_provider,
        "patient_number": person_number_text(opening.patient_number),
        "activity": rules_audit.activity_text(opening.activity),
        "information_type": rules_audit.information_type_text(opening.information_type),
    }


@staff_required
@loa_required("administration")
def emergency_list(request: HttpRequest) -> HttpResponse:
    """The list (`?state=open|reviewed&after=<position>`): to follow up, oldest first, or followed
    up, newest first, PAGE_SIZE a page. A position that is not one the page wrote shows the first
    page and says so; an unknown state shows the list to follow up. 404 for anyone who is not a
    local administrator."""
    roots = policies.require_follow_up_scope(acting_user(request))
    state = request.GET.get("state", "open")
    if state not in STATES:
        state = "open"
    after = None
    if request.GET.get("after"):
        try:
            after = OpeningPosition.decode(request.GET["after"])
        except ValueError:
            messages.warning(request, _("The page link was not valid, so the first page is "
                                        "shown."))
    openings, next_position = selectors.emergency_opening_page_in_scope(
        roots, reviewed=state == "reviewed", after=after, size=PAGE_SIZE)
    return render(request, "administration/emergency_list.html", {
        "roots": roots, "state": state, "rows": [_row(o) for o in openings],
        "first_page": after is None, "page_size": PAGE_SIZE,
        "next_position": next_position.encode() if next_position else "",
    })


@staff_required
@loa_required("administration")
def emergency_detail(request: HttpRequest, opening_id: uuid.UUID) -> HttpResponse:
    """One opening and, until it is followed up, the form to mark it followed up with a comment
    (`apps.rules.services.emergency_review`). The service's refusals (an empty or too long
    comment, followed up already, also by another administrator a moment ago) are shown on the
    form, with the opening as it now is. 404 outside the administrator's scope."""
    roots = policies.require_follow_up_scope(acting_user(request))
    opening = selectors.emergency_opening_get_in_scope(roots, opening_id)
    form = EmergencyReviewForm(request.POST or None)
    status = 200
    if request.method == "POST" and opening.reviewed_at is None and form.is_valid():
        try:
            services.emergency_review(actor=acting_user(request), opening=opening,
                                      comment=form.cleaned_data["comment"])
        except PortalError as exc:
            add_portal_error(form, exc)
            opening = selectors.emergency_opening_get_in_scope(roots, opening_id)
            status = 409 if exc.code == "emergency.already_reviewed" else 200
        else:
            messages.success(request, _("The emergency access was marked as followed up."))
            return redirect("administration:emergency_list")
    elif request.method == "POST" and opening.reviewed_at is not None:
        form.add_error(None, _("This emergency access has already been followed up."))
        status = 409
    return render(request, "administration/emergency_detail.html", {
        "row": _row(opening), "opening": opening, "form": form,
    }, status=status)
