"""Writes of employees, commissions and system roles; each audited in the same transaction."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TypeVar, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.audit import context
from apps.audit.models import AuditEvent
from apps.audit.services import atomic_record_failure, record
from apps.commissions import audit, policies, selectors, signals
from apps.commissions.models import (
    Commission,
    CommissionRight,
    Employee,
    Enrolment,
    PlannedLeave,
    Role,
    RoleAssignment,
    TimeBound,
)
from apps.commissions.vocabularies import Purpose, parse_right
from apps.core.actors import is_operator
from apps.core.calls import service
from apps.core.db import Busy
from apps.core.errors import NotFound, PortalError, ValidationFailed
from apps.identities.actors import Actor, actor_id
from apps.identities.changes import person_changed_publish
from apps.identities.identifiers import (
    RESERVE_ID_ALPHABET,
    RESERVE_ID_LENGTH,
    IdentifierError,
    PersonIdentifier,
    nfkc,
    normalise_hsa_id,
    normalise_username,
    parse_person_number,
    username_from_names,
)
from apps.identities.models import IdentityNumber, Person, User, skeleton_of, username_skeleton
from apps.identities.registration import person_insert, stored_text, user_insert
from apps.identities.signals import sessions_ended
from apps.organisations.models import Organisation
from apps.outbox.services import publish

TB = TypeVar("TB", bound=TimeBound)

_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"



def _new_hsa_id(directory_owner: Organisation, prefix: str) -> str:
    """A fresh HSA-id under the directory owner's `SE<orgnr>-` prefix, e.g. `SE2321000016-U4K9T2QX`."""
    base = directory_owner.hsa_id.split("-", 1)[0]
    return f"{base}-{prefix}{''.join(secrets.choice(_ALNUM) for _ in range(8))}"


def _check_validity(actor: Actor, valid_from: datetime, valid_until: datetime | None) -> None:
    """The end after the start, and (for people, not the operator importing history) not wholly in
    the past: an end that has already passed is nearly always a mistyped year."""
    if valid_until is not None and valid_until <= valid_from:
        raise ValidationFailed(
            _("The end must be after the start."), code="validity.end_before_start",
            field="valid_until",
        )
    if valid_until is not None and valid_until <= timezone.now() and not is_operator(actor):
        raise ValidationFailed(
            _("The last day has already passed, so this would never be valid. Check the year."),
            code="validity.in_the_past", field="valid_until",
        )


def _has_entitlement(person: Person, now: datetime) -> bool:
    """True while the person holds an active commission or system role (a working staff member)."""
    return Commission.objects.active_at(now).filter(employee__person=person).exists() or (
        RoleAssignment.objects.active_at(now).filter(person=person).exists())


#: True while `_leave` ends a leaver's commissions, roles and accounts: what that ends is told it
#: was a leaver (`signals.CAUSE_LEAVER`), not the single change that happened to end it.
_LEAVING: ContextVar[bool] = ContextVar("commissions_leaving", default=False)


def _cause(cause: str) -> str:
    """`cause` for `signals.entitlement_ended`, or `CAUSE_LEAVER` inside a leaver (`_LEAVING`)."""
    return signals.CAUSE_LEAVER if _LEAVING.get() else cause


def _end_entitlement(actor: Actor, person: Person, reason: str, *, revoke_eids: bool) -> int:
    """End what the staff entitlement entitled, in the caller's transaction: every session of the
    person's accounts, and (through `signals.entitlement_ended`) their open activation codes and,
    with `revoke_eids`, their e-IDs. Returns how many accounts had their sessions ended."""
    sessions = User.objects.end_sessions(person)
    signals.entitlement_ended.send(sender=Person, actor=actor, person=person, reason=reason,
                                   cause=_cause(signals.CAUSE_ENTITLEMENT_ENDED),
                                   revoke_eids=revoke_eids)
    return sessions


