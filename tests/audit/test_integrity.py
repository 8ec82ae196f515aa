"""Tamper evidence of the audit log on PostgreSQL: each closed UTC day's rows are chained and the
chain sealed and signed; `verify` finds a changed, a removed and an inserted row, and says which,
and a seal that does not hold (docs/audit-log.md, "Tamper evidence"). SQLite has no digest and no
seals: these tests skip there."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from apps.audit import archive, integrity, partitions
from apps.audit.integrity import Kind
from apps.audit.models import AppendOnlyError, AuditEvent, AuditSeal
from apps.audit.tasks import audit_seal_task, audit_verify_task
from apps.core.actors import ANONYMOUS, SYSTEM
from apps.core.errors import Forbidden
from tests.concurrency.support import at_once

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="tamper evidence (row digests, seals) is PostgreSQL-only")

DAY = dt.date(2026, 3, 10)
#: A moment when DAY is closed and its grace has passed.
LATER = dt.datetime(2026, 3, 12, 12, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def seal_key(settings: Any, tmp_path: Path) -> str:
    """A sealing key of this test's own, outside the database."""
    settings.PORTAL_AUDIT_SEAL_KEY_FILE = tmp_path / "seal" / "seal-key.pem"
    settings.PORTAL_AUDIT_SEAL_PUBLIC_KEY_DIR = tmp_path / "seal" / "public"
    kid, created = integrity.seal_key_init()
    assert created
    return kid


def _insert(at: dt.datetime, label: str = "row") -> AuditEvent:
    return AuditEvent.objects.create(occurred_at=at, action="organisation.created",
                                     actor_label="System", actor_kind="system",
                                     target_type="organisations.organisation", target_id="1",
                                     target_label=label)


def _day_rows(day: dt.date = DAY, n: int = 5) -> list[AuditEvent]:
    partitions.partitions_ensure(day, day)
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return [_insert(start + dt.timedelta(minutes=37 * i, microseconds=i), f"row {i}")
            for i in range(n)]


