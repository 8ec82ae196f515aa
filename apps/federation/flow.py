"""The state of a federated login between the browser, the IdP and the portal's web processes.

1. `start` (the browser asks to log in): an `AuthnRequestState` row keyed by the AuthnRequest's ID,
   holding the SHA-256 of a random binding value that only the browser's session keeps.
2. The IdP POSTs its response cross-site to the assertion consumer, which arrives without the
   portal's `SameSite=Lax` session cookie; `services.assertion_accept` verifies it and stores the
   outcome on the row (`answered` or `failed`), then the browser is redirected (303) back.
3. `complete` (a top-level GET, which carries the session cookie): the session's binding value
   must match the row's hash; the row is consumed once, under a row lock, and the session logs in.

Lock order (docs/architecture.md, "Lock order"): a transaction locks the request state row first
(`SELECT ... FOR UPDATE`), then inserts the accepted assertion id (unique per IdP, so of two
processes holding the same assertion one insert fails), then writes the account (person, login
account, federated identity). `services.assertion_accept` takes all three; `complete` only the
row. So N copies of one response, or two responses to one request, posted at once answer the
request once; two completing pages in one session consume it once (tests/concurrency).

So a response forwarded to another browser completes nothing there (login CSRF, SAML 2.0
profiles 4.1.4.5 / OWASP SAML Security Cheat Sheet), and nothing needs `SameSite=None`. Rows live
`SAML_REQUEST_MAX_AGE_SECONDS` and are deleted by the scheduler after that (`prune`). These rows
are protocol state like the session itself, not domain data: the audit log records the outcome
(`login.succeeded`, `saml_response.refused`), not each step.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.utils import timezone

from apps.federation.models import AcceptedAssertion, AuthnRequestState, IdentityProvider

SESSION_KEY = "saml_pending"


def _hash(binding: str) -> str:
    return hashlib.sha256(binding.encode()).hexdigest()


def start(session: SessionBase, *, idp: IdentityProvider, request_id: str, purpose: str,
          next_path: str, requested_loa: str, step_up_user_id: uuid.UUID | None) -> None:
    """Record the outstanding request `request_id` to `idp`, bound to this browser `session`."""
    binding = secrets.token_urlsafe(32)
    now = timezone.now()
    AuthnRequestState.objects.create(
        request_id=request_id, idp=idp, purpose=purpose, binding_hash=_hash(binding),
        next_path=next_path, requested_loa=requested_loa, step_up_user_id=step_up_user_id,
        created_at=now, expires_at=now + dt.timedelta(seconds=settings.SAML_REQUEST_MAX_AGE_SECONDS))
    session[SESSION_KEY] = {"request_id": request_id, "binding": binding}


@dataclass(frozen=True)
class Outcome:
    """What `complete` found: the consumed row, or `error` (a refusal code) with the row if any."""

    state: AuthnRequestState | None
    error: str = ""


def complete(session: SessionBase) -> Outcome:
    """Consume the answered request this session started, once. Errors: `saml.no_login` (this
    session started none, or another browser's), `saml.expired`, `saml.not_answered`, `saml.used`,
    or the refusal code stored by the assertion consumer."""
    pending = session.pop(SESSION_KEY, None)
    if not isinstance(pending, dict):
        return Outcome(None, "saml.no_login")
    request_id, binding = str(pending.get("request_id", "")), str(pending.get("binding", ""))
    with transaction.atomic():
        state = (AuthnRequestState.objects.select_for_update().select_related("idp")
                 .filter(request_id=request_id).first())
        if state is None or not hmac.compare_digest(state.binding_hash, _hash(binding)):
            return Outcome(None, "saml.no_login")
        if state.status == AuthnRequestState.Status.CONSUMED:
            return Outcome(state, "saml.used")
        if state.status == AuthnRequestState.Status.FAILED:
            state.status = AuthnRequestState.Status.CONSUMED
            state.save(update_fields=["status"])
            return Outcome(state, state.error or "saml.invalid")
        if state.expires_at <= timezone.now():
            return Outcome(state, "saml.expired")
        if state.status != AuthnRequestState.Status.ANSWERED:
            return Outcome(state, "saml.not_answered")
        state.status = AuthnRequestState.Status.CONSUMED
        state.save(update_fields=["status"])
    return Outcome(state)


def prune(now: dt.datetime | None = None) -> int:
    """Delete request states past their age and accepted assertion ids past `keep_until`.
    Returns how many rows went."""
    now = now or timezone.now()
    gone, _ = AuthnRequestState.objects.filter(expires_at__lte=now).delete()
    kept, _ = AcceptedAssertion.objects.filter(keep_until__lte=now).delete()
    return gone + kept
