"""Login checks. Authentication itself is Django's (password) and django-otp's (TOTP, RFC 6238).

Every login, step-up and failed attempt is audited (`login.succeeded`, `login.failed`,
`step_up.succeeded`, `step_up.failed`). Password guessing is limited by django-axes, which counts
failures in the database so that every web process sees the same counts
(`settings.LOGIN_FAILURE_LIMITS`, `apps.authn.throttle`): per username from one address (so an
attacker elsewhere cannot lock the owner out) and per address, each within
`settings.AXES_COOLOFF_TIME` of the last failure (OWASP ASVS 2.2.1: anti-automation). Unknown
usernames are counted and answered exactly like known ones, so the answers do not tell which
accounts exist. Second factors are throttled per device by django-otp.

The steps before a session exists act as the anonymous actor; completing the login and a step-up
act as the user. Enrolling a second factor and re-encrypting the stored keys are the operator's.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django.contrib.sessions.models import Session
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.db.models.functions import SHA256
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from webauthn import verify_authentication_response, verify_registration_response
from webauthn.helpers import base64url_to_bytes
from webauthn.helpers.exceptions import WebAuthnException

from apps.audit import context
from apps.audit.services import atomic_record_failure, record
from apps.authn import audit, passkeys, passwords, policies, signals, totp_keys
from apps.authn.models import LoginObligation, Passkey, SpentChallenge, TOTPDevice, UserSession
from apps.core.assurance import StepUpProof, mint_step_up
from apps.core.calls import service
from apps.core.db import lock_names
from apps.core.errors import Forbidden, NotFound, ValidationFailed
from apps.core.loa import LOA2
from apps.identities.actors import Actor
from apps.identities.identifiers import fold_username
from apps.identities.models import Person, User
from apps.identities.policies import require_register_people

#: RFC 4226 section 4 (R6) recommends 160-bit shared secrets; RFC 6238 keeps HOTP's.
TOTP_KEY_BYTES = 20

LOGIN_THROTTLED = _("Too many failed logins. Wait 15 minutes and try again, or ask your "
                    "administrator.")
ONE_TIME_PASSWORD_EXPIRED = _("The one-time password you were given has expired. Contact an "
                              "e-ID issuer (ID-administratör) with your identity document for a "
                              "new one.")
OTP_REFUSALS = {
    "otp.throttled": _("After a wrong code the next try must wait a few seconds. Wait a few "
                       "seconds, then enter the next code your authenticator app shows."),
    "otp.used": _("This code has already been used. Wait for the next code in your "
                  "authenticator app (at most 30 seconds) and enter that one."),
    "otp.failed": _("The code is wrong or has expired. Wait for a new code and try again."),
}


def _login_target(username: str) -> User:
    """An unsaved stand-in for an unknown username: its id is derived from the name, so failures
    against one unknown name are counted like those against a real account."""
    return User(id=uuid.uuid5(uuid.NAMESPACE_URL, f"login:{username}"), username=username[:150])


def _failed(actor: Actor, *, user: User | None, username: str, step: str) -> None:
    """Audit a failed `step` ("password", "otp" or "step_up"); an unknown username has no subject."""
    action = audit.STEP_UP_FAILED if step == "step_up" else audit.LOGIN_FAILED
    atomic_record_failure(actor=actor, action=action.code, target=user or _login_target(username),
                          subject=user.person if user else None,
                          changes={"username": [None, username[:150]], "step": [None, step]})


@service
def password_check(*, actor: Actor, request: HttpRequest, username: str, password: str) -> User:
    """The active staff account with these credentials; `actor` is the anonymous actor.

    Raises ValidationFailed: one message for a wrong name or password, so accounts cannot be
    enumerated (`login.failed`, audited), `password.expired` for the right password when it is an
    issuer's one-time password past its `LoginObligation.expires_at` (audited `login.failed`, step
    `one_time_password_expired`; docs/decisions.md "My account"), and `login.throttled` once a
    django-axes counter for the username from this address, or for the address, reached its
    limit (the password is then not checked). Checks of one username run one at a time
    (`apps.core.db.lock_names`), so parallel guesses at an account are counted exactly."""
    policies.require_anonymous(actor)
    username = fold_username(username)  # `ANNA.ADMIN` is `anna.admin`; a look-alike matches none
    credentials = {"username": username}
    with transaction.atomic():
        # One check at a time per username, so a burst of parallel guesses at one account is
        # counted like the same guesses one by one (the counter's row may not exist yet). Not per
        # address: a hospital's staff share one address, and password hashing takes a while.
        lock_names(f"login:username:{username}")
        if not AxesProxyHandler.is_allowed(request, credentials):
            refusal = "login.throttled"
        else:
            known = User.objects.filter(username=username).first()
            # NIST SP 800-63B rev. 4, 3.1.1.2: compared in NFKC, as it was hashed.
            user = authenticate(request, username=username, password=passwords.normalise(password))
            if isinstance(user, User) and user.kind == User.Kind.STAFF:
                if not LoginObligation.objects.filter(
                        user=user, kind=LoginObligation.Kind.CHANGE_PASSWORD,
                        expires_at__lte=timezone.now()).exists():
                    return user
                _failed(actor, user=user, username=username, step="one_time_password_expired")
                refusal = "password.expired"
            else:
                if user is not None:  # right password, no staff account: counted as a wrong one
                    user_login_failed.send(sender=__name__, credentials=credentials,
                                           request=request)
                _failed(actor, user=known, username=username, step="password")
                # This failure may have reached a limit.
                refusal = "login.throttled" if getattr(request, "axes_locked_out", False) else (
                    "login.failed")
    messages = {"login.throttled": LOGIN_THROTTLED, "password.expired": ONE_TIME_PASSWORD_EXPIRED}
    raise ValidationFailed(messages.get(refusal, _("Wrong username or password.")), code=refusal)


def _verify_otp(actor: Actor, user: User, token: str, *, step: str) -> TOTPDevice:
    """The confirmed TOTP device of `user` that accepts `token`.

    Each device keeps its own throttle (django-otp: after n failures in a row the next try waits
    2^(n-1) seconds). The code is tried only against the devices not waiting; the device whose
    code it is accepts it through django-otp's `verify_token` (which records `last_t`, so the code
    works once, RFC 6238 section 5.2, and resets that device's throttle), and the user's other
    devices are left untouched. A code no device accepts is a failure on every device it was tried
    against, except a code a device accepted already (`has_used`): that one is refused with its
    own message and counts nowhere, as it is no guess. The devices are locked (SELECT ... FOR
    UPDATE, in id order) so concurrent requests accept a code once and lose no failure.

    A refusal is audited as a failed `step`. Raises ValidationFailed (field `token`) with code
    `otp.throttled`, `otp.used` or `otp.failed` (OTP_REFUSALS).
    """
    try:
        value: int | None = int(token.strip())
    except ValueError:
        value = None
    with transaction.atomic():
        devices = list(TOTPDevice.objects.select_for_update()
                       .filter(user=user, confirmed=True).order_by("pk"))
        ready = [device for device in devices if device.verify_is_allowed()[0]]
        owner = next((d for d in ready if value is not None and d.accepts(value)), None)
        # verify_token checks again: it refuses (and counts) only when the time step changed.
        if owner is not None and owner.verify_token(value):
            return owner
        if owner is None and value is not None and any(d.has_used(value) for d in ready):
            refusal = "otp.used"
        else:
            for device in ready:
                if device is not owner:
                    device.throttle_increment()
            refusal = "otp.failed" if len(ready) == len(devices) else "otp.throttled"
    _failed(actor, user=user, username=user.username, step=step)
    raise ValidationFailed(OTP_REFUSALS[refusal], code=refusal, field="token")


@service
def otp_check(*, actor: Actor, user: User, token: str) -> TOTPDevice:
    """The second login step for `user` (password already accepted); `actor` is the anonymous
    actor. Returns the device that accepted `token`; raises ValidationFailed (field `token`)."""
    policies.require_anonymous(actor)
    return _verify_otp(actor, user, token, step="otp")


@service
def login_succeeded(*, actor: User, loa: str | None, methods: list[str]) -> None:
    """Audit a completed login (`login.succeeded`), acting as the user who just logged in; the
    row carries the new session's level of assurance `loa`."""
    policies.require_self(actor, actor)
    with context.using(replace(context.current(), loa=loa)), transaction.atomic():
        record(actor=actor, action=audit.LOGIN_SUCCEEDED.code, target=actor, subject=actor.person,
               changes={"methods": [None, methods]})


