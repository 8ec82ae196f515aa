"""Staff finding a patient who is present, shared by the staff pages that act for one patient
(registering consent, `care`; blocks, `care_blocks`).

The lookup is a POST (a personnummer never appears in a URL, so not in browser history, proxy or
server logs); the page audits it once through its own service (the purpose differs: the patient's
log extract says why they were looked up). The chosen unit and patient are then kept in the
session under the page's own key, bound to the staff member and for at most
`LOOKUP_MAX_AGE_SECONDS`, and checked again on every request: the unit must still be the one of
the commission acted under, so switching commission ends the lookup. The page is shown again
after a redirect, so reloading it neither repeats the lookup nor audits it twice.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.identities.identifiers import IdentifierError, parse_person_number
from apps.identities.models import Person
from apps.identities.selectors import person_get_by_number

if TYPE_CHECKING:
    from apps.organisations.models import Organisation

#: How long a looked-up patient stays on the page (seconds): a registration for a present patient.
LOOKUP_MAX_AGE_SECONDS = 15 * 60


class FindPatientForm(forms.Form):
    """Which patient, by personnummer or samordningsnummer (normalised by
    apps.identities.identifiers); `patient` is the person found."""

    person_number = forms.CharField(
        label=_("Patient's personal identity number or coordination number"), max_length=13,
        help_text=_("For example 19121212-1212."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.patient: Person | None = None

    def clean_person_number(self) -> str:
        value: str = self.cleaned_data["person_number"]
        try:
            parse_person_number(value)
        except IdentifierError as exc:
            raise forms.ValidationError(str(exc.message)) from exc
        self.patient = person_get_by_number(value)
        if self.patient is None:
            raise forms.ValidationError(_("No patient with this number was found."))
        return value.strip()


@dataclass(frozen=True)
class Lookup:
    """The patient a staff member looked up, at the care unit they act at."""

    unit: Organisation
    patient: Person


@dataclass(frozen=True)
class PatientLookup:
    """The lookup of one page, kept in the session under `key`."""

    key: str

    def remember(self, request: HttpRequest, lookup: Lookup) -> None:
        request.session[self.key] = {
            "user": str(request.user.pk), "unit": str(lookup.unit.pk),
            "patient": str(lookup.patient.pk), "at": int(time.time()),
        }

    def forget(self, request: HttpRequest) -> None:
        request.session.pop(self.key, None)

    def current(self, request: HttpRequest, units: list[Organisation]) -> Lookup | None:
        """The lookup kept in the session, if this staff member made it, at most
        LOOKUP_MAX_AGE_SECONDS ago, at a unit that is still one of `units`; else None (and it is
        dropped)."""
        stored = request.session.get(self.key)
        if not isinstance(stored, dict):
            return None
        unit = next((u for u in units if str(u.pk) == stored.get("unit")), None)
        fresh = isinstance(stored.get("at"), int) and (
            0 <= time.time() - stored["at"] <= LOOKUP_MAX_AGE_SECONDS)
        patient = None
        if unit is not None and fresh and stored.get("user") == str(request.user.pk):
            try:
                patient = Person.objects.filter(pk=uuid.UUID(str(stored.get("patient")))).first()
            except ValueError:
                patient = None
        if unit is None or patient is None:
            self.forget(request)
            return None
        return Lookup(unit=unit, patient=patient)
