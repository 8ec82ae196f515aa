"""The audit log over its life on PostgreSQL: partitions made ahead, a month past the online window
exported, checked against its manifest and detached (kept in the database, audited), and nothing
deleted before the retention ends (docs/audit-log.md, "Retention and archive")."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from apps.audit import archive, integrity, partitions
from apps.audit.archive import ArchiveRefused
from apps.audit.models import AuditEvent
from apps.core.actors import ANONYMOUS, SYSTEM
from apps.core.errors import Forbidden
from portal.settings.base import audit_life

pytestmark = [pytest.mark.skipif(connection.vendor != "postgresql",
                                 reason="the audit log is partitioned on PostgreSQL only"),
              pytest.mark.django_db]


@pytest.fixture
def directory(tmp_path: Path, settings: Any) -> Path:
    settings.PORTAL_AUDIT_ARCHIVE_DIR = tmp_path / "archive"
    return settings.PORTAL_AUDIT_ARCHIVE_DIR


def _months_ago(count: int) -> dt.date:
    return partitions.add_months(timezone.now().date(), -count)


def _fill(month: dt.date, count: int = 3) -> list[AuditEvent]:
    """`count` audit rows on the first days of `month`, its partition made first."""
    partitions.partitions_ensure(month, month)
    return [AuditEvent.objects.create(
        occurred_at=partitions.month_start(month) + dt.timedelta(days=day, microseconds=day * 10),
        action="organisation.created", actor_label="System", actor_kind="system",
        target_type="organisations.organisation", target_id=str(day), target_label=f"Unit {day}",
        changes={"name": [None, f"Vårdcentral \"{day}\"\n"]}, reason="åtgärd", ip="10.0.0.1")
        for day in range(count)]


def _table_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return bool(cursor.fetchone()[0])


def _rows_of(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{name}"')
        return int(cursor.fetchone()[0])


def _attached(month: dt.date) -> bool:
    return month in {p.month for p in partitions.partition_list()}


def _tamper(path: Path) -> None:
    """Rewrite the archive file with one row's reason changed, as a well-formed gzip file."""
    lines = gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)
    row = json.loads(lines[0])
    row["reason"] = "nothing happened"
    lines[0] = json.dumps(row) + "\n"
    path.write_bytes(gzip.compress("".join(lines).encode()))


def test_a_month_past_the_online_window_is_exported_checked_detached_and_audited(directory):
    month = _months_ago(30)
    events = _fill(month, 3)
    recent = _fill(timezone.now().date(), 1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT encode(row_hash, 'hex') FROM audit_auditevent "
                       "WHERE id = ANY(%s) ORDER BY occurred_at, id", [[e.pk for e in events]])
        digests = [row[0] for row in cursor.fetchall()]

    manifest = archive.partition_archive(actor=SYSTEM, month=month)

    name, archived = partitions.partition_name(month), archive.archived_name(month)
    assert (manifest.rows, manifest.table, manifest.month) == (3, name, f"{month:%Y-%m}")
    assert (manifest.first_id, manifest.last_id) == (str(events[0].pk), str(events[-1].pk))
    assert manifest.first_occurred_at == events[0].occurred_at.isoformat()
    on_disk = json.loads(archive.manifest_path(directory, month).read_text())
    assert on_disk == json.loads(manifest.to_json())
    assert on_disk["software_version"] and on_disk["format"] == archive.FORMAT
    lines = [json.loads(line) for line in
             gzip.decompress((directory / manifest.file).read_bytes()).decode().splitlines()]
    assert [line["id"] for line in lines] == [str(e.pk) for e in events]
    assert [line["row_hash"] for line in lines] == digests
    assert lines[1]["changes"] == {"name": [None, 'Vårdcentral "1"\n']}
    archive.check(manifest, directory)
    # The month is gone from the online log but kept, append-only, in the database.
    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in events]).exists()
    assert AuditEvent.objects.filter(pk=recent[0].pk).exists()
    assert not _attached(month) and not _table_exists(name)
    assert _rows_of(archived) == 3 and archive.archived_list() == [month]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{archived}"')
    event = AuditEvent.objects.get(action="audit_partition.archived")
    assert (event.actor_label, event.target_id, event.target_label) == (
        SYSTEM.code, archived, f"{month:%Y-%m}")
    assert event.changes["table"] == [name, archived]
    assert event.changes["file_sha256"] == [None, manifest.file_sha256]


