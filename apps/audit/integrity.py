"""Tamper evidence of the audit log: per-day hash chains sealed by the scheduler, signed with a key
kept outside the database, and `verify` (docs/audit-log.md, "Tamper evidence").

Writers only INSERT: each row's digest `row_hash` is set by a trigger in the same INSERT
(migration 0005), and nothing orders or serialises concurrent writers. The chain is built later,
per UTC day, in the order (occurred_at, id), by the sealer (`day_seal`, run by Celery beat through
`seal_due`) once the day has ended and `PORTAL_AUDIT_SEAL_GRACE_SECONDS` have passed, so no
transaction that could still add a row of that day is open. The chain of a day:

    c_0 = genesis(day) = SHA-256(DOMAIN || 0x00 || "YYYY-MM-DD")
    c_i = SHA-256(c_(i-1) || row_hash_i)

is stored in `AuditSeal` chunks of up to `CHUNK_ROWS` rows, each signed with Ed25519 (RFC 8032)
over `seal_message`. `verify` recomputes every row's digest in SQL (`audit_row_digest`) and checks
it against the sealed chain. PostgreSQL only: on SQLite there is no digest, no sealing and no
verification (`available()` is False).
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import hashlib
import json
import logging
import os
import struct
import uuid
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.mail import mail_admins
from django.db import connection, transaction
from django.utils import timezone

from apps.audit import archive
from apps.audit.models import AuditEvent, AuditSeal
from apps.audit.partitions import (
    ARCHIVED_DIGEST_SQL,
    DIGEST_SQL,
    TABLE,
    first_of_month,
    next_month,
    partition_list,
)
from apps.audit.policies import require_audit_integrity
from apps.audit.registry import AUDIT_DAY_SEALED, AUDIT_VERIFIED
from apps.audit.services import AuditTarget, record
from apps.core.actors import SystemActor
from apps.core.calls import service
from apps.core.files import write_atomically

logger = logging.getLogger(__name__)

#: Domain separation of the chain's genesis value and of the signed message (version 1).
DOMAIN = b"iam-portal audit chain v1"
#: Rows per seal: 10,000 rows pack into 160 kB of ids and 320 kB of chain values.
CHUNK_ROWS = 10_000
#: Rows read per query (one packed bytea each, `_rows`).
FETCH_ROWS = 20_000
#: First key of the transaction-level advisory lock taken per day by the sealer (the second is
#: the day's ordinal), so two sealers never seal one day twice.
LOCK_SPACE = 0x41554454  # "AUDT"
#: Days verified at once, each by a thread with its own database connection (`verify`).
VERIFY_WORKERS = min(4, os.cpu_count() or 1)
#: Findings listed in an alert e-mail; the rest are counted.
ALERT_LISTED = 50

class Kind(StrEnum):
    """What `verify` found."""

    #: A row whose content no longer matches its sealed chain value, or its own `row_hash`.
    CHANGED = "changed"
    #: A sealed row that is gone.
    REMOVED = "removed"
    #: A row of a sealed day that the seal does not hold.
    INSERTED = "inserted"
    #: A seal that does not hold: bad signature, unknown key, broken link, missing chunk.
    SEAL = "seal"
    #: A closed day past its grace that was never sealed.
    UNSEALED = "unsealed"


@dataclass(frozen=True)
class Finding:
    """One finding: its `kind`, the UTC `day`, the row's `event_id` and `occurred_at` (None for a
    seal finding; `occurred_at` None for a removed row) and a `detail` in English for operators."""

    kind: Kind
    day: dt.date
    event_id: uuid.UUID | None = None
    occurred_at: dt.datetime | None = None
    detail: str = ""

    def __str__(self) -> str:
        at = self.occurred_at.isoformat() if self.occurred_at else "-"
        return f"{self.kind.upper()} day={self.day} id={self.event_id or '-'} at={at} {self.detail}"


@dataclass
class Report:
    """The outcome of `verify` over [first_day, last_day] (UTC): rows checked, days checked (sealed
    days whose rows were read), of those the days of archived months (read from their detached
    table `audit_archived_pYYYY_MM`, not the live log) and the findings, in day order. `ok` when
    there is none."""

    first_day: dt.date
    last_day: dt.date
    rows_checked: int = 0
    days_checked: int = 0
    days_archived: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


class SealKeyError(RuntimeError):
    """The sealing key file (`PORTAL_AUDIT_SEAL_KEY_FILE`) is missing, unreadable or not an
    Ed25519 private key; the message names the file and what to do (docs/audit-log.md, "Keys")."""


def available() -> bool:
    """Whether tamper evidence exists here: PostgreSQL, where rows carry their digest."""
    return connection.vendor == "postgresql"


# --- Keys ----------------------------------------------------------------------------------------

def _key_file() -> Path:
    return Path(settings.PORTAL_AUDIT_SEAL_KEY_FILE)


def _public_folder() -> Path:
    return Path(settings.PORTAL_AUDIT_SEAL_PUBLIC_KEY_DIR)


def key_id(public: Ed25519PublicKey) -> str:
    """The key id: the first 16 bytes of SHA-256 of the raw public key (RFC 8032 5.1.5), hex."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def _publish(private: Ed25519PrivateKey) -> str:
    """Keep `private`'s public key as `<key id>.pub.pem` in the public folder; its key id."""
    public = private.public_key()
    kid = key_id(public)
    path = _public_folder() / f"{kid}.pub.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomically(path, public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)
    return kid


