"""The one audit writer: `record()`. Every domain write calls it inside its own transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from django.db import connection, models, transaction

from apps.audit import context, registry
from apps.audit.models import AuditEvent

MASKED = "***"
SECRET_FIELDS = frozenset(
    {"password", "secret", "code", "code_hash", "secret_hash", "short_hash", "token", "otp"}
)


class AuditContextMissing(RuntimeError):
    """record() was called without an actor context or outside a transaction."""


class Labelled(Protocol):
    """A subject person: something with an `id` and a `__str__` label."""

    id: Any


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
    action: str,
    target: models.Model,
    changes: Mapping[str, Any] | None = None,
    subject: Labelled | None = None,
    reason: str = "",
    outcome: str = AuditEvent.Outcome.SUCCESS,
    organisation: Any | None = None,
) -> AuditEvent:
    """Append one audit event for `action` on `target`, in the caller's transaction.

    `subject` is the person the event is about (it appears in their history and log extract);
    `organisation` the care unit or organisation concerned (defaults to the actor's). Raises
    `AuditContextMissing` outside `transaction.atomic` or without an actor context, and KeyError for
    an unregistered action code.
    """
    registry.get(action)
    if not connection.in_atomic_block:
        raise AuditContextMissing("audit.record() must run inside transaction.atomic()")
    ctx = context.current()
    if ctx is None:
        raise AuditContextMissing("audit.record() needs an actor context (audit.context)")
    org_hsa = getattr(organisation, "hsa_id", "") if organisation else (ctx.organisation_hsa_id or "")
    return AuditEvent.objects.create(
        action=action,
        outcome=outcome,
        actor_id=ctx.actor_id,
        actor_label=ctx.actor_label[:200],
        actor_kind=ctx.kind,
        commission_hsa_id=ctx.commission_hsa_id or "",
        organisation_hsa_id=org_hsa,
        organisation_label=str(organisation)[:200] if organisation else "",
        subject_person_id=subject.id if subject else None,
        subject_label=str(subject)[:200] if subject else "",
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_label=str(target)[:200],
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
