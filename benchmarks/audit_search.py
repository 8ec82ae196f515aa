"""Audit search figures (part of `make bench`): the administrator's search of the log at scale,
first and deep keyset pages and each filter, over 200,000 rows added in bulk (rows only, not
through the services) across the demo region's organisations, people and 18 months."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.commissions.models import Role
from apps.commissions.selectors import AuditFilter, audit_page, audit_search_in_scope
from apps.identities.models import Person, User
from apps.organisations.models import Organisation

ROWS = 200_000
ACTIONS = ["commission.granted", "commission.ended", "role.granted", "account.deactivated",
           "commission.chosen", "employee.created"]
#: One in ten rows: actions recorded without an organisation.
NO_ORGANISATION = ["session.ended", "password.changed", "second_factor.reset", "person.left"]


def add_audit_rows(count: int) -> None:
    """`count` audit rows over the last 18 months, at random organisations, subjects and actors;
    one in ten concerns no organisation (`NO_ORGANISATION`)."""
    rng = random.Random(1)
    organisations = list(Organisation.objects.values_list("hsa_id", "name"))
    people = list(Person.objects.values_list("id", flat=True))
    users = list(User.objects.values_list("id", flat=True))
    now = timezone.now()
    batch = []
    for _ in range(count):
        hsa_id, name = rng.choice(organisations)
        action = rng.choice(ACTIONS)
        if rng.random() < 0.1:  # events that concern no organisation, found through the person
            hsa_id, name, action = "", "", rng.choice(NO_ORGANISATION)
        batch.append(AuditEvent(
            id=uuid.uuid4(), occurred_at=now - timedelta(seconds=rng.randrange(548 * 86400)),
            action=action, actor_id=rng.choice(users), actor_label="Bench Actor",
            actor_kind="user", organisation_hsa_id=hsa_id, organisation_label=name,
            subject_person_id=rng.choice(people), subject_label="Bench Person",
            target_type="bench.thing", target_id="1"))
        if len(batch) == 10_000:
            AuditEvent.objects.bulk_create(batch)
            batch = []
    AuditEvent.objects.bulk_create(batch)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # as autovacuum would, before the figures


def main(measure: Any) -> None:
    """Print the figures; `measure(name, fn, repeat=...)` is the runner's timer."""
    add_audit_rows(ROWS)
    admin = User.objects.get(username="henrik.admin")  # local administrator over one hospital
    regional = User.objects.get(username="anna.admin")  # over the whole region
    unit = Organisation.objects.filter(is_care_unit=True, path__startswith=(
        admin.person.role_assignments.get(role=Role.LOCAL_ADMIN).organisation.path)).first()
    subject = AuditEvent.objects.filter(organisation_hsa_id=unit.hsa_id if unit else "").exclude(
        subject_person_id=None).values_list("subject_person_id", flat=True).first()
    person = Person.objects.get(pk=subject) if subject else None

    def page(who: User, after: Any = None, **filters: Any) -> Any:
        found = audit_search_in_scope(actor=who, filters=AuditFilter(**filters))
        return audit_page(found, after, 50)

    deep: Any = None
    for _ in range(200):  # the position 10,000 events in
        deep = page(regional, deep)[1]
    label = f"audit search, {ROWS // 1000}k rows"
    measure(f"{label}: region, first page", lambda: page(regional), repeat=20)
    measure(f"{label}: region, page 201", lambda: page(regional, deep), repeat=20)
    measure(f"{label}: one hospital, first page", lambda: page(admin), repeat=20)
    if person is not None:
        number = person.person_number
        measure(f"{label}: by personnummer", lambda: page(regional, person=number), repeat=20)
    measure(f"{label}: by actor's username", lambda: page(regional, actor="sara.staff"), repeat=20)
    measure(f"{label}: one unit", lambda: page(admin, unit=unit), repeat=20)
    measure(f"{label}: one hospital, person.left (no organisation)",
            lambda: page(admin, action="person.left"), repeat=20)
    measure(f"{label}: one action, one month",
            lambda: page(regional, action="role.granted", since=timezone.now() - timedelta(days=30)),
            repeat=20)
