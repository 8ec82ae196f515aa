"""Who may issue activation codes and revoke mobile e-IDs. Deny by default.

- A staff member issues a code for themself (self-service with inherited identification; the
  service also demands a fresh step-up).
- An issuer (ID-administratör: an active `Role.ISSUER` over the organisation subtree holding one of
  the person's employee HSA-ids) issues codes for other staff after checking an identity document,
  and revokes any e-ID of a person in scope.
- The owner revokes their own e-IDs.
- Only the system publishes CRLs (the issuing CA acting on its own schedule, after a revocation,
  or when the CRL endpoint finds the stored CRL out of date).
Outside scope the answer is NotFound, so existence never leaks.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.commissions import policies as commission_policies
from apps.commissions.models import Commission, Role, RoleAssignment
from apps.core.actors import SystemActor
from apps.core.errors import Forbidden, NotFound
from apps.identities.actors import Actor
from apps.identities.models import Person, User
from apps.issuance.models import MobileEID


def is_staff_person(person: Person) -> bool:
    """True when the person is a working staff member: an employee HSA-id with an active
    commission, or an active system role (someone who has left keeps neither)."""
    now = timezone.now()
    return Commission.objects.active_at(now).filter(employee__person=person).exists() or (
        RoleAssignment.objects.active_at(now).filter(person=person).exists()
    )


def is_issuer(actor: Actor) -> bool:
    """True when the actor has an active issuer role anywhere (system: always)."""
    return bool(commission_policies.scope_roots(actor, Role.ISSUER))


def can_issue_for_other(actor: Actor, person: Person) -> bool:
    """An issuer whose scope covers one of the person's employee HSA-ids, never for themself."""
    if isinstance(actor, User) and actor.person_id == person.pk:
        return False
    return commission_policies.can_administer_person(actor, person, Role.ISSUER)


def require_issue_for_other(actor: Actor, person: Person) -> None:
    """NotFound unless `can_issue_for_other`."""
    if not can_issue_for_other(actor, person):
        raise NotFound()


def can_revoke_eid(actor: Actor, eid: MobileEID) -> bool:
    """The owner, an issuer in scope of the owner, or the system."""
    if isinstance(actor, SystemActor):
        return True
    if actor.person_id == eid.person_id:
        return True
    return commission_policies.can_administer_person(actor, eid.person, Role.ISSUER)


def require_revoke_eid(actor: Actor, eid: MobileEID) -> None:
    """NotFound unless `can_revoke_eid`."""
    if not can_revoke_eid(actor, eid):
        raise NotFound()


def can_publish_crl(actor: Actor) -> bool:
    """Only the system (no person signs CRLs)."""
    return isinstance(actor, SystemActor)


def require_publish_crl(actor: Actor) -> None:
    """Forbidden unless `can_publish_crl`."""
    if not can_publish_crl(actor):
        raise Forbidden(_("Only the issuing CA publishes revocation lists."), code="crl.forbidden")