def test_a_month_inside_the_online_window_is_refused_and_stays(directory):
    month = _months_ago(17)
    _fill(month, 1)
    with pytest.raises(ArchiveRefused, match="inside the online window") as refused:
        archive.partition_archive(actor=SYSTEM, month=month)
    assert refused.value.code == "audit_archive.online"
    assert _attached(month) and not directory.exists()
    assert not AuditEvent.objects.filter(action="audit_partition.archived").exists()


def test_a_shorter_online_window_or_retention_is_refused_at_start_up():
    assert audit_life(18, 5, 3) == (18, 5, 3)
    for values in ((17, 5, 3), (18, 4, 3), (18, 5, 0)):
        with pytest.raises(ImproperlyConfigured, match="too low"):
            audit_life(*values)


def test_a_missing_partition_an_unwritable_directory_and_a_person_are_refused(directory, tmp_path):
    with pytest.raises(ArchiveRefused, match="no partition") as refused:
        archive.partition_archive(actor=SYSTEM, month=_months_ago(40))
    assert refused.value.code == "audit_archive.no_partition"
    month = _months_ago(30)
    _fill(month, 1)
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ArchiveRefused, match="not writable"):
        archive.partition_archive(actor=SYSTEM, month=month, directory=tmp_path / "a-file" / "x")
    with pytest.raises(Forbidden):
        archive.partition_archive(actor=ANONYMOUS, month=month)
    assert _attached(month)


def test_a_tampered_archive_file_is_refused_before_the_detach(directory, monkeypatch):
    month = _months_ago(30)
    _fill(month, 3)
    export = archive.export

    def export_then_tamper(month: dt.date, directory: Path) -> archive.Manifest:
        manifest = export(month, directory)
        _tamper(directory / manifest.file)
        return manifest

    monkeypatch.setattr(archive, "export", export_then_tamper)
    with pytest.raises(ArchiveRefused, match="does not match its manifest: its SHA-256"):
        archive.partition_archive(actor=SYSTEM, month=month)
    assert _attached(month) and _rows_of(partitions.partition_name(month)) == 3
    # An archive file that differs from the rows is not overwritten either.
    monkeypatch.setattr(archive, "export", export)
    with pytest.raises(ArchiveRefused, match="already exists with other rows") as refused:
        archive.partition_archive(actor=SYSTEM, month=month)
    assert refused.value.code == "audit_archive.file_differs" and _attached(month)


def test_a_file_rewritten_with_its_manifest_still_fails_the_row_digests(directory):
    month = _months_ago(30)
    _fill(month, 3)
    manifest = archive.export(month, directory)
    archive.check(manifest, directory)
    path = directory / manifest.file
    _tamper(path)
    forged = archive.Manifest(**{**json.loads(manifest.to_json()),
                                 "file_sha256": archive._file_sha256(path)})
    with pytest.raises(ArchiveRefused, match="row 1 does not give its row_hash"):
        archive.check(forged, directory)


def test_exporting_again_keeps_the_same_file(directory):
    month = _months_ago(30)
    _fill(month, 2)
    first = archive.export(month, directory)
    again = archive.export(month, directory)
    assert (again.file_sha256, again.rows_sha256) == (first.file_sha256, first.rows_sha256)
    assert sorted(p.name for p in directory.iterdir()) == [
        f"{first.table}.jsonl.gz", f"{first.table}.manifest.json"]


def test_an_archived_month_is_dropped_only_past_the_retention_with_its_file_intact(directory):
    kept, old = _months_ago(30), _months_ago(70)
    _fill(kept, 1)
    _fill(old, 2)
    archive.partition_archive(actor=SYSTEM, month=kept)
    archive.partition_archive(actor=SYSTEM, month=old)
    with pytest.raises(ArchiveRefused, match="inside its retention") as refused:
        archive.partition_drop(actor=SYSTEM, month=kept)
    assert refused.value.code == "audit_archive.retention"
    assert _table_exists(archive.archived_name(kept))
    assert archive.drops_due() == [old]

    path = archive.data_path(directory, old)
    good = path.read_bytes()
    _tamper(path)
    with pytest.raises(ArchiveRefused, match="does not match its manifest"):
        archive.partition_drop(actor=SYSTEM, month=old)
    assert _table_exists(archive.archived_name(old))
    path.write_bytes(good)

    archive.partition_drop(actor=SYSTEM, month=old)
    assert not _table_exists(archive.archived_name(old)) and path.exists()
    event = AuditEvent.objects.get(action="audit_partition.dropped")
    assert event.target_id == archive.archived_name(old) and event.changes["rows"] == [2, None]


