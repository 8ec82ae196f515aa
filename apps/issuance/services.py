"""Writes of activation codes and mobile e-IDs; each audited in the same transaction.

Rule sources: issue 2 "Journey 2" and domain.md "e-ID issuance" (SITHS-style activation: a code
bound to the person, single use, valid 10 minutes here (SITHS: at most 15), at most 3 active mobile
e-IDs, at most 5 failed tries, a new code does not reset the failure count; the person is told of
every binding and revocation through an independent channel).

Failure carry-over (where the issue was silent on the mechanism): a new code starts with
`carried_failures` = the sum of the failed tries made against the person's codes in the last
`FAILURE_WINDOW_SECONDS` (24 hours), capped at 5. While that sum is 5, no new code can be issued
(neither by self-service nor by an issuer) until the oldest failures leave the window.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import NoReturn

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Sum
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from apps.audit.models import AuditEvent
from apps.audit.services import atomic_record_failure, record
from apps.core.actors import SystemActor
from apps.core.errors import Conflict, Forbidden, NotFound, PortalError, ValidationFailed
from apps.identities.actors import Actor, actor_id
from apps.identities.identifiers import OID_PERSONNUMMER, OID_SAMORDNINGSNUMMER
from apps.identities.models import Person, User
from apps.identities.selectors import person_get_by_number
from apps.issuance import audit, authority, codes, errors, policies, revocation, selectors, tasks
from apps.issuance.ca import CAError, fingerprint_sha256, serial_hex
from apps.issuance.models import ActivationCode, IdentityDocumentType, MobileEID

logger = logging.getLogger(__name__)

#: An activation code works for 10 minutes (issue 2; SITHS allows at most 15).
CODE_VALIDITY_SECONDS = 10 * 60
#: After this many failed tries a code is dead (issue 2).
MAX_FAILED_ATTEMPTS = 5
#: Failed tries on a person's codes within this window carry over to their next code.
FAILURE_WINDOW_SECONDS = 24 * 3600
#: At most this many active mobile e-IDs per person (domain.md, SITHS practice).
MAX_ACTIVE_EIDS = 3
#: Longest revocation reason, in characters.
MAX_REASON_LENGTH = 500
MAX_DEVICE_NAME = 64



def _local(when: dt.datetime) -> str:
    return date_format(timezone.localtime(when), "DATETIME_FORMAT")


# --- issuing a code ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdentityDocument:
    """The identity document an issuer checked: `type` (IdentityDocumentType), the document
    number's `last_four` digits and its `expires_on` date (must not be in the past)."""

    type: str
    last_four: str
    expires_on: dt.date


@dataclass(frozen=True)
class IssuedCode:
    """A new code and its plaintext secrets, returned ONCE (only hashes are stored).

    `qr_payload` is the QR code's text, `short_code` the typed form `XXXX-XXXX`, `person_number`
    the person's identifier `YYYYMMDD-NNNN` that must accompany the short form.
    """

    code: ActivationCode
    qr_payload: str
    short_code: str
    person_number: str


def _person_identifier(person: Person) -> str:
    """The 12-digit personnummer or samordningsnummer (no separator), or ""."""
    for number in person.identity_numbers.all():
        if number.root in (OID_PERSONNUMMER, OID_SAMORDNINGSNUMMER):
            return number.extension
    return ""


def identity_document_check(document: IdentityDocument | None) -> IdentityDocument:
    """The checked document, normalised. Raises ValidationFailed (`document.*`, with the field)
    for a missing document, an unknown type, last four that are not four digits, or an expired
    document (expiry before today, Swedish time)."""
    if document is None:
        raise ValidationFailed(
            _("Record the identity document you checked."), code="document.required",
            field="document_type",
        )
    if document.type not in IdentityDocumentType.values:
        raise ValidationFailed(_("Choose the type of identity document."), code="document.type",
                               field="document_type")
    last_four = document.last_four.strip()
    if len(last_four) != 4 or not last_four.isascii() or not last_four.isdigit():
        raise ValidationFailed(_("Enter the last four digits of the document number."),
                               code="document.last_four", field="document_last_four")
    if document.expires_on < timezone.localdate():
        raise ValidationFailed(
            _("The identity document has expired. Ask for a valid document."),
            code="document.expired", field="document_expires_on",
        )
    return IdentityDocument(type=document.type, last_four=last_four, expires_on=document.expires_on)


