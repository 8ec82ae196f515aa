"""Administration pages: local administrators find staff, see their commissions, roles, login
accounts, mobile e-IDs, sessions and audit history, grant and end commissions and system roles,
and deactivate or reactivate login accounts (ending sessions: `sessions`).

Every page needs a staff login with a second factor (`staff_required`) and shows only what lies in
the administrator's scope: the subtrees of their active local administrator roles
(`commissions.policies.scope_roots`). Anything outside is answered with 404, the same as a missing
object, so existence never leaks. The services check the scope again; the views hold no rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from apps.audit import registry
from apps.audit.selectors import AUDIT_KEYS
from apps.authn import selectors as authn_selectors
from apps.authn import session
from apps.authn.decorators import acting_user, loa_required, staff_required
from apps.authn.methods import method_label
from apps.authn.models import UserSession
from apps.commissions import policies, selectors, services
from apps.core import loa as levels
from apps.core.errors import Forbidden, NotFound, PortalError
from apps.core.forms import add_portal_error
from apps.core.paging import COUNT_CAP, capped_count, keyset_page_for_request
from apps.core.queries import get_or_not_found
from apps.federation import policies as federation_policies
from apps.issuance import selectors as issuance_selectors
from apps.organisations.selectors import care_unit_list_in_subtrees, organisation_list_in_subtrees

from .forms import (
    AccountForm,
    CommissionGrantForm,
    EmployeeMoveForm,
    EndForm,
    JoinerForm,
    LeavePlanForm,
    PlanCancelForm,
    RoleGrantForm,
    SearchForm,
)

if TYPE_CHECKING:
    from apps.audit.models import AuditEvent
    from apps.identities.models import Person
    from apps.organisations.models import Organisation

PAGE_SIZE = 25
HISTORY_PAGE_SIZE = 25


def _roots_or_404(request: HttpRequest) -> list[Organisation]:
    roots = policies.scope_roots(acting_user(request))
    if not roots:
        raise Http404
    return roots


def _person_in_scope(request: HttpRequest, person_id: uuid.UUID) -> tuple[list[Organisation], Person]:
    """The administrator's scope and the person in it; 404 (NotFound) outside it."""
    roots = _roots_or_404(request)
    return roots, selectors.person_get_in_scope(roots, person_id)


def _submit(request: HttpRequest, form: forms.Form, action: Callable[[], object],
            done: str | Promise, person: Person) -> HttpResponse | None:
    """The one form → service → message → redirect step of these pages: on a valid POST run
    `action` (a service call); on success say `done` and go back to the person's page, on a
    refusal put the service's message next to the field it names. None: show the form again."""
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        action()
    except PortalError as exc:
        add_portal_error(form, exc)
        return None
    messages.success(request, str(done))
    return redirect("administration:person_detail", person_id=person.pk)


@dataclass(frozen=True)
class HistoryRow:
    """An audit event with the registry's label of its action."""

    event: AuditEvent
    label: str


@dataclass(frozen=True)
class SessionRow:
    """A login session as the pages show it: its login methods in words, its level (2, 3, 4 or
    0) and whether it is the administrator's own current session."""

    session: UserSession
    method: str
    level: int
    current: bool


def session_rows(sessions: Iterable[UserSession], request: HttpRequest) -> list[SessionRow]:
    current = session.current_key_hash(request)
    return [SessionRow(row, method_label(row.methods), levels.level(row.loa),
                       row.key_hash == current) for row in sessions]


@staff_required
@loa_required("administration")
def person_list(request: HttpRequest) -> HttpResponse:
    """Staff in the administrator's scope, searchable by name, username, employee or
    organisation HSA-id or personnummer (`selectors.person_search_in_scope`), PAGE_SIZE per page
    by keyset (`?q=...&after=<cursor>` or `&before=<cursor>`: "Next page", "Previous page"), with
    how many match counted up to `COUNT_CAP` ("More than 1,000"). A constant number of queries
    whatever the page or the number of people (docs/search-and-lists.md). Links to the e-ID
    providers' state page for those who may see it
    (`apps.federation.policies.can_view_identity_providers`)."""
    roots = policies.scope_roots(acting_user(request))
    form = SearchForm(request.GET or None)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    page = count = None
    if roots:
        people = selectors.person_search_in_scope(roots, query)
        count = capped_count(people, COUNT_CAP)
        page = keyset_page_for_request(
            request, people.prefetch_related(selectors.employees_in_scope_prefetch(roots)),
            selectors.PERSON_KEYS, size=PAGE_SIZE, sort_matches=bool(query))
    return render(request, "administration/person_list.html", {
        "form": form, "query": query, "page": page, "count": count, "roots": roots,
        "count_cap": number_format(COUNT_CAP, force_grouping=True),
        "page_query": urlencode({"q": query}) if query else "",
        "show_identity_providers": federation_policies.can_view_identity_providers(
            acting_user(request)),
    })


