"""The type of a service's `actor` argument."""

import uuid

from apps.core.actors import ClientSystem, SystemActor
from apps.identities.models import User

Actor = User | SystemActor | ClientSystem


def actor_id(actor: Actor) -> uuid.UUID | None:
    """The acting user's id, or None for the system or a client system (stored beside a label
    snapshot)."""
    return actor.pk if isinstance(actor, User) else None