def _recent_failures(person: Person, now: dt.datetime) -> int:
    """Failed tries on the person's codes whose last failure lies within the failure window."""
    since = now - dt.timedelta(seconds=FAILURE_WINDOW_SECONDS)
    total = ActivationCode.objects.filter(person=person, last_failed_at__gte=since).aggregate(
        total=Sum("failed_attempts")
    )["total"]
    return int(total or 0)


def _failures_lift_at(person: Person, now: dt.datetime) -> dt.datetime:
    """When the person's recent failures drop below the limit (for the refusal message)."""
    since = now - dt.timedelta(seconds=FAILURE_WINDOW_SECONDS)
    running = 0
    for code in ActivationCode.objects.filter(
        person=person, last_failed_at__gte=since
    ).order_by("-last_failed_at"):
        running += code.failed_attempts
        if running >= MAX_FAILED_ATTEMPTS and code.last_failed_at is not None:
            return code.last_failed_at + dt.timedelta(seconds=FAILURE_WINDOW_SECONDS)
    return now


def activation_code_issue(
    *,
    actor: Actor,
    person: Person,
    stepped_up: bool = False,
    identity_document: IdentityDocument | None = None,
) -> IssuedCode:
    """Issue a single-use activation code bound to `person`; return it with its secrets once.

    Two ways (domain.md, "Issuance modes"):
    - self-service with inherited identification: `actor.person == person`, the person is staff and
      `stepped_up` is True (the view re-checked the second factor); no identity document.
    - administrative process: an issuer in scope of the person (`Role.ISSUER`) after checking an
      `identity_document` and re-entering their own second factor (`stepped_up`); never for the
      issuer themself.
    The system actor (demo data, commands) may issue without either.

    The code expires `CODE_VALIDITY_SECONDS` (600 s) after issue; earlier open codes of the person
    are ended (`activation_code.ended`); failures of the last 24 hours carry over (module docstring).

    Raises Forbidden (`step_up_required`, `not_staff`), NotFound (outside the issuer's scope),
    ValidationFailed (`document.*`, `too_many_eids`, `activation_code.locked`).
    """
    now = timezone.now()
    document: IdentityDocument | None = None
    if isinstance(actor, User) and actor.person_id == person.pk:
        if identity_document is not None:
            raise Forbidden(_("Issuers cannot issue codes for themselves; use My e-IDs."),
                            code="issue.self_as_issuer")
        if not stepped_up:
            raise Forbidden(_("Confirm it is you with your authenticator app first."),
                            code="step_up_required")
        if not policies.is_staff_person(person):
            raise Forbidden(_("Only staff members can get a mobile e-ID here."), code="not_staff")
    elif isinstance(actor, SystemActor):
        document = identity_document_check(identity_document) if identity_document else None
    else:
        policies.require_issue_for_other(actor, person)
        if not stepped_up:
            raise Forbidden(_("Confirm it is you with your authenticator app first."),
                            code="step_up_required")
        document = identity_document_check(identity_document)

    secrets_ = codes.new_secrets()
    code_id = uuid.uuid4()
    with transaction.atomic():
        # Serialise code issuing and redemption for this person (PostgreSQL row lock).
        Person.objects.select_for_update().filter(pk=person.pk).first()
        if selectors.eid_count_active(person, now) >= MAX_ACTIVE_EIDS:
            raise ValidationFailed(
                _("You already have %(max)d active mobile e-IDs, the most allowed. Revoke one "
                  "before you get a new one.") % {"max": MAX_ACTIVE_EIDS},
                code="too_many_eids",
            )
        carried = min(_recent_failures(person, now), MAX_FAILED_ATTEMPTS)
        if carried >= MAX_FAILED_ATTEMPTS:
            raise ValidationFailed(
                _("There were %(max)d failed activation attempts in the last 24 hours, so no new "
                  "code can be issued now. Try again after %(time)s.")
                % {"max": MAX_FAILED_ATTEMPTS, "time": _local(_failures_lift_at(person, now))},
                code="activation_code.locked",
            )
        open_codes = list(
            ActivationCode.objects.select_for_update().filter(
                person=person, used_at__isnull=True, ended_at__isnull=True
            )
        )
        for old in open_codes:
            old.ended_at = now
            old.save(update_fields=["ended_at", "updated_at"])
            record(action=audit.ACTIVATION_CODE_ENDED.code, target=old, subject=person,
                   changes={"ended_at": [None, now.isoformat()]},
                   reason="Replaced by a newer activation code.")
        code = ActivationCode.objects.create(
            id=code_id,
            person=person,
            created_by_id=actor_id(actor),
            created_by_label=str(actor)[:200],
            issued_for_other=document is not None,
            document_type=document.type if document else "",
            document_last_four=document.last_four if document else "",
            document_expires_on=document.expires_on if document else None,
            secret_hash=codes.hash_qr_secret(secrets_.qr_secret),
            short_hash=codes.hash_short_code(person.pk, secrets_.short_code),
            expires_at=now + dt.timedelta(seconds=CODE_VALIDITY_SECONDS),
            carried_failures=carried,
        )
        changes: dict[str, list[object]] = {
            "expires_at": [None, code.expires_at.isoformat()],
            "issued_for_other": [None, code.issued_for_other],
            "carried_failures": [None, carried],
        }
        if document:
            changes.update({
                "document_type": [None, document.type],
                "document_last_four": [None, document.last_four],
                "document_expires_on": [None, document.expires_on.isoformat()],
            })
        record(action=audit.ACTIVATION_CODE_ISSUED.code, target=code, subject=person,
               changes=changes)
    person_number = _person_identifier(person)
    return IssuedCode(
        code=code,
        qr_payload=secrets_.qr_payload(code_id),
        short_code=secrets_.short_code_display,
        person_number=f"{person_number[:8]}-{person_number[8:]}" if person_number else "",
    )


