"""The audit log's months past the online window: exported, checked, detached, and kept until the
retention ends (docs/audit-log.md, "Retention and archive").

Rules: every month stays answerable online, attached to `audit_auditevent`, for
`PORTAL_AUDIT_ONLINE_MONTHS` (at least 18, the national log service's rules) after it ends, and
is kept for `PORTAL_AUDIT_RETENTION_YEARS` (at least 5, HSLF-FS 2016:40 4 kap. 9 §) after it
ends. A month past the online window is

1. exported (`export`): its rows in (occurred_at, id) order, one JSON object a line (the row as
   PostgreSQL's `to_jsonb` gives it, `row_hash` as hex), gzip-compressed, to
   `<PORTAL_AUDIT_ARCHIVE_DIR>/audit_auditevent_pYYYY_MM.jsonl.gz`, with a manifest beside it
   (`.manifest.json`: row count, first and last id and time, SHA-256 of the file and over the
   rows' digests in order), both written to disk (fsync) before anything else happens;
2. checked (`check`): the file is read again and must match its manifest, and every row's
   content must still give its `row_hash` (`audit_row_digest`, migration `audit/0005`);
3. detached (`partition_archive`): in one transaction, the partition is detached, renamed
   `audit_archived_pYYYY_MM` and kept in the database, and the detach is audited.

Only past the full retention, with its file still present and matching its manifest, is an
archived table dropped (`partition_drop`), audited likewise. Nothing is deleted earlier.
PostgreSQL only: SQLite keeps one table and has no month to archive.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import gzip
import hashlib
import json
import logging
import os
import re
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.audit import registry
from apps.audit.partitions import (
    ARCHIVED_DIGEST_SQL,
    DIGEST_SQL,
    TABLE,
    add_months,
    first_of_month,
    is_partitioned,
    month_start,
    next_month,
    partition_list,
    partition_name,
)
from apps.audit.policies import require_audit_archive
from apps.audit.services import AuditTarget, record
from apps.core.calls import service
from apps.core.errors import Conflict
from apps.core.files import write_atomically

logger = logging.getLogger(__name__)

#: The archive file's format and its version, recorded in every manifest.
FORMAT = "audit-jsonl-gzip/1"
#: The name an archived month's detached table takes.
ARCHIVED_PREFIX = "audit_archived_p"
_ARCHIVED_NAME = re.compile(rf"^{ARCHIVED_PREFIX}(\d{{4}})_(\d{{2}})$")
#: How long the detach or drop waits for the table's lock before it gives up: the waiting lock
#: would otherwise hold up every audited action behind it (PostgreSQL 15, 13.3.1).
LOCK_TIMEOUT = "10s"
#: Rows whose digest one query recomputes while checking a file.
CHECK_BATCH = 2000

#: Hooks adding facts to every manifest: each is called with the month (its first day) and returns
#: a JSON-serialisable dict merged into `Manifest.extra` (the seals of the month's days go here).
manifest_extra: list[Callable[[dt.date], dict[str, Any]]] = []
#: Checks run on an archive file before its month's table is dropped: each is called with the
#: manifest and the file's path and raises ArchiveRefused when the file does not hold (the file's
#: rows against the seals of the month's days, `apps.audit.integrity`).
drop_checks: list[Callable[[Manifest, Path], None]] = []


class ArchiveRefused(Conflict):
    """The archive, the detach or the drop was refused; `message` says why, `code` which rule.
    Messages are for the operator (the command's output, the worker's log), in English like the
    rest of them; no page shows them."""

    default_code = "audit_archive.refused"


@dataclasses.dataclass(frozen=True)
class Manifest:
    """What an archive file holds, written beside it as JSON. Times are ISO 8601 in UTC; digests
    are lowercase hex SHA-256: `file_sha256` of the compressed file as stored, `rows_sha256` over
    the rows' 32-byte `row_hash` values concatenated in (occurred_at, id) order. `first_*` and
    `last_*` are None for a month without rows."""

    month: str
    table: str
    file: str
    format: str
    rows: int
    first_id: str | None
    last_id: str | None
    first_occurred_at: str | None
    last_occurred_at: str | None
    file_sha256: str
    rows_sha256: str
    created_at: str
    software_version: str
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_json(self) -> str:
        """The manifest as stored: indented JSON with sorted keys and a final newline."""
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"


def archived_name(month: dt.date) -> str:
    """The name of `month`'s table once archived, e.g. `audit_archived_p2024_05`."""
    return f"{ARCHIVED_PREFIX}{month.year:04d}_{month.month:02d}"


