"""Production serving with debug off: static files collected under hashed names and served by the
web process with long cache headers and the security headers; logs as one JSON object per line
carrying the request id (docs/deployment.md, "Static files" and "Logs")."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from apps.audit import context
from portal.celery import app as celery_app
from portal.logging_json import JsonFormatter, log_format

SCRIPT = """
import json, logging, django
django.setup()
from django.core.management import call_command
from django.test import Client
call_command("collectstatic", "--noinput", verbosity=0)
client = Client()
login = client.get("/login/")
css = json.loads((__import__("pathlib").Path(%(root)r) / "staticfiles.json").read_text())[
    "paths"]["css/portal.css"]
static = client.get("/static/" + css, HTTP_ACCEPT_ENCODING="gzip")
plain = client.get("/static/css/portal.css")
logging.getLogger("portal.check").warning("done")
print(json.dumps({"login": login.status_code, "hashed": css,
                  "in_page": ("/static/" + css) in login.content.decode(),
                  "status": static.status_code, "headers": dict(static.headers),
                  "plain_cache": plain.headers.get("Cache-Control")}))
"""


def test_collected_static_files_are_served_hashed_and_cached_with_json_logs(tmp_path: Path) -> None:
    root = tmp_path / "static"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.base", "DJANGO_DEBUG": "false",
           "DJANGO_SECRET_KEY": "x" * 50, "DJANGO_ALLOWED_HOSTS": "testserver",
           "DJANGO_SECURE_SSL_REDIRECT": "false", "PORTAL_STATIC_ROOT": str(root),
           "PORTAL_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "CELERY_BROKER_URL": "memory://", "PORTAL_OAUTH_CLIENT_SECRET_PEPPER": "p" * 40,
           "PORTAL_TOTP_ENCRYPTION_KEYS": "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=",
           "PORTAL_PROVISIONING_CREDENTIAL_KEYS": "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=",
           "PORTAL_AUDIT_SEAL_KEY_FILE": str(tmp_path / "seal-key.pem")}
    env.pop("PORTAL_LOG_FORMAT", None)
    result = subprocess.run([sys.executable, "-c", SCRIPT % {"root": str(root)}],
                            cwd=settings.BASE_DIR, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.splitlines()[-1])
    assert answer["login"] == 200 and answer["in_page"], answer
    assert answer["hashed"] != "css/portal.css"
    headers = answer["headers"]
    assert answer["status"] == 200
    assert "immutable" in headers["Cache-Control"] and "max-age=315360000" in headers["Cache-Control"]
    assert headers.get("Content-Encoding") == "gzip"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "immutable" not in (answer["plain_cache"] or "")
    # With debug off and no PORTAL_LOG_FORMAT, every log line is one JSON object.
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert {"time", "level", "logger", "message"} <= lines[-1].keys()
    assert lines[-1]["message"] == "done" and lines[-1]["time"].endswith("Z")


def record(name: str = "portal.test", message: str = "hello %s", args: object = ("you",),
           level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, args, None)  # type: ignore[arg-type]


def test_a_json_line_carries_the_request_id_only_within_a_request() -> None:
    formatter = JsonFormatter()
    outside = json.loads(formatter.format(record()))
    assert outside["message"] == "hello you" and outside["level"] == "INFO"
    assert outside["logger"] == "portal.test" and "request_id" not in outside
    with context.using(context.RequestContext(request_id="abc123")):
        inside = json.loads(formatter.format(record()))
    assert inside["request_id"] == "abc123"
    assert "\n" not in formatter.format(record(message="two\nlines", args=()))


def test_a_json_line_in_a_celery_task_carries_the_task_and_the_enqueuing_request() -> None:
    lines: list[dict[str, object]] = []

    @celery_app.task(name="tests.serving.logging_task", bind=True)
    def logging_task(self: object) -> None:
        lines.append(json.loads(JsonFormatter().format(record())))

    with context.using(context.RequestContext(request_id="from-the-page")):
        logging_task.apply_async(headers={"portal_request_id": "from-the-page"})
    assert lines[0]["request_id"] == "from-the-page"
    assert lines[0]["task"] == "tests.serving.logging_task" and lines[0]["task_id"]


def test_gunicorns_access_log_becomes_fields_without_the_query_string() -> None:
    atoms = {"h": "10.0.0.1", "m": "GET", "U": "/oauth2/authorize/", "q": "code=secret",
             "s": "302", "B": 0, "M": 12, "{x-request-id}o": "rid-1"}
    line = json.loads(JsonFormatter().format(record("gunicorn.access", "%(m)s %(U)s", atoms)))
    assert line["http"] == {"method": "GET", "path": "/oauth2/authorize/", "status": 302,
                            "bytes": 0, "duration_ms": 12, "request_id": "rid-1"}
    assert "secret" not in json.dumps(line)


def test_the_log_format_defaults_to_json_without_debug() -> None:
    assert log_format({}) == "json"
    assert log_format({"DJANGO_DEBUG": "true"}) == "plain"
    assert log_format({"DJANGO_DEBUG": "true", "PORTAL_LOG_FORMAT": "JSON"}) == "json"
    try:
        log_format({"PORTAL_LOG_FORMAT": "xml"})
    except ValueError as exc:
        assert "PORTAL_LOG_FORMAT" in str(exc)
    else:
        raise AssertionError("xml accepted")
