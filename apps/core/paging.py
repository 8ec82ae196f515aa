"""Keyset pagination and capped counts: how every list of the portal pages through tables that
grow without end (people, audit events, blocks, provisioning jobs) at the same cost on every page
(docs/search-and-lists.md).

A page is read as "the `size` rows after (or before) this position in a total order", one
statement with a LIMIT that the database answers from an index range; there is no OFFSET (which
reads and throws away every earlier row) and no total COUNT (which reads every matching row on
every page). Where a page says how many match, it counts at most `COUNT_CAP` rows and says "more
than" past that.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import F, Field, Func, Model, OrderBy, Q, QuerySet, Value
from django.db.models.lookups import GreaterThan, LessThan
from django.http import HttpRequest
from django.utils.translation import gettext as _

M = TypeVar("M", bound=Model)

#: Counts shown on list pages stop here: "More than 1,000 matches" (docs/search-and-lists.md).
COUNT_CAP = 1_000


@dataclass(frozen=True)
class Count:
    """How many rows match, read no further than a cap: `count` (at most the cap) and `more`
    when there are more than that."""

    count: int
    more: bool


def capped_count(queryset: QuerySet[Any], cap: int = COUNT_CAP) -> Count:
    """How many rows `queryset` holds, reading at most `cap + 1` of them (one statement: a
    `COUNT(*)` over a LIMITed subquery, so the cost stops at the cap however large the table)."""
    found = queryset.order_by().values("pk")[:cap + 1].count()
    return Count(min(found, cap), found > cap)


@dataclass(frozen=True)
class Page(Generic[M]):
    """One page of a keyset-paginated list: its `rows` in list order, the cursor of the next
    page (`next`, for `?after=`) and of the previous one (`previous`, for `?before=`), None at
    either end. `start` is true when the page was read from the start of the list (no cursor);
    `reset` when the cursor asked for was not one a page wrote, so the first page is shown
    instead (the page should say so)."""

    rows: list[M]
    next: str | None
    previous: str | None
    start: bool = True
    reset: bool = False

    def __iter__(self) -> Iterator[M]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def _encode(values: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode(
        ).rstrip("=")


#: A cursor is at most this long: the keys' values of one row in base64 (two names of at most 100
#: characters, each non-ASCII one written as a six-character JSON escape, and a UUID fit).
CURSOR_MAX_LENGTH = 4096


def _storable(value: str) -> bool:
    """Text a database can compare: no NUL (PostgreSQL refuses it in text) and no lone
    surrogate (not encodable as UTF-8)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _decode(model: type[Model], keys: Sequence[str], cursor: str) -> list[Any]:
    """The key values a cursor holds, each converted by its model field; ValueError for anything
    `_encode` did not write for these keys (a cursor only says where to continue: the caller's
    filters apply on every page, so a crafted one shows nothing more)."""
    if len(cursor) > CURSOR_MAX_LENGTH:
        raise ValueError("not a page cursor")
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as error:
        raise ValueError("not a page cursor") from error
    if (not isinstance(values, list) or len(values) != len(keys)
            or not all(isinstance(value, str) and _storable(value) for value in values)):
        raise ValueError("not a page cursor")
    converted = []
    for key, value in zip(keys, values, strict=True):
        field = model._meta.get_field(key.lstrip("-"))
        if not isinstance(field, Field):
            raise FieldDoesNotExist(key)  # a key is a concrete field (a programming error)
        try:
            converted.append(field.to_python(value))
        except ValidationError as error:
            raise ValueError("not a page cursor") from error
    return converted


class _Row(Func):
    """A SQL row value `(a, b, c)`: compared as a whole (SQL:2016 row comparison), PostgreSQL
    starts its range on a multicolumn B-tree index exactly at the position, where the comparison
    written out key by key would make it read and filter every row equal on the first key."""

    template = "(%(expressions)s)"
    output_field = Field()