@pytest.fixture
def seal_key(settings: Any, tmp_path: Path) -> None:
    """A sealing key of this test's own (apps.audit.integrity)."""
    settings.PORTAL_AUDIT_SEAL_KEY_FILE = tmp_path / "seal" / "seal-key.pem"
    settings.PORTAL_AUDIT_SEAL_PUBLIC_KEY_DIR = tmp_path / "seal" / "public"
    integrity.seal_key_init()


def _tamper_sql(sql: str, params: list[Any]) -> None:
    """Run `sql` past the append-only triggers, as the database's owner could."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("SET session_replication_role = origin")


def _forge(directory: Path, month: dt.date, manifest: archive.Manifest) -> None:
    """Rewrite the middle row of the archive file with its row_hash recomputed by the public
    `audit_row_digest`, and the manifest to match: no secret is needed for either."""
    path = directory / manifest.file
    lines = gzip.decompress(path.read_bytes()).decode().splitlines(keepends=True)
    row = json.loads(lines[1])
    row["target_label"], row["reason"] = "forged", "nothing to see"
    with connection.cursor() as cursor:
        cursor.execute("SELECT encode(audit_row_digest(jsonb_populate_record("
                       "NULL::audit_auditevent, %s::jsonb - 'row_hash')), 'hex')",
                       [json.dumps(row)])
        row["row_hash"] = cursor.fetchone()[0]
    lines[1] = json.dumps(row) + "\n"
    path.write_bytes(gzip.compress("".join(lines).encode(), mtime=0))
    digest = hashlib.sha256()
    for line in lines:
        digest.update(bytes.fromhex(json.loads(line)["row_hash"]))
    forged = {**json.loads(manifest.to_json()), "file_sha256": archive._file_sha256(path),
              "rows_sha256": digest.hexdigest()}
    archive.manifest_path(directory, month).write_text(json.dumps(forged))


def test_a_file_and_manifest_forged_to_match_each_other_do_not_get_the_table_dropped(directory):
    month = _months_ago(70)
    _fill(month, 3)
    manifest = archive.partition_archive(actor=SYSTEM, month=month)
    _forge(directory, month, manifest)
    archive.check(archive.manifest_read(directory, month), directory)  # file and manifest agree
    with pytest.raises(ArchiveRefused, match="do not hold the same rows") as refused:
        archive.partition_drop(actor=SYSTEM, month=month)
    assert refused.value.code == "audit_archive.changed"
    assert _rows_of(archive.archived_name(month)) == 3


def test_a_month_changed_after_its_seal_is_not_dropped_and_its_manifest_lists_the_seals(
        directory, seal_key):
    """docs/audit-log.md, "Tamper evidence": the manifest keeps the heads of the month's sealed
    days; the drop refuses a file whose rows do not chain to them, even when the table, the file
    and the manifest agree with each other."""
    month = _months_ago(70)
    events = _fill(month, 3)
    days = [month + dt.timedelta(days=n) for n in range(3)]
    for day in days:
        integrity.day_seal(actor=SYSTEM, day=day)
    # Changed before the archive, row_hash recomputed: the table, file and manifest will agree.
    _tamper_sql("UPDATE audit_auditevent SET reason = 'rewritten', row_hash = NULL WHERE id = %s",
                [events[1].pk])
    _tamper_sql("UPDATE audit_auditevent a SET row_hash = audit_row_digest(a) WHERE id = %s",
                [events[1].pk])
    manifest = archive.partition_archive(actor=SYSTEM, month=month)
    assert sorted(manifest.extra["seals"]) == [f"{day}" for day in days]
    assert manifest.extra["seals"][f"{days[0]}"]["rows"] == 1
    with pytest.raises(ArchiveRefused, match=f"rows of {days[1]} do not give") as refused:
        archive.partition_drop(actor=SYSTEM, month=month)
    assert refused.value.code == "audit_archive.seals"
    assert _rows_of(archive.archived_name(month)) == 3


def test_a_sealed_month_whose_file_holds_its_seals_is_dropped(directory, seal_key):
    month = _months_ago(70)
    _fill(month, 2)
    for day in (month, month + dt.timedelta(days=1)):
        integrity.day_seal(actor=SYSTEM, day=day)
    archive.partition_archive(actor=SYSTEM, month=month)
    archive.partition_drop(actor=SYSTEM, month=month)
    assert not _table_exists(archive.archived_name(month))


def test_upkeep_makes_the_months_ahead_and_reports_rows_in_the_default_partition(settings, caplog):
    settings.PORTAL_AUDIT_PARTITION_MONTHS_AHEAD = 3
    today = dt.date(2041, 1, 15)
    assert partitions.partitions_problems(today) == [
        "no audit log partition for this month (2041-01)",
        "no audit log partition for next month (2041-02)"]
    made = partitions.partitions_upkeep(today)
    assert [p.name for p in made] == [f"audit_auditevent_p2041_0{n}" for n in range(1, 5)]
    assert partitions.partitions_problems(today) == []

    # A row of a month without partition lands in the default partition, and then that month's
    # partition cannot be made: both are reported, the other months are still made.
    AuditEvent.objects.create(occurred_at=dt.datetime(2041, 6, 1, tzinfo=dt.UTC),
                              action="organisation.created", actor_label="System",
                              actor_kind="system", target_type="t", target_id="1")
    with caplog.at_level(logging.ERROR, logger="apps.audit.partitions"):
        made = partitions.partitions_upkeep(dt.date(2041, 4, 2))
    assert [p.name for p in made] == ["audit_auditevent_p2041_04", "audit_auditevent_p2041_05",
                                      "audit_auditevent_p2041_07"]
    assert "partition for 2041-06 cannot be made" in caplog.text
    assert "default partition audit_auditevent_default holds rows (1)" in caplog.text
    assert partitions.partitions_problems(today) == [
        "the audit log's default partition holds rows (1)"]


def test_the_command_archives_due_months_and_refuses_clearly(directory):
    month = _months_ago(30)
    _fill(month, 2)
    out = io.StringIO()
    call_command("audit_archive", "--due", "--dry-run", stdout=out)
    assert out.getvalue() == (
        f"Would archive {month:%Y-%m}: 2 rows of {partitions.partition_name(month)} to "
        f"{archive.data_path(directory, month)}, then detach it as "
        f"{archive.archived_name(month)}.\n")
    assert _attached(month)

    out = io.StringIO()
    call_command("audit_archive", "--month", f"{month:%Y-%m}", stdout=out)
    assert out.getvalue().startswith(f"Archived {month:%Y-%m}: 2 rows to ")
    assert f"detached as {archive.archived_name(month)}." in out.getvalue()
    assert not _attached(month)

    out = io.StringIO()
    call_command("audit_archive", "--due", stdout=out)
    assert out.getvalue() == "No audit log month is due for archiving.\n"
    with pytest.raises(CommandError, match="is inside its retention"):
        call_command("audit_archive", "--drop", "--month", f"{month:%Y-%m}")
    with pytest.raises(CommandError, match="inside the online window"):
        call_command("audit_archive", "--month", f"{_months_ago(1):%Y-%m}")
    with pytest.raises(CommandError, match="not a month"):
        call_command("audit_archive", "--month", "May 2024")


def test_an_archived_month_can_be_attached_again_for_an_inquiry(directory):
    """The operator's steps in docs/audit-log.md, "Restoring an archived month"."""
    month = _months_ago(30)
    events = _fill(month, 2)
    archive.partition_archive(actor=SYSTEM, month=month)
    name, archived = partitions.partition_name(month), archive.archived_name(month)
    start, end = partitions.month_start(month), partitions.month_start(partitions.next_month(month))
    with connection.cursor() as cursor:
        cursor.execute(f'DROP TRIGGER audit_event_append_only ON "{archived}"')
        cursor.execute(f'ALTER TABLE "{archived}" RENAME TO "{name}"')
        cursor.execute(f'ALTER TABLE audit_auditevent ATTACH PARTITION "{name}" '
                       "FOR VALUES FROM (%s) TO (%s)", [start, end])
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in events]).count() == 2


