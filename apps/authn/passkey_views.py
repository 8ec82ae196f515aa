"""Passkey pages and their JSON endpoints (W3C Web Authentication Level 2).

`/my/passkeys/`: the logged-in user's (staff or patient) passkeys, with name, created and last
used; adding one (static/js/passkeys.js asks `passkey_register_options` for the options, calls
`navigator.credentials.create()` and posts the answer to `passkey_register`); removing one. Adding
and removing need a fresh factor: a login or a step-up in this session at most 5 minutes ago
(docs/decisions.md). `/login/passkey/...`: the first-factor login with a discoverable passkey
from the login page (the same script, `navigator.credentials.get()`). `/login/otp/passkey/...`:
the second login step after a password, with one of that account's passkeys.
`/login/step-up/passkey/...`: a step-up inside a session, where the purpose's level allows.

The JSON endpoints take and give `application/json`; a refusal is `application/problem+json`
(RFC 9457) with a translated `detail` and a `code`. They are same-origin POSTs protected by
Django's CSRF check (the script sends the token in `X-CSRFToken`).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.authn import commission, passkeys, selectors, services, session
from apps.authn.decorators import acting_user, user_required
from apps.core import loa
from apps.core.actors import ANONYMOUS
from apps.core.errors import PortalError
from apps.identities.models import User

#: RFC 8176 method names a passkey login records: "hwk" (proof of possession of a
#: hardware-secured key) and "user" (user presence and verification, WebAuthn's UV flag).
PASSKEY_METHODS = ["hwk", "user"]
#: A password, then a passkey as the second factor (RFC 8176: "pwd" then the passkey's names).
PASSWORD_PASSKEY_METHODS = ["pwd", *PASSKEY_METHODS]
BAD_REQUEST = _("The request could not be read. Reload the page and try again.")
LOGIN_EXPIRED = _("Your login took too long or your password changed. Log in again.")
NOT_ENOUGH = _("A passkey is not enough for this step. Confirm with your e-ID.")
#: Largest body the JSON endpoints read (bytes). A credential with "none" attestation is about
#: 1 KiB; the bound is the API's (apps.api.parsers.MAX_BODY_BYTES, docs/security.md).
MAX_BODY_BYTES = 64 * 1024


def _problem(detail: Any, code: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"type": "about:blank", "title": str(detail), "status": status,
                         "detail": str(detail), "code": code}, status=status,
                        content_type="application/problem+json")


def _json_body(request: HttpRequest) -> dict[str, Any] | None:
    """The request's JSON object with a `credential` object in it, or None: also for a body
    larger than MAX_BODY_BYTES, one nested too deeply for the decoder (RecursionError), and one
    that is not UTF-8 (RFC 8259 section 8.1)."""
    try:
        raw = request.body
    except RequestDataTooBig:  # over settings.DATA_UPLOAD_MAX_MEMORY_SIZE: never read
        return None
    if len(raw) > MAX_BODY_BYTES:
        return None
    try:
        body = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("credential"), dict):
        return None
    return body


def _allowed(user: User) -> list[tuple[bytes, list[str]]]:
    """The account's credential IDs and transports, for allowCredentials (WebAuthn 5.5)."""
    return [(bytes(p.credential_id), list(p.transports)) for p in selectors.passkeys_list(user)]


def step_up_offered(user: User, required: str) -> bool:
    """True when a passkey may confirm a step-up that needs level `required` (a framework URI):
    the account has a passkey and settings.PORTAL_PASSKEY_LOA is at least that level
    (docs/authentication.md, "Step-up")."""
    return (loa.level(required) <= loa.level(settings.PORTAL_PASSKEY_LOA)
            and selectors.passkeys_list(user).exists())