def _end_now(item: TB, *, actor: Actor, reason: str, action: str, subject: Person,
             organisation: Organisation, already_ended: str | Promise) -> TB:
    """End a commission or role assignment now (UTC) with a reason, audited. When it was the
    person's last one, their sessions and activation codes end in the same transaction
    (`_end_entitlement`). Locks the person, then the item (docs/architecture.md, "Lock order").
    Raises ValidationFailed (`reason`: empty; `ended`: already ended or expired)."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(_("Give a reason."), code="no_reason", field="reason")
    now = timezone.now()
    with transaction.atomic():
        Person.objects.select_for_update().get(pk=subject.pk)
        locked = cast(TB, type(item)._default_manager.select_for_update().get(pk=item.pk))
        if locked.ended_at is not None or (locked.valid_until and locked.valid_until <= now):
            raise ValidationFailed(already_ended, code="ended")
        locked.ended_at = now
        locked.end_reason = reason
        locked.save(update_fields=["ended_at", "end_reason", "updated_at"])
        if isinstance(locked, Commission):
            signals.commission_ended.send(sender=Commission, actor=actor, commission=locked,
                                          reason=reason)
        changes: dict[str, list[object]] = {"ended_at": [None, now.isoformat()]}
        if not _has_entitlement(subject, now):
            changes["staff_entitlement"] = ["active", "ended"]
            changes["sessions_ended"] = [None, _end_entitlement(actor, subject, reason,
                                                                revoke_eids=False)]
        person_changed_publish(record(actor=actor, action=action, target=locked, subject=subject,
                                      organisation=organisation, reason=reason, changes=changes))
    return locked


@service
def employee_create(
    *, actor: Actor, person: Person, organisation: Organisation, hsa_id: str | None = None,
    title: str = "",
) -> Employee:
    """Give `person` an employee HSA-id issued under `organisation` (generated if not given)."""
    policies.require_administer_unit(actor, organisation)
    try:
        hsa_id = normalise_hsa_id(hsa_id) if hsa_id else _new_hsa_id(organisation, "E")
    except IdentifierError as exc:
        raise ValidationFailed(exc.message, code=exc.code, field="hsa_id") from exc
    with transaction.atomic():
        try:
            with transaction.atomic():
                employee = Employee.objects.create(
                    person=person, hsa_id=hsa_id, organisation=organisation, title=title
                )
        except IntegrityError as exc:
            raise ValidationFailed(
                _("This HSA-id is already in use."), code="employee.duplicate", field="hsa_id"
            ) from exc
        person_changed_publish(record(
            actor=actor, action=audit.EMPLOYEE_CREATED.code, target=employee, subject=person,
            organisation=organisation,
            changes={"hsa_id": [None, hsa_id], "organisation": [None, organisation.hsa_id]},
        ))
    return employee


@service
def commission_grant(
    *,
    actor: Actor,
    employee: Employee,
    care_unit: Organisation,
    purpose: str,
    rights: Sequence[str],
    valid_from: datetime,
    valid_until: datetime | None,
    name: str = "",
    hsa_id: str | None = None,
) -> Commission:
    """Grant a commission (medarbetaruppdrag) at `care_unit` to `employee`.

    The commission gets a new HSA-id under the care provider's prefix, or `hsa_id` (normalised;
    the demo data's fixed ids, which the docs' examples name).

    `rights` are `activity;information class;scope` strings from the HSA vocabularies (at least
    one); validity is [valid_from, valid_until) in UTC. Raises NotFound when the unit or the
    employee HSA-id's organisation is outside the actor's scope, Forbidden for the actor's own
    employee HSA-id (separation of duties), ValidationFailed (with `field`) for an unknown purpose or right,
    an end before the start, a unit that is not a care unit, or an active commission with the same
    unit and purpose overlapping in time.
    """
    policies.require_administer_unit(actor, care_unit)
    policies.require_administer_unit(actor, employee.organisation)
    policies.require_not_self(actor, employee.person)
    care_provider = care_unit.care_provider
    if not care_unit.is_care_unit or care_provider is None:
        raise ValidationFailed(_("Choose a care unit."), code="commission.not_care_unit",
                               field="care_unit")
    if purpose not in Purpose.values:
        raise ValidationFailed(_("Unknown purpose."), code="commission.purpose", field="purpose")
    if not rights:
        raise ValidationFailed(_("Choose at least one right."), code="commission.no_rights",
                               field="rights")
    parsed = []
    for right in dict.fromkeys(rights):
        try:
            parsed.append(parse_right(right))
        except ValueError as exc:
            raise ValidationFailed(
                _("Unknown right: %(right)s") % {"right": right}, code="commission.right",
                field="rights",
            ) from exc
    _check_validity(actor, valid_from, valid_until)
    try:
        fixed_hsa_id = normalise_hsa_id(hsa_id) if hsa_id else None
    except IdentifierError as exc:
        raise ValidationFailed(exc.message, code=exc.code, field="hsa_id") from exc
    with transaction.atomic():
        Employee.objects.select_for_update().get(pk=employee.pk)  # serialise grants per employee
        if Commission.objects.overlapping(valid_from, valid_until).filter(
            employee=employee, care_unit=care_unit, purpose=purpose
        ).exists():
            raise ValidationFailed(
                _("The person already has a commission with this purpose at this unit for that "
                  "period."),
                code="commission.duplicate", field="care_unit",
            )
        commission = Commission.objects.create(
            hsa_id=fixed_hsa_id or _new_hsa_id(care_provider, "U"),
            name=name or f"{purpose}, {care_unit.name}",  # data: the vocabulary code, not UI text
            employee=employee, purpose=purpose, care_provider=care_provider,
            care_unit=care_unit, valid_from=valid_from, valid_until=valid_until,
            assigned_by_label=str(actor), assigned_by_id=actor_id(actor),
        )
        CommissionRight.objects.bulk_create(
            CommissionRight(commission=commission, activity=a, information_class=i, scope=s)
            for a, i, s in parsed
        )
        person_changed_publish(record(
            actor=actor, action=audit.COMMISSION_GRANTED.code, target=commission, subject=employee.person,
            organisation=care_unit,
            changes={"purpose": [None, purpose], "care_unit": [None, care_unit.hsa_id],
                     "rights": [None, [";".join(p) for p in parsed]],
                     "valid_from": [None, valid_from.isoformat()],
                     "valid_until": [None, valid_until.isoformat() if valid_until else None]},
        ))
    return commission


@service
def commission_end(*, actor: Actor, commission: Commission, reason: str) -> Commission:
    """End a commission now, with a reason. Raises NotFound outside scope, Forbidden for one's own
    commission, ValidationFailed when the reason is empty or the commission already ended."""
    unit = commission.care_unit or commission.care_provider
    policies.require_administer_unit(actor, unit)
    policies.require_administer_unit(actor, commission.employee.organisation)
    policies.require_not_self(actor, commission.employee.person)
    return _end_now(commission, actor=actor, reason=reason, action=audit.COMMISSION_ENDED.code,
                    subject=commission.employee.person, organisation=unit,
                    already_ended=_("The commission has already ended."))


@service
def role_grant(
    *, actor: Actor, person: Person, role: str, organisation: Organisation,
    valid_from: datetime, valid_until: datetime | None,
) -> RoleAssignment:
    """Grant a system role over `organisation`'s subtree to `person`, for [valid_from, valid_until).

    The actor must be a local administrator over `organisation` and over the person's home
    organisation, and not the person; an HR system grants only `policies.CLIENT_GRANTABLE_ROLES`.
    Raises NotFound outside scope, Forbidden for oneself or a role the actor may not grant,
    ValidationFailed for an unknown role, an end before the start, or an overlapping assignment of
    the same role over the same organisation.
    """
    policies.require_administer_unit(actor, organisation)
    policies.require_administer_person(actor, person)
    policies.require_not_self(actor, person)
    policies.require_grantable_role(actor, role)
    if role not in Role.values:
        raise ValidationFailed(_("Unknown role."), code="role.unknown", field="role")
    _check_validity(actor, valid_from, valid_until)
    with transaction.atomic():
        Person.objects.select_for_update().get(pk=person.pk)
        if RoleAssignment.objects.overlapping(valid_from, valid_until).filter(
            person=person, role=role, organisation=organisation
        ).exists():
            raise ValidationFailed(
                _("The person already has this role here for that period."),
                code="role.duplicate", field="role",
            )
        assignment = RoleAssignment.objects.create(
            person=person, role=role, organisation=organisation, valid_from=valid_from,
            valid_until=valid_until, assigned_by_label=str(actor), assigned_by_id=actor_id(actor),
        )
        person_changed_publish(record(
            actor=actor, action=audit.ROLE_GRANTED.code, target=assignment, subject=person,
            organisation=organisation,
            changes={"role": [None, role], "organisation": [None, organisation.hsa_id],
                     "valid_from": [None, valid_from.isoformat()],
                     "valid_until": [None, valid_until.isoformat() if valid_until else None]},
        ))
    return assignment


@service
def role_end(*, actor: Actor, assignment: RoleAssignment, reason: str) -> RoleAssignment:
    """End a role assignment now, with a reason (same errors as `commission_end`)."""
    policies.require_administer_unit(actor, assignment.organisation)
    policies.require_administer_person(actor, assignment.person)
    policies.require_not_self(actor, assignment.person)
    return _end_now(assignment, actor=actor, reason=reason, action=audit.ROLE_ENDED.code,
                    subject=assignment.person, organisation=assignment.organisation,
                    already_ended=_("The role has already ended."))


def _set_active(*, actor: Actor, user: User, active: bool, reason: str) -> User:
    """Deactivate or reactivate `user` (see `account_deactivate`, `account_reactivate`)."""
    policies.require_administer_account(actor, user.person, taking_away=not active)
    policies.require_not_self(actor, user.person)
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(_("Give a reason."), code="no_reason", field="reason")
    with transaction.atomic():
        Person.objects.select_for_update().get(pk=user.person_id)
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.is_active == active:
            raise ValidationFailed(
                _("The account is already active.") if active
                else _("The account is already deactivated."),
                code="account.unchanged")
        locked.is_active = active
        locked.session_epoch = uuid.uuid4()  # old sessions end, and never come back
        locked.save(update_fields=["is_active", "session_epoch"])
        sessions_ended.send(sender=User, person=locked.person, user=locked)
        changes: dict[str, list[object]] = {"is_active": [not active, active]}
        if not active:
            signals.entitlement_ended.send(sender=Person, actor=actor, person=locked.person,
                                           reason=reason,
                                           cause=_cause(signals.CAUSE_ACCOUNT_DEACTIVATED),
                                           revoke_eids=True)
        person_changed_publish(record(
            actor=actor,
            action=(audit.ACCOUNT_REACTIVATED if active else audit.ACCOUNT_DEACTIVATED).code,
            target=locked, subject=locked.person, reason=reason, changes=changes))
    return locked


@service
def account_deactivate(*, actor: Actor, user: User, reason: str) -> User:
    """Deactivate a login account, with a reason: nobody can log in with it, every session of it
    ends at once, and in the same transaction the person's open activation codes end and their
    mobile e-IDs are revoked (each e-mailed to the person after commit).

    For a local administrator whose scope holds every employee HSA-id of the person, or one of them
    while the person holds nothing active anywhere (`require_administer_account` taking away;
    docs/decisions.md, "Person-wide actions"), never for oneself (`require_not_self`). Raises
    NotFound otherwise, Forbidden for oneself, ValidationFailed for an
    empty reason (`no_reason`) or an account already deactivated (`account.unchanged`).
    """
    return _set_active(actor=actor, user=user, active=False, reason=reason)


@service
def account_reactivate(*, actor: Actor, user: User, reason: str) -> User:
    """Reactivate a deactivated login account, with a reason. Old sessions and activation codes
    stay ended and revoked e-IDs stay revoked: the person logs in again and gets new ones.

    Only for a local administrator whose scope holds every employee HSA-id of the person
    (`require_administer_account`); otherwise the errors of `account_deactivate`
    (`account.unchanged` when already active).
    """
    return _set_active(actor=actor, user=user, active=True, reason=reason)


@service
def commission_choose(*, actor: User, commission_id: uuid.UUID | str,
                      automatic: bool = False) -> Commission:
    """The staff member `actor` chooses the commission to act under (uppdragsval, done at login
    and whenever they switch); returns it, with care unit, care provider and employee.

    Only the actor's own commission, valid now (UTC), may be chosen; deny by default
    (`policies.require_act_under_commission`). A refusal is audited as `commission.choice_failed`
    (outcome failure, the commission tried as target when it exists) and raised: NotFound for a
    missing commission and for someone else's alike, Forbidden (`commission.not_valid`) for one
    that has ended, expired or not begun; Forbidden (`commission.not_staff`) for an actor who is
    not an active staff account. A choice is audited as `commission.chosen`; that row already
    carries the chosen commission and its unit (the previous one, if any, is in `changes`);
    `automatic` marks the choice the login made by itself for a person with one valid commission.
    Storing the choice in the session is the caller's (apps.authn.commission).
    """
    policies.require_staff_self(actor)
    now = timezone.now()
    try:
        pk: uuid.UUID | None = uuid.UUID(str(commission_id))
    except ValueError:
        pk = None
    commission = (Commission.objects.filter(pk=pk).select_related(
        "care_unit", "care_provider", "employee").first() if pk else None)
    try:
        policies.require_act_under_commission(actor, commission, now)
    except PortalError as exc:
        atomic_record_failure(
            actor=actor, action=audit.COMMISSION_CHOICE_FAILED.code,
            target=commission or Commission(id=pk or uuid.UUID(int=0)), subject=actor.person,
            changes={"error": [None, exc.code]},
        )
        raise
    assert commission is not None  # the policy refused None
    unit = commission.care_unit or commission.care_provider
    previous = context.current()
    acting = replace(previous, commission_hsa_id=commission.hsa_id, organisation_hsa_id=unit.hsa_id)
    with context.using(acting), transaction.atomic():
        record(actor=actor, action=audit.COMMISSION_CHOSEN.code, target=commission,
               subject=actor.person, organisation=unit,
               changes={"commission": [previous.commission_hsa_id, commission.hsa_id],
                        "automatic": [None, automatic]})
    return commission


#: The most events one export holds (the newest ones); the search page states it.
EXPORT_MAX_ROWS = 100_000


@dataclass(frozen=True)
class AuditExport:
    """An export of the audit log: `rows` events (at most EXPORT_MAX_ROWS), `capped` when more
    matched, and the events themselves, newest first, read lazily from the database in chunks."""

    rows: int
    capped: bool
    events: Iterator[AuditEvent]


@service
def audit_log_export(*, actor: Actor, filters: selectors.AuditFilter) -> AuditExport:
    """Export the events of the actor's audit search (`selectors.audit_search_in_scope`, same
    filters and scope) that had occurred when the export began: the newest EXPORT_MAX_ROWS of
    them. Taking a copy of the log is itself logged (HSLF-FS 2016:40 4 kap. 9 §): one event
    `audit_log.exported` with the filters and the number of rows, written and committed before
    any row leaves, at the searched unit (else the actor's first scope root).

    Policy `require_search_audit_log`; raises NotFound for a non-administrator and for a unit
    outside the scope. The rows are read after this returns (a streamed response), bounded to the
    counted number, so the export holds exactly `rows` events."""
    roots = policies.require_search_audit_log(actor)
    cutoff = timezone.now()
    events = selectors.audit_search_in_scope(actor=actor, filters=filters).filter(
        occurred_at__lte=cutoff)
    matched = events[:EXPORT_MAX_ROWS + 1].count()
    rows = min(matched, EXPORT_MAX_ROWS)
    organisation = filters.unit or roots[0]
    used = {
        "person": filters.person.strip(), "actor": filters.actor.strip(), "action": filters.action,
        "unit": filters.unit.hsa_id if filters.unit else "",
        "since": filters.since.isoformat() if filters.since else "",
        "until": filters.until.isoformat() if filters.until else "",
    }
    changes: dict[str, list[object]] = {key: [None, value] for key, value in used.items() if value}
    changes |= {"before": [None, cutoff.isoformat()], "rows": [None, rows],
                "capped": [None, matched > EXPORT_MAX_ROWS]}
    with transaction.atomic():
        record(actor=actor, action=audit.AUDIT_LOG_EXPORTED.code, target=organisation,
               organisation=organisation, changes=changes)
    return AuditExport(rows=rows, capped=matched > EXPORT_MAX_ROWS,
                       events=events[:rows].iterator(chunk_size=2000))


@dataclass(frozen=True)
class LeaveResult:
    """What `person_leave` changed: how many commissions and roles ended, how many accounts were
    deactivated (0 when something stays active outside the scope), and whether sessions ended."""

    commissions: int
    roles: int
    accounts: int


def _home_root(person: Person, roots: list[Organisation]) -> Organisation:
    """The highest of `roots` that holds a home of one of the person's employee HSA-ids: the
    organisation a leaver or a planned leaver is done for (docs/decisions.md, "Leavers"). Only
    after `require_administer_person` (which guarantees one; ValueError otherwise)."""
    homes = list(Employee.objects.filter(person=person).values_list("organisation__path", flat=True))
    return min((r for r in roots if any(path.startswith(r.path) for path in homes)),
               key=lambda r: len(r.path))


def _leave(actor: Actor, person: Person, roots: list[Organisation], reason: str,
           organisation: Organisation) -> LeaveResult:
    """End everything of `person` under `roots` as `actor` (see `person_leave`), in the caller's
    service call and transaction, with the person locked first; `person.left` is recorded at
    `organisation` (the part of the organisation it was done for)."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(_("Give a reason."), code="no_reason", field="reason")
    leaving = _LEAVING.set(True)
    try:
        return _leave_locked(actor, person, roots, reason, organisation)
    finally:
        _LEAVING.reset(leaving)


def _leave_locked(actor: Actor, person: Person, roots: list[Organisation], reason: str,
                  organisation: Organisation) -> LeaveResult:
    """`_leave` after its checks, with `_LEAVING` set."""
    # The request's id is the correlation id of every event (a fresh one outside any request).
    with context.using(context.current()), transaction.atomic():
        Person.objects.select_for_update().get(pk=person.pk)
        plan = selectors.leave_plan_for_person(person, roots, timezone.now())
        if plan.empty:
            raise ValidationFailed(_("There is nothing left to end for this person here."),
                                   code="leave.nothing")
        for commission in plan.commissions:
            commission_end(actor=actor, commission=commission, reason=reason)
        for assignment in plan.roles:
            role_end(actor=actor, assignment=assignment, reason=reason)
        accounts = plan.accounts if plan.deactivates else []
        for user in accounts:
            account_deactivate(actor=actor, user=user, reason=reason)
        # Sessions end also when something stays elsewhere: they may act under what just ended.
        sessions = User.objects.end_sessions(person)
        record(actor=actor, action=audit.PERSON_LEFT.code, target=person, subject=person,
               organisation=organisation, reason=reason, changes={
                   "commissions_ended": [None, len(plan.commissions)],
                   "roles_ended": [None, len(plan.roles)],
                   "accounts_deactivated": [None, len(accounts)],
                   "kept_elsewhere": [None, plan.kept],
                   "sessions_ended": [None, sessions]})
    return LeaveResult(commissions=len(plan.commissions), roles=len(plan.roles),
                       accounts=len(accounts))


@service
def person_leave(*, actor: Actor, person: Person, reason: str) -> LeaveResult:
    """Make `person` a leaver under the actor's scope, now, in one transaction: every active
    commission and system role under the scope ends (`commission_end`, `role_end`); when nothing
    stays active anywhere, every staff login account is deactivated (`account_deactivate`: open
    activation codes end, mobile e-IDs are revoked and the person told by e-mail); every session of
    the person ends. One audit event per change plus one `person.left`, all with the request's id
    as their correlation id (docs/journey-leaver.md, docs/decisions.md "Leavers").

    Raises NotFound outside the scope, Forbidden for oneself (`self_administration`),
    ValidationFailed for an empty reason (`no_reason`) or when nothing is left to end
    (`leave.nothing`: e.g. another administrator just did it).
    """
    policies.require_administer_person(actor, person)
    policies.require_not_self(actor, person)
    roots = policies.scope_roots(actor)
    return _leave(actor, person, roots, reason, _home_root(person, roots))


#: Working days are calendar days in Sweden.
SWEDEN = ZoneInfo("Europe/Stockholm")


@service
def planned_leave_set(*, actor: Actor, person: Person, last_day: date, reason: str) -> PlannedLeave:
    """Plan `person` as a leaver after `last_day` (a calendar day in Europe/Stockholm, today or
    later) under the actor's scope root that holds the person, or move the day of such a plan
    not yet applied. The scheduler applies it (`planned_leaves_apply`).

    Raises NotFound outside the scope, Forbidden for oneself, ValidationFailed for an empty reason
    (`no_reason`) or a day already past (`leave.day_past`)."""
    policies.require_administer_person(actor, person)
    policies.require_not_self(actor, person)
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(_("Give a reason."), code="no_reason", field="reason")
    if last_day < timezone.localtime(timezone.now(), SWEDEN).date():
        raise ValidationFailed(_("The last working day has already passed."),
                               code="leave.day_past", field="last_day")
    root = _home_root(person, policies.scope_roots(actor))
    with transaction.atomic():
        Person.objects.select_for_update().get(pk=person.pk)
        planned = PlannedLeave.objects.filter(person=person, organisation=root,
                                              applied_at__isnull=True).first()
        before = planned.last_day.isoformat() if planned else None
        if planned is None:
            planned = PlannedLeave(person=person, organisation=root)
        planned.last_day, planned.reason = last_day, reason
        planned.planned_by_id, planned.planned_by_label = actor_id(actor), str(actor)
        planned.save()
        record(actor=actor, action=audit.PLANNED_LEAVE_SET.code, target=planned, subject=person,
               organisation=root, reason=reason,
               changes={"last_day": [before, last_day.isoformat()]})
    return planned


@service
def planned_leave_cancel(*, actor: Actor, planned: PlannedLeave, reason: str) -> None:
    """Cancel a planned leaver not yet applied: the plan is removed, so nothing ends after its
    last working day; the audit event `planned_leave.cancelled` keeps the day, the reason it was
    planned for and who planned it (docs/journey-leaver.md).

    Policy: the plan's subtree and the person in the actor's scope, not oneself. Locks the
    person, then the plan, as the scheduler does (docs/architecture.md, "Lock order"), so a
    cancel racing the scheduler either removes the plan first or finds it applied. Raises
    NotFound outside the scope or for a plan that no longer exists (cancelled meanwhile),
    Forbidden for oneself, ValidationFailed for an empty reason (`no_reason`) or a plan already
    applied (`leave.applied`: the leaver is made; nothing is undone)."""
    policies.require_administer_unit(actor, planned.organisation)
    policies.require_administer_person(actor, planned.person)
    policies.require_not_self(actor, planned.person)
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(_("Give a reason."), code="no_reason", field="reason")
    with transaction.atomic():
        Person.objects.select_for_update().get(pk=planned.person_id)
        locked = PlannedLeave.objects.select_for_update().filter(pk=planned.pk).first()
        if locked is None:
            raise NotFound()
        if locked.applied_at is not None:
            raise ValidationFailed(
                _("This planned leaver has already been applied, so it cannot be cancelled."),
                code="leave.applied")
        record(actor=actor, action=audit.PLANNED_LEAVE_CANCELLED.code, target=locked,
               subject=planned.person, organisation=planned.organisation, reason=reason,
               changes={"last_day": [locked.last_day.isoformat(), None],
                        "planned_reason": [locked.reason, None],
                        "planned_by": [locked.planned_by_label, None]})
        locked.delete()


@service
def planned_leaves_apply(*, actor: Actor) -> int:
    """Make a leaver of each person whose planned last working day has ended (Europe/Stockholm),
    under the planned subtree, as `actor` (the portal's system actor: `require_operator`); each
    in its own transaction with its own correlation id. Locks the person, then the plan, like
    every writer of plans (docs/architecture.md, "Lock order"): a parallel run waits, then finds
    the plan applied (or cancelled) and skips it. A person with nothing left to end has the plan
    marked applied all the same.
    Returns how many plans were applied."""
    policies.require_operator(actor)
    today = timezone.localtime(timezone.now(), SWEDEN).date()
    due = list(PlannedLeave.objects.filter(applied_at__isnull=True, last_day__lt=today)
               .values_list("pk", "person_id"))
    applied = 0
    for pk, person_id in due:
        with context.using(context.RequestContext()), transaction.atomic():
            # Person, then plan: the order of every other writer of plans.
            Person.objects.select_for_update().filter(pk=person_id).first()
            planned = (PlannedLeave.objects.select_for_update(of=("self",))
                       .select_related("person", "organisation")
                       .filter(pk=pk, applied_at__isnull=True, last_day__lt=today).first())
            if planned is None:
                continue
            try:
                _leave(actor, planned.person, [planned.organisation], planned.reason,
                       planned.organisation)
            except ValidationFailed as exc:
                if exc.code != "leave.nothing":
                    raise
            planned.applied_at = timezone.now()
            planned.save(update_fields=["applied_at", "updated_at"])
            record(actor=actor, action=audit.PLANNED_LEAVE_APPLIED.code, target=planned,
                   subject=planned.person, organisation=planned.organisation,
                   reason=planned.reason,
                   changes={"applied_at": [None, planned.applied_at.isoformat()]})
            applied += 1
    return applied


@service
def employee_move(*, actor: Actor, employee: Employee, organisation: Organisation,
                  end: Sequence[Commission], reason: str) -> Employee:
    """Move `employee`'s home (the organisation its HSA-id belongs to; the HSA-id itself never
    changes) to `organisation`, and end the commissions in `end` (active commissions of this
    employee HSA-id the administrator chose to end; the others are kept), in one transaction,
    audited with one request id (`employee.moved`, then one `commission.ended` each).

    Locks the person, then the employee HSA-id, then each commission ended
    (docs/architecture.md, "Lock order"). Raises NotFound when the employee's home or
    `organisation` is outside the actor's scope, or a commission in `end` is another employee's;
    Forbidden for oneself; ValidationFailed for an empty reason (`no_reason`), the same home
    (`employee.same_home`), a home changed since `employee` was read (`employee.moved_meanwhile`:
    a parallel move won; its scope check was on the old home), or a commission in `end` no
    longer active (`employee.commission_ended`: e.g. a leaver won).
    """
    policies.require_administer_unit(actor, employee.organisation)
    policies.require_administer_unit(actor, organisation)
    policies.require_not_self(actor, employee.person)
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(_("Give a reason."), code="no_reason", field="reason")
    with context.using(context.current()), transaction.atomic():
        Person.objects.select_for_update().get(pk=employee.person_id)
        locked = Employee.objects.select_for_update().get(pk=employee.pk)
        if locked.organisation_id != employee.organisation_id:
            # The scope was checked on the home the administrator saw; another move won the lock.
            raise ValidationFailed(
                _("Someone else moved this employee HSA-id a moment ago. Check its home unit "
                  "and try again."), code="employee.moved_meanwhile")
        if locked.organisation_id == organisation.pk:
            raise ValidationFailed(_("The employee HSA-id already belongs to this unit."),
                                   code="employee.same_home", field="organisation")
        active = {c.pk: c for c in Commission.objects.active_at(timezone.now())
                  .filter(employee=locked).select_related("care_unit", "care_provider")}
        chosen = {c.pk for c in end}
        if not chosen <= active.keys():
            if Commission.objects.filter(pk__in=chosen - active.keys()).exclude(
                    employee=locked).exists():
                raise NotFound()
            raise ValidationFailed(
                _("A commission you chose to end has ended meanwhile. Check the list and try "
                  "again."), code="employee.commission_ended", field="end")
        before = locked.organisation.hsa_id
        locked.organisation = organisation
        locked.save(update_fields=["organisation", "updated_at"])
        person_changed_publish(record(
            actor=actor, action=audit.EMPLOYEE_MOVED.code, target=locked,
            subject=locked.person, organisation=organisation, reason=reason,
            changes={"organisation": [before, organisation.hsa_id],
                     "commissions_ended": [None, len(chosen)],
                     "commissions_kept": [None, len(active) - len(chosen)]}))
        for pk in chosen:
            commission_end(actor=actor, commission=active[pk], reason=reason)
    return locked


# --- joiners -------------------------------------------------------------------------------------

#: How many numbered usernames (`given.family2` ...) are tried before giving up.
_USERNAME_CANDIDATES = 1000
#: How many times a generated employee HSA-id is drawn again after a collision (32^8 ids: a
#: collision is already rare, two in a row practically impossible).
_HSA_ID_ATTEMPTS = 5

NO_NUMBER = _("Enter the personal identity number or coordination number, or tick that the person "
              "has neither.")
NUMBER_AND_RESERVE = _("Enter an identity number or tick that the person has neither, not both.")
JOINER_MISMATCH = _("This identity number is registered with other details. Check the number and "
                    "the names against the identity document.")


class JoinerMismatch(ValidationFailed):
    """The identity number is registered with other names, or to a protected person
    (`JOINER_MISMATCH`, code `joiner.mismatch`, field `identity_number`); `person_id` is theirs
    for the audit event only, never shown."""

    def __init__(self, person_id: uuid.UUID) -> None:
        super().__init__(JOINER_MISMATCH, code="joiner.mismatch", field="identity_number")
        self.person_id = person_id


class AlreadyRegistered(ValidationFailed):
    """The identity number belongs to a person the administrator already administers; `person_id`
    is theirs, for a link to their page (code `joiner.in_scope`, field `identity_number`)."""

    def __init__(self, person_id: uuid.UUID) -> None:
        super().__init__(_("This person is already registered."), code="joiner.in_scope",
                         field="identity_number")
        self.person_id = person_id


def _name_key(name: str) -> str:
    """A name as compared with a registered one: NFKC, case folded, single spaces (UAX #15,
    Unicode 3.13 default caseless matching), so `ÅSA  Öberg` matches `Åsa Öberg`."""
    return " ".join(nfkc(nfkc(name).casefold()).split())


def _username_free(username: str) -> bool:
    """No account has `username` or one confusable with it (the skeleton the database's unique
    index holds: `identities.models.username_skeleton`)."""
    return not User.objects.alias(skeleton=username_skeleton(F("username"))).filter(
        skeleton=skeleton_of(username)).exists()


def _username_candidates(given_name: str, family_name: str) -> Iterator[str]:
    """`given.family`, then `given.family2`, `given.family3` ... while taken or confusable."""
    base = username_from_names(given_name, family_name)
    for n in range(1, _USERNAME_CANDIDATES + 1):
        candidate = base if n == 1 else f"{base}{n}"
        if _username_free(candidate):
            yield candidate


def _new_reserve_id() -> PersonIdentifier:
    """A fresh reserve id of the portal: `RESERVE_ID_LENGTH` characters of `RESERVE_ID_ALPHABET`
    under `settings.PORTAL_RESERVE_ID_ROOT` (reserve ids carry their issuer's own OID:
    docs/glossary.md, "reserve id")."""
    return PersonIdentifier(
        root=settings.PORTAL_RESERVE_ID_ROOT,
        extension="".join(secrets.choice(RESERVE_ID_ALPHABET) for _ in range(RESERVE_ID_LENGTH)))


@dataclass(frozen=True)
class JoinerPlan:
    """What `joiner_register` will do, shown before it is done: `existing` is the person found by
    the identity number (None: a new person; `identifier` None: a new reserve id), `account` their
    active staff account that is kept (None: a new one named `username`), `organisation` the
    unit the employee HSA-id is generated under, `channel` the enrolment (empty: none, the kept
    account already logs in)."""

    identifier: PersonIdentifier | None
    existing: Person | None
    account: User | None
    username: str
    organisation: Organisation
    channel: str


def _find_joiner(actor: Actor, identifier: PersonIdentifier | None, given_name: str,
                 family_name: str) -> Person | None:
    """The person the identity number is registered to, or None. Raises Forbidden for oneself,
    AlreadyRegistered when the administrator already administers them, JoinerMismatch
    (`joiner.mismatch`) when the typed names are not the registered ones or the person is
    protected (skyddade personuppgifter): a message that says nothing of who it is
    (docs/decisions.md, "Joiners")."""
    if identifier is None:
        return None
    number = IdentityNumber.objects.select_related("person").filter(
        root=identifier.root, extension=identifier.extension).first()
    if number is None:
        return None
    person = number.person
    policies.require_not_self(actor, person)
    if policies.can_administer_person(actor, person):
        raise AlreadyRegistered(person.pk)
    if person.is_protected or (_name_key(given_name), _name_key(family_name)) != (
            _name_key(person.given_name), _name_key(person.family_name)):
        raise JoinerMismatch(person.pk)
    return person


def _lookup_record(actor: Actor, person_id: uuid.UUID, given_name: str, family_name: str,
                   organisation: Organisation, result: str, outcome: str) -> None:
    """Audit a joiner lookup that found a registered person (`joiner.lookup`; docs/decisions.md,
    "Joiners"): the person's id as target and subject, labelled with the names the administrator
    typed (so a refused lookup shows nothing they did not know), at the chosen unit, with
    `result` (`joiner.found`, `joiner.in_scope`, `joiner.mismatch`). In the caller's
    transaction."""
    looked_up = Person(id=person_id, given_name=nfkc(given_name).strip()[:100],
                       family_name=nfkc(family_name).strip()[:100])
    record(actor=actor, action=audit.JOINER_LOOKUP.code, target=looked_up, subject=looked_up,
           organisation=organisation, outcome=outcome, changes={"result": [None, result]})


def _lookup_refused(actor: Actor, exc: AlreadyRegistered | JoinerMismatch, given_name: str,
                    family_name: str, organisation: Organisation) -> None:
    """Audit a refused joiner lookup in its own transaction (the attempt's work rolled back)."""
    with transaction.atomic():
        _lookup_record(actor, exc.person_id, given_name, family_name, organisation, exc.code,
                       AuditEvent.Outcome.FAILURE)


def _plan(actor: Actor, *, identity_number: str, reserve: bool, given_name: str,
          family_name: str, organisation: Organisation, channel: str,
          username: str = "") -> JoinerPlan:
    """`joiner_plan` after its policy: validate, find the person (a find audited
    `joiner.lookup`, in the caller's transaction), choose the username (`username` when given,
    normalised; refused `username.taken` when it or one confusable with it is taken)."""
    if not nfkc(given_name).strip() or not nfkc(family_name).strip():
        raise ValidationFailed(_("Enter the given name and the family name."),
                               code="joiner.names", field="given_name")
    if channel not in Enrolment.Channel.values:
        raise ValidationFailed(_("Choose how the person gets their login."),
                               code="joiner.channel", field="channel")
    identifier: PersonIdentifier | None = None
    if reserve:
        if identity_number.strip():
            raise ValidationFailed(NUMBER_AND_RESERVE, code="joiner.number_and_reserve",
                                   field="identity_number")
    else:
        if not identity_number.strip():
            raise ValidationFailed(NO_NUMBER, code="joiner.no_number", field="identity_number")
        try:
            identifier = parse_person_number(identity_number)
        except IdentifierError as exc:
            raise ValidationFailed(exc.message, code=exc.code, field="identity_number") from exc
    existing = _find_joiner(actor, identifier, given_name, family_name)
    if existing is not None:
        _lookup_record(actor, existing.pk, given_name, family_name, organisation, "joiner.found",
                       AuditEvent.Outcome.SUCCESS)
    account = None if existing is None else User.objects.filter(
        person=existing, kind=User.Kind.STAFF, is_active=True).order_by("created_at").first()
    if account is None and username:
        try:
            username = normalise_username(username)
        except IdentifierError as exc:
            raise ValidationFailed(exc.message, code=exc.code, field="username") from exc
        if not _username_free(username):
            raise ValidationFailed(_("This username is already taken."), code="username.taken",
                                   field="username")
    username = account.username if account else username or next(
        _username_candidates(given_name, family_name), "")
    if not username:
        raise ValidationFailed(_("No free username could be made from these names."),
                               code="joiner.username", field="given_name")
    return JoinerPlan(identifier=identifier, existing=existing, account=account,
                      username=username, organisation=organisation,
                      channel="" if account else channel)


@service
def joiner_plan(*, actor: Actor, identity_number: str, reserve: bool, given_name: str,
                family_name: str, organisation: Organisation, channel: str) -> JoinerPlan:
    """What registering this joiner would do (a read, for the page that asks once): see
    `joiner_register` for the arguments, the policy and the refusals. A lookup that finds a
    registered person is audited `joiner.lookup`, refused or not."""
    policies.require_administer_unit(actor, organisation)
    try:
        with transaction.atomic():
            return _plan(actor, identity_number=identity_number, reserve=reserve,
                         given_name=given_name, family_name=family_name,
                         organisation=organisation, channel=channel)
    except (AlreadyRegistered, JoinerMismatch) as exc:
        _lookup_refused(actor, exc, given_name, family_name, organisation)
        raise


@dataclass(frozen=True)
class JoinerResult:
    """What `joiner_register` did: the person (`person_created` False: an existing one), their
    new employee HSA-id, the staff account (`account_created` False: their existing one; None
    when they have none and also work outside the administrator's scope, where a login account is
    not the administrator's to make) and the enrolment started (None when no account was made)."""

    person: Person
    person_created: bool
    employee: Employee
    user: User | None
    account_created: bool
    enrolment: Enrolment | None


def _employee_generated(actor: Actor, person: Person, organisation: Organisation,
                        title: str) -> Employee:
    """`employee_create` with a generated HSA-id, drawn again on a collision."""
    for attempt in range(_HSA_ID_ATTEMPTS):
        try:
            return employee_create(actor=actor, person=person, organisation=organisation,
                                   title=title)
        except ValidationFailed as exc:
            if exc.code != "employee.duplicate" or attempt == _HSA_ID_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _enrolment_start(actor: Actor, user: User, channel: str, email: str) -> Enrolment:
    """Open an enrolment of `user` (the caller holds the person's lock and checked its policy):
    an e-mailed invitation is published to the outbox (`enrolment.invited`), whose handler makes
    the link's token when it sends it (`enrolment_invitation_send`). Audited `enrolment.created`."""
    enrolment = Enrolment.objects.create(person=user.person, user=user, channel=channel,
                                         email=email,
                                         created_by_label=str(actor)[:200])
    if channel == Enrolment.Channel.EMAIL:
        publish(topic=INVITATION_TOPIC, payload={"enrolment_id": str(enrolment.pk)},
                key=f"{INVITATION_TOPIC}:{enrolment.pk}")
    record(actor=actor, action=audit.ENROLMENT_CREATED.code, target=enrolment,
           subject=user.person, changes={"channel": [None, channel]})
    return enrolment


@service
def joiner_register(*, actor: Actor, identity_number: str, reserve: bool, given_name: str,
                    family_name: str, email: str, organisation: Organisation, title: str = "",
                    channel: str, username: str = "") -> JoinerResult:
    """Register a joiner (docs/journey-joiner.md): the person, an employee HSA-id under
    `organisation`, a staff login account and its enrolment, in one transaction with one audit
    event per change, all with the request's id as correlation id.

    `identity_number` is a personnummer or samordningsnummer in any accepted form
    (`identifiers.parse_person_number`: 10 or 12 digits, `-` or `+`, fullwidth digits); with
    `reserve` it is empty and the person gets a new reserve id of the portal (`_new_reserve_id`).
    The canonical number finds an existing person instead of registering a duplicate, also outside
    the administrator's scope: then the typed names must be the registered ones (`_name_key`), the
    person keeps their names and e-mail, and gets the new employee HSA-id (so they come into the
    scope: they work here now). The employee HSA-id is generated under the directory owner's prefix
    (`employee_create`). A person without an active staff account gets one named from the names
    (`identifiers.username_from_names`, with a number when taken or confusable) with an unusable
    password, and an enrolment by `channel` (`Enrolment.Channel`: an e-mailed invitation to
    `email`, or a mobile e-ID from an issuer), but only when every home of the person is then in
    the administrator's scope (a login account is person-wide: docs/decisions.md, "Person-wide
    actions"); an existing active staff account is kept and no enrolment is started. A given
    `username` (an HR system's SCIM `userName`, RFC 7643 §4.1.1) names a new account instead;
    taken or confusable, it is refused (`username.taken`, `username.confusable`: the database's
    unique indexes decide between two registrations at once).

    Policy: a local administrator of `organisation` (`require_administer_unit`), never for
    themself (`require_not_self`). Locks the existing person first, then their accounts
    (docs/architecture.md, "Lock order"); a new person is inserted, and the unique identity number
    decides between two administrators registering one number at once: the second one finds the
    first one's person. Every lookup that finds a registered person is audited `joiner.lookup`
    (outcome failure when refused; docs/decisions.md, "Joiners"). Raises NotFound (unit outside
    scope), Forbidden (`self_administration`), AlreadyRegistered (`joiner.in_scope`),
    JoinerMismatch (`joiner.mismatch`, also for a protected person), ValidationFailed (`pnr.*`,
    `joiner.no_number`, `joiner.number_and_reserve`, `joiner.names`, `joiner.channel`,
    `joiner.username`, `text.too_long`: a name, the title or the e-mail longer than its column once
    NFKC-normalised).
    """
    policies.require_administer_unit(actor, organisation)
    title = stored_text(Employee, "title", title)
    email = stored_text(Enrolment, "email", email)
    try:
        with context.using(context.current()), transaction.atomic():
            for _attempt in range(2):
                plan = _plan(actor, identity_number=identity_number, reserve=reserve,
                             given_name=given_name, family_name=family_name,
                             organisation=organisation, channel=channel, username=username)
                if plan.existing is not None:
                    person = Person.objects.select_for_update().get(pk=plan.existing.pk)
                    created = False
                    break
                try:
                    person = person_insert(actor=actor,
                                           identifier=plan.identifier or _new_reserve_id(),
                                           given_name=given_name, family_name=family_name,
                                           email=email)
                except ValidationFailed as exc:
                    if exc.code != "person.duplicate":
                        raise
                    continue  # registered by someone else meanwhile: find them (or a new reserve id)
                created = True
                break
            else:
                raise Busy(_("The service is busy. Try again in a moment."))
            employee = _employee_generated(actor, person, organisation, title)
            user = User.objects.select_for_update().filter(
                person=person, kind=User.Kind.STAFF, is_active=True).order_by("created_at").first()
            enrolment = None
            # A login account is person-wide: one that works for the person's other homes too is
            # made only by an actor covering every home (docs/decisions.md, "Person-wide actions").
            if user is None and policies.can_administer_person_wholly(actor, person):
                user = (user_insert(actor=actor, person=person, username=plan.username,
                                    kind=User.Kind.STAFF) if username
                        else _account_generated(actor, person, given_name, family_name))
                enrolment = _enrolment_start(actor, user, channel, email)
    except (AlreadyRegistered, JoinerMismatch) as exc:
        _lookup_refused(actor, exc, given_name, family_name, organisation)
        raise
    return JoinerResult(person=person, person_created=created, employee=employee, user=user,
                        account_created=enrolment is not None, enrolment=enrolment)


def _account_generated(actor: Actor, person: Person, given_name: str, family_name: str) -> User:
    """A staff account with an unusable password under the first free username for the names;
    the next one when another registration took it meanwhile (the database's unique indexes
    decide)."""
    for username in _username_candidates(given_name, family_name):
        try:
            return user_insert(actor=actor, person=person, username=username,
                               kind=User.Kind.STAFF)
        except ValidationFailed as exc:
            if exc.code not in ("username.taken", "username.confusable"):
                raise
    raise ValidationFailed(_("No free username could be made from these names."),
                           code="joiner.username", field="given_name")


# --- enrolment of a joiner's account -------------------------------------------------------------

#: The outbox topic of an enrolment invitation to e-mail (payload `{"enrolment_id"}`).
INVITATION_TOPIC = "enrolment.invited"


@service
def enrolment_invitation_send(*, actor: Actor, enrolment_id: str, notification_id: str) -> bool:
    """E-mail the invitation of an open e-mail enrolment (the outbox's worker, `handlers`): make a
    new single-use token (32 random bytes, URL-safe), store only its hash (`Enrolment.token_digest`)
    with `sent_at` now and `expires_at` now + `PORTAL_INVITATION_VALID_SECONDS` (UTC), and send
    the link to the enrolment's address, in one transaction. A delivery tried again (the e-mail
    backend failed, or the commit did) sends a new link and the earlier one stops working, so no
    token ever needs to be kept readable (docs/decisions.md, "Joiners"). `notification_id` (the
    outbox event's id) is the e-mail's Message-ID (RFC 5322 3.6.4). Returns False, sending
    nothing, for an enrolment no longer open or an account deactivated meanwhile.

    Only the portal's own system actors (`require_operator`). Raises Forbidden for others,
    NotFound for an unknown enrolment, and the e-mail backend's errors (`smtplib.SMTPException`,
    `OSError`), so that the outbox tries again later. Audited `enrolment.sent`."""
    policies.require_operator(actor)
    enrolment = Enrolment.objects.select_related("user", "person").filter(pk=enrolment_id).first()
    if enrolment is None:
        raise NotFound()
    with transaction.atomic():
        Person.objects.select_for_update().get(pk=enrolment.person_id)
        enrolment = Enrolment.objects.select_for_update().select_related("user", "person").get(
            pk=enrolment.pk)
        if (enrolment.done_at or enrolment.ended_at or not enrolment.user.is_active
                or enrolment.channel != Enrolment.Channel.EMAIL or not enrolment.email):
            return False
        token = secrets.token_urlsafe(32)
        now = timezone.now()
        enrolment.token_hash = Enrolment.token_digest(token)
        enrolment.sent_at = now
        enrolment.expires_at = now + timedelta(seconds=settings.PORTAL_INVITATION_VALID_SECONDS)
        enrolment.save(update_fields=["token_hash", "sent_at", "expires_at", "updated_at"])
        with translation.override(settings.LANGUAGE_CODE):
            ctx = {"person": enrolment.person, "username": enrolment.user.username,
                   "link": settings.PORTAL_BASE_URL.rstrip("/") + reverse(
                       "authn:invitation", args=[token]),
                   "expires_at": timezone.localtime(enrolment.expires_at)}
            subject = render_to_string("emails/enrolment_invitation_subject.txt", ctx).strip()
            body = render_to_string("emails/enrolment_invitation.txt", ctx)
        domain = urlsplit(settings.PORTAL_BASE_URL).hostname or "localhost"
        EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [enrolment.email],
                     headers={"Message-ID": f"<{notification_id}.{now.timestamp():.0f}@{domain}>"}
                     ).send()
        record(actor=actor, action=audit.ENROLMENT_SENT.code, target=enrolment,
               subject=enrolment.person,
               changes={"expires_at": [None, enrolment.expires_at.isoformat()],
                        "notification": [None, notification_id]})
    return True


