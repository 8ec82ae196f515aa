"""Patient pages: My consents (give, see, withdraw) and the log extract, through the test client."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.consents import services
from apps.consents.models import ConsentAssertion
from apps.core.actors import SYSTEM
from apps.core.forms import start_of_day
from apps.identities import services as identities
from apps.identities.models import User
from tests.conftest import patient_login

URL = reverse("selfservice:patient_consents")


@pytest.fixture
def client(client):
    """Pages in English (the default language is Swedish)."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def patient_client(client, patient):
    patient_login(client, patient)
    return client


def form_data(unit, **kw):
    data = {"care_unit": str(unit.pk), "who": "all", "employee": "",
            "valid_from": timezone.localdate().isoformat(), "valid_until": ""}
    data.update(kw)
    return data


def test_pages_need_a_patient_login(client, tree, nurse):
    for name in ("selfservice:patient_consents", "selfservice:patient_log"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("federation:discovery") + "?for=patient")
    client.force_login(nurse[0])
    assert client.get(URL).status_code == 302


def test_patient_sees_form_with_units_grouped_by_the_tree(patient_client, tree, nurse):
    response = patient_client.get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>My consents</h1>" in html
    # Grouped by care provider and, below it, hospital: the tree, not a flat list.
    assert '<optgroup label="Region Demo › Demo Hospital">' in html
    assert '<optgroup label="Region Demo">' in html  # Primary Care Centre North, under the region
    assert '<optgroup label="Other Care AB">' in html
    hospital = html.split('<optgroup label="Region Demo › Demo Hospital">')[1].split("</optgroup>")[0]
    assert "Cardiology" in hospital and "Orthopaedics" in hospital and "Primary" not in hospital
    assert "Nina Nurse (" not in html  # "all staff" is the default: no staff list
    assert 'name="employee"' not in html
    assert "You have no active consents." in html


def test_patient_gives_consent_to_all_staff(patient_client, patient, tree):
    last = timezone.localdate() + timedelta(days=30)
    response = patient_client.post(URL, form_data(tree["cardio"], valid_until=last.isoformat()),
                                   follow=True)
    html = response.content.decode()
    assert "Your consent has been registered." in html
    consent = ConsentAssertion.objects.get(patient=patient.person)
    assert consent.employee is None
    assert consent.valid_until == start_of_day(last + timedelta(days=1))
    assert abs(consent.valid_from - timezone.now()) < timedelta(minutes=1)
    assert "All staff at the unit" in html and "Active" in html


def test_one_named_staff_member_needs_a_choice_then_lists_that_units_staff(patient_client, patient,
                                                                          tree, nurse):
    _, employee = nurse
    data = form_data(tree["cardio"], who="one")
    del data["employee"]  # the list was not on the page yet
    response = patient_client.post(URL, data)
    html = response.content.decode()
    assert "Choose the staff member from the list, then give your consent." in html
    assert 'class="error"' not in html  # a step, not a mistake
    assert f"Nina Nurse ({employee.hsa_id})" in html
    assert "<optgroup" in html  # the care unit select still groups by the tree
    assert not ConsentAssertion.objects.exists()
    response = patient_client.post(URL, form_data(tree["cardio"], who="one"))  # chose nobody
    assert "Choose the staff member." in response.content.decode()
    assert not ConsentAssertion.objects.exists()
    response = patient_client.post(URL, form_data(tree["cardio"], who="one",
                                                  employee=str(employee.pk)), follow=True)
    assert "Your consent has been registered." in response.content.decode()
    assert ConsentAssertion.objects.get().employee == employee