def test_an_archived_month_can_be_read_back_from_its_file(directory):
    """The other restore in docs/audit-log.md: a table made again from the file alone."""
    month = _months_ago(30)
    events = _fill(month, 2)
    manifest = archive.partition_archive(actor=SYSTEM, month=month)
    lines = gzip.decompress((directory / manifest.file).read_bytes()).decode().splitlines()
    with connection.cursor() as cursor:
        # `\copy lines FROM PROGRAM 'gzip -dc <file>' ...` in psql; here from Python.
        cursor.execute("CREATE TEMP TABLE lines (line jsonb)")
        cursor.execute("INSERT INTO lines SELECT line::jsonb FROM unnest(%s::text[]) AS t(line)",
                       [lines])
        cursor.execute("SELECT count(*) FROM lines, LATERAL jsonb_populate_record("
                       "NULL::audit_auditevent, line - 'row_hash') AS a "
                       f"WHERE encode({partitions.DIGEST_SQL}, 'hex') <> line->>'row_hash'")
        assert cursor.fetchone()[0] == 0
        cursor.execute("CREATE TEMP TABLE audit_restored (LIKE audit_auditevent)")
        cursor.execute("INSERT INTO audit_restored SELECT (jsonb_populate_record("
                       "NULL::audit_auditevent, jsonb_set(line, '{row_hash}', "
                       "to_jsonb('\\x' || (line->>'row_hash'))))).* FROM lines")
        # The restored table has a row type of its own: its rows are read as audit rows.
        cursor.execute(f"SELECT a.id::text, encode({partitions.DIGEST_SQL}, 'hex'), "
                       "encode(a.row_hash, 'hex') FROM audit_restored r, LATERAL "
                       "jsonb_populate_record(NULL::audit_auditevent, to_jsonb(r)) AS a "
                       "ORDER BY a.occurred_at, a.id")
        restored = cursor.fetchall()
    assert restored == [(line["id"], line["row_hash"], line["row_hash"])
                        for line in map(json.loads, lines)]
    assert [row[0] for row in restored] == [str(e.pk) for e in events]


