"""Keyset pages (apps.core.paging): next and previous over a total order in either direction,
the same rows whichever way one walks, a capped count, and links that cannot be turned into
anything but the first page."""

from __future__ import annotations

import pytest

from apps.core.paging import capped_count, keyset_page
from apps.identities.models import Person

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    # Equal family names, so the order needs its later keys.
    return Person.objects.bulk_create(Person(given_name=f"G{i % 3}", family_name=f"F{i % 4}")
                                      for i in range(23))


@pytest.mark.parametrize("keys", [("family_name", "given_name", "id"),
                                  ("-family_name", "given_name", "-id"),
                                  ("-created_at", "-id")])
def test_walking_forward_then_back_gives_the_same_pages(people, keys):
    everyone = list(Person.objects.order_by(*keys))
    pages, after = [], ""
    while True:
        page = keyset_page(Person.objects.all(), keys, after=after, size=5)
        pages.append(page.rows)
        if page.next is None:
            break
        after = page.next
    assert [p for rows in pages for p in rows] == everyone
    assert [len(rows) for rows in pages] == [5, 5, 5, 5, 3]
    back = keyset_page(Person.objects.all(), keys, before=page.previous or "", size=5)
    assert back.rows == pages[-2] and back.next is not None
    start = keyset_page(Person.objects.all(), keys, size=5)
    assert start.start and start.previous is None and start.rows == pages[0]


@pytest.mark.parametrize("cursor", ["", "x", "W10", "eyJ4Ijoi", "WyJhIiwiYiJd",
                                    "WyJhIiwiYiIsIm5vdC1hLXV1aWQiXQ", "WzEsMiwzXQ",
                                    "WyJcdTAwMDAiLCJiIiwiMDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwIl0"])
def test_a_cursor_it_did_not_write_gives_the_first_page(people, cursor):
    page = keyset_page(Person.objects.all(), ("family_name", "given_name", "id"), after=cursor,
                       size=5)
    assert page.rows == list(Person.objects.order_by("family_name", "given_name", "id")[:5])
    assert page.reset == bool(cursor)


def test_the_count_stops_at_the_cap(people):
    found = capped_count(Person.objects.all(), 30)
    assert (found.count, found.more) == (23, False)
    found = capped_count(Person.objects.all(), 10)
    assert (found.count, found.more) == (10, True)


@pytest.mark.django_db
def test_a_cursor_of_the_longest_non_ascii_names_is_still_a_cursor():
    """Two names of 100 letters outside ASCII (each a six-character JSON escape) still make a
    cursor the page accepts."""
    from apps.core.paging import _decode, encode_position

    person = Person.objects.create(given_name="Å" * 100, family_name="Ö" * 100)
    keys = ("family_name", "given_name", "id")
    cursor = encode_position(person, keys)
    assert _decode(Person, keys, cursor) == ["Ö" * 100, "Å" * 100, person.pk]
