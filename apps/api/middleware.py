"""Under `/api/` and `/access/` (the rules service's AuthZEN API) every error is problem+json
(RFC 9457), also the ones Django answers itself.

DRF views answer their errors through `apps.api.problems.exception_handler`. What happens outside
them is Django's: a path no route matches (404), a request Django refuses before any view runs
(a disallowed Host header: 400), and an exception no handler caught (500, after Django has logged
it and sent `got_request_exception`). Django renders those as HTML pages (`handler404`,
`handler500`, or the debug pages); this middleware, first in `MIDDLEWARE` so that it sees every
answer, replaces the body of any such error under those prefixes with a problem of the same
status.
Pages elsewhere keep their HTML error pages.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.http import parse_header_parameters
from django.utils.translation import gettext

from apps.api.problems import PROBLEM_CONTENT_TYPE, problem_body

#: The paths whose errors are problem+json.
API_PREFIXES = ("/api/", "/access/")
JSON_TYPES = frozenset({"application/json", PROBLEM_CONTENT_TYPE})


def _problem_code_and_detail(status: int) -> tuple[str, str]:
    """The problem `code` and a translated `detail` for an error Django answered itself."""
    if status == 404:
        return "not_found", gettext("There is nothing at this address.")
    if status == 413:
        return "body_too_large", gettext("The request body is too large.")
    if status >= 500:
        return "server_error", gettext(
            "The request could not be completed. Try again later; if it keeps failing, give "
            "the request id (X-Request-ID) to the portal's support.")
    return "bad_request", gettext("The request is malformed or not allowed.")


class ApiProblemMiddleware:
    """Turn a non-JSON error answer (status >= 400) under `API_PREFIXES` into problem+json, keeping its
    status and headers (the request id among them)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if response.status_code < 400 or not request.path_info.startswith(API_PREFIXES):
            return response
        media_type = parse_header_parameters(response.get("Content-Type", ""))[0].lower()
        if media_type in JSON_TYPES:
            return response
        code, detail = _problem_code_and_detail(response.status_code)
        body = problem_body(status=response.status_code, code=code, detail=detail)
        if response.streaming:
            replacement = HttpResponse(status=response.status_code)
            for header, value in response.items():
                replacement[header] = value
            response = replacement
        assert isinstance(response, HttpResponse)
        response.content = body
        response["Content-Type"] = PROBLEM_CONTENT_TYPE
        if "Content-Length" in response:
            response["Content-Length"] = str(len(body))
        return response
