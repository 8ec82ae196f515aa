"""Structured logs: one JSON object per line (docs/deployment.md, "Logs").

`PORTAL_LOG_FORMAT` chooses the format of every process's logs (web, Celery worker and beat,
gunicorn's own): `json` (the default with debug off) or `plain` (the default with debug on, for
reading in a terminal). Each JSON line has:

- `time`: when the record was made, UTC, ISO 8601 with milliseconds and `Z`;
- `level`, `logger`, `message`: the record's level name, logger name and formatted message;
- `request_id`: the request id in force (apps.audit.context: a page's or API call's, or in a
  Celery task the id of the request that enqueued it), the same id as the audit rows' and the
  `X-Request-ID` answer header; absent outside any request;
- `task_id`, `task`: in a Celery task, the task's own id and name;
- `exception`: the traceback, when the record carries one;
- `http`: for gunicorn's access log, `method`, `path` (without the query string, so no code or
  token), `status`, `bytes`, `duration_ms` and `request_id` (from the answer's `X-Request-ID`).

The formatter adds no field of its own beyond these: no user, address or header values (the
messages themselves are the loggers', and the settings keep the chatty ones that log personal
data at WARNING).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from celery import current_task

from apps.audit import context

FORMATS = ("json", "plain")


def log_format(environ: Mapping[str, str] = os.environ) -> str:
    """`PORTAL_LOG_FORMAT` (`json` or `plain`, case-insensitive); by default `json` unless
    `DJANGO_DEBUG` is true (the same truth values as django-environ's). Raises ValueError for any
    other value. Read by the settings and by portal/gunicorn.conf.py, so that both agree."""
    debug = environ.get("DJANGO_DEBUG", "").strip().lower() in ("true", "on", "ok", "y", "yes",
                                                                "1")
    value = environ.get("PORTAL_LOG_FORMAT", "").strip().lower() or ("plain" if debug else "json")
    if value not in FORMATS:
        raise ValueError(f"PORTAL_LOG_FORMAT={value!r}: use json or plain.")
    return value


def _access_fields(atoms: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a gunicorn access log record, from its atoms (gunicorn.glogging)."""
    request_id = atoms.get("{x-request-id}o")
    return {"method": atoms.get("m"), "path": atoms.get("U"), "status": _int(atoms.get("s")),
            "bytes": atoms.get("B"), "duration_ms": atoms.get("M"),
            **({"request_id": request_id} if request_id else {})}


def _int(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (the fields are in the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ctx = context.in_force()
        if ctx is not None:
            entry["request_id"] = ctx.request_id
        task = current_task  # a proxy: false outside a task
        if task and task.request.id:
            entry["task_id"] = task.request.id
            entry["task"] = task.name
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            entry["http"] = _access_fields(record.args)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def formatters() -> dict[str, dict[str, Any]]:
    """The `formatters` entry of a logging dictConfig: `json`, and `plain` (the message alone,
    as Python's default formatter prints it)."""
    return {"json": {"()": "portal.logging_json.JsonFormatter"},
            "plain": {"format": "%(message)s"}}
