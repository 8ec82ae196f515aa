"""`manage.py audit_verify [--from DAY] [--to DAY] [--seal]`: check the audit log against its
seals (apps.audit.integrity.integrity_check) and print every finding; exit code 1 when there is
any. `--seal` first seals the due days, as the scheduler does. PostgreSQL only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.audit import integrity
from apps.core.actors import SYSTEM


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a day (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = ("Verify the audit log's hash chains and seals from --from to --to (UTC days, default: "
            "the first day still online to today; days of archived months are checked against their "
            "archived tables); exit code 1 on any finding.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--from", dest="first", type=_day, help="first UTC day, YYYY-MM-DD")
        parser.add_argument("--to", dest="last", type=_day, help="last UTC day, YYYY-MM-DD")
        parser.add_argument("--seal", action="store_true",
                            help="seal the days that are due first, as the scheduler does")

    def handle(self, *args: Any, first: dt.date | None, last: dt.date | None, seal: bool,
               **options: Any) -> None:
        if not integrity.available():
            raise CommandError("tamper evidence exists on PostgreSQL only")
        if seal:
            try:
                for day in integrity.seal_due(actor=SYSTEM):
                    self.stdout.write(f"Sealed {day}.")
            except integrity.SealKeyError as exc:
                raise CommandError(str(exc)) from exc
        today = timezone.now().astimezone(dt.UTC).date()
        first = first or integrity.online_start() or today
        last = last or today
        if last < first:
            raise CommandError("--to is before --from")
        report = integrity.integrity_check(actor=SYSTEM, first_day=first, last_day=last)
        for finding in report.findings:
            self.stdout.write(str(finding))
        if report.days_archived:
            self.stdout.write(f"{report.days_archived} days are archived: checked against their "
                              "archived tables (audit_archived_pYYYY_MM), not the live log.")
        self.stdout.write(f"{report.rows_checked} rows of {report.days_checked} sealed days "
                          f"checked from {first} to {last}: {len(report.findings)} finding(s).")
        if not report.ok:
            raise CommandError(f"{len(report.findings)} finding(s) in the audit log", returncode=1)
