"""Reads of people."""

from __future__ import annotations

from apps.identities.identifiers import IdentifierError, parse_person_number
from apps.identities.models import Person


def person_get_by_number(person_number: str) -> Person | None:
    """The person with this personnummer/samordningsnummer (any accepted form), or None."""
    try:
        ident = parse_person_number(person_number)
    except IdentifierError:
        return None
    return Person.objects.filter(
        identity_numbers__root=ident.root, identity_numbers__extension=ident.extension
    ).first()
