"""Sets the audit request context (request id, client address, level of assurance) per page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ipware import get_client_ip

from apps.audit import context

#: A request id from a proxy is kept only when it is plainly an id (no spaces, quotes or NULs).
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_for(request: HttpRequest) -> str:
    """Our proxy's `X-Request-ID` when it looks like an id (settings.BEHIND_PROXY: only then is
    the header the proxy's and not the client's), else a fresh random one."""
    given = request.headers.get("X-Request-ID", "") if settings.BEHIND_PROXY else ""
    return given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, as django-ipware finds it: the peer (REMOTE_ADDR), or behind our own
    reverse proxies (settings.BEHIND_PROXY) the X-Forwarded-For entry our outermost proxy appended,
    settings.PROXY_COUNT entries from the end (the peer when there is none). Earlier entries are the
    client's own claims and are ignored, as are other forwarding headers and anything that is not
    an IP address; None when no address is found. The audit log and the login throttle (django-axes'
    `AXES_CLIENT_IP_CALLABLE`) both use this address."""
    if settings.BEHIND_PROXY:
        # X-Forwarded-For alone: ipware would otherwise prefer a public REMOTE_ADDR (the proxy's)
        # over a client's private address from the intranet.
        forwarded, _routable = get_client_ip(
            request, proxy_order="left-most", proxy_count=settings.PROXY_COUNT - 1,
            request_header_order=("HTTP_X_FORWARDED_FOR",), strict=False)
        if forwarded is not None:
            return forwarded
    peer, _routable = get_client_ip(request, request_header_order=("REMOTE_ADDR",))
    return peer


class AuditContextMiddleware:
    """Puts a `RequestContext` (request id, client address, level of assurance) around each
    request and answers with the request id in `X-Request-ID`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_for(request)
        authn = request.session.get("authn", {}) if hasattr(request, "session") else {}
        user = getattr(request, "user", None)
        loa = authn.get("loa") if user is not None and user.is_authenticated else None
        ctx = context.RequestContext(request_id=request_id, ip=client_ip(request), loa=loa)
        with context.using(ctx):
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