@service
def step_up_succeeded(*, actor: User, method: str, loa: str) -> None:
    """Audit a step-up the user passed outside the portal (`step_up.succeeded`): a ForceAuthn
    login at an IdP (`method` "saml") at level `loa`. The TOTP and passkey step-ups audit
    themselves (`step_up_verify`, `passkey_step_up`)."""
    policies.require_self(actor, actor)
    with context.using(replace(context.current(), loa=loa)), transaction.atomic():
        record(actor=actor, action=audit.STEP_UP_SUCCEEDED.code, target=actor,
               subject=actor.person, changes={"method": [None, method], "loa": [None, loa]})


@service
def step_up_verify(*, actor: User, token: str) -> StepUpProof:
    """Re-enter the second factor before a sensitive action. Returns a `StepUpProof` for the actor
    (apps.core.assurance: valid 5 minutes); audits `step_up.succeeded` or `step_up.failed`.
    Raises ValidationFailed (field `token`) like `otp_check`."""
    policies.require_self(actor, actor)
    _verify_otp(actor, actor, token, step="step_up")
    proof = mint_step_up(actor.pk, "otp", loa=LOA2)
    with transaction.atomic():
        record(actor=actor, action=audit.STEP_UP_SUCCEEDED.code, target=actor,
               subject=actor.person, changes={"method": [None, proof.method]})
    return proof


