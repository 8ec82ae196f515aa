"""Template filters for audit rows."""

from django import template

from apps.audit.registry import reason_text as _reason_text

register = template.Library()


@register.filter(name="reason_text")
def reason_text(stored: str) -> str:
    """`{{ event.reason|reason_text }}`: a registered reason code's translated label, else the
    reason as a person typed it."""
    return _reason_text(stored or "")
