"""RFC 9457 problem details for every API error: one DRF exception handler for the views, and
`problem_body()` for the answers Django gives before or after DRF (apps.api.middleware)."""

from __future__ import annotations

import json
from http.client import responses
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.errors import PortalError

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://iam-portal.example/problems/"


def problem_data(*, status: int, code: str, detail: str = "", **extra: Any) -> dict[str, Any]:
    """The members of a problem: `type` is PROBLEM_BASE + code, `code` repeats it for clients,
    `title` is the status's reason phrase (the problem type's summary, RFC 9457 3.1.3) and
    `detail` the message for this occurrence, in the request's language."""
    return {"type": PROBLEM_BASE + code, "title": responses.get(status, "Error"), "status": status,
            "detail": detail, "code": code, **extra}


def problem(*, status: int, code: str, detail: str = "", **extra: Any) -> Response:
    """A problem+json DRF response (see `problem_data`)."""
    return Response(problem_data(status=status, code=code, detail=detail, **extra), status=status,
                    content_type=PROBLEM_CONTENT_TYPE)


def problem_body(*, status: int, code: str, detail: str) -> bytes:
    """A problem+json body for a plain Django response (see `problem_data`)."""
    return json.dumps(problem_data(status=status, code=code, detail=detail)).encode()


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render PortalError and DRF's own errors as problem+json; others propagate (and become a
    problem+json 500 in apps.api.middleware)."""
    if isinstance(exc, PortalError):
        extra = {"field": exc.field} if exc.field else {}
        return problem(status=exc.status, code=exc.code, detail=str(exc.message), **extra)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return None
    if isinstance(exc, exceptions.ValidationError):
        return problem(status=response.status_code, code="invalid",
                       detail=gettext("One or more members of the request are invalid."),
                       errors=response.data)
    detail = response.data
    text = str(detail.get("detail", "")) if isinstance(detail, dict) else str(detail)
    answer = problem(status=response.status_code, code=str(exc.default_code), detail=text)
    for header in ("WWW-Authenticate", "Retry-After"):  # RFC 9110 11.6.1 and 10.2.3
        if header in response:
            answer[header] = response[header]
    return answer

