"""Administration pages (journey 1): local administrators find staff, see their commissions, roles and
audit history, grant and end commissions and system roles.

Every page needs a staff login with a second factor (`staff_required`) and shows only what lies in
the administrator's scope: the subtrees of their active local administrator roles
(`commissions.policies.scope_roots`). Anything outside is answered with 404, the same as a missing
object, so existence never leaks. The services check the scope again; the views hold no rule.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.audit import registry
from apps.audit.models import AuditEvent
from apps.authn.decorators import staff_required
from apps.commissions import policies, selectors, services
from apps.commissions.models import Commission, RoleAssignment
from apps.core.errors import PortalError
from apps.core.forms import add_portal_error
from apps.identities.models import Person, User
from apps.organisations.models import Organisation
from apps.organisations.selectors import care_unit_list_in_subtrees, organisation_list_in_subtrees

from .forms import CommissionGrantForm, EndForm, RoleGrantForm, SearchForm

PAGE_SIZE = 25
HISTORY_PAGE_SIZE = 25

STATUS_LABELS = {
    "active": _("Active"),
    "upcoming": _("Upcoming"),
    "expired": _("Expired"),
    "ended": _("Ended"),
}


def _actor(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # guaranteed by staff_required
    return user


def _roots_or_404(request: HttpRequest) -> list[Organisation]:
    roots = policies.scope_roots(_actor(request))
    if not roots:
        raise Http404
    return roots


def _person_or_404(roots: list[Organisation], person_id: uuid.UUID) -> Person:
    return selectors.person_get_in_scope(roots, person_id)  # NotFound → 404 (PortalErrorMiddleware)


@dataclass(frozen=True)
class Listed:
    """A commission or role assignment with its status (`active`, `upcoming`, `expired`, `ended`)."""

    item: Commission | RoleAssignment
    status: str

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS[self.status])


@dataclass(frozen=True)
class HistoryRow:
    """An audit event with the registry's label of its action (the code when unregistered)."""

    event: AuditEvent
    label: str


def _action_label(code: str) -> str:
    try:
        return str(registry.get(code).label)
    except KeyError:
        return code


def validity_status(obj: Commission | RoleAssignment, now: datetime) -> str:
    """`ended` (ended early), `expired` (past valid_until), `upcoming` (before valid_from) or
    `active`. Validity is [valid_from, valid_until), times in UTC."""
    if obj.ended_at is not None:
        return "ended"
    if obj.valid_until is not None and obj.valid_until <= now:
        return "expired"
    if obj.valid_from > now:
        return "upcoming"
    return "active"


@staff_required
def person_list(request: HttpRequest) -> HttpResponse:
    """Staff in the administrator's scope, searchable by name, employee HSA-id or personnummer,
    25 per page (`?q=...&page=n`). A constant number of queries whatever the page size."""
    roots = policies.scope_roots(_actor(request))
    form = SearchForm(request.GET or None)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    page = None
    if roots:
        people = selectors.person_search_in_scope(roots, query).prefetch_related(
            selectors.employees_in_scope_prefetch(roots)
        )
        page = Paginator(people, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "administration/person_list.html", {
        "form": form, "query": query, "page": page, "roots": roots,
    })


@staff_required
def person_detail(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    """One staff member: commissions, roles and audit history (`?history=n` pages the history)."""
    roots = _roots_or_404(request)
    person = _person_or_404(roots, person_id)
    now = timezone.now()
    commissions = [Listed(c, validity_status(c, now))
                   for c in selectors.commission_list_for_person_in_scope(person, roots)]
    roles = [Listed(r, validity_status(r, now))
             for r in selectors.role_list_for_person_in_scope(person, roots)]
    history = Paginator(selectors.audit_list_for_person_in_scope(person, roots),
                        HISTORY_PAGE_SIZE).get_page(request.GET.get("history"))
    return render(request, "administration/person_detail.html", {
        "person": person,
        "employees": selectors.employee_list_for_person_in_scope(person, roots),
        "commissions": commissions,
        "roles": roles,
        "history": history,
        "history_rows": [HistoryRow(e, _action_label(e.action)) for e in history],
        "is_self": person.pk == _actor(request).person_id,  # separation of duties: no actions
    })


@staff_required
def commission_grant(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    """Grant a commission to the person (commissions.services.commission_grant)."""
    roots = _roots_or_404(request)
    person = _person_or_404(roots, person_id)
    form = CommissionGrantForm(
        request.POST or None,
        employees=selectors.employee_list_for_person_in_scope(person, roots),
        care_units=care_unit_list_in_subtrees(roots),
    )
    if request.method == "POST" and form.is_valid():
        valid_from, valid_until = form.validity()
        try:
            services.commission_grant(
                actor=_actor(request), employee=form.cleaned_data["employee"],
                care_unit=form.cleaned_data["care_unit"], purpose=form.cleaned_data["purpose"],
                rights=form.rights(), valid_from=valid_from, valid_until=valid_until,
            )
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            messages.success(request, _("The commission was granted."))
            return redirect("administration:person_detail", person_id=person.pk)
    return render(request, "administration/commission_grant.html", {"person": person, "form": form})


@staff_required
def commission_end(request: HttpRequest, person_id: uuid.UUID, commission_id: uuid.UUID) -> HttpResponse:
    """End one of the person's commissions now, with a reason (commissions.services.commission_end)."""
    roots = _roots_or_404(request)
    person = _person_or_404(roots, person_id)
    commission = selectors.commission_get_for_person_in_scope(person, roots, commission_id)
    form = EndForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.commission_end(actor=_actor(request), commission=commission,
                                    reason=form.cleaned_data["reason"])
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            messages.success(request, _("The commission was ended."))
            return redirect("administration:person_detail", person_id=person.pk)
    return render(request, "administration/commission_end.html", {
        "person": person, "commission": commission, "form": form,
    })


@staff_required
def role_grant(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    """Grant a system role over an organisation in scope (commissions.services.role_grant)."""
    roots = _roots_or_404(request)
    person = _person_or_404(roots, person_id)
    form = RoleGrantForm(request.POST or None, organisations=organisation_list_in_subtrees(roots))
    if request.method == "POST" and form.is_valid():
        valid_from, valid_until = form.validity()
        try:
            services.role_grant(
                actor=_actor(request), person=person, role=form.cleaned_data["role"],
                organisation=form.cleaned_data["organisation"], valid_from=valid_from,
                valid_until=valid_until,
            )
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            messages.success(request, _("The role was granted."))
            return redirect("administration:person_detail", person_id=person.pk)
    return render(request, "administration/role_grant.html", {"person": person, "form": form})


@staff_required
def role_end(request: HttpRequest, person_id: uuid.UUID, assignment_id: uuid.UUID) -> HttpResponse:
    """End one of the person's role assignments now, with a reason (commissions.services.role_end)."""
    roots = _roots_or_404(request)
    person = _person_or_404(roots, person_id)
    assignment = selectors.role_get_for_person_in_scope(person, roots, assignment_id)
    form = EndForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.role_end(actor=_actor(request), assignment=assignment,
                              reason=form.cleaned_data["reason"])
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            messages.success(request, _("The role was ended."))
            return redirect("administration:person_detail", person_id=person.pk)
    context: dict[str, Any] = {"person": person, "assignment": assignment, "form": form}
    return render(request, "administration/role_end.html", context)