@service
def enrolment_invitation_resend(*, actor: Actor, user: User) -> Enrolment:
    """E-mail a new invitation to a staff account that has not finished its enrolment: the open
    one (expired or not, e-mail or issuer) ends and a new e-mailed one starts, to the address of
    the latest enrolment (the work e-mail typed at registration; else the person's registered
    one). So only one link works at a time.

    For a local administrator in scope of the person, never for oneself. Raises NotFound outside
    scope, Forbidden for oneself, ValidationFailed: `enrolment.none` (the account never had an
    enrolment, or finished it: it already logs in), `account.inactive_target` (the account is
    deactivated), `enrolment.no_email` (no address to send to). Locks the person, then the account,
    then its enrolments."""
    policies.require_administer_person(actor, user.person)
    policies.require_not_self(actor, user.person)
    with transaction.atomic():
        person = Person.objects.select_for_update().get(pk=user.person_id)
        locked = User.objects.select_for_update().get(pk=user.pk)
        latest = Enrolment.objects.select_for_update().filter(user=locked).order_by(
            "-created_at").first()
        if latest is None or latest.done_at is not None:
            raise ValidationFailed(_("This account has no enrolment to send again: it already "
                                     "has its login."), code="enrolment.none")
        if not locked.is_active:
            raise ValidationFailed(_("The account is deactivated. Reactivate it first."),
                                   code="account.inactive_target")
        email = latest.email or person.email
        if not email:
            raise ValidationFailed(_("There is no e-mail address to send the invitation to."),
                                   code="enrolment.no_email")
        _enrolments_close(actor, person, Enrolment.objects.filter(pk=latest.pk),
                          _("A new invitation was sent."))
        return _enrolment_start(actor, locked, Enrolment.Channel.EMAIL, email)


