"""Staff pages: the block requests of the acting commission's care provider, confirm (the block is
registered) or decline, through the test client."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.blocks import services
from apps.blocks.models import Block, BlockRequest
from apps.core.actors import SYSTEM
from apps.identities import services as identities
from apps.identities.models import User
from tests.conftest import login_session, make_staff, next_person_number

LIST = reverse("selfservice:care_block_requests")


def page(request):
    return reverse("selfservice:care_block_request", args=[request.pk])


@pytest.fixture
def nurse_client(nurse):
    return login_session(Client(HTTP_ACCEPT_LANGUAGE="en"), nurse[0])


@pytest.fixture
def asked(patient, tree):
    return services.block_request_submit(
        actor=patient, patient=patient.person, block_type="inner", care_provider=tree["region"],
        care_unit=tree["cardio"], excluded_types=["lak"], message="Tuesdays <b>work</b>.")


def test_pages_need_a_staff_login_and_a_care_commission(client, tree, patient, hospital_admin,
                                                        asked):
    assert client.get(LIST).status_code == 302
    login_session(client, patient)
    assert client.get(LIST).status_code == 302
    admin = login_session(Client(HTTP_ACCEPT_LANGUAGE="en"), hospital_admin)
    for url in (LIST, page(asked)):
        response = admin.get(url)
        assert response.status_code == 403
        assert "It needs a commission for Care and treatment." in response.content.decode()


def test_the_list_shows_pending_requests_with_the_patient(nurse_client, asked, tree, patient):
    html = nurse_client.get(LIST).content.decode()
    assert f'href="{LIST}"' in html  # in the main navigation
    assert "Tolvan Tolvansson" in html
    assert "19121212-1212" in html
    assert page(asked) in html


def test_staff_confirm_and_the_block_is_registered(nurse_client, asked, patient, nurse):
    html = nurse_client.get(page(asked)).content.decode()
    assert "Tolvan Tolvansson" in html and "19121212-1212" in html
    assert "Tuesdays &lt;b&gt;work&lt;/b&gt;." in html
    assert "Medication" in html
    response = nurse_client.post(page(asked), {"action": "confirm", "confirm-patient_met": "on"},
                                 follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == LIST
    assert "The block has been registered." in html
    assert "No block requests are waiting." in html
    asked.refresh_from_db()
    assert asked.state == BlockRequest.State.CONFIRMED
    block = Block.objects.get()
    assert asked.block == block
    assert block.registered_by_id == nurse[0].pk
    # The answered request still opens, without the forms.
    html = nurse_client.get(page(asked)).content.decode()
    assert "Confirmed, block registered" in html
    assert 'value="confirm"' not in html


def test_confirming_needs_the_checkbox(nurse_client, asked):
    response = nurse_client.post(page(asked), {"action": "confirm"})
    assert response.status_code == 200
    assert ("Confirm that you have met the patient and checked their identity."
            in response.content.decode())
    assert not Block.objects.exists()


def test_staff_decline_with_a_reason(nurse_client, asked):
    response = nurse_client.post(page(asked), {"action": "decline", "decline-reason": ""})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    response = nurse_client.post(page(asked), {"action": "decline",
                                               "decline-reason": "Come with your passport."})
    assert response.status_code == 302
    asked.refresh_from_db()
    assert (asked.state, asked.decline_reason) == (BlockRequest.State.DECLINED,
                                                   "Come with your passport.")


def test_an_answered_request_shows_the_refusal_on_the_form(nurse_client, asked, nurse, tree):
    colleague, _ = make_staff(tree["cardio"], "Carl", "Colleague", care=True)
    html = nurse_client.get(page(asked)).content.decode()
    assert 'value="confirm"' in html
    colleague_client = login_session(Client(HTTP_ACCEPT_LANGUAGE="en"), colleague)
    assert colleague_client.post(page(asked), {"action": "decline",
                                               "decline-reason": "No."}).status_code == 302
    response = nurse_client.post(page(asked), {"action": "confirm", "confirm-patient_met": "on"},
                                 follow=True)
    html = response.content.decode()
    assert "This request has already been answered or withdrawn: Declined." in html
    assert 'value="confirm"' not in html
    assert not Block.objects.exists()


def test_another_care_providers_request_is_not_found(tree, patient, asked):
    user, _ = make_staff(tree["other_unit"], "Olle", "Other", care=True)
    other = login_session(Client(HTTP_ACCEPT_LANGUAGE="en"), user)
    assert "Tolvan" not in other.get(LIST).content.decode()
    assert other.get(page(asked)).status_code == 404
    assert other.post(page(asked), {"action": "confirm",
                                    "confirm-patient_met": "on"}).status_code == 404
    assert other.get(LIST + "not-a-uuid/").status_code == 404
    asked.refresh_from_db()
    assert asked.state == BlockRequest.State.PENDING


@pytest.mark.parametrize("data", [
    {"action": "confirm", "confirm-patient_met": ["on", "off"]},
    {"action": "nonsense"},
    {"action": ["confirm", "decline"], "decline-reason": "x" * 5000},
    {},
])
def test_hostile_posts_never_fail(nurse_client, asked, data):
    response = nurse_client.post(page(asked), data)
    assert response.status_code in (200, 302)
    assert not AuditEvent.objects.filter(action="block_request.declined").exists() or (
        response.status_code == 302)


def test_the_list_has_a_constant_number_of_queries(nurse_client, tree, patient,
                                                   django_assert_max_num_queries):
    for _ in range(5):
        services.block_request_submit(actor=patient, patient=patient.person, block_type="outer",
                                      care_provider=tree["region"])
    with django_assert_max_num_queries(15):
        response = nurse_client.get(LIST)
    assert response.content.decode().count("19121212-1212") == 5


def test_a_protected_patients_name_is_not_shown_on_the_staff_request_pages(tree):
    """A patient with protected personal data (skyddade personuppgifter) asks for a block of
    Cardiology's information. Every staff member with a care commission anywhere at Region Demo
    (here a nurse at primary care, who will never meet her) lists the pending requests and opens
    hers: both pages print her name, where the block pages show *Protected identity*
    (`care/blocks/_patient.html`, journey-blocks.md) and the consent pages too."""
    person = identities.person_create(actor=SYSTEM, given_name="Hemlig", family_name="Hemligsson",
                                      person_number=next_person_number(), is_protected=True)
    user = identities.user_create(actor=SYSTEM, person=person, username="hemlig",
                                  kind=User.Kind.PATIENT)
    request = services.block_request_submit(actor=user, patient=person, block_type="inner",
                                            care_provider=tree["region"],
                                            care_unit=tree["cardio"])
    staff, _ = make_staff(tree["primary"], "Pia", "Primar", care=True)
    browser = login_session(Client(HTTP_ACCEPT_LANGUAGE="en"), staff)
    listing = browser.get(reverse("selfservice:care_block_requests"))
    detail = browser.get(reverse("selfservice:care_block_request", args=[request.pk]))
    assert listing.status_code == 200 and detail.status_code == 200
    for page in (listing, detail):
        html = page.content.decode()
        assert "Hemligsson" not in html
        assert "Protected identity" in html
