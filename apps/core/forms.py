"""Form pieces shared by the pages: dates, and a service's error on the form that caused it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.errors import Forbidden, NotFound, PortalError


def add_portal_error(form: forms.Form, exc: PortalError) -> None:
    """Put `exc.message` next to the field it names, or at the top of the form when the form has
    no such field. NotFound and Forbidden are re-raised: they are answers, not form errors
    (PortalErrorMiddleware turns them into 404 and 403)."""
    if isinstance(exc, (NotFound, Forbidden)):
        raise exc
    form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))


#: Dates on the pages are Swedish calendar days; times are stored in UTC.
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def start_of_day(day: date) -> datetime:
    """00:00 Europe/Stockholm on `day`, as a UTC datetime (daylight saving time included)."""
    return datetime.combine(day, time.min, tzinfo=STOCKHOLM).astimezone(UTC)


def end_of_last_day(day: date) -> datetime:
    """The exclusive end of a period whose last (included) day is `day`: 00:00 the day after."""
    return start_of_day(day + timedelta(days=1))


class DateInput(forms.DateInput):
    """The browser's date picker; values as ISO 8601 `YYYY-MM-DD`."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class DateField(forms.DateField):
    """A calendar date between 1900-01-01 and 2199-12-31 (times computed from it stay in range;
    year 1 or 9999 would overflow when converted to a time with a zone)."""

    widget = DateInput
    MIN = date(1900, 1, 1)
    MAX = date(2199, 12, 31)

    def validate(self, value: date | None) -> None:
        super().validate(value)
        if value is not None and not self.MIN <= value <= self.MAX:
            raise ValidationError(_("Enter a date between 1900 and 2199."), code="date_range")


class DayRangeForm(forms.Form):
    """A first and an optional last day, both included (Swedish calendar days), as the half-open
    period [00:00 on the first day, 00:00 after the last day) in UTC (`period()`); no last day is
    an open end. Used by commissions, roles and consents alike. With `today_starts_now`, a first
    day of today starts now instead of at 00:00 (a consent must not make earlier reading lawful)."""

    today_starts_now = False

    valid_from = DateField(label=_("First day"))
    valid_until = DateField(label=_("Last day (optional)"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("valid_from"), data.get("valid_until")
        if first and last and last < first:
            self.add_error("valid_until", _("The last day cannot be before the first day."))
        return data

    def period(self) -> tuple[datetime, datetime | None]:
        """(valid_from, valid_until) in UTC from the cleaned days; valid_until is exclusive."""
        first: date = self.cleaned_data["valid_from"]
        last: date | None = self.cleaned_data.get("valid_until")
        now = timezone.now()
        start = now if self.today_starts_now and first == timezone.localdate(now) else (
            start_of_day(first))
        return start, end_of_last_day(last) if last else None