def _new_key() -> str:
    private = Ed25519PrivateKey.generate()
    _key_file().parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomically(_key_file(), private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()), 0o600)
    return _publish(private)


def seal_key_init() -> tuple[str, bool]:
    """Create the sealing key file (`PORTAL_AUDIT_SEAL_KEY_FILE`, mode 0600) unless it exists, and
    make sure its public key is in `PORTAL_AUDIT_SEAL_PUBLIC_KEY_DIR`. Returns (key id, whether it
    was created). Raises OSError when the folder cannot be written, SealKeyError for a file that
    cannot be read or is not an Ed25519 private key."""
    if _key_file().exists():
        return _publish(_signing_key()), False
    return _new_key(), True


def seal_key_rotate() -> tuple[str | None, str]:
    """Replace the sealing key: later seals are signed by a new key; the old one's public key
    stays in the public folder, so its seals still verify. Returns (old key id or None, new).
    Raises SealKeyError when the present key file cannot be read (move it away first), OSError
    when the folder cannot be written."""
    old = _publish(_signing_key()) if _key_file().exists() else None
    return old, _new_key()


@functools.lru_cache(maxsize=4)
def _load_private(path: str, modified: int, inode: int) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def _signing_key() -> Ed25519PrivateKey:
    """The current private key, read again when its file was replaced (rotation). SealKeyError
    when it is missing, unreadable or not an unencrypted Ed25519 private key in PEM."""
    path = _key_file()
    try:
        status = path.stat()
        return _load_private(str(path), status.st_mtime_ns, status.st_ino)
    except FileNotFoundError:
        raise SealKeyError(
            f"The audit seal key file {path} (PORTAL_AUDIT_SEAL_KEY_FILE) is missing: run "
            "manage.py audit_seal_key_init to make one (docs/audit-log.md, \"Keys\").") from None
    except OSError as exc:
        raise SealKeyError(
            f"The audit seal key file {path} cannot be read ({exc.strerror}): give the portal's "
            "worker read access to it (mode 0600, its owner).") from None
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SealKeyError(
            f"The audit seal key file {path} is not an unencrypted Ed25519 private key in PEM "
            f"({exc}): restore it from the backup, or move it away and run manage.py "
            "audit_seal_key_init to make a new key; seals signed by the old key still verify "
            "with its public key (docs/audit-log.md, \"Keys\").") from None


def public_keys() -> dict[str, Ed25519PublicKey]:
    """Every public key in the public folder (current and retired), by key id. A file whose name
    is not its key's id is left out: a key is trusted under its own id only."""
    found: dict[str, Ed25519PublicKey] = {}
    for path in sorted(_public_folder().glob("*.pub.pem")):
        try:
            key = serialization.load_pem_public_key(path.read_bytes())
        except (OSError, ValueError):
            continue
        if isinstance(key, Ed25519PublicKey) and f"{key_id(key)}.pub.pem" == path.name:
            found[key_id(key)] = key
    return found


