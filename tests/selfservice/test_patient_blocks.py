"""Patient pages: My blocks (blocks, temporary liftings, requests), asking for a block and
withdrawing the request, through the test client."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.blocks import services
from apps.blocks.models import Block, BlockRequest, TemporaryRevoke
from apps.commissions.models import Commission
from apps.core.actors import SYSTEM
from apps.core.forms import end_of_last_day, start_of_day
from apps.identities import services as identities
from apps.identities.models import User
from tests.conftest import make_staff, next_person_number, patient_login

URL = reverse("selfservice:patient_blocks")
ASK = reverse("selfservice:patient_block_request")


@pytest.fixture
def client(client):
    """Pages in English (the default language is Swedish)."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def patient_client(client, patient):
    patient_login(client, patient)
    return client


def inner_data(unit, **kw):
    data = {"block_type": "inner", "care_unit": str(unit.pk), "care_provider": "",
            "first_day": "", "last_day": "", "message": ""}
    data.update(kw)
    return data


def withdraw_url(request):
    return reverse("selfservice:patient_block_request_withdraw", args=[request.pk])


def test_pages_need_a_patient_login(client, tree, nurse, patient):
    request = services.block_request_submit(actor=patient, patient=patient.person,
                                            block_type="outer", care_provider=tree["other"])
    for url in (URL, ASK, withdraw_url(request)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("federation:discovery") + "?for=patient")
    client.force_login(nurse[0])
    assert client.get(URL).status_code == 302


def test_no_blocks_yet_and_the_nav_links_here(patient_client, tree):
    html = patient_client.get(URL).content.decode()
    assert "<h1>My blocks</h1>" in html
    assert f'href="{URL}"' in html  # in the main navigation
    assert "You have no blocks." in html
    assert "You have not asked for a block." in html
    assert "one care unit's information is hidden from the other units of the same care provider" in html
    assert "a care provider's information is hidden from other care providers" in html


def test_the_patient_sees_blocks_and_temporary_liftings(patient_client, patient, tree, nurse):
    start = start_of_day(timezone.localdate() - timedelta(days=60))
    block = services.block_register(
        actor=SYSTEM, commission=None, patient=patient.person, block_type="inner",
        care_provider=tree["region"], care_unit=tree["cardio"], period_start=start,
        period_end=end_of_last_day(timezone.localdate() - timedelta(days=30)),
        excluded_types=["lak"])
    services.temporary_revoke_register(
        actor=SYSTEM, commission=None, block=block, care_unit=tree["ortho"],
        reason=TemporaryRevoke.Reason.PATIENTS_CONSENT,
        valid_until=timezone.now() + timedelta(days=2))
    services.temporary_revoke_register(
        actor=SYSTEM, commission=None, block=block, care_unit=tree["primary"],
        reason=TemporaryRevoke.Reason.EMERGENCY, employee=None,
        valid_until=timezone.now() + timedelta(hours=4))
    outer = services.block_register(actor=SYSTEM, commission=None, patient=patient.person,
                                    block_type="outer", care_provider=tree["other"])
    services.block_revoke(actor=SYSTEM, commission=None, block=outer, reason="Patient asked.")
    html = patient_client.get(URL).content.decode()
    assert "Cardiology (Region Demo)" in html
    assert "The care unit's information is hidden from the rest of its care provider." in html
    assert "The care provider's information is hidden from other care providers." in html
    first = (timezone.localdate() - timedelta(days=60)).isoformat()
    last = (timezone.localdate() - timedelta(days=30)).isoformat()
    assert f"{first} – {last}" in html
    assert "All information, whenever recorded" in html  # the outer block has no period
    assert "Medication" in html
    assert "For all staff at Orthopaedics" in html
    assert "The patient&#x27;s consent" in html
    assert "For all staff at Primary Care Centre North" in html
    assert "Emergency" in html
    assert "Lifted" in html and "Patient asked." in html


