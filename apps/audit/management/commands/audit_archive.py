"""`manage.py audit_archive`: archive months of the audit log past the online window (export,
check, detach), or drop archived months past the retention (docs/audit-log.md, "Retention and
archive")."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from apps.audit import archive
from apps.audit.archive import ArchiveRefused
from apps.audit.partitions import partition_name
from apps.core.actors import SYSTEM


def _month(value: str) -> dt.date:
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise CommandError(f"--month {value!r} is not a month: write YYYY-MM, e.g. 2024-05.") from None


class Command(BaseCommand):
    help = ("Archive audit log months past PORTAL_AUDIT_ONLINE_MONTHS to PORTAL_AUDIT_ARCHIVE_DIR "
            "and detach them (--month YYYY-MM or --due); with --drop, remove archived months "
            "past PORTAL_AUDIT_RETENTION_YEARS from the database. --dry-run says what would be done.")

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--month", type=_month, help="one month, YYYY-MM (UTC)")
        which.add_argument("--due", action="store_true",
                           help="every month past the online window (with --drop: past retention)")
        parser.add_argument("--drop", action="store_true",
                            help="drop archived tables past the retention instead of archiving")
        parser.add_argument("--dry-run", action="store_true", help="check and say, change nothing")

    def handle(self, *args: Any, month: dt.date | None, due: bool, drop: bool, dry_run: bool,
               **options: Any) -> None:
        directory = settings.PORTAL_AUDIT_ARCHIVE_DIR
        if due:
            months = archive.drops_due() if drop else archive.months_due()
            if not months:
                self.stdout.write("No audit log month is due for "
                                  + ("dropping." if drop else "archiving."))
        else:
            assert month is not None  # the group is required
            months = [month]
        try:
            for each in months:
                if drop:
                    self._drop(each, directory, dry_run)
                else:
                    self._archive(each, directory, dry_run)
        except ArchiveRefused as exc:
            raise CommandError(str(exc)) from exc

    def _archive(self, month: dt.date, directory: Path, dry_run: bool) -> None:
        if dry_run:
            archive.archive_preflight(month, directory)
            with connection.cursor() as cursor:
                cursor.execute(f'SELECT count(*) FROM "{partition_name(month)}"')
                rows = cursor.fetchone()[0]
            self.stdout.write(f"Would archive {month:%Y-%m}: {rows} rows of "
                              f"{partition_name(month)} to {archive.data_path(directory, month)}, "
                              f"then detach it as {archive.archived_name(month)}.")
            return
        manifest = archive.partition_archive(actor=SYSTEM, month=month, directory=directory)
        self.stdout.write(f"Archived {manifest.month}: {manifest.rows} rows to "
                          f"{archive.data_path(directory, month)} (SHA-256 {manifest.file_sha256}), "
                          f"checked against {archive.manifest_path(directory, month).name}; "
                          f"detached as {archive.archived_name(month)}.")

    def _drop(self, month: dt.date, directory: Path, dry_run: bool) -> None:
        if dry_run:
            manifest = archive.drop_preflight(month, directory)
            self.stdout.write(f"Would drop {archive.archived_name(month)} ({manifest.rows} rows); "
                              f"its archive file {manifest.file} matches its manifest.")
            return
        manifest = archive.partition_drop(actor=SYSTEM, month=month, directory=directory)
        self.stdout.write(f"Dropped {archive.archived_name(month)} ({manifest.rows} rows); the "
                          f"month stays in {archive.data_path(directory, month)}.")
