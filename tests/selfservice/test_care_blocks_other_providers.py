"""Staff pages for blocks, across care providers: after looking the patient up, staff see which of
the patient's blocks at other care providers hide information from their care unit (what it
covers, whether it is lifted for them, never who registered it or why), lift it temporarily for
their unit, and the access decision then lets them read with the patient's consent. A block that
hides nothing from the unit is neither listed nor found."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.blocks import services
from apps.blocks.models import Block, TemporaryRevoke
from apps.commissions import services as commissions
from apps.commissions.models import Commission
from apps.consents import services as consents
from apps.core.actors import SYSTEM
from apps.identities.identifiers import parse_person_number
from apps.rules import facts
from apps.rules import services as rules
from apps.rules.decision import AccessRequest
from tests.conftest import make_staff
from tests.selfservice.test_care import login

URL = reverse("selfservice:care_blocks")
TOLVAN = "19121212-1212"
CARE = "Vård och behandling"


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def doctor(tree):
    """Otto Other, at Other Clinic (Other Care AB), who may read other care providers'
    information through coherent record keeping."""
    user, employee = make_staff(tree["other_unit"], "Otto", "Other")
    commissions.commission_grant(
        actor=SYSTEM, employee=employee, care_unit=tree["other_unit"], purpose=CARE,
        rights=["Läsa;alla;VE", "Läsa;alla;SJF"], valid_from=timezone.now() - timedelta(days=1),
        valid_until=None)
    return user, employee


@pytest.fixture
def doctor_client(client, doctor):
    return login(client, doctor[0])


def commission_of(employee):
    return Commission.objects.get(employee=employee)


def find(client, number=TOLVAN):
    return client.post(URL, {"action": "find", "person_number": number}, follow=True)


def region_block(nurse, patient, tree, block_type="outer", unit=None, **kw):
    """A block of Region Demo's information, registered by Nina Nurse at Cardiology."""
    user, employee = nurse
    return services.block_register(actor=user, commission=commission_of(employee),
                                   patient=patient.person, block_type=block_type,
                                   care_provider=tree["region"], care_unit=unit, **kw)


def other_block(doctor, patient, tree, block_type="inner"):
    """A block of Other Care AB's information (Other Clinic), registered by Otto Other."""
    user, employee = doctor
    return services.block_register(actor=user, commission=commission_of(employee),
                                   patient=patient.person, block_type=block_type,
                                   care_provider=tree["other"], care_unit=tree["other_unit"])


def lift_page(block):
    return reverse("selfservice:care_block_temporary_revoke", args=[block.pk])


def section(html):
    """The part of the patient's page about other care providers' blocks."""
    return html.split("Blocked information you cannot see")[1].split("</section>")[0]


def revoke_data(**kw):
    until = timezone.localtime() + timedelta(days=2)
    data = {"reason": "patients_consent", "employee": "",
            "valid_until": until.strftime("%Y-%m-%dT%H:%M")}
    data.update(kw)
    return data


def decide(employee, tree):
    """The access decision: `employee`, under their commission, reads Tolvan's medication at
    Cardiology (Region Demo), in a care relationship."""
    actor = facts.acting_staff(client_id="record-system", client_label="Record system",
                               client_care_provider_id=commission_of(employee).care_provider_id,
                               employee_hsa_id=employee.hsa_id,
                               commission_hsa_id=commission_of(employee).hsa_id)
    return rules.access_decide(actor=actor, request=AccessRequest(
        patient=parse_person_number(TOLVAN), care_provider_hsa_id=tree["region"].hsa_id,
        care_unit_hsa_id=tree["cardio"].hsa_id, information_type="lak", activity="Läsa",
        purpose=CARE, when=timezone.now(), care_relationship=True))