def data_path(directory: Path, month: dt.date) -> Path:
    """Where `month`'s archive file lives in `directory`."""
    return Path(directory) / f"{partition_name(month)}.jsonl.gz"


def manifest_path(directory: Path, month: dt.date) -> Path:
    """Where `month`'s manifest lives in `directory`."""
    return Path(directory) / f"{partition_name(month)}.manifest.json"


def online_until(month: dt.date) -> dt.datetime:
    """The instant (UTC) from which `month` may leave the online log: its end plus
    `PORTAL_AUDIT_ONLINE_MONTHS`, so that every row in it is at least that old."""
    return month_start(add_months(next_month(month), settings.PORTAL_AUDIT_ONLINE_MONTHS))


def retained_until(month: dt.date) -> dt.datetime:
    """The instant (UTC) from which `month`'s rows may be deleted from the database: its end plus
    `PORTAL_AUDIT_RETENTION_YEARS`."""
    return month_start(add_months(next_month(month), 12 * settings.PORTAL_AUDIT_RETENTION_YEARS))


def archived_list() -> list[dt.date]:
    """The months whose detached tables are still in the database, oldest first. One query."""
    if not is_partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE %s "
                       "AND relnamespace = current_schema()::regnamespace",
                       [ARCHIVED_PREFIX + "%"])
        names = [row[0] for row in cursor.fetchall()]
    matches = [match for match in map(_ARCHIVED_NAME.match, names) if match]
    return sorted(dt.date(int(match[1]), int(match[2]), 1) for match in matches)


def months_due() -> list[dt.date]:
    """The attached months past the online window now, oldest first."""
    now = timezone.now()
    return [p.month for p in partition_list() if online_until(p.month) <= now]


def drops_due() -> list[dt.date]:
    """The archived months whose retention has ended now, oldest first."""
    now = timezone.now()
    return [month for month in archived_list() if retained_until(month) <= now]


def archive_preflight(month: dt.date, directory: Path) -> None:
    """Refuse (ArchiveRefused) what `partition_archive` would refuse before touching anything:
    `month` not yet ended (`_require_ended`), the audit log not partitioned (SQLite), `month`
    still inside the online window now, no
    attached partition for it, or `directory` not writable. `manage.py audit_archive --dry-run`
    runs it alone."""
    month = _require_ended(month)
    if not is_partitioned():
        raise ArchiveRefused("The audit log is partitioned only on PostgreSQL.",
                             code="audit_archive.not_partitioned")
    until = online_until(month)
    if until > timezone.now():
        raise ArchiveRefused(
            f"{month:%Y-%m} is inside the online window (PORTAL_AUDIT_ONLINE_MONTHS): it may be "
            f"archived from {until:%Y-%m-%d}.",
            code="audit_archive.online")
    if month not in {p.month for p in partition_list()}:
        gone = month in archived_list()
        raise ArchiveRefused(
            f"{month:%Y-%m} is already archived (table {archived_name(month)})." if gone else
            f"The audit log has no partition for {month:%Y-%m}.",
            code="audit_archive.archived" if gone else "audit_archive.no_partition")
    _require_writable(Path(directory))


