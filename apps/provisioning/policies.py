"""Who administers downstream systems (docs/provisioning.md, "Administering downstream systems").
Deny by default.

A downstream system belongs to an organisation. The local administrators (lokal administratör)
of that organisation, or of an organisation above it, register it, change it, pause and enable
it, retry and skip its jobs and start its reconciliations: the same administrators who manage
the people it receives (a system receives only people of its owner's subtree,
`apps.provisioning.services`). For everyone else a system is "not found", so its existence never
leaks.
"""

from __future__ import annotations

from apps.commissions.policies import in_scope, scope_roots
from apps.core.calls import policy
from apps.core.errors import NotFound
from apps.identities.actors import Actor
from apps.organisations.models import Organisation


def can_manage_system(actor: Actor, organisation: Organisation) -> bool:
    """True when the actor is a local administrator now (UTC) of `organisation` (the owner of a
    system, or the one a new system is registered for) or of an organisation above it; always for
    the portal's own system actors."""
    return in_scope(organisation, scope_roots(actor))


@policy
def require_manage_system(actor: Actor, organisation: Organisation) -> None:
    """Raises NotFound unless `can_manage_system`."""
    if not can_manage_system(actor, organisation):
        raise NotFound()


@policy
def require_administer_systems(actor: Actor) -> list[Organisation]:
    """The actor is a local administrator somewhere: the pages of downstream systems exist for
    them. Returns the roots of their scope; raises NotFound for anyone else."""
    roots = scope_roots(actor)
    if not roots:
        raise NotFound()
    return roots
