"""Reads of the audit log: a person's history and a patient's log extract (loggutdrag)."""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet

from apps.audit import registry
from apps.audit.models import AuditEvent

#: The order of every audit list, newest first: a total order the (…, occurred_at, id) indexes of
#: `AuditEvent` cover, the keyset of its pages (`apps.core.paging.keyset_page`).
AUDIT_KEYS = ("-occurred_at", "-id")


def audit_list_for_person(person_id: uuid.UUID) -> QuerySet[AuditEvent]:
    """Every audit event about the person, newest first (one query, indexed).

    This is also the patient's log extract (loggutdrag, PDL 2008:355 8 kap. 3 §): which care unit,
    when and who; the portal's care providers are public, so `actor_label` is shown.
    """
    return AuditEvent.objects.filter(subject_person_id=person_id).order_by(*AUDIT_KEYS)


def log_extract_for_person(person_id: uuid.UUID) -> QuerySet[AuditEvent]:
    """The patient's log extract (loggutdrag, PDL 2008:355 8 kap. 3 §; HSLF-FS 2016:40 4 kap.
    9 §), newest first, in one query: `audit_list_for_person` without the failed events of the
    actions registered with `failures_in_extract=False` (a denied access decision: no one took
    part of the information; docs/decisions.md, "Log extract shows reads"). Those stay in the
    append-only log."""
    hidden = registry.codes_without_failures_in_extract()
    events = audit_list_for_person(person_id)
    if hidden:
        events = events.exclude(Q(action__in=hidden) & Q(outcome=AuditEvent.Outcome.FAILURE))
    return events
