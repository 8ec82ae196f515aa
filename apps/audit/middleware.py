"""Sets the audit actor context for each page request from the session's user and login."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from apps.audit import context

#: A request id from a proxy is kept only when it is plainly an id (no spaces, quotes or NULs).
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_for(request: HttpRequest) -> str:
    """Our proxy's `X-Request-ID` when it looks like an id (settings.BEHIND_PROXY: only then is
    the header the proxy's and not the client's), else a fresh random one."""
    given = request.headers.get("X-Request-ID", "") if settings.BEHIND_PROXY else ""
    return given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: the peer (REMOTE_ADDR), or behind our own reverse proxy
    (settings.BEHIND_PROXY) the address that proxy appended last to X-Forwarded-For. Earlier
    entries are the client's own claims and are not trusted."""
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR") or None


class AuditContextMiddleware:
    """Puts an `ActorContext` around each request; anonymous requests get an anonymous actor."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request)
        user = getattr(request, "user", None)
        authn = request.session.get("authn", {}) if hasattr(request, "session") else {}
        if user is not None and user.is_authenticated:
            ctx = context.ActorContext(
                actor_id=user.pk,
                actor_label=str(user),
                kind="user",
                request_id=request_id,
                ip=client_ip(request),
                loa=authn.get("loa"),
            )
        else:
            ctx = context.ActorContext(
                actor_id=None, actor_label="anonymous", kind="anonymous",
                request_id=request_id, ip=client_ip(request),
            )
        with context.acting_as(ctx):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