@service
def totp_device_create(*, actor: Actor, user: User, key_hex: str | None = None) -> TOTPDevice:
    """Enrol a TOTP second factor (RFC 6238: 30-second steps, 6 digits, HMAC-SHA1) for `user`,
    with a random key of TOTP_KEY_BYTES bytes or the hex-encoded `key_hex` (tests). The key is
    stored encrypted (`apps.authn.totp_keys`). Only the operator
    (`identities.policies.require_register_people`); raises Forbidden otherwise, ValueError for a
    `key_hex` that is not hex."""
    require_register_people(actor)
    key = bytes.fromhex(key_hex) if key_hex else secrets.token_bytes(TOTP_KEY_BYTES)
    with transaction.atomic():
        device = TOTPDevice.objects.create(user=user, name="TOTP", confirmed=True,
                                           encrypted_key=totp_keys.encrypt(key))
        record(actor=actor, action=audit.OTP_DEVICE_CREATED.code, target=device,
               subject=user.person)
    return device


@service
def totp_keys_rotate(*, actor: Actor) -> int:
    """Re-encrypt every stored TOTP key with the first key of
    settings.PORTAL_TOTP_ENCRYPTION_KEYS, so that the older keys can then be removed from the
    setting (docs/configuration.md, "Rotating the TOTP encryption key"). The TOTP keys themselves,
    and so the codes, are unchanged. Only the operator; one `otp_device.rekeyed` event per device,
    all in one transaction (devices locked in id order). Returns the number of devices. Raises
    Forbidden, and `cryptography.fernet.InvalidToken` (nothing changed) when a key was made with
    a key no longer in the setting."""
    require_register_people(actor)
    with transaction.atomic():
        devices = (TOTPDevice.objects.select_for_update(of=("self",))
                   .select_related("user__person").order_by("pk"))
        count = 0
        for device in devices:
            device.encrypted_key = totp_keys.rotate(device.encrypted_key)
            device.save(update_fields=["encrypted_key"])
            record(actor=actor, action=audit.OTP_DEVICE_REKEYED.code, target=device,
                   subject=device.user.person)
            count += 1
    return count


# --- login sessions (NIST SP 800-63B rev. 4, section 5: session management) -------------------


class _SHA256(SHA256):
    """Django's SHA256, computed on PostgreSQL with the built-in `sha256()` (PostgreSQL 11+)
    instead of pgcrypto's `digest()`, which needs an extension the portal does not install."""

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return super().as_sql(
            compiler, connection,
            template="ENCODE(SHA256(CONVERT_TO(%(expressions)s, 'UTF8')), 'hex')",
            **extra_context)


def _delete_django_sessions(key_hashes: list[str]) -> None:
    """Delete the stored Django sessions (django.contrib.sessions, database backend) whose key
    hashes to one of `key_hashes`: their cookies then load an empty session, so the next request
    is not logged in. Only unexpired rows are compared (`expire_date` is indexed); the hash is
    computed by the database (SHA-256, as `session.key_hash`)."""
    if key_hashes:
        (Session.objects.filter(expire_date__gt=timezone.now())
         .annotate(hashed=_SHA256("session_key")).filter(hashed__in=key_hashes).delete())


