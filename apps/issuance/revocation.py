"""Revocation status of mobile e-IDs for relying parties: the stored CRL and the OCSP responder.

CRL (RFC 5280 5; served at `/issuance/crl`)
- Numbers strictly increase (RFC 5280 5.2.3): the next number comes from the `crl_number`
  counter, whose row is locked (`SELECT ... FOR UPDATE`) while a CRL is made and stored, so two
  processes never give one number to two CRLs and a later CRL always has the higher number and
  lists at least what the earlier one listed.
- Stored, never signed per request: the DER bytes with number, thisUpdate, nextUpdate, the CA's
  fingerprint, what it covers and a SHA-256 digest (the HTTP entity tag) are a
  `CertificateRevocationList` row; the endpoint serves that row.
- Current means: signed by the CA in the files now, less than half of the time to its nextUpdate
  passed, and covering every revocation: `eid_revoke` raises the `revocations` counter in its own
  transaction (`crl_after_revocation`) and a CRL records the value it covers, so a CRL that misses
  a committed revocation is seen with one row read. The scheduled run also recounts the revoked
  e-IDs (revocation is final, so an equal count is an equal list), which catches a revocation
  written without `eid_revoke`.
- `crl_refresh` makes a new CRL exactly when the stored one is not current. It runs (a) after every
  revocation, from a task enqueued when the revocation commits; (b) every 10 minutes from Celery
  beat (`CELERY_BEAT_SCHEDULE`), so a new CRL exists well before the last one's nextUpdate; (c) at
  every request of the endpoint. (c) makes the served CRL lazily correct: a lost task, a stopped
  broker or beat never let the endpoint serve a list that misses a committed revocation or is
  past its nextUpdate.
- nextUpdate = thisUpdate + `CRL_VALIDITY_SECONDS` (1 hour), never past the CA's notAfter.
  thisUpdate strictly increases in whole seconds (relying parties and HTTP `Last-Modified` compare
  whole seconds, so two CRLs within one second would look alike): a CRL made in the same second
  as the previous one waits for the next second, so at most one CRL is made per second.

OCSP (RFC 6960; `/issuance/ocsp`): `ocsp_respond` answers from the database per request, signed
by the delegated responder (`apps.issuance.ocsp`, `apps.issuance.ca`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as x509_ocsp
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.audit.services import record
from apps.core.actors import SystemActor
from apps.core.calls import service
from apps.identities.actors import Actor
from apps.issuance import audit, authority, ocsp, policies, selectors, tasks
from apps.issuance.ca import CAError, IssuingCA, fingerprint_sha256
from apps.issuance.models import CertificateRevocationList, RevocationCounter

logger = logging.getLogger(__name__)

#: The actor that publishes CRLs when the endpoint finds the stored one out of date.
CRL_PUBLISHER = SystemActor("system:issuing-ca", _("The issuing CA"))
#: Longest wait for the next whole second of thisUpdate (see the module docstring).
_MAX_WAIT_SECONDS = 1.0


def crl_refresh_at(crl: CertificateRevocationList) -> dt.datetime:
    """When `crl` stops being current by age alone (UTC): half-way to its nextUpdate."""
    return crl.this_update + (crl.next_update - crl.this_update) / 2


def _is_current(crl: CertificateRevocationList, *, ca: IssuingCA, recount: bool) -> bool:
    """Whether `crl` may still be served now (module docstring, "Current means")."""
    if crl.issuer_fingerprint != fingerprint_sha256(ca.cert):
        return False
    if timezone.now() >= crl_refresh_at(crl):
        return False
    if crl.revocations != selectors.revocations_counted():
        return False
    return not recount or crl.entries == selectors.revoked_count()


@service
def crl_refresh(*, actor: Actor, recount: bool = False) -> CertificateRevocationList:
    """The CRL to serve now (without its bytes; see `selectors.crl_with_der`), made first when the
    stored one is not current (module docstring).

    `recount` also counts the revoked e-IDs (one index scan; the scheduled task does it), instead
    of trusting the `revocations` counter alone. Only the system may call it
    (`policies.require_publish_crl`). A new CRL is made and stored in one transaction holding the
    `crl_number` lock, audited as `crl.published` with number, times, entries and digest; the
    superseded CRL's bytes are dropped. Waits at most a second for thisUpdate to move past the
    previous CRL's.

    Raises Forbidden (`crl.forbidden`) for a person; CAError when the CA files are unusable or the
    CA is not valid now (`ca.expired`).
    """
    policies.require_publish_crl(actor)
    ca = authority.ca_load()
    latest = selectors.crl_latest()
    if latest is not None and _is_current(latest, ca=ca, recount=recount):
        return latest
    with transaction.atomic():
        RevocationCounter.objects.get_or_create(name=RevocationCounter.Name.CRL_NUMBER)
        sequence = RevocationCounter.objects.select_for_update().get(
            name=RevocationCounter.Name.CRL_NUMBER)
        # Read after the lock: every CRL and revocation committed before it is visible now.
        latest = selectors.crl_latest()
        if latest is not None and _is_current(latest, ca=ca, recount=recount):
            return latest  # another process made it while this one waited for the lock
        # The counter before the list: the list then holds at least what the counter counted.
        revocations = selectors.revocations_counted()
        revoked = selectors.revoked_list()
        number = sequence.value + 1
        signed = ca.build_crl(revoked, now=_this_update_after(latest), crl_number=number,
                              next_update_seconds=authority.CRL_VALIDITY_SECONDS)
        der = signed.public_bytes(serialization.Encoding.DER)
        assert signed.next_update_utc is not None  # build_crl always sets it
        sequence.value = number
        sequence.save(update_fields=["value"])
        CertificateRevocationList.objects.filter(der__isnull=False).update(der=None)
        digest = hashes.Hash(hashes.SHA256())
        digest.update(der)
        crl = CertificateRevocationList.objects.create(
            number=number,
            this_update=signed.last_update_utc,
            next_update=signed.next_update_utc,
            issuer_fingerprint=fingerprint_sha256(ca.cert),
            revocations=revocations,
            entries=len(revoked),
            sha256=digest.finalize().hex(),
            der=der,
        )
        record(actor=actor, action=audit.CRL_PUBLISHED.code, target=crl, changes={
            "number": [latest.number if latest else None, number],
            "entries": [latest.entries if latest else None, len(revoked)],
            "this_update": [None, crl.this_update.isoformat()],
            "next_update": [None, crl.next_update.isoformat()],
            "sha256": [None, crl.sha256],
        })
    return crl


def _this_update_after(previous: CertificateRevocationList | None) -> dt.datetime:
    """Now in whole seconds, strictly after `previous`'s thisUpdate (module docstring)."""
    now = timezone.now()
    this_update = now.replace(microsecond=0)
    if previous is not None and this_update <= previous.this_update:
        this_update = previous.this_update + dt.timedelta(seconds=1)
        # Normally less than a second; longer only when another host's clock runs ahead.
        time.sleep(min((this_update - now).total_seconds(), _MAX_WAIT_SECONDS))
    return this_update


