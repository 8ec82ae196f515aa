"""`manage.py outbox_failed [--retry]`: list the outbox events given up after their last try, and
optionally make them due again (after the cause, e.g. a mail server, was fixed)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from apps.outbox.models import OutboxEvent


class Command(BaseCommand):
    help = "List outbox events that failed for good; --retry makes them due again."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--retry", action="store_true",
                            help="make every failed event due now, with its tries counted afresh")

    def handle(self, *args: Any, retry: bool, **options: Any) -> None:
        failed = OutboxEvent.objects.failed()
        for event in failed:
            self.stdout.write(f"{event.id} {event.topic} key={event.idempotency_key} "
                              f"tries={event.attempts} failed_at={event.failed_at:%Y-%m-%dT%H:%M:%SZ}"
                              f" {event.last_error}")
        if retry:
            count = failed.update(failed_at=None, attempts=0, available_at=timezone.now())
            self.stdout.write(f"{count} event(s) due again.")
        else:
            self.stdout.write(f"{failed.count()} failed event(s).")
