"""The Celery app. Tasks take ids and primitives and make one service call.

Every task runs with a request context carrying the request id of the page or API call that
enqueued it, so the audit rows of background work link back to their origin; tasks act as the
worker (`apps.core.actors.WORKER`).
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task

from apps.audit import context

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.base")

REQUEST_ID_HEADER = "portal_request_id"


class PortalTask(Task):  # type: ignore[misc]
    """Base task: passes the enqueuing request id along and sets the request context."""

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        headers = dict(options.pop("headers", None) or {})
        headers.setdefault(REQUEST_ID_HEADER, context.current().request_id)
        options["headers"] = headers
        return super().apply_async(args, kwargs, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        request_id = getattr(self.request, REQUEST_ID_HEADER, None) or (
            (self.request.headers or {}).get(REQUEST_ID_HEADER)
        )
        ctx = context.RequestContext(request_id=request_id) if request_id else context.RequestContext()
        with context.using(ctx):
            return super().__call__(*args, **kwargs)


app = Celery("portal", task_cls=PortalTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