# --- The chain -----------------------------------------------------------------------------------

def genesis(day: dt.date) -> bytes:
    """The chain value before the day's first row: SHA-256(DOMAIN || 0x00 || "YYYY-MM-DD")."""
    return hashlib.sha256(DOMAIN + b"\x00" + day.isoformat().encode()).digest()


def seal_message(*, day: dt.date, chunk: int, count: int, day_count: int, prev_head: bytes,
                 head: bytes, event_ids: bytes, chain: bytes) -> bytes:
    """The bytes signed for one chunk: DOMAIN, 0x00, the day as "YYYY-MM-DD", chunk number, count
    and day count (unsigned 32-bit big-endian), then the previous head, the head, SHA-256 of the
    packed ids and SHA-256 of the packed chain values (32 bytes each). Every field has a fixed
    length, so the encoding is unambiguous."""
    return (DOMAIN + b"\x00" + day.isoformat().encode() + struct.pack(">III", chunk, count, day_count)
            + prev_head + head + hashlib.sha256(event_ids).digest()
            + hashlib.sha256(chain).digest())


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The UTC day's first instant (inclusive) and the next day's first instant (exclusive)."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def last_closed_day(now: dt.datetime | None = None) -> dt.date:
    """The last UTC day whose end plus `PORTAL_AUDIT_SEAL_GRACE_SECONDS` is at or before `now`."""
    moment = (now or timezone.now()).astimezone(dt.UTC)
    grace = dt.timedelta(seconds=settings.PORTAL_AUDIT_SEAL_GRACE_SECONDS)
    return (moment - grace).date() - dt.timedelta(days=1)


#: The stored `row_hash` as exactly 32 bytes (NULL or a value of another length, which only
#: tampering makes, padded or cut: it then differs from the recomputed digest).
_STORED = "substring(coalesce(a.row_hash, ''::bytea) || %(pad)s from 1 for 32)"
#: A row as sealed: id (16 bytes) || stored row_hash (32), the digest its trigger set at INSERT.
SEALED_ROW = (f"uuid_send(a.id) || {_STORED}", 48)
#: A row as it is now: id (16) || recomputed digest (32) || stored row_hash (32).
CURRENT_ROW = (f"uuid_send(a.id) || {DIGEST_SQL} || {_STORED}", 80)
#: One batch of a day's rows after a keyset position, in chain order, packed into one bytea
#: (one value per batch instead of one per row: psycopg2's cost is per value).
_BATCH = ("SELECT string_agg(s.r, ''::bytea ORDER BY s.o, s.i), max(s.o), count(*) FROM ("
          'SELECT {row} AS r, a.occurred_at AS o, a.id AS i FROM "{table}" a '
          "WHERE a.occurred_at >= %(start)s AND a.occurred_at < %(end)s "
          "AND (a.occurred_at, a.id) > (%(at)s, %(id)s) "
          "ORDER BY a.occurred_at, a.id LIMIT %(limit)s) s")


def _rows(day: dt.date, row: tuple[str, int], table: str = TABLE) -> Iterable[bytes]:
    """The day's rows in chain order (occurred_at, id), each as `row` gives it (`SEALED_ROW`,
    `CURRENT_ROW`: SQL over the row `a`, and its fixed length in bytes), read in batches of
    `FETCH_ROWS` rows by keyset on the index (occurred_at, id) of `table` (the audit log, or an
    archived month's detached table)."""
    expression, width = row
    if table != TABLE:
        expression = expression.replace(DIGEST_SQL, ARCHIVED_DIGEST_SQL)
    start, end = day_bounds(day)
    params: dict[str, Any] = {"pad": bytes(32), "start": start, "end": end, "limit": FETCH_ROWS,
              "at": start - dt.timedelta(microseconds=1), "id": uuid.UUID(int=0)}
    with connection.cursor() as cursor:
        while True:
            cursor.execute(_BATCH.format(row=expression, table=table), params)
            packed, last, count = cursor.fetchone()
            if not count:
                return
            packed = bytes(packed)
            for at in range(0, len(packed), width):
                yield packed[at:at + width]
            if count < FETCH_ROWS:
                return
            params["at"], params["id"] = last, uuid.UUID(bytes=packed[-width:][:16])


