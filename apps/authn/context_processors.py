"""Template context: how the user logged in, the commission they act under and which system roles
they hold (for the menu and the header)."""

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from apps.authn import session
from apps.commissions.selectors import role_codes_active_for_person
from apps.identities.models import User


def authn(request: HttpRequest) -> dict[str, Any]:
    """`authn` (session facts), `staff_roles` (the set of active role codes of a staff user, one
    query; the pages themselves still check every permission) and `acting_commission` (the
    commission the request acts under, validated by
    `apps.authn.commission_middleware.CommissionMiddleware`, or None; no query)."""
    user = getattr(request, "user", None)
    roles: set[str] = set()
    if isinstance(user, User) and user.kind == User.Kind.STAFF:
        roles = role_codes_active_for_person(user.person_id, timezone.now())
    return {"authn": session.get(request), "staff_roles": roles,
            "acting_commission": getattr(request, "commission", None)}