def test_the_patient_asks_for_an_inner_block(patient_client, patient, tree):
    html = patient_client.get(ASK).content.decode()
    assert '<optgroup label="Region Demo › Demo Hospital">' in html
    assert '<option value="{}">Other Care AB</option>'.format(tree["other"].pk) in html
    first = timezone.localdate() - timedelta(days=10)
    response = patient_client.post(ASK, inner_data(
        tree["cardio"], first_day=first.isoformat(), excluded_types=["upp"],
        message="I can come on Tuesday."), follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == URL
    assert "Your request has been sent." in html
    assert "Waiting for staff" in html
    request = BlockRequest.objects.get()
    assert (request.block_type, request.care_provider, request.care_unit) == (
        "inner", tree["region"], tree["cardio"])
    assert request.period_start == start_of_day(first)
    assert request.period_end is None
    assert request.excluded_types == {"upp"}
    assert request.message == "I can come on Tuesday."


def test_the_patient_asks_for_an_outer_block(patient_client, patient, tree):
    response = patient_client.post(ASK, {"block_type": "outer", "care_unit": "",
                                         "care_provider": str(tree["other"].pk),
                                         "last_day": "2024-12-31"})
    assert response.status_code == 302
    request = BlockRequest.objects.get()
    assert (request.block_type, request.care_provider, request.care_unit) == (
        "outer", tree["other"], None)
    assert request.period_end == end_of_last_day(date(2024, 12, 31))


@pytest.mark.parametrize("data, message", [
    ({"block_type": ""}, "Choose inner or outer block."),
    ({"block_type": "sideways"}, "Choose inner or outer block."),
    ({"care_unit": ""}, "Choose the care unit whose information you want hidden."),
    ({"care_unit": "not-a-uuid"}, "Choose a care unit from the list."),
    ({"block_type": "outer", "care_provider": ""},
     "Choose the care provider whose information you want hidden."),
    ({"block_type": "outer", "care_provider": "00000000-0000-0000-0000-000000000000"},
     "Choose a care provider from the list."),
    ({"first_day": "2025-02-01", "last_day": "2025-01-01"},
     "The last day cannot be before the first day."),
    ({"first_day": "0001-01-01"}, "Enter a date between 1900 and 2199."),
    ({"first_day": "yesterday"}, "Enter a valid date."),
    ({"excluded_types": ["dia"]}, "Only medication and alert information can be kept visible."),
    ({"message": "x" * 501}, "Ensure this value has at most 500 characters"),
])
def test_hostile_or_wrong_input_is_shown_on_the_form(patient_client, tree, data, message):
    response = patient_client.post(ASK, inner_data(tree["cardio"], **data))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not BlockRequest.objects.exists()


def test_a_sixth_pending_request_is_refused_on_the_form(patient_client, patient, tree):
    for _ in range(5):
        assert patient_client.post(ASK, inner_data(tree["cardio"])).status_code == 302
    response = patient_client.post(ASK, inner_data(tree["cardio"]))
    assert response.status_code == 200
    assert "You already have 5 requests waiting for staff." in response.content.decode()
    assert BlockRequest.objects.count() == 5


def test_errors_are_in_swedish_for_a_swedish_patient(client, patient, tree):
    patient_login(client, patient)
    response = client.post(ASK, inner_data(tree["cardio"], care_unit=""),
                           HTTP_ACCEPT_LANGUAGE="sv")
    html = response.content.decode()
    assert "Be om spärr" in html
    assert "Välj den vårdenhet vars uppgifter du vill dölja." in html


def test_the_patient_withdraws_a_pending_request(patient_client, patient, tree):
    patient_client.post(ASK, inner_data(tree["cardio"]))
    request = BlockRequest.objects.get()
    response = patient_client.get(withdraw_url(request))
    assert "Withdraw block request" in response.content.decode()
    response = patient_client.post(withdraw_url(request), follow=True)
    assert "Your request has been withdrawn." in response.content.decode()
    request.refresh_from_db()
    assert request.state == BlockRequest.State.WITHDRAWN
    # Once answered, the page sends the patient back with a message.
    response = patient_client.get(withdraw_url(request), follow=True)
    assert "This request has already been answered or withdrawn." in response.content.decode()
    response = patient_client.post(withdraw_url(request), follow=True)
    assert "already been answered or withdrawn" in response.content.decode()


def test_a_declined_request_shows_the_staff_answer(patient_client, patient, tree, nurse):
    request = services.block_request_submit(actor=patient, patient=patient.person,
                                            block_type="inner", care_provider=tree["region"],
                                            care_unit=tree["cardio"])
    commission = Commission.objects.get(employee=nurse[1])
    services.block_request_decline(actor=nurse[0], commission=commission, request=request,
                                   reason="Please come to the unit with your passport.")
    html = patient_client.get(URL).content.decode()
    assert "Declined" in html
    assert "Staff's answer: Please come to the unit with your passport." in html
    assert withdraw_url(request) not in html


def test_another_patients_request_is_not_found(patient_client, tree):
    person = identities.person_create(actor=SYSTEM, given_name="Ulla", family_name="Other",
                                      person_number=next_person_number())
    other = identities.user_create(actor=SYSTEM, person=person, username="ulla",
                                   kind=User.Kind.PATIENT)
    request = services.block_request_submit(actor=other, patient=person, block_type="outer",
                                            care_provider=tree["other"])
    assert patient_client.get(withdraw_url(request)).status_code == 404
    assert patient_client.post(withdraw_url(request)).status_code == 404
    assert patient_client.get(URL).content.decode().count("Other Care AB") == 0
    bogus = URL + "requests/not-a-uuid/withdraw/"
    assert patient_client.get(bogus).status_code == 404
    request.refresh_from_db()
    assert request.state == BlockRequest.State.PENDING


def test_my_blocks_has_a_constant_number_of_queries(patient_client, patient, tree,
                                                    django_assert_max_num_queries):
    make_staff(tree["ortho"], "Otto", "Ortho", care=True)
    for unit in ("cardio", "ortho", "primary"):
        block = services.block_register(actor=SYSTEM, commission=None, patient=patient.person,
                                        block_type="inner", care_provider=tree["region"],
                                        care_unit=tree[unit])
        other_unit = tree["ortho"] if unit != "ortho" else tree["cardio"]
        services.temporary_revoke_register(
            actor=SYSTEM, commission=None, block=block, care_unit=other_unit,
            reason=TemporaryRevoke.Reason.PATIENTS_CONSENT,
            valid_until=timezone.now() + timedelta(days=1))
        services.block_request_submit(actor=patient, patient=patient.person, block_type="outer",
                                      care_provider=tree["other"])
    with django_assert_max_num_queries(12):
        response = patient_client.get(URL)
    assert response.content.decode().count("For all staff at") == 3
    assert Block.objects.count() == 3


def test_the_patient_sees_who_registered_by_name_without_username(patient_client, patient, tree,
                                                                   nurse):
    """A login username is internal: My blocks names the staff member who registered the block."""
    commission = Commission.objects.get(employee=nurse[1])
    services.block_register(actor=nurse[0], commission=commission, patient=patient.person,
                            block_type="inner", care_provider=tree["region"],
                            care_unit=tree["cardio"])
    html = patient_client.get(URL).content.decode()
    assert "Nina Nurse" in html
    assert nurse[0].username not in html