@service
def session_start(*, actor: User, key_hash: str, ip: str | None, user_agent: str,
                  methods: list[str], loa: str | None, idp: str | None,
                  eid_serials: list[str] | None = None) -> UserSession:
    """Record the login session the user `actor` just completed (`apps.authn.session.set_login`):
    `key_hash` the SHA-256 (hex) of its session key, `ip` the client address, `user_agent` the
    browser's header (cut to UserSession.USER_AGENT_MAX_LENGTH characters), `methods`, `loa` and
    `idp` as in the session, `eid_serials` the mobile e-ID that logged in (its serial, hex), if
    one did. Audited `session.started`. Raises Forbidden for another actor."""
    policies.require_self(actor, actor)
    now = timezone.now()
    with transaction.atomic():
        row = UserSession.objects.create(
            user=actor, key_hash=key_hash, started_at=now, last_seen_at=now, ip=ip or None,
            user_agent=user_agent[:UserSession.USER_AGENT_MAX_LENGTH], methods=methods,
            loa=loa or "", idp=idp or "", eid_serials=list(eid_serials or []))
        changes: dict[str, list[object]] = {"methods": [None, methods], "loa": [None, loa],
                                            "idp": [None, idp]}
        if row.eid_serials:
            changes["eid_serials"] = [None, row.eid_serials]
        record(actor=actor, action=audit.SESSION_STARTED.code, target=row, subject=actor.person,
               changes=changes)
    return row


def _end_reason_checked(actor: Actor, person: Person, reason: str, note: str) -> str:
    """The administrator's `note` (stripped) after checking `reason`: an administrator ends
    sessions only with reason `admin` and a note; the person and the portal with any reason of
    `UserSession.EndReason`. Raises ValidationFailed (`session.reason`, `no_reason`)."""
    note = note.strip()
    admin = not policies.is_own_or_portal(actor, person)
    if reason not in UserSession.EndReason.values or admin != (reason == UserSession.EndReason.ADMIN):
        raise ValidationFailed(_("Unknown reason."), code="session.reason")
    if admin and not note:
        raise ValidationFailed(_("Give a reason."), code="no_reason", field="note")
    if len(note) > UserSession.END_NOTE_MAX_LENGTH:
        raise ValidationFailed(
            _("Use at most %(count)d characters.") % {"count": UserSession.END_NOTE_MAX_LENGTH},
            code="session.note", field="note")
    return note


def _sessions_manageable(actor: Actor, person: Person) -> QuerySet[UserSession]:
    """The person's sessions `actor` (past `require_manage_sessions`) may end: all for the
    person and the portal, those of staff accounts for an administrator."""
    rows = UserSession.objects.filter(user__person=person)
    if not policies.is_own_or_portal(actor, person):
        rows = rows.filter(user__kind=User.Kind.STAFF)
    return rows


def _end_rows(actor: Actor, rows: list[UserSession], reason: str, note: str = "") -> datetime:
    """Mark the locked active `rows` ended now with `reason` and `note`, delete their stored
    Django sessions (each browser is logged out at its next request) and send
    `signals.session_ended` for each, so the tokens they carry end too (apps.federation).
    Returns the end time (UTC)."""
    now = timezone.now()
    UserSession.objects.filter(pk__in=[row.pk for row in rows]).update(
        ended_at=now, end_reason=reason, end_note=note, updated_at=now)
    _delete_django_sessions([row.key_hash for row in rows])
    for row in rows:
        row.ended_at, row.end_reason, row.end_note = now, reason, note
        signals.session_ended.send(sender=UserSession, actor=actor, user_session=row,
                                   reason=reason)
    return now


@service
def session_end(*, actor: Actor, user_session: UserSession, reason: str,
                note: str = "") -> UserSession:
    """End one login session now: its stored Django session is deleted (its cookie no longer logs
    in, from the next request on) and the row is marked ended with `reason`
    (`UserSession.EndReason`); `signals.session_ended` ends the tokens it carries. For the
    session's person themself, the portal, or a local administrator in scope of the person, who
    ends only a staff account's session, with reason `admin` and a `note` (at most
    UserSession.END_NOTE_MAX_LENGTH characters) that the person sees
    (`policies.require_manage_sessions`; NIST SP 800-63B rev. 4, 5.1: session management).
    Locks the person, then the row (docs/architecture.md, "Lock order"). Audited `session.ended`
    (the note as its reason). Raises NotFound (not the actor's to end, also for a patient
    account's session asked by an administrator), ValidationFailed (`session.ended`: already
    ended; `session.reason`: an unknown reason or one not the actor's; `no_reason`,
    `session.note`: the administrator's note missing or too long)."""
    person = user_session.user.person
    policies.require_manage_sessions(actor, person)
    note = _end_reason_checked(actor, person, reason, note)
    with transaction.atomic():
        Person.objects.select_for_update().get(pk=person.pk)
        row = _sessions_manageable(actor, person).select_for_update(of=("self",)).filter(
            pk=user_session.pk).first()
        if row is None:
            raise NotFound()
        if row.ended_at is not None:
            raise ValidationFailed(_("This session has already ended."), code="session.ended")
        ended_at = _end_rows(actor, [row], reason, note)
        record(actor=actor, action=audit.SESSION_ENDED.code, target=row, subject=person,
               reason=note, changes={"ended_at": [None, ended_at.isoformat()],
                                     "end_reason": [None, reason]})
    return row