def test_staff_at_another_provider_see_an_outer_block_lift_it_and_then_may_read(
        doctor_client, doctor, nurse, patient, tree, assert_audited):
    block = region_block(nurse, patient, tree, period_start=timezone.now() - timedelta(days=400),
                         excluded_types=["upp"])
    consents.consent_give(actor=SYSTEM, patient=patient.person, care_unit=tree["other_unit"],
                          valid_from=timezone.now() - timedelta(minutes=1))
    before = decide(doctor[1], tree)
    assert not before.allowed and before.verdict.rule.code == "block.outer"

    html = find(doctor_client).content.decode()
    assert "Patient: Tolvan Tolvansson, 19121212-1212" in html
    assert "The patient has no blocks at this care provider." in html  # none of Other Care AB
    hidden = section(html)
    assert "The patient has blocked information at other care providers from Other Clinic." in hidden
    row = hidden.split("<tbody>")[1].split("</tbody>")[0]
    assert row.count("<tr>") == 1
    assert '<th scope="row">Region Demo</th>' in row and "Outer block: all care units" in row
    assert f"{timezone.localtime(block.period_start):%Y-%m-%d} – no end date" in row
    assert "Alert information" in row and ">No</td>" in row
    assert lift_page(block) in row

    html = doctor_client.get(lift_page(block)).content.decode()
    assert "<h1>Lift a block temporarily</h1>" in html and "Region Demo" in html
    assert "Only Region Demo can lift it for good" in html
    html = doctor_client.post(lift_page(block), revoke_data(), follow=True).content.decode()
    assert "The block has been lifted temporarily for Other Clinic." in html
    revoke = TemporaryRevoke.objects.get()
    assert (revoke.block, revoke.care_unit, revoke.employee) == (block, tree["other_unit"], None)
    assert_audited("block.temporary_revoke_registered", target=revoke, subject=patient.person)
    row = section(html)
    assert f"For all staff until {timezone.localtime(revoke.valid_until):%Y-%m-%d %H:%M}" in row
    assert reverse("selfservice:care_block_temporary_revoke_end", args=[revoke.pk]) in row

    after = decide(doctor[1], tree)
    assert after.allowed and after.verdict.rule.code == "allow.consent"


def test_an_emergency_lifting_shows_as_mine_and_ends_early_at_my_unit(doctor_client, doctor,
                                                                      nurse, patient, tree):
    block = region_block(nurse, patient, tree, "inner", tree["ortho"])
    find(doctor_client)
    doctor_client.post(lift_page(block), revoke_data(reason="emergency"))
    revoke = TemporaryRevoke.objects.get()
    assert revoke.employee == doctor[1]
    row = section(doctor_client.get(URL).content.decode())
    assert "Inner block: Orthopaedics" in row
    assert "For you until" in row
    end = reverse("selfservice:care_block_temporary_revoke_end", args=[revoke.pk])
    html = doctor_client.get(end).content.decode()
    assert "<h1>End a temporary lifting early</h1>" in html and "Nina Nurse" not in html
    html = doctor_client.post(end, {"reason": "Care finished"}, follow=True).content.decode()
    assert "The temporary lifting has been ended." in html
    assert ">No</td>" in section(html)


def test_the_block_is_shown_without_who_registered_it_or_why(doctor_client, doctor, nurse,
                                                             patient, tree):
    block = region_block(nurse, patient, tree)
    # A lifting for Cardiology, and one for a colleague at Other Clinic: neither lifts it for me.
    services.temporary_revoke_register(
        actor=SYSTEM, commission=None, block=region_block(nurse, patient, tree, "inner",
                                                          tree["ortho"]),
        care_unit=tree["cardio"], reason="emergency", valid_until=timezone.now() + timedelta(hours=2),
        employee=nurse[1])
    colleague = make_staff(tree["other_unit"], "Cora", "Colleague", care=True)[1]
    services.temporary_revoke_register(
        actor=SYSTEM, commission=None, block=block, care_unit=tree["other_unit"],
        reason="patients_consent", valid_until=timezone.now() + timedelta(hours=2),
        employee=colleague)
    find(doctor_client)
    for html in (doctor_client.get(URL).content.decode(),
                 doctor_client.get(lift_page(block)).content.decode()):
        assert "Nina Nurse" not in html and "Cardiology" not in html
        assert "Registered" not in html
        assert block.registered_at.strftime("%Y-%m-%d %H:%M") not in html
        assert timezone.localtime(block.registered_at).strftime("%Y-%m-%d %H:%M") not in html
    rows = section(doctor_client.get(URL).content.decode())
    assert "Emergency" not in rows and "consent" not in rows.split("<tbody>")[1]
    assert rows.count("For ") == 0 and rows.count(">No</td>") == 2


