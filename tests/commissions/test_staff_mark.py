"""The staff mark behind the people search's index (`Person.is_staff`, migrations identities/0006
and commissions/0007): no save clears it, and the audit search's person filter is not limited by
it (docs/search-and-lists.md)."""
from __future__ import annotations

import pytest
from django.db import connection

from apps.commissions import selectors
from apps.commissions.selectors import AuditFilter
from apps.core.actors import SYSTEM
from apps.identities import services as identities
from apps.identities.models import Person
from apps.identities.selectors import person_name_q
from tests.commissions.test_audit_search import UNTIL, event
from tests.conftest import make_staff, next_person_number


@pytest.mark.django_db
def test_a_save_of_a_person_loaded_before_their_employee_hsa_id_keeps_them_findable(tree):
    # make_staff: person_create (in memory is_staff=False), then employee_create (trigger sets true)
    user, employee = make_staff(tree["cardio"], "Ylva", "Zzyzxbreak")
    person = employee.person  # same in-memory instance the services used
    person.email = "changed@example.invalid"
    person.save()  # any full save with the instance loaded before the employee existed
    assert Person.objects.filter(person_name_q("Zzyzxbreak", staff_only=True)).exists(), \
        "staff member lost from the name search after an ordinary save()"


@pytest.mark.django_db
def test_the_audit_person_filter_finds_by_name_whom_it_finds_by_number(tree, hospital_admin):
    number = next_person_number()
    subject = identities.person_create(actor=SYSTEM, given_name="Qvintus", family_name="Qvarnsson",
                                       person_number=number, email="q@example.invalid")
    ev = event(tree["cardio"], subject=subject)
    by_number = list(selectors.audit_search_in_scope(
        actor=hospital_admin, filters=AuditFilter(person=str(number), until=UNTIL)))
    by_name = list(selectors.audit_search_in_scope(
        actor=hospital_admin, filters=AuditFilter(person="Qvintus Qvarnsson", until=UNTIL)))
    assert by_number == [ev]
    assert by_name == by_number, f"vendor={connection.vendor}: name filter misses non-staff subject"
