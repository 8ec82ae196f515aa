"""Who a downstream system receives (docs/provisioning.md, "Scope").

A person is in a system's scope when they hold an employee HSA-id (`Employee`) issued by an
organisation in the subtree of one of the system's `scope` organisations. Their commissions and
roles travel with them; a person who leaves keeps the employee row, so they stay in scope and are
sent as inactive. Someone whose last in-scope employee HSA-id moved away is out of scope: the
target's user is deactivated (and never deleted, so the target keeps its own history).
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from apps.commissions.models import Employee
from apps.organisations.selectors import subtree_q
from apps.provisioning.models import DownstreamSystem, RemoteUser


def person_ids_in_scope(system: DownstreamSystem) -> QuerySet[Employee, uuid.UUID]:
    """The ids of the people `system` receives, distinct, ordered by id (a values_list queryset;
    stream it with `.iterator()`). A system with no scope organisation receives nobody."""
    return (Employee.objects.filter(subtree_q(system.scope.all(), "organisation__"))
            .order_by("person_id").values_list("person_id", flat=True).distinct())


def in_scope(system: DownstreamSystem, person_id: uuid.UUID | str) -> bool:
    """Whether `system` receives the person `person_id`."""
    return person_ids_in_scope(system).filter(person_id=person_id).exists()


def systems_for_person(person_id: uuid.UUID | str) -> list[DownstreamSystem]:
    """Every downstream system (enabled or paused) that receives the person, or received them
    before and still holds them active (an active `RemoteUser`, to be deactivated now; once
    deactivated the system hears no more of them), by name. Reads 3 times whatever the number
    of systems (there are few)."""
    paths = list(Employee.objects.filter(person_id=person_id)
                 .values_list("organisation__path", flat=True))
    earlier = set(RemoteUser.objects.filter(person_id=person_id, active=True)
                  .values_list("system_id", flat=True))
    return [system for system in DownstreamSystem.objects.prefetch_related("scope")
            if system.pk in earlier
            or any(path.startswith(root.path) for path in paths for root in system.scope.all())]
