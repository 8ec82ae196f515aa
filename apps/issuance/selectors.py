"""Reads of mobile e-IDs and activation codes; access-checked fetches answer NotFound."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid

from django.db.models import QuerySet

from apps.commissions import selectors as commission_selectors
from apps.commissions.models import Employee, Role
from apps.commissions.policies import scope_roots
from apps.core.errors import NotFound
from apps.identities.actors import Actor
from apps.identities.models import Person
from apps.issuance import policies, rules
from apps.issuance.ca import serial_hex
from apps.issuance.models import (
    CertificateRevocationList,
    MobileEID,
    OutOfBandRequest,
    RevocationCounter,
)
from apps.issuance.ocsp import SerialStatus


def eid_list_for_person(person: Person) -> QuerySet[MobileEID]:
    """All mobile e-IDs of `person`, newest first."""
    return MobileEID.objects.filter(person=person).order_by("-not_before")


def eid_count_active(person: Person, now: dt.datetime) -> int:
    """Active (not revoked, not expired at `now`) mobile e-IDs of `person`."""
    return MobileEID.objects.filter(
        person=person, status=MobileEID.Status.ACTIVE, not_after__gt=now
    ).count()


def eid_get_for_actor(actor: Actor, eid_id: uuid.UUID) -> MobileEID:
    """The e-ID if the actor may revoke it (owner or issuer in scope); NotFound otherwise."""
    eid = MobileEID.objects.select_related("person").filter(pk=eid_id).first()
    if eid is None or not policies.can_revoke_eid(actor, eid):
        raise NotFound()
    return eid


def revoked_list() -> list[tuple[int, dt.datetime]]:
    """(certificate serial, revocation time UTC) of every revoked e-ID, for the CRL."""
    rows = MobileEID.objects.filter(status=MobileEID.Status.REVOKED).values_list(
        "serial", "revoked_at"
    )
    return [(int(serial, 16), revoked_at) for serial, revoked_at in rows if revoked_at]


def revoked_count() -> int:
    """How many e-IDs are revoked (the length of `revoked_list`; one scan of a partial index)."""
    return MobileEID.objects.filter(status=MobileEID.Status.REVOKED).count()


def revocations_counted() -> int:
    """The `revocations` counter: how many e-IDs `eid_revoke` has revoked (0 before the first)."""
    value = RevocationCounter.objects.filter(name=RevocationCounter.Name.REVOCATIONS).values_list(
        "value", flat=True).first()
    return value or 0


def eid_status_by_serial(serial: int) -> SerialStatus | None:
    """What the portal knows of the certificate with `serial` (OCSP, RFC 6960 2.2): revoked with
    its time, good, or None when no e-ID has this serial."""
    row = MobileEID.objects.filter(serial=serial_hex(serial)).values_list(
        "status", "revoked_at"
    ).first()
    if row is None:
        return None
    status, revoked_at = row
    return SerialStatus(revoked_at=revoked_at if status == MobileEID.Status.REVOKED else None)


def crl_latest() -> CertificateRevocationList | None:
    """The CRL with the highest number, without its bytes (`crl_with_der`); None before the
    first."""
    return CertificateRevocationList.objects.defer("der").order_by("-number").first()


def crl_with_der(crl: CertificateRevocationList) -> CertificateRevocationList:
    """`crl` with its DER bytes, or the newer CRL that superseded it in the meantime (a superseded
    CRL's bytes are dropped in the transaction that stores its successor)."""
    return CertificateRevocationList.objects.filter(
        number__gte=crl.number, der__isnull=False
    ).order_by("number")[:1].get()


def staff_search_for_issuer(actor: Actor, query: str) -> QuerySet[Person]:
    """Staff in the issuer's scope matching `query` (personnummer, HSA-id or name); none without
    an issuer role (deny by default)."""
    return commission_selectors.person_search_in_scope(scope_roots(actor, Role.ISSUER), query)


def staff_waiting_for_issuer(actor: Actor) -> list[Person]:
    """Joiners in the issuer's scope waiting for a mobile e-ID from an issuer (registered with
    that enrolment: `commissions.selectors.enrolment_waiting_for_issuer`), never the issuer
    themself; none without an issuer role (deny by default)."""
    people = commission_selectors.enrolment_waiting_for_issuer(scope_roots(actor, Role.ISSUER))
    return [p for p in people if p.pk != getattr(actor, "person_id", None)]


def staff_get_for_issuer(actor: Actor, person_id: uuid.UUID) -> Person:
    """A staff member in the issuer's scope; NotFound otherwise (also for the issuer themself
    when outside their own scope)."""
    person = Person.objects.prefetch_related("identity_numbers", "employees").filter(
        pk=person_id
    ).first()
    if person is None or not policies.can_issue_for_other(actor, person):
        raise NotFound()
    return person


def employee_list_for_issuer(actor: Actor, person: Person) -> QuerySet[Employee]:
    """The person's employee HSA-ids in the issuer's scope, by HSA-id, each with the organisation
    it belongs to and its title: what an issuer checks the person in front of them against.
    Empty without an issuer role over them (deny by default)."""
    return commission_selectors.employee_list_for_person_in_scope(
        person, scope_roots(actor, Role.ISSUER)
    ).select_related("organisation")


def oob_request_open(reference: str, now: dt.datetime) -> OutOfBandRequest:
    """The login request `reference` while the app may still see it: pending, approved or denied,
    and before `expires_at`. Raises NotFound for unknown, expired, consumed or cancelled requests
    (one answer for all, so a reference that ended tells nothing)."""
    req = OutOfBandRequest.objects.filter(
        reference=reference, expires_at__gt=now,
        status__in=[OutOfBandRequest.Status.PENDING, OutOfBandRequest.Status.APPROVED,
                    OutOfBandRequest.Status.DENIED],
    ).first() if rules.oob_reference_valid(reference) else None
    if req is None:
        raise NotFound(code="not_found")
    return req


def oob_request_state(reference: str, binding: str, now: dt.datetime) -> str:
    """The state of this browser's login request without changing it, for the waiting page's
    script: "pending", "approved", "denied", "cancelled", "consumed", "expired" (past
    `expires_at`, whatever the status says) or "unknown" (no such request, or `binding` is not
    the one the starting browser keeps: one answer, so another browser learns nothing)."""
    req = OutOfBandRequest.objects.filter(reference=reference).first() if (
        rules.oob_reference_valid(reference)) else None
    binding_hash = hashlib.sha256((binding or "").encode()).hexdigest()
    if req is None or not hmac.compare_digest(req.binding_hash, binding_hash):
        return "unknown"
    if req.status == OutOfBandRequest.Status.CONSUMED:
        return "consumed"
    if now >= req.expires_at:
        return "expired"
    return str(req.status)
