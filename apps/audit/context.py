"""Request metadata the audit writer copies into each row: where a request came from.

The actor is NOT here: every service receives its actor and passes it to `record()` itself (the
actor rule, docs/architecture.md). This context carries only what the request knows about itself:
its id, the client address, the session's level of assurance and the commission acted under. It is
set by the page middleware (the commission and its unit by `apps.authn.middleware`, after it
re-validated the session's choice), the API views, the Celery base task (carrying the enqueuing request's
id) and management commands; stored in a `ContextVar`, so it is per request and per thread/task,
never shared between processes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestContext:
    """`request_id` (an opaque id, at most 64 characters), `ip` the client address (None when not a
    web request), `loa` the session's level of assurance URI, `commission_hsa_id` and
    `organisation_hsa_id` the commission and unit acted under, if any."""

    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    ip: str | None = None
    loa: str | None = None
    commission_hsa_id: str | None = None
    organisation_hsa_id: str | None = None


_current: ContextVar[RequestContext | None] = ContextVar("audit_request", default=None)


def current() -> RequestContext:
    """The request context in force, or a fresh one (new request id, no address) outside any."""
    return _current.get() or RequestContext()


def in_force() -> RequestContext | None:
    """The request context in force, or None outside any (a log line then carries no request
    id rather than a made-up one)."""
    return _current.get()


@contextmanager
def using(ctx: RequestContext) -> Iterator[RequestContext]:
    """Run the block with `ctx` as the request context, restoring the previous one after."""
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
