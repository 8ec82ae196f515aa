"""Who may register people, login accounts and second factors. Deny by default.

People, login accounts and second factors come from the operator (demo data, imports: the system
actor) until the administrators' joiner pages exist.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.core.actors import is_operator
from apps.core.calls import policy
from apps.core.errors import Forbidden
from apps.identities.actors import Actor


@policy
def require_register_people(actor: Actor) -> None:
    """Only the operator (system actor) registers people, login accounts and second factors.
    Raises Forbidden (`person.create_forbidden`)."""
    if not is_operator(actor):
        raise Forbidden(_("Only the system registers people."), code="person.create_forbidden")
