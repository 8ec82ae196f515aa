"""Who may administer what. Deny by default: no active role over a node means no access.

An administrator's scope is the union of the subtrees of their active role assignments
(administrativt uppdrag, docs/glossary.md). Outside the scope, objects are reported as not
found, so their existence never leaks.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.commissions.models import Commission, Employee, Role, RoleAssignment, ValidityStatus
from apps.core.actors import ClientSystem, is_operator
from apps.core.calls import policy
from apps.core.errors import Forbidden, NotFound
from apps.identities.actors import Actor
from apps.identities.models import Person, User
from apps.organisations.models import Organisation


def scope_roots(actor: Actor, role: str = Role.LOCAL_ADMIN) -> list[Organisation]:
    """The organisations at the top of the actor's active `role` assignments (now, UTC). A
    registered system acting by its own credentials (`ClientSystem`, an HR system over SCIM)
    administers its registering organisation's subtree as a local administrator would, and holds
    no other role (docs/decisions.md, "The inbound SCIM client's scope")."""
    if is_operator(actor):
        return list(Organisation.objects.filter(parent__isnull=True))
    if isinstance(actor, ClientSystem):
        if role != Role.LOCAL_ADMIN or actor.organisation_id is None:
            return []
        return list(Organisation.objects.filter(pk=actor.organisation_id))
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
def require_search_audit_log(actor: Actor) -> list[Organisation]:
    """The actor may search and export the audit log of their subtrees: the care provider's
    systematic log follow-up (PDL 2008:355 4 kap. 3 §, HSLF-FS 2016:40 4 kap. 9 §). Only local
    administrators, over the subtrees of their active roles (docs/decisions.md, "Audit search").
    Returns those scope roots; raises NotFound for anyone else (the page does not exist for
    them)."""
    roots = scope_roots(actor)
    if not roots:
        raise NotFound()
    return roots


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


#: The system roles a registered system (`ClientSystem`, an HR system over SCIM) may grant:
#: docs/decisions.md, "What an HR system may grant".
CLIENT_GRANTABLE_ROLES = frozenset({Role.ISSUER})


@policy
def require_grantable_role(actor: Actor, role: str) -> None:
    """An HR system's credential grants only `CLIENT_GRANTABLE_ROLES`: it never makes a local
    administrator or a federation operator (docs/decisions.md, "What an HR system may grant").
    People and the portal's own actors are limited by their scope alone. Raises Forbidden
    (`role.not_grantable`)."""
    if isinstance(actor, ClientSystem) and role not in CLIENT_GRANTABLE_ROLES:
        raise Forbidden(
            _("An HR system cannot grant this role. A local administrator grants it in the "
              "portal."),
            code="role.not_grantable",
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


def can_administer_person_wholly(actor: Actor, person: Person,
                                 role: str = Role.LOCAL_ADMIN) -> bool:
    """True when the actor's scope for `role` holds EVERY employee HSA-id of the person (all their
    homes, and at least one); always for the operator. What belongs to the person rather than to
    one employer (their login accounts, all their sessions, their second factor and password,
    activation codes and e-IDs) is managed only by such an actor, so an administrator of one
    part of the organisation never controls someone who also works in another
    (docs/decisions.md, "Person-wide actions")."""
    if is_operator(actor):
        return True
    roots = scope_roots(actor, role)
    homes = list(Organisation.objects.filter(
        pk__in=Employee.objects.filter(person=person).values("organisation_id")))
    return bool(homes) and all(in_scope(org, roots) for org in homes)


def can_take_away_person_wide(actor: Actor, person: Person, role: str = Role.LOCAL_ADMIN) -> bool:
    """True when the actor may take a person-wide thing away (deactivate an account, end
    activation codes, revoke an e-ID): wholly in scope (`can_administer_person_wholly`), or in
    scope of one home while the person holds no active commission or system role anywhere now
    (UTC): nothing they do elsewhere depends on it, as after a leaver (docs/decisions.md,
    "Person-wide actions", "Leavers")."""
    if can_administer_person_wholly(actor, person, role):
        return True
    now = timezone.now()
    return can_administer_person(actor, person, role) and not (
        Commission.objects.active_at(now).filter(employee__person=person).exists()
        or RoleAssignment.objects.active_at(now).filter(person=person).exists())


@policy
def require_administer_account(actor: Actor, person: Person, role: str = Role.LOCAL_ADMIN,
                               *, taking_away: bool = False) -> None:
    """The actor may act on the person's person-wide things: `can_administer_person_wholly`, or
    with `taking_away` `can_take_away_person_wide`. Raises NotFound otherwise (the person page
    shows such a person's account read-only; docs/decisions.md, "Person-wide actions")."""
    allowed = (can_take_away_person_wide if taking_away else can_administer_person_wholly)
    if not allowed(actor, person, role):
        raise NotFound()


@policy
def require_operator(actor: Actor) -> None:
    """Only the portal's own system actors (scheduled work the operator runs). Raises Forbidden."""
    if not is_operator(actor):
        raise Forbidden(_("Only the portal itself does this."), code="operator_only")


@policy
def require_staff_self(actor: Actor) -> None:
    """A staff member acting for themself (choosing the commission they act under). Raises
    Forbidden for anyone else: patients, system actors, deactivated accounts."""
    if not (isinstance(actor, User) and actor.kind == User.Kind.STAFF and actor.is_active):
        raise Forbidden(_("Only staff choose a commission."), code="commission.not_staff")


@policy
def require_act_under_commission(actor: Actor, commission: Commission | None,
                                 now: datetime) -> None:
    """The actor may act under `commission` at `now` (UTC): it belongs to one of the actor's own
    employee HSA-ids and is valid (not ended, `valid_from <= now < valid_until`). Deny by default.

    Raises NotFound for a missing commission and for someone else's alike (existence never
    leaks), Forbidden (`commission.not_valid`) for one of the actor's own that has ended, expired
    or not yet begun."""
    if not (isinstance(actor, User) and commission is not None
            and commission.employee.person_id == actor.person_id):
        raise NotFound()
    if commission.status(now) != ValidityStatus.ACTIVE:
        raise Forbidden(_("This commission is not valid now. Choose another one."),
                        code="commission.not_valid")
