"""The Celery base task: the request context carries the enqueuing request id."""

from __future__ import annotations

from apps.audit import context
from portal.celery import app


@app.task(name="tests.which_request")
def which_request() -> str:
    return context.current().request_id


def test_task_runs_with_the_enqueuing_request_id() -> None:
    with context.using(context.RequestContext(request_id="req-42")):
        request_id = which_request.delay().get()
    assert request_id == "req-42"
