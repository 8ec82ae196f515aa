"""Browser pages of the out-of-band login with the mobile e-ID (NIST SP 800-63B 5.1.3).

`/login/mobile-eid/` explains and (POST) starts a request bound to this browser's session, then
shows the QR code, the app link and the two-digit number; `/login/mobile-eid/wait/` checks it
once per press (no script needed; with JavaScript, static/js/mobile-eid-wait.js polls
`/login/mobile-eid/status/` every 2 seconds and goes there by itself): pending shows the same
page, approved logs in at LoA 3 (methods ["mobile_eid"], the e-ID's serial in the session's
`authn["eid_serial"]` and in its record's `eid_serials`, so revoking the e-ID ends the session)
and goes on to the choice of commission. The services live in
apps.issuance (it owns e-IDs and the CA); the pages live here because this layer may use both
apps.issuance and apps.authn.
"""

from __future__ import annotations

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.audit import context
from apps.authn import commission, session
from apps.authn.decorators import acting_user, staff_required
from apps.authn.redirects import safe_next
from apps.core import loa
from apps.core.actors import ANONYMOUS
from apps.core.assurance import mint_step_up
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


#: The session key holding this browser's step-up request: {"reference", "binding", "next"}.
STEP_UP_KEY = "mobile_eid_step_up"


def _pending(request: HttpRequest, key: str = SESSION_KEY) -> tuple[str, str] | None:
    held = request.session.get(key)
    if not isinstance(held, dict):
        return None
    return str(held.get("reference", "")), str(held.get("binding", ""))


def _show(request: HttpRequest, reference: str, *, waiting: bool = False,
          step_up: bool = False) -> HttpResponse:
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
        "step_up": step_up,
        "wait_url": reverse("federation:mobile_eid_step_up_wait" if step_up
                            else "federation:mobile_eid_wait"),
        "status_url": reverse("federation:mobile_eid_step_up_status" if step_up
                              else "federation:mobile_eid_status"),
        "restart_url": reverse("federation:mobile_eid_step_up" if step_up
                               else "federation:mobile_eid"),
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
    # One transaction from the check of the e-ID to the session record naming it: the completion
    # holds the person's and the e-ID's locks until the session is recorded, so a revocation
    # either comes first (the completion refuses) or finds the session and ends it.
    with transaction.atomic():
        done = issuance.mobile_eid_login_complete(actor=ANONYMOUS, reference=reference,
                                                  binding=binding)
        if done.user is not None:
            request.session.pop(SESSION_KEY, None)
            login(request, done.user, backend="django.contrib.auth.backends.ModelBackend")
            session.set_login(request, loa=loa.LOA3, methods=["mobile_eid"], idp=None,
                              eid_serial=done.eid_serial)
    if done.status == "pending":
        return _show(request, reference, waiting=True)
    if done.user is None:
        return _ended(request, done.status)
    return commission.after_login(request, done.user)


@never_cache
@require_GET
def status_view(request: HttpRequest) -> JsonResponse:
    """JSON for the waiting page's script: {"status": <state>} with the state of this browser's
    request (`selectors.oob_request_state`: "pending", "approved", "denied", "cancelled",
    "consumed", "expired" or "unknown"). Only reads: the login itself happens at
    `/login/mobile-eid/wait/`, where the script goes once the state is no longer "pending"."""
    return _state(request, SESSION_KEY)


def _state(request: HttpRequest, key: str) -> JsonResponse:
    held = _pending(request, key)
    state = "unknown" if held is None else selectors.oob_request_state(
        held[0], held[1], timezone.now())
    return JsonResponse({"status": state}, headers={"Cache-Control": "no-store"})


STEP_UP_ENDED = {
    **ENDED,
    "denied": _("You said no in the app. Nothing was confirmed."),
    "expired": _("The request expired before it was approved. Start again."),
    "cancelled": _("The request was cancelled (a wrong number was typed three times, or the "
                   "e-ID can no longer be used). Start again."),
    "consumed": _("This request has already been used. Start again."),
    "unknown": _("This browser has no request waiting. Start again."),
}


def _step_up_ended(request: HttpRequest, status: str, next_path: str) -> HttpResponse:
    request.session.pop(STEP_UP_KEY, None)
    return render(request, "federation/mobile_eid_step_up_ended.html",
                  {"message": STEP_UP_ENDED.get(status, STEP_UP_ENDED["unknown"]),
                   "next": next_path}, status=200)


@never_cache
@require_POST
@staff_required
def step_up_start_view(request: HttpRequest) -> HttpResponse:
    """Start confirming it is you with the mobile e-ID (`next` in the form or query): the
    request page, as for a login, but only an e-ID of the logged-in person may approve it."""
    next_path = safe_next(request.POST.get("next") or request.GET.get("next"))
    try:
        started = issuance.mobile_eid_step_up_start(
            actor=acting_user(request), ip=context.current().ip,
            previous=_pending(request, STEP_UP_KEY))
    except PortalError as exc:
        return render(request, "federation/mobile_eid_step_up_ended.html",
                      {"message": exc.message, "next": next_path}, status=exc.status)
    request.session[STEP_UP_KEY] = {"reference": started.request.reference,
                                    "binding": started.binding, "next": next_path}
    return _show(request, started.request.reference, step_up=True)


@never_cache
@require_GET
@staff_required
def step_up_status_view(request: HttpRequest) -> JsonResponse:
    """JSON state of this browser's step-up request, as `status_view`."""
    return _state(request, STEP_UP_KEY)


@never_cache
@require_GET
@staff_required
def step_up_wait_view(request: HttpRequest) -> HttpResponse:
    """One check of this browser's step-up request: pending shows it again; approved raises the
    session to LoA 3 (method "mobile_eid"), keeps a fresh step-up proof (NIST SP 800-63B rev. 4,
    2.2) and returns to `next`, as the SAML step-up does."""
    held = _pending(request, STEP_UP_KEY)
    stored = request.session.get(STEP_UP_KEY)
    next_path = safe_next(stored.get("next") if isinstance(stored, dict) else None)
    if held is None:
        return _step_up_ended(request, "unknown", next_path)
    user = acting_user(request)
    # One transaction, as at login: the e-ID stays locked until the session names it.
    stored = False
    with transaction.atomic():
        done = issuance.mobile_eid_step_up_complete(actor=user, reference=held[0],
                                                    binding=held[1])
        confirmed = done.user is not None and done.user.pk == user.pk
        if confirmed:
            request.session.pop(STEP_UP_KEY, None)
            session.raise_level(request, loa=loa.LOA3, method="mobile_eid", idp=None,
                                eid_serial=done.eid_serial)
            stored = session.store_step_up(request, mint_step_up(user.pk, "mobile_eid",
                                                                 loa=loa.LOA3))
    if done.status == "pending":
        return _show(request, held[0], waiting=True, step_up=True)
    if not confirmed:
        return _step_up_ended(request, done.status, next_path)
    if not stored:
        messages.info(request, session.ENDED_MESSAGE)
        return redirect("home")
    return HttpResponseRedirect(next_path)


urlpatterns = [
    path("login/mobile-eid/", start_view, name="mobile_eid"),
    path("login/mobile-eid/status/", status_view, name="mobile_eid_status"),
    path("login/mobile-eid/wait/", wait_view, name="mobile_eid_wait"),
    path("login/step-up/mobile-eid/", step_up_start_view, name="mobile_eid_step_up"),
    path("login/step-up/mobile-eid/status/", step_up_status_view,
         name="mobile_eid_step_up_status"),
    path("login/step-up/mobile-eid/wait/", step_up_wait_view, name="mobile_eid_step_up_wait"),
]
