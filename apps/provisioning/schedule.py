"""Time-based changes: a commission or system role that starts or ends by its date
(docs/provisioning.md, "Time-based changes").

Nobody acts when a validity boundary (`valid_from`, `valid_until`) passes, so no service publishes
a change then. Celery beat runs `schedule_run` every minute (`CELERY_BEAT_SCHEDULE`); it reads
the database for the boundaries that passed since the last run (a durable watermark,
`ScheduleWatermark`) and publishes one `person.changed` for each (`schedule.started`,
`schedule.ended`), whose handler queues the jobs like for any other change. Nothing waits in the
broker (no Celery countdown or ETA): a run that is missed, or a broker that is down, costs only
delay, and the next run catches up from the watermark.

What a boundary needs no job for, and why it is not lost:
- a boundary that passed before the row was inserted (a commission granted from today, or an
  operator's import of one already ended): the grant's own `commission.granted` job runs after the
  grant commits and sends the state of that moment;
- a boundary of an item ended early (`ended_at` at or before it): `commission.ended` or
  `role.ended` sent the end;
- a boundary that passed while the inserting transaction was still open, so that a run did not
  see the row: it passed before the commit, so the grant's job (run after the commit) sends it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.audit.services import record
from apps.commissions.models import Commission, RoleAssignment
from apps.commissions.policies import require_operator
from apps.core.calls import service
from apps.identities.actors import Actor
from apps.identities.changes import person_changed_by
from apps.provisioning import audit
from apps.provisioning.models import ScheduleWatermark

#: The changes the scheduler publishes (`ProvisioningJob.change`).
STARTED = "schedule.started"
ENDED = "schedule.ended"
#: The watermark row of validity boundaries.
WATERMARK = "validity_boundaries"


@dataclass(frozen=True)
class Boundary:
    """One validity boundary that passed: the person's id, the item (`commission` or
    `roleassignment`, its id), the change (`STARTED` or `ENDED`) and when (UTC)."""

    person_id: uuid.UUID
    item: str
    item_id: uuid.UUID
    change: str
    at: dt.datetime

    @property
    def change_id(self) -> str:
        """Unique per item and boundary (`schedule.ended:commission:<id>:<ISO 8601 time>`), so
        the outbox and the jobs take a boundary once however often it is looked at."""
        return f"{self.change}:{self.item}:{self.item_id}:{self.at.isoformat()}"


@dataclass(frozen=True)
class ScheduleReport:
    """What a run did: the window (`since`, `until`], UTC, and how many boundaries it published,
    `started` and `ended`."""

    since: dt.datetime
    until: dt.datetime
    started: int
    ended: int


def _boundaries_passed(since: dt.datetime, until: dt.datetime) -> list[Boundary]:
    """The validity boundaries of commissions and role assignments in (`since`, `until`] (UTC)
    that need a job (see the module docstring), in time order. Reads 4 times."""
    found = []
    for model, person in ((Commission, "employee__person_id"), (RoleAssignment, "person_id")):
        for field, change in (("valid_from", STARTED), ("valid_until", ENDED)):
            rows = (model.objects
                    .filter(**{f"{field}__gt": since, f"{field}__lte": until,
                               "created_at__lt": F(field)})
                    .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=F(field)))
                    .values_list("pk", person, field))
            found += [Boundary(person_id=person_id, item=model._meta.model_name or "",
                               item_id=pk, change=change, at=at)
                      for pk, person_id, at in rows]
    return sorted(found, key=lambda boundary: (boundary.at, str(boundary.item_id)))


@service
def schedule_run(*, actor: Actor) -> ScheduleReport:
    """Publish a `person.changed` for every validity boundary that passed since the last run
    (`_boundaries_passed` from the watermark to now), then move the watermark to now, in one
    transaction. The watermark row is locked first (`SELECT ... FOR UPDATE`; created at now on
    the first run, so history before it is not replayed): a parallel run waits, then starts from
    where this one ended, and the outbox keys (`Boundary.change_id`) make a boundary published
    twice a no-op all the same. Audited `provisioning_schedule.handed_over` when it published
    something (an empty run changes nothing but the watermark).

    Only the portal's own system actors (`require_operator`: the worker); raises Forbidden
    otherwise."""
    require_operator(actor)
    with transaction.atomic():
        mark, _created = ScheduleWatermark.objects.select_for_update().get_or_create(
            name=WATERMARK, defaults={"passed_until": timezone.now()})
        # Read after the lock, so that the window starts where the previous run ended.
        since, until = mark.passed_until, timezone.now()
        if until <= since:
            return ScheduleReport(since=since, until=since, started=0, ended=0)
        found = _boundaries_passed(since, until)
        for boundary in found:
            person_changed_by(boundary.person_id, change=boundary.change,
                              change_id=boundary.change_id)
        mark.passed_until = until
        mark.save(update_fields=["passed_until", "updated_at"])
        started = sum(1 for boundary in found if boundary.change == STARTED)
        report = ScheduleReport(since=since, until=until, started=started,
                                ended=len(found) - started)
        if found:
            record(actor=actor, action=audit.SCHEDULE_HANDED_OVER.code, target=mark,
                   changes={"passed_until": [since.isoformat(), until.isoformat()],
                            "started": [None, report.started], "ended": [None, report.ended]})
    return report
