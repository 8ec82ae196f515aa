"""`person.changed`: the one outbox event of a change to what downstream systems receive about a
person (docs/provisioning.md, "From a change to the target").

A service whose change reaches downstream systems (a person registered, an employee HSA-id added
or moved, a commission or system role granted or ended, a login account deactivated or
reactivated, a leaver) publishes it with the audit event it records, in the same transaction:

    person_changed_publish(record(actor=actor, action=..., target=..., subject=person, ...))

The outbox imports no app above it, and this module sits in the lowest app that every such service
can import (pyproject.toml, import-linter layers); `apps.provisioning` handles the topic.
"""

from __future__ import annotations

import uuid

from apps.audit.models import AuditEvent
from apps.outbox.services import publish

#: The topic; payload `{"person_id": "<uuid>", "change": "<what happened>"}`.
PERSON_CHANGED = "person.changed"


def person_changed_publish(event: AuditEvent) -> None:
    """Publish in the caller's transaction that the person `event` is about (its
    `subject_person_id`) changed by `event.action` (an audit action code, e.g.
    `commission.granted`). The outbox key is `person.changed:<event id>`: one per change, so a
    retried service publishes nothing new. Raises ValueError for an event about no person, and
    `apps.outbox.services.PublishRefused` outside a service's transaction after its policy."""
    if event.subject_person_id is None:
        raise ValueError(f"audit event {event.action} names no person to provision")
    person_changed_by(event.subject_person_id, change=event.action, change_id=str(event.pk))


def person_changed_by(person_id: uuid.UUID | str, *, change: str, change_id: str) -> None:
    """Publish that person `person_id` changed by `change` (an audit action code, or
    `schedule.started` / `schedule.ended` for a validity boundary that passed), identified by
    `change_id` (the outbox key is `person.changed:<change_id>`, at most 200 characters). For a
    change without an audit event of its own (the scheduler's); the errors of
    `person_changed_publish`."""
    publish(topic=PERSON_CHANGED, payload={"person_id": str(person_id), "change": change},
            key=f"{PERSON_CHANGED}:{change_id}")
