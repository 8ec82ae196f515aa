"""Attribute names of the Swedish eID framework and Sambi, mapped to the portal's fields.

Sources: the Swedish eID framework's attribute specification ("Attribute Specification for the
Swedish eID Framework", ELN-0604: personalIdentityNumber `urn:oid:1.2.752.29.4.13`, givenName
`urn:oid:2.5.4.42`, sn `urn:oid:2.5.4.4`, displayName `urn:oid:2.16.840.1.113730.3.1.241`), the
HSA attribute employeeHsaId `urn:oid:1.2.752.29.6.2.1`, and Sambi's attribute names
(`http://sambi.se/attributes/1/...`), which name the same values.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.identities.identifiers import (
    IdentifierError,
    PersonIdentifier,
    nfkc,
    normalise_hsa_id,
    parse_person_number,
)

NAMES: dict[str, tuple[str, ...]] = {
    "person_number": ("urn:oid:1.2.752.29.4.13",
                      "http://sambi.se/attributes/1/personalIdentityNumber"),
    "given_name": ("urn:oid:2.5.4.42", "http://sambi.se/attributes/1/givenName"),
    "surname": ("urn:oid:2.5.4.4", "http://sambi.se/attributes/1/surname"),
    "display_name": ("urn:oid:2.16.840.1.113730.3.1.241",
                     "http://sambi.se/attributes/1/displayName"),
    "employee_hsa_id": ("urn:oid:1.2.752.29.6.2.1",
                        "http://sambi.se/attributes/1/employeeHsaId"),
}
#: Longest attribute value kept (characters); longer values are treated as absent.
MAX_VALUE = 256


@dataclass(frozen=True)
class FederatedAttributes:
    """What an assertion says about its subject, normalised once: `person` the canonical
    personnummer or samordningsnummer (None when absent or invalid), names NFKC without surrounding
    whitespace, `employee_hsa_id` normalised (None when absent or invalid)."""

    person: PersonIdentifier | None
    given_name: str
    surname: str
    display_name: str
    employee_hsa_id: str | None


def _first(attributes: dict[str, list[str]], field: str) -> str:
    for name in NAMES[field]:
        for value in attributes.get(name, []):
            value = nfkc(value or "").strip()
            if value and len(value) <= MAX_VALUE:
                return value
    return ""


def map_attributes(attributes: dict[str, list[str]]) -> FederatedAttributes:
    """Map raw SAML attributes (name → values) to `FederatedAttributes`. The identity number is
    parsed to its canonical 12-digit form here, once, before any lookup (`121212+1212`,
    `19121212-1212` and `191212121212` are one person)."""
    person: PersonIdentifier | None
    try:
        person = parse_person_number(_first(attributes, "person_number"))
    except IdentifierError:
        person = None
    try:
        hsa_id: str | None = normalise_hsa_id(_first(attributes, "employee_hsa_id"))
    except IdentifierError:
        hsa_id = None
    return FederatedAttributes(
        person=person, given_name=_first(attributes, "given_name"),
        surname=_first(attributes, "surname"), display_name=_first(attributes, "display_name"),
        employee_hsa_id=hsa_id or None)
