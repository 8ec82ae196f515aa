"""Template filters shared by every page."""

from datetime import date, datetime

from django import template

from apps.core.actors import actor_display
from apps.core.models import last_included_day

register = template.Library()


@register.filter(name="actor_name")
def actor_name(label: str, kind: str | None = None) -> str:
    """`{{ event.actor_label|actor_name:event.actor_kind }}` (an audit row) or
    `{{ snapshot_label|actor_name }}` (a domain row's "by whom"): a system actor's translated name,
    else the label (`actor_display`; with a kind, only on a row of the system actor's kind)."""
    return actor_display(label or "", kind or None)


@register.filter(name="actor_name_for_patient")
def actor_name_for_patient(label: str) -> str:
    """`{{ b.registered_by_label|actor_name_for_patient }}`: `actor_name` without the login
    username that a stored staff label carries as "Given Family (username)" (`User.__str__`). A
    username is an internal identifier and is never shown to the patient (docs/decisions.md, "The
    patient's log extract names staff by name and HSA-id")."""
    shown = actor_display(label or "")
    name, sep, rest = shown.rpartition(" (")
    return name if sep and name and rest.endswith(")") and " " not in rest else shown


@register.filter(name="last_day")
def last_day(valid_until: datetime | None) -> date | None:
    """`{{ end|last_day|date:"Y-m-d" }}`: the last Swedish calendar day included in a period that
    ends, exclusively, at `end` (UTC); None for an open end (apps.core.models.last_included_day)."""
    return last_included_day(valid_until)