# --- redeeming a code ----------------------------------------------------------------------------


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
          "ask for a new code.") % {"max": MAX_FAILED_ATTEMPTS}, field="code")


def _refuse_unlocated(error: PortalError, reason: str, device_name: str,
                     target: ActivationCode | None = None) -> NoReturn:
    """Audit a refusal that reached no code (no subject: nobody's code was tried) and raise it."""
    atomic_record_failure(action=audit.ACTIVATION_CODE_REDEEM_FAILED.code,
                          target=target or _unknown_target(None),
                          changes={"error": [None, error.code], "device_name": [None, device_name]},
                          reason=reason)
    raise error


def _fail_unlocated(reason: str, target: ActivationCode, device_name: str) -> NoReturn:
    _refuse_unlocated(_code_invalid(),
                      reason, device_name, target)


def activation_code_redeem_refused(*, error: str, reason: str) -> None:
    """Audit a redemption request the API refused before calling `activation_code_redeem`.

    For requests that are not JSON or whose fields have the wrong shape (missing, too long, not
    text): `activation_code.redeem_failed` with outcome failure, no subject, the stand-in target
    (code id 0), `error` the problem code answered (e.g. `invalid`) and `reason` naming the fields.
    Committed at once in its own transaction; the caller then raises its own error.
    """
    atomic_record_failure(action=audit.ACTIVATION_CODE_REDEEM_FAILED.code,
                          target=_unknown_target(None), changes={"error": [None, error]},
                          reason=reason[:500])


