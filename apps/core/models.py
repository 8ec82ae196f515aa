"""Shared model base: UUID primary key and creation/update timestamps (UTC); the display of a
validity period's last day."""

import uuid
from datetime import date, datetime, timedelta

from django.db import models
from django.utils import timezone


class BaseModel(models.Model):
    """Abstract base for domain models: `id` is a random UUID, timestamps are UTC."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


def last_included_day(valid_until: datetime | None) -> date | None:
    """The last calendar day (current time zone, Europe/Stockholm) included in a period that ends,
    exclusively, at `valid_until` (UTC); None for an open end. A period chosen as "last day 31 May"
    is stored as ending at 00:00 on 1 June and is shown as 31 May, never as 1 June 00:00."""
    if valid_until is None:
        return None
    return timezone.localtime(valid_until - timedelta(microseconds=1)).date()
