"""RFC 9457 problem details for every API error, from one DRF exception handler."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.errors import PortalError

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://iam-portal.example/problems/"


def problem(*, status: int, code: str, title: str, detail: str = "", **extra: Any) -> Response:
    """A problem+json response: `type` is PROBLEM_BASE + code, `code` repeats it for clients."""
    body = {"type": PROBLEM_BASE + code, "title": title, "status": status, "detail": detail,
            "code": code, **extra}
    return Response(body, status=status, content_type=PROBLEM_CONTENT_TYPE)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render PortalError and DRF's own errors as problem+json; others propagate (500).

    `title` is the status's reason phrase (the problem type's summary, RFC 9457 3.1.3), `detail`
    the message for this occurrence, in the request's language.
    """
    if isinstance(exc, PortalError):
        extra = {"field": exc.field} if exc.field else {}
        return problem(status=exc.status, code=exc.code, title=HTTPStatus(exc.status).phrase,
                       detail=str(exc.message), **extra)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    if isinstance(exc, exceptions.ValidationError):
        return problem(status=response.status_code, code="invalid", title="Invalid request.",
                       detail="One or more fields are invalid.", errors=detail)
    code = getattr(exc, "default_code", "error")
    text = str(detail.get("detail", "")) if isinstance(detail, dict) else str(detail)
    return problem(status=response.status_code, code=str(code), title=text, detail=text)
