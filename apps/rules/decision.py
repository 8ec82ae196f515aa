"""The access decision of the rules service (regelverkstjänst): may this staff member, acting under
this commission, take this action on this kind of information about this patient, owned by this
care provider and unit? A pure function over facts the database gave (`evaluate`), built from small
rule functions, each citing its source; deny by default.

The order (docs/rules.md):

1. the request is complete and every party in it is known;
2. the commission is valid at the time (HSLF-FS 2016:40 4 kap. 2 §);
3. the purpose is care and treatment and is the commission's (PDL 2008:355 2 kap. 4 §, 4 kap. 1 §);
4. a right of the commission covers the activity, the information type and the owner
   (scope VE, VG or SJF; PDL 4 kap. 2 §, HSLF-FS 2016:40 4 kap. 2 §);
5. the staff member has a care relationship with the patient (PDL 4 kap. 1 §, 6 kap. 3 § 1 p.);
6. across care providers (coherent record keeping, SJF): the patient's consent (PDL 6 kap. 3 §
   3 p.) or emergency access with a stated reason (PDL 6 kap. 4 §);
7. no block applies, after temporary revokes (PDL 4 kap. 4 §, 6 kap. 2 §; Inera's CheckBlocks).

Times are aware datetimes in UTC.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.blocks.models import Block
from apps.commissions.vocabularies import Activity, InformationClass, Purpose, Scope
from apps.identities.identifiers import PersonIdentifier

#: The activity an emergency opening is logged with (Inera's Logg contract, activity types).
EMERGENCY_LOG_ACTIVITY = "Nödöppning"


@dataclass(frozen=True)
class Rule:
    """One rule of the decision: a stable `code` (in the API's answer and the audit row), the
    `source` it applies and the `message` shown to the caller and the patient."""

    code: str
    source: str
    message: str | Promise
    allows: bool = False


def _rule(code: str, source: str, message: str | Promise, *, allows: bool = False) -> Rule:
    rule = Rule(code, source, message, allows)
    RULES[code] = rule
    return rule


#: Every rule by code (docs/rules.md lists them with their sources).
RULES: dict[str, Rule] = {}

INPUT_UNKNOWN = _rule(
    "input.unknown", "Deny by default (docs/rules.md)",
    _("A member of the request is missing, malformed or names nothing known."))
PATIENT_UNKNOWN = _rule(
    "patient.unknown", "Deny by default (docs/rules.md)",
    _("The patient is not known to the portal."))
OWNER_UNKNOWN = _rule(
    "owner.unknown", "Deny by default (docs/rules.md)",
    _("The information owner is not a known care provider and care unit of it."))
COMMISSION_UNKNOWN = _rule(
    "commission.unknown", "HSLF-FS 2016:40 4 kap. 2 §",
    _("The staff member holds no such commission."))
SYSTEM_NOT_ENTITLED = _rule(
    "system.not_entitled", "HSLF-FS 2016:40 4 kap. 2 §; deny by default (docs/rules.md)",
    _("The asking system may not speak for staff of this care provider."))
COMMISSION_NOT_VALID = _rule(
    "commission.not_valid", "HSLF-FS 2016:40 4 kap. 2 §",
    _("The commission is not valid at this time."))
PURPOSE_NOT_ALLOWED = _rule(
    "purpose.not_allowed", "PDL 2008:355 2 kap. 4 §, 4 kap. 1 §",
    _("Patient information is only available for care and treatment, under a commission for it."))
RIGHT_MISSING = _rule(
    "right.missing", "PDL 2008:355 4 kap. 2 §; HSLF-FS 2016:40 4 kap. 2 §",
    _("No right of the commission covers this activity, information type and information owner."))
CARE_RELATIONSHIP_MISSING = _rule(
    "care_relationship.missing", "PDL 2008:355 4 kap. 1 §, 6 kap. 3 § 1 p.",
    _("The staff member has no care relationship with the patient."))
CONSENT_MISSING = _rule(
    "consent.missing", "PDL 2008:355 6 kap. 3 § 3 p.",
    _("Reading another care provider's information needs the patient's consent, or emergency "
      "access."))
EMERGENCY_REASON_MISSING = _rule(
    "emergency.reason_missing", "PDL 2008:355 6 kap. 4 §",
    _("Emergency access needs a stated reason."))
INNER_BLOCK = _rule(
    "block.inner", "PDL 2008:355 4 kap. 4 §; Inera CheckBlocks",
    _("The patient has blocked this care unit's information."))
OUTER_BLOCK = _rule(
    "block.outer", "PDL 2008:355 6 kap. 2 §; Inera CheckBlocks",
    _("The patient has blocked this care provider's information from other care providers."))
ALLOW_WITHIN_PROVIDER = _rule(
    "allow.care_provider", "PDL 2008:355 4 kap. 1 §",
    _("Allowed: the care provider's own information, for the care of the patient."), allows=True)
ALLOW_CONSENT = _rule(
    "allow.consent", "PDL 2008:355 6 kap. 3 §",
    _("Allowed: coherent record keeping with the patient's consent."), allows=True)
ALLOW_EMERGENCY = _rule(
    "allow.emergency", "PDL 2008:355 6 kap. 4 §",
    _("Allowed as emergency access: it is logged and followed up."), allows=True)


@dataclass(frozen=True)
class Obligation:
    """Something the caller must do with an allow (AuthZEN `context`): `id` and its `value`."""

    id: str
    value: str = ""


#: The caller logs the access with activity Nödöppning (Inera's Logg contract) ...
LOG_AS_EMERGENCY = Obligation("log_activity", EMERGENCY_LOG_ACTIVITY)
#: ... and the care provider follows it up (PDL 2008:355 4 kap. 3 §, HSLF-FS 2016:40 4 kap. 9 §).
FOLLOW_UP = Obligation("emergency_follow_up")


@dataclass(frozen=True)
class AccessRequest:
    """What is asked. `patient` is None when the given identifier was not a valid one; the HSA-ids
    are normalised or None when malformed; `information_type` an InformationClass code, `activity`
    an Activity value and `purpose` a Purpose value (anything else is unknown). `information_from`
    and `information_until` bound when the information was recorded, [from, until) (either may be
    None: unknown).
    `emergency` is True when the caller asks for emergency access; `emergency_reason` says why."""

    patient: PersonIdentifier | None
    care_provider_hsa_id: str | None
    care_unit_hsa_id: str | None
    information_type: str
    activity: str
    purpose: str
    when: datetime
    care_relationship: bool = False
    emergency: bool = False
    emergency_reason: str = ""
    information_from: datetime | None = None
    information_until: datetime | None = None


@dataclass(frozen=True)
class CommissionFacts:
    """The commission acted under, as one query gives it (`facts.acting_staff`), with the names
    and HSA-ids of its care unit and care provider (the audit row's organisation)."""

    commission_id: uuid.UUID
    commission_hsa_id: str
    employee_id: uuid.UUID
    person_id: uuid.UUID
    purpose: str
    valid_from: datetime
    valid_until: datetime | None
    ended_at: datetime | None
    care_provider_id: uuid.UUID
    care_unit_id: uuid.UUID | None
    care_unit_hsa_id: str
    care_unit_name: str = ""
    care_provider_hsa_id: str = ""
    care_provider_name: str = ""
    rights: frozenset[tuple[str, str, str]] = frozenset()

    @property
    def acting_hsa_id(self) -> str:
        """The organisation the staff member acts at: the care unit, or the care provider for a
        commission without one."""
        return self.care_unit_hsa_id or self.care_provider_hsa_id

    @property
    def acting_name(self) -> str:
        """The name of `acting_hsa_id`'s organisation (shown in the patient's log extract)."""
        return self.care_unit_name if self.care_unit_hsa_id else self.care_provider_name

    def valid_at(self, when: datetime) -> bool:
        """Not ended and `valid_from <= when < valid_until` (TimeBound's rule)."""
        return (self.ended_at is None and self.valid_from <= when
                and (self.valid_until is None or when < self.valid_until))


@dataclass(frozen=True)
class BlockFacts:
    """One block of the patient at the owner's care provider, in force at the time, and whether a
    temporary revoke in force lifts it for the acting staff member."""

    id: uuid.UUID
    block_type: str
    care_unit_id: uuid.UUID | None
    period_start: datetime | None
    period_end: datetime | None
    excluded_types: frozenset[str]
    temporarily_revoked: bool


@dataclass(frozen=True)
class Facts:
    """Everything the rules read. `commission` None: not found for that employee. `patient_id`
    None: unknown patient. `owner_provider_id`/`owner_unit_id` None: unknown (or, for the unit, not
    asked); `owner_unit_in_provider` False when the unit is not a care unit of that provider.
    `consent` and `emergency_assertion_id` are the consent or emergency access assertions in force
    for the acting unit and employee (apps.consents). `system_care_provider_id` is the care
    provider of the asking system's organisation."""

    commission: CommissionFacts | None
    patient_id: uuid.UUID | None = None
    owner_provider_id: uuid.UUID | None = None
    owner_unit_id: uuid.UUID | None = None
    owner_unit_in_provider: bool = True
    consent: bool = False
    emergency_assertion_id: uuid.UUID | None = None
    emergency_assertion_reason: str = ""
    blocks: tuple[BlockFacts, ...] = ()
    system_care_provider_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Verdict:
    """The outcome: `rule` decided it (`rule.allows`); `obligations` come with an allow; `block`
    is the deciding block's id for a block deny; `emergency` is True for an emergency opening."""

    rule: Rule
    obligations: tuple[Obligation, ...] = ()
    block: uuid.UUID | None = None
    emergency: bool = False

    @property
    def allowed(self) -> bool:
        return self.rule.allows


Check = Callable[[AccessRequest, Facts], "Rule | None"]


def request_complete(request: AccessRequest, facts: Facts) -> Rule | None:
    """Every member is present and of its vocabulary (deny by default)."""
    if (request.patient is None or request.care_provider_hsa_id is None
            or request.information_type not in InformationClass.values
            or request.activity not in Activity.values or request.purpose not in Purpose.values):
        return INPUT_UNKNOWN
    if (request.information_from and request.information_until
            and request.information_until < request.information_from):
        return INPUT_UNKNOWN
    return None


def parties_known(request: AccessRequest, facts: Facts) -> Rule | None:
    """The commission (held by the named employee), the patient and the owner exist; an owner
    unit, when given, is a care unit of the owner care provider."""
    if facts.commission is None:
        return COMMISSION_UNKNOWN
    if facts.patient_id is None:
        return PATIENT_UNKNOWN
    if facts.owner_provider_id is None or (
            request.care_unit_hsa_id is not None
            and (facts.owner_unit_id is None or not facts.owner_unit_in_provider)):
        return OWNER_UNKNOWN
    return None


def system_vouches(request: AccessRequest, facts: Facts) -> Rule | None:
    """The asking system belongs to the commission's care provider: a care provider assigns and
    answers for its own staff's access (HSLF-FS 2016:40 4 kap. 2 §), so a system registered by
    another organisation cannot speak, or have reads logged, in their name."""
    assert facts.commission is not None
    if facts.system_care_provider_id != facts.commission.care_provider_id:
        return SYSTEM_NOT_ENTITLED
    return None


def commission_valid(request: AccessRequest, facts: Facts) -> Rule | None:
    """The commission is valid at the time: not ended, begun, not expired (HSLF-FS 2016:40 4 kap.
    2 §: access follows the individually assigned authorisation, which ends with the commission)."""
    assert facts.commission is not None
    return None if facts.commission.valid_at(request.when) else COMMISSION_NOT_VALID


def purpose_allows(request: AccessRequest, facts: Facts) -> Rule | None:
    """Care and treatment, asked under a commission for care and treatment (PDL 2 kap. 4 §;
    4 kap. 1 §: staff take part of what they need for the care of the patient). Other purposes
    have rules of their own the portal does not decide: denied."""
    assert facts.commission is not None
    if request.purpose != Purpose.CARE or facts.commission.purpose != Purpose.CARE:
        return PURPOSE_NOT_ALLOWED
    return None


def crosses_providers(facts: Facts) -> bool:
    """The owner is another care provider than the commission's: coherent record keeping."""
    assert facts.commission is not None
    return facts.owner_provider_id != facts.commission.care_provider_id


def scopes_covering(facts: Facts) -> frozenset[str]:
    """The right scopes that reach the owner: VE only the commission's own unit, VG every unit of
    its care provider (so also VE's), SJF other care providers (docs/rules.md, "Scopes")."""
    assert facts.commission is not None
    if crosses_providers(facts):
        return frozenset({Scope.COHERENT.value})
    own_unit = (facts.commission.care_unit_id is not None
                and facts.owner_unit_id == facts.commission.care_unit_id)
    return frozenset({Scope.CARE_UNIT.value, Scope.CARE_PROVIDER.value} if own_unit
                     else {Scope.CARE_PROVIDER.value})


def right_covers(request: AccessRequest, facts: Facts) -> Rule | None:
    """A right `activity;information class;scope` with the asked activity, the asked information
    type or `alla` (a right for all information covers each type; asking for all information
    needs `alla`), and a scope that reaches the owner (PDL 4 kap. 2 §: authorisation limited to
    what the work needs; HSLF-FS 2016:40 4 kap. 2 §)."""
    assert facts.commission is not None
    types = {request.information_type, InformationClass.ALL.value}
    scopes = scopes_covering(facts)
    for activity, information_class, scope in facts.commission.rights:
        if activity == request.activity and information_class in types and scope in scopes:
            return None
    return RIGHT_MISSING


def care_relationship(request: AccessRequest, facts: Facts) -> Rule | None:
    """The caller asserts a current care relationship (aktuell patientrelation): inside the care
    provider PDL 4 kap. 1 §, across care providers 6 kap. 3 § 1 p. The portal holds no care
    episodes, so the record system that knows them says so (docs/rules.md)."""
    return None if request.care_relationship else CARE_RELATIONSHIP_MISSING


#: The checks before consent and blocks, in order; the first that fails decides.
CHECKS: tuple[Check, ...] = (request_complete, parties_known, system_vouches, commission_valid,
                             purpose_allows, right_covers, care_relationship)


def block_applies(request: AccessRequest, facts: Facts, block: BlockFacts) -> bool:
    """Inera's CheckBlocks for one block of the owner's care provider, in force at the time:
    an inner block hides its unit's information from everyone not acting at that unit (an owner
    unit not given could be that unit); an outer block hides the provider's information from other
    providers. An outer block naming a unit hides only that unit's information (Inera's Spärr
    contract: the information owner is the care provider and, optionally, the unit). An excluded
    information type is not blocked (asking for all information is). A
    block without an information period blocks all; one with a period blocks information recorded
    inside or overlapping it, and information of unknown time. A temporary revoke in force for the
    acting unit (and, if named, employee) lifts it. A block naming a unit (always an inner one,
    optionally an outer one) hides only that unit's information."""
    assert facts.commission is not None
    if block.temporarily_revoked:
        return False
    if block.block_type == Block.Type.OUTER and not crosses_providers(facts):
        return False
    if block.care_unit_id is not None and request.care_unit_hsa_id is not None \
            and facts.owner_unit_id != block.care_unit_id:
        return False
    if block.block_type == Block.Type.INNER and facts.commission.care_unit_id == block.care_unit_id:
        return False
    if request.information_type in block.excluded_types:
        return False
    return _periods_overlap(block, request.information_from, request.information_until)


def _periods_overlap(block: BlockFacts, start: datetime | None, end: datetime | None) -> bool:
    """[start, end) of the information meets the block's [period_start, period_end): both ends
    exclusive, as every period in the portal; unknown ends are open (so they overlap)."""
    if block.period_start is None and block.period_end is None:
        return True
    if end is not None and block.period_start is not None and end <= block.period_start:
        return False
    return not (start is not None and block.period_end is not None and start >= block.period_end)


def states_a_reason(text: str) -> bool:
    """True when `text` holds at least one letter or digit (Unicode categories L and N): spaces,
    invisible format characters (zero-width space, soft hyphen) and blank-looking letters such as
    the Hangul filler or the Braille blank state nothing (PDL 6 kap. 4 §: emergency access needs a
    reason someone can follow up)."""
    return any(unicodedata.category(ch)[0] in "LN" and ch not in INVISIBLE_LETTERS
               for ch in unicodedata.normalize("NFKC", text))


#: Characters Unicode files as letters that render as nothing (Hangul fillers).
INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")


def evaluate(request: AccessRequest, facts: Facts) -> Verdict:
    """The decision for `request` given `facts`: the first failing check denies; across care
    providers consent, else emergency access with a reason; then the first applying block denies;
    otherwise allowed, as an emergency opening (with its obligations) when that is what opened it.
    """
    for check in CHECKS:
        rule = check(request, facts)
        if rule is not None:
            return Verdict(rule)
    emergency = False
    if crosses_providers(facts) and not facts.consent:
        if facts.emergency_assertion_id is None and not request.emergency:
            return Verdict(CONSENT_MISSING)
        if facts.emergency_assertion_id is None and not states_a_reason(request.emergency_reason):
            return Verdict(EMERGENCY_REASON_MISSING)
        emergency = True
    for block in facts.blocks:
        if block_applies(request, facts, block):
            rule = OUTER_BLOCK if block.block_type == Block.Type.OUTER else INNER_BLOCK
            return Verdict(rule, block=block.id)
    if emergency:
        return Verdict(ALLOW_EMERGENCY, (LOG_AS_EMERGENCY, FOLLOW_UP), emergency=True)
    return Verdict(ALLOW_CONSENT if crosses_providers(facts) else ALLOW_WITHIN_PROVIDER)
