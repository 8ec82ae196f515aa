"""Out-of-band login with the mobile e-ID: the browser shows a request, the person approves it in
the app, and the browser's session completes at LoA 3.

NIST SP 800-63B 5.1.3 (out-of-band devices) and 5.2.10 (the secondary channel binds to the
primary: the browser shows a two-digit number that the person types into the app, and the app
signs a challenge that names the request, the portal's origin, the number and a nonce with the
e-ID's key). The challenge (UTF-8):

    "EIDAUTH1|<reference>|<origin>|<number>|<nonce>"

signed with ECDSA P-256 / SHA-256 (FIPS 186-5), DER (RFC 3279 2.2.3); a denial is signed over
"EIDDENY1|<reference>|<origin>|<nonce>" (apps.issuance.challenge). The request is bound to the
browser that started it (the SHA-256 of a random value only its session keeps, as the SAML flow
does), valid `rules.OOB_VALIDITY_SECONDS` (120 s), and consumed once.

Lock order (docs/architecture.md, "Lock order"): a start locks its address (an advisory lock),
then the browser's earlier request, so parallel starts count the waiting requests one at a time;
an answer or completion the person, then the e-ID, then the request, so an approval racing a
revocation of the same e-ID either sees it revoked or is done before the revocation starts; a
consumed approval never names an e-ID revoked before it was approved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.audit.models import AuditEvent
from apps.audit.services import record
from apps.core.calls import service
from apps.core.db import atomic_with_retry, lock_names
from apps.core.errors import Conflict, Forbidden, NotFound, PortalError
from apps.identities.actors import Actor
from apps.identities.models import Person, User
from apps.issuance import audit, authority, policies, rules
from apps.issuance.ca import CAError
from apps.issuance.challenge import challenge, denial_challenge
from apps.issuance.models import MobileEID, OutOfBandRequest

Status = OutOfBandRequest.Status


def _hash(binding: str) -> str:
    return hashlib.sha256(binding.encode()).hexdigest()


def _by_reference(reference: str) -> QuerySet[OutOfBandRequest]:
    """The request named `reference`; none for text that is not a reference's shape
    (`rules.oob_reference_valid`), which never reaches the database."""
    if not rules.oob_reference_valid(reference):
        return OutOfBandRequest.objects.none()
    return OutOfBandRequest.objects.filter(reference=reference)


def _is_live(req: OutOfBandRequest, now: dt.datetime) -> bool:
    """True while the request can still be answered or completed (before `expires_at`)."""
    return now < req.expires_at


def _gone() -> NotFound:
    # One answer for unknown, expired, completed and cancelled requests (the contract).
    return NotFound(_("No such login request, or it has ended."), code="not_found")


def _answerable(req: OutOfBandRequest | None, now: dt.datetime) -> OutOfBandRequest:
    """The request if the app may still answer it. Raises NotFound (unknown, expired, consumed,
    cancelled) or Conflict (`auth.not_pending`: already approved or denied)."""
    if req is None or not _is_live(req, now) or req.status in (
            Status.CONSUMED, Status.CANCELLED, Status.EXPIRED):
        raise _gone()
    if req.status != Status.PENDING:
        raise Conflict(_("This login request has already been answered."),
                       code="auth.not_pending")
    return req


@dataclass(frozen=True)
class StartedLogin:
    """A new request and the binding value the starting browser's session keeps (never stored)."""

    request: OutOfBandRequest
    binding: str


