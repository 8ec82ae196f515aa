"""What the session knows about how the user logged in: level of assurance, methods, step-up.

Stored under `request.session["authn"]` as `{"loa": URI | None, "methods": [str], "at": epoch
seconds (UTC) of the login or of the latest step-up at an IdP (`raise_level`), "idp": SAML IdP
entityID | None, "step_up": StepUpProof.as_session() | None}`, plus `"eid_serial"` (hex) after a
mobile e-ID login. Method names follow RFC 8176
(`pwd`, `otp`); SAML logins use `saml`, the demo patient login `demo`. LoA URIs are the Swedish
framework's (`apps.core.loa`).

`set_login` is the one place a login completes: it rotates the session key (a session fixed before
the login is worth nothing after it, OWASP ASVS 5.0 V7.2.4) and records a `UserSession` row (the
key's SHA-256, never the key), so the person can list and end their sessions. `store_step_up`
rotates the key again. `SEEN_KEY` holds the epoch second of the last recorded activity, written at
most once a minute (`apps.authn.middleware`).

Between the password and the second factor the session holds only a pending login
(`PENDING_KEY`): the user's id, when the password was accepted and the account's session hash at
that moment. It expires after `PENDING_MAX_AGE_SECONDS` and when the password (or the account's
session epoch) changed in between, so a second factor entered later starts over (NIST SP 800-63B
7.1: bind each step to the same authentication).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import time
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth import HASH_SESSION_KEY, logout
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.audit import context
from apps.authn import selectors, services
from apps.authn.models import LoginObligation, UserSession
from apps.core import loa as levels
from apps.core.assurance import StepUpProof, is_fresh, mint_step_up
from apps.core.errors import PortalError
from apps.identities.models import User

PENDING_KEY = "authn_pending"
#: The second factor must follow the password within 5 minutes.
PENDING_MAX_AGE_SECONDS = 300
#: Epoch second (UTC) of the session's last recorded activity.
SEEN_KEY = "authn_seen"


def key_hash(session_key: str | None) -> str:
    """The lower-case hex SHA-256 of a session key, as `UserSession.key_hash` stores it."""
    return hashlib.sha256((session_key or "").encode()).hexdigest()


def current_key_hash(request: HttpRequest) -> str:
    """`key_hash` of this request's session key ("" without a saved session)."""
    key = request.session.session_key
    return key_hash(key) if key else ""


def set_login(request: HttpRequest, *, loa: str | None, methods: list[str],
              idp: str | None = None, eid_serial: str | None = None) -> UserSession:
    """Complete a login of `request.user` (call after `django.contrib.auth.login`): rotate the
    session key, store the session facts (`loa` a framework URI or None, `methods` RFC 8176 names,
    `idp` the SAML IdP's entityID or None, `eid_serial` the serial of the mobile e-ID that logged
    in or None) and record the session (`services.session_start`, audited `session.started`, with
    the client address of the audit context and the User-Agent; the e-ID's serial in
    `UserSession.eid_serials`, so revoking the e-ID ends the session). Returns the new
    `UserSession`. Raises TypeError without a logged-in user."""
    user = request.user
    if not isinstance(user, User):
        raise TypeError("set_login() needs request.user logged in (django.contrib.auth.login)")
    request.session.pop(PENDING_KEY, None)
    request.session.cycle_key()
    now = int(time.time())
    request.session["authn"] = {"loa": loa, "methods": list(methods), "at": now, "idp": idp,
                                "step_up": None}
    if eid_serial:
        request.session["authn"]["eid_serial"] = eid_serial
    if LoginObligation.objects.filter(user=user,
                                      kind=LoginObligation.Kind.CHANGE_PASSWORD).exists():
        # The login just proved the second factor: it stands in for the fresh one the change
        # needs (`account.password_change`), for STEP_UP_MAX_AGE_SECONDS.
        request.session["authn"][MUST_CHANGE_PASSWORD] = True
        request.session["authn"]["step_up"] = mint_step_up(
            user.pk, methods[-1] if methods else "pwd", loa=loa or levels.LOA2).as_session()
    request.session[SEEN_KEY] = now
    request.session.save()  # the key exists from here on
    return services.session_start(
        actor=user, key_hash=current_key_hash(request), ip=context.current().ip,
        user_agent=request.headers.get("User-Agent", ""), methods=list(methods), loa=loa, idp=idp,
        eid_serials=[eid_serial] if eid_serial else [])


def get(request: HttpRequest) -> dict[str, Any]:
    """The session's authentication facts, or {} when not logged in."""
    value = request.session.get("authn") or {}
    return dict(value)


