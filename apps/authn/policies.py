"""Who may take each step of logging in. Deny by default.

A login attempt is made by someone not yet logged in (the anonymous actor); completing a login and
re-entering a second factor (step-up) are done by the user themself. A person's login sessions are
listed and ended by the person themself, by the portal when a time limit passed, and (those of
staff accounts) by a local administrator whose scope holds the person.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.commissions.policies import can_administer_person_wholly
from apps.core.actors import ANONYMOUS, is_operator
from apps.core.calls import policy
from apps.core.errors import Forbidden, NotFound
from apps.identities.actors import Actor
from apps.identities.models import Person, User


@policy
def require_anonymous(actor: Actor) -> None:
    """Login steps before the session exists: only the anonymous actor. Raises Forbidden."""
    if actor != ANONYMOUS:
        raise Forbidden(_("You are already logged in."), code="forbidden")


@policy
def require_self(actor: Actor, user: User) -> None:
    """The user acting on their own login (completing it, a step-up). Raises Forbidden."""
    if not (isinstance(actor, User) and actor.pk == user.pk and actor.is_active):
        raise Forbidden(_("This is not your login."), code="forbidden")


def is_own_or_portal(actor: Actor, person: Person) -> bool:
    """True for the person themself (an active account of theirs) and for the portal itself."""
    return is_operator(actor) or (
        isinstance(actor, User) and actor.is_active and actor.person_id == person.pk)


@policy
def require_manage_sessions(actor: Actor, person: Person) -> None:
    """List or end the login sessions of `person`: the person themself (any of their accounts),
    the portal itself (a session past its time limit), or a local administrator whose scope
    holds every one of the person's employee HSA-ids (sessions are person-wide:
    `commissions.policies.can_administer_person_wholly`, docs/decisions.md "Person-wide actions",
    docs/journey-sessions-admin.md), who sees and ends those of staff accounts only (a patient
    account's sessions are patient data: `is_own_or_portal`). Raises NotFound for anyone else,
    so whether the person or the session exists never leaks."""
    if is_own_or_portal(actor, person):
        return
    if not (isinstance(actor, User) and actor.is_active
            and can_administer_person_wholly(actor, person)):
        raise NotFound()


@policy
def require_end_entitled_sessions(actor: Actor) -> None:
    """End the sessions a revoked credential entitled (a mobile e-ID's): open to the actor of the
    revocation, whoever they are, since it only takes access away and the revocation passed its
    own policy (as `apps.federation.policies.require_revoke_carried_tokens`). Raises Forbidden
    without an actor."""
    if actor is None:
        raise Forbidden(_("Only a known actor may end sessions."), code="forbidden")


@policy
def require_portal(actor: Actor) -> None:
    """Work only the portal itself does (sending a notification): its system actors. Raises
    Forbidden."""
    if not is_operator(actor):
        raise Forbidden(_("Only the portal sends notifications."), code="forbidden")
