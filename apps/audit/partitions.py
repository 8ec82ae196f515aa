"""Monthly partitions of the audit log on PostgreSQL (declarative range partitioning).

The table `audit_auditevent` is partitioned by `occurred_at`; each calendar month in UTC has its
own partition `audit_auditevent_pYYYY_MM` holding `[first instant of the month, first instant of
the next)`. A default partition `audit_auditevent_default` catches a row whose month has no
partition yet, so a late scheduler never makes an audited action fail; it is meant to stay empty
(docs/audit-log.md, "Partitions"). The append-only trigger and the digest trigger are defined on
the partitioned table, so PostgreSQL applies them to every partition, present and future.

SQLite keeps one ordinary table: every function here is a no-op or an empty answer there.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db import connection

TABLE = "audit_auditevent"
DEFAULT_PARTITION = f"{TABLE}_default"
_NAME = re.compile(rf"^{TABLE}_p(\d{{4}})_(\d{{2}})$")


@dataclass(frozen=True)
class Partition:
    """One monthly partition: its table name and the first day of its month (UTC)."""

    name: str
    month: dt.date

    @property
    def start(self) -> dt.datetime:
        """The partition's lower bound, inclusive (UTC)."""
        return month_start(self.month)

    @property
    def end(self) -> dt.datetime:
        """The partition's upper bound, exclusive (UTC): the first instant of the next month."""
        return month_start(next_month(self.month))


def is_partitioned() -> bool:
    """Whether the audit table is partitioned here (PostgreSQL; SQLite keeps one table)."""
    return connection.vendor == "postgresql"


def first_of_month(day: dt.date) -> dt.date:
    """The first day of `day`'s month."""
    return day.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    """The first day of the month after `month`'s."""
    month = first_of_month(month)
    return month.replace(year=month.year + 1, month=1) if month.month == 12 else month.replace(
        month=month.month + 1)


def month_start(month: dt.date) -> dt.datetime:
    """The first instant of `month` in UTC."""
    month = first_of_month(month)
    return dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC)


def partition_name(month: dt.date) -> str:
    """The table name of `month`'s partition, e.g. `audit_auditevent_p2026_11`."""
    return f"{TABLE}_p{month.year:04d}_{month.month:02d}"


def partition_list() -> list[Partition]:
    """The monthly partitions attached to the audit table, oldest first (the default partition
    is not listed). Empty on SQLite. One query."""
    if not is_partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass", [TABLE])
        names = [row[0] for row in cursor.fetchall()]
    found = []
    for name in names:
        match = _NAME.match(name)
        if match:
            found.append(Partition(name, dt.date(int(match[1]), int(match[2]), 1)))
    return sorted(found, key=lambda p: p.month)


def partition_create(month: dt.date) -> Partition:
    """Create `month`'s partition unless it exists; returns it. PostgreSQL only (RuntimeError
    elsewhere). Fails (psycopg2 CheckViolation) when the default partition already holds rows of
    that month: they must be moved by hand first (docs/audit-log.md, "Partitions")."""
    if not is_partitioned():
        raise RuntimeError("the audit log is partitioned only on PostgreSQL")
    partition = Partition(partition_name(month), first_of_month(month))
    with connection.cursor() as cursor:
        cursor.execute(
            f'CREATE TABLE IF NOT EXISTS "{partition.name}" PARTITION OF "{TABLE}" '
            "FOR VALUES FROM (%s) TO (%s)", [partition.start, partition.end])
    return partition


def partitions_ensure(first: dt.date, last: dt.date) -> list[Partition]:
    """Create every missing monthly partition from `first`'s month through `last`'s; returns
    those months' partitions. Nothing on SQLite."""
    if not is_partitioned():
        return []
    made = []
    month = first_of_month(first)
    while month <= first_of_month(last):
        made.append(partition_create(month))
        month = next_month(month)
    return made
