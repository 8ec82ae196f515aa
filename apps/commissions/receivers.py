"""What the commissions app does when a person's staff entitlement ends (`signals`)."""

from __future__ import annotations

from typing import Any

from apps.commissions import services
from apps.identities.actors import Actor
from apps.identities.models import Person


def end_enrolments(sender: Any, *, actor: Actor, person: Person, reason: str,
                   **kwargs: Any) -> None:
    """`signals.entitlement_ended`: end the person's open enrolments (an invitation link stops
    working), as `actor`, in the transaction of the change."""
    services.enrolments_end(actor=actor, person=person, reason=reason)