def _start(actor: Actor, ip: str | None, previous: tuple[str, str] | None, purpose: str,
           step_up_user: User | None) -> StartedLogin:
    now = timezone.now()
    binding = secrets.token_urlsafe(32)
    changes: dict[str, list[object]] = {"status": [None, Status.PENDING],
                                        "purpose": [None, purpose]}
    with transaction.atomic():
        if ip:
            # One start per address at a time, so parallel starts cannot all count four waiting
            # and each add a fifth (the limit's rows are the ones being inserted).
            lock_names(f"mobile_eid_login:address:{ip}")
        if previous is not None:
            old = _by_reference(previous[0]).select_for_update().filter(
                status=Status.PENDING).first()
            if old is not None and hmac.compare_digest(old.binding_hash, _hash(previous[1])):
                old.status = Status.CANCELLED
                old.save(update_fields=["status", "updated_at"])
                changes["cancelled"] = [None, str(old.pk)]
        if ip and OutOfBandRequest.objects.filter(
                ip=ip, status=Status.PENDING, expires_at__gt=now,
        ).count() >= rules.OOB_MAX_PENDING_PER_ADDRESS:
            raise Forbidden(_("Too many logins are waiting from your network. Wait two minutes "
                              "and try again."), code="auth.too_many")
        req = OutOfBandRequest.objects.create(
            reference=secrets.token_urlsafe(rules.OOB_REFERENCE_BYTES), nonce=secrets.token_hex(16),
            number=f"{secrets.randbelow(100):02d}", binding_hash=_hash(binding),
            created_at=now, expires_at=now + dt.timedelta(seconds=rules.OOB_VALIDITY_SECONDS),
            ip=ip or None, purpose=purpose, step_up_user=step_up_user)
        record(actor=actor, action=audit.MOBILE_EID_LOGIN_STARTED.code, target=req,
               subject=step_up_user.person if step_up_user is not None else None,
               changes=changes)
    return StartedLogin(req, binding)


@service
def mobile_eid_login_start(*, actor: Actor, ip: str | None,
                           previous: tuple[str, str] | None = None) -> StartedLogin:
    """Start a login request for the browser whose session will keep `StartedLogin.binding`.

    `ip` is the browser's address: at most `rules.OOB_MAX_PENDING_PER_ADDRESS` (5) live pending
    requests per address. `previous` (reference, binding) is the request this browser started
    before: it is cancelled, so one browser holds one request. Audits `mobile_eid_login.started`
    (its `changes` name the cancelled request's id under "cancelled").
    Raises Forbidden (`auth.too_many`: the address has 5 pending; `forbidden`: not anonymous).
    """
    policies.require_start_mobile_eid_login(actor)
    return _start(actor, ip, previous, OutOfBandRequest.Purpose.LOGIN, None)


@service
def mobile_eid_step_up_start(*, actor: Actor, ip: str | None,
                             previous: tuple[str, str] | None = None) -> StartedLogin:
    """The logged-in staff member `actor` confirms it is them with the mobile e-ID (a step-up,
    NIST SP 800-63B rev. 4, 2.2 reauthentication): as `mobile_eid_login_start`, but the request
    has purpose "step_up" and only an e-ID of `actor`'s person may approve it. Audits
    `mobile_eid_login.started`. Raises Forbidden (`auth.too_many`; `forbidden`: not an active
    staff account with an active mobile e-ID)."""
    policies.require_start_mobile_eid_step_up(actor)
    assert isinstance(actor, User)
    return _start(actor, ip, previous, OutOfBandRequest.Purpose.STEP_UP, actor)


def _eid_by_serial(serial: str) -> MobileEID | None:
    """The e-ID with this certificate serial (hex, any case, leading zeros allowed) or None."""
    text = (serial or "").strip().lower()
    if not text or len(text) > 40 or any(c not in "0123456789abcdef" for c in text):
        return None
    return MobileEID.objects.filter(serial=format(int(text, 16), "x")).first()


