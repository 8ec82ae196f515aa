"""Two workers pushing at once on PostgreSQL: each job is pushed by one of them, a person's jobs
finish in the order of their changes, and the target ends with one user per person."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from django.db import connection

from apps.audit.models import AuditEvent
from apps.identities.models import Person
from apps.provisioning.models import DownstreamSystem, ProvisioningJob
from apps.provisioning.push import PushReport, push_due
from tests.concurrency.support import at_once
from tests.conftest import make_staff
from tests.integration.scim_target import FaultyProxy, ScimTarget
from tests.provisioning.conftest import make_system, queue

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgresql_only(db: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the claim relies on row locks (SELECT ... FOR UPDATE SKIP "
                    "LOCKED); run with DATABASE_URL=postgres://...")


def _worker() -> PushReport:
    try:
        total = PushReport()
        while True:  # until this worker finds nothing more to claim
            report = push_due(limit=5)
            total.results.update(report.results)
            total.retried += report.retried
            total.lost += report.lost
            if not sum(report.results.values()) and not report.retried:
                return total
    finally:
        connection.close()


def test_two_workers_keep_each_persons_order_and_push_each_job_once(
    target: ScimTarget, proxy: FaultyProxy, tree: Any
) -> None:
    people: list[Person] = [make_staff(tree["cardio"], f"Pelle{i}", "Parallel", care=True)[0].person
                            for i in range(4)]
    # Registered after the people, so that only the jobs queued below exist for it.
    system: DownstreamSystem = make_system(tree["region"], proxy.url)
    for round_ in range(3):
        for person in people:
            Person.objects.filter(pk=person.pk).update(family_name=f"Parallel{round_}")
            queue(system, person)  # each job sees the final state; order is what is checked
    proxy.fail(503, times=2)  # two requests fail on the way and their jobs are retried

    reports = at_once([_worker, _worker])
    for _ in range(2):  # a failed bulk request retries each of its jobs: twice at most
        ProvisioningJob.objects.filter(state="pending").update(available_at="2000-01-01T00:00Z")
        reports += at_once([_worker, _worker])

    jobs = list(ProvisioningJob.objects.order_by("id"))
    assert {job.state for job in jobs} == {"done"}
    finished: dict[Any, list[Any]] = defaultdict(list)
    for job in jobs:
        finished[job.person_id].append(job.finished_at)
    for times in finished.values():
        assert times == sorted(times), "a later job of a person finished before an earlier one"
    pushed = AuditEvent.objects.filter(action="provisioning_job.pushed")
    assert pushed.count() == len(jobs)  # each job finished once, by one worker
    assert sum(sum(r.results.values()) for r in reports) == len(jobs)
    assert sum(r.lost for r in reports) == 0
    users = target.users()
    assert len(users) == len(people)
    assert {u["externalId"] for u in users} == {str(p.pk) for p in people}
