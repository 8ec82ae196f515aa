"""Who may ask the rules service, and who follows up emergency openings. Deny by default.

- A decision is asked by a registered system (an OAuth2 client holding the evaluation scope,
  checked by the API) on behalf of a staff member of its own care provider (`facts.AccessActor`).
  The decision then applies the law to that staff member; asking is not access.
- An emergency opening is followed up by a local administrator whose scope covers the care unit
  (or, for a commission without one, the care provider) that made it: the care provider's
  systematic follow-up of access (PDL 2008:355 4 kap. 3 §, HSLF-FS 2016:40 4 kap. 9 §). Anyone
  else gets NotFound (the opening's existence never leaks).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.commissions.policies import require_administer_unit, scope_roots
from apps.core.calls import policy
from apps.core.errors import Forbidden, NotFound
from apps.identities.actors import Actor
from apps.identities.models import User
from apps.organisations.models import Organisation
from apps.rules.facts import AccessActor
from apps.rules.models import EmergencyOpening


@policy
def require_decision_caller(actor: object) -> None:
    """A system acting for its staff member (`AccessActor` with a client id); the decision then
    checks that the system may vouch for that staff member (`decision.system_vouches`). Raises
    Forbidden (`rules.caller`) for anyone else, the portal's own system actor included: a
    decision is always about a staff member."""
    if isinstance(actor, AccessActor) and actor.client_id:
        return
    raise Forbidden(_("Only a registered system may ask for access decisions."),
                    code="rules.caller")


@policy
def require_follow_up(actor: Actor, opening: EmergencyOpening) -> None:
    """`actor` administers the unit (or care provider) the opening was made at, and did not make
    it: nobody follows up their own access (the follow-up checks that access, HSLF-FS 2016:40
    4 kap. 9 §). Raises NotFound outside the scope (commissions.policies.require_administer_unit),
    Forbidden (`emergency.own`) for one's own opening."""
    require_administer_unit(actor, opening.care_unit or opening.care_provider)
    if isinstance(actor, User) and opening.commission.employee.person_id == actor.person_id:
        raise Forbidden(_("You cannot follow up your own emergency access; another "
                          "administrator does."), code="emergency.own")


@policy
def require_follow_up_scope(actor: Actor) -> list[Organisation]:
    """The scope in which `actor` follows up emergency openings: the roots of their active local
    administrator roles (`scope_roots`; PDL 2008:355 4 kap. 3 §, HSLF-FS 2016:40 4 kap. 9 §).
    Raises NotFound for anyone without one (the pages do not exist for them)."""
    roots = scope_roots(actor)
    if not roots:
        raise NotFound()
    return roots