def _eid_problem(eid: MobileEID | None, now: dt.datetime) -> x509.Certificate | None:
    """The e-ID's certificate if the e-ID may log in at `now`: active (not revoked by the portal),
    within its validity, issued by the portal's CA (its signature verifies with the CA's key,
    RFC 5280 6.1.3), and its owner still a working staff member (entitlement checked when used).
    None otherwise."""
    if eid is None or eid.status != MobileEID.Status.ACTIVE:
        return None
    if not (eid.not_before <= now < eid.not_after):
        return None
    if not policies.is_staff_person(eid.person):
        return None
    try:
        cert = x509.load_pem_x509_certificate(eid.certificate_pem.encode())
        ca = authority.ca_load()
        if cert.issuer != ca.cert.subject or format(cert.serial_number, "x") != eid.serial:
            return None
        if not (cert.not_valid_before_utc <= now < cert.not_valid_after_utc):
            return None
        algorithm = cert.signature_hash_algorithm
        ca_key = ca.cert.public_key()
        if algorithm is None or not isinstance(ca_key, ec.EllipticCurvePublicKey):
            return None
        ca_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))
    except (CAError, ValueError, InvalidSignature):
        return None
    return cert


def _signed(cert: x509.Certificate, signature: bytes, data: bytes) -> bool:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def _login_user(person: Person) -> User | None:
    """The person's active staff account: the one an e-ID login opens."""
    return (User.objects.filter(person=person, kind=User.Kind.STAFF, is_active=True)
            .order_by("created_at").first())


def _answer(actor: Actor, reference: str, serial: str, signature: bytes,
            number: str | None) -> OutOfBandRequest:
    """The app's signed answer to request `reference`: an approval with the typed `number`, or a
    denial (`number` None). Checks, in this order: the request is pending and unexpired; the
    e-ID is usable (`_eid_problem`) and its owner has an active staff account; the signature
    over the answer's challenge (`challenge(req, number=number)` or `denial_challenge(req)`)
    verifies with the certificate's key; for a step-up, the e-ID is the confirming person's;
    then, for an approval, the number matches (the third signed wrong number
    cancels the request) and the person has given fewer than
    `rules.OOB_MAX_APPROVALS_PER_PERSON` approvals in the window. Every check that can change
    the request comes after the signature, so knowing the reference alone changes nothing.
    Locks the person, the e-ID, then the request; a refusal is audited (committed)."""
    found = _eid_by_serial(serial)

    def attempt() -> tuple[OutOfBandRequest, PortalError | None]:
        now = timezone.now()
        eid = None
        if found is not None:
            Person.objects.select_for_update().filter(pk=found.person_id).first()
            eid = MobileEID.objects.select_for_update().select_related("person").get(pk=found.pk)
        req = _answerable(_by_reference(reference).select_for_update(of=("self",))
                          .select_related("step_up_user").first(), now)
        error: PortalError | None = None
        changes: dict[str, list[object]] = {}
        cert = _eid_problem(eid, now)
        user = _login_user(eid.person) if cert is not None and eid is not None else None
        if req.step_up_user is not None and user is not None:
            user = req.step_up_user if req.step_up_user.is_active else None
        signed = denial_challenge(req) if number is None else challenge(req, number=number)
        if cert is None or user is None or eid is None:
            error = Forbidden(_("This e-ID cannot be used to log in."), code="auth.eid")
        elif not _signed(cert, signature, signed):
            error = Forbidden(_("The answer was not signed with this e-ID."),
                              code="auth.signature")
        elif user.person_id != eid.person_id:
            error = Forbidden(_("This request was started by someone else: only their own "
                                "e-ID can confirm it."), code="auth.other_person")
        elif number is not None and not hmac.compare_digest(number.encode(),
                                                            req.number.encode()):
            req.wrong_numbers += 1
            changes["wrong_numbers"] = [req.wrong_numbers - 1, req.wrong_numbers]
            if req.wrong_numbers >= rules.OOB_MAX_WRONG_NUMBERS:
                changes["status"] = [req.status, Status.CANCELLED]
                req.status = Status.CANCELLED
            req.save(update_fields=["wrong_numbers", "status", "updated_at"])
            error = Forbidden(_("The number does not match the one in the browser."),
                              code="auth.number")
        elif number is not None and OutOfBandRequest.objects.filter(
                eid__person_id=eid.person_id, approved_at__gt=now - dt.timedelta(
                    seconds=rules.OOB_APPROVAL_WINDOW_SECONDS),
        ).count() >= rules.OOB_MAX_APPROVALS_PER_PERSON:
            # Counted under the person's row lock, so parallel approvals cannot pass it.
            error = Forbidden(_("You have approved too many logins in the last ten minutes. "
                                "Wait a while and try again."), code="auth.too_many")
        if error is not None:
            record(actor=actor, action=audit.MOBILE_EID_LOGIN_REFUSED.code, target=req,
                   subject=eid.person if eid is not None else None, changes=changes,
                   reason=audit.OOB_REFUSED[error.code].code,
                   outcome=AuditEvent.Outcome.FAILURE)
            return req, error
        assert eid is not None and user is not None
        if number is None:
            req.status = Status.DENIED
            req.save(update_fields=["status", "updated_at"])
            record(actor=actor, action=audit.MOBILE_EID_LOGIN_DENIED.code, target=req,
                   subject=eid.person, changes={"status": [Status.PENDING, Status.DENIED],
                                                "serial": [None, eid.serial]})
            return req, None
        req.status, req.eid, req.user, req.approved_at = Status.APPROVED, eid, user, now
        req.save(update_fields=["status", "eid", "user", "approved_at", "updated_at"])
        record(actor=actor, action=audit.MOBILE_EID_LOGIN_APPROVED.code, target=req,
               subject=eid.person, changes={"status": [Status.PENDING, Status.APPROVED],
                                            "serial": [None, eid.serial]})
        return req, None

    req, error = atomic_with_retry(attempt)
    if error is not None:
        raise error
    return req


