"""Template context: how the user logged in, the commission they act under and which system roles
they hold (for the menu and the header)."""

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from apps.authn import session
from apps.commissions.selectors import (
    commission_list_valid_for_person,
    role_codes_active_for_person,
)
from apps.core import loa
from apps.identities.models import User


def authn(request: HttpRequest) -> dict[str, Any]:
    """`authn` (session facts), `loa_level` (the session's level of assurance as 2, 3 or 4, 0 when
    not logged in; the header shows it), `staff_roles` (the set of active role codes of a staff user, one
    query; the pages themselves still check every permission) and `acting_commission` (the
    commission the request acts under, validated by
    `apps.authn.commission_middleware.CommissionMiddleware`, or None; no query) and
    `has_commissions` (whether the staff member has a valid commission to act under: the one
    chosen, else one query), so pages that need one are offered only to those who have one."""
    user = getattr(request, "user", None)
    roles: set[str] = set()
    acting = getattr(request, "commission", None)
    has_commissions = acting is not None
    if isinstance(user, User) and user.kind == User.Kind.STAFF:
        now = timezone.now()
        roles = role_codes_active_for_person(user.person_id, now)
        has_commissions = has_commissions or bool(
            commission_list_valid_for_person(user.person_id, now))
    facts = session.get(request)
    return {"authn": facts, "loa_level": loa.level(facts.get("loa")), "staff_roles": roles,
            "acting_commission": acting, "has_commissions": has_commissions}
