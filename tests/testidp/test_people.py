"""Whom the test IdP offers: the README's people first, and one person the portal does not know."""

from __future__ import annotations

from typing import Any

import pytest

from apps.core.actors import SYSTEM
from apps.identities import services as identities
from apps.testidp import people

pytestmark = pytest.mark.django_db


def test_tolvan_comes_first_and_a_new_person_last(patient: Any) -> None:
    identities.person_create(actor=SYSTEM, given_name="Alva", family_name="Andersson",
                             person_number="19611211-2963")
    choices = people.choices("citizen")
    assert choices[0].name == "Tolvan Tolvansson"
    assert choices[-1] == people.NEW_PATIENT
    assert people.attributes("citizen", people.NEW_PATIENT.value) == people.NEW_PATIENT.attributes


def test_the_new_person_is_offered_only_while_the_portal_does_not_know_them(db: Any) -> None:
    identities.person_create(actor=SYSTEM, given_name="Nora", family_name="Nykomling",
                             person_number="19950314-1237")
    choices = people.choices("citizen")
    assert people.NEW_PATIENT not in choices
    assert [choice.name for choice in choices] == ["Nora Nykomling"]
