"""Page middleware: domain errors that escape a view become the matching HTTP answer, and pages
for logged-in users are never cached.

`NotFound` (missing or outside the actor's scope) becomes Django's 404 and `Forbidden` its 403, so
views never translate them by hand; the 404 and 403 pages are `templates/404.html` and `403.html`,
with debug on too (Django would show its technical 404 page there, which is not what a person
trying the portal in development should see). API views answer problem+json through
`apps.api.problems` instead.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.views.defaults import page_not_found, permission_denied

from apps.core.errors import Forbidden, NotFound


class PortalErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (settings.DEBUG and response.status_code == 404
                and response.get("Content-Type", "").startswith("text/html")):
            return page_not_found(request, Http404())  # the portal's page, not the technical one
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """The portal's 404 or 403 page for NotFound or Forbidden: an answer, not a crash, so it
        is logged as one line (django.request), without a traceback."""
        if isinstance(exception, NotFound):
            return page_not_found(request, Http404(str(exception.message)))
        if isinstance(exception, Forbidden):
            return permission_denied(request, PermissionDenied(str(exception.message)))
        return None


class PrivatePagesMiddleware:
    """Pages shown to a logged-in user hold personal data: `Cache-Control: private, no-store`
    unless the view set its own caching (RFC 9111 5.2.2.3), so no shared cache or back button
    keeps them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "Cache-Control" not in response:
            response["Cache-Control"] = "private, no-store"
        return response