def test_staff_member_of_another_unit_is_refused(patient_client, tree, nurse):
    _, employee = nurse
    response = patient_client.post(URL, form_data(tree["ortho"], who="one", employee=str(employee.pk)))
    assert "has no active care commission at the chosen care unit" in response.content.decode()
    assert not ConsentAssertion.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"care_unit": ""}, "This field is required."),
        ({"valid_from": (timezone.localdate() - timedelta(days=1)).isoformat()},
         "The start cannot be in the past."),
        ({"valid_until": (timezone.localdate() - timedelta(days=1)).isoformat()},
         "The last day cannot be before the first day."),
        ({"valid_from": "not a date"}, "Enter a valid date."),
    ],
)
def test_bad_input_is_shown_next_to_the_field(patient_client, tree, overrides, message):
    response = patient_client.post(URL, form_data(tree["cardio"], **overrides))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="error"' in html and message in html
    assert not ConsentAssertion.objects.exists()


def test_non_care_unit_is_not_offered_and_refused(patient_client, tree):
    response = patient_client.post(URL, form_data(tree["hospital"]))
    assert "Choose a care unit from the list." in response.content.decode()


def test_duplicate_consent_message(patient_client, patient, tree):
    patient_client.post(URL, form_data(tree["cardio"]))
    response = patient_client.post(URL, form_data(tree["cardio"]))
    assert "There is already a consent" in response.content.decode()
    assert ConsentAssertion.objects.count() == 1


def test_withdraw_with_confirmation(patient_client, patient, tree):
    consent = services.consent_give(actor=patient, patient=patient.person, care_unit=tree["cardio"],
                                    valid_from=timezone.now())
    url = reverse("selfservice:patient_consent_withdraw", args=[consent.pk])
    html = patient_client.get(url).content.decode()
    assert "Withdraw consent" in html and "Cardiology" in html
    consent.refresh_from_db()
    assert consent.cancelled_at is None  # the GET only asks
    html = patient_client.post(url, follow=True).content.decode()
    assert "Your consent has been withdrawn." in html
    consent.refresh_from_db()
    assert consent.cancelled_at is not None
    assert "Withdrawn" in html.split("Withdrawn consents")[1]


def test_cannot_withdraw_someone_elses_consent(patient_client, tree):
    person = identities.person_create(actor=SYSTEM, given_name="Elva", family_name="Elvasson",
                                      person_number="19500303-1233")
    other = identities.user_create(actor=SYSTEM, person=person, username="elva",
                                   kind=User.Kind.PATIENT)
    consent = services.consent_give(actor=other, patient=person, care_unit=tree["cardio"],
                                    valid_from=timezone.now())
    url = reverse("selfservice:patient_consent_withdraw", args=[consent.pk])
    assert patient_client.get(url).status_code == 404
    assert patient_client.post(url).status_code == 404
    consent.refresh_from_db()
    assert consent.cancelled_at is None


def test_expired_withdrawn_and_emergency_are_listed(patient_client, patient, tree, nurse):
    now = timezone.now()
    services.consent_give(actor=SYSTEM, patient=patient.person, care_unit=tree["ortho"],
                          valid_from=now - timedelta(days=20), valid_until=now - timedelta(days=2))
    services.emergency_access_register(actor=nurse[0], patient=patient.person,
                                       care_unit=tree["cardio"], reason="Unconscious on arrival")
    html = patient_client.get(URL).content.decode()
    expired_section = html.split("<h2>Expired consents</h2>")[1].split("<h2>")[0]
    assert "Orthopaedics" in expired_section and "Expired" in expired_section
    emergency_section = html.split("<h2>Emergency access to your records</h2>")[1].split("<h2>")[0]
    assert "Unconscious on arrival" in emergency_section and "Nina Nurse" in emergency_section
    assert "Withdraw" not in emergency_section.split("<table class=\"stack\">")[1]


def test_log_extract_shows_unit_time_who_and_what(patient_client, patient, tree, nurse):
    services.emergency_access_register(actor=nurse[0], patient=patient.person,
                                       care_unit=tree["cardio"], reason="Unconscious")
    response = patient_client.get(reverse("selfservice:patient_log"))
    html = response.content.decode()
    assert "<h1>Who read my records</h1>" in html
    assert "Emergency access registered" in html
    assert "Cardiology" in html
    assert "Person registered" in html  # events by the system are in the extract too


