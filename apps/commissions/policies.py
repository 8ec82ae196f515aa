"""Who may administer what. Deny by default: no active role over a node means no access.

An administrator's scope is the union of the subtrees of their active role assignments
(administrativt uppdrag, docs/glossary.md). Outside the scope, objects are reported as not
found, so their existence never leaks.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.commissions.models import Employee, Role, RoleAssignment
from apps.core.actors import is_operator
from apps.core.calls import policy
from apps.core.errors import Forbidden, NotFound
from apps.identities.actors import Actor
from apps.identities.models import Person, User
from apps.organisations.models import Organisation


def scope_roots(actor: Actor, role: str = Role.LOCAL_ADMIN) -> list[Organisation]:
    """The organisations at the top of the actor's active `role` assignments (now, UTC)."""
    if is_operator(actor):
        return list(Organisation.objects.filter(parent__isnull=True))
    if not isinstance(actor, User):
        return []
    assignments = RoleAssignment.objects.active_at(timezone.now()).filter(
        person_id=actor.person_id, role=role
    ).select_related("organisation")
    return [a.organisation for a in assignments]


def in_scope(org: Organisation, roots: list[Organisation]) -> bool:
    """True when `org` lies in the subtree of one of `roots`."""
    return any(org.path.startswith(root.path) for root in roots)


def can_administer_unit(actor: Actor, unit: Organisation, role: str = Role.LOCAL_ADMIN) -> bool:
    return in_scope(unit, scope_roots(actor, role))


@policy
def require_administer_unit(actor: Actor, unit: Organisation, role: str = Role.LOCAL_ADMIN) -> None:
    """Raises NotFound when `unit` is outside the actor's scope for `role`."""
    if not can_administer_unit(actor, unit, role):
        raise NotFound()


@policy
def require_not_self(actor: Actor, person: Person) -> None:
    """Separation of duties: nobody grants or ends their own commissions or roles (an
    administrator could otherwise make themself an issuer or give themself access to patients).
    Raises Forbidden."""
    if isinstance(actor, User) and actor.person_id == person.pk:
        raise Forbidden(
            _("You cannot change your own commissions or roles. Ask another administrator."),
            code="self_administration",
        )


def can_administer_person(actor: Actor, person: Person, role: str = Role.LOCAL_ADMIN) -> bool:
    """True when one of the person's employee HSA-ids belongs to an organisation in scope."""
    roots = scope_roots(actor, role)
    homes = Organisation.objects.filter(
        pk__in=Employee.objects.filter(person=person).values("organisation_id")
    )
    return any(in_scope(org, roots) for org in homes)


@policy
def require_administer_person(actor: Actor, person: Person, role: str = Role.LOCAL_ADMIN) -> None:
    """Raises NotFound when the person is outside the actor's scope for `role`."""
    if not can_administer_person(actor, person, role):
        raise NotFound()
