"""Redeeming an activation code: the mobile app proves possession of a code and a key, and gets a
certificate (a new mobile e-ID)."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import NoReturn

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.audit.models import AuditEvent
from apps.audit.registry import Reason
from apps.audit.services import atomic_record_failure, record
from apps.core.calls import service
from apps.core.db import Busy, atomic_with_retry
from apps.core.errors import PortalError, ValidationFailed
from apps.identities.actors import Actor
from apps.identities.models import Person
from apps.identities.selectors import person_get_by_number
from apps.issuance import audit, authority, codes, errors, policies, rules, selectors
from apps.issuance.ca import CAError, fingerprint_sha256, serial_hex
from apps.issuance.events import eid_event_publish
from apps.issuance.models import ActivationCode, MobileEID

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Activation:
    """A redeemed code: the new `eid` and the PEM texts `certificate` and `chain` (leaf + CA)."""

    eid: MobileEID
    certificate: str
    chain: str


def _unknown_target(code_id: uuid.UUID | None) -> ActivationCode:
    """An unsaved stand-in target for audit rows about a code that does not exist."""
    return ActivationCode(id=code_id or uuid.UUID(int=0))


def _code_invalid() -> errors.CodeInvalid:
    """The one answer to a wrong code, an unknown code or person, and (typed form) a dead code."""
    return errors.CodeInvalid(
        _("The activation code is not valid. After %(max)d failed tries a code stops working; then "
          "ask for a new code.") % {"max": rules.MAX_FAILED_ATTEMPTS}, field="code")


def _refuse_unlocated(actor: Actor, error: PortalError, reason: Reason, device_name: str,
                      target: ActivationCode | None = None) -> NoReturn:
    """Audit a refusal that reached no code (no subject: nobody's code was tried) and raise it."""
    atomic_record_failure(actor=actor, action=audit.ACTIVATION_CODE_REDEEM_FAILED.code,
                          target=target or _unknown_target(None),
                          changes={"error": [None, error.code], "device_name": [None, device_name]},
                          reason=reason.code)
    raise error


#: What the person reads when the CA refuses the CSR, by CAError code (apps.issuance.ca); the CA's
#: own English message stays in the server log.
CSR_MESSAGES = {
    "csr.format": _("The certificate request (CSR) is not a valid PEM certificate request."),
    "csr.key_type": _("The certificate request's key must be an EC P-256 (secp256r1) key."),
    "csr.signature": _("The certificate request must be signed with ECDSA and SHA-256 or better, "
                       "and its signature must verify."),
}


def _csr_refused(exc: CAError) -> ValidationFailed:
    """The `csr_invalid` answer for a CSR the CA refused, in the reader's language."""
    logger.info("certificate request refused: %s", exc)
    message = CSR_MESSAGES.get(exc.code, _("The certificate request (CSR) is not acceptable."))
    return ValidationFailed(message, code="csr_invalid", field="csr")


@service
def activation_code_redeem_refused(*, actor: Actor, error: str, reason: str) -> None:
    """Audit a redemption request the API refused before calling `activation_code_redeem`.

    For requests that are not JSON or whose fields have the wrong shape (missing, too long, not
    text): `activation_code.redeem_failed` with outcome failure, no subject, the stand-in target
    (code id 0), `error` the problem code answered (e.g. `invalid`) and `reason` naming the fields.
    Committed at once in its own transaction; the caller then raises its own error.
    """
    policies.require_redeem_code(actor)
    atomic_record_failure(actor=actor, action=audit.ACTIVATION_CODE_REDEEM_FAILED.code,
                          target=_unknown_target(None), changes={"error": [None, error]},
                          reason=reason[:500])


@service
def activation_code_redeem(
    *,
    actor: Actor,
    csr_pem: str,
    device_name: str = "",
    qr_payload: str | None = None,
    person_number: str | None = None,
    short_code: str | None = None,
) -> Activation:
    """Redeem an activation code: issue a certificate for the CSR's key and record the e-ID.

    `actor` is the device (`apps.core.actors.MOBILE_APP`: no login, the code is the credential);
    the client-chosen `device_name` goes into the rows' `changes` only. A refusal names the person
    as `subject` (their log extract) only when a code of theirs was tried; an unknown code or
    person number, or a person without any code, is audited with no subject.

    Give either `qr_payload` (`EIDACT1.<id>.<secret>`) or `person_number`
    (personnummer/samordningsnummer) with `short_code` (`XXXX-XXXX`). `csr_pem` is a PKCS#10 PEM
    with an EC P-256 key; `device_name` at most 64 printable characters, empty when the app gave
    none (pages then show a translated "Mobile e-ID", `MobileEID.device_label`). The
    certificate: subject serialNumber = the person's 12-digit number, CN = the person's name,
    validity `settings.ISSUANCE_CERT_VALIDITY_SECONDS`. The e-ID's `eid.activated` event is published to the
    outbox in the same transaction, so the person's e-mail is sent once it commits.

    One transaction with the person and then the code locked (the lock order of
    apps.issuance.rules): two concurrent redemptions of one code serialise, and the second sees
    `code_used`; issuing a new code for the same person at the same moment waits for it. Everything
    issuance checked is checked again here, under the lock: the person is still entitled (staff,
    active account; otherwise the code is ended and `not_entitled` answered) and below the e-ID
    limit. A failed try increments the code's `failed_attempts`; every refusal is audited as
    `activation_code.redeem_failed` with a registered reason code (`apps.issuance.audit`) and
    committed before the error is raised; a refused CSR is answered in the reader's language
    (`CSR_MESSAGES`), never with the CA's own text. A transaction that
    loses a lock race is run again (apps.core.db.atomic_with_retry), then refused with `busy` (audited
    too).

    Raises ValidationFailed (`invalid`: bad request shape), and the errors of
    `apps.issuance.errors`: CodeInvalid, CodeGone (`code_expired`, `code_ended`), CodeUsed,
    CodeDead (QR form only: the typed form answers a dead code with CodeInvalid, audited as
    `code_dead`, so that a person number does not reveal whether its owner has a code),
    NotEntitled, TooManyEIDs, `csr_invalid`, CAUnavailable; `apps.core.db.Busy`.
    """
    policies.require_redeem_code(actor)
    device_name = (device_name or "").strip()
    if len(device_name) > rules.MAX_DEVICE_NAME or not device_name.isprintable():
        _refuse_unlocated(actor, ValidationFailed(
            _("The device name must be at most 64 printable characters."),
            code="invalid", field="device_name"),
            audit.REDEEM_DEVICE_NAME, device_name[:rules.MAX_DEVICE_NAME])
    if not isinstance(csr_pem, str) or not csr_pem.strip():
        _refuse_unlocated(actor, ValidationFailed(_("A certificate request (CSR) is needed."),
                                                  code="csr_invalid", field="csr"),
                          audit.REDEEM_NO_CSR, device_name)

    short: str | None = None
    secret: str | None = None
    if qr_payload is not None and person_number is None and short_code is None:
        parsed = codes.parse_qr_payload(qr_payload)
        if parsed is None:
            _refuse_unlocated(actor, _code_invalid(), audit.REDEEM_QR_MALFORMED, device_name)
        code_id, secret = parsed
        owner_id = ActivationCode.objects.filter(pk=code_id).values_list("person_id", flat=True).first()
        if owner_id is None:
            _refuse_unlocated(actor, _code_invalid(), audit.REDEEM_NO_SUCH_CODE, device_name,
                              _unknown_target(code_id))
    elif qr_payload is None and person_number is not None and short_code is not None:
        person = person_get_by_number(person_number)
        short = codes.normalise_short_code(short_code)
        if person is None:
            _refuse_unlocated(actor, _code_invalid(), audit.REDEEM_NO_SUCH_PERSON, device_name)
        latest = ActivationCode.objects.filter(person=person).order_by("-created_at").first()
        if latest is None:
            _refuse_unlocated(actor, _code_invalid(), audit.REDEEM_NO_CODE,
                              device_name)
        code_id, owner_id = latest.pk, person.pk
    else:
        _refuse_unlocated(actor, ValidationFailed(
            _("Give either the QR code's text, or the person number together with the code."),
            code="invalid", field="code",
        ), audit.REDEEM_NEITHER_OR_BOTH, device_name)

    def attempt() -> Activation | PortalError:
        now = timezone.now()
        # Lock order: person, then code (apps.issuance.rules).
        owner = Person.objects.select_for_update().get(pk=owner_id)
        code = ActivationCode.objects.select_for_update().get(pk=code_id)
        error, target = _check_code(code, owner, short=short, secret=secret, now=now)
        if error is None:
            error = _check_entitlement(actor, code, owner, now)
        if error is None:
            try:
                return _activate(actor, code, owner, csr_pem=csr_pem, device_name=device_name,
                                 now=now)
            except CAError as exc:
                if exc.code.startswith("csr."):
                    error = _csr_refused(exc)
                else:
                    logger.error("issuing CA unusable: %s", exc)
                    error = errors.CAUnavailable(
                        _("The issuing CA is not available. Try again later."))
        record(actor=actor, action=audit.ACTIVATION_CODE_REDEEM_FAILED.code, target=target,
               subject=owner, outcome=AuditEvent.Outcome.FAILURE,
               changes={"error": [None, error.code], "failed_attempts": [None, code.failures],
                        "device_name": [None, device_name]},
               reason=_refusal_reason(error, target))
        return error

    try:
        outcome = atomic_with_retry(attempt)
    except Busy as busy:
        # Lost the lock race every time: nothing was written; the refusal is still audited.
        atomic_record_failure(actor=actor, action=audit.ACTIVATION_CODE_REDEEM_FAILED.code,
                              target=_unknown_target(code_id),
                              subject=Person.objects.filter(pk=owner_id).first(),
                              changes={"error": [None, busy.code],
                                       "device_name": [None, device_name]},
                              reason=audit.REDEEM_REFUSED[busy.code].code)
        raise
    if isinstance(outcome, Activation):
        return outcome
    # The failure (counter and audit row) is committed; now refuse the request. The typed form
    # answers a dead code like a wrong one: a person number must not reveal that its owner has a
    # code (an unknown number or a person without a code answers code_invalid too).
    if short_code is not None and isinstance(outcome, errors.CodeDead):
        raise _code_invalid()
    raise outcome


_CANCELLED = _("The activation code was cancelled. Ask for a new code.")
#: The refusal of an ended code, by what ended it (`ActivationCode.end_cause`): the reason the
#: person reads must be the one that ended it.
_ENDED_MESSAGES = {
    audit.CODE_REPLACED.code: _("The activation code was replaced by a newer code."),
    audit.CODE_ENDED_CAUSES["entitlement_ended"].code: _(
        "The activation code was cancelled when the person's staff entitlement ended (no active "
        "commission or role left)."),
    audit.CODE_ENDED_CAUSES["account_deactivated"].code: _(
        "The activation code was cancelled when the person's login account was deactivated."),
    audit.CODE_ENDED_CAUSES["leaver"].code: _(
        "The activation code was cancelled when the person was made a leaver."),
}


def _refusal_reason(error: PortalError, target: ActivationCode) -> str:
    """The audit reason of a refused redemption: by the error's code, and for an ended code by
    what ended it (`audit.REDEEM_ENDED`)."""
    ended = audit.REDEEM_ENDED.get(target.end_cause.removeprefix("activation_code."))
    if error.code == "code_ended" and ended is not None:
        return ended.code
    return audit.REDEEM_REFUSED[error.code].code


def _check_code(code: ActivationCode, owner: Person, *, short: str | None, secret: str | None,
                now: dt.datetime) -> tuple[PortalError | None, ActivationCode]:
    """The refusal for this try of `code` (None: the code may be redeemed) and the audit target.
    A wrong secret counts as a failed try on the code (saved here, under its lock) only while the
    code is open (not used, ended or expired): a guess at a code that can no longer bind anything
    is answered the same but not counted, so someone who only knows a person's number cannot use up
    the failures that carry over to the person's next code."""
    if short is not None:
        matches = codes.hashes_match(code.short_hash, codes.hash_short_code(owner.pk, short))
    else:
        matches = secret is not None and codes.hashes_match(
            code.secret_hash, codes.hash_qr_secret(secret))
    if code.failures >= rules.MAX_FAILED_ATTEMPTS:
        return errors.CodeDead(
            _("The activation code has had too many failed tries. Ask for a new code."),
            field="code"), code
    if not matches and (replaced := _replaced_code_typed(code, short, now)) is not None:
        # The person typed the code this one replaced a moment ago: no guess, say so (as the QR
        # form of that code does).
        return errors.CodeGone(_("The activation code was replaced by a newer code."),
                               code="code_ended", field="code"), replaced
    if not matches:
        if code.used_at is None and code.ended_at is None and now < code.expires_at:
            code.failed_attempts += 1
            code.last_failed_at = now
            code.save(update_fields=["failed_attempts", "last_failed_at", "updated_at"])
        return _code_invalid(), code
    if code.used_at is not None:
        return errors.CodeUsed(_("The activation code has already been used."), field="code"), code
    if code.ended_at is not None:
        return errors.CodeGone(_ENDED_MESSAGES.get(code.end_cause, _CANCELLED),
                               code="code_ended", field="code"), code
    if now >= code.expires_at:
        return errors.CodeGone(_("The activation code has expired. Ask for a new code."),
                               code="code_expired", field="code"), code
    return None, code


def _check_entitlement(actor: Actor, code: ActivationCode, owner: Person,
                       now: dt.datetime) -> PortalError | None:
    """Everything issuance checked, again at redemption: the owner is still entitled (else the
    code is ended, so it cannot be tried again) and below the e-ID limit."""
    if not rules.is_entitled(owner):
        code.ended_at, code.end_cause = now, audit.CODE_ENDED_CAUSES["entitlement_ended"].code
        code.save(update_fields=["ended_at", "end_cause", "updated_at"])
        return errors.NotEntitled(
            _("The person is no longer entitled to a mobile e-ID (no active commission or "
              "account). The code has been cancelled."))
    if selectors.eid_count_active(owner, now) >= rules.MAX_ACTIVE_EIDS:
        return errors.TooManyEIDs(
            _("The person already has %(max)d active mobile e-IDs. Revoke one first.")
            % {"max": rules.MAX_ACTIVE_EIDS})
    return None


def _replaced_code_typed(code: ActivationCode, short: str | None,
                         now: dt.datetime) -> ActivationCode | None:
    """The person's most recent replaced code, if `short` is its typed form and it is still within
    its validity (so typing it is a mix-up, not a guess); else None. Only for the typed form."""
    if short is None:
        return None
    replaced = (
        ActivationCode.objects.filter(person_id=code.person_id, ended_at__isnull=False,
                                      used_at__isnull=True)
        .exclude(pk=code.pk)
        .order_by("-created_at")
        .first()
    )
    if replaced is None or now >= replaced.expires_at:
        return None
    if not codes.hashes_match(replaced.short_hash, codes.hash_short_code(code.person_id, short)):
        return None
    return replaced


def _activate(actor: Actor, code: ActivationCode, person: Person, *, csr_pem: str,
              device_name: str, now: dt.datetime) -> Activation:
    """Issue the certificate and record the e-ID (inside redeem's transaction, locks held)."""
    number = rules.person_identifier(person)
    try:
        ca = authority.ca_load()
    except CAError as exc:
        raise CAError("ca.missing", f"{exc.message} (run `manage.py issuance_ca_init`)") from exc
    cert = ca.issue(
        csr_pem.encode("ascii", errors="replace"),
        subject_serial_number=number,
        common_name=str(person)[:64],
        validity_seconds=settings.ISSUANCE_CERT_VALIDITY_SECONDS,
        crl_url=authority.crl_url(),
        ocsp_url=authority.ocsp_url(),
        now=now,
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    eid = MobileEID.objects.create(
        person=person,
        activation_code=code,
        serial=serial_hex(cert.serial_number),
        fingerprint_sha256=fingerprint_sha256(cert),
        certificate_pem=cert_pem,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        device_name=device_name,
    )
    code.used_at = now
    code.save(update_fields=["used_at", "updated_at"])
    record(
        actor=actor, action=audit.EID_ACTIVATED.code, target=eid, subject=person,
        changes={"serial": [None, eid.serial], "fingerprint_sha256": [None, eid.fingerprint_sha256],
                 "not_after": [None, eid.not_after.isoformat()],
                 "device_name": [None, device_name], "activation_code": [None, str(code.pk)]},
    )
    eid_event_publish(eid, "activated")
    return Activation(eid=eid, certificate=cert_pem, chain=ca.chain_pem(cert))
