"""`make bench`: figures for the portal's hot paths on the demo region. Prints, never asserts.

Uses a throw-away SQLite database under a temporary folder unless DATABASE_URL is set (then that
database must be empty or hold only the demo region).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
_tmp = tempfile.mkdtemp(prefix="portal-bench-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_tmp}/bench.sqlite3")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from apps.audit import context  # noqa: E402
from apps.commissions.policies import scope_roots  # noqa: E402
from apps.commissions.selectors import person_search_in_scope  # noqa: E402
from apps.core.actors import SYSTEM  # noqa: E402
from apps.demo import seed  # noqa: E402
from apps.identities.identifiers import parse_person_number  # noqa: E402


def measure(name: str, fn: Callable[[], object], repeat: int = 50) -> None:
    """Run `fn` `repeat` times; print median and p95 in milliseconds and queries per call."""
    fn()
    times = []
    with CaptureQueriesContext(connection) as queries:
        fn()
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    print(f"{name:48} median {statistics.median(times):8.3f} ms   p95 {p95:8.3f} ms   "
          f"{len(queries.captured_queries):3d} queries")


def main() -> None:
    call_command("migrate", verbosity=0)
    start = time.perf_counter()
    with context.acting_as(context.system("bench")):
        loaded = seed.seed()
    if loaded:
        print(f"{'demo region load (through the services)':48} {time.perf_counter() - start:8.2f} s")
    roots = scope_roots(SYSTEM)
    measure("person search, empty query, first page of 25",
            lambda: list(person_search_in_scope(roots)[:25]))
    measure("person search by family name", lambda: list(person_search_in_scope(roots, "Berg")[:25]))
    measure("person search by personnummer",
            lambda: list(person_search_in_scope(roots, "19121212-1212")[:25]))
    measure("parse_person_number", lambda: parse_person_number("19121212-1212"), repeat=2000)
    reset_queries()
    print(f"database: {connection.vendor}")


if __name__ == "__main__":
    main()