def export(month: dt.date, directory: Path) -> Manifest:
    """Write `month`'s attached partition to `data_path(directory, month)` and its manifest to
    `manifest_path(directory, month)`; returns the manifest. Detaches nothing.

    The rows are streamed (a server-side cursor) in (occurred_at, id) order; the file is written
    under a temporary name, flushed to disk (fsync) and then renamed. gzip output is made
    reproducible (no name, time 0), so exporting the same rows again gives the same content: an
    existing file with the same rows is kept, one with other rows is refused (ArchiveRefused
    `audit_archive.file_differs`), as are a missing partition and an unwritable directory.
    """
    month = first_of_month(month)
    name = partition_name(month)
    if month not in {p.month for p in partition_list()}:
        raise ArchiveRefused(f"The audit log has no partition for {month:%Y-%m}.",
                             code="audit_archive.no_partition")
    directory = _require_writable(Path(directory))
    target = data_path(directory, month)
    summary = _Summary()
    with tempfile.NamedTemporaryFile(dir=directory, prefix=f".{target.name}.", delete=False) as raw:
        partial = Path(raw.name)
        try:
            hashing = _HashingWriter(raw)
            with gzip.GzipFile(filename="", mode="wb", fileobj=hashing, mtime=0,
                               compresslevel=6) as compressed:
                for line in _lines(name, summary):
                    compressed.write(line)
            raw.flush()
            os.fsync(raw.fileno())
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    if target.exists():
        same = _content_sha256(target) == summary.content.hexdigest()
        partial.unlink()
        if not same:
            raise ArchiveRefused(
                f"{target} already exists with other rows than {name} holds: move it away "
                "and find out why before archiving again.",
                code="audit_archive.file_differs")
        file_sha256 = _file_sha256(target)
    else:
        os.replace(partial, target)
        file_sha256 = hashing.digest.hexdigest()
    extra: dict[str, Any] = {}
    for hook in manifest_extra:
        extra.update(hook(month))
    manifest = Manifest(
        month=f"{month:%Y-%m}", table=name, file=target.name, format=FORMAT, rows=summary.rows,
        first_id=summary.first_id, last_id=summary.last_id,
        first_occurred_at=summary.first_at, last_occurred_at=summary.last_at,
        file_sha256=file_sha256, rows_sha256=summary.rows_digest.hexdigest(),
        created_at=timezone.now().astimezone(dt.UTC).isoformat(),
        software_version=software_version(), extra=extra)
    write_atomically(manifest_path(directory, month), manifest.to_json().encode())
    _fsync_directory(directory)
    return manifest


