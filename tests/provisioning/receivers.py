"""Helpers of the tests of the fan-out from a change to jobs: delivering the outbox as the worker
does, and the jobs a change queued (the `systems` fixture is in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Max

from apps.identities.changes import PERSON_CHANGED
from apps.outbox.delivery import deliver_pending
from apps.outbox.models import OutboxEvent
from apps.provisioning.models import ProvisioningJob

CARE = "Vård och behandling"
#: The systems that receive a staff member of Cardiology (under the hospital, in the region).
RECEIVERS = ["Hospital directory", "Region record system"]


def deliver_all() -> None:
    """Deliver every due outbox event, as the worker does; a failed `person.changed` fails the
    test."""
    while deliver_pending().delivered:
        pass
    failed = OutboxEvent.objects.filter(topic=PERSON_CHANGED).exclude(last_error="")
    assert not failed.exists(), list(failed.values_list("last_error", flat=True))


def queued_by(change: Callable[[], object]) -> list[tuple[str, str]]:
    """(system name, change) of the jobs queued by `change` once its outbox events are delivered,
    by system name."""
    deliver_all()
    last = ProvisioningJob.objects.aggregate(last=Max("id"))["last"] or 0
    change()
    deliver_all()
    return sorted(ProvisioningJob.objects.filter(id__gt=last)
                  .values_list("system__name", "change"))