def test_beat_runs_the_upkeep_daily_and_the_archive_monthly_as_the_worker(settings, directory):
    from apps.audit import tasks

    upkeep = settings.CELERY_BEAT_SCHEDULE["audit-partitions-upkeep"]
    due = settings.CELERY_BEAT_SCHEDULE["audit-archive-due"]
    assert (upkeep["task"], upkeep["schedule"]) == (tasks.audit_partitions_upkeep_task.name, 86400.0)
    assert due["task"] == tasks.audit_archive_due_task.name
    assert due["schedule"].day_of_month == {1}
    this_month = partitions.first_of_month(timezone.now().date())
    assert partitions.partition_name(this_month) in tasks.audit_partitions_upkeep_task.delay().get()
    month = _months_ago(19)
    _fill(month, 1)
    assert tasks.audit_archive_due_task.delay().get() == [f"{month:%Y-%m}"]
    event = AuditEvent.objects.get(action="audit_partition.archived")
    assert event.actor_label == "system:worker"


def test_rows_written_or_a_detach_elsewhere_after_the_export_stop_the_detach(directory, monkeypatch):
    month = _months_ago(30)
    _fill(month, 2)
    export = archive.export

    def export_then(change: str) -> Any:
        def wrapped(month: dt.date, directory: Path) -> archive.Manifest:
            manifest = export(month, directory)
            if change == "row":
                _fill(month, 1)
            else:
                with connection.cursor() as cursor:
                    cursor.execute(f'ALTER TABLE audit_auditevent DETACH PARTITION '
                                   f'"{partitions.partition_name(month)}"')
            return manifest
        return wrapped

    monkeypatch.setattr(archive, "export", export_then("row"))
    with pytest.raises(ArchiveRefused, match="no longer holds the rows") as refused:
        archive.partition_archive(actor=SYSTEM, month=month)
    assert refused.value.code == "audit_archive.changed" and _attached(month)
    archive.data_path(directory, month).unlink()
    monkeypatch.setattr(archive, "export", export_then("detach"))
    with pytest.raises(ArchiveRefused, match="already archived"):
        archive.partition_archive(actor=SYSTEM, month=month)


@pytest.mark.parametrize("month", ["9999-12", "9999-11", f"{timezone.now():%Y-%m}"])
def test_archiving_or_dropping_a_month_not_yet_ended_is_refused_with_a_message(directory, month):
    for extra in ([], ["--drop"], ["--dry-run"], ["--drop", "--dry-run"]):
        with pytest.raises(CommandError, match="has not ended yet") as refused:
            call_command("audit_archive", "--month", month, *extra)
        assert refused.value.returncode == 1


def test_archiving_or_dropping_the_first_month_of_the_calendar_is_refused_with_a_message(directory):
    for extra in ([], ["--drop"]):
        with pytest.raises(CommandError, match="no partition|no archived table"):
            call_command("audit_archive", "--month", "0001-01", *extra)
