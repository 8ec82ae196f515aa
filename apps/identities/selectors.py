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


#: At most this many words of a name search are used: a name has few parts, and every word is
#: one more condition over every candidate row (a hundred one-letter words cost seconds).
NAME_WORDS_MAX = 5


def name_search_words(text: str) -> list[str]:
    """The words of a name search that narrow it, at most `NAME_WORDS_MAX`, in the order typed:
    a word repeated, or implied by a longer one (a word of three letters or more inside another
    word, a shorter one at the start of another), adds nothing and is left out; words past the
    limit are ignored."""
    unique = list({word.lower(): word for word in reversed(text.split())}.items())[::-1]
    words = [word for folded, word in unique
             if not any(_implied(folded, other) for other, _ in unique if other != folded)]
    return words[:NAME_WORDS_MAX]


def _implied(word: str, other: str) -> bool:
    """Whether every name that `other` matches is matched by `word` too (both in lower case)."""
    if len(word) >= INFIX_MIN_LENGTH:
        return word in other
    return other.startswith(word)


def person_name_q(text: str, *, staff_only: bool = False) -> Q:
    """A Q on Person matching when every word of `text` (already NFKC-normalised;
    `name_search_words`) is part of the given or family name: each word narrows ("anna svensson"
    is Anna Svensson, not every Anna and every Svensson). On PostgreSQL in any case and without
    regard to accents ("asa" finds "Åsa", "Ostlund" finds "Östlund": docs/decisions.md,
    "Search: accents"); with `staff_only`, among staff (`Person.is_staff`) through the partial
    trigram index `person_name_trgm` (migrations 0005 and 0006), otherwise among everyone
    (a scan: for narrowing a set found otherwise, such as the audit search's); a word of
    one or two letters matches the start of a name. Elsewhere (SQLite) each word is a part of
    either name, case-insensitive for ASCII letters only (SQLite's LIKE). No words: everyone."""
    q = Q()
    words = name_search_words(text)
    if connection.vendor != "postgresql":
        for word in words:
            q &= Q(given_name__icontains=word) | Q(family_name__icontains=word)
        return q
    if words and staff_only:
        q &= Q(is_staff=True)  # the trigram index covers only staff (migration 0006)
    for word in words:
        folded = SearchFold(Value(word))
        pattern = folded if len(word) >= INFIX_MIN_LENGTH else Concat(
            Value(" "), folded, output_field=TextField())
        q &= Q(Contains(person_search_name(), pattern))
    return q
