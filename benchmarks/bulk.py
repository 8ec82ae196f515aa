"""Bulk loading for the figures at scale (PostgreSQL only): rows streamed by COPY from generated
CSV lines, deterministic ids, and the secondary indexes to drop before a load and build after it
(PostgreSQL manual, "Populating a Database": COPY, indexes built after the data)."""

from __future__ import annotations

import io
from collections.abc import Iterator

from django.db import connection

#: NULL in the CSV lines `copy_rows` sends.
NULL = "\\N"


def row_uuid(table: int, n: int) -> str:
    """A UUID for row `n` of a seeded table (`table` 1..2**32-1): ids follow the load order."""
    return f"{table:08x}-0000-4000-8000-{n:012x}"


class CopyStream(io.TextIOBase):
    """A file over generated CSV lines for psycopg2's copy_expert (read() gives the next batch of
    5,000 lines); `rows` counts the lines read."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines
        self.rows = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        batch = []
        for line in self.lines:
            batch.append(line)
            if len(batch) == 5000:
                break
        self.rows += len(batch)
        return "".join(batch)


def copy_rows(table: str, columns: str, lines: Iterator[str]) -> int:
    """COPY `lines` (CSV, NULL written `NULL`) into `table`'s `columns` (comma-separated); returns
    the rows. Into a partitioned table, PostgreSQL routes each row to its partition."""
    stream = CopyStream(lines)
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", stream)
    return stream.rows


def secondary_indexes(tables: list[str]) -> list[tuple[str, str]]:
    """(name, definition) of the indexes of `tables` that back no constraint (on a partitioned
    table, its partitioned indexes: dropping one drops its partitions' indexes, and the definition
    builds them all again)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)", [tables])
        return [(name, definition.replace(" ON ONLY ", " ON "))
                for name, definition in cursor.fetchall()]
