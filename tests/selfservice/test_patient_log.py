"""The log extract names staff by their name (and employee HSA-id where the row has one), never by
their login username, and never shows a patient's own account name (both are internal; the demo
derives a patient's from the personnummer)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from django.urls import reverse
from django.utils import timezone

from apps.consents import services
from apps.core.actors import SYSTEM
from apps.identities import services as identities
from apps.identities.identifiers import make_person_number
from apps.identities.models import User
from tests.conftest import patient_login


def test_staff_are_named_without_their_username_and_the_patient_is_you(client, tree, nurse):
    number = make_person_number(date(1990, 3, 4), 123)
    person = identities.person_create(actor=SYSTEM, given_name="Petra", family_name="Patient",
                                      person_number=number)
    account = identities.user_create(actor=SYSTEM, person=person, username=f"patient-{number}",
                                     kind=User.Kind.PATIENT)
    services.consent_give(actor=account, patient=person, care_unit=tree["cardio"],
                          valid_from=timezone.now(), valid_until=timezone.now() + timedelta(days=1))
    services.emergency_access_register(actor=nurse[0], patient=person, care_unit=tree["cardio"],
                                       reason="Unconscious")
    patient_login(client, account)
    html = client.get(reverse("selfservice:patient_log"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    rows = [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in html.split("<tr>")[2:]]
    assert any("Nina Nurse Emergency access registered" in r for r in rows), rows
    assert any("You Consent given" in r for r in rows), rows
    assert "patient-" not in html and number not in html
    assert "nina.nurse" not in html and "username" not in html
    swedish = client.get(reverse("selfservice:patient_log"), HTTP_ACCEPT_LANGUAGE="sv").content
    assert b"nina.nurse" not in swedish and "användarnamn".encode() not in swedish



def test_a_username_is_cut_from_a_stored_label_only():
    """`actor_name_for_patient`: "Given Family (username)" loses the username; a system actor's
    name and a name without a username stay as they are."""
    from apps.core.templatetags.portal import actor_name_for_patient

    assert actor_name_for_patient("Nina Nurse (nina.nurse)") == "Nina Nurse"
    assert actor_name_for_patient("Nina Nurse") == "Nina Nurse"
    assert actor_name_for_patient("system:saml-sp") == "Login with e-ID"
    assert actor_name_for_patient("") == ""
