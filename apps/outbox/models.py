"""The transactional outbox: work that must happen after a commit, written in the same transaction.

A service that changes something and must also cause work outside its transaction (an e-mail, a
call to a downstream system) writes an `OutboxEvent` with the change. The change and the event
commit together or not at all; a periodic task delivers the committed events to the handler
registered for their topic (`apps.outbox.delivery`). Pattern: "Transactional outbox",
microservices.io; docs/architecture.md, "The outbox".
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxEventQuerySet(models.QuerySet["OutboxEvent"]):
    def pending(self, now: dt.datetime) -> OutboxEventQuerySet:
        """Events neither delivered nor given up whose next try is due at `now` (UTC)."""
        return self.filter(delivered_at__isnull=True, failed_at__isnull=True, available_at__lte=now)

    def failed(self) -> OutboxEventQuerySet:
        """Events given up after `OUTBOX_MAX_ATTEMPTS` tries, newest first."""
        return self.filter(failed_at__isnull=False).order_by("-failed_at")


class OutboxEvent(models.Model):
    """One thing that happened and still has to be handed to its handler.

    - `topic`: what happened, `<entity>.<past_verb>` (e.g. `eid.activated`); one handler per topic.
    - `payload`: a JSON object of ids and primitives only (never personal data or model instances).
    - `idempotency_key`: unique; publishing the same key again records nothing new.
    - `request_id`: the request that caused it, so the handler's audit rows link back to it.
    - `available_at`: not tried before this time (UTC); moved forward with backoff after a failure.
    - `attempts`, `last_error`: tries so far and the last failure's text.
    - `delivered_at`: set in the same transaction as the handler's own writes; `failed_at`: set
      when the tries ran out (the event stays, visible, until an operator retries it).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    topic = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    idempotency_key = models.CharField(max_length=200, unique=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    available_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    objects = OutboxEventQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        indexes = [
            # The delivery scan: pending rows by due time, a small partial index.
            models.Index(fields=["available_at"], name="outbox_pending_idx",
                         condition=Q(delivered_at__isnull=True, failed_at__isnull=True)),
            models.Index(fields=["-failed_at"], name="outbox_failed_idx",
                         condition=Q(failed_at__isnull=False)),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(delivered_at__isnull=True) | Q(failed_at__isnull=True),
                name="outbox_delivered_or_failed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.idempotency_key}"