def _enrolments_close(actor: Actor, person: Person, enrolments: QuerySet[Enrolment],
                      reason: str | Promise) -> int:
    """End the open ones of `enrolments` now, each audited `enrolment.ended` (the caller holds the
    person's lock and checked its policy). Returns how many."""
    now = timezone.now()
    ended = 0
    for enrolment in enrolments.select_for_update().filter(done_at__isnull=True,
                                                           ended_at__isnull=True):
        enrolment.ended_at = now
        enrolment.save(update_fields=["ended_at", "updated_at"])
        record(actor=actor, action=audit.ENROLMENT_ENDED.code, target=enrolment, subject=person,
               reason=str(reason), changes={"ended_at": [None, now.isoformat()]})
        ended += 1
    return ended


@service
def enrolments_end(*, actor: Actor, person: Person, reason: str) -> int:
    """End every open enrolment of `person` (their staff entitlement ended: `signals.
    entitlement_ended`), so an invitation link stops working with the account it was for; in the
    caller's transaction. Returns how many ended. For the operator and administrators in scope
    (`require_administer_person`); raises NotFound otherwise. Locks the person, then the
    enrolments."""
    policies.require_administer_person(actor, person)
    with transaction.atomic():
        Person.objects.select_for_update().get(pk=person.pk)
        return _enrolments_close(actor, person, Enrolment.objects.filter(person=person), reason)