def test_log_extract_is_paginated(patient_client, patient, tree, django_assert_max_num_queries):
    for i in range(30):
        services.consent_give(actor=SYSTEM, patient=patient.person, care_unit=tree["cardio"],
                              valid_from=timezone.now() + timedelta(days=i),
                              valid_until=timezone.now() + timedelta(days=i, hours=1))
    url = reverse("selfservice:patient_log")
    with django_assert_max_num_queries(8):
        first = patient_client.get(url)
    html = first.content.decode()
    assert "Log extract, newest first" in html and "Older events" in html
    assert "Newer events" not in html
    with django_assert_max_num_queries(8):
        second = patient_client.get(url, {"after": first.context["page"].next})
    html = second.content.decode()
    assert "Log extract, older events" in html and "Newer events" in html
    assert not {e.pk for e in first.context["page"]} & {e.pk for e in second.context["page"]}
    back = patient_client.get(url, {"before": second.context["page"].previous})
    assert [e.pk for e in back.context["page"]] == [e.pk for e in first.context["page"]]
    assert "Log extract" in patient_client.get(url, {"after": "not-a-cursor"}).content.decode()


def test_emergency_access_cannot_be_withdrawn_by_the_patient(patient_client, patient, tree, nurse):
    access = services.emergency_access_register(actor=nurse[0], patient=patient.person,
                                                care_unit=tree["cardio"], reason="Unconscious")
    url = reverse("selfservice:patient_consent_withdraw", args=[access.pk])
    html = patient_client.get(url, follow=True).content.decode()
    assert "Emergency access cannot be withdrawn." in html
    html = patient_client.post(url, follow=True).content.decode()
    assert "Emergency access cannot be withdrawn." in html
    access.refresh_from_db()
    assert access.cancelled_at is None


def test_upcoming_consent_is_shown_as_not_yet_started(patient_client, patient, tree):
    first = timezone.localdate() + timedelta(days=3)
    patient_client.post(URL, form_data(tree["cardio"], valid_from=first.isoformat()))
    consent = ConsentAssertion.objects.get()
    assert consent.valid_from == start_of_day(first)
    html = patient_client.get(URL).content.decode()
    assert "Not yet started" in html.split("<h2>Give consent</h2>")[0]


def test_consents_page_has_a_constant_number_of_queries(patient_client, patient, tree, nurse,
                                                        django_assert_max_num_queries):
    now = timezone.now()
    for unit in ("cardio", "ortho", "primary", "other_unit"):
        services.consent_give(actor=SYSTEM, patient=patient.person, care_unit=tree[unit],
                              valid_from=now - timedelta(days=10), valid_until=now - timedelta(days=1))
        services.consent_give(actor=patient, patient=patient.person, care_unit=tree[unit],
                              valid_from=now, employee=nurse[1] if unit == "cardio" else None)
    with django_assert_max_num_queries(10):
        response = patient_client.get(URL)
    assert response.status_code == 200