def _tamper(sql: str, params: list[Any] | None = None) -> None:
    """Run `sql` past the append-only triggers, as someone with the database's owner rights
    could (`session_replication_role = replica` skips ordinary triggers)."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("SET session_replication_role = origin")


def _found(report: integrity.Report) -> set[tuple[Kind, uuid.UUID | None]]:
    return {(finding.kind, finding.event_id) for finding in report.findings}


def _verify(day: dt.date = DAY) -> integrity.Report:
    return integrity.verify(day, day, now=LATER)


@pytest.mark.django_db
def test_a_sealed_day_verifies_clean_and_each_row_is_counted():
    rows = _day_rows()
    seals = integrity.day_seal(actor=SYSTEM, day=DAY)
    assert [seal.count for seal in seals] == [5]
    assert bytes(seals[0].event_ids) == b"".join(row.id.bytes for row in rows)
    report = _verify()
    assert report.ok and report.rows_checked == 5 and report.days_checked == 1
    sealed = AuditEvent.objects.get(action="audit_log.day_sealed")
    assert sealed.target_id == DAY.isoformat() and sealed.changes["rows"] == [None, 5]
    assert integrity.day_seal(actor=SYSTEM, day=DAY) == []  # sealed once


@pytest.mark.django_db
def test_a_changed_row_is_found_whether_or_not_its_row_hash_was_changed_too():
    rows = _day_rows()
    integrity.day_seal(actor=SYSTEM, day=DAY)
    _tamper("UPDATE audit_auditevent SET target_label = 'forged' WHERE id = %s", [rows[1].id])
    _tamper("UPDATE audit_auditevent SET reason = 'forged' WHERE id = %s", [rows[3].id])
    _tamper("UPDATE audit_auditevent a SET row_hash = audit_row_digest(a) WHERE id = %s",
            [rows[3].id])
    _tamper("UPDATE audit_auditevent SET row_hash = '\\x00' WHERE id = %s", [rows[4].id])
    report = _verify()
    assert _found(report) == {(Kind.CHANGED, rows[1].id), (Kind.CHANGED, rows[3].id),
                              (Kind.CHANGED, rows[4].id)}
    finding = next(f for f in report.findings if f.event_id == rows[1].id)
    assert finding.day == DAY and finding.occurred_at == rows[1].occurred_at


@pytest.mark.django_db
def test_a_row_changed_with_its_chain_value_kept_but_its_row_hash_left_alone_is_found():
    """The sealed chain used the row_hash of the day it was sealed; a row changed before the
    seal (its row_hash left as the trigger set it) is caught by its recomputed digest."""
    rows = _day_rows()
    _tamper("UPDATE audit_auditevent SET actor_label = 'someone else' WHERE id = %s", [rows[0].id])
    integrity.day_seal(actor=SYSTEM, day=DAY)
    report = _verify()
    assert _found(report) == {(Kind.CHANGED, rows[0].id)}


@pytest.mark.django_db
def test_a_deleted_row_is_found():
    rows = _day_rows()
    integrity.day_seal(actor=SYSTEM, day=DAY)
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [rows[2].id])
    report = _verify()
    assert _found(report) == {(Kind.REMOVED, rows[2].id)}
    assert report.findings[0].day == DAY and report.rows_checked == 4


@pytest.mark.django_db
def test_a_row_inserted_into_a_sealed_day_is_found():
    _day_rows()
    integrity.day_seal(actor=SYSTEM, day=DAY)
    late = _insert(dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC), "backdated")
    report = _verify()
    assert _found(report) == {(Kind.INSERTED, late.id)}
    assert report.findings[0].occurred_at == late.occurred_at


@pytest.mark.django_db
def test_a_row_moved_within_its_day_or_given_another_id_is_found():
    rows = _day_rows()
    integrity.day_seal(actor=SYSTEM, day=DAY)
    _tamper("UPDATE audit_auditevent SET occurred_at = occurred_at + interval '1 minute' "
            "WHERE id = %s", [rows[0].id])
    new_id = uuid.uuid4()
    _tamper("UPDATE audit_auditevent SET id = %s WHERE id = %s", [new_id, rows[4].id])
    assert _found(_verify()) == {(Kind.CHANGED, rows[0].id), (Kind.REMOVED, rows[4].id),
                                 (Kind.INSERTED, new_id)}


#: Every column of the digest but id and occurred_at (tested above), with a changed value (SQL).
COLUMN_CHANGES = {
    "action": "'organisation.renamed'", "outcome": "'failure'", "actor_id": "gen_random_uuid()",
    "actor_label": "'x'", "actor_kind": "'user'", "actor_identifier": "'x'",
    "commission_hsa_id": "'x'", "organisation_hsa_id": "'x'", "organisation_label": "'x'",
    "subject_person_id": "gen_random_uuid()", "subject_label": "'x'", "target_type": "'x'",
    "target_id": "'2'", "target_label": "'x'", "changes": "'{\"name\": [\"a\", \"b\"]}'",
    "reason": "'x'", "request_id": "'x'", "ip": "'192.0.2.1'", "loa": "'x'",
}


@pytest.mark.django_db
def test_a_change_of_any_column_is_found():
    rows = _day_rows(n=len(COLUMN_CHANGES) + 1)
    integrity.day_seal(actor=SYSTEM, day=DAY)
    for row, (column, value) in zip(rows, COLUMN_CHANGES.items(), strict=False):
        _tamper(f"UPDATE audit_auditevent SET {column} = {value} WHERE id = %s", [row.id])
    assert _found(_verify()) == {(Kind.CHANGED, row.id) for row in rows[:-1]}


@pytest.mark.django_db
def test_a_seal_with_a_broken_signature_or_changed_chain_is_found():
    rows = _day_rows()
    integrity.day_seal(actor=SYSTEM, day=DAY)
    _tamper("UPDATE audit_auditseal SET signature = decode(repeat('00', 64), 'hex')")
    report = _verify()
    assert [f.kind for f in report.findings] == [Kind.SEAL]
    assert "bad signature" in report.findings[0].detail
    # The rows are still checked against the seal's chain.
    _tamper("UPDATE audit_auditevent SET target_label = 'forged' WHERE id = %s", [rows[4].id])
    assert {(Kind.CHANGED, rows[4].id)} <= _found(_verify())


@pytest.mark.django_db
def test_a_seal_signed_by_an_unknown_key_is_found_and_a_rotated_key_still_verifies(
        settings: Any, tmp_path: Path):
    _day_rows()
    next_day = DAY + dt.timedelta(days=1)
    _day_rows(next_day, 2)
    integrity.day_seal(actor=SYSTEM, day=DAY)
    old, new = integrity.seal_key_rotate()
    assert old and new != old
    integrity.day_seal(actor=SYSTEM, day=next_day)
    assert integrity.verify(DAY, next_day, now=LATER).ok  # the retired key's public half is kept
    settings.PORTAL_AUDIT_SEAL_PUBLIC_KEY_DIR = tmp_path / "elsewhere"
    report = integrity.verify(DAY, next_day, now=LATER)
    assert {(f.kind, f.day) for f in report.findings} == {(Kind.SEAL, DAY), (Kind.SEAL, next_day)}
    assert all("unknown key" in f.detail for f in report.findings)


@pytest.mark.django_db
def test_a_missing_or_relinked_chunk_is_found(monkeypatch: Any):
    monkeypatch.setattr(integrity, "CHUNK_ROWS", 3)
    rows = _day_rows(n=7)
    assert [s.count for s in integrity.day_seal(actor=SYSTEM, day=DAY)] == [3, 3, 1]
    assert _verify().ok
    _tamper("DELETE FROM audit_auditseal WHERE chunk = 2")
    report = _verify()
    assert (Kind.SEAL, None) in _found(report) and (Kind.INSERTED, rows[6].id) in _found(report)
    assert any("a chunk is missing" in f.detail for f in report.findings)


@pytest.mark.django_db
def test_a_day_without_rows_is_sealed_so_a_row_added_later_is_found():
    partitions.partitions_ensure(DAY, DAY)
    seals = integrity.day_seal(actor=SYSTEM, day=DAY)
    assert [seal.count for seal in seals] == [0]
    assert _verify().ok
    late = _insert(dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC))
    assert _found(_verify()) == {(Kind.INSERTED, late.id)}


@pytest.mark.django_db
def test_the_sealer_waits_for_the_grace_and_never_fills_a_gap(settings: Any):
    settings.PORTAL_AUDIT_SEAL_GRACE_SECONDS = 3600
    _day_rows()
    end = dt.datetime(2026, 3, 11, tzinfo=dt.UTC)
    assert integrity.seal_due(actor=SYSTEM, now=end + dt.timedelta(minutes=59)) == []
    assert integrity.seal_due(actor=SYSTEM, now=end + dt.timedelta(hours=1)) == [DAY]
    later = end + dt.timedelta(days=2, hours=1)
    assert integrity.seal_due(actor=SYSTEM, now=later) == [
        DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)]
    # A day's seals removed: the scheduler does not seal it again over possibly changed rows.
    _tamper("DELETE FROM audit_auditseal WHERE day = %s", [DAY + dt.timedelta(days=1)])
    assert integrity.due_days(later) == []
    report = integrity.verify(DAY, DAY + dt.timedelta(days=3), now=later)
    assert [(f.kind, f.day) for f in report.findings] == [(Kind.UNSEALED,
                                                           DAY + dt.timedelta(days=1))]


@pytest.mark.django_db
def test_seals_are_append_only():
    _day_rows(n=1)
    seal = integrity.day_seal(actor=SYSTEM, day=DAY)[0]
    with pytest.raises(AppendOnlyError):
        seal.save()
    with pytest.raises(AppendOnlyError):
        AuditSeal.objects.all().delete()
    for sql in ("UPDATE audit_auditseal SET count = 9", "DELETE FROM audit_auditseal"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
                connection.cursor() as cursor:
            cursor.execute(sql)


@pytest.mark.django_db
def test_only_the_portal_seals_and_verifies():
    with pytest.raises(Forbidden):
        integrity.day_seal(actor=ANONYMOUS, day=DAY)
    with pytest.raises(Forbidden):
        integrity.integrity_check(actor=ANONYMOUS, first_day=DAY, last_day=DAY)


@pytest.mark.django_db(transaction=True)
def test_two_sealers_at_once_seal_a_day_once():
    _day_rows(n=20)

    def seal() -> int:
        try:
            return len(integrity.day_seal(actor=SYSTEM, day=DAY))
        finally:
            connections.close_all()

    assert sorted(at_once([seal, seal])) == [0, 1]
    assert AuditSeal.objects.filter(day=DAY).count() == 1
    assert AuditEvent.objects.filter(action="audit_log.day_sealed").count() == 1
    assert _verify().ok


@pytest.mark.django_db
def test_the_command_prints_each_finding_and_exits_with_1(settings: Any):
    rows = _day_rows()
    integrity.day_seal(actor=SYSTEM, day=DAY)
    out = io.StringIO()
    call_command("audit_verify", "--from", "2026-03-10", "--to", "2026-03-10", stdout=out)
    assert "5 rows of 1 sealed days checked" in out.getvalue()
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [rows[0].id])
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("audit_verify", "--from", "2026-03-10", "--to", "2026-03-10", stdout=out)
    assert raised.value.returncode == 1
    assert f"REMOVED day=2026-03-10 id={rows[0].id}" in out.getvalue()
    checked = AuditEvent.objects.filter(action="audit_log.verified").order_by("occurred_at")
    assert [event.outcome for event in checked] == ["success", "failure"]


@pytest.mark.django_db
def test_the_daily_job_alerts_the_operators(settings: Any, caplog: Any, monkeypatch: Any):
    settings.ADMINS = [("Operations", "ops@example.org")]
    rows = _day_rows()
    integrity.day_seal(actor=SYSTEM, day=DAY)
    _tamper("UPDATE audit_auditevent SET reason = 'x' WHERE id = %s", [rows[0].id])
    monkeypatch.setattr("django.utils.timezone.now", lambda: LATER)
    assert audit_seal_task.delay().get() == ["2026-03-11"]  # the next day, empty
    result = audit_verify_task.delay().get()
    assert result["findings"] == 1 and result["rows"] == 5
    assert "AUDIT LOG TAMPERING SUSPECTED" in caplog.text and str(rows[0].id) in caplog.text
    assert len(mail.outbox) == 1 and "1 changed" in mail.outbox[0].subject
    assert str(rows[0].id) in mail.outbox[0].body


@pytest.mark.django_db
def test_the_key_command_is_idempotent_and_rotates(settings: Any, seal_key: str):
    out = io.StringIO()
    call_command("audit_seal_key_init", stdout=out)
    assert f"{seal_key} present" in out.getvalue()
    call_command("audit_seal_key_init", "--rotate", stdout=out)
    assert f"{seal_key} retired" in out.getvalue()
    assert len(integrity.public_keys()) == 2
    assert oct(Path(settings.PORTAL_AUDIT_SEAL_KEY_FILE).stat().st_mode & 0o777) == "0o600"


@pytest.mark.django_db
def test_removing_a_whole_sealed_day_with_its_seals_is_found():
    """The oldest sealed day's rows and seals removed together: the day's `audit_log.day_sealed`
    event (itself a sealed row of a later day) still names it."""
    first, second = DAY, DAY + dt.timedelta(days=1)
    _day_rows(first)
    _day_rows(second)
    integrity.day_seal(actor=SYSTEM, day=first)
    integrity.day_seal(actor=SYSTEM, day=second)
    assert integrity.verify(first, second, now=LATER + dt.timedelta(days=1)).ok
    start, end = integrity.day_bounds(first)
    _tamper("DELETE FROM audit_auditevent WHERE occurred_at >= %s AND occurred_at < %s",
            [start, end])
    _tamper("DELETE FROM audit_auditseal WHERE day = %s", [first])
    report = integrity.verify(first, second, now=LATER + dt.timedelta(days=1))
    assert [(f.kind, f.day) for f in report.findings] == [(Kind.SEAL, first)]
    assert "seals are gone" in report.findings[0].detail


@pytest.mark.django_db
def test_verify_after_a_regular_archive_raises_no_alarm_and_checks_the_archived_days(
        settings: Any, tmp_path: Path):
    """docs/audit-log.md, "Retention and archive": a month detached by the archive is not
    reported REMOVED; by default verify starts at the first day still online, and an explicit
    range over archived days checks them against their archived table."""
    settings.PORTAL_AUDIT_ARCHIVE_DIR = tmp_path / "archive"
    month = partitions.add_months(timezone.now().date(), -30)
    rows = _day_rows(month, 3)
    integrity.seal_due(actor=SYSTEM)  # as beat does: every day from the oldest row on
    call_command("audit_verify", stdout=io.StringIO())
    archive.partition_archive(actor=SYSTEM, month=month)
    mail.outbox.clear()
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "0 finding(s)" in out.getvalue() and not mail.outbox
    day = f"{month:%Y-%m-%d}"
    out = io.StringIO()
    call_command("audit_verify", "--from", day, "--to", day, stdout=out)
    assert "1 days are archived" in out.getvalue()
    assert "3 rows of 1 sealed days checked" in out.getvalue()
    # A change in the archived table is still found there.
    _tamper(f'UPDATE "{archive.archived_name(month)}" SET reason = %s WHERE id = %s',
            ["changed", rows[1].id])
    with pytest.raises(CommandError):
        call_command("audit_verify", "--from", day, "--to", day, stdout=(out := io.StringIO()))
    assert f"CHANGED day={day} id={rows[1].id}" in out.getvalue()


@pytest.mark.django_db
def test_a_damaged_or_missing_key_file_is_named_with_what_to_do_instead_of_a_traceback(
        settings: Any, caplog: Any):
    key = Path(settings.PORTAL_AUDIT_SEAL_KEY_FILE)
    key.write_text("-----BEGIN PRIVATE KEY-----\ngarbage\n")
    with pytest.raises(CommandError, match="is not an unencrypted Ed25519 private key") as raised:
        call_command("audit_seal_key_init")
    assert str(key) in str(raised.value) and "audit_seal_key_init" in str(raised.value)
    _day_rows()
    with pytest.raises(CommandError, match=f"{key} is not an unencrypted Ed25519"):
        call_command("audit_verify", "--seal", "--from", "2026-03-10", "--to", "2026-03-10",
                     stdout=io.StringIO())
    key.unlink()
    with pytest.raises(integrity.SealKeyError, match="is missing: run manage.py "
                                                     "audit_seal_key_init"):
        integrity.day_seal(actor=SYSTEM, day=DAY)
    assert audit_seal_task.delay().get() == []
    assert f"the audit log is not sealed: The audit seal key file {key}" in caplog.text
    assert not AuditSeal.objects.exists()
