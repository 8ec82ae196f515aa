"""The audit log (logg): append-only rows holding snapshots, never cascading foreign keys.

Rows outlive everything they mention: actor, target and subject are stored as ids and labels, not
foreign keys. The model refuses updates and deletes; on PostgreSQL a trigger rejects them too
(migration 0002). On PostgreSQL the table is partitioned by month of `occurred_at` (UTC) and each
row carries its own digest (migration 0005, `apps.audit.partitions`, docs/audit-log.md).
Rule sources: HSLF-FS 2016:40 4 kap. 9 § (what a log holds), Inera's Logg contract.
"""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

from django.db import models
from django.utils import timezone


class AppendOnlyError(Exception):
    """An attempt to change or delete an audit row."""


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events cannot be updated")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError("audit events cannot be deleted")


class AuditEvent(models.Model):
    """One audited action. `changes` is `{field: [old, new]}` with secrets masked; times are UTC."""

    class Outcome(models.TextChoices):
        SUCCESS = "success"
        FAILURE = "failure"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    occurred_at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=64)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    actor_id = models.UUIDField(null=True, blank=True)
    actor_label = models.CharField(max_length=200)
    actor_kind = models.CharField(max_length=16)
    #: The actor's immutable identifier, shown next to `actor_label` (a staff username); "" for
    #: system actors, patients and rows written before it was recorded.
    actor_identifier = models.CharField(max_length=150, blank=True)
    commission_hsa_id = models.CharField(max_length=31, blank=True)
    organisation_hsa_id = models.CharField(max_length=31, blank=True)
    organisation_label = models.CharField(max_length=200, blank=True)
    subject_person_id = models.UUIDField(null=True, blank=True)
    subject_label = models.CharField(max_length=200, blank=True)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64, db_index=True)
    target_label = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    loa = models.CharField(max_length=100, blank=True)
    #: SHA-256 of the row's canonical form (`audit_row_digest`, docs/audit-log.md), set by a
    #: PostgreSQL trigger in the same INSERT; the sealed hash chain covers it. NULL on SQLite.
    row_hash = models.BinaryField(null=True, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at"]
        # Each search of the log is "newest first, after a (occurred_at, id) keyset position",
        # narrowed by one column: these composites answer it with one index range read backwards
        # (docs/journey-audit-search.md, "How it stays fast").
        indexes = [
            models.Index(fields=["occurred_at", "id"], name="audit_time_idx"),
            models.Index(fields=["organisation_hsa_id", "occurred_at", "id"],
                         name="audit_organisation_time_idx"),
            models.Index(fields=["subject_person_id", "occurred_at", "id"],
                         name="audit_subject_time_idx"),
            models.Index(fields=["actor_id", "occurred_at", "id"], name="audit_actor_time_idx"),
            models.Index(fields=["action", "occurred_at", "id"], name="audit_action_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.action} {self.target_label}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit events cannot be updated")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit events cannot be deleted")


class AuditSealQuerySet(models.QuerySet["AuditSeal"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit seals cannot be updated")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError("audit seals cannot be deleted")


class AuditSeal(models.Model):
    """One signed chunk of a day's hash chain (docs/audit-log.md, "Tamper evidence").

    A closed UTC day's audit rows, in the order (occurred_at, id), are split into chunks of up to
    `apps.audit.integrity.CHUNK_ROWS` rows; chunk 0 starts from the day's genesis value, each later
    chunk from the previous chunk's `head`. `event_ids` packs the rows' ids (16 bytes each, in
    chain order), `chain` the chain values c_i = SHA-256(c_(i-1) || row_hash_i) (32 bytes each);
    `head` is the last chain value (the genesis value for a day without rows, `count` 0).
    `day_count` is the day's number of rows, the same in each chunk, so a missing last chunk is
    seen. `signature` is Ed25519 (RFC 8032) by the key `key_id` over
    `apps.audit.integrity.seal_message`. Append-only like `AuditEvent` (a PostgreSQL trigger too,
    migration 0006). PostgreSQL only in practice: the sealer does not run on SQLite.
    """

    day = models.DateField()
    chunk = models.PositiveIntegerField()
    count = models.PositiveIntegerField()
    day_count = models.PositiveIntegerField()
    event_ids = models.BinaryField()
    chain = models.BinaryField()
    prev_head = models.BinaryField()
    head = models.BinaryField()
    key_id = models.CharField(max_length=64)
    signature = models.BinaryField()
    sealed_at = models.DateTimeField(default=timezone.now)

    objects = AuditSealQuerySet.as_manager()

    class Meta:
        ordering = ["day", "chunk"]
        constraints = [models.UniqueConstraint(fields=["day", "chunk"],
                                               name="audit_seal_day_chunk_unique")]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} #{self.chunk} ({self.count})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit seals cannot be updated")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit seals cannot be deleted")
