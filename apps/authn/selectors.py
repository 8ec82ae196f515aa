"""Reads for the login pages."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.core.errors import ValidationFailed
from apps.identities.models import User
from apps.identities.selectors import person_get_by_number


def patient_demo_user(person_number: str) -> User:
    """The patient account for a personnummer (demo login only). Raises ValidationFailed."""
    person = person_get_by_number(person_number)
    user = person and User.objects.filter(person=person, kind=User.Kind.PATIENT,
                                          is_active=True).first()
    if not user:
        raise ValidationFailed(_("No demo patient has this number."), code="login.no_patient",
                               field="person_number")
    return user
