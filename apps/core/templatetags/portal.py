"""Template filters shared by every page."""

from django import template

from apps.core.actors import actor_display

register = template.Library()


@register.filter(name="actor_name")
def actor_name(label: str) -> str:
    """`{{ event.actor_label|actor_name }}`: a system actor's translated name, else the label."""
    return actor_display(label or "")
