"""From a change to provisioning jobs (docs/provisioning.md, "From a change to the target"): each
change of what downstream systems receive queues one job per system that receives the person,
none for the others; a redelivered event queues nothing new; a change rolled back queues nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.audit import context
from apps.audit.models import AuditEvent
from apps.authn import account
from apps.commissions import services as commissions
from apps.commissions.models import Commission, Employee, PlannedLeave, Role, RoleAssignment
from apps.commissions.tasks import planned_leaves_apply_task
from apps.core.actors import SYSTEM
from apps.core.errors import ValidationFailed
from apps.identities import services as identities
from apps.identities.changes import PERSON_CHANGED
from apps.identities.models import User
from apps.organisations.models import Organisation
from apps.outbox import registry
from apps.outbox.models import OutboxEvent
from apps.provisioning.events import person_changed_handle
from apps.provisioning.models import DownstreamSystem, ProvisioningJob, RemoteUser
from tests.conftest import make_staff, next_person_number, totp_now
from tests.provisioning.receivers import CARE, RECEIVERS, deliver_all, queued_by


@dataclass
class Staff:
    tree: dict[str, Organisation]
    user: User
    employee: Employee
    commission: Commission
    role: RoleAssignment


@pytest.fixture
def staff(tree: dict[str, Organisation], systems: dict[str, DownstreamSystem]) -> Staff:
    """A nurse at Cardiology with a care commission and the issuer role over the hospital."""
    user, employee = make_staff(tree["cardio"], "Nina", "Nurse")
    commission = commissions.commission_grant(
        actor=SYSTEM, employee=employee, care_unit=tree["cardio"], purpose=CARE,
        rights=["Läsa;alla;VE"], valid_from=timezone.now() - timedelta(days=1), valid_until=None)
    role = commissions.role_grant(actor=SYSTEM, person=user.person, role=Role.ISSUER,
                                  organisation=tree["hospital"], valid_from=timezone.now(),
                                  valid_until=None)
    return Staff(tree=tree, user=user, employee=employee, commission=commission, role=role)


def _reactivate(s: Staff) -> Callable[[], object]:
    commissions.account_deactivate(actor=SYSTEM, user=s.user, reason="On leave")
    return lambda: commissions.account_reactivate(actor=SYSTEM, user=s.user, reason="Back")


def _account_created(s: Staff) -> Callable[[], object]:
    person = identities.person_create(actor=SYSTEM, given_name="Sam", family_name="Staff",
                                      person_number=next_person_number())
    commissions.employee_create(actor=SYSTEM, person=person, organisation=s.tree["cardio"])
    return lambda: identities.user_create(actor=SYSTEM, person=person, username="sam.staff",
                                          kind=User.Kind.STAFF)


#: Each kind of change a service makes: given the staff member, the call that makes it.
CHANGES: dict[str, Callable[[Staff], Callable[[], object]]] = {
    "commission.granted": lambda s: lambda: commissions.commission_grant(
        actor=SYSTEM, employee=s.employee, care_unit=s.tree["ortho"], purpose=CARE,
        rights=["Läsa;alla;VE"], valid_from=timezone.now(), valid_until=None),
    "commission.ended": lambda s: lambda: commissions.commission_end(
        actor=SYSTEM, commission=s.commission, reason="Changed unit"),
    "role.granted": lambda s: lambda: commissions.role_grant(
        actor=SYSTEM, person=s.user.person, role=Role.LOCAL_ADMIN, organisation=s.tree["cardio"],
        valid_from=timezone.now(), valid_until=None),
    "role.ended": lambda s: lambda: commissions.role_end(
        actor=SYSTEM, assignment=s.role, reason="No longer issues"),
    "employee.created": lambda s: lambda: commissions.employee_create(
        actor=SYSTEM, person=s.user.person, organisation=s.tree["primary"]),
    "account.deactivated": lambda s: lambda: commissions.account_deactivate(
        actor=SYSTEM, user=s.user, reason="On leave"),
    "account.reactivated": _reactivate,
    "contact.email_changed": lambda s: lambda: account.contact_email_change(
        actor=s.user, email="nina.nurse@region.example", token=totp_now()),
    "user.created": _account_created,
    "person.renamed": lambda s: lambda: commissions.person_rename(
        actor=SYSTEM, person=s.user.person, given_name="Nina", family_name="Nyström"),
}


@pytest.mark.parametrize("change", CHANGES)
def test_each_change_queues_one_job_per_system_that_receives_the_person(
        change: str, staff: Staff) -> None:
    make_change = CHANGES[change](staff)
    with context.using(context.RequestContext(request_id=f"req-{change}")):
        queued = queued_by(make_change)

    assert queued == [(name, change) for name in RECEIVERS]  # none for the clinic's system
    event = AuditEvent.objects.get(action=change, request_id=f"req-{change}")
    jobs = ProvisioningJob.objects.filter(request_id=f"req-{change}")
    # The job names the audited change it comes from, and the request that made it.
    assert {(job.key, job.person_id, job.state) for job in jobs} == {
        (f"person.changed:{event.pk}", event.subject_person_id, "pending")}


def test_a_person_outside_every_scope_but_one_is_queued_for_that_one_only(
        tree: dict[str, Organisation], systems: dict[str, DownstreamSystem]) -> None:
    def arrive() -> None:
        make_staff(tree["other_unit"], "Olle", "Other", care=True)

    assert queued_by(arrive) == [("Clinic system", "commission.granted"),
                                 ("Clinic system", "employee.created"),
                                 ("Clinic system", "person.created"),
                                 ("Clinic system", "user.created")]


def test_a_person_and_a_patient_account_with_no_employee_hsa_id_queue_nothing(
        tree: dict[str, Organisation], systems: dict[str, DownstreamSystem]) -> None:
    def register() -> None:
        person = identities.person_create(actor=SYSTEM, given_name="Tove", family_name="Patient",
                                          person_number=next_person_number())
        identities.user_create(actor=SYSTEM, person=person, username="tove",
                               kind=User.Kind.PATIENT)

    assert queued_by(register) == []
    # A patient account is never a downstream system's business: not even published.
    assert sorted(OutboxEvent.objects.filter(topic=PERSON_CHANGED)
                  .values_list("payload__change", flat=True)) == ["person.created"]


def test_a_joiner_queues_the_person_the_employee_hsa_id_and_the_account(
        tree: dict[str, Organisation], systems: dict[str, DownstreamSystem],
        hospital_admin: User) -> None:
    deliver_all()
    ProvisioningJob.objects.all().delete()  # the administrator's own set-up

    def register() -> None:
        commissions.joiner_register(
            actor=hospital_admin, identity_number=next_person_number(), reserve=False,
            given_name="Jana", family_name="Joiner", email="jana@region.example",
            organisation=tree["cardio"], channel="email")

    assert queued_by(register) == [
        (name, change) for name in RECEIVERS
        for change in ("employee.created", "person.created", "user.created")]


def test_a_mover_is_queued_for_the_system_that_holds_them_and_the_one_that_now_receives_them(
        staff: Staff, systems: dict[str, DownstreamSystem]) -> None:
    # The record system has been sent the person; the paused directory has not yet.
    RemoteUser.objects.create(system=systems["record"], person=staff.user.person,
                              remote_id="2819c223", active=True)

    def move() -> None:
        commissions.employee_move(actor=SYSTEM, employee=staff.employee,
                                  organisation=staff.tree["other_unit"], end=[],
                                  reason="Moved to the clinic")

    assert queued_by(move) == [("Clinic system", "employee.moved"),
                               ("Region record system", "employee.moved")]


def test_a_leaver_queues_each_thing_that_ended(staff: Staff, hospital_admin: User) -> None:
    def leave() -> None:
        commissions.person_leave(actor=hospital_admin, person=staff.user.person, reason="Left")

    assert queued_by(leave) == [
        (name, change) for name in RECEIVERS
        for change in ("account.deactivated", "commission.ended", "role.ended")]


def test_a_planned_leaver_is_queued_when_the_scheduler_applies_it(
        staff: Staff, hospital_admin: User) -> None:
    today = timezone.localtime(timezone.now(), commissions.SWEDEN).date()
    planned = commissions.planned_leave_set(actor=hospital_admin, person=staff.user.person,
                                            last_day=today, reason="Retires")
    PlannedLeave.objects.filter(pk=planned.pk).update(last_day=today - timedelta(days=1))

    assert queued_by(planned_leaves_apply_task) == [
        (name, change) for name in RECEIVERS
        for change in ("account.deactivated", "commission.ended", "role.ended")]


def test_a_redelivered_event_queues_nothing_new(staff: Staff) -> None:
    queued = queued_by(CHANGES["commission.ended"](staff))
    assert len(queued) == 2
    outbox = OutboxEvent.objects.get(topic=PERSON_CHANGED, payload__change="commission.ended")

    # Delivered again (as after a worker that committed but whose acknowledgement was lost).
    OutboxEvent.objects.filter(pk=outbox.pk).update(delivered_at=None)
    assert queued_by(lambda: None) == []
    again = registry.Event(id=outbox.id, topic=outbox.topic, key=outbox.idempotency_key,
                           payload=outbox.payload, created_at=outbox.created_at, attempt=2)
    assert person_changed_handle(again) == 0
    assert ProvisioningJob.objects.filter(key=outbox.idempotency_key).count() == 2


def test_a_change_rolled_back_or_refused_queues_nothing(staff: Staff) -> None:
    def grant_then_fail() -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            commissions.commission_grant(
                actor=SYSTEM, employee=staff.employee, care_unit=staff.tree["ortho"],
                purpose=CARE, rights=["Läsa;alla;VE"], valid_from=timezone.now(),
                valid_until=None)
            raise RuntimeError("the request failed after the grant")

    def grant_overlapping() -> None:
        with pytest.raises(ValidationFailed):
            commissions.commission_grant(
                actor=SYSTEM, employee=staff.employee, care_unit=staff.tree["cardio"],
                purpose=CARE, rights=["Läsa;alla;VE"], valid_from=timezone.now(),
                valid_until=None)

    published = OutboxEvent.objects.filter(topic=PERSON_CHANGED).count()
    assert queued_by(grant_then_fail) == []
    assert queued_by(grant_overlapping) == []
    assert OutboxEvent.objects.filter(topic=PERSON_CHANGED).count() == published