def test_staff_at_the_owner_see_another_providers_inner_block(client, nurse, doctor, patient,
                                                              tree):
    block = other_block(doctor, patient, tree)
    login(client, nurse[0])
    html = find(client).content.decode()
    assert "The patient has no blocks at this care provider." in html
    row = section(html)
    assert '<th scope="row">Other Care AB</th>' in row and "Inner block: Other Clinic" in row
    assert lift_page(block) in row
    client.post(lift_page(block), revoke_data())
    assert TemporaryRevoke.objects.get().care_unit == tree["cardio"]
    # Lifting and removing stay with the care provider that holds the information.
    for name in ("care_block_revoke", "care_block_delete"):
        assert client.get(reverse(f"selfservice:{name}", args=[block.pk])).status_code == 404


def test_a_block_that_hides_nothing_from_my_unit_is_not_listed_nor_found(
        client, nurse, doctor, patient, tree):
    own_outer = region_block(nurse, patient, tree)  # hides nothing inside Region Demo
    own_unit = region_block(nurse, patient, tree, "inner", tree["cardio"])
    lifted = other_block(doctor, patient, tree, "outer")
    services.block_revoke(actor=SYSTEM, commission=None, block=lifted, reason="Patient asked")
    removed = other_block(doctor, patient, tree)
    services.block_delete(actor=SYSTEM, commission=None, block=removed, reason="Wrong patient")
    login(client, nurse[0])
    html = find(client).content.decode()
    assert ("No other care provider's block hides the patient's information from Cardiology."
            in section(html))
    assert "Other Clinic" not in html and "Patient asked" not in html
    for block in (own_outer, own_unit, lifted, removed):
        assert lift_page(block) not in html
        assert client.get(lift_page(block)).status_code == 404
        assert client.post(lift_page(block), revoke_data()).status_code == 404
    assert client.get(reverse("selfservice:care_block_temporary_revoke",
                              args=[uuid.uuid4()])).status_code == 404
    assert not TemporaryRevoke.objects.exists()


def test_the_section_needs_a_lookup(doctor_client, nurse, patient, tree):
    region_block(nurse, patient, tree)
    html = doctor_client.get(URL).content.decode()
    assert "Blocked information you cannot see" not in html and "Region Demo" not in html


def test_the_section_has_a_constant_number_of_queries(doctor_client, doctor, nurse, patient,
                                                      tree):
    def page_queries():
        with CaptureQueriesContext(connection) as queries:
            html = doctor_client.get(URL).content.decode()
        return len(queries), section(html)

    block = region_block(nurse, patient, tree)
    services.temporary_revoke_register(
        actor=SYSTEM, commission=None, block=block, care_unit=tree["other_unit"],
        reason="patients_consent", valid_until=timezone.now() + timedelta(days=1))
    find(doctor_client)
    one, _ = page_queries()
    for unit in ("cardio", "ortho", "primary", "cardio"):
        block = region_block(nurse, patient, tree, "inner", tree[unit])
        services.temporary_revoke_register(
            actor=SYSTEM, commission=None, block=block, care_unit=tree["other_unit"],
            reason="emergency", valid_until=timezone.now() + timedelta(days=1),
            employee=doctor[1])
    five, rows = page_queries()
    assert five == one
    assert rows.count("For you until") == 4 and rows.count("For all staff until") == 1


def test_the_section_is_in_swedish(doctor_client, nurse, patient, tree):
    doctor_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "sv"
    block = region_block(nurse, patient, tree)
    html = find(doctor_client).content.decode()
    assert "Spärrad information som du inte kan se" in html
    assert "Yttre spärr: alla vårdenheter" in html
    html = doctor_client.get(lift_page(block)).content.decode()
    assert "Bara Region Demo kan häva den för gott" in html
    assert Block.objects.count() == 1
