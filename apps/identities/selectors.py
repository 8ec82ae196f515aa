"""Reads of people."""

from __future__ import annotations

from django.db import connection
from django.db.models import Q, TextField, Value
from django.db.models.functions import Concat
from django.db.models.lookups import Contains

from apps.identities.identifiers import IdentifierError, parse_person_number
from apps.identities.models import Person, SearchFold, person_search_name


def person_get_by_number(person_number: str) -> Person | None:
    """The person with this personnummer/samordningsnummer (any accepted form), or None."""
    try:
        ident = parse_person_number(person_number)
    except IdentifierError:
        return None
    return Person.objects.filter(
        identity_numbers__root=ident.root, identity_numbers__extension=ident.extension
    ).first()


#: Name words shorter than this match the start of a given or family name only: a trigram index
#: can find three letters anywhere but fewer only at the start of a word (pg_trgm pads words).
INFIX_MIN_LENGTH = 3


def person_name_q(text: str) -> Q:
    """A Q on Person matching when every word of `text` (already NFKC-normalised) is part of the
    given or family name: each word narrows ("anna svensson" is Anna Svensson, not every Anna
    and every Svensson). On PostgreSQL in any case and without regard to accents ("asa" finds
    "Åsa", "Ostlund" finds "Östlund": docs/decisions.md, "Search: accents"), through the trigram
    index `person_name_trgm` (migration 0005); a word of one or two letters matches the start of
    a name. Elsewhere (SQLite) each word is a case-insensitive part of either name. No words:
    everyone."""
    q = Q()
    if connection.vendor != "postgresql":
        for word in text.split():
            q &= Q(given_name__icontains=word) | Q(family_name__icontains=word)
        return q
    for word in text.split():
        folded = SearchFold(Value(word))
        pattern = folded if len(word) >= INFIX_MIN_LENGTH else Concat(
            Value(" "), folded, output_field=TextField())
        q &= Q(Contains(person_search_name(), pattern))
    return q