def _day_locked(day: dt.date) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_SPACE, day.toordinal()])


@service
def day_seal(*, actor: SystemActor, day: dt.date) -> list[AuditSeal]:
    """Seal the UTC `day`: chain its rows in the order (occurred_at, id), store and sign the
    chunks, and record one audit event. Returns the new seals; [] when the day was already sealed
    (also by a sealer running at the same moment: a transaction-level advisory lock per day makes
    the second wait and then find the seals). A day without rows gets one seal of count 0.

    The caller decides that the day is closed (`seal_due` waits for the grace). Raises Forbidden
    for another actor than the portal's own, RuntimeError on SQLite, SealKeyError when the key
    file is missing or damaged. The day's final head is logged (INFO) so a copy outside the
    database exists."""
    require_audit_integrity(actor)
    if not available():
        raise RuntimeError("the audit log is sealed on PostgreSQL only")
    private = _signing_key()
    kid = key_id(private.public_key())
    with transaction.atomic():
        _day_locked(day)
        if AuditSeal.objects.filter(day=day).exists():
            return []
        ids: list[bytes] = []
        values: list[bytes] = []
        value = genesis(day)
        for row in _rows(day, SEALED_ROW):
            value = hashlib.sha256(value + row[16:]).digest()
            ids.append(row[:16])
            values.append(value)
        day_count = len(ids)
        now = timezone.now()
        seals = []
        head = genesis(day)
        for chunk, start in enumerate(range(0, max(day_count, 1), CHUNK_ROWS)):
            packed_ids = b"".join(ids[start:start + CHUNK_ROWS])
            packed_chain = b"".join(values[start:start + CHUNK_ROWS])
            prev_head, head = head, (values[min(start + CHUNK_ROWS, day_count) - 1]
                                     if day_count else head)
            count = len(packed_ids) // 16
            message = seal_message(day=day, chunk=chunk, count=count, day_count=day_count,
                                   prev_head=prev_head, head=head, event_ids=packed_ids,
                                   chain=packed_chain)
            seals.append(AuditSeal(day=day, chunk=chunk, count=count, day_count=day_count,
                                   event_ids=packed_ids, chain=packed_chain, prev_head=prev_head,
                                   head=head, key_id=kid, signature=private.sign(message),
                                   sealed_at=now))
        AuditSeal.objects.bulk_create(seals)
        record(actor=actor, action=AUDIT_DAY_SEALED.code,
               target=AuditTarget("audit.day", day.isoformat(), day.isoformat()),
               changes={"rows": [None, day_count], "chunks": [None, len(seals)],
                        "head": [None, head.hex()], "key_id": [None, kid]})
    logger.info("audit log day %s sealed: %d rows, head %s, key %s", day, day_count, head.hex(),
                kid)
    return seals


def due_days(now: dt.datetime | None = None) -> list[dt.date]:
    """The days the sealer seals next, oldest first: from the day after the last sealed day (or,
    before any seal, the day of the oldest audit row) through `last_closed_day(now)`. A gap
    before the last sealed day is never filled by the scheduler: `verify` reports it (UNSEALED),
    as a removed seal would otherwise be made again over changed rows."""
    last = last_closed_day(now)
    newest = AuditSeal.objects.order_by("-day").values_list("day", flat=True).first()
    if newest is not None:
        first = newest + dt.timedelta(days=1)
    else:
        oldest = AuditEvent.objects.order_by("occurred_at").values_list("occurred_at",
                                                                        flat=True).first()
        if oldest is None:
            return []
        first = oldest.astimezone(dt.UTC).date()
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def seal_due(*, actor: SystemActor, now: dt.datetime | None = None) -> list[dt.date]:
    """Seal every due day (`due_days`), each in its own transaction (`day_seal`); returns the days
    sealed by this call. Nothing on SQLite."""
    if not available():
        return []
    return [day for day in due_days(now) if day_seal(actor=actor, day=day)]