def crl_after_revocation() -> None:
    """Call in the transaction that revokes an e-ID (`eid_revoke`, after it locked the e-ID row):
    raises the `revocations` counter, so the CRL endpoint sees the stored CRL is out of date the
    moment the revocation commits, and has a new CRL made then.

    The new CRL comes from `crl_refresh_task`, enqueued on commit; a broker that cannot be reached
    is only logged: the endpoint makes the CRL itself when it finds the stored one out of date, so
    nothing is lost. Lock order: the e-ID row, then the counter row (held until commit, so
    revocations are counted one after the other).
    """
    RevocationCounter.objects.get_or_create(name=RevocationCounter.Name.REVOCATIONS)
    RevocationCounter.objects.filter(name=RevocationCounter.Name.REVOCATIONS).update(
        value=F("value") + 1)

    def enqueue() -> None:
        try:
            tasks.crl_refresh_task.delay()
        except Exception:  # noqa: BLE001 - any broker error; eager-mode task errors too
            logger.exception("could not enqueue the CRL refresh; the CRL endpoint will make it")

    transaction.on_commit(enqueue)


def ocsp_respond(request_der: bytes) -> x509_ocsp.OCSPResponse:
    """The OCSP response (RFC 6960) to the DER request `request_der`; never raises.

    Signed by the delegated responder for a well-formed request about the portal's CA: `good`,
    `revoked` with its time, or `unknown` (never issued), with the request's nonce echoed.
    Unsuccessful (unsigned) answers: `malformedRequest` for a request `ocsp.parse_request`
    refuses, `unauthorized` for a certificate of another issuer, `tryLater` when the CA or the
    responder files are unusable (logged as an error for the operator).
    """
    try:
        request = ocsp.parse_request(request_der)
        now = timezone.now()
        ca = authority.ca_load()
        responder = authority.ocsp_responder_load(ca, now)
        return ocsp.respond(request, issuer=ca.cert, responder=responder,
                            lookup=selectors.eid_status_by_serial, now=now,
                            validity_seconds=authority.OCSP_RESPONSE_VALIDITY_SECONDS)
    except ocsp.OCSPRefusal as exc:
        return ocsp.refusal(exc.status)
    except CAError as exc:
        logger.error("OCSP responder unusable: %s", exc)
        return ocsp.refusal(x509_ocsp.OCSPResponseStatus.TRY_LATER)
