"""Template filters for audit rows."""

from django import template

from apps.audit.models import AuditEvent
from apps.audit.registry import reason_text as _reason_text
from apps.audit.registry import target_text as _target_text

register = template.Library()


@register.filter(name="reason_text")
def reason_text(stored: str) -> str:
    """`{{ event.reason|reason_text }}`: a registered reason code's translated label, else the
    reason as a person typed it."""
    return _reason_text(stored or "")


@register.filter(name="target_text")
def target_text(event: AuditEvent) -> str:
    """`{{ event|target_text }}`: the event's target label in the reader's language."""
    return _target_text(event.target_type, event.target_label)
