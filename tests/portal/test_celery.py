"""The Celery base task: system actor context carrying the enqueuing request id."""

from __future__ import annotations

from apps.audit import context
from portal.celery import app


@app.task(name="tests.who_am_i")
def who_am_i() -> tuple[str, str, str]:
    ctx = context.current()
    assert ctx is not None
    return ctx.kind, ctx.actor_label, ctx.request_id


def test_task_runs_as_system_actor_with_the_request_id() -> None:
    origin = context.ActorContext(actor_id=None, actor_label="someone", request_id="req-42")
    with context.acting_as(origin):
        kind, label, request_id = who_am_i.delay().get()
    assert (kind, label, request_id) == ("system", "celery:tests.who_am_i", "req-42")