# --- Verification --------------------------------------------------------------------------------

def _seal_findings(day: dt.date, seals: list[AuditSeal],
                   keys: dict[str, Ed25519PublicKey]) -> list[Finding]:
    findings = []

    def problem(detail: str) -> None:
        findings.append(Finding(Kind.SEAL, day, detail=detail))

    previous = genesis(day)
    for expected, seal in enumerate(seals):
        ids, chain = bytes(seal.event_ids), bytes(seal.chain)
        prev_head, head = bytes(seal.prev_head), bytes(seal.head)
        if seal.chunk != expected:
            problem(f"chunk {expected} is missing (found chunk {seal.chunk})")
        if prev_head != previous:
            problem(f"chunk {seal.chunk} does not continue the chain before it")
        if (len(ids) != 16 * seal.count or len(chain) != 32 * seal.count
                or head != (chain[-32:] if seal.count else prev_head)):
            problem(f"chunk {seal.chunk} is malformed")
        if seal.day_count != seals[0].day_count:
            problem(f"chunk {seal.chunk} disagrees on the day's row count")
        key = keys.get(seal.key_id)
        if key is None:
            problem(f"chunk {seal.chunk} is signed by an unknown key {seal.key_id}")
        else:
            try:
                key.verify(bytes(seal.signature), seal_message(
                    day=day, chunk=seal.chunk, count=seal.count, day_count=seal.day_count,
                    prev_head=prev_head, head=head, event_ids=ids, chain=chain))
            except InvalidSignature:
                problem(f"chunk {seal.chunk} has a bad signature (key {seal.key_id})")
        previous = head
    if sum(seal.count for seal in seals) != seals[0].day_count:
        problem(f"the chunks hold {sum(seal.count for seal in seals)} rows, "
                f"the seal says {seals[0].day_count}: a chunk is missing")
    return findings


def _verify_day(day: dt.date, seals: list[AuditSeal], keys: dict[str, Ed25519PublicKey],
                report: Report, table: str = TABLE) -> None:
    """Check the sealed `day` in `table`: every row's recomputed digest against the sealed chain
    value at its id's position (c_i = SHA-256(c_(i-1) || digest)), and against its stored
    `row_hash`."""
    findings = _seal_findings(day, seals, keys)
    ids = b"".join(bytes(seal.event_ids) for seal in seals)
    # chain[32 * i: 32 * i + 32] is c_(i-1) of position i, chain[32 * i + 32: 32 * i + 64] its c_i.
    chain = bytes(seals[0].prev_head) + b"".join(bytes(seal.chain) for seal in seals)
    count = min(len(ids) // 16, len(chain) // 32 - 1)
    position = {ids[16 * i:16 * i + 16]: i for i in range(count)}
    changed: list[tuple[bytes, str]] = []
    inserted: list[bytes] = []
    sha256 = hashlib.sha256
    rows = 0
    for row in _rows(day, CURRENT_ROW, table):
        rows += 1
        key = row[:16]
        digest = row[16:48]
        i = position.pop(key, None)
        if i is None:
            inserted.append(key)
            continue
        at = 32 * i
        if sha256(chain[at:at + 32] + digest).digest() != chain[at + 32:at + 64]:
            changed.append((key, "its content differs from the sealed chain"))
        elif row[48:] != digest:
            changed.append((key, "its row_hash differs from its content"))
    report.rows_checked += rows
    report.days_checked += 1
    times = _times([key for key, _detail in changed] + inserted, day, table)
    for key, detail in changed:
        event = uuid.UUID(bytes=key)
        findings.append(Finding(Kind.CHANGED, day, event, times.get(event), detail))
    for key in inserted:
        event = uuid.UUID(bytes=key)
        findings.append(Finding(Kind.INSERTED, day, event, times.get(event),
                                "the row is not in the day's seal"))
    for key in sorted(position, key=position.__getitem__):
        findings.append(Finding(Kind.REMOVED, day, uuid.UUID(bytes=key), None,
                                f"sealed row {position[key]} of the day is gone"))
    report.findings.extend(findings)


def _times(keys: list[bytes], day: dt.date, table: str) -> dict[uuid.UUID, dt.datetime]:
    if not keys:
        return {}
    start, end = day_bounds(day)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT id, occurred_at FROM "{table}" WHERE id = ANY(%s::uuid[]) '
                       "AND occurred_at >= %s AND occurred_at < %s",
                       [[str(uuid.UUID(bytes=key)) for key in keys], start, end])
        return {uuid.UUID(str(row_id)): at for row_id, at in cursor.fetchall()}