def _beyond(model: type[Model], keys: Sequence[str], values: list[Any], forward: bool) -> Q:
    """Rows strictly after `values` in the order `keys` (`forward`) or strictly before them. When
    every key has one direction, one row comparison `(k1, k2, ...) > (v1, v2, ...)`; otherwise the
    lexicographic comparison written out (k1 > v1 OR k1 = v1 AND k2 > v2 ...), plus a bound on
    the first key alone so the database starts its index range at the position."""
    def lookup(key: str, inclusive: bool = False) -> str:
        ascending = not key.startswith("-")
        return f"{key.lstrip('-')}__{'g' if ascending == forward else 'l'}{'te' if inclusive else 't'}"

    directions = {key.startswith("-") for key in keys}
    if len(directions) == 1:
        names = [key.lstrip("-") for key in keys]
        compare = GreaterThan if (directions == {False}) == forward else LessThan
        return Q(compare(_Row(*(F(name) for name in names)), _Row(*(
            Value(value, output_field=model._meta.get_field(name))  # type: ignore[arg-type]
            for name, value in zip(names, values, strict=True)))))
    q = Q(pk__in=[])
    for i, key in enumerate(keys):
        equal = {k.lstrip("-"): v for k, v in zip(keys[:i], values[:i], strict=True)}
        q |= Q(**equal, **{lookup(key): values[i]})
    return q & Q(**{lookup(keys[0], inclusive=True): values[0]})


def _ordering(keys: Sequence[str], sort_matches: bool) -> list[OrderBy]:
    """ORDER BY `keys`; with `sort_matches`, with the nulls on the side a B-tree index does not
    give (ASC NULLS FIRST, DESC NULLS LAST): the keys are never null, so the order is the same,
    but PostgreSQL can no longer walk the list's index in order filtering row by row (which reads
    the whole list when the matches sort late, e.g. every "Svensson"); it finds the matches
    through their own index and sorts them (docs/search-and-lists.md, "Sorting the matches")."""
    return [OrderBy(F(key.lstrip("-")), descending=key.startswith("-"),
                    nulls_first=sort_matches and not key.startswith("-") or None,
                    nulls_last=sort_matches and key.startswith("-") or None) for key in keys]


def encode_position(row: Model, keys: Sequence[str]) -> str:
    """The cursor of `row`'s position in the order `keys` (what `keyset_page` writes in its
    Next and Previous links): URL-safe base64 of a JSON list of the keys' values as text."""
    return _encode([str(getattr(row, key.lstrip("-"))) for key in keys])


def keyset_page(queryset: QuerySet[M], keys: Sequence[str], *, after: str = "", before: str = "",
                size: int, sort_matches: bool = False) -> Page[M]:
    """One page of `queryset` in the order `keys` (field names of its model, `-` for
    descending; the last one unique, e.g. `("family_name", "given_name", "id")` or
    `("-occurred_at", "-id")`; none of them null): at most `size` rows strictly after the cursor
    `after`, or strictly before the cursor `before`, or from the start. One statement (plus the
    queryset's own prefetches). The order needs an index over `keys` to cost the same on every
    page. `sort_matches`: the rows are few or found through another index (a search), so sort
    them rather than walk the order's index (`_ordering`). A cursor that is not one this
    function wrote gives the first page with `reset`."""
    model = queryset.model
    cursor, forward = (after, True) if after else (before, False) if before else ("", True)
    reset = False
    if cursor:
        try:
            queryset = queryset.filter(_beyond(model, keys, _decode(model, keys, cursor), forward))
        except ValueError:
            cursor, forward, reset = "", True, True
    order = list(keys) if forward else [k[1:] if k.startswith("-") else f"-{k}" for k in keys]
    rows = list(queryset.order_by(*_ordering(order, sort_matches))[:size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if not forward:
        rows.reverse()

    def position(row: M) -> str:
        return encode_position(row, keys)

    has_next = bool(rows) and (more if forward else True)
    has_previous = bool(rows) and (bool(cursor) if forward else more)
    return Page(rows, position(rows[-1]) if has_next else None,
                position(rows[0]) if has_previous else None, start=not cursor, reset=reset)


def keyset_page_for_request(request: HttpRequest, queryset: QuerySet[M], keys: Sequence[str], *,
                            size: int, sort_matches: bool = False) -> Page[M]:
    """`keyset_page` at the cursor of the request's `?after=` or `?before=` (the links of
    templates/_keyset_nav.html); when the cursor is not one a page wrote, the first page, with a
    message saying so."""
    page = keyset_page(queryset, keys, after=request.GET.get("after", ""),
                       before=request.GET.get("before", ""), size=size,
                       sort_matches=sort_matches)
    if page.reset:
        messages.warning(request, _("The page link was not valid, so the first page is shown."))
    return page
