"""The type of a service's `actor` argument."""

from apps.core.actors import SystemActor
from apps.identities.models import User

Actor = User | SystemActor