@service
def mobile_eid_login_approve(*, actor: Actor, reference: str, serial: str, number: str,
                             signature: bytes) -> OutOfBandRequest:
    """The app approves request `reference` with the e-ID whose certificate serial is `serial`
    (hex): `number` is what the person typed, `signature` the DER ECDSA signature over
    `challenge(request, number=number)` with the e-ID's key.

    Checks as `_answer` (request, e-ID, signature, step-up person, number, rate limit): a wrong
    number counts (the third cancels the request) only when signed, so whoever merely knows the
    reference cannot cancel it (NIST SP 800-63B 5.2.2). A step-up request (purpose "step_up")
    is approved only by an e-ID of the person it confirms. Audits `mobile_eid_login.approved`,
    or `mobile_eid_login.refused` (failure, committed: the wrong-number count survives the
    refusal).

    Raises NotFound (unknown, expired, consumed or cancelled), Conflict (`auth.not_pending`),
    Forbidden (`auth.eid`, `auth.other_person`, `auth.signature`, `auth.number`,
    `auth.too_many`), `apps.core.db.Busy`.
    """
    policies.require_answer_mobile_eid_login(actor)
    return _answer(actor, reference, serial, signature, str(number))


@service
def mobile_eid_login_deny(*, actor: Actor, reference: str, serial: str,
                          signature: bytes) -> OutOfBandRequest:
    """The person said no in the app: `signature` is the DER ECDSA signature over
    `denial_challenge(request)` with the key of the e-ID whose serial is `serial`. The pending
    request becomes denied and the browser shows so. Any usable e-ID may deny a login request
    (it names no person until approved); only the confirming person's may deny a step-up.
    Audits `mobile_eid_login.denied` (the person as subject), or `mobile_eid_login.refused`.
    Raises NotFound, Conflict (`auth.not_pending`), Forbidden (`auth.eid`, `auth.other_person`,
    `auth.signature`), `apps.core.db.Busy`."""
    policies.require_answer_mobile_eid_login(actor)
    return _answer(actor, reference, serial, signature, None)


@dataclass(frozen=True)
class Completion:
    """What the browser's check found: `status` (a `Status` value; "expired" for any request past
    its time, "unknown" when this browser holds no such request) and, once consumed, the
    account to log in and the e-ID's serial."""

    status: str
    user: User | None = None
    eid_serial: str = ""