@service
def enrolment_issuer_done(*, actor: Actor, person: Person) -> int:
    """An e-ID issuer issued `person` an activation code after checking their identity document
    (`apps.issuance`, in its transaction): their open enrolments by an issuer are done, audited
    `enrolment.done`. Returns how many. For issuers in scope of the person
    (`require_administer_person` with `Role.ISSUER`) and the operator; raises NotFound otherwise."""
    policies.require_administer_person(actor, person, Role.ISSUER)
    now = timezone.now()
    done = 0
    with transaction.atomic():
        for enrolment in Enrolment.objects.select_for_update().filter(
                person=person, channel=Enrolment.Channel.ISSUER, done_at__isnull=True,
                ended_at__isnull=True):
            enrolment.done_at = now
            enrolment.save(update_fields=["done_at", "updated_at"])
            record(actor=actor, action=audit.ENROLMENT_DONE.code, target=enrolment, subject=person,
                   changes={"done_at": [None, now.isoformat()]})
            done += 1
    return done


@service
def person_rename(*, actor: Actor, person: Person, given_name: str, family_name: str) -> Person:
    """Change a person's given and family name (NFKC-normalised, trimmed; an HR system's SCIM
    `name`, RFC 7643 §4.1.1), audited `person.renamed` with both names before and after. A name
    is person-wide, so only an actor whose scope holds every employee HSA-id of the person
    (`require_administer_account`; docs/decisions.md, "Person-wide actions"). Locks the person
    (docs/architecture.md, "Lock order"). Publishes `person.changed` for the downstream systems
    (docs/provisioning.md). Returns the person unchanged, without an audit event, when the names
    are the same. Raises NotFound outside the scope, ValidationFailed
    (`joiner.names`: an empty name; `text.too_long`: longer than its column)."""
    policies.require_administer_account(actor, person)
    given = stored_text(Person, "given_name", given_name)
    family = stored_text(Person, "family_name", family_name)
    if not given or not family:
        raise ValidationFailed(_("Enter the given name and the family name."),
                               code="joiner.names", field="given_name")
    with transaction.atomic():
        locked = Person.objects.select_for_update().get(pk=person.pk)
        if (locked.given_name, locked.family_name) == (given, family):
            return locked
        changes = {"given_name": [locked.given_name, given],
                   "family_name": [locked.family_name, family]}
        locked.given_name, locked.family_name = given, family
        locked.save(update_fields=["given_name", "family_name", "updated_at"])
        person_changed_publish(record(actor=actor, action=audit.PERSON_RENAMED.code, target=locked,
                                      subject=locked, changes=changes))
    return locked