@service
def sessions_end_all(*, actor: Actor, person: Person,
                     reason: str = UserSession.EndReason.EVERYWHERE, note: str = "") -> int:
    """End every active login session of `person`'s accounts ("log out everywhere"), as
    `session_end` does for one, in one transaction. The person themself and the portal end those
    of every account and renew the accounts' `session_epoch` too, so a session the records
    missed ends as well; a local administrator in scope ends those of the person's staff
    accounts, with reason `admin` and a `note` as for `session_end`. Locks the person, then the
    rows in id order. One audit event `sessions.ended` on the person. Returns how many sessions
    ended. Raises NotFound, ValidationFailed (`session.reason`, `no_reason`, `session.note`)."""
    policies.require_manage_sessions(actor, person)
    note = _end_reason_checked(actor, person, reason, note)
    with transaction.atomic():
        Person.objects.select_for_update().get(pk=person.pk)
        rows = list(_sessions_manageable(actor, person).select_for_update(of=("self",))
                    .filter(ended_at__isnull=True).order_by("pk"))
        if policies.is_own_or_portal(actor, person):
            now = timezone.now()
            UserSession.objects.filter(pk__in=[row.pk for row in rows]).update(
                ended_at=now, end_reason=reason, updated_at=now)
            _delete_django_sessions([row.key_hash for row in rows])
            # A new epoch ends any session without a record too; its receiver finds no row left.
            User.objects.end_sessions(person)
        else:
            _end_rows(actor, rows, reason, note)
        record(actor=actor, action=audit.SESSIONS_ENDED.code, target=person, subject=person,
               reason=note,
               changes={"sessions_ended": [None, len(rows)], "end_reason": [None, reason]})
    return len(rows)


@service
def sessions_end_for_eid(*, actor: Actor, person: Person, eid_serial: str) -> int:
    """The mobile e-ID `eid_serial` (hex) of `person` was revoked by `actor`: end every active
    session it logged in or stepped up (`UserSession.eid_serials`), reason `eid`, in the caller's
    transaction (entitlement ends with what it entitled). Their stored Django sessions are
    deleted, so each browser is logged out at its next request, and `signals.session_ended` is
    sent for each, so their OIDC tokens end too (apps.federation). Locks the person, then the
    rows in id order (docs/architecture.md, "Lock order"). One audit event `eid_sessions.ended`
    on the person when any ended. Returns how many. Raises Forbidden without an actor
    (`policies.require_end_entitled_sessions`)."""
    policies.require_end_entitled_sessions(actor)
    with transaction.atomic():
        Person.objects.select_for_update().get(pk=person.pk)
        # The person's few active sessions, filtered here: JSON containment (`__contains`) is
        # PostgreSQL's, and the development database (SQLite) has none.
        rows = [row for row in UserSession.objects.select_for_update()
                .filter(user__person=person, ended_at__isnull=True).order_by("pk")
                if eid_serial in row.eid_serials]
        if not rows:
            return 0
        reason = UserSession.EndReason.EID
        _end_rows(actor, rows, reason)
        record(actor=actor, action=audit.EID_SESSIONS_ENDED.code, target=person, subject=person,
               changes={"sessions_ended": [None, len(rows)], "end_reason": [None, reason],
                        "eid_serial": [None, eid_serial]})
    return len(rows)


# --- passkeys (W3C Web Authentication Level 2; apps.authn.passkeys makes the options) ----------