def _complete(actor: Actor, reference: str, binding: str, purpose: str,
              step_up_user: User | None) -> Completion:
    with transaction.atomic():
        peek = _by_reference(reference).first()
        if peek is None or not hmac.compare_digest(peek.binding_hash, _hash(binding or "")) or (
                peek.purpose != purpose) or (step_up_user is not None
                                             and peek.step_up_user_id != step_up_user.pk):
            return Completion("unknown")
        if peek.eid is not None:
            Person.objects.select_for_update().filter(pk=peek.eid.person_id).first()
            MobileEID.objects.select_for_update().filter(pk=peek.eid.pk).first()
        req = OutOfBandRequest.objects.select_for_update(of=("self",)).select_related(
            "eid", "user").get(pk=peek.pk)
        now = timezone.now()
        if req.status == Status.CONSUMED:
            return Completion("consumed")
        if not _is_live(req, now):
            return Completion(Status.EXPIRED)
        if req.status != Status.APPROVED:
            return Completion(req.status)
        eid, user = req.eid, req.user
        assert eid is not None and user is not None
        if _eid_problem(eid, now) is None or not user.is_active:
            # Entitlement is checked when used (NIST SP 800-63B 6.2: a credential whose holder
            # has left is invalidated): revoked, past its validity, or its owner gone since the
            # approval.
            req.status, req.eid, req.user, req.approved_at = Status.CANCELLED, None, None, None
            req.save(update_fields=["status", "eid", "user", "approved_at", "updated_at"])
            record(actor=actor, action=audit.MOBILE_EID_LOGIN_REFUSED.code, target=req,
                   subject=eid.person, changes={"status": [Status.APPROVED, Status.CANCELLED],
                                                "serial": [eid.serial, None]},
                   reason=audit.OOB_REFUSED["auth.not_entitled"].code,
                   outcome=AuditEvent.Outcome.FAILURE)
            return Completion(Status.CANCELLED)
        req.status = Status.CONSUMED
        req.save(update_fields=["status", "updated_at"])
        eid.last_used_at = now
        eid.save(update_fields=["last_used_at", "updated_at"])
        record(actor=actor, action=audit.MOBILE_EID_LOGIN_COMPLETED.code, target=req,
               subject=eid.person, changes={"status": [Status.APPROVED, Status.CONSUMED],
                                            "serial": [eid.serial, eid.serial],
                                            "purpose": [purpose, purpose]})
    return Completion(Status.CONSUMED, user=user, eid_serial=eid.serial)


@service
def mobile_eid_login_complete(*, actor: Actor, reference: str, binding: str) -> Completion:
    """The starting browser checks its request (`binding` from its session). An approved, live
    request is consumed once: the e-ID's `last_used_at` is set and `mobile_eid_login.completed`
    audited (acting as `actor`, the not-yet-logged-in browser), and the Completion names the
    account. Other states are only reported. The e-ID and its owner are checked again at
    completion (`_eid_problem`: revoked, expired, or the owner no longer a working staff member,
    or the account deactivated, in between: "cancelled", audited as `mobile_eid_login.refused`
    with reason `auth.not_entitled`). Locks the person, the e-ID, then the request."""
    policies.require_start_mobile_eid_login(actor)
    return _complete(actor, reference, binding, OutOfBandRequest.Purpose.LOGIN, None)


@service
def mobile_eid_step_up_complete(*, actor: Actor, reference: str, binding: str) -> Completion:
    """The browser of the logged-in `actor` checks its step-up request, as
    `mobile_eid_login_complete`: a login request, or a step-up started by another account, is
    "unknown". Once consumed, the caller mints the step-up proof for `Completion.user`
    (= `actor`). Audits `mobile_eid_login.completed` (purpose "step_up")."""
    policies.require_start_mobile_eid_step_up(actor)
    assert isinstance(actor, User)
    return _complete(actor, reference, binding, OutOfBandRequest.Purpose.STEP_UP, actor)
