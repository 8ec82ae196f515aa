"""Who may register people, login accounts and second factors. Deny by default.

The operator (demo data, imports: the system actor) registers people and accounts here; local
administrators register joiners through `apps.commissions.services.joiner_register`, whose policy
is the administrator's scope (`apps.commissions.policies`).
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
