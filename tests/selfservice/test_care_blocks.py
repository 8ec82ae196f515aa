"""Staff pages for blocks: find the patient (audited once), register a block, lift it, remove a
wrong registration, lift it temporarily for the unit and end that early, and the care provider's
list; refusals on the form, other care providers' blocks 404, through the real password + TOTP
login."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.blocks import services
from apps.blocks.models import Block, TemporaryRevoke
from apps.commissions.models import Commission
from apps.core.actors import SYSTEM
from apps.core.forms import end_of_last_day, start_of_day
from apps.identities import services as identities
from tests.conftest import make_staff, next_person_number
from tests.selfservice.test_care import login

URL = reverse("selfservice:care_blocks")
REGISTER = reverse("selfservice:care_block_register")
LIST = reverse("selfservice:care_block_list")
TOLVAN = "19121212-1212"


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def nurse_client(client, nurse):
    return login(client, nurse[0])


def commission_of(employee):
    return Commission.objects.get(employee=employee)


def find(client, number=TOLVAN):
    return client.post(URL, {"action": "find", "person_number": number}, follow=True)


def block_data(**kw):
    data = {"block_type": "inner", "care_unit": "", "period_start": "", "period_end": "",
            "patient_present": "on"}
    data.update(kw)
    return data


def place(nurse, patient, unit, block_type="inner", **kw):
    """A block registered through the service by the nurse (acting at Cardiology)."""
    user, employee = nurse
    return services.block_register(actor=user, commission=commission_of(employee),
                                   patient=patient.person, block_type=block_type,
                                   care_provider=unit.care_provider, care_unit=unit, **kw)


def url(name, obj):
    return reverse(f"selfservice:{name}", args=[obj.pk])


def test_needs_staff_login_with_second_factor(client, tree, nurse):
    response = client.get(URL)
    assert response.status_code == 302 and reverse("authn:login") in response["Location"]
    client.force_login(nurse[0])
    assert client.get(URL).status_code == 302


def test_a_commission_for_another_purpose_is_refused(client, tree, patient):
    from apps.commissions import services as commissions

    user, employee = make_staff(tree["cardio"], "Ada", "Admin")
    commissions.commission_grant(actor=SYSTEM, employee=employee, care_unit=tree["cardio"],
                                 purpose="Administration", rights=["Läsa;alla;VE"],
                                 valid_from=timezone.now() - timedelta(days=1), valid_until=None)
    login(client, user)
    response = client.get(URL)
    assert response.status_code == 403
    assert "It needs a commission for Care and treatment at a care unit." in response.content.decode()


def test_staff_without_care_commission_is_refused(client, tree, hospital_admin, patient):
    login(client, hospital_admin)
    for page in (URL, REGISTER, LIST):
        response = client.get(page)
        assert response.status_code == 403
        assert "You need to choose a commission" in response.content.decode()
    assert client.post(URL, {"action": "find", "person_number": TOLVAN}).status_code == 403
    assert not AuditEvent.objects.filter(action="block.patient_looked_up").exists()


def test_the_nav_links_to_blocks(nurse_client):
    html = nurse_client.get(reverse("selfservice:care_consent")).content.decode()
    assert f'<a href="{URL}">Blocks</a>' in html


def test_find_patient_is_audited_once_and_never_in_a_url(nurse_client, tree, patient):
    response = nurse_client.post(URL, {"action": "find", "person_number": "191212121212"})
    assert response.status_code == 302 and response["Location"] == URL
    for _ in range(2):  # the page and a reload
        html = nurse_client.get(URL).content.decode()
        assert "Patient: Tolvan Tolvansson, 19121212-1212" in html
        assert "The patient has no blocks at this care provider." in html
        assert "19121212" not in "".join(re.findall(r'(?:href|action)="([^"]*)"', html))
    events = AuditEvent.objects.filter(action="block.patient_looked_up")
    assert events.count() == 1
    assert events.get().subject_person_id == patient.person.pk
    assert events.get().organisation_hsa_id == tree["cardio"].hsa_id


@pytest.mark.parametrize(("number", "message"), [
    ("19121212-1213", "check digit"), ("19500303-1233", "No patient with this number was found."),
    ("x" * 500, "at most 13 characters"), ("", "This field is required."),
])
def test_find_patient_errors(nurse_client, tree, patient, number, message):
    response = find(nurse_client, number)
    html = response.content.decode()
    assert response.status_code == 200
    assert message in html and 'class="error"' in html
    assert "Register a block" not in html
    assert not AuditEvent.objects.filter(action="block.patient_looked_up").exists()


def test_cannot_look_up_own_records(nurse_client, nurse):
    response = find(nurse_client, nurse[1].person.person_number)
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="block.patient_looked_up").exists()


def test_register_needs_a_lookup(nurse_client, tree, patient):
    html = nurse_client.post(REGISTER, block_data(care_unit=str(tree["ortho"].pk)),
                             follow=True).content.decode()
    assert "Find the patient again" in html
    assert not Block.objects.exists()


def test_register_an_inner_block_with_period_and_exclusions(nurse_client, tree, patient, nurse):
    find(nurse_client)
    html = nurse_client.get(REGISTER).content.decode()
    assert "<h1>Register a block</h1>" in html and "Orthopaedics" in html
    assert "Other Clinic" not in html  # another care provider's unit is never offered
    response = nurse_client.post(REGISTER, block_data(
        care_unit=str(tree["ortho"].pk), period_start="2024-01-01", period_end="2024-06-30",
        excluded_types=["lak", "upp"]), follow=True)
    html = response.content.decode()
    assert "The block has been registered." in html
    block = Block.objects.get()
    assert block.patient == patient.person and block.care_unit == tree["ortho"]
    assert block.care_provider == tree["region"] and block.block_type == "inner"
    assert block.period_start == start_of_day(date(2024, 1, 1))
    assert block.period_end == end_of_last_day(date(2024, 6, 30))
    assert block.excluded_types == {"lak", "upp"}
    assert block.registered_by_id == nurse[0].pk
    row = html.split("The patient's blocks")[1]
    assert "Inner block" in row and "Orthopaedics" in row and "2024-01-01 – 2024-06-30" in row
    assert "Medication, alert information" in row and "Nina Nurse" in row
    assert AuditEvent.objects.filter(action="block.registered", actor_id=nurse[0].pk,
                                     subject_person_id=patient.person.pk).exists()


def test_register_an_outer_block_of_the_whole_provider(nurse_client, tree, patient):
    find(nurse_client)
    nurse_client.post(REGISTER, block_data(block_type="outer"))
    block = Block.objects.get()
    assert block.block_type == "outer" and block.care_unit is None
    assert block.period_start is None and block.period_end is None
    html = nurse_client.get(URL).content.decode()
    assert "All care units" in html and "All information" in html


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"patient_present": ""}, "patient_present",
     "Confirm that the patient is present and asks for this block."),
    ({"care_unit": ""}, "care_unit", "An inner block needs the care unit"),
    ({"block_type": "sideways"}, "block_type", "Select a valid choice."),
    ({"care_unit": "not-a-uuid"}, "care_unit", "Choose a care unit of this care provider."),
    ({"excluded_types": ["dia"]}, "excluded_types", "Only medication and alert information"),
    ({"period_start": "2024-06-30", "period_end": "2024-01-01"}, "period_end",
     "The last day cannot be before the first day."),
    ({"period_start": "0001-01-01"}, "period_start", "Enter a date between 1900 and 2199."),
    ({"period_end": "2024-02-30"}, "period_end", "Enter a valid date."),
])
def test_register_refusals_on_the_form(nurse_client, tree, patient, data, field, message):
    find(nurse_client)
    response = nurse_client.post(REGISTER, block_data(**data))
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="id_{field}_error"' in html or "error-summary" in html
    assert message in html
    assert not Block.objects.exists()


def test_another_providers_unit_is_refused(nurse_client, tree, patient):
    find(nurse_client)
    html = nurse_client.post(REGISTER, block_data(care_unit=str(tree["other_unit"].pk))).content
    assert b"Choose a care unit of this care provider." in html
    assert not Block.objects.exists()


def test_the_patients_page_shows_all_states_and_only_my_provider(nurse_client, tree, patient,
                                                                 nurse):
    active = place(nurse, patient, tree["ortho"])
    lifted = place(nurse, patient, tree["primary"])
    services.block_revoke(actor=SYSTEM, commission=None, block=lifted, reason="Patient asked")
    removed = place(nurse, patient, tree["cardio"], "outer")
    services.block_delete(actor=SYSTEM, commission=None, block=removed, reason="Wrong patient")
    other_user, other_employee = make_staff(tree["other_unit"], "Olle", "Other", care=True)
    services.block_register(actor=other_user, commission=commission_of(other_employee),
                            patient=patient.person, block_type="outer",
                            care_provider=tree["other"], care_unit=tree["other_unit"])
    find(nurse_client)
    html = nurse_client.get(URL).content.decode()
    table = html.split("The patient's blocks")[1].split("</table>")[0]
    assert table.count("<tr>") == 4  # header + three of Region Demo; Other Care AB's is not here
    assert "Other Clinic" not in html.split("Blocked information you cannot see")[0]
    assert "Active" in table and "Lifted" in table and "Removed (wrong registration)" in table
    assert "Patient asked" in table and "Wrong patient" in table
    assert url("care_block_revoke", active) in html
    assert url("care_block_revoke", lifted) not in html
    assert url("care_block_delete", removed) not in html
    # An inner block of another unit may be lifted here (Cardiology); not an outer one.
    assert url("care_block_temporary_revoke", active) in html


def test_lift_a_block_with_a_reason(nurse_client, tree, patient, nurse):
    find(nurse_client)  # blocks are changed with the patient looked up
    block = place(nurse, patient, tree["ortho"])
    page = url("care_block_revoke", block)
    html = nurse_client.get(page).content.decode()
    assert "<h1>Lift a block</h1>" in html and "cannot be undone" in html
    assert "Tolvan Tolvansson, 19121212-1212" in html
    html = nurse_client.post(page, {"reason": "  "}).content.decode()
    assert 'id="id_reason_error"' in html
    block.refresh_from_db()
    assert block.revoked_at is None
    html = nurse_client.post(page, {"reason": "The patient asks"}, follow=True).content.decode()
    assert "The block has been lifted." in html
    block.refresh_from_db()
    assert block.revoked_at is not None and block.revoke_reason == "The patient asks"
    assert AuditEvent.objects.filter(action="block.revoked", actor_id=nurse[0].pk).exists()
    # Final: a second attempt is refused on the form, in words.
    html = nurse_client.post(page, {"reason": "Again"}).content.decode()
    assert "This block has already been lifted." in html
    html = nurse_client.post(url("care_block_delete", block), {"reason": "x"}).content.decode()
    assert "This block has already been lifted." in html


def test_remove_a_wrong_registration(nurse_client, tree, patient, nurse):
    find(nurse_client)  # blocks are changed with the patient looked up
    block = place(nurse, patient, tree["ortho"])
    page = url("care_block_delete", block)
    html = nurse_client.get(page).content.decode()
    assert "<h1>Remove a wrongly registered block</h1>" in html and "never counted" in html
    nurse_client.post(page, {"reason": "Wrong patient"})
    block.refresh_from_db()
    assert block.deleted_at is not None and block.delete_reason == "Wrong patient"
    html = nurse_client.post(page, {"reason": "Again"}).content.decode()
    assert "This block has been removed as a wrong registration." in html


def test_another_care_providers_block_is_not_found(nurse_client, tree, patient):
    other_user, other_employee = make_staff(tree["other_unit"], "Olle", "Other", care=True)
    block = services.block_register(actor=other_user, commission=commission_of(other_employee),
                                    patient=patient.person, block_type="inner",
                                    care_provider=tree["other"], care_unit=tree["other_unit"])
    revoke = TemporaryRevoke.objects.create(
        block=block, care_unit=tree["other_unit"], reason="patients_consent",
        valid_from=timezone.now(), valid_until=timezone.now() + timedelta(days=1),
        registered_at=timezone.now(), registered_by_label="x")
    # Lifting and removing are the owner's; an inner block of Other Clinic hides information from
    # Cardiology, so its temporary lifting page is found (tests/selfservice/
    # test_care_blocks_other_providers.py), but not once it is lifted.
    for name in ("care_block_revoke", "care_block_delete"):
        assert nurse_client.get(url(name, block)).status_code == 404
        assert nurse_client.post(url(name, block), {"reason": "x"}).status_code == 404
    end = url("care_block_temporary_revoke_end", revoke)
    assert nurse_client.get(end).status_code == 404
    assert nurse_client.post(end, {"reason": "x"}).status_code == 404
    unknown = reverse("selfservice:care_block_revoke", args=[uuid.uuid4()])
    assert nurse_client.get(unknown).status_code == 404
    assert nurse_client.get("/care/blocks/not-a-uuid/lift/").status_code == 404
    block.refresh_from_db()
    assert block.revoked_at is None and block.deleted_at is None
    assert "Other Clinic" not in nurse_client.get(LIST).content.decode()
    services.block_revoke(actor=SYSTEM, commission=None, block=block, reason="Patient asked")
    assert nurse_client.get(url("care_block_temporary_revoke", block)).status_code == 404


def revoke_data(**kw):
    until = timezone.localtime() + timedelta(days=2)
    data = {"reason": "patients_consent", "employee": "",
            "valid_until": until.strftime("%Y-%m-%dT%H:%M")}
    data.update(kw)
    return data


def test_lift_temporarily_for_my_unit_and_end_early(nurse_client, tree, patient, nurse):
    find(nurse_client)  # blocks are changed with the patient looked up
    colleague = make_staff(tree["cardio"], "Carl", "Colleague", care=True)[1]
    make_staff(tree["ortho"], "Olle", "Ortoped", care=True)  # another unit: never listed
    block = place(nurse, patient, tree["ortho"])
    page = url("care_block_temporary_revoke", block)
    html = nurse_client.get(page).content.decode()
    assert "<h1>Lift a block temporarily</h1>" in html and "at most 7 days" in html
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]+)</option>',
                         html.split('name="employee"')[1].split("</select>")[0])
    assert [label for _, label in options] == [
        "All staff with a care commission at the care unit",
        f"Carl Colleague ({colleague.hsa_id})", f"Nina Nurse ({nurse[1].hsa_id})"]
    html = nurse_client.post(page, revoke_data(employee=str(colleague.pk)),
                             follow=True).content.decode()
    assert "The block has been lifted temporarily for Cardiology." in html
    revoke = TemporaryRevoke.objects.get()
    assert revoke.care_unit == tree["cardio"] and revoke.employee == colleague
    assert timedelta(days=1, hours=23) < revoke.valid_until - timezone.now() <= timedelta(days=2)
    assert AuditEvent.objects.filter(action="block.temporary_revoke_registered",
                                     actor_id=nurse[0].pk).exists()

    find(nurse_client)
    html = nurse_client.get(URL).content.decode()
    revokes = html.split("Temporary liftings of these blocks")[1].split("</table>")[0]
    assert "Carl Colleague" in revokes and "In force" in revokes
    end = url("care_block_temporary_revoke_end", revoke)
    assert end in revokes
    html = nurse_client.get(end).content.decode()
    assert "<h1>End a temporary lifting early</h1>" in html
    assert 'id="id_reason_error"' in nurse_client.post(end, {"reason": ""}).content.decode()
    html = nurse_client.post(end, {"reason": "Care finished"}, follow=True).content.decode()
    assert "The temporary lifting has been ended." in html
    assert "Patient: Tolvan" in html  # back on the patient's page
    assert "Ended early" in html and "Care finished" in html
    revoke.refresh_from_db()
    assert revoke.cancelled_at is not None
    html = nurse_client.post(end, {"reason": "Again"}).content.decode()
    assert "This temporary lifting has already ended." in html


def test_emergency_lifting_applies_to_me_only(nurse_client, tree, patient, nurse):
    find(nurse_client)  # blocks are changed with the patient looked up
    colleague = make_staff(tree["cardio"], "Carl", "Colleague", care=True)[1]
    block = place(nurse, patient, tree["ortho"])
    nurse_client.post(url("care_block_temporary_revoke", block),
                      revoke_data(reason="emergency", employee=str(colleague.pk)))
    assert TemporaryRevoke.objects.get().employee == nurse[1]


@pytest.mark.parametrize(("data", "message"), [
    ({"valid_until": "x"}, "Enter a valid date/time."),
    ({"valid_until": ""}, "This field is required."),
    ({"valid_until": "0001-01-01T00:00"}, "Enter a date between 1900 and 2199."),
    ({"valid_until": "9999-12-31T23:59"}, "Enter a date between 1900 and 2199."),
    ({"valid_until": "2020-01-01T10:00"}, "The end must be in the future."),
    ({"valid_until": "2020-01-01T10:00:00"}, "The end must be in the future."),
    ({"valid_until": "2027-03-28T02:30"}, "2027-03-28 02:30"),  # no such time in Stockholm
    ({"reason": "because"}, "Select a valid choice."),
    ({"employee": str(uuid.uuid4())}, "This staff member has no active care commission"),
])
def test_temporary_lifting_refusals(nurse_client, tree, patient, nurse, data, message):
    find(nurse_client)  # blocks are changed with the patient looked up
    block = place(nurse, patient, tree["ortho"])
    response = nurse_client.post(url("care_block_temporary_revoke", block), revoke_data(**data))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not TemporaryRevoke.objects.exists()


def test_more_than_seven_days_is_refused_clearly(nurse_client, tree, patient, nurse):
    find(nurse_client)  # blocks are changed with the patient looked up
    block = place(nurse, patient, tree["ortho"])
    until = timezone.localtime() + timedelta(days=7, hours=1)
    html = nurse_client.post(url("care_block_temporary_revoke", block),
                             revoke_data(valid_until=until.strftime("%Y-%m-%dT%H:%M"))).content
    assert b'id="id_valid_until_error"' in html
    assert b"A block can be lifted temporarily for at most 7 days." in html
    assert not TemporaryRevoke.objects.exists()


def test_a_block_of_my_own_unit_is_not_lifted_here(nurse_client, tree, patient, nurse):
    """An inner block of Cardiology hides nothing from Cardiology: not found (the service refuses
    it too, tests/blocks/test_services.py)."""
    block = place(nurse, patient, tree["cardio"])
    assert nurse_client.get(url("care_block_temporary_revoke", block)).status_code == 404
    assert nurse_client.post(url("care_block_temporary_revoke", block),
                             revoke_data()).status_code == 404
    assert not TemporaryRevoke.objects.exists()


def test_a_lifted_block_of_my_provider_is_refused_on_the_form(nurse_client, tree, patient, nurse):
    find(nurse_client)  # blocks are changed with the patient looked up
    block = place(nurse, patient, tree["ortho"])
    services.block_revoke(actor=SYSTEM, commission=None, block=block, reason="Patient asked")
    response = nurse_client.post(url("care_block_temporary_revoke", block), revoke_data())
    assert response.status_code == 200
    assert "This block has already been lifted." in response.content.decode()
    assert not TemporaryRevoke.objects.exists()


def test_the_care_providers_list_filters_and_pages(nurse_client, tree, nurse, patient,
                                                   django_assert_max_num_queries):
    people = [identities.person_create(actor=SYSTEM, given_name="Pat", family_name=f"P{i:02}",
                                       person_number=next_person_number()) for i in range(51)]
    for person in people:
        services.block_register(actor=SYSTEM, commission=None, patient=person, block_type="outer",
                                care_provider=tree["region"])
    lifted = place(nurse, patient, tree["ortho"])
    services.block_revoke(actor=SYSTEM, commission=None, block=lifted, reason="Asked")
    with django_assert_max_num_queries(20):
        first = nurse_client.get(LIST)
    html = first.content.decode()
    assert "<h1>Blocks at Region Demo</h1>" in html and "52 blocks" in html
    assert html.count('<th scope="row">') == 50
    assert "Tolvan Tolvansson, 19121212-1212" in html  # newest first
    assert "Next page" in html and "Previous page" not in html
    with django_assert_max_num_queries(20):
        html = nurse_client.get(LIST, {"after": first.context["page"].next}).content.decode()
    assert html.count('<th scope="row">') == 2
    assert "Previous page" in html and "Next page" not in html
    html = nurse_client.get(LIST, {"care_unit": str(tree["ortho"].pk)}).content.decode()
    assert "1 block<" in html and "Tolvan Tolvansson" in html
    html = nurse_client.get(LIST, {"status": "revoked"}).content.decode()
    assert "1 block<" in html and "Tolvan Tolvansson" in html
    html = nurse_client.get(LIST, {"status": "deleted"}).content.decode()
    assert "No blocks match." in html


@pytest.mark.parametrize("query", [
    {"page": "-1"}, {"page": "x"}, {"after": "x"}, {"before": "eyJ4Ijoi"}, {"after": "W10"},
    {"care_unit": "x", "status": "nope"}, {"care_unit": str(uuid.uuid4())},
])
def test_the_list_survives_hostile_queries(nurse_client, tree, query):
    assert nurse_client.get(LIST, query).status_code == 200


def test_the_list_is_the_acting_care_providers(client, tree, patient, nurse):
    place(nurse, patient, tree["ortho"])
    other_user, _ = make_staff(tree["other_unit"], "Olle", "Other", care=True)
    html = login(client, other_user).get(LIST).content.decode()
    assert "<h1>Blocks at Other Care AB</h1>" in html and "Tolvan" not in html


def test_the_patients_page_has_a_constant_number_of_queries(nurse_client, tree, patient, nurse,
                                                            django_assert_max_num_queries):
    for _ in range(5):
        block = place(nurse, patient, tree["ortho"])
        services.temporary_revoke_register(
            actor=SYSTEM, commission=None, block=block, care_unit=tree["cardio"],
            reason="patients_consent", valid_until=timezone.now() + timedelta(days=1))
    find(nurse_client)
    with django_assert_max_num_queries(16):
        html = nurse_client.get(URL).content.decode()
    assert html.count("End early<") == 5


def test_pages_are_in_swedish(nurse_client, tree, patient, nurse):
    nurse_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "sv"
    block = place(nurse, patient, tree["ortho"])
    find(nurse_client)
    html = nurse_client.get(URL).content.decode()
    assert "<h1>Spärrar</h1>" in html
    html = nurse_client.post(url("care_block_temporary_revoke", block), revoke_data(
        valid_until=(timezone.localtime() + timedelta(days=8)).strftime("%Y-%m-%dT%H:%M"))).content
    assert "högst 7 dagar" in html.decode()


def test_each_page_of_the_list_is_audited(nurse_client, tree, nurse, patient, assert_audited):
    place(nurse, patient, tree["ortho"])
    nurse_client.get(LIST, {"care_unit": str(tree["ortho"].pk)})
    event = assert_audited("block.list_viewed", target=tree["region"])
    assert event.actor_id == nurse[0].pk
    assert (event.changes["care_unit"], event.changes["shown"]) == (tree["ortho"].hsa_id, 1)


@pytest.mark.parametrize("page", ["care_block_temporary_revoke", "care_block_revoke",
                                  "care_block_delete"])
def test_a_block_is_changed_only_with_its_patient_looked_up(nurse_client, tree, patient, nurse,
                                                           page):
    block = place(nurse, patient, tree["ortho"])
    data = revoke_data(reason="patients_consent", employee="") if page.endswith("revoke") \
        and "temporary" in page else {"reason": "Asked"}
    response = nurse_client.post(url(page, block), data, follow=True)
    assert "Look the patient up first" in response.content.decode()
    stored = Block.objects.get(pk=block.pk)
    assert stored.revoked_at is None and stored.deleted_at is None
    assert not TemporaryRevoke.objects.filter(block=block).exists()
