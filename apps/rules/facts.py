"""The facts an access decision reads, in at most three SQL statements: the acting staff member's
commission with its rights (`acting_staff`), then the patient with the information owner and the
consents in force (one statement), then the patient's blocks at the owner's care provider with
their temporary revokes (one statement; skipped when an earlier fact already denies). Each runs on
an index: the case-insensitive HSA-id indexes, the identity number's unique key, consents'
(patient, care unit), blocks' (patient, care provider) and temporary revokes' (block, care unit).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db.models import BooleanField, Exists, OuterRef, Q, Subquery, UUIDField
from django.db.models.functions import Lower

from apps.blocks.models import Block, TemporaryRevoke
from apps.commissions.models import Commission
from apps.consents.models import ConsentAssertion
from apps.identities.identifiers import IdentifierError, normalise_hsa_id
from apps.identities.models import Person
from apps.organisations.models import Organisation
from apps.rules.decision import AccessRequest, BlockFacts, CommissionFacts, Facts

#: How long a stated label may be in the audit row (AuditEvent.actor_label).
LABEL_MAX = 200


@dataclass(frozen=True)
class AccessActor:
    """A staff member asking, through a registered system (an OAuth2 client of the portal's
    identity provider, `client_id`), to act under a commission: the actor of a decision. The
    system vouches for who its user is (OpenID AuthZEN `subject`); the audit row names the staff
    member (`audit_label`, the employee HSA-id as `audit_identifier`) and keeps the system.
    `commission` is None when the employee holds no such commission."""

    client_id: str
    client_label: str
    employee_hsa_id: str
    person_label: str
    commission: CommissionFacts | None
    #: The care provider of the system's registering organisation: it vouches only for its own
    #: care provider's staff (None: unknown, so for nobody).
    client_care_provider_id: uuid.UUID | None = None
    pk: None = None
    #: `AuditEvent.actor_kind` of a decision's row.
    audit_kind: str = "staff"

    @property
    def audit_label(self) -> str:
        return (self.person_label or self.employee_hsa_id)[:LABEL_MAX]

    @property
    def audit_identifier(self) -> str:
        return self.employee_hsa_id[:LABEL_MAX]


def _hsa(value: str) -> str | None:
    try:
        return normalise_hsa_id(value)
    except IdentifierError:
        return None


def hsa_lookup(value: str) -> Q:
    """Match a normalised HSA-id whatever its stored case (the `Lower("hsa_id")` unique index;
    annotate `hsa_id_lower` first)."""
    return Q(hsa_id_lower=value.lower())


def acting_staff(*, client_id: str, client_label: str,
                 client_care_provider_id: uuid.UUID | None, employee_hsa_id: str,
                 commission_hsa_id: str) -> AccessActor:
    """The actor for a decision: the commission `commission_hsa_id` held by the employee
    `employee_hsa_id` (both typed by a system, normalised here), with its rights, the person's
    name and its unit and care provider (HSA-ids and names, for the audit row), in one statement
    (one row per right, a LEFT JOIN). An id that is malformed, unknown or not the employee's
    gives an actor without a commission (the decision denies it)."""
    employee = _hsa(employee_hsa_id)
    commission = _hsa(commission_hsa_id)
    shown = (employee or employee_hsa_id.strip())[:LABEL_MAX]
    if employee is None or commission is None:
        return AccessActor(client_id, client_label, shown, "", None, client_care_provider_id)
    rows = list(
        Commission.objects.alias(hsa_id_lower=Lower("hsa_id"),
                                 employee_hsa_lower=Lower("employee__hsa_id"))
        .filter(hsa_lookup(commission), employee_hsa_lower=employee.lower())
        .values_list("id", "hsa_id", "employee_id", "employee__person_id", "purpose",
                     "valid_from", "valid_until", "ended_at", "care_provider_id", "care_unit_id",
                     "care_unit__hsa_id", "employee__person__given_name",
                     "employee__person__family_name", "care_unit__name",
                     "care_provider__hsa_id", "care_provider__name", "rights__activity",
                     "rights__information_class", "rights__scope")
    )
    if not rows:
        return AccessActor(client_id, client_label, employee, "", None, client_care_provider_id)
    first = rows[0]
    rights = frozenset((r[16], r[17], r[18]) for r in rows if r[16] is not None)
    facts = CommissionFacts(
        commission_id=first[0], commission_hsa_id=first[1], employee_id=first[2],
        person_id=first[3], purpose=first[4], valid_from=first[5], valid_until=first[6],
        ended_at=first[7], care_provider_id=first[8], care_unit_id=first[9],
        care_unit_hsa_id=first[10] or "", care_unit_name=first[13] or "",
        care_provider_hsa_id=first[14], care_provider_name=first[15], rights=rights)
    return AccessActor(client_id, client_label, employee, f"{first[11]} {first[12]}", facts,
                       client_care_provider_id)


def _organisation(hsa_id: str, column: str, **only: bool) -> Subquery:
    """A column of the organisation with `hsa_id` (typed: a foreign key's raw value is not
    converted to a UUID on SQLite otherwise)."""
    output = BooleanField() if column.startswith("is_") else UUIDField()
    return Subquery(Organisation.objects.alias(hsa_id_lower=Lower("hsa_id"))
                    .filter(hsa_lookup(hsa_id), **only).values(column)[:1], output_field=output)


@dataclass(frozen=True)
class PatientRow:
    """What the second statement gives; turned into `Facts` by `gather`."""

    patient_id: uuid.UUID | None
    owner_provider_id: uuid.UUID | None
    owner_unit_id: uuid.UUID | None
    owner_unit_provider_id: uuid.UUID | None
    owner_unit_is_care_unit: bool
    consent: bool
    emergency_id: uuid.UUID | None
    emergency_reason: str


def _patient_row(request: AccessRequest, commission: CommissionFacts) -> PatientRow:
    """The patient (by identity number), the owner care provider and unit (by HSA-id), and the
    consent and emergency access assertions in force at the acting unit for the acting employee
    (or all its staff), in one statement."""
    assert request.patient is not None and request.care_provider_hsa_id is not None
    when = request.when
    in_force = ConsentAssertion.objects.valid_at(when).filter(
        Q(employee__isnull=True) | Q(employee_id=commission.employee_id),
        patient=OuterRef("pk"), care_unit_id=commission.care_unit_id)
    emergency = in_force.filter(assertion_type=ConsentAssertion.Type.EMERGENCY).order_by(
        "-valid_from")
    qs = Person.objects.filter(identity_numbers__root=request.patient.root,
                               identity_numbers__extension=request.patient.extension)
    annotations = {
        "owner_provider": _organisation(request.care_provider_hsa_id, "id", is_care_provider=True),
        "consent": Exists(in_force.filter(assertion_type=ConsentAssertion.Type.CONSENT)),
        "emergency_id": Subquery(emergency.values("id")[:1], output_field=UUIDField()),
        "emergency_reason": Subquery(emergency.values("reason")[:1]),
    }
    fields = ["id", "owner_provider", "consent", "emergency_id", "emergency_reason"]
    if request.care_unit_hsa_id is not None:
        annotations |= {
            "owner_unit": _organisation(request.care_unit_hsa_id, "id"),
            "owner_unit_provider": _organisation(request.care_unit_hsa_id, "care_provider_id"),
            "owner_unit_is_care_unit": _organisation(request.care_unit_hsa_id, "is_care_unit"),
        }
        fields += ["owner_unit", "owner_unit_provider", "owner_unit_is_care_unit"]
    row = qs.annotate(**annotations).values(*fields).first()
    if row is None:
        return PatientRow(None, None, None, None, False, False, None, "")
    return PatientRow(row["id"], row["owner_provider"], row.get("owner_unit"),
                      row.get("owner_unit_provider"), bool(row.get("owner_unit_is_care_unit")),
                      bool(row["consent"]), row["emergency_id"], row["emergency_reason"] or "")


def _blocks(patient_id: uuid.UUID, owner_provider_id: uuid.UUID, commission: CommissionFacts,
            when: datetime) -> tuple[BlockFacts, ...]:
    """The patient's blocks in force at `when` at the owner's care provider, each with whether a
    temporary revoke in force lifts it for the acting unit and employee, in one statement."""
    revoked = TemporaryRevoke.objects.in_force_at(when).filter(
        Q(employee__isnull=True) | Q(employee_id=commission.employee_id),
        block=OuterRef("pk"), care_unit_id=commission.care_unit_id)
    rows = Block.objects.in_force_at(when).filter(
        patient_id=patient_id, care_provider_id=owner_provider_id
    ).annotate(revoked=Exists(revoked)).values_list(
        "id", "block_type", "care_unit_id", "period_start", "period_end", "excludes_medication",
        "excludes_alerts", "revoked")
    return tuple(
        BlockFacts(id=r[0], block_type=r[1], care_unit_id=r[2], period_start=r[3],
                   period_end=r[4],
                   excluded_types=frozenset(code for code, on in (("lak", r[5]), ("upp", r[6]))
                                            if on),
                   temporarily_revoked=r[7])
        for r in rows
    )


def gather(request: AccessRequest, actor: AccessActor) -> Facts:
    """The facts for `request` by `actor`: none read when the request names no valid patient or
    owner; only the patient (so that the audit row names whom it asked about) when the commission
    is unknown; else the patient statement and, when the patient and owner are known, the blocks
    statement."""
    commission = actor.commission
    system = actor.client_care_provider_id
    if request.patient is None or request.care_provider_hsa_id is None:
        return Facts(commission=commission, system_care_provider_id=system)
    if commission is None:
        patient_id = Person.objects.filter(
            identity_numbers__root=request.patient.root,
            identity_numbers__extension=request.patient.extension).values_list("id", flat=True
                                                                               ).first()
        return Facts(commission=None, patient_id=patient_id, system_care_provider_id=system)
    row = _patient_row(request, commission)
    in_provider = (request.care_unit_hsa_id is None
                   or (row.owner_unit_is_care_unit
                       and row.owner_unit_provider_id == row.owner_provider_id))
    blocks: tuple[BlockFacts, ...] = ()
    if row.patient_id is not None and row.owner_provider_id is not None:
        blocks = _blocks(row.patient_id, row.owner_provider_id, commission, request.when)
    return Facts(commission=commission, patient_id=row.patient_id,
                 owner_provider_id=row.owner_provider_id, owner_unit_id=row.owner_unit_id,
                 owner_unit_in_provider=in_provider, consent=row.consent,
                 emergency_assertion_id=row.emergency_id,
                 emergency_assertion_reason=row.emergency_reason, blocks=blocks,
                 system_care_provider_id=system)
