"""Template context: how the user logged in and which system roles they hold (for the menu)."""

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from apps.authn import session
from apps.commissions.selectors import role_codes_active_for_person
from apps.identities.models import User


def authn(request: HttpRequest) -> dict[str, Any]:
    """`authn` (session facts) and `staff_roles` (the set of active
    role codes of a staff user, one query; the pages themselves still check every permission)."""
    user = getattr(request, "user", None)
    roles: set[str] = set()
    if isinstance(user, User) and user.kind == User.Kind.STAFF:
        roles = role_codes_active_for_person(user.person_id, timezone.now())
    return {"authn": session.get(request), "staff_roles": roles}
