"""The demo people the test IdP offers, read from the portal's database through the ORM.
Staff with a login account come first.

Staff (`staff` personality): one choice per employee HSA-id (a staff member with two HSA-ids is two
choices, each asserting its own employeeHsaId). Citizens (`citizen`): one choice per person with a
personnummer or samordningsnummer (both are personalIdentityNumber in the Swedish e-ID framework).
People without a person number are left out: the assertion and its NameID need one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Exists, OuterRef

from apps.commissions.models import Employee
from apps.identities.identifiers import OID_PERSONNUMMER, OID_SAMORDNINGSNUMMER
from apps.identities.models import IdentityNumber, Person, User

#: At most this many choices on the login page (the demo data has a handful).
LIMIT = 200
_ROOTS = (OID_PERSONNUMMER, OID_SAMORDNINGSNUMMER)


@dataclass(frozen=True)
class Choice:
    """One person to log in as: `value` (a UUID string) goes back in the form; `name` and
    `detail` (HSA-id or person number) are shown."""

    value: str
    name: str
    detail: str
    attributes: dict[str, str]


#: The test patient of Swedish e-health, Tolvan Tolvansson (12 digits).
TOLVAN = "191212121212"
#: A synthetic person the demo data does not register: logging in as them shows a patient's first
#: login registering the person and the patient account.
NEW_PATIENT = Choice(
    "6f1c0b64-3d0e-4a57-9b8e-7c2f51a0d3e1", "Nora Nykomling", "19950314-1237",
    {"personalIdentityNumber": "199503141237", "givenName": "Nora", "sn": "Nykomling",
     "displayName": "Nora Nykomling"})


def _number(person: Person) -> str:
    for number in person.identity_numbers.all():
        if number.root in _ROOTS:
            return number.extension
    return ""


def _base(person: Person, number: str) -> dict[str, str]:
    return {"personalIdentityNumber": number, "givenName": person.given_name,
            "sn": person.family_name, "displayName": f"{person.given_name} {person.family_name}"}


def choices(personality: str) -> list[Choice]:
    """The choices for `personality` ("staff" or "citizen"), ordered by name."""
    found: list[Choice] = []
    if personality == "staff":
        # The demo's staff with login accounts first (README's table), then everyone by name.
        has_account = Exists(User.objects.filter(person=OuterRef("person"), kind=User.Kind.STAFF))
        employees = (Employee.objects.select_related("person")
                     .prefetch_related("person__identity_numbers")
                     .order_by(has_account.desc(), "person__family_name", "person__given_name",
                               "hsa_id")[:LIMIT])
        for employee in employees:
            number = _number(employee.person)
            if number:
                found.append(Choice(str(employee.pk), str(employee.person), employee.hsa_id,
                                    {**_base(employee.person, number), "employeeHsaId": employee.hsa_id}))
    elif personality == "citizen":
        # Tolvan Tolvansson (the well-known test patient, README) first, then everyone by name;
        # last, one person the portal does not know yet, to see a first login register them.
        tolvan = Exists(IdentityNumber.objects.filter(person=OuterRef("pk"), extension=TOLVAN))
        people = (Person.objects.filter(identity_numbers__root__in=_ROOTS).distinct()
                  .prefetch_related("identity_numbers")
                  .order_by(tolvan.desc(), "family_name", "given_name")[:LIMIT])
        for person in people:
            number = _number(person)
            found.append(Choice(str(person.pk), str(person), person.person_number, _base(person, number)))
        if not IdentityNumber.objects.filter(extension=NEW_PATIENT.attributes[
                "personalIdentityNumber"]).exists():
            found.append(NEW_PATIENT)
    return found


def attributes(personality: str, value: str) -> dict[str, str] | None:
    """The attributes of the choice `value` for `personality`, or None when it is no choice."""
    try:
        uuid.UUID(value)
    except ValueError:
        return None
    if personality == "staff":
        employee = (Employee.objects.select_related("person")
                    .prefetch_related("person__identity_numbers").filter(pk=value).first())
        if employee is None or not _number(employee.person):
            return None
        return {**_base(employee.person, _number(employee.person)), "employeeHsaId": employee.hsa_id}
    if personality == "citizen":
        if value == NEW_PATIENT.value:
            return dict(NEW_PATIENT.attributes)
        person = Person.objects.prefetch_related("identity_numbers").filter(pk=value).first()
        if person is None or not _number(person):
            return None
        return _base(person, _number(person))
    return None