PASSKEY_REFUSED = _("The passkey could not be used. Try again, or log in another way.")
PASSKEY_EXPIRED = _("The passkey request expired or was already used. Try again.")
#: A passkey is added or removed only within 5 minutes of a login or step-up (NIST SP 800-63B
#: rev. 4, 6.1.2.3: re-authenticate before changing authenticators; OWASP ASVS 5.0 V7.5.1).
PASSKEY_FRESH_SECONDS = 300
ADD_STALE = _("Confirm it is you first (“Confirm it is you” on My passkeys), then add the "
              "passkey within 5 minutes.")
REMOVE_STALE = _("Confirm it is you first (“Confirm it is you” on My passkeys), then remove the "
                 "passkey within 5 minutes.")
#: Whatever py_webauthn or a malformed browser answer raises while parsing and verifying.
_WEBAUTHN_ERRORS = (WebAuthnException, ValueError, KeyError, TypeError, AttributeError)


def _require_fresh_factor(factor_at: int, message: Any) -> None:
    """Raise Forbidden (`passkey.stale`, `message`) unless `factor_at` (epoch seconds, UTC: when
    the session last proved a factor) is at most PASSKEY_FRESH_SECONDS ago."""
    if not 0 <= time.time() - factor_at <= PASSKEY_FRESH_SECONDS:
        raise Forbidden(message, code="passkey.stale")


def _spend_challenge(challenge: bytes) -> None:
    """Record `challenge` as answered (call inside the ceremony's transaction); raises
    ValidationFailed (`passkey.expired`) when it was answered already, here or in a parallel
    request (`SpentChallenge.digest` is unique). Prunes records past the challenges' lifetime."""
    now = timezone.now()
    SpentChallenge.objects.filter(
        spent_at__lt=now - timedelta(seconds=2 * passkeys.CHALLENGE_MAX_AGE_SECONDS)).delete()
    try:
        with transaction.atomic():
            SpentChallenge.objects.create(digest=hashlib.sha256(challenge).hexdigest(),
                                          spent_at=now)
    except IntegrityError as exc:
        raise ValidationFailed(PASSKEY_EXPIRED, code="passkey.expired") from exc


def _passkey_failed(actor: Actor, user: User | None, reason: str, *, step: str) -> None:
    """Audit a refused passkey assertion against the account concerned, when it is known: a
    login step (`login.failed`, step `passkey`) or a step-up (`step_up.failed`, step
    `step_up`)."""
    if user is not None:
        action = audit.STEP_UP_FAILED if step == "step_up" else audit.LOGIN_FAILED
        atomic_record_failure(actor=actor, action=action.code, target=user, subject=user.person,
                              changes={"step": [None, step], "reason": [None, reason]})


def _passkey_assert(actor: Actor, credential: dict[str, Any], challenge: bytes | None, *,
                    user: User | None, step: str,
                    audit_success: Callable[[Passkey], None]) -> Passkey:
    """The passkey whose assertion `credential` (the browser's answer to
    `navigator.credentials.get()` as JSON) signed `challenge` (`passkeys.take_challenge`; None
    when missing, expired or made for another ceremony). With `user`, only that account's
    passkeys count: another account's credential is refused as unknown.

    Verified by py_webauthn (WebAuthn 7.2): challenge, origin, RP ID, user presence and user
    verification (the UV flag, required), the signature with the stored public key, and the
    signature counter, which must grow unless the authenticator keeps none (both 0; WebAuthn
    6.1.1, a cloned authenticator is refused). The user handle, when sent, must be the account's
    (WebAuthn 7.2 step 6); the account must be active. The passkey row is locked while it is
    checked and the challenge is spent under a unique constraint (`_spend_challenge`) in the same
    transaction, so one assertion passes once. Updates `sign_count` and `last_used_at`, then
    `audit_success(passkey)` writes the caller's audit event in that transaction. A refusal is
    audited by `_passkey_failed` (`step`: "passkey" or "step_up"). Raises ValidationFailed
    (`passkey.expired`, `passkey.refused`)."""
    if challenge is None:
        raise ValidationFailed(PASSKEY_EXPIRED, code="passkey.expired")
    credential_id = passkeys.credential_id_of(credential)
    owner: User | None = user
    try:
        with transaction.atomic():
            candidates = (Passkey.objects.select_for_update(of=("self",))
                          .select_related("user__person").filter(credential_id=credential_id))
            if user is not None:
                candidates = candidates.filter(user=user)
            passkey = candidates.first() if credential_id else None
            if passkey is None:
                raise ValidationFailed(PASSKEY_REFUSED, code="passkey.refused")
            owner = passkey.user
            handle = credential.get("response", {}).get("userHandle")
            if handle and base64url_to_bytes(str(handle)) != owner.pk.bytes:
                raise ValidationFailed(PASSKEY_REFUSED, code="passkey.refused")
            if not owner.is_active:
                raise ValidationFailed(PASSKEY_REFUSED, code="passkey.refused")
            verified = verify_authentication_response(
                credential=credential, expected_challenge=challenge,
                expected_rp_id=settings.PORTAL_WEBAUTHN_RP_ID,
                expected_origin=settings.PORTAL_WEBAUTHN_ORIGIN,
                credential_public_key=bytes(passkey.public_key),
                credential_current_sign_count=passkey.sign_count,
                require_user_verification=True)
            _spend_challenge(challenge)
            passkey.sign_count = verified.new_sign_count
            passkey.last_used_at = timezone.now()
            passkey.save(update_fields=["sign_count", "last_used_at", "updated_at"])
            audit_success(passkey)
    except ValidationFailed:
        _passkey_failed(actor, owner, "refused", step=step)
        raise
    except _WEBAUTHN_ERRORS as exc:
        _passkey_failed(actor, owner, "verification", step=step)
        raise ValidationFailed(PASSKEY_REFUSED, code="passkey.refused") from exc
    return passkey


