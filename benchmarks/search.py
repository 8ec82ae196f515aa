"""People search and list figures (docs/search-and-lists.md, "Figures"): the administrator's
people search and the people list at scale, and the plans PostgreSQL chooses for them. Prints,
never asserts.

Run by hand on an empty PostgreSQL database (or one this script seeded before; its people are
reused): `DATABASE_URL=postgres://…/<db> python -m benchmarks.search [PEOPLE]` (default 50,000).
It migrates, loads the demo region (`apps.demo.seed`) and adds PEOPLE staff members in bulk (rows
only, not through the services: a person, a personnummer, an employee HSA-id at a random care
unit and a login account each), then times each search (`person_search_in_scope` with its capped
count and first keyset page, as `person_list` reads them) p50 and p95 in milliseconds over 20
runs, prints the SQL statements per page and EXPLAIN of the reads.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    import django

    django.setup()

import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import date, timedelta  # noqa: E402
from typing import Any  # noqa: E402

from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from apps.commissions.models import Employee  # noqa: E402
from apps.commissions.selectors import PERSON_KEYS, person_search_in_scope  # noqa: E402
from apps.core.paging import _ordering, capped_count, keyset_page  # noqa: E402
from apps.demo import seed  # noqa: E402
from apps.identities.identifiers import OID_PERSONNUMMER, make_person_number  # noqa: E402
from apps.identities.models import IdentityNumber, Person, User  # noqa: E402
from apps.organisations.models import Organisation  # noqa: E402

GIVEN = ["Anna", "Åsa", "Erik", "Lars", "Karin", "Maria", "Johan", "Eva", "Per", "Lena", "Nils",
         "Ingrid", "Björn", "Märta", "Göran", "Sofia", "Oskar", "Elin", "Ahmed", "Fatima", "José"]
FAMILY = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
          "Persson", "Svensson", "Gustafsson", "Öberg", "Ek", "Åberg", "Lindqvist", "Ström",
          "Berg", "Hussein", "García", "Nyström", "Sjöberg", "Holm", "Björk", "Lundgren"]
BATCH = 10_000


def add_people(count: int) -> None:
    """`count` staff members in bulk at random care units of the demo region."""
    rng = random.Random(7)
    units = list(Organisation.objects.filter(is_care_unit=True))
    born = date(1921, 1, 1)  # before every demo person
    for start in range(0, count, BATCH):
        people, numbers, employees, users = [], [], [], []
        for i in range(start, min(start + BATCH, count)):
            person = Person(id=uuid.uuid4(), given_name=rng.choice(GIVEN),
                            family_name=rng.choice(FAMILY))
            people.append(person)
            numbers.append(IdentityNumber(
                person=person, root=OID_PERSONNUMMER,
                extension=make_person_number(born + timedelta(days=i // 1000), i % 1000)))
            employees.append(Employee(person=person, hsa_id=f"SE2321000016-B{i:07d}",
                                      organisation=rng.choice(units)))
            users.append(User(person=person, username=f"bench.{i}", kind=User.Kind.STAFF))
        Person.objects.bulk_create(people)
        IdentityNumber.objects.bulk_create(numbers)
        Employee.objects.bulk_create(employees)
        User.objects.bulk_create(users)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def timed(fn: Callable[[], Any], repeat: int = 20) -> tuple[float, float]:
    """p50 and p95 of `fn` in milliseconds over `repeat` runs (after one warm-up)."""
    fn()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    runs.sort()
    return statistics.median(runs), runs[int(len(runs) * 0.95) - 1]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    call_command("migrate", verbosity=0)
    seed.seed()
    if not User.objects.filter(username="bench.0").exists():
        started = time.perf_counter()
        add_people(count)
        print(f"seeded {count:,} people in {time.perf_counter() - started:.0f} s")
    region = Organisation.objects.order_by("path").first()
    assert region is not None
    roots = [region]
    sample = Person.objects.filter(employees__hsa_id__startswith="SE2321000016-B").prefetch_related(
        "identity_numbers", "employees").first()
    assert sample is not None
    number = sample.person_number
    unit = sample.employees.all()[0].organisation
    queries = {
        "everyone": "",
        "one name word (svensson)": "svensson",
        "two name words (anna svensson)": "anna svensson",
        "accent-insensitive (asa oberg)": "asa oberg",
        "short word (ek)": "ek",
        "rare infix (ndqvi)": "ndqvi",
        "personnummer 12 digits": number.replace("-", ""),
        "personnummer 10 digits with +": number[2:].replace("-", "+"),
        "employee HSA-id, lower case": sample.employees.all()[0].hsa_id.lower(),
        "organisation HSA-id": unit.hsa_id,
        "username": User.objects.filter(person=sample).values_list("username", flat=True)[0],
    }

    def page(query: str, after: str = "") -> Any:
        people = person_search_in_scope(roots, query)
        return capped_count(people), keyset_page(people, PERSON_KEYS, after=after, size=25,
                                                 sort_matches=bool(query))

    print(f"people: {Person.objects.count():,}")
    for label, query in queries.items():
        reset_queries()
        p50, p95 = timed(lambda q=query: page(q))  # type: ignore[misc]
        with CaptureQueriesContext(connection) as captured:
            found, first = page(query)
        shown = f"more than {found.count:,}" if found.more else f"{found.count:,}"
        print(f"{label:38} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
              f"{len(captured.captured_queries)} statements, {shown} found")
    deep = ""
    for _ in range(40):
        deep = page("", deep)[1].next or ""
    p50, p95 = timed(lambda: page("", deep))
    print(f"{'everyone, page 41':38} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
    for label in ("two name words (anna svensson)", "personnummer 12 digits",
                  "employee HSA-id, lower case", "everyone"):
        people = person_search_in_scope(roots, queries[label])
        print(f"\nEXPLAIN ANALYZE {label}, count:\n"
              f"{people.order_by().values('pk')[:1001].explain(analyze=True)}")
        ordering = _ordering(PERSON_KEYS, sort_matches=bool(queries[label]))
        print(f"\nEXPLAIN ANALYZE {label}, page:\n"
              f"{people.order_by(*ordering)[:26].explain(analyze=True)}")


if __name__ == "__main__":
    main()
