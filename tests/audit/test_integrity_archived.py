"""Verify over an archived month whose sealed day lost its rows and seals (docs/audit-log.md,
"Tamper evidence")."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from apps.audit import archive, integrity, partitions
from apps.audit.models import AuditEvent, AuditSeal
from apps.audit.registry import AUDIT_DAY_SEALED
from apps.core.actors import SYSTEM
from tests.audit.test_integrity import _day_rows, _tamper, seal_key  # noqa: F401

pytestmark = pytest.mark.django_db


def test_archived_day_whose_seals_and_rows_are_removed_is_found(settings: Any, tmp_path: Path):
    """As in production: a day is sealed the next day, so its `audit_log.day_sealed` event lies in
    the same month and is archived (detached) with it. Removing that day's seals and its rows from
    the archived table must still be a finding (docs: verify finds "a sealed day removed with
    its seals")."""
    settings.PORTAL_AUDIT_ARCHIVE_DIR = tmp_path / "archive"
    month = partitions.add_months(timezone.now().date(), -30)
    _day_rows(month, 3)
    # As production would have it: the seal run of the next day wrote this day's day_sealed event
    # into the same month (written here before sealing, so the next day's seal covers it).
    nxt = dt.datetime(month.year, month.month, month.day, tzinfo=dt.UTC) + dt.timedelta(days=1)
    AuditEvent.objects.create(occurred_at=nxt + dt.timedelta(hours=1), action=AUDIT_DAY_SEALED.code,
                              actor_label="system:portal", actor_kind="system",
                              target_type="audit.day", target_id=month.isoformat(),
                              target_label=month.isoformat())
    integrity.seal_due(actor=SYSTEM)
    # The day_sealed events seal_due wrote today (today is not sealed yet) stand for ones written
    # back then: remove today's copies.
    today = dt.datetime.combine(timezone.now().date(), dt.time(), tzinfo=dt.UTC)
    _tamper("DELETE FROM audit_auditevent WHERE action = %s AND occurred_at >= %s",
            [AUDIT_DAY_SEALED.code, today])
    assert integrity.verify(month, partitions.add_months(month, 1) - dt.timedelta(days=1)).ok
    assert AuditSeal.objects.filter(day=month).exists()
    archive.partition_archive(actor=SYSTEM, month=month)
    table = archive.archived_name(month)
    start, end = integrity.day_bounds(month)
    _tamper(f'DELETE FROM "{table}" WHERE occurred_at >= %s AND occurred_at < %s', [start, end])
    _tamper("DELETE FROM audit_auditseal WHERE day = %s", [month])
    last = partitions.add_months(month, 1) - dt.timedelta(days=1)
    report = integrity.verify(month, last)
    assert not report.ok or report.findings, \
        f"removed sealed archived day {month} not found: {report.findings}"