def manifest_read(directory: Path, month: dt.date) -> Manifest:
    """`month`'s manifest from `directory`. Raises ArchiveRefused (`audit_archive.no_manifest`)
    when it is missing or unreadable."""
    path = manifest_path(directory, first_of_month(month))
    try:
        return Manifest(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise ArchiveRefused(f"The manifest {path} is missing or unreadable: {exc}",
                             code="audit_archive.no_manifest") from exc


def check(manifest: Manifest, directory: Path) -> None:
    """Read the archive file in `directory` again and compare it with `manifest`: the file's
    SHA-256, the row count, the first and last id and time, the digest over the rows' `row_hash`
    values, and, row by row, that each row's content still gives its `row_hash` (recomputed by
    PostgreSQL's `audit_row_digest`). Raises ArchiveRefused (`audit_archive.mismatch`) naming the
    first difference found; returns None when everything matches."""
    path = Path(directory) / manifest.file
    if not path.is_file():
        raise _mismatch(path, "the file is missing")
    if _file_sha256(path) != manifest.file_sha256:
        raise _mismatch(path, "its SHA-256 is not the manifest's")
    summary = _Summary()
    try:
        with gzip.open(path, "rb") as lines:
            batch: list[str] = []
            for number, raw_line in enumerate(lines, start=1):
                text = raw_line.decode("utf-8")
                row = json.loads(text)
                summary.add(row["id"], dt.datetime.fromisoformat(row["occurred_at"]),
                            bytes.fromhex(row["row_hash"]))
                batch.append(text)
                if len(batch) == CHECK_BATCH:
                    _check_digests(path, batch, number - len(batch))
                    batch = []
            _check_digests(path, batch, summary.rows - len(batch))
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise _mismatch(path, f"it cannot be read ({exc})") from exc
    found = {"rows": summary.rows, "first_id": summary.first_id, "last_id": summary.last_id,
             "first_occurred_at": summary.first_at, "last_occurred_at": summary.last_at,
             "rows_sha256": summary.rows_digest.hexdigest()}
    for key, value in found.items():
        if getattr(manifest, key) != value:
            raise _mismatch(path, f"its {key} is {value}, the manifest says "
                                  f"{getattr(manifest, key)}")


@service
def partition_archive(*, actor: Any, month: dt.date, directory: Path | None = None) -> Manifest:
    """Archive `month` (its first day or any day in it): refuse as `archive_preflight` does,
    `export` it, `check` the file against its manifest, and only then, in one transaction, detach
    the partition (plain DETACH: DETACH CONCURRENTLY is impossible beside a default partition),
    rename it `archived_name(month)` with its append-only trigger, and record
    `audit_partition.archived` as `actor`. Returns the manifest.

    The detach takes an ACCESS EXCLUSIVE lock on the audit log for as long as it counts the
    month's rows again (they must still be the exported ones, else `audit_archive.changed`);
    audited actions wait meanwhile, and the lock is given up after `LOCK_TIMEOUT`
    (OperationalError: try again later). `directory` defaults to `PORTAL_AUDIT_ARCHIVE_DIR`.
    Raises Forbidden for anyone but the portal's system actors, ArchiveRefused otherwise.
    """
    require_audit_archive(actor)
    month = first_of_month(month)
    directory = Path(directory or settings.PORTAL_AUDIT_ARCHIVE_DIR)
    archive_preflight(month, directory)
    manifest = export(month, directory)
    check(manifest, directory)
    name, archived = partition_name(month), archived_name(month)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute(f'LOCK TABLE ONLY "{TABLE}" IN ACCESS EXCLUSIVE MODE')
        if month not in {p.month for p in partition_list()}:  # another run archived it meanwhile
            raise ArchiveRefused(f"{manifest.month} is already archived (table {archived}).",
                                 code="audit_archive.archived")
        _require_same_rows(name, manifest)
        cursor.execute(f'ALTER TABLE "{TABLE}" DETACH PARTITION "{name}"')
        cursor.execute(f'ALTER TABLE "{name}" RENAME TO "{archived}"')
        # A detached partition loses the triggers it had from the audit log; the archived table
        # stays append-only (docs/audit-log.md, "Partitions").
        cursor.execute(f'CREATE OR REPLACE TRIGGER audit_event_append_only BEFORE UPDATE OR '
                       f'DELETE ON "{archived}" FOR EACH ROW EXECUTE FUNCTION '
                       "audit_event_append_only()")
        record(actor=actor, action=registry.PARTITION_ARCHIVED.code,
               target=AuditTarget(type="audit.partition", id=archived, label=manifest.month),
               changes={"table": [name, archived], "rows": [None, manifest.rows],
                        "file": [None, manifest.file], "file_sha256": [None, manifest.file_sha256],
                        "rows_sha256": [None, manifest.rows_sha256]})
    logger.info("audit log month %s archived to %s (%s rows); table %s", manifest.month,
                manifest.file, manifest.rows, archived)
    return manifest


@service
def partitions_archive_due(*, actor: Any, directory: Path | None = None) -> list[Manifest]:
    """`partition_archive` every month past the online window (`months_due`), oldest first, each
    in its own transaction; returns their manifests. Stops at the first refusal (raised): the
    months after it wait for the next run. Run monthly by Celery beat
    (`apps.audit.tasks.audit_archive_due_task`)."""
    require_audit_archive(actor)
    return [partition_archive(actor=actor, month=month, directory=directory)
            for month in months_due()]


def drop_preflight(month: dt.date, directory: Path) -> Manifest:
    """Refuse (ArchiveRefused) what `partition_drop` would refuse before dropping: `month` not
    yet ended (`_require_ended`) or inside its retention now (`audit_archive.retention`), no
    archived table for it (`audit_archive.not_archived`), its manifest missing or its file not
    matching it (`check`, `drop_checks`).
    Returns the manifest. `manage.py audit_archive --drop --dry-run` runs it alone."""
    month = _require_ended(month)
    until = retained_until(month)
    if until > timezone.now():
        raise ArchiveRefused(
            f"{month:%Y-%m} is inside its retention (PORTAL_AUDIT_RETENTION_YEARS) until "
            f"{until:%Y-%m-%d}: nothing of it is deleted before.",
            code="audit_archive.retention")
    if month not in archived_list():
        raise ArchiveRefused(f"{month:%Y-%m} has no archived table {archived_name(month)}.",
                             code="audit_archive.not_archived")
    manifest = manifest_read(directory, month)
    check(manifest, directory)
    for hook in drop_checks:
        hook(manifest, Path(directory) / manifest.file)
    return manifest


@service
def partition_drop(*, actor: Any, month: dt.date, directory: Path | None = None) -> Manifest:
    """Drop `month`'s archived table once `drop_preflight` lets it (retention ended, the archive
    file in `directory`, default `PORTAL_AUDIT_ARCHIVE_DIR`, matching its manifest and the seals
    of the month's days, `drop_checks`) and the table still holds the manifest's rows, row by row
    (`_require_same_content`); in the same transaction record `audit_partition.dropped` as
    `actor`. Returns the manifest. Raises Forbidden for anyone but the portal's system actors,
    ArchiveRefused otherwise."""
    require_audit_archive(actor)
    month = first_of_month(month)
    directory = Path(directory or settings.PORTAL_AUDIT_ARCHIVE_DIR)
    manifest = drop_preflight(month, directory)
    archived = archived_name(month)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute(f'LOCK TABLE "{archived}" IN ACCESS EXCLUSIVE MODE')
        _require_same_rows(archived, manifest)
        _require_same_content(archived, manifest)
        cursor.execute(f'DROP TABLE "{archived}"')
        record(actor=actor, action=registry.PARTITION_DROPPED.code,
               target=AuditTarget(type="audit.partition", id=archived, label=manifest.month),
               changes={"table": [archived, None], "rows": [manifest.rows, None],
                        "file": [manifest.file, manifest.file]})
    logger.info("archived audit log month %s dropped from the database; kept in %s",
                manifest.month, manifest.file)
    return manifest


@functools.cache
def software_version() -> str:
    """The portal's version (pyproject.toml), recorded in manifests; "unknown" without it."""
    try:
        with open(Path(settings.BASE_DIR) / "pyproject.toml", "rb") as file:
            return str(tomllib.load(file)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


class _Summary:
    """Running facts over rows in order: count, first and last id and time, and the digests."""

    def __init__(self) -> None:
        self.rows = 0
        self.first_id: str | None = None
        self.last_id: str | None = None
        self.first_at: str | None = None
        self.last_at: str | None = None
        self.rows_digest = hashlib.sha256()
        self.content = hashlib.sha256()

    def add(self, row_id: object, occurred_at: dt.datetime, row_hash: bytes) -> None:
        at = occurred_at.astimezone(dt.UTC).isoformat()
        if self.rows == 0:
            self.first_id, self.first_at = str(row_id), at
        self.last_id, self.last_at = str(row_id), at
        self.rows += 1
        self.rows_digest.update(row_hash)


class _HashingWriter:
    """A binary file wrapper that hashes (SHA-256) what passes through it to the file."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.file.write(data)

    def flush(self) -> None:
        self.file.flush()


def _lines(table: str, summary: _Summary) -> Iterator[bytes]:
    """`table`'s rows as JSON lines in (occurred_at, id) order, streamed by a server-side cursor,
    each counted into `summary`. The session's time zone is set to UTC for the transaction."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL TIME ZONE 'UTC'")
        with connection.chunked_cursor() as rows:
            rows.execute(
                "SELECT jsonb_set(to_jsonb(a), '{row_hash}', "
                "coalesce(to_jsonb(encode(a.row_hash, 'hex')), 'null'))::text, "
                f'a.id, a.occurred_at, a.row_hash FROM "{table}" a ORDER BY a.occurred_at, a.id')
            for text, row_id, occurred_at, row_hash in rows:
                if row_hash is None:
                    raise ArchiveRefused(f"Row {row_id} of {table} has no digest (row_hash).",
                                         code="audit_archive.no_digest")
                summary.add(row_id, occurred_at, bytes(row_hash))
                line = text.encode("utf-8") + b"\n"
                summary.content.update(line)
                yield line


def _check_digests(path: Path, lines: list[str], offset: int) -> None:
    """Every line's content gives its `row_hash` (`audit_row_digest`); `offset` numbers them."""
    if not lines:
        return
    with connection.cursor() as cursor:
        # Each line is parsed once (`jsonb[]`) into an audit row `a`, whose digest is the one
        # the trigger computed (`partitions.DIGEST_SQL`).
        cursor.execute("SELECT n FROM unnest(%s::jsonb[]) WITH ORDINALITY AS t(line, n), "
                       "LATERAL jsonb_populate_record(NULL::audit_auditevent, t.line - 'row_hash') "
                       f"AS a WHERE encode({DIGEST_SQL}, 'hex') "
                       "IS DISTINCT FROM t.line->>'row_hash' ORDER BY n LIMIT 1", [lines])
        wrong = cursor.fetchone()
    if wrong:
        raise _mismatch(path, f"row {offset + wrong[0]} does not give its row_hash")


def _require_same_rows(table: str, manifest: Manifest) -> None:
    """`table` still holds the manifest's rows: its count and its first and last id."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT count(*), (SELECT id::text FROM "{table}" ORDER BY occurred_at, id LIMIT 1), '
            f'(SELECT id::text FROM "{table}" ORDER BY occurred_at DESC, id DESC LIMIT 1) '
            f'FROM "{table}"')
        rows, first_id, last_id = cursor.fetchone()
    if (rows, first_id, last_id) != (manifest.rows, manifest.first_id, manifest.last_id):
        raise ArchiveRefused(
            f"{table} no longer holds the rows of its archive file ({rows} rows, manifest "
            f"{manifest.rows}): archive it again.",
            code="audit_archive.changed")


def _require_same_content(table: str, manifest: Manifest) -> None:
    """`table` (an archived month) holds the manifest's rows row by row: SHA-256 over its rows'
    `row_hash` values in (occurred_at, id) order is the manifest's `rows_sha256`, and each row's
    `row_hash` is its recomputed digest (`partitions.ARCHIVED_DIGEST_SQL`). The file matches the
    manifest (`check`), so the file then holds the table's rows: a file rewritten with a row's
    digest recomputed and its manifest to match is refused (`audit_archive.changed`). Streams the
    rows by a server-side cursor; call it inside a transaction."""
    digest = hashlib.sha256()
    wrong = 0
    with connection.chunked_cursor() as rows:
        rows.execute(f"SELECT a.row_hash, a.row_hash IS DISTINCT FROM {ARCHIVED_DIGEST_SQL} "
                     f'FROM "{table}" a ORDER BY a.occurred_at, a.id')
        for row_hash, differs in rows:
            digest.update(bytes(row_hash or b""))
            wrong += bool(differs)
    if wrong or digest.hexdigest() != manifest.rows_sha256:
        raise ArchiveRefused(
            f"{table} and its archive file {manifest.file} do not hold the same rows "
            f"({wrong} rows of the table do not give their row_hash; rows digest "
            f"{'equal' if digest.hexdigest() == manifest.rows_sha256 else 'differs'}): keep "
            "both and find out why (docs/audit-log.md, \"What an alert means\").",
            code="audit_archive.changed")


def _require_ended(month: dt.date) -> dt.date:
    """`month`'s first day, when the month has ended (UTC); else ArchiveRefused
    (`audit_archive.not_ended`): a month to come holds nothing to archive or drop, and one near
    the end of the calendar has no online window or retention end to compute."""
    month = first_of_month(month)
    if month >= first_of_month(timezone.now().astimezone(dt.UTC).date()):
        raise ArchiveRefused(f"{month:%Y-%m} has not ended yet: only past months are archived or "
                             "dropped.", code="audit_archive.not_ended")
    return month


def _mismatch(path: Path, what: object) -> ArchiveRefused:
    return ArchiveRefused(f"The archive file {path} does not match its manifest: {what}.",
                          code="audit_archive.mismatch")


def _require_writable(directory: Path) -> Path:
    """Create `directory` if missing and write a probe file in it; ArchiveRefused
    (`audit_archive.not_writable`) when either fails (permissions, a read-only mount, a file
    in the way)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise ArchiveRefused(f"The archive directory {directory} is not writable: {exc}",
                             code="audit_archive.not_writable") from exc
    return directory


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _content_sha256(path: Path) -> str:
    """SHA-256 of the uncompressed content of a gzip file; "" when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
    except (OSError, EOFError):
        return ""
    return digest.hexdigest()


def _fsync_directory(directory: Path) -> None:
    """Make the renames in `directory` durable (POSIX: fsync the directory)."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
