"""The one audit writer: `record()`. Every domain write calls it inside its own transaction, from
inside a public service whose policy let the same actor through (apps.core.calls)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import connection, models, transaction

from apps.audit import context, registry
from apps.audit.models import AuditEvent
from apps.core.actors import SystemActor
from apps.core.calls import current_call, same_actor

MASKED = "***"
SECRET_FIELDS = frozenset(
    {"password", "secret", "code", "code_hash", "secret_hash", "short_hash", "token", "otp", "key"}
)


class AuditContextMissing(RuntimeError):
    """record() was called outside a transaction, outside a service, before the service checked a
    policy, or with another actor than the service's (a programming error, never user input)."""


class Labelled(Protocol):
    """A subject person: something with an `id` and a `__str__` label."""

    @property
    def id(self) -> Any: ...


class Acting(Protocol):
    """A user actor: a `pk`, the name shown for it (`audit_label`, e.g. "Given Family") and the
    immutable identifier shown next to that name (`audit_identifier`, e.g. a staff username; ""
    when none may be shown)."""

    @property
    def pk(self) -> Any: ...

    @property
    def audit_label(self) -> str: ...

    @property
    def audit_identifier(self) -> str: ...


@dataclass(frozen=True)
class AuditTarget:
    """What an event is about when no single row is: `type` (`<app>.<thing>`), `id` and `label`
    (an access decision is about a patient's information, `rules.access`)."""

    type: str
    id: str
    label: str


def actor_snapshot(actor: SystemActor | Acting) -> tuple[uuid.UUID | None, str, str, str]:
    """(actor id, label, kind, identifier) as stored in audit rows: a system actor has no id, its
    code as label, its own kind and no identifier; a user has its id, its name, kind "user" and
    its immutable identifier, kept apart from the name so that two people with one name, or a name
    written to look like another's, stay told apart (docs/security.md). An actor that is not a
    login account names its own kind (`audit_kind`: "staff" for a staff member a registered
    system acts for, apps.rules.facts.AccessActor)."""
    if isinstance(actor, SystemActor):
        return None, actor.code, actor.kind, ""
    return (actor.pk, actor.audit_label[:200], getattr(actor, "audit_kind", "user"),
            actor.audit_identifier)


def _mask(changes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: ([MASKED, MASKED] if key in SECRET_FIELDS else _jsonable(value))
        for key, value in changes.items()
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def record(
    *,
    actor: SystemActor | Acting,
    action: str,
    target: models.Model | AuditTarget,
    changes: Mapping[str, Any] | None = None,
    subject: Labelled | None = None,
    reason: str = "",
    outcome: str = AuditEvent.Outcome.SUCCESS,
    organisation: Any | None = None,
) -> AuditEvent:
    """Append one audit event: `actor` did `action` on `target`, in the caller's transaction.

    `actor` is the service's own actor (a `User` or a `SystemActor`); request metadata (request id,
    address, level of assurance) comes from `apps.audit.context`. `subject` is the person the event
    is about (their history and log extract); `organisation` the care unit or organisation
    concerned (defaults to the request's). Raises `AuditContextMissing` outside
    `transaction.atomic`, outside a public service, before the service's policy passed, or when
    `actor` is not the service's actor; KeyError for an unregistered action code.
    """
    registry.get(action)
    if not connection.in_atomic_block:
        raise AuditContextMissing("audit.record() must run inside transaction.atomic()")
    call = current_call()
    if call is None:
        raise AuditContextMissing("audit.record() must run inside a public service (@service)")
    if not same_actor(call.actor, actor):
        raise AuditContextMissing(f"{call.name}: the audit actor is not the service's actor")
    if not call.policies:
        raise AuditContextMissing(f"{call.name}: no policy was checked before the audit event")
    ctx = context.current()
    actor_id, actor_label, actor_kind, actor_identifier = actor_snapshot(actor)
    org_hsa = getattr(organisation, "hsa_id", "") if organisation else (ctx.organisation_hsa_id or "")
    return AuditEvent.objects.create(
        action=action,
        outcome=outcome,
        actor_id=actor_id,
        actor_label=actor_label,
        actor_kind=actor_kind,
        actor_identifier=actor_identifier,
        commission_hsa_id=ctx.commission_hsa_id or "",
        organisation_hsa_id=org_hsa,
        organisation_label=str(organisation)[:200] if organisation else "",
        subject_person_id=subject.id if subject else None,
        subject_label=str(subject)[:200] if subject else "",
        target_type=target.type if isinstance(target, AuditTarget) else target._meta.label_lower,
        target_id=target.id if isinstance(target, AuditTarget) else str(target.pk),
        target_label=(target.label if isinstance(target, AuditTarget) else str(target))[:200],
        changes=_mask(changes or {}),
        reason=reason,
        request_id=ctx.request_id,
        ip=ctx.ip,
        loa=ctx.loa or "",
    )


def atomic_record_failure(**kwargs: Any) -> AuditEvent:
    """Record a failed attempt in its own transaction (the attempt's own work was rolled back)."""
    with transaction.atomic():
        return record(outcome=AuditEvent.Outcome.FAILURE, **kwargs)