def _check_day(day: dt.date, keys: dict[str, Ed25519PublicKey], closed: dt.date,
               first_sealed: dt.date | None, archived: frozenset[dt.date], *, snapshot: bool,
               own_thread: bool) -> Report:
    """Verify one day in one transaction (REPEATABLE READ when `snapshot`); a day's `Report`.
    A day of a month in `archived` is read from that month's detached table. `own_thread`:
    running in a worker thread, whose database connection is closed at the end."""
    report = Report(day, day)
    try:
        with transaction.atomic():
            if snapshot:
                _snapshot()
            seals = list(AuditSeal.objects.filter(day=day).order_by("chunk"))
            if first_of_month(day) in archived:
                report.days_archived += 1
                if seals:
                    _verify_day(day, seals, keys, report,
                                archive.archived_name(first_of_month(day)))
            elif seals:
                _verify_day(day, seals, keys, report)
            elif day <= closed:
                start, end = day_bounds(day)
                rows = AuditEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
                if (first_sealed is not None and day > first_sealed) or rows.exists():
                    report.findings.append(Finding(
                        Kind.UNSEALED, day,
                        detail="the day has ended and its grace has passed, but it has no seal"))
    finally:
        if own_thread:
            connection.close()
    return report


def verify(first_day: dt.date, last_day: dt.date, *, now: dt.datetime | None = None) -> Report:
    """Verify the UTC days `first_day` through `last_day` (inclusive) against their seals.

    For each sealed day: the seal's chunks (signature by a known public key, links, counts) and
    every row (CHANGED, REMOVED, INSERTED; `Kind`). The rows of a day whose month is archived
    (`archive.archived_list`: detached, kept as `audit_archived_pYYYY_MM`) are read from that
    table instead of the live log, and the day is counted in `Report.days_archived`. A day
    without seal is UNSEALED when it is closed (`last_closed_day(now)`) and either has rows or
    lies after the first sealed day; days not yet closed are skipped. A day named by an
    `audit_log.day_sealed` event that has no seal any more is a SEAL finding (its rows and seals
    removed together). Each day is read in one transaction (a consistent snapshot).
    Outside a transaction, `VERIFY_WORKERS` days are checked at once, each by a thread with its
    own database connection (the digests are computed by as many PostgreSQL processes); inside
    one (the caller's), one day after the other on the caller's connection. Findings come in day
    order. Read-only; raises RuntimeError on SQLite (nothing to verify there)."""
    if not available():
        raise RuntimeError("the audit log is verified on PostgreSQL only")
    keys = public_keys()
    closed = last_closed_day(now)
    first_sealed = AuditSeal.objects.order_by("day").values_list("day", flat=True).first()
    archived = frozenset(archive.archived_list())
    days = [first_day + dt.timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    outermost = not connection.in_atomic_block
    if outermost and len(days) > 1 and VERIFY_WORKERS > 1:
        with ThreadPoolExecutor(max_workers=VERIFY_WORKERS) as pool:
            parts = list(pool.map(functools.partial(
                _check_day, keys=keys, closed=closed, first_sealed=first_sealed,
                archived=archived, snapshot=True, own_thread=True), days))
    else:
        parts = [_check_day(day, keys, closed, first_sealed, archived, snapshot=outermost,
                            own_thread=False) for day in days]
    report = Report(first_day, last_day)
    gone = _seals_gone(first_day, last_day, archived)
    for part in parts:
        report.rows_checked += part.rows_checked
        report.days_checked += part.days_checked
        report.days_archived += part.days_archived
        if part.first_day in gone and not part.findings:  # else reported UNSEALED already
            report.findings.append(Finding(
                Kind.SEAL, part.first_day,
                detail="the day was sealed (audit_log.day_sealed) but its seals are gone"))
        report.findings.extend(part.findings)
    return report


def _seals_gone(first_day: dt.date, last_day: dt.date,
                archived: frozenset[dt.date]) -> set[dt.date]:
    """The days from `first_day` through `last_day` named by an `audit_log.day_sealed` event
    that have no seal now. The events are read from the online log and from the `archived`
    months' tables (a day's event is written when it is sealed, in the same or the next month):
    one query over their action indexes. The events are themselves rows of later, sealed days,
    so removing them is found too."""
    tables = ["audit_auditevent", *(archive.archived_name(month) for month in sorted(archived))]
    events = " UNION ALL ".join(
        f'SELECT action, target_type, target_id FROM "{table}"' for table in tables)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT e.target_id FROM ({events}) e WHERE e.action = %s "
            "AND e.target_type = 'audit.day' AND e.target_id BETWEEN %s AND %s "
            "AND NOT EXISTS (SELECT 1 FROM audit_auditseal s WHERE s.day = e.target_id::date)",
            [AUDIT_DAY_SEALED.code, first_day.isoformat(), last_day.isoformat()])
        return {dt.date.fromisoformat(row[0]) for row in cursor.fetchall()}