@service
def passkey_register(*, actor: User, credential: dict[str, Any], challenge: bytes | None,
                     name: str, factor_at: int) -> Passkey:
    """Register a passkey for the logged-in user `actor` from the browser's answer to
    `navigator.credentials.create()` (`credential`, the PublicKeyCredential as JSON) to the
    `challenge` this session issued (`passkeys.take_challenge`; None when missing or expired).
    Verified by py_webauthn (WebAuthn 7.1): challenge, origin settings.PORTAL_WEBAUTHN_ORIGIN,
    RP ID settings.PORTAL_WEBAUTHN_RP_ID, user presence and user verification. Attestation is
    not verified against any root ("none" accepted); its format and the AAGUID are recorded.
    `factor_at` is when this session last proved a factor (epoch seconds, UTC), as for
    `passkey_remove`: binding a new authenticator needs one at most PASSKEY_FRESH_SECONDS ago.
    `name` is trimmed, without control characters and unpaired surrogates, which no text column
    holds (empty: "Passkey"); of the transports the browser reported only the ones WebAuthn
    defines are kept (`passkeys.TRANSPORTS`). Audited `passkey.created`. Raises Forbidden
    (`passkey.stale`: no fresh factor), ValidationFailed (`passkey.expired`, `passkey.refused`,
    `passkey.exists`: the credential ID is registered already, WebAuthn 7.1 step 22)."""
    policies.require_self(actor, actor)
    _require_fresh_factor(factor_at, ADD_STALE)
    printable = "".join(c for c in name or "" if unicodedata.category(c) not in ("Cc", "Cs"))
    label = printable.strip()[:Passkey.NAME_MAX_LENGTH] or str(_("Passkey"))
    if challenge is None:
        raise ValidationFailed(PASSKEY_EXPIRED, code="passkey.expired")
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=challenge,
            expected_rp_id=settings.PORTAL_WEBAUTHN_RP_ID,
            expected_origin=settings.PORTAL_WEBAUTHN_ORIGIN,
            require_user_verification=True)
    except _WEBAUTHN_ERRORS as exc:
        raise ValidationFailed(PASSKEY_REFUSED, code="passkey.refused") from exc
    reported = credential["response"].get("transports")
    transports = [t for t in reported if isinstance(t, str) and t in passkeys.TRANSPORTS
                  ] if isinstance(reported, list) else []
    with transaction.atomic():
        _spend_challenge(challenge)
        if Passkey.objects.filter(credential_id=verified.credential_id).exists():
            raise ValidationFailed(_("This passkey is registered already."), code="passkey.exists")
        passkey = Passkey.objects.create(
            user=actor, credential_id=verified.credential_id,
            public_key=verified.credential_public_key, sign_count=verified.sign_count,
            transports=list(dict.fromkeys(transports)),
            aaguid=str(verified.aaguid), name=label,
            attestation_format=str(getattr(verified.fmt, "value", verified.fmt)))
        record(actor=actor, action=audit.PASSKEY_CREATED.code, target=passkey,
               subject=actor.person,
               changes={"name": [None, label], "aaguid": [None, passkey.aaguid],
                        "attestation_format": [None, passkey.attestation_format]})
    return passkey


