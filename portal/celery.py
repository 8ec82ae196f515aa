"""The Celery app. Tasks take ids and primitives and make one service call.

Every task runs as a system actor (`celery:<task name>`) that carries the request id of the page or
API call that enqueued it, so the audit rows of background work link back to their origin.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task

from apps.audit import context

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.base")

REQUEST_ID_HEADER = "portal_request_id"


class PortalTask(Task):  # type: ignore[misc]
    """Base task: passes the enqueuing request id along and sets the system actor context."""

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        ctx = context.current()
        if ctx is not None:
            headers = dict(options.pop("headers", None) or {})
            headers.setdefault(REQUEST_ID_HEADER, ctx.request_id)
            options["headers"] = headers
        return super().apply_async(args, kwargs, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        request_id = getattr(self.request, REQUEST_ID_HEADER, None) or (
            (self.request.headers or {}).get(REQUEST_ID_HEADER)
        )
        with context.acting_as(context.system(f"celery:{self.name}", request_id=request_id)):
            return super().__call__(*args, **kwargs)


app = Celery("portal", task_cls=PortalTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
