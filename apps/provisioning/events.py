"""From a change to provisioning jobs: the handler of the `person.changed` outbox event
(docs/provisioning.md, "From a change to the target"), registered in `ProvisioningConfig.ready`.

The services of the apps below publish `person.changed` with the change and its audit event, in
one transaction (`apps.identities.changes`); the scheduler publishes it when a validity boundary
passes (`apps.provisioning.schedule`). This handler turns one event into one job per downstream
system that receives the person. The jobs are the worker's queue, like the outbox rows they come
from: they are not audited themselves (the change's own audit event, whose id the job's key names,
covers them, and the push records `provisioning_job.pushed` or `provisioning_job.failed`).
"""

from __future__ import annotations

from django.db import transaction

from apps.audit import context
from apps.outbox.registry import Event
from apps.provisioning import scope, tasks
from apps.provisioning.models import ProvisioningJob


def person_changed_handle(event: Event) -> int:
    """Handler of `person.changed` (payload `{"person_id", "change"}`): queue a pending
    `ProvisioningJob` for each downstream system that receives the person or received them before
    (`scope.systems_for_person`; a paused system too, its jobs wait), keyed by the event's key,
    with the request id of the request that made the change. Runs in the outbox delivery's
    transaction; after it commits the provisioning worker is woken (`tasks.wake`).

    Idempotent: the job key is unique per system (`provisioning_job_key_unique`, get or create),
    so a redelivered event, or one delivered by two processes at once, queues nothing new.
    Returns how many jobs were queued now."""
    person_id = event.payload["person_id"]
    request_id = context.current().request_id[:64]
    queued = sum(
        ProvisioningJob.objects.get_or_create(
            system=system, key=event.key,
            defaults={"person_id": person_id, "change": event.payload["change"],
                      "request_id": request_id})[1]
        for system in scope.systems_for_person(person_id))
    if queued:
        transaction.on_commit(tasks.wake)
    return queued
