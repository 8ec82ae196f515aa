"""Template tags of the mobile e-ID's out-of-band pages."""

from __future__ import annotations

from typing import Any

from django import template

from apps.issuance import policies

register = template.Library()


@register.simple_tag
def mobile_eid_step_up_offered(user: Any, required_level: int) -> bool:
    """True when the step-up page should offer "Confirm with your mobile e-ID": `user` may
    step up with an active mobile e-ID (`policies.can_step_up_with_mobile_eid`) and the level
    asked for (`required_level`, 1-4) is at most 3, the level of a mobile e-ID login."""
    return required_level <= 3 and policies.can_step_up_with_mobile_eid(user)