def activation_code_redeem(
    *,
    csr_pem: str,
    device_name: str,
    qr_payload: str | None = None,
    person_number: str | None = None,
    short_code: str | None = None,
) -> Activation:
    """Redeem an activation code: issue a certificate for the CSR's key and record the e-ID.

    The caller is the device (no login): the audit actor context is the API's fixed "mobile app"
    label with the IP; the client-chosen `device_name` goes into the rows' `changes` only. A refusal
    names the person as `subject` (their log extract) only when a code of theirs was tried; an
    unknown code or person number, or a person without any code, is audited with no subject.

    Give either `qr_payload` (`EIDACT1.<id>.<secret>`) or `person_number`
    (personnummer/samordningsnummer) with `short_code` (`XXXX-XXXX`). `csr_pem` is a PKCS#10 PEM
    with an EC P-256 key; `device_name` 1-64 printable characters. The certificate: subject
    serialNumber = the person's 12-digit number, CN = the person's name, validity
    `settings.ISSUANCE_CERT_VALIDITY_SECONDS`.

    One transaction with the code row locked (`select_for_update`): two concurrent redemptions of
    one code serialise, and the second sees `code_used`. A failed try (wrong secret) increments the
    code's `failed_attempts` and is audited as `activation_code.redeem_failed`; every refusal is
    audited and committed before the error is raised.

    Raises ValidationFailed (`invalid`: bad request shape), and the errors of
    `apps.issuance.errors`: CodeInvalid, CodeGone (`code_expired`, `code_ended`), CodeUsed,
    CodeDead (QR form only: the typed form answers a dead code with CodeInvalid, audited as
    `code_dead`, so that a person number does not reveal whether its owner has a code),
    TooManyEIDs, `csr_invalid`, CAUnavailable.
    """
    device_name = (device_name or "").strip()
    if not device_name or len(device_name) > MAX_DEVICE_NAME or not device_name.isprintable():
        _refuse_unlocated(ValidationFailed(_("Give the device a name of 1-64 characters."),
                                           code="invalid", field="device_name"),
                          "Device name missing, too long or not printable.",
                          device_name[:MAX_DEVICE_NAME])
    if not isinstance(csr_pem, str) or not csr_pem.strip():
        _refuse_unlocated(ValidationFailed(_("A certificate request (CSR) is needed."),
                                           code="csr_invalid", field="csr"),
                          "No certificate request.", device_name)

    person: Person | None = None
    short: str | None = None
    secret: str | None = None
    if qr_payload is not None and person_number is None and short_code is None:
        parsed = codes.parse_qr_payload(qr_payload)
        if parsed is None:
            _fail_unlocated("QR payload malformed.", _unknown_target(None), device_name)
        code_id, secret = parsed
        if not ActivationCode.objects.filter(pk=code_id).exists():
            _fail_unlocated("No such activation code.", _unknown_target(code_id), device_name)
    elif qr_payload is None and person_number is not None and short_code is not None:
        person = person_get_by_number(person_number)
        short = codes.normalise_short_code(short_code)
        if person is None:
            _fail_unlocated("No person with this identifier.", _unknown_target(None), device_name)
        latest = ActivationCode.objects.filter(person=person).order_by("-created_at").first()
        if latest is None:
            _fail_unlocated("The person has no activation code.", _unknown_target(None), device_name)
        code_id = latest.pk
    else:
        _refuse_unlocated(ValidationFailed(
            _("Give either the QR code's text, or the person number together with the code."),
            code="invalid", field="code",
        ), "Neither or both ways of giving the code.", device_name)

    now = timezone.now()
    error: PortalError | None = None
    with transaction.atomic():
        code = ActivationCode.objects.select_for_update().select_related("person").get(pk=code_id)
        owner = code.person
        target = code
        if short is not None:
            matches = codes.hashes_match(code.short_hash, codes.hash_short_code(owner.pk, short))
        else:
            matches = secret is not None and codes.hashes_match(
                code.secret_hash, codes.hash_qr_secret(secret)
            )
        if code.failures >= MAX_FAILED_ATTEMPTS:
            error = errors.CodeDead(
                _("The activation code has had too many failed tries. Ask for a new code."),
                field="code")
        elif not matches and (replaced := _replaced_code_typed(code, short, now)) is not None:
            # The person typed the code this one replaced a moment ago: no guess, say so (as the
            # QR form of that code does).
            target = replaced
            error = errors.CodeGone(_("The activation code was replaced by a newer code."),
                                    code="code_ended", field="code")
        elif not matches:
            code.failed_attempts += 1
            code.last_failed_at = now
            code.save(update_fields=["failed_attempts", "last_failed_at", "updated_at"])
            error = _code_invalid()
        elif code.used_at is not None:
            error = errors.CodeUsed(_("The activation code has already been used."), field="code")
        elif code.ended_at is not None:
            error = errors.CodeGone(_("The activation code was replaced by a newer code."),
                                    code="code_ended", field="code")
        elif now >= code.expires_at:
            error = errors.CodeGone(_("The activation code has expired. Ask for a new code."),
                                    code="code_expired", field="code")
        else:
            Person.objects.select_for_update().filter(pk=owner.pk).first()
            if selectors.eid_count_active(owner, now) >= MAX_ACTIVE_EIDS:
                error = errors.TooManyEIDs(
                    _("The person already has %(max)d active mobile e-IDs. Revoke one first.")
                    % {"max": MAX_ACTIVE_EIDS})
            else:
                try:
                    return _activate(code, csr_pem=csr_pem, device_name=device_name, now=now)
                except CAError as exc:
                    if exc.code.startswith("csr."):
                        error = ValidationFailed(
                            _("The certificate request is not acceptable: %(detail)s")
                            % {"detail": exc.message}, code="csr_invalid", field="csr")
                    else:
                        logger.error("issuing CA unusable: %s", exc)
                        error = errors.CAUnavailable(
                            _("The issuing CA is not available. Try again later."))
        assert error is not None
        record(action=audit.ACTIVATION_CODE_REDEEM_FAILED.code, target=target, subject=owner,
               outcome=AuditEvent.Outcome.FAILURE,
               changes={"error": [None, error.code], "failed_attempts": [None, code.failures],
                        "device_name": [None, device_name]},
               reason=str(error.message))
    # The failure (counter and audit row) is committed; now refuse the request. The typed form
    # answers a dead code like a wrong one: a person number must not reveal that its owner has a
    # code (an unknown number or a person without a code answers code_invalid too).
    if short_code is not None and isinstance(error, errors.CodeDead):
        raise _code_invalid()
    raise error


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


