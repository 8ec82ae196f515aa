"""Time-based changes (docs/provisioning.md, "Time-based changes"): the scheduler reads the
database for the validity boundaries that passed since its last run and queues each once, also
when two runs race."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.commissions import services as commissions
from apps.commissions.models import Commission, Employee, Role, RoleAssignment
from apps.core.actors import SYSTEM, WORKER
from apps.core.errors import Forbidden
from apps.identities.models import User
from apps.organisations.models import Organisation
from apps.provisioning import schedule
from apps.provisioning.models import ProvisioningJob, ScheduleWatermark
from apps.provisioning.tasks import provisioning_schedule_task
from tests.concurrency.support import at_once
from tests.conftest import make_staff
from tests.provisioning.receivers import CARE, RECEIVERS, deliver_all

pytestmark = pytest.mark.usefixtures("systems")


def watermark_at(when: datetime) -> None:
    """The scheduler last ran at `when`."""
    ScheduleWatermark.objects.update_or_create(name=schedule.WATERMARK,
                                               defaults={"passed_until": when})


def granted_yesterday(employee: Employee, unit: Organisation, *, valid_from: datetime,
                      valid_until: datetime | None) -> Commission:
    """A commission granted a day ago (its row inserted then) for [valid_from, valid_until)."""
    commission = commissions.commission_grant(
        actor=SYSTEM, employee=employee, care_unit=unit, purpose=CARE, rights=["Läsa;alla;VE"],
        valid_from=valid_from, valid_until=valid_until)
    Commission.objects.filter(pk=commission.pk).update(
        created_at=timezone.now() - timedelta(days=1))
    return commission


def scheduled_jobs() -> list[tuple[str, str]]:
    """(system name, change) of the scheduler's jobs once its events are delivered."""
    deliver_all()
    return sorted(ProvisioningJob.objects.filter(change__startswith="schedule.")
                  .values_list("system__name", "change"))


@pytest.fixture
def nurse_at_cardio(tree: dict[str, Organisation]) -> tuple[User, Employee]:
    return make_staff(tree["cardio"], "Nina", "Nurse")


def test_a_commission_that_ended_by_date_is_queued_once(tree, nurse_at_cardio) -> None:
    _, employee = nurse_at_cardio
    now = timezone.now()
    commission = granted_yesterday(employee, tree["cardio"], valid_from=now - timedelta(days=1),
                                   valid_until=now - timedelta(minutes=2))
    watermark_at(now - timedelta(minutes=5))

    report = schedule.schedule_run(actor=WORKER)
    assert (report.started, report.ended) == (0, 1)
    assert scheduled_jobs() == [(name, "schedule.ended") for name in RECEIVERS]
    job = ProvisioningJob.objects.filter(change="schedule.ended").first()
    assert job is not None and job.person_id == employee.person_id
    assert job.key == (f"person.changed:schedule.ended:commission:{commission.pk}:"
                       f"{(now - timedelta(minutes=2)).isoformat()}")
    handed = AuditEvent.objects.get(action="provisioning_schedule.handed_over")
    assert handed.actor_label == "system:worker" and handed.changes["ended"] == [None, 1]

    # Run again (and again from an older watermark, as after a restore): nothing new.
    assert provisioning_schedule_task() == {"started": 0, "ended": 0}
    watermark_at(now - timedelta(minutes=5))
    assert schedule.schedule_run(actor=WORKER).ended == 1
    assert scheduled_jobs() == [(name, "schedule.ended") for name in RECEIVERS]


def test_a_role_that_started_by_date_is_queued(tree, nurse_at_cardio) -> None:
    user, _ = nurse_at_cardio
    now = timezone.now()
    assignment = commissions.role_grant(actor=SYSTEM, person=user.person, role=Role.ISSUER,
                                        organisation=tree["hospital"],
                                        valid_from=now - timedelta(minutes=1), valid_until=None)
    RoleAssignment.objects.filter(pk=assignment.pk).update(created_at=now - timedelta(days=1))
    watermark_at(now - timedelta(minutes=5))

    assert schedule.schedule_run(actor=WORKER).started == 1
    assert scheduled_jobs() == [(name, "schedule.started") for name in RECEIVERS]


def test_boundaries_the_change_itself_sent_are_not_queued_again(tree, nurse_at_cardio) -> None:
    _, employee = nurse_at_cardio
    now = timezone.now()
    watermark_at(now - timedelta(hours=1))
    # Granted from now: its own `commission.granted` job sends it started.
    commissions.commission_grant(actor=SYSTEM, employee=employee, care_unit=tree["cardio"],
                                 purpose=CARE, rights=["Läsa;alla;VE"],
                                 valid_from=timezone.now(), valid_until=None)
    # Ended early, before its end date passed: `commission.ended` sent the end.
    ended = granted_yesterday(employee, tree["ortho"], valid_from=now - timedelta(days=1),
                              valid_until=now - timedelta(minutes=1))
    Commission.objects.filter(pk=ended.pk).update(ended_at=now - timedelta(minutes=30),
                                                  end_reason="Ended early")
    # An end date still to come.
    granted_yesterday(employee, tree["primary"], valid_from=now - timedelta(days=1),
                      valid_until=now + timedelta(days=1))

    report = schedule.schedule_run(actor=WORKER)
    assert (report.started, report.ended) == (0, 0)
    assert scheduled_jobs() == []
    assert not AuditEvent.objects.filter(action="provisioning_schedule.handed_over").exists()


def test_the_first_run_starts_from_now(tree, nurse_at_cardio) -> None:
    _, employee = nurse_at_cardio
    now = timezone.now()
    granted_yesterday(employee, tree["cardio"], valid_from=now - timedelta(days=1),
                      valid_until=now - timedelta(minutes=2))
    ScheduleWatermark.objects.all().delete()

    report = schedule.schedule_run(actor=WORKER)
    assert (report.started, report.ended) == (0, 0)  # history before the first run is not replayed
    assert ScheduleWatermark.objects.get().passed_until == report.until


def test_only_the_portal_runs_the_scheduler(hospital_admin: User) -> None:
    with pytest.raises(Forbidden):
        schedule.schedule_run(actor=hospital_admin)


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_queue_a_commission_that_ended_by_date_exactly_once(
        tree, nurse_at_cardio) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the proof relies on row locks (SELECT ... FOR UPDATE)")
    _, employee = nurse_at_cardio
    now = timezone.now()
    granted_yesterday(employee, tree["cardio"], valid_from=now - timedelta(days=1),
                      valid_until=now - timedelta(minutes=2))
    watermark_at(now - timedelta(minutes=5))

    def run() -> schedule.ScheduleReport:
        try:
            return schedule.schedule_run(actor=WORKER)
        finally:
            connection.close()  # this thread's own connection

    reports = at_once([run, run])

    assert sorted(report.ended for report in reports) == [0, 1]
    assert scheduled_jobs() == [(name, "schedule.ended") for name in RECEIVERS]
    assert AuditEvent.objects.filter(action="provisioning_schedule.handed_over").count() == 1
