"""Who is acting: the actor context the audit writer reads.

Set by the middleware (pages), the API authentication, the Celery base task (a system actor with the
originating request id) and management commands. Stored in a `ContextVar`, so it is per request and
per thread/task, never shared between processes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class ActorContext:
    """Snapshot of the acting party, copied into each audit row.

    `actor_id` is the acting user's UUID (None for the system), `actor_label` a human label,
    `kind` one of "user", "system", "anonymous"; `commission_hsa_id` and `organisation_hsa_id` the
    commission and unit acted under, if any; `loa` the session's level of assurance URI.
    """

    actor_id: uuid.UUID | None
    actor_label: str
    kind: str = "user"
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    ip: str | None = None
    loa: str | None = None
    commission_hsa_id: str | None = None
    organisation_hsa_id: str | None = None


_current: ContextVar[ActorContext | None] = ContextVar("audit_actor", default=None)


def current() -> ActorContext | None:
    """The actor context in force, or None."""
    return _current.get()


@contextmanager
def acting_as(ctx: ActorContext) -> Iterator[ActorContext]:
    """Run the block with `ctx` as the actor context, restoring the previous one after."""
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def system(label: str, *, request_id: str | None = None) -> ActorContext:
    """A system actor (Celery task, management command) labelled `label`."""
    ctx = ActorContext(actor_id=None, actor_label=label, kind="system")
    return replace(ctx, request_id=request_id) if request_id else ctx