def test_a_last_day_far_in_the_future_is_a_form_error(client, tree, patient):
    """Last day 9999-12-31 overflowed (HTTP 500)."""
    patient_login(client, patient)
    response = client.post(reverse("selfservice:patient_consents"),
                           {"care_unit": str(tree["cardio"].pk), "who": "all",
                            "valid_from": timezone.localdate().isoformat(),
                            "valid_until": "9999-12-31"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "Enter a date between 1900 and 2199." in response.content.decode()
    assert not ConsentAssertion.objects.exists()


def test_a_staff_member_left_selected_is_ignored_for_all_staff(client, tree, patient, nurse):
    """Found: choosing "all staff" with a staff member of another unit still selected
    gave a doubled error; "all staff" ignores the list."""
    patient_login(client, patient)
    response = client.post(reverse("selfservice:patient_consents"),
                           {"care_unit": str(tree["ortho"].pk), "who": "all",
                            "employee": str(nurse[1].pk),
                            "valid_from": timezone.localdate().isoformat()},
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    consent = ConsentAssertion.objects.get()
    assert consent.employee is None and consent.care_unit == tree["ortho"]


def test_the_staff_list_names_each_employee_of_the_chosen_unit_once(patient_client, tree, nurse):
    """Found: the list showed 55 entries, with repeats (one per commission and unit),
    even with "all staff" chosen."""
    from apps.commissions import services as commissions
    from tests.conftest import make_staff

    _, employee = nurse
    commissions.commission_grant(actor=SYSTEM, employee=employee, care_unit=tree["cardio"],
                                 purpose="Vård och behandling", rights=["Läsa;alla;VE"],
                                 valid_from=timezone.now() - timedelta(days=30),
                                 valid_until=timezone.now() - timedelta(days=2))  # ended
    commissions.commission_grant(actor=SYSTEM, employee=employee, care_unit=tree["ortho"],
                                 purpose="Vård och behandling", rights=["Läsa;alla;VE"],
                                 valid_from=timezone.now() - timedelta(days=1), valid_until=None)
    make_staff(tree["ortho"], "Olle", "Ortoped", care=True)
    make_staff(tree["cardio"], "Ada", "Admin")  # no care commission: never listed
    data = form_data(tree["cardio"], who="one")
    del data["employee"]
    html = patient_client.post(URL, data).content.decode()
    staff = html.split('name="employee"')[1].split("</select>")[0]
    assert staff.count("Nina Nurse") == 1
    assert "Olle" not in staff and "Ada" not in staff
    assert staff.count("<option") == 2  # "Choose a staff member" and Nina


def test_consent_end_shows_the_last_day_included(patient_client, patient, tree):
    """Found: a consent through 31 May showed as ending "2026-06-01 00:00"."""
    last = timezone.localdate() + timedelta(days=30)
    patient_client.post(URL, form_data(tree["cardio"], valid_until=last.isoformat()))
    consent = ConsentAssertion.objects.get()
    html = patient_client.get(URL).content.decode()
    table = html.split("<h2>Active and upcoming consents</h2>")[1].split("</table>")[0]
    assert f"{timezone.localdate().isoformat()} – {last.isoformat()}" in table
    assert (last + timedelta(days=1)).isoformat() not in table
    withdraw = patient_client.get(reverse("selfservice:patient_consent_withdraw",
                                          args=[consent.pk])).content.decode()
    assert f"{timezone.localdate().isoformat()} – {last.isoformat()}" in withdraw
    assert "00:00" not in withdraw


def test_log_extract_says_you_for_the_patients_own_actions(patient_client, patient, tree, nurse):
    """Found: the extract showed the patient's internal username as "who"."""
    services.consent_give(actor=patient, patient=patient.person, care_unit=tree["cardio"],
                          valid_from=timezone.now())
    services.emergency_access_register(actor=nurse[0], patient=patient.person,
                                       care_unit=tree["cardio"], reason="Unconscious")
    html = patient_client.get(reverse("selfservice:patient_log")).content.decode()
    given = html.split("Consent given")[0].rsplit("<tr>", 1)[1]
    assert '">You</td>' in given
    assert patient.username not in html
    emergency = html.split("Emergency access registered")[0].rsplit("<tr>", 1)[1]
    assert "Nina Nurse" in emergency


def test_log_extract_names_the_e_service_of_a_token(patient_client, patient, tree):
    """Found: "E-service token issued" did not say which e-service."""
    from apps.federation import services_tokens
    from tests.federation.oidc_support import register

    registered = register(tree["cardio"])
    services_tokens.authorisation_revoke(actor=patient, client=registered.client)
    html = patient_client.get(reverse("selfservice:patient_log")).content.decode()
    assert "E-service authorisation withdrawn by the user: Journal e-service" in html
