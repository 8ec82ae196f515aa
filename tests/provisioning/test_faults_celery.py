"""The push survives a broker that is down while changes happen: real Celery worker and beat
processes on Redis and PostgreSQL push the queued jobs to a real scim2-server."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import transaction

from apps.audit.models import AuditEvent
from apps.provisioning.models import DownstreamSystem, ProvisioningJob
from apps.provisioning.tasks import wake
from tests.conftest import make_staff
from tests.integration.conftest import wait_for
from tests.integration.scim_target import ScimTarget
from tests.portal.support import unreachable_broker_url, using_broker
from tests.provisioning.conftest import make_system, queue

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_changes_made_while_the_broker_is_down_reach_the_target_once_beat_runs(
    start_celery: Any, target: ScimTarget, tree: Any
) -> None:
    system: DownstreamSystem = make_system(tree["region"], target.url)
    people = [make_staff(tree["cardio"], f"Berit{i}", "Broker", care=True)[0].person
              for i in range(3)]
    with using_broker(unreachable_broker_url()):  # the web process cannot reach the broker
        for person in people:
            with transaction.atomic():
                queue(system, person, "person.created")
                transaction.on_commit(wake)
    assert target.users() == []

    start_celery("worker", PROVISIONING_PUSH_EVERY_SECONDS="1")
    start_celery("beat", PROVISIONING_PUSH_EVERY_SECONDS="1")
    assert wait_for(lambda: not ProvisioningJob.objects.exclude(state="done").exists()), (
        "the jobs were not pushed within 60 s")
    time.sleep(3)  # a few more scheduled runs: nothing is pushed again
    assert {u["externalId"] for u in target.users()} == {str(p.pk) for p in people}
    assert AuditEvent.objects.filter(action="provisioning_job.pushed").count() == 3