def online_start() -> dt.date | None:
    """The first UTC day still online, where `manage.py audit_verify` starts by default: the
    oldest online row's day, or the first sealed day on or after the first attached monthly
    partition if earlier (days before it belong to archived or dropped months; verify them with
    an explicit range). None when nothing is logged or sealed."""
    attached = partition_list()
    sealed = AuditSeal.objects.filter(day__gte=attached[0].month) if attached else \
        AuditSeal.objects.all()
    first_sealed = sealed.order_by("day").values_list("day", flat=True).first()
    oldest = AuditEvent.objects.order_by("occurred_at").values_list("occurred_at",
                                                                    flat=True).first()
    days = [day for day in (first_sealed, oldest.astimezone(dt.UTC).date() if oldest else None)
            if day is not None]
    return min(days) if days else None


def _snapshot() -> None:
    """Make the transaction just begun see one snapshot (the seals and the rows it reads agree)."""
    with connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def backlog_start() -> dt.date | None:
    """The first day the daily check must cover beside the last two: the day after the last
    sealed day (the unsealed backlog), or None when nothing is sealed yet."""
    newest = AuditSeal.objects.order_by("-day").values_list("day", flat=True).first()
    return newest + dt.timedelta(days=1) if newest else None


@service
def integrity_check(*, actor: SystemActor, first_day: dt.date, last_day: dt.date,
                    now: dt.datetime | None = None) -> Report:
    """Verify [first_day, last_day] (`verify`), record one audit event with the counts (outcome
    failure when anything was found) and, on any finding, alert: a CRITICAL log line naming each
    finding and an e-mail to the ADMINS (`mail_admins`) listing up to `ALERT_LISTED` of them.
    Raises Forbidden for another actor than the portal's own, RuntimeError on SQLite."""
    require_audit_integrity(actor)
    report = verify(first_day, last_day, now=now)
    counts = {kind.value: sum(1 for f in report.findings if f.kind == kind) for kind in Kind}
    with transaction.atomic():
        record(actor=actor, action=AUDIT_VERIFIED.code,
               target=AuditTarget("audit.days", f"{first_day}/{last_day}",
                                  f"{first_day} - {last_day}"),
               changes={"rows": [None, report.rows_checked], "days": [None, report.days_checked],
                        **{kind: [None, n] for kind, n in counts.items() if n}},
               outcome=AuditEvent.Outcome.SUCCESS if report.ok else AuditEvent.Outcome.FAILURE)
    if not report.ok:
        summary = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
        logger.critical("AUDIT LOG TAMPERING SUSPECTED from %s to %s: %s", first_day, last_day,
                        summary)
        for finding in report.findings:
            logger.critical("audit log finding: %s", finding)
        listed = "\n".join(str(f) for f in report.findings[:ALERT_LISTED])
        more = len(report.findings) - ALERT_LISTED
        mail_admins(
            f"Audit log tampering suspected ({summary})",
            f"The audit log check of {first_day} to {last_day} found {summary}.\n\n{listed}\n"
            + (f"... and {more} more (run manage.py audit_verify).\n" if more > 0 else "")
            + "\nWhat to do: docs/audit-log.md, \"Tamper evidence\".\n")
    return report