def _activate(code: ActivationCode, *, csr_pem: str, device_name: str,
              now: dt.datetime) -> Activation:
    """Issue the certificate and record the e-ID (inside redeem's transaction, code locked)."""
    person = code.person
    number = _person_identifier(person)
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
        action=audit.EID_ACTIVATED.code, target=eid, subject=person,
        changes={"serial": [None, eid.serial], "fingerprint_sha256": [None, eid.fingerprint_sha256],
                 "not_after": [None, eid.not_after.isoformat()],
                 "device_name": [None, device_name], "activation_code": [None, str(code.pk)]},
    )
    _notify_after_commit(eid, "activated")
    return Activation(eid=eid, certificate=cert_pem, chain=ca.chain_pem(cert))


def _notify_after_commit(eid: MobileEID, event: str) -> None:
    """Enqueue the e-mail task once the transaction commits.

    The e-ID is already bound or revoked then, so a broker that cannot be reached must not turn the
    answer into an error (the device would believe the activation failed while its code is spent):
    the failure is logged for the operator instead.
    """
    eid_id = str(eid.pk)

    def enqueue() -> None:
        try:
            tasks.eid_notify_task.delay(eid_id, event)
        except Exception:  # noqa: BLE001 - any broker error; eager-mode task errors too
            logger.exception("could not enqueue the %s e-mail for e-ID %s", event, eid_id)

    transaction.on_commit(enqueue)


