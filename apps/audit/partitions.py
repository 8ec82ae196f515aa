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
import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

TABLE = "audit_auditevent"
DEFAULT_PARTITION = f"{TABLE}_default"
#: The canonical digest of the audit row aliased `a` (migration 0005, docs/audit-log.md, "The row
#: digest"): compare it with `a.row_hash`, or fold it into a chain.
DIGEST_SQL = "audit_row_digest(a)"
#: The same digest of a row `a` of a detached month (`audit_archived_pYYYY_MM`, apps.audit.archive),
#: whose row type is its own: cast to the audit log's row type (same columns, same order).
ARCHIVED_DIGEST_SQL = f"audit_row_digest(ROW(a.*)::{TABLE})"
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


def add_months(month: dt.date, count: int) -> dt.date:
    """The first day of the month `count` months after `month`'s (before it when negative)."""
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


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


#: The most rows `default_partition_rows` counts, so that a check stays cheap however full the
#: default partition has become.
DEFAULT_ROWS_COUNTED = 1000


def default_partition_rows() -> int:
    """How many rows the default partition holds, counted up to `DEFAULT_ROWS_COUNTED`; 0 on
    SQLite. One query."""
    if not is_partitioned():
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM (SELECT 1 FROM "{DEFAULT_PARTITION}" LIMIT %s) s',
                       [DEFAULT_ROWS_COUNTED])
        return int(cursor.fetchone()[0])


def partitions_upkeep(today: dt.date | None = None) -> list[Partition]:
    """Create the partitions of `today`'s month (UTC, default the current day) and of the
    `PORTAL_AUDIT_PARTITION_MONTHS_AHEAD` months after it where missing, so that no write waits
    for them; log at ERROR a month whose partition cannot be made (the default partition holds
    rows of it) and rows in the default partition (docs/audit-log.md, "Partition upkeep").
    Returns the partitions made or found; nothing on SQLite. Run daily by Celery beat
    (`apps.audit.tasks.audit_partitions_upkeep_task`)."""
    if not is_partitioned():
        return []
    month = first_of_month(today or timezone.now().date())
    made = []
    for _ in range(settings.PORTAL_AUDIT_PARTITION_MONTHS_AHEAD + 1):
        try:
            with transaction.atomic():
                made.append(partition_create(month))
        except DatabaseError as exc:
            logger.error("the audit log's partition for %s cannot be made: %s", f"{month:%Y-%m}",
                         exc)
        month = next_month(month)
    held = default_partition_rows()
    if held:
        logger.error("the audit log's default partition %s holds rows (%s%s): move them into "
                     "their months' partitions (docs/audit-log.md, \"Partitions\")",
                     DEFAULT_PARTITION, held, " or more" if held >= DEFAULT_ROWS_COUNTED else "")
    return made


def partitions_problems(today: dt.date | None = None) -> list[str]:
    """What is wrong with the audit log's partitions, for the operator (readiness): a missing
    partition for `today`'s month (UTC, default the current day) or the next, and rows in the
    default partition. Each is a sentence in English; empty when all is well and on SQLite.
    Neither stops a write (the default partition takes the rows), but both need the operator:
    the upkeep task has not run, or rows must be moved (docs/audit-log.md, "Partition upkeep").
    Two queries."""
    if not is_partitioned():
        return []
    today = today or timezone.now().date()
    present = {partition.month for partition in partition_list()}
    problems = [f"no audit log partition for {label} month ({month:%Y-%m})"
                for label, month in (("this", first_of_month(today)), ("next", next_month(today)))
                if month not in present]
    held = default_partition_rows()
    if held:
        more = " or more" if held >= DEFAULT_ROWS_COUNTED else ""
        problems.append(f"the audit log's default partition holds rows ({held}{more})")
    return problems