# --- Archived months (apps.audit.archive) ----------------------------------------------------------

def _month_heads(month: dt.date) -> dict[str, dict[str, Any]]:
    """The sealed days of `month` as {"YYYY-MM-DD": {"rows": day count, "head": hex of the day's
    last chain value}}, read without the packed ids and chain values. One query."""
    heads: dict[str, dict[str, Any]] = {}
    for day, day_count, head in AuditSeal.objects.filter(
            day__gte=month, day__lt=next_month(month)).order_by("day", "chunk").values_list(
            "day", "day_count", "head"):
        heads[day.isoformat()] = {"rows": day_count, "head": bytes(head).hex()}
    return heads


def manifest_seals(month: dt.date) -> dict[str, Any]:
    """`archive.manifest_extra` hook: the seals of `month`'s days as `{"seals": {"YYYY-MM-DD":
    {"rows": day count, "head": hex of the day's last chain value}}}`; {} when none is sealed.
    Registered by `AuditConfig.ready`."""
    heads = _month_heads(month)
    return {"seals": heads} if heads else {}


def archive_matches_seals(manifest: archive.Manifest, path: Path) -> None:
    """`archive.drop_checks` hook: the archive file at `path` holds the sealed chain of each of
    its month's sealed days. The month's seals must hold (signature by a known key, links,
    counts: as `verify` checks them), the heads listed in the manifest (`manifest_seals`) must be
    theirs, and each day's rows of the file, chained from the day's genesis in file order, must
    end at the day's sealed head with its row count. Raises `archive.ArchiveRefused`
    (`audit_archive.seals`) naming the first day that does not; nothing when no day is sealed.
    Registered by `AuditConfig.ready`."""
    month = dt.date.fromisoformat(f"{manifest.month}-01")
    expected = _month_heads(month)
    listed = manifest.extra.get("seals", {})

    def refuse(what: str) -> archive.ArchiveRefused:
        return archive.ArchiveRefused(
            f"The archive file {path} does not match the seals of {manifest.month}: {what}. "
            "Keep the table and the file and find out why (docs/audit-log.md, \"What an alert "
            "means\").", code="audit_archive.seals")

    keys = public_keys()
    for key in expected:  # one day's chunks at a time: up to 480 kB each
        day = dt.date.fromisoformat(key)
        problems = _seal_findings(day, list(AuditSeal.objects.filter(day=day).order_by("chunk")),
                                  keys)
        if problems:
            raise refuse(f"the seal of {day} does not hold ({problems[0].detail})")
    if listed and listed != expected:
        raise refuse("the manifest's seal heads are not the database's")
    if not expected:
        return
    chains: dict[str, bytes] = {}
    counts: dict[str, int] = defaultdict(int)
    try:
        with gzip.open(path, "rb") as lines:
            for line in lines:
                row = json.loads(line)
                day = dt.datetime.fromisoformat(row["occurred_at"]).astimezone(dt.UTC).date()
                key = day.isoformat()
                chains[key] = hashlib.sha256(chains.get(key, genesis(day))
                                             + bytes.fromhex(row["row_hash"])).digest()
                counts[key] += 1
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise refuse(f"it cannot be read ({exc})") from exc
    for key, sealed in sorted(expected.items()):
        head = chains.get(key, genesis(dt.date.fromisoformat(key))).hex()
        if (counts[key], head) != (sealed["rows"], sealed["head"]):
            raise refuse(f"its {counts[key]} rows of {key} do not give the day's sealed head "
                         f"({sealed['rows']} rows)")