# --- revoking ------------------------------------------------------------------------------------


def eid_revoke(*, actor: Actor, eid: MobileEID, reason: str) -> MobileEID:
    """Revoke a mobile e-ID: the CRL and OCSP say so from the next fetch on.

    Allowed for the owner, an issuer in scope of the owner and the system (policies). `reason` is
    1-500 characters. Records who, when and why (domain.md, "Revocation record"), audits
    `eid.revoked` and, after commit, e-mails the person; the CRL endpoint serves a new CRL
    from the commit on (`apps.issuance.revocation.crl_after_revocation`).

    Raises NotFound (not the actor's to revoke), ValidationFailed (`reason.required`,
    `reason.too_long`), Conflict (`eid.already_revoked`).
    """
    policies.require_revoke_eid(actor, eid)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Give a reason for the revocation."), code="reason.required",
                               field="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationFailed(_("Keep the reason under 500 characters."), code="reason.too_long",
                               field="reason")
    now = timezone.now()
    with transaction.atomic():
        locked = MobileEID.objects.select_for_update().select_related("person").get(pk=eid.pk)
        if locked.status == MobileEID.Status.REVOKED:
            raise Conflict(_("This e-ID is already revoked."), code="eid.already_revoked")
        locked.status = MobileEID.Status.REVOKED
        locked.revoked_at = now
        locked.revoked_by_id = actor_id(actor)
        locked.revoked_by_label = str(actor)[:200]
        locked.revocation_reason = reason
        locked.save(update_fields=["status", "revoked_at", "revoked_by_id", "revoked_by_label",
                                   "revocation_reason", "updated_at"])
        record(action=audit.EID_REVOKED.code, target=locked, subject=locked.person,
               changes={"status": [MobileEID.Status.ACTIVE, MobileEID.Status.REVOKED],
                        "serial": [locked.serial, locked.serial]},
               reason=reason)
        _notify_after_commit(locked, "revoked")
        revocation.crl_after_revocation()
    return locked


# --- telling the person --------------------------------------------------------------------------

NOTIFY_EVENTS = ("activated", "revoked")


def eid_notify(*, actor: Actor, eid_id: str, event: str) -> bool:
    """E-mail the person that a mobile e-ID was bound to them (`activated`) or `revoked`.

    The independent channel of issue 2: the address registered for the person, not the device.
    Returns False (and audits nothing) when the person has no e-mail address. Raises NotFound for
    an unknown e-ID, ValueError for an unknown event, and the e-mail backend's errors
    (`smtplib.SMTPException`, `OSError`) so the Celery task can retry.
    """
    if event not in NOTIFY_EVENTS:
        raise ValueError(f"unknown e-ID event {event!r}")
    eid = MobileEID.objects.select_related("person").filter(pk=eid_id).first()
    if eid is None:
        raise NotFound()
    person = eid.person
    if not person.email:
        logger.warning("no e-mail address for person %s; e-ID %s %s not notified",
                       person.pk, eid.pk, event)
        return False
    with translation.override(settings.LANGUAGE_CODE):
        context = {"person": person, "eid": eid, "portal_url": settings.PORTAL_BASE_URL,
                   "when": timezone.localtime(eid.revoked_at if event == "revoked"
                                              else eid.created_at)}
        subject = render_to_string(f"emails/eid_{event}_subject.txt", context).strip()
        body = render_to_string(f"emails/eid_{event}.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [person.email])
    with transaction.atomic():
        record(action=audit.EID_NOTIFIED.code, target=eid, subject=person,
               changes={"event": [None, event], "channel": [None, "e-mail"]})
    return True