def loa(request: HttpRequest) -> str | None:
    """The session's level of assurance (framework URI, `apps.core.loa`), or None when the
    session holds no completed login or its login had no level (the demo login)."""
    return levels.canonical(get(request).get("loa"))


def level(request: HttpRequest) -> int:
    """The session's level of assurance as a number: 2, 3 or 4; 0 without one."""
    return levels.level(get(request).get("loa"))


def has_login(request: HttpRequest) -> bool:
    """True when the session holds a completed login (`set_login` ran) of `request.user`."""
    data = get(request)
    return bool(getattr(request.user, "is_authenticated", False) and data.get("at")
                and data.get("methods"))


def set_pending(request: HttpRequest, user: User) -> None:
    """The password of `user` was accepted now: wait for the second factor."""
    request.session[PENDING_KEY] = {"user": str(user.pk), "at": int(time.time()),
                                    "hash": user.get_session_auth_hash()}


def pending_user(request: HttpRequest) -> User | None:
    """The user whose password was accepted, if that was at most PENDING_MAX_AGE_SECONDS ago and
    the account's password and sessions are unchanged since; else None (and the state is dropped)."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    try:
        user_id = uuid.UUID(str(pending.get("user")))
        fresh = 0 <= time.time() - int(pending.get("at", 0)) <= PENDING_MAX_AGE_SECONDS
    except (TypeError, ValueError):
        user_id, fresh = None, False
    user = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
    if user is None or not fresh or not hmac.compare_digest(
            str(pending.get("hash", "")), user.get_session_auth_hash()):
        request.session.pop(PENDING_KEY, None)
        return None
    return user


def has_pending(request: HttpRequest) -> bool:
    """True when a pending login state exists (fresh or not)."""
    return PENDING_KEY in request.session


#: What a browser is told when its step-up finished after its session was ended elsewhere.
CONFIRMED_MESSAGE = _("You have confirmed it is you. Go on with what you were doing within 5 "
                      "minutes.")
#: Session flag: a one-time password logged in; only the change-password page opens.
MUST_CHANGE_PASSWORD = "must_change_password"

ENDED_MESSAGE = _("Your session was ended meanwhile (for example from another device). Log in "
                  "again.")


def store_step_up(request: HttpRequest, proof: StepUpProof) -> bool:
    """Keep the step-up proof minted by `services.step_up_verify` for the next sensitive action,
    and rotate the session key (the session now vouches for more, OWASP ASVS 5.0 V7.2.4); the
    session's `UserSession` row follows the new key. The row is locked while the key changes, so
    a session ended at the same moment (from another device, "log out everywhere") is either
    ended under its new key or found ended here: then this browser is logged out and nothing is
    stored. Returns False in that case; else the next page says the confirmation holds
    (`CONFIRMED_MESSAGE`), since the action that asked for it must be done again."""
    old = current_key_hash(request)
    with transaction.atomic():
        row = (UserSession.objects.select_for_update().filter(key_hash=old)
               .order_by("-started_at").first() if old else None)
        if row is not None and row.ended_at is not None:
            logout(request)
            return False
        request.session.cycle_key()
        data = get(request)
        data["step_up"] = proof.as_session()
        request.session["authn"] = data
        request.session.save()
        if row is not None:
            row.key_hash = current_key_hash(request)
            row.save(update_fields=["key_hash", "updated_at"])
    messages.success(request, CONFIRMED_MESSAGE)
    return True


def keep_after_credential_change(request: HttpRequest, user: User) -> bool:
    """This session survives its own password or authenticator change (the others were ended by
    the service): it carries the account's new authentication hash, and its key is rotated
    (OWASP ASVS 5.0 V7.2.4) with its `UserSession` row following the new key. The row is locked
    while the key changes, so a session ended at the same moment (by an administrator, from
    another device) is found ended here: then this browser is logged out, as `store_step_up`
    does, and False is returned (the change itself stands); else True."""
    old = current_key_hash(request)
    with transaction.atomic():
        row = (UserSession.objects.select_for_update().filter(key_hash=old)
               .order_by("-started_at").first() if old else None)
        if row is not None and row.ended_at is not None:
            logout(request)
            return False
        request.session.cycle_key()
        request.session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        data = get(request)
        data.pop(MUST_CHANGE_PASSWORD, None)
        request.session["authn"] = data
        request.session.save()
        if row is not None:
            row.key_hash = current_key_hash(request)
            row.save(update_fields=["key_hash", "updated_at"])
    request.user = user
    return True


def touch(request: HttpRequest, now: int) -> None:
    """Record activity at `now` (epoch seconds, UTC): in the session and as the `UserSession`'s
    `last_seen_at`. The caller writes at most once a minute."""
    request.session[SEEN_KEY] = now
    key = current_key_hash(request)
    if key:
        UserSession.objects.filter(key_hash=key, ended_at__isnull=True).update(
            last_seen_at=timezone.now())


def step_up_proof(request: HttpRequest) -> StepUpProof | None:
    """The stored step-up proof, or None."""
    return StepUpProof.from_session(get(request).get("step_up"))


def has_fresh_step_up(request: HttpRequest, *, min_loa: str | None = None) -> bool:
    """True when the logged-in user holds a step-up proof that is still fresh (and, with
    `min_loa`, made at that level of assurance or a stronger one)."""
    user = request.user
    return isinstance(user, User) and is_fresh(step_up_proof(request), user.pk, min_loa=min_loa)


def consume_step_up(request: HttpRequest) -> None:
    """Spend the step-up: one re-entry of the second factor authorises one sensitive action."""
    data = get(request)
    data["step_up"] = None
    request.session["authn"] = data


def raise_level(request: HttpRequest, *, loa: str, method: str, idp: str | None,
                eid_serial: str | None = None) -> None:
    """A step-up proved level `loa` by `method` (e.g. "saml" at `idp`, a new authentication with
    ForceAuthn) in this session: the session's level becomes the stronger of the two (NIST SP
    800-63B rev. 4, 5.2: the session is as strong as its strongest current authentication) and its
    `UserSession` row says so. The session's clock (`at`, and the last activity) restarts now: the
    timeouts of its level count from this authentication (NIST SP 800-63B rev. 4, 5.2:
    reauthentication extends the session), so a step-up late in a long level-2 session does not
    end it at once under level 3's shorter limit; a step-up weaker than the session keeps the
    session's clock and level. `eid_serial` names the mobile e-ID that made the step-up: the
    session is entitled by it from now on (`UserSession.eid_serials`; revoking it ends the
    session). Call `store_step_up` after it, which rotates the session key."""
    data = get(request)
    if levels.level(loa) >= levels.level(data.get("loa")):
        # Only an authentication at least as strong as the session's restarts its clock: a
        # level-2 step-up must not extend a level-3 session (NIST SP 800-63B rev. 4, 5.2).
        now = int(time.time())
        data["at"] = now
        request.session[SEEN_KEY] = now
        data["loa"] = loa
    methods = list(data.get("methods") or [])
    if method not in methods:
        methods.append(method)
    data["methods"], data["idp"] = methods, idp or data.get("idp")
    request.session["authn"] = data
    key = current_key_hash(request)
    if not key:
        return
    with transaction.atomic():
        row = UserSession.objects.select_for_update().filter(
            key_hash=key, ended_at__isnull=True).first()
        if row is None:
            return
        row.loa, row.methods, row.idp = data["loa"] or "", methods, data["idp"] or ""
        if eid_serial and eid_serial not in row.eid_serials:
            row.eid_serials = [*row.eid_serials, eid_serial]
        row.save(update_fields=["loa", "methods", "idp", "eid_serials", "updated_at"])


def log_out(request: HttpRequest) -> None:
    """Log out here: this session's `UserSession` record ends (reason `logout`, audited
    `session.ended` by the user) when it is the logged-in user's, then the session is flushed
    (`django.contrib.auth.logout`). A record ended meanwhile (another tab, "log out everywhere")
    changes nothing: the session is logged out either way."""
    user = request.user
    current = selectors.session_get_by_key_hash(current_key_hash(request))
    if isinstance(user, User) and current is not None and current.user_id == user.pk:
        with contextlib.suppress(PortalError):
            services.session_end(actor=user, user_session=current,
                                 reason=UserSession.EndReason.LOGOUT)
    logout(request)


#: Where the federation app's single logout finds the IdP session of a login that was logged out
#: (`apps.federation.views.slo_start_view`).
SAML_LOGOUT_KEY = "saml_logout"


def log_out_to_portal(request: HttpRequest) -> HttpResponse:
    """The portal's logout page flow: `log_out`, then the start page saying so ("You are logged
    out.", or "You were not logged in." when the session held no login). After a federated login,
    the IdP's session (`saml` in the session) is handed to the federation app's single logout
    (`SAML_LOGOUT_KEY` in the new, anonymous session), which asks the IdP to end it too and then
    shows the start page."""
    federated = request.session.get("saml")
    logged_in = isinstance(request.user, User)
    log_out(request)
    if not logged_in:
        messages.info(request, _("You were not logged in."))
        return redirect("home")
    messages.success(request, _("You are logged out."))
    if isinstance(federated, dict):
        request.session[SAML_LOGOUT_KEY] = federated
        return redirect("federation:slo_start")
    return redirect("home")
