"""The type of a service's `actor` argument."""

import uuid

from apps.core.actors import SystemActor
from apps.identities.models import User

Actor = User | SystemActor


def actor_id(actor: Actor) -> uuid.UUID | None:
    """The acting user's id, or None for the system (stored beside a label snapshot)."""
    return None if isinstance(actor, SystemActor) else actor.pk
