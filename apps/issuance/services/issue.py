"""Issuing activation codes (aktiveringskod) for mobile e-IDs, and ending them when the person
loses the entitlement."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.audit.services import record
from apps.commissions import services as commission_services
from apps.core.assurance import StepUpProof
from apps.core.calls import service
from apps.core.db import atomic_with_retry
from apps.core.errors import Forbidden, ValidationFailed
from apps.identities.actors import Actor, actor_id
from apps.identities.documents import IdentityDocument, identity_document_check
from apps.identities.models import Person
from apps.issuance import audit, codes, policies, rules, selectors
from apps.issuance.models import ActivationCode


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


def _end_open_codes(actor: Actor, person: Person, now: dt.datetime, reason: str) -> int:
    """End the person's open codes (the caller holds the person's lock); `reason` is a registered
    reason code (`audit.CODE_REPLACED` or one of `audit.CODE_ENDED_CAUSES`), kept as the code's
    `end_cause` and as the reason of each one's audit event."""
    open_codes = list(ActivationCode.objects.select_for_update().filter(
        person=person, used_at__isnull=True, ended_at__isnull=True
    ))
    for old in open_codes:
        old.ended_at, old.end_cause = now, reason
        old.save(update_fields=["ended_at", "end_cause", "updated_at"])
        record(actor=actor, action=audit.ACTIVATION_CODE_ENDED.code, target=old, subject=person,
               changes={"ended_at": [None, now.isoformat()]}, reason=reason)
    return len(open_codes)


def _step_up_spent() -> Forbidden:
    """The refusal of a step-up proof that already authorised a code (one proof, one code)."""
    return Forbidden(_("This confirmation was already used for a code. Confirm it is you again."),
                     code="step_up_required")


@service
def activation_code_issue(
    *,
    actor: Actor,
    person: Person,
    step_up: StepUpProof | None = None,
    identity_document: IdentityDocument | None = None,
) -> IssuedCode:
    """Issue a single-use activation code bound to `person`; return it with its secrets once.

    Two ways (the reference architecture's issuance modes), checked by `policies.require_issue_code`:
    - self-service with inherited identification: `actor.person == person`, a working staff member
      with a fresh `step_up` proof minted by authn for the actor; no identity document.
    - administrative process: an issuer in scope of the person (`Role.ISSUER`) after checking an
      `identity_document` and re-entering their own second factor (`step_up`); never for
      the issuer themself.
    The system actor (demo data, commands) may issue without either. In every case the person must
    be entitled now (`rules.is_entitled`: staff with an active account).

    The code expires `CODE_VALIDITY_SECONDS` (600 s) after issue; earlier open codes of the person
    are ended (`activation_code.ended`); failures of the last 24 hours carry over (apps.issuance.rules).

    One transaction that locks the person, then their open codes (docs/architecture.md, "Lock
    order"), so it waits for a redemption of the current code instead of deadlocking with it; if
    it loses a lock race anyway it runs again (apps.core.db.atomic_with_retry).

    Raises Forbidden (`step_up_required`, `issue.self_as_issuer`), NotFound (outside
    the issuer's scope), ValidationFailed (`document.*`, `too_many_eids`, `activation_code.locked`),
    `apps.core.db.Busy` (503: lost the lock race every time).
    """
    policies.require_issue_code(actor, person, step_up=step_up,
                                with_document=identity_document is not None)
    for_other = policies.issues_for_other(actor, person)
    document = identity_document_check(identity_document) if (
        for_other or identity_document is not None) else None
    now = timezone.now()
    secrets_ = codes.new_secrets()
    code_id = uuid.uuid4()

    def attempt() -> ActivationCode:
        # Lock order: person first (apps.issuance.rules).
        Person.objects.select_for_update().filter(pk=person.pk).first()
        if not rules.is_entitled(person):
            raise ValidationFailed(
                _("Only working staff can get a mobile e-ID: the person needs an active commission "
                  "or role, and an active account if they have one."), code="not_staff")
        if selectors.eid_count_active(person, now) >= rules.MAX_ACTIVE_EIDS:
            raise ValidationFailed(
                _("You already have %(max)d active mobile e-IDs, the most allowed. Revoke one "
                  "before you get a new one.") % {"max": rules.MAX_ACTIVE_EIDS},
                code="too_many_eids",
            )
        carried = min(rules.recent_failures(person, now), rules.MAX_FAILED_ATTEMPTS)
        if carried >= rules.MAX_FAILED_ATTEMPTS:
            raise ValidationFailed(
                _("There were %(max)d failed activation attempts in the last 24 hours, so no new "
                  "code can be issued now. Try again after %(time)s.")
                % {"max": rules.MAX_FAILED_ATTEMPTS,
                   "time": rules.local_text(rules.failures_lift_at(person, now))},
                code="activation_code.locked",
            )
        if step_up is not None and ActivationCode.objects.filter(
                step_up_nonce=step_up.nonce).exists():
            raise _step_up_spent()
        _end_open_codes(actor, person, now, audit.CODE_REPLACED.code)
        try:
            with transaction.atomic():
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
                    expires_at=now + dt.timedelta(seconds=rules.CODE_VALIDITY_SECONDS),
                    carried_failures=carried,
                    step_up_nonce=step_up.nonce if step_up else None,
                )
        except IntegrityError as exc:  # the same proof, spent for another person at this moment
            raise _step_up_spent() from exc
        changes: dict[str, list[object]] = {
            "expires_at": [None, code.expires_at.isoformat()],
            "issued_for_other": [None, code.issued_for_other],
            "carried_failures": [None, carried],
        }
        if step_up is not None:
            changes["step_up"] = [None, step_up.method]
        if document:
            changes.update({
                "document_type": [None, document.type],
                "document_last_four": [None, document.last_four],
                "document_expires_on": [None, document.expires_on.isoformat()],
            })
        record(actor=actor, action=audit.ACTIVATION_CODE_ISSUED.code, target=code, subject=person,
               changes=changes)
        if document is not None:  # a joiner waiting for a mobile e-ID from an issuer has it now
            commission_services.enrolment_issuer_done(actor=actor, person=person)
        return code

    code = atomic_with_retry(attempt)
    person_number = rules.person_identifier(person)
    return IssuedCode(
        code=code,
        qr_payload=secrets_.qr_payload(code_id),
        short_code=secrets_.short_code_display,
        person_number=f"{person_number[:8]}-{person_number[8:]}" if person_number else "",
    )


@service
def activation_codes_end(*, actor: Actor, person: Person, cause: str) -> int:
    """End every open activation code of `person` now because the person lost the entitlement:
    `cause` is what ended it (`apps.commissions.signals`: `entitlement_ended`, their last commission
    or role ended; `account_deactivated`; `leaver`), recorded as the code's `end_cause` and audited
    with its reason (`audit.CODE_ENDED_CAUSES`), so the log and a later redemption say why. Runs
    in the caller's transaction when there is one, so the change and its consequences commit
    together. Returns how many were ended.

    Allowed for the operator and for administrators and issuers in scope of the person
    (`policies.require_end_codes`); raises NotFound otherwise. Locks the person, then the codes.
    """
    policies.require_end_codes(actor, person)

    def attempt() -> int:
        Person.objects.select_for_update().filter(pk=person.pk).first()
        return _end_open_codes(actor, person, timezone.now(), audit.CODE_ENDED_CAUSES[cause].code)

    return atomic_with_retry(attempt)
