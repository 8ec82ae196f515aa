"""Building an `AccessRequest` from what a system typed: the patient's identifier in any accepted
form, HSA-ids normalised (a malformed one becomes None, which the decision denies as
`input.unknown`, `decision.request_complete`), and the information period's ends.

Callers (the AuthZEN API, docs/authzen.md) check the types and vocabularies of the members first;
what is left here is what the decision itself must see: a value that is well-formed JSON but
names nothing valid is a deny with its rule, never an error.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from apps.identities.identifiers import (
    RESERVE_ID_ALPHABET,
    RESERVE_ID_LENGTH,
    IdentifierError,
    PersonIdentifier,
    nfkc,
    normalise_hsa_id,
    parse_person_number,
)
from apps.rules.decision import AccessRequest


def patient_identifier(value: str) -> PersonIdentifier | None:
    """The patient identifier `value` stands for: a personnummer or samordningsnummer in any form
    `parse_person_number` accepts (12 or 10 digits, with or without `-`/`+`), else one of the
    portal's own reserve ids (`RESERVE_ID_LENGTH` characters of `RESERVE_ID_ALPHABET`, case and
    the separators `-` and space ignored, under `settings.PORTAL_RESERVE_ID_ROOT`). None when it
    is neither (the decision denies it as `input.unknown`)."""
    try:
        return parse_person_number(value)
    except IdentifierError:
        pass
    reserve = nfkc(value).strip().upper().replace("-", "").replace(" ", "")
    if len(reserve) == RESERVE_ID_LENGTH and all(c in RESERVE_ID_ALPHABET for c in reserve):
        return PersonIdentifier(root=settings.PORTAL_RESERVE_ID_ROOT, extension=reserve)
    return None


def hsa_id_or_none(value: str | None) -> str | None:
    """`value` normalised (`normalise_hsa_id`), or None when absent or malformed."""
    if value is None:
        return None
    try:
        return normalise_hsa_id(value)
    except IdentifierError:
        return None


def access_request(*, patient: str, care_provider: str, care_unit: str | None,
                   information_type: str, activity: str, purpose: str, when: datetime,
                   care_relationship: bool, emergency: bool, emergency_reason: str,
                   information_from: datetime | None, information_until: datetime | None
                   ) -> AccessRequest:
    """The `AccessRequest` for these typed values at `when` (aware, UTC): the patient by
    `patient_identifier`, the owner's HSA-ids by `hsa_id_or_none` (a given but malformed care
    unit stays asked: an empty string, which no unit has, so the owner is unknown rather than
    the unit silently dropped). Never raises."""
    unit = None if care_unit is None else (hsa_id_or_none(care_unit) or "")
    return AccessRequest(
        patient=patient_identifier(patient), care_provider_hsa_id=hsa_id_or_none(care_provider),
        care_unit_hsa_id=unit, information_type=information_type, activity=activity,
        purpose=purpose, when=when, care_relationship=care_relationship, emergency=emergency,
        emergency_reason=emergency_reason, information_from=information_from,
        information_until=information_until)
