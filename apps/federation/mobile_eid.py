"""Browser pages of the out-of-band login with the mobile e-ID (NIST SP 800-63B 5.1.3).

`/login/mobile-eid/` explains and (POST) starts a request bound to this browser's session, then
shows the QR code, the app link and the two-digit number; `/login/mobile-eid/wait/` checks it
once per press (no script needed; with JavaScript, static/js/mobile-eid-wait.js polls
`/login/mobile-eid/status/` every 2 seconds and goes there by itself): pending shows the same
page, approved logs in at LoA 3 (methods ["mobile_eid"], the e-ID's serial in the session's
`authn["eid_serial"]`) and goes on to the choice of commission. The services live in
apps.issuance (it owns e-IDs and the CA); the pages live here because this layer may use both
apps.issuance and apps.authn.
"""

from __future__ import annotations

import segno
from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from apps.audit import context
from apps.authn import commission, session
from apps.core import loa
from apps.core.actors import ANONYMOUS
from apps.core.errors import PortalError
from apps.issuance import rules, selectors
from apps.issuance import services as issuance

#: The session key holding this browser's request: {"reference", "binding"}.
SESSION_KEY = "mobile_eid_login"

ENDED = {
    "denied": _("You said no in the app. Nobody was logged in."),
    "expired": _("The login request expired before it was approved. Start again."),
    "cancelled": _("The login request was cancelled (a wrong number was typed three times, or "
                   "the e-ID can no longer be used). Start again."),
    "consumed": _("This login request has already been used. Start again."),
    "unknown": _("This browser has no login request waiting. Start again."),
}


def _pending(request: HttpRequest) -> tuple[str, str] | None:
    held = request.session.get(SESSION_KEY)
    if not isinstance(held, dict):
        return None
    return str(held.get("reference", "")), str(held.get("binding", ""))


def _show(request: HttpRequest, reference: str, *, waiting: bool = False) -> HttpResponse:
    """The request page: QR code, app link, QR text and the number to type in the app."""
    try:
        req = selectors.oob_request_open(reference, timezone.now())
    except PortalError:
        return _ended(request, "expired")
    qr_text = f"{rules.OOB_CHALLENGE_PREFIX}.{req.reference}"
    context_ = {
        "qr_data_uri": segno.make(qr_text, error="m").svg_data_uri(scale=6, border=4),
        "qr_text": qr_text,
        "app_link": f"eidapp://auth?ref={qr_text}",
        "number": req.number,
        "expires_at": timezone.localtime(req.expires_at),
        "validity_seconds": rules.OOB_VALIDITY_SECONDS,
        "waiting": waiting,
        "portal": settings.PORTAL_BASE_URL,
    }
    return render(request, "federation/mobile_eid_request.html", context_)


def _ended(request: HttpRequest, status: str) -> HttpResponse:
    request.session.pop(SESSION_KEY, None)
    return render(request, "federation/mobile_eid_start.html",
                  {"message": ENDED.get(status, ENDED["unknown"])}, status=200)


@never_cache
@require_http_methods(["GET", "POST"])
def start_view(request: HttpRequest) -> HttpResponse:
    """GET: what happens; POST: start a request for this browser and show it."""
    if request.method == "GET":
        return render(request, "federation/mobile_eid_start.html", {})
    try:
        started = issuance.mobile_eid_login_start(actor=ANONYMOUS, ip=context.current().ip,
                                                  previous=_pending(request))
    except PortalError as exc:
        return render(request, "federation/mobile_eid_start.html", {"message": exc.message},
                      status=exc.status)
    request.session[SESSION_KEY] = {"reference": started.request.reference,
                                    "binding": started.binding}
    return _show(request, started.request.reference)


@never_cache
@require_GET
def wait_view(request: HttpRequest) -> HttpResponse:
    """One check of this browser's request: pending shows it again, approved logs in."""
    held = _pending(request)
    if held is None:
        return _ended(request, "unknown")
    reference, binding = held
    done = issuance.mobile_eid_login_complete(actor=ANONYMOUS, reference=reference,
                                              binding=binding)
    if done.status == "pending":
        return _show(request, reference, waiting=True)
    if done.user is None:
        return _ended(request, done.status)
    request.session.pop(SESSION_KEY, None)
    user = done.user
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    session.set_login(request, loa=loa.LOA3, methods=["mobile_eid"], idp=None)
    authn = dict(request.session.get("authn") or {})
    authn["eid_serial"] = done.eid_serial
    request.session["authn"] = authn
    return commission.after_login(request, user)


@never_cache
@require_GET
def status_view(request: HttpRequest) -> JsonResponse:
    """JSON for the waiting page's script: {"status": <state>} with the state of this browser's
    request (`selectors.oob_request_state`: "pending", "approved", "denied", "cancelled",
    "consumed", "expired" or "unknown"). Only reads: the login itself happens at
    `/login/mobile-eid/wait/`, where the script goes once the state is no longer "pending"."""
    held = _pending(request)
    state = "unknown" if held is None else selectors.oob_request_state(
        held[0], held[1], timezone.now())
    return JsonResponse({"status": state}, headers={"Cache-Control": "no-store"})


urlpatterns = [
    path("login/mobile-eid/", start_view, name="mobile_eid"),
    path("login/mobile-eid/status/", status_view, name="mobile_eid_status"),
    path("login/mobile-eid/wait/", wait_view, name="mobile_eid_wait"),
]
