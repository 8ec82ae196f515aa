"""The audit log on PostgreSQL: one partition per month (UTC), each row with its digest set in
the same INSERT, the append-only rule on every partition (docs/audit-log.md)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction

from apps.audit import partitions
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="the audit log is partitioned on PostgreSQL only")


def _insert(at: dt.datetime, reason: str = "") -> AuditEvent:
    return AuditEvent.objects.create(occurred_at=at, action="organisation.created",
                                     actor_label="System", actor_kind="system",
                                     target_type="t", target_id="1", reason=reason)


def _where(event: AuditEvent) -> tuple[str, bytes, bytes]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text, row_hash, audit_row_digest(to_jsonb(a)) "
                       "FROM audit_auditevent a WHERE id = %s", [event.pk])
        name, stored, digest = cursor.fetchone()
    return name, bytes(stored), bytes(digest)


@pytest.mark.django_db
def test_a_row_lands_in_its_months_partition_with_its_digest():
    partitions.partitions_ensure(dt.date(2026, 1, 1), dt.date(2026, 2, 1))
    late = _insert(dt.datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=dt.UTC))
    early = _insert(dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    name, stored, digest = _where(late)
    assert name == "audit_auditevent_p2026_01"
    assert stored == digest and len(stored) == 32
    assert _where(early)[0] == "audit_auditevent_p2026_02"
    assert [p.name for p in partitions.partition_list()][:2] == [
        "audit_auditevent_p2026_01", "audit_auditevent_p2026_02"]


@pytest.mark.django_db
def test_the_digest_covers_the_content_and_ignores_the_session_time_zone():
    first = _insert(dt.datetime(2026, 3, 4, 12, tzinfo=dt.UTC), reason="a")
    second = _insert(dt.datetime(2026, 3, 4, 12, tzinfo=dt.UTC), reason="b")
    assert _where(first)[1] != _where(second)[1]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE 'Asia/Tokyo'")
        assert _where(first)[1] == _where(first)[2]


@pytest.mark.django_db
def test_a_month_without_partition_still_takes_writes_in_the_default_partition():
    event = _insert(dt.datetime(1999, 5, 1, tzinfo=dt.UTC))
    assert _where(event)[0] == partitions.DEFAULT_PARTITION


@pytest.mark.django_db
def test_every_partition_refuses_update_and_delete():
    event = _insert(dt.datetime(2026, 4, 2, tzinfo=dt.UTC))
    name = _where(event)[0]
    for sql in (f"UPDATE {name} SET reason = 'x'", f"DELETE FROM {name}"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
                connection.cursor() as cursor:
            cursor.execute(sql)
