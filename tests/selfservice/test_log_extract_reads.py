"""The patient's log extract shows the reads of their records: who (the staff member and their
employee HSA-id), at which care unit, when, what (activity and information type, in the reader's
language), and emergency access marked with its reason. A denied decision is no read and is not
shown; another patient's reads never are. The page costs the same queries for many rows."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.actors import SYSTEM
from apps.identities import services as identities
from apps.identities.models import User
from tests.conftest import make_staff, next_person_number, patient_login
from tests.rules.support import care_commission, decide

LOG = reverse("selfservice:patient_log")


def _rows(response: Any) -> list[str]:
    """The table's rows as text, tags removed, spaces collapsed."""
    body = response.content.decode()
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", row)).split())
            for row in body.split("<tr>")[2:]]


@pytest.fixture
def nina(tree: dict[str, Any]) -> Any:
    """Nina at Cardiology: read and write at her unit, read across care providers (SJF)."""
    _user, employee = make_staff(tree["cardio"], "Nina", "Nurse")
    return care_commission(employee, tree["cardio"],
                           ["Läsa;alla;VE", "Skriva;alla;VE", "Läsa;alla;SJF"])


def test_a_read_shows_who_where_when_and_what(client, tree, patient, nina):
    decision = decide(nina, patient.person, tree["cardio"], information_type="lak")
    assert decision.allowed
    decide(nina, patient.person, tree["cardio"], activity="Skriva")
    patient_login(client, patient)
    rows = _rows(client.get(LOG, HTTP_ACCEPT_LANGUAGE="en"))
    hsa = nina.employee.hsa_id
    when = timezone.localtime(decision.decided_at).strftime("%Y-%m-%d %H:%M")
    read = next(r for r in rows if "Read: medication" in r)
    assert read.startswith(when)
    assert f"Cardiology HSA-id SE2321000016-0101 Nina Nurse HSA-id {hsa} Read: medication" in read
    assert "Emergency access" not in read
    assert any(f"Nina Nurse HSA-id {hsa} Write: all information" in r for r in rows)


def test_the_extract_is_in_swedish_too(client, tree, patient, nina):
    decide(nina, patient.person, tree["cardio"], information_type="lak", emergency=False)
    patient_login(client, patient)
    rows = _rows(client.get(LOG, HTTP_ACCEPT_LANGUAGE="sv"))
    assert any("Nina Nurse HSA-id" in r and "Läsa: läkemedel" in r for r in rows), rows


def test_emergency_access_is_marked_with_its_reason(client, tree, patient, nina):
    decision = decide(nina, patient.person, tree["other_unit"], emergency=True,
                      reason="Unconscious on arrival")
    assert decision.allowed and decision.verdict.emergency
    patient_login(client, patient)
    rows = _rows(client.get(LOG, HTTP_ACCEPT_LANGUAGE="en"))
    assert any("Nina Nurse" in r and "Read: all information Emergency access "
               "Reason: Unconscious on arrival" in r for r in rows), rows


def test_a_denied_decision_is_not_shown_but_stays_in_the_log(client, tree, patient, nina):
    denied = decide(nina, patient.person, tree["other_unit"])  # no consent, no emergency
    assert not denied.allowed
    patient_login(client, patient)
    rows = _rows(client.get(LOG, HTTP_ACCEPT_LANGUAGE="en"))
    assert not any("Nina Nurse" in r for r in rows), rows
    assert AuditEvent.objects.filter(id=denied.id, outcome="failure").exists()


def test_another_patients_reads_are_not_shown(client, tree, patient, nina):
    other = identities.person_create(actor=SYSTEM, given_name="Olof", family_name="Other",
                                     person_number=next_person_number())
    decide(nina, other, tree["cardio"], information_type="dia")
    patient_login(client, patient)
    rows = _rows(client.get(LOG, HTTP_ACCEPT_LANGUAGE="en"))
    assert not any("diagnoses" in r or "Nina Nurse" in r for r in rows), rows


def test_the_page_costs_the_same_queries_for_many_reads(client, tree, patient, nina,
                                                        django_assert_max_num_queries):
    decide(nina, patient.person, tree["cardio"])
    patient_login(client, patient)
    client.get(LOG)
    with django_assert_max_num_queries(15) as few:
        client.get(LOG)
    for _ in range(20):
        decide(nina, patient.person, tree["cardio"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        rows = _rows(client.get(LOG, HTTP_ACCEPT_LANGUAGE="en"))
    assert sum("Read: all information" in r for r in rows) >= 20


def test_the_patients_own_account_is_you_and_staff_are_not(client, tree, nina):
    person = identities.person_create(actor=SYSTEM, given_name="Petra", family_name="Patient",
                                      person_number=next_person_number())
    account = identities.user_create(actor=SYSTEM, person=person, username="petra-patient",
                                     kind=User.Kind.PATIENT)
    decide(nina, person, tree["cardio"])
    patient_login(client, account)
    rows = _rows(client.get(LOG, HTTP_ACCEPT_LANGUAGE="en"))
    read = next(r for r in rows if "Nina Nurse" in r)
    assert "You" not in read