@staff_required
@loa_required("administration")
def person_detail(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    """One staff member: contact details, the home unit of each employee HSA-id, planned leavers
    (to cancel one), commissions, roles, login accounts (state, created, last login and its
    methods, second factors), mobile e-IDs (state, device, last use), active sessions of the
    staff accounts (to end one or all) and audit history (keyset pages: `?after=<cursor>` older
    events, `?before=<cursor>` newer ones).
    "Make a leaver" is offered only while something is left to end in the scope; the account and
    session actions only when the scope holds every employee HSA-id of the person
    (`policies.can_administer_person_wholly`, docs/decisions.md "Person-wide actions"), else
    they show read-only with why. A constant number of queries whatever the number of rows."""
    roots, person = _person_in_scope(request, person_id)
    now = timezone.now()
    is_self = person.pk == acting_user(request).person_id
    history = keyset_page_for_request(
        request, selectors.audit_list_for_person_in_scope(person, roots), AUDIT_KEYS,
        size=HISTORY_PAGE_SIZE)
    return render(request, "administration/person_detail.html", {
        "person": person,
        "now": now,
        "employees": selectors.employee_list_for_person_in_scope(person, roots),
        "commissions": selectors.commission_list_for_person_in_scope(person, roots),
        "roles": selectors.role_list_for_person_in_scope(person, roots),
        "accounts": authn_selectors.account_facts_list(
            selectors.staff_account_list_for_person(person)),
        "eids": issuance_selectors.eid_list_for_person(person),
        "enrolments": selectors.enrolment_list_for_person(person),
        "sessions": session_rows(authn_selectors.sessions_list_for_person(person, staff_only=True),
                                 request),
        "history": history,
        "history_rows": [HistoryRow(e, registry.label(e.action)) for e in history],
        "is_self": is_self,  # separation of duties: no actions
        "manages_account": not is_self and policies.can_administer_person_wholly(
            acting_user(request), person),
        "can_leave": not selectors.leave_plan_for_person(person, roots, now).empty,
        "planned": selectors.planned_leave_list_for_person(person, roots),
    })


@staff_required
@loa_required("administration")
def commission_grant(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    """Grant a commission to the person (commissions.services.commission_grant)."""
    roots, person = _person_in_scope(request, person_id)
    form = CommissionGrantForm(
        request.POST or None,
        employees=selectors.employee_list_for_person_in_scope(person, roots),
        care_units=care_unit_list_in_subtrees(roots), roots=roots,
    )

    def grant() -> object:
        valid_from, valid_until = form.period()
        return services.commission_grant(
            actor=acting_user(request), employee=form.cleaned_data["employee"],
            care_unit=form.cleaned_data["care_unit"], purpose=form.cleaned_data["purpose"],
            rights=form.rights(), valid_from=valid_from, valid_until=valid_until)

    return _submit(request, form, grant, _("The commission was granted."), person) or render(
        request, "administration/commission_grant.html", {"person": person, "form": form})


@staff_required
@loa_required("administration")
def commission_end(request: HttpRequest, person_id: uuid.UUID, commission_id: uuid.UUID) -> HttpResponse:
    """End one of the person's commissions now, with a reason (commissions.services.commission_end).
    A commission that already ended or expired shows its state, not the form."""
    roots, person = _person_in_scope(request, person_id)
    commission = selectors.commission_get_for_person_in_scope(person, roots, commission_id)
    form = EndForm(request.POST or None)
    done = _("The commission was ended.")
    if issuance_selectors.eid_count_active(person, timezone.now()):
        done = _("The commission was ended. If it was the last one, ask an e-ID issuer whether the "
                 "person's mobile e-IDs should be revoked.")
    response = _submit(request, form, lambda: services.commission_end(
        actor=acting_user(request), commission=commission, reason=form.cleaned_data["reason"]),
        done, person)
    return response or render(request, "administration/commission_end.html", {
        "person": person, "commission": commission, "form": form,
        "can_end": commission.can_end(timezone.now()),
    })


@staff_required
@loa_required("administration")
def role_grant(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    """Grant a system role over an organisation in scope (commissions.services.role_grant)."""
    roots, person = _person_in_scope(request, person_id)
    form = RoleGrantForm(request.POST or None, organisations=organisation_list_in_subtrees(roots),
                         roots=roots)

    def grant() -> object:
        valid_from, valid_until = form.period()
        return services.role_grant(
            actor=acting_user(request), person=person, role=form.cleaned_data["role"],
            organisation=form.cleaned_data["organisation"], valid_from=valid_from,
            valid_until=valid_until)

    return _submit(request, form, grant, _("The role was granted."), person) or render(
        request, "administration/role_grant.html", {"person": person, "form": form})


@staff_required
@loa_required("administration")
def role_end(request: HttpRequest, person_id: uuid.UUID, assignment_id: uuid.UUID) -> HttpResponse:
    """End one of the person's role assignments now, with a reason (commissions.services.role_end).
    A role that already ended or expired shows its state, not the form."""
    roots, person = _person_in_scope(request, person_id)
    assignment = selectors.role_get_for_person_in_scope(person, roots, assignment_id)
    form = EndForm(request.POST or None)
    response = _submit(request, form, lambda: services.role_end(
        actor=acting_user(request), assignment=assignment, reason=form.cleaned_data["reason"]),
        _("The role was ended."), person)
    context: dict[str, Any] = {"person": person, "assignment": assignment, "form": form,
                               "can_end": assignment.can_end(timezone.now())}
    return response or render(request, "administration/role_end.html", context)


@staff_required
@loa_required("administration")
def account_active(request: HttpRequest, person_id: uuid.UUID, user_id: uuid.UUID,
                   active: bool) -> HttpResponse:
    """Deactivate (`active=False`) or reactivate a login account of the person, with a reason
    (commissions.services.account_deactivate / account_reactivate). Deactivating shows first what
    it will do: end every session and activation code and revoke the person's mobile e-IDs."""
    _roots, person = _person_in_scope(request, person_id)
    account = selectors.staff_account_get_for_person(person, user_id)
    form = AccountForm(request.POST or None)
    service = services.account_reactivate if active else services.account_deactivate
    response = _submit(request, form, lambda: service(
        actor=acting_user(request), user=account, reason=form.cleaned_data["reason"]),
        _("The account was reactivated.") if active else _("The account was deactivated."),
        person)
    return response or render(request, "administration/account.html", {
        "person": person, "account": account, "form": form, "activate": active,
        "active_eids": issuance_selectors.eid_count_active(person, timezone.now()),
    })


@staff_required
@loa_required("administration")
def person_leave(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    """Make the person a leaver (commissions.services.person_leave): first the list of each change
    it makes in the administrator's part of the organisation, then once a reason, then all of it
    in one transaction; or plan it for after a last working day (`planned_leave_set`, the second
    form, `when=later`). Oneself is refused by the service (the page says so, without a form)."""
    roots, person = _person_in_scope(request, person_id)
    now = timezone.now()
    plan = selectors.leave_plan_for_person(person, roots, now)
    planning = request.POST.get("when") == "later"
    form = EndForm(None if planning else request.POST or None, prefix="now")
    later = LeavePlanForm(request.POST if planning else None, prefix="later")
    response = _submit(request, form, lambda: services.person_leave(
        actor=acting_user(request), person=person, reason=form.cleaned_data["reason"]),
        _("The person was made a leaver."), person) or _submit(
        request, later, lambda: services.planned_leave_set(
            actor=acting_user(request), person=person, last_day=later.cleaned_data["last_day"],
            reason=later.cleaned_data["reason"]),
        _("The last working day was saved."), person)
    return response or render(request, "administration/person_leave.html", {
        "person": person, "plan": plan, "form": form, "later": later,
        "planned": selectors.planned_leave_list_for_person(person, roots),
        "active_eids": issuance_selectors.eid_count_active(person, now) if plan.deactivates else 0,
        "is_self": person.pk == acting_user(request).person_id,
    })


@staff_required
@loa_required("administration")
def planned_leave_cancel(request: HttpRequest, person_id: uuid.UUID,
                         planned_id: uuid.UUID) -> HttpResponse:
    """Cancel a planned leaver of the person, with a reason
    (commissions.services.planned_leave_cancel). One already applied shows that, not the form."""
    roots, person = _person_in_scope(request, person_id)
    planned = selectors.planned_leave_get_for_person_in_scope(person, roots, planned_id)
    form = PlanCancelForm(request.POST or None)
    response = _submit(request, form, lambda: services.planned_leave_cancel(
        actor=acting_user(request), planned=planned, reason=form.cleaned_data["reason"]),
        _("The planned leaver was cancelled. Nothing ends after the last working day."), person)
    return response or render(request, "administration/planned_leave_cancel.html", {
        "person": person, "planned": planned, "form": form,
        "is_self": person.pk == acting_user(request).person_id,
    })


@staff_required
@loa_required("administration")
def employee_move(request: HttpRequest, person_id: uuid.UUID, employee_id: uuid.UUID) -> HttpResponse:
    """Move one of the person's employee HSA-ids to another unit in scope, listing its active
    commissions to end or keep, with one reason (commissions.services.employee_move)."""
    roots, person = _person_in_scope(request, person_id)
    employee = get_or_not_found(selectors.employee_list_for_person_in_scope(person, roots),
                                employee_id)
    commissions = selectors.commission_list_active_for_employee(employee, timezone.now())
    form = EmployeeMoveForm(
        request.POST or None, roots=roots, commissions=commissions,
        organisations=organisation_list_in_subtrees(roots).exclude(pk=employee.organisation_id))
    response = _submit(request, form, lambda: services.employee_move(
        actor=acting_user(request), employee=employee,
        organisation=form.cleaned_data["organisation"], end=list(form.cleaned_data["end"]),
        reason=form.cleaned_data["reason"]), _("The employee HSA-id was moved."), person)
    return response or render(request, "administration/employee_move.html", {
        "person": person, "employee": employee, "form": form,
        "is_self": person.pk == acting_user(request).person_id,
    })


@staff_required
@loa_required("administration")
def joiner_register(request: HttpRequest) -> HttpResponse:
    """Register a new staff member (commissions.services.joiner_register): the form, then what
    will happen (`joiner_plan`: a new or an existing person, the employee HSA-id's unit, the
    username, the enrolment) and one confirmation (`confirm`), or back to the form (`change`).
    Every error at once, what was typed kept. An identity number of someone the administrator
    already administers links to their page; anyone else's is told nothing about."""
    roots = _roots_or_404(request)
    actor = acting_user(request)
    form = JoinerForm(request.POST or None, organisations=organisation_list_in_subtrees(roots),
                      roots=roots)
    existing_id = None
    if request.method == "POST" and "change" not in request.POST and form.is_valid():
        try:
            if "confirm" in request.POST:
                result = services.joiner_register(
                    actor=actor, email=form.cleaned_data["email"],
                    title=form.cleaned_data["title"], **form.values())
                messages.success(request, str(
                    _("The person was registered and the invitation is on its way.")
                    if result.enrolment and result.enrolment.channel == "email" else
                    _("The person was registered.")))
                return redirect("administration:person_detail", person_id=result.person.pk)
            plan = services.joiner_plan(actor=actor, **form.values())
        except services.AlreadyRegistered as exc:
            existing_id = exc.person_id
            add_portal_error(form, exc)
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            return render(request, "administration/joiner_confirm.html", {
                "form": form, "plan": plan,
                "number": plan.identifier.display if plan.identifier else "",
                "valid_hours": settings.PORTAL_INVITATION_VALID_SECONDS // 3600,
            })
    return render(request, "administration/joiner_register.html", {
        "form": form, "existing_id": existing_id,
    }, status=400 if form.errors else 200)


@staff_required
@loa_required("administration")
@require_POST
def enrolment_resend(request: HttpRequest, person_id: uuid.UUID, user_id: uuid.UUID) -> HttpResponse:
    """Send a new enrolment invitation to the person's account (the earlier link stops working;
    commissions.services.enrolment_invitation_resend); back to the person's page either way."""
    _roots, person = _person_in_scope(request, person_id)
    account = selectors.staff_account_get_for_person(person, user_id)
    try:
        services.enrolment_invitation_resend(actor=acting_user(request), user=account)
    except PortalError as exc:
        if isinstance(exc, (NotFound, Forbidden)):
            raise
        messages.error(request, str(exc.message))
    else:
        messages.success(request, str(_("A new invitation is on its way. The earlier link no "
                                        "longer works.")))
    return redirect("administration:person_detail", person_id=person.pk)
