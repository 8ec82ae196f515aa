"""Reads of the audit log: a person's history and a patient's log extract (loggutdrag)."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from apps.audit.models import AuditEvent


def audit_list_for_person(person_id: uuid.UUID) -> QuerySet[AuditEvent]:
    """Every audit event about the person, newest first (one query, indexed).

    This is also the patient's log extract (loggutdrag, PDL 2008:355 8 kap. 3 §): which care unit,
    when and who; the portal's care providers are public, so `actor_label` is shown.
    """
    return AuditEvent.objects.filter(subject_person_id=person_id).order_by("-occurred_at")