def _options(json_text: str) -> HttpResponse:
    response = HttpResponse(json_text, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


@user_required
@never_cache
def my_passkeys(request: HttpRequest) -> HttpResponse:
    """The list, the form to add one and, per passkey, "remove"."""
    user = acting_user(request)
    return render(request, "authn/passkeys.html", {
        "passkeys": selectors.passkeys_list(user),
        "fresh": _fresh(request),
        "step_up_url": f"{reverse('authn:step_up')}?purpose=passkey_remove&next="
                       f"{reverse('authn:passkeys')}",
    })


@user_required
@require_POST
def passkey_register_options(request: HttpRequest) -> HttpResponse:
    """The creation options (JSON) for a new passkey of the logged-in user; 403 `passkey.stale`
    without a fresh factor, before the authenticator asks for anything."""
    user = acting_user(request)
    if not _fresh(request):
        return _problem(services.ADD_STALE, "passkey.stale", 403)
    existing = [bytes(p.credential_id) for p in selectors.passkeys_list(user)]
    return _options(passkeys.registration_options(request, user, existing))


@user_required
@require_POST
def passkey_register(request: HttpRequest) -> JsonResponse:
    """`{"name": str, "credential": PublicKeyCredential JSON}` → `{"redirect": url}` (201)."""
    user = acting_user(request)
    challenge = passkeys.take_challenge(request, "register")
    body = _json_body(request)
    if body is None:
        return _problem(BAD_REQUEST, "bad_request")
    try:
        passkey = services.passkey_register(actor=user, credential=body["credential"],
                                            challenge=challenge, name=str(body.get("name", "")),
                                            factor_at=_factor_at(request))
    except PortalError as exc:
        return _problem(exc.message, exc.code, exc.status)
    messages.success(request, _("The passkey %(name)s is added. You can now log in with it.")
                     % {"name": passkey.name})
    return JsonResponse({"redirect": reverse("authn:passkeys")}, status=201)


def _factor_at(request: HttpRequest) -> int:
    """When this session last proved a factor (epoch seconds): its login, or a fresh step-up."""
    data = session.get(request)
    at = int(data.get("at") or 0)
    proof = session.step_up_proof(request)
    if proof is not None and session.has_fresh_step_up(request):
        at = max(at, proof.verified_at)
    return at


def _fresh(request: HttpRequest) -> bool:
    """True when this session proved a factor at most services.PASSKEY_FRESH_SECONDS ago."""
    return _factor_at(request) >= time.time() - services.PASSKEY_FRESH_SECONDS


@user_required
@require_POST
def passkey_remove(request: HttpRequest, passkey_id: uuid.UUID) -> HttpResponse:
    """Remove one of the user's own passkeys (NotFound for anyone else's)."""
    user = acting_user(request)
    passkey = selectors.passkey_get_for_user(user, passkey_id)
    try:
        services.passkey_remove(actor=user, passkey=passkey, factor_at=_factor_at(request))
    except PortalError as exc:
        messages.error(request, str(exc.message))
    else:
        if session.has_fresh_step_up(request):
            session.consume_step_up(request)
        messages.success(request, _("The passkey %(name)s is removed.") % {"name": passkey.name})
    return redirect("authn:passkeys")


@require_POST
def passkey_login_options(request: HttpRequest) -> HttpResponse:
    """The request options (JSON) for a login with a discoverable passkey."""
    return _options(passkeys.authentication_options(request))


@require_POST
def passkey_login(request: HttpRequest) -> JsonResponse:
    """`{"credential": PublicKeyCredential JSON, "next": url}` → `{"redirect": url}`: the login
    completes at settings.PORTAL_PASSKEY_LOA with methods PASSKEY_METHODS, then goes on as any
    login (`commission.after_login`: the choice of commission, or `next`)."""
    challenge = passkeys.take_challenge(request, "login")
    body = _json_body(request)
    if body is None:
        return _problem(BAD_REQUEST, "bad_request")
    try:
        user = services.passkey_authenticate(actor=ANONYMOUS, credential=body["credential"],
                                             challenge=challenge)
    except PortalError as exc:
        return _problem(exc.message, exc.code)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    session.set_login(request, loa=settings.PORTAL_PASSKEY_LOA, methods=PASSKEY_METHODS)
    services.login_succeeded(actor=user, loa=settings.PORTAL_PASSKEY_LOA, methods=PASSKEY_METHODS)
    answer = commission.after_login(request, user, commission.safe_next(
        request, str(body.get("next") or "/")))
    return JsonResponse({"redirect": answer["Location"]})


@require_POST
def passkey_second_factor_options(request: HttpRequest) -> HttpResponse:
    """The request options (JSON) for the second login step: allowCredentials lists the
    passkeys of the account whose password was just accepted (`session.pending_user`)."""
    user = session.pending_user(request)
    if user is None:
        return _problem(LOGIN_EXPIRED, "login.expired")
    allowed = _allowed(user)
    if not allowed:
        return _problem(services.PASSKEY_REFUSED, "passkey.refused")
    return _options(passkeys.authentication_options(request, "second_factor", allowed))


@require_POST
def passkey_second_factor(request: HttpRequest) -> JsonResponse:
    """`{"credential": PublicKeyCredential JSON, "next": url}` → `{"redirect": url}`: a passkey
    of the account whose password was accepted completes the login at LoA 2 with methods
    PASSWORD_PASSKEY_METHODS (as the TOTP code does, `views.otp_view`), then goes on as any
    login. The pending login's expiry rules apply (`session.pending_user`)."""
    challenge = passkeys.take_challenge(request, "second_factor")
    body = _json_body(request)
    if body is None:
        return _problem(BAD_REQUEST, "bad_request")
    user = session.pending_user(request)
    if user is None:
        return _problem(LOGIN_EXPIRED, "login.expired")
    try:
        services.passkey_second_factor(actor=ANONYMOUS, user=user, credential=body["credential"],
                                       challenge=challenge)
    except PortalError as exc:
        return _problem(exc.message, exc.code)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    session.set_login(request, loa=loa.LOA2, methods=PASSWORD_PASSKEY_METHODS)
    services.login_succeeded(actor=user, loa=loa.LOA2, methods=PASSWORD_PASSKEY_METHODS)
    answer = commission.after_login(request, user, commission.safe_next(
        request, str(body.get("next") or "/")))
    return JsonResponse({"redirect": answer["Location"]})


@user_required
@require_POST
def passkey_step_up_options(request: HttpRequest) -> HttpResponse:
    """The request options (JSON) for a step-up: allowCredentials lists the user's passkeys."""
    allowed = _allowed(acting_user(request))
    if not allowed:
        return _problem(services.PASSKEY_REFUSED, "passkey.refused")
    return _options(passkeys.authentication_options(request, "step_up", allowed))


@user_required
@require_POST
def passkey_step_up(request: HttpRequest) -> JsonResponse:
    """`{"credential": PublicKeyCredential JSON, "purpose": str, "next": url}` →
    `{"redirect": url}`: one of the user's passkeys confirms it is them for `purpose` (a key of
    settings.PORTAL_LOA_REQUIRED; other purposes need LoA 2) when `step_up_offered`, else 403
    `passkey.not_enough`. The session then holds a step-up proof at settings.PORTAL_PASSKEY_LOA
    (`services.passkey_step_up`); its level becomes the stronger of the two and its clock
    restarts (`session.raise_level`: a passkey is a whole multi-factor authentication), as after
    the other step-ups that authenticate anew."""
    challenge = passkeys.take_challenge(request, "step_up")
    body = _json_body(request)
    if body is None:
        return _problem(BAD_REQUEST, "bad_request")
    user = acting_user(request)
    required = settings.PORTAL_LOA_REQUIRED.get(str(body.get("purpose") or ""), loa.LOA2)
    if not step_up_offered(user, required):
        return _problem(NOT_ENOUGH, "passkey.not_enough", 403)
    try:
        proof = services.passkey_step_up(actor=user, credential=body["credential"],
                                         challenge=challenge)
    except PortalError as exc:
        return _problem(exc.message, exc.code)
    session.raise_level(request, loa=proof.loa, method="hwk", idp=None)
    if not session.store_step_up(request, proof):
        messages.info(request, session.ENDED_MESSAGE)
        return JsonResponse({"redirect": reverse("home")})
    return JsonResponse({"redirect": commission.safe_next(request, str(body.get("next") or "/"))})


urlpatterns = [
    path("my/passkeys/", my_passkeys, name="passkeys"),
    path("my/passkeys/options/", passkey_register_options, name="passkey_register_options"),
    path("my/passkeys/register/", passkey_register, name="passkey_register"),
    path("my/passkeys/<uuid:passkey_id>/remove/", passkey_remove, name="passkey_remove"),
    path("login/passkey/options/", passkey_login_options, name="passkey_login_options"),
    path("login/passkey/", passkey_login, name="passkey_login"),
    path("login/otp/passkey/options/", passkey_second_factor_options,
         name="passkey_second_factor_options"),
    path("login/otp/passkey/", passkey_second_factor, name="passkey_second_factor"),
    path("login/step-up/passkey/options/", passkey_step_up_options,
         name="passkey_step_up_options"),
    path("login/step-up/passkey/", passkey_step_up, name="passkey_step_up"),
]
