"""The choice of commission (uppdragsval) after login, its re-validation on every request, the
header, and the audit rows written while acting under it; through the test client with the real
password + TOTP login, on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.commissions import services as commissions
from apps.core.actors import SYSTEM
from tests.conftest import PASSWORD, make_staff, totp_now

CHOICE = reverse("authn:commission")
MY_EIDS = reverse("selfservice:my_eids")
CARE = reverse("selfservice:care_consent")


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def login(client, user, next_url=MY_EIDS, offset_steps=0):
    """Password, then the code; returns the answer that ends the login (not followed)."""
    client.post(reverse("authn:login"), {"username": user.username, "password": PASSWORD})
    return client.post(reverse("authn:otp"), {"token": totp_now(offset_steps=offset_steps),
                                              "next": next_url})


def grant(employee, unit, purpose="Vård och behandling"):
    return commissions.commission_grant(
        actor=SYSTEM, employee=employee, care_unit=unit, purpose=purpose,
        rights=["Läsa;alla;VE"], valid_from=timezone.now() - timedelta(days=1), valid_until=None)


@pytest.fixture
def two(tree, nurse):
    """The nurse with care commissions at Cardiology (from the fixture) and Orthopaedics."""
    cardio = nurse[1].commissions.get()
    ortho = grant(nurse[1], tree["ortho"])
    return cardio, ortho


def choose(client, commission, next_url=MY_EIDS):
    return client.post(CHOICE, {"commission": str(commission.pk), "next": next_url})


def test_one_valid_commission_is_chosen_without_a_page(client, tree, nurse, assert_audited):
    commission = nurse[1].commissions.get()
    response = login(client, nurse[0])
    assert response.status_code == 302 and response["Location"] == MY_EIDS
    assert client.session["commission"] == str(commission.pk)
    event = assert_audited("commission.chosen", target=commission, subject=nurse[0].person)
    assert event.changes["automatic"] == [None, True]
    assert event.commission_hsa_id == commission.hsa_id
    assert event.organisation_hsa_id == tree["cardio"].hsa_id


def test_two_valid_commissions_lead_to_the_choice_page(client, tree, nurse, two):
    response = login(client, nurse[0])
    assert response["Location"] == f"{CHOICE}?next=%2Fmy%2Feids%2F"
    assert "commission" not in client.session
    html = client.get(response["Location"]).content.decode()
    assert "<h1>Choose commission</h1>" in html
    for commission, unit in zip(two, (tree["cardio"], tree["ortho"]), strict=True):
        assert f'value="{commission.pk}"' in html
        assert f"Care unit: {unit.name} ({unit.hsa_id})" in html
    assert html.count("Care provider: Region Demo (SE2321000016-0001)") == 2
    assert html.count("<strong>Care and treatment</strong>") == 2
    assert "Employee HSA-id" not in html  # one employee HSA-id: not worth showing

    response = choose(client, two[1])
    assert response.status_code == 302 and response["Location"] == MY_EIDS
    assert client.session["commission"] == str(two[1].pk)
    html = client.get(MY_EIDS).content.decode()
    assert "You now act under the commission Care and treatment, Orthopaedics." in html


def test_the_employee_hsa_id_is_shown_for_a_person_with_several(client, tree, nurse):
    second = commissions.employee_create(actor=SYSTEM, person=nurse[0].person,
                                         organisation=tree["primary"])
    grant(second, tree["primary"], purpose="Kvalitetssäkring")
    html = client.get(login(client, nurse[0])["Location"]).content.decode()
    assert f"Employee HSA-id: {nurse[1].hsa_id}" in html
    assert f"Employee HSA-id: {second.hsa_id}" in html
    assert "<strong>Quality assurance</strong>, Primary Care Centre North" in html


def test_without_a_valid_commission_the_person_continues_without(client, tree, hospital_admin):
    response = login(client, hospital_admin)
    assert response["Location"] == MY_EIDS and "commission" not in client.session
    html = client.get(MY_EIDS).content.decode()  # self-service works
    # Nothing to choose, so no way to choose is offered, nor the pages that need a commission.
    assert "Choose commission" not in html and "Switch commission" not in html
    assert "Register consent" not in html
    html = client.get(CHOICE).content.decode()
    assert "You have no valid commission, so you act under none." in html
    assert not AuditEvent.objects.filter(action="commission.chosen").exists()


def test_the_header_shows_the_commission_and_links_to_switch(client, tree, nurse):
    login(client, nurse[0])
    html = client.get(MY_EIDS).content.decode()
    assert "Commission: Care and treatment, Cardiology" in html
    assert f'<a href="{CHOICE}?next=%2Fmy%2Feids%2F">Switch commission</a>' in html


def test_switching_is_audited_with_the_previous_and_the_new(client, tree, nurse, two,
                                                            assert_audited):
    login(client, nurse[0])
    choose(client, two[0])
    html = client.get(f"{CHOICE}?next=%2Fmy%2Feids%2F").content.decode()
    assert "You now act under the commission Care and treatment, Cardiology." in html
    assert f'value="{two[0].pk}" checked' in html
    choose(client, two[1])
    assert client.session["commission"] == str(two[1].pk)
    assert "Commission: Care and treatment, Orthopaedics" in client.get(MY_EIDS).content.decode()
    event = assert_audited("commission.chosen", target=two[1])
    assert event.changes == {"commission": [two[0].hsa_id, two[1].hsa_id],
                             "automatic": [None, False]}
    assert event.commission_hsa_id == two[1].hsa_id


def test_choosing_needs_csrf(client, tree, nurse, two):
    login(client, nurse[0])
    strict = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    strict.cookies = client.cookies  # the same logged-in session, without a CSRF token
    assert choose(strict, two[0]).status_code == 403
    assert "commission" not in client.session


def test_someone_elses_commission_is_refused_and_audited(client, tree, nurse, two,
                                                         assert_audited):
    _, colleague = make_staff(tree["cardio"], "Carl", "Colleague", care=True)
    theirs = colleague.commissions.get()
    login(client, nurse[0])
    choose(client, two[0])
    for commission_id in (theirs.pk, uuid.uuid4()):
        response = client.post(CHOICE, {"commission": str(commission_id), "next": MY_EIDS})
        html = response.content.decode()
        assert response.status_code == 200
        assert "Choose one of your valid commissions." in html and 'class="error"' in html
        assert client.session["commission"] == str(two[0].pk)  # unchanged
    event = assert_audited("commission.choice_failed", target=theirs, outcome="failure")
    assert event.subject_person_id == nurse[0].person.pk
    assert event.changes == {"error": [None, "not_found"]}
    assert AuditEvent.objects.filter(action="commission.choice_failed").count() == 2


def test_an_ended_commission_cannot_be_chosen(client, tree, nurse, two, hospital_admin,
                                              assert_audited):
    login(client, nurse[0])
    commissions.commission_end(actor=hospital_admin, commission=two[1], reason="Moved")
    html = choose(client, two[1]).content.decode()
    assert "This commission is not valid now. Choose another one." in html
    assert "commission" not in client.session
    assert f'value="{two[1].pk}"' not in html  # no longer offered
    event = assert_audited("commission.choice_failed", target=two[1], outcome="failure")
    assert event.changes == {"error": [None, "commission.not_valid"]}


def test_a_commission_ended_during_the_session_is_dropped_at_the_next_request(
        client, tree, nurse, two, hospital_admin):
    login(client, nurse[0])
    choose(client, two[0])
    commissions.commission_end(actor=hospital_admin, commission=two[0], reason="Moved")
    response = client.get(CARE)
    assert response.status_code == 302
    assert response["Location"] == f"{CHOICE}?next=%2Fcare%2Fconsent%2F"
    assert "commission" not in client.session
    html = client.get(response["Location"]).content.decode()
    assert ("Your commission Care and treatment, Cardiology has ended, so you no longer act "
            "under it.") in html
    assert f'value="{two[0].pk}"' not in html and f'value="{two[1].pk}"' in html
    assert "Switch commission" not in html


def test_a_commission_whose_validity_passed_is_dropped(client, tree, nurse, monkeypatch):
    login(client, nurse[0])
    commissions.commission_grant(  # one more, ending in a minute, chosen by hand
        actor=SYSTEM, employee=nurse[1], care_unit=tree["ortho"], purpose="Vård och behandling",
        rights=["Läsa;alla;VE"], valid_from=timezone.now() - timedelta(days=1),
        valid_until=timezone.now() + timedelta(minutes=1))
    short = nurse[1].commissions.get(care_unit=tree["ortho"])
    choose(client, short)
    later = timezone.now() + timedelta(minutes=2)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    response = client.get(MY_EIDS, follow=True)
    assert "has ended, so you no longer act under it" in response.content.decode()
    assert "commission" not in client.session


def test_the_last_commission_ended_ends_the_session(client, tree, nurse, hospital_admin):
    """Ending a person's last entitlement ends their sessions (commissions.services): the next
    request is not acting under anything, it is logged out."""
    login(client, nurse[0])
    commissions.commission_end(actor=hospital_admin, commission=nurse[1].commissions.get(),
                               reason="Left")
    response = client.get(MY_EIDS)
    assert response.status_code == 302 and reverse("authn:login") in response["Location"]


def test_audit_rows_carry_the_commission_acted_under(client, tree, nurse, two):
    login(client, nurse[0])
    choose(client, two[1])
    client.post(reverse("authn:step_up"), {"token": totp_now(offset_steps=1)})
    event = AuditEvent.objects.get(action="step_up.succeeded")
    assert event.commission_hsa_id == two[1].hsa_id
    assert event.organisation_hsa_id == tree["ortho"].hsa_id


def test_audit_rows_without_a_commission_carry_none(client, tree, hospital_admin):
    login(client, hospital_admin)
    client.post(reverse("authn:step_up"), {"token": totp_now(offset_steps=1)})
    event = AuditEvent.objects.get(action="step_up.succeeded")
    assert event.commission_hsa_id == "" and event.organisation_hsa_id == ""


def test_the_check_costs_one_query(client, tree, nurse, two):
    """With a choice, one query validates it (the middleware); without, one query tells whether
    there is a commission to choose (for the header): a page costs the same either way."""
    login(client, nurse[0])
    with CaptureQueriesContext(connection) as without:
        client.get(MY_EIDS)
    choose(client, two[0])
    with CaptureQueriesContext(connection) as acting:
        client.get(MY_EIDS)
    assert len(acting) == len(without)


def test_a_page_that_needs_a_care_commission_says_which(client, tree, nurse):
    admin_commission = grant(nurse[1], tree["ortho"], purpose="Administration")
    login(client, nurse[0])
    choose(client, admin_commission)
    response = client.get(CARE)
    html = response.content.decode()
    assert response.status_code == 403
    assert "You act under the commission Administration, Orthopaedics." in html
    assert "It needs a commission for Care and treatment at a care unit." in html


def test_next_never_leaves_the_site(client, tree, nurse):
    response = login(client, nurse[0], next_url="https://evil.example/")
    assert response["Location"] == "/"


def test_patients_have_no_choice_page(client, patient):
    client.force_login(patient)
    response = client.get(CHOICE)
    assert response.status_code == 302 and reverse("authn:login") in response["Location"]


def test_the_choice_page_is_translated(client, tree, nurse, two):
    login(client, nurse[0])
    html = client.get(CHOICE, HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "Välj medarbetaruppdrag" in html
    choose(client, two[0])
    assert "Byt uppdrag" in client.get(MY_EIDS, HTTP_ACCEPT_LANGUAGE="sv").content.decode()



def test_after_login_is_the_hook_for_any_login(rf, tree, nurse, two):
    """The SAML login ends with the same call as the password + TOTP login: it drops an earlier
    choice and sends a person with two valid commissions to the choice page, keeping `next`."""
    from django.contrib.sessions.backends.db import SessionStore

    from apps.authn.commission import after_login

    request = rf.get("/", {"next": "/care/consent/"})
    request.session = SessionStore()
    request.session["commission"] = str(two[0].pk)
    response = after_login(request, nurse[0])
    assert response["Location"] == f"{CHOICE}?next=%2Fcare%2Fconsent%2F"
    assert "commission" not in request.session
    assert after_login(request, nurse[0], "https://evil.example/")["Location"] == (
        f"{CHOICE}?next=%2F")