@service
def passkey_authenticate(*, actor: Actor, credential: dict[str, Any],
                         challenge: bytes | None) -> User:
    """The first login factor with a passkey: the active account whose passkey signed
    `challenge` (purpose "login") in `credential`; `actor` is the anonymous actor. Checked as
    `_passkey_assert` describes. Audited `passkey.used`, a refusal against a known credential
    `login.failed` (step `passkey`). Raises ValidationFailed (`passkey.expired`,
    `passkey.refused`)."""
    policies.require_anonymous(actor)

    def used(passkey: Passkey) -> None:
        record(actor=actor, action=audit.PASSKEY_USED.code, target=passkey,
               subject=passkey.user.person, changes={"sign_count": [None, passkey.sign_count]})

    return _passkey_assert(actor, credential, challenge, user=None, step="passkey",
                           audit_success=used).user


@service
def passkey_second_factor(*, actor: Actor, user: User, credential: dict[str, Any],
                          challenge: bytes | None) -> Passkey:
    """The second login step with a passkey, after `user`'s password was accepted
    (`session.pending_user`); `actor` is the anonymous actor. `credential` must be an assertion
    of one of `user`'s own passkeys over `challenge` (purpose "second_factor"): a passkey of
    another account is refused like an unknown one (NIST SP 800-63B 7.1: both factors
    authenticate the same subscriber). Checked as `_passkey_assert` describes. Returns the
    passkey; audited `passkey.used` (step `second_factor`), a refusal `login.failed` (step
    `passkey`) against `user`. Raises ValidationFailed (`passkey.expired`, `passkey.refused`)."""
    policies.require_anonymous(actor)

    def used(passkey: Passkey) -> None:
        record(actor=actor, action=audit.PASSKEY_USED.code, target=passkey,
               subject=user.person, changes={"sign_count": [None, passkey.sign_count],
                                             "step": [None, "second_factor"]})

    return _passkey_assert(actor, credential, challenge, user=user, step="passkey",
                           audit_success=used)


@service
def passkey_step_up(*, actor: User, credential: dict[str, Any],
                    challenge: bytes | None) -> StepUpProof:
    """Confirm it is you with one of the actor's own passkeys before a sensitive action: an
    assertion over `challenge` (purpose "step_up"), checked as `_passkey_assert` describes.
    Returns a `StepUpProof` (apps.core.assurance: method "passkey", level
    settings.PORTAL_PASSKEY_LOA, valid 5 minutes). Audited `step_up.succeeded` (method, level and
    the passkey used), a refusal `step_up.failed`. Raises Forbidden (not the actor's own login),
    ValidationFailed (`passkey.expired`, `passkey.refused`)."""
    policies.require_self(actor, actor)
    proofs: list[StepUpProof] = []

    def succeeded(passkey: Passkey) -> None:
        proof = mint_step_up(actor.pk, "passkey", loa=settings.PORTAL_PASSKEY_LOA)
        proofs.append(proof)
        with context.using(replace(context.current(), loa=proof.loa)):
            record(actor=actor, action=audit.STEP_UP_SUCCEEDED.code, target=actor,
                   subject=actor.person,
                   changes={"method": [None, proof.method], "loa": [None, proof.loa],
                            "passkey": [None, str(passkey.pk)],
                            "sign_count": [None, passkey.sign_count]})

    _passkey_assert(actor, credential, challenge, user=actor, step="step_up",
                    audit_success=succeeded)
    return proofs[0]


@service
def passkey_remove(*, actor: User, passkey: Passkey, factor_at: int) -> None:
    """Remove a passkey of the user `actor`. `factor_at` is when this session last proved a
    factor (epoch seconds, UTC: its login or a fresh step-up); it must be at most
    PASSKEY_FRESH_SECONDS ago. Audited `passkey.removed`. Raises Forbidden (someone else's
    passkey; `passkey.stale`: no fresh factor), NotFound (already removed)."""
    policies.require_self(actor, passkey.user)
    _require_fresh_factor(factor_at, REMOVE_STALE)
    with transaction.atomic():
        row = Passkey.objects.select_for_update().filter(pk=passkey.pk, user=actor).first()
        if row is None:
            raise NotFound()
        record(actor=actor, action=audit.PASSKEY_REMOVED.code, target=row, subject=actor.person,
               changes={"name": [row.name, None]})
        row.delete()
