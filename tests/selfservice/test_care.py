"""Staff page: register consent (patient present) or emergency access, and delete a wrong
registration, through the test client with the real password + TOTP login."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.consents import services
from apps.consents.models import ConsentAssertion
from apps.selfservice import care, lookup
from tests.conftest import PASSWORD, make_staff, totp_now

URL = reverse("selfservice:care_consent")
TOLVAN = "19121212-1212"


@pytest.fixture
def client(client):
    """Pages in English (the default language is Swedish)."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def login(client, user, offset_steps=0):
    client.post(reverse("authn:login"), {"username": user.username, "password": PASSWORD})
    response = client.post(reverse("authn:otp"), {"token": totp_now(offset_steps=offset_steps)})
    assert response.status_code == 302, "login failed"
    return client


@pytest.fixture
def nurse_client(client, nurse):
    return login(client, nurse[0])


def find(client, unit, number=TOLVAN, **extra):
    """Look the patient up (a POST); follows the redirect to the page that shows them."""
    return client.post(URL, {"action": "find", "care_unit": str(unit.pk), "person_number": number},
                       follow=True, **extra)


def consent_data(**kw):
    data = {"action": "consent", "consent-who": "all", "consent-employee": "",
            "consent-valid_from": timezone.localdate().isoformat(), "consent-valid_until": "",
            "consent-representative_name": "", "consent-patient_present": "on"}
    data.update({f"consent-{k}" if k != "action" else k: v for k, v in kw.items()})
    return data


def test_needs_staff_login_with_second_factor(client, tree, nurse, patient):
    response = client.get(URL)
    assert response.status_code == 302 and reverse("authn:login") in response["Location"]
    client.force_login(nurse[0])  # password session without the second factor
    assert client.get(URL).status_code == 302


def test_only_my_units_are_offered(nurse_client, tree):
    html = nurse_client.get(URL).content.decode()
    assert "<h1>Register consent or emergency access</h1>" in html
    assert "Cardiology" in html
    assert "Orthopaedics" not in html


def test_find_patient_shows_name_and_both_forms(nurse_client, tree, patient):
    html = find(nurse_client, tree["cardio"]).content.decode()
    assert "Patient: Tolvan Tolvansson, 19121212-1212" in html
    assert "Register consent" in html and "Register emergency access" in html


@pytest.mark.parametrize(
    ("number", "message"),
    [("19121212-1213", "check digit"), ("19500303-1233", "No patient with this number was found.")],
)
def test_find_patient_errors(nurse_client, tree, patient, number, message):
    html = find(nurse_client, tree["cardio"], number).content.decode()
    assert message in html and 'class="error"' in html
    assert "Register emergency access" not in html


def test_the_unit_is_the_chosen_commissions(nurse_client, tree, patient):
    """The unit comes from the commission acted under: a unit in the request changes nothing."""
    html = find(nurse_client, tree["ortho"]).content.decode()
    assert "Patient: Tolvan Tolvansson" in html and "Care unit: Cardiology" in html
    event = AuditEvent.objects.get(action="patient.looked_up")
    assert event.organisation_hsa_id == tree["cardio"].hsa_id


def test_register_consent_for_present_patient(nurse_client, tree, patient, nurse):
    find(nurse_client, tree["cardio"])
    response = nurse_client.post(URL, consent_data(), follow=True)
    html = response.content.decode()
    assert "The consent has been registered." in html
    assert "Patient: Tolvan" not in html  # done: the page is ready for the next patient
    consent = ConsentAssertion.objects.get()
    assert consent.patient == patient.person and consent.care_unit == tree["cardio"]
    assert consent.registered_by_id == nurse[0].pk
    today = html.split("Registered by you today")[1]
    assert "Tolvan Tolvansson" in today and "Delete (wrong registration)" in today
    event = AuditEvent.objects.get(action="consent.given")
    assert event.subject_person_id == patient.person.pk
    assert event.actor_id == nurse[0].pk


def test_presence_must_be_confirmed(nurse_client, tree, patient):
    data = consent_data()
    del data["consent-patient_present"]
    find(nurse_client, tree["cardio"])
    html = nurse_client.post(URL, data).content.decode()
    assert "Confirm that the patient is present and has given consent." in html
    assert not ConsentAssertion.objects.exists()


def test_consent_for_one_named_colleague(nurse_client, tree, patient, nurse):
    """Two steps without JavaScript: "one named staff member" first shows the list of the unit's
    staff (each once), then the choice registers the consent."""
    _, employee = nurse
    colleague = make_staff(tree["cardio"], "Carl", "Colleague", care=True)[1]
    make_staff(tree["ortho"], "Olle", "Ortoped", care=True)  # another unit: never listed
    html = find(nurse_client, tree["cardio"]).content.decode()
    assert f"Nina Nurse ({employee.hsa_id})" not in html  # "all staff" is the default: no list
    data = consent_data(who="one")
    del data["consent-employee"]
    html = nurse_client.post(URL, data).content.decode()
    assert "Choose the staff member from the list" in html and 'class="error"' not in html
    options = re.findall(r'<option value="[0-9a-f-]+">([^<]+)</option>', html.split(
        'name="consent-employee"')[1].split("</select>")[0])
    assert options == [f"Carl Colleague ({colleague.hsa_id})", f"Nina Nurse ({employee.hsa_id})"]
    assert not ConsentAssertion.objects.exists()
    nurse_client.post(URL, consent_data(who="one", employee=str(employee.pk)))
    assert ConsentAssertion.objects.get().employee == employee


def test_register_emergency_access(nurse_client, tree, patient, nurse):
    data = {"action": "emergency", "emergency-reason": "Unconscious, no relatives reachable",
            "emergency-hours": "4"}
    find(nurse_client, tree["cardio"])
    html = nurse_client.post(URL, data, follow=True).content.decode()
    assert "Emergency access has been registered." in html
    access = ConsentAssertion.objects.get()
    assert access.is_emergency and access.employee == nurse[1]
    assert access.valid_until is not None
    assert timedelta(hours=3, minutes=59) < access.valid_until - timezone.now() <= timedelta(hours=4)
    assert AuditEvent.objects.filter(action="emergency_access.registered",
                                     subject_person_id=patient.person.pk).exists()


def test_emergency_access_needs_reason(nurse_client, tree, patient):
    data = {"action": "emergency", "emergency-reason": "", "emergency-hours": "24"}
    find(nurse_client, tree["cardio"])
    html = nurse_client.post(URL, data).content.decode()
    assert 'id="id_emergency-reason_error' in html
    data["emergency-hours"] = "500"
    html = nurse_client.post(URL, data).content.decode()
    assert 'id="id_emergency-hours_error' in html
    assert not ConsentAssertion.objects.exists()


def test_delete_wrong_registration_with_reason(nurse_client, tree, patient, nurse):
    find(nurse_client, tree["cardio"])
    nurse_client.post(URL, consent_data())
    consent = ConsentAssertion.objects.get()
    url = reverse("selfservice:care_consent_delete", args=[consent.pk])
    assert "Delete a wrong registration" in nurse_client.get(url).content.decode()
    html = nurse_client.post(url, {"reason": ""}).content.decode()
    assert 'id="id_reason_error' in html
    consent.refresh_from_db()
    assert consent.deleted_at is None
    html = nurse_client.post(url, {"reason": "Wrong patient chosen"}, follow=True).content.decode()
    assert "removed as a wrong registration" in html
    consent.refresh_from_db()
    assert consent.deleted_at is not None and consent.delete_reason == "Wrong patient chosen"
    assert AuditEvent.objects.filter(action="consent.deleted", reason="Wrong patient chosen").exists()


def test_cannot_delete_what_someone_else_registered(nurse_client, tree, patient):
    consent = services.consent_give(actor=patient, patient=patient.person, care_unit=tree["cardio"],
                                    valid_from=timezone.now())
    url = reverse("selfservice:care_consent_delete", args=[consent.pk])
    assert nurse_client.get(url).status_code == 404
    assert nurse_client.post(url, {"reason": "x"}).status_code == 404
    consent.refresh_from_db()
    assert consent.deleted_at is None


def test_staff_without_care_commission_sees_notice(client, tree, hospital_admin):
    login(client, hospital_admin)
    response = client.get(URL)
    html = response.content.decode()
    assert response.status_code == 403
    assert "<h1>You need to choose a commission</h1>" in html
    assert "It needs a commission for Care and treatment at a care unit." in html
    assert f'href="{reverse("authn:commission")}?next=%2Fcare%2Fconsent%2F"' in html


def test_page_has_a_constant_number_of_queries(nurse_client, tree, patient, nurse,
                                               django_assert_max_num_queries):
    for _ in range(5):
        services.emergency_access_register(actor=nurse[0], patient=patient.person,
                                           care_unit=tree["cardio"], reason="Unconscious")
    find(nurse_client, tree["cardio"])
    with django_assert_max_num_queries(16):
        html = nurse_client.get(URL).content.decode()
    assert html.count("Emergency access</td>") == 5


def test_a_protected_persons_name_is_not_shown(nurse_client, tree):
    """Protected personal data (skyddade personuppgifter) is not shown on lookup."""
    from apps.core.actors import SYSTEM
    from apps.identities import services as identities

    identities.person_create(actor=SYSTEM, given_name="Hemlig", family_name="Skyddad",
                             person_number="197001011233",
                             is_protected=True)
    html = find(nurse_client, tree["cardio"], "197001011233").content.decode()
    assert "Protected identity" in html
    assert "Hemlig" not in html and "Skyddad" not in html


def test_looking_a_patient_up_is_in_their_log_extract(nurse_client, tree, patient):
    """The lookup showed a name and left no trace."""
    from apps.audit.models import AuditEvent

    find(nurse_client, tree["cardio"])
    event = AuditEvent.objects.get(action="patient.looked_up")
    assert event.subject_person_id == patient.person.pk
    assert event.organisation_hsa_id == tree["cardio"].hsa_id


def test_the_personnummer_never_travels_in_a_url(nurse_client, tree, patient):
    """Found: the lookup was `?care_unit=...&person_number=...`, so the personnummer
    ended up in browser history and server logs. It is a POST now, answered by a redirect to the
    bare page, which shows the patient from the session; reloading does not audit again."""
    response = nurse_client.post(URL, {"action": "find", "care_unit": str(tree["cardio"].pk),
                                       "person_number": TOLVAN})
    assert response.status_code == 302 and response["Location"] == URL
    for _ in range(2):  # the page and a reload
        html = nurse_client.get(URL).content.decode()
        assert "Patient: Tolvan Tolvansson" in html
        assert "19121212" not in "".join(re.findall(r'(?:href|action)="([^"]*)"', html))
    assert AuditEvent.objects.filter(action="patient.looked_up").count() == 1
    assert 'method="get"' not in html.split("Find the patient")[1].split("</form>")[0]
    assert "Care unit: Cardiology (SE2321000016-0101), Region Demo." in html  # ready for the next patient
    assert 'name="person_number"' in html and 'value="19121212' not in html


def test_the_old_query_string_looks_nobody_up(nurse_client, tree, patient):
    html = nurse_client.get(URL, {"care_unit": str(tree["cardio"].pk),
                                  "person_number": TOLVAN}).content.decode()
    assert "Patient: Tolvan" not in html
    assert not AuditEvent.objects.filter(action="patient.looked_up").exists()


def test_a_lookup_expires_and_belongs_to_the_staff_member(nurse_client, tree, patient, nurse):
    find(nurse_client, tree["cardio"])
    session = nurse_client.session
    stored = session[care.LOOKUP_SESSION_KEY]
    session[care.LOOKUP_SESSION_KEY] = {**stored, "at": int(time.time()) - lookup.LOOKUP_MAX_AGE_SECONDS - 1}
    session.save()
    assert "Patient: Tolvan" not in nurse_client.get(URL).content.decode()
    html = nurse_client.post(URL, consent_data(), follow=True).content.decode()
    assert "Find the patient again" in html
    assert not ConsentAssertion.objects.exists()

    colleague, _ = make_staff(tree["cardio"], "Carl", "Colleague", care=True)
    session = nurse_client.session
    session[care.LOOKUP_SESSION_KEY] = {**stored, "user": str(colleague.pk), "at": int(time.time())}
    session.save()
    assert "Patient: Tolvan" not in nurse_client.get(URL).content.decode()


def test_a_lookup_ends_when_the_unit_is_no_longer_mine(nurse_client, tree, patient, nurse):
    from apps.commissions import services as commissions
    from apps.core.actors import SYSTEM

    find(nurse_client, tree["cardio"])
    commission = nurse[1].commissions.get()
    commissions.commission_end(actor=SYSTEM, commission=commission, reason="Moved")
    response = nurse_client.post(URL, consent_data(), follow=True)
    assert not ConsentAssertion.objects.exists()
    assert "Patient: Tolvan" not in response.content.decode()


def test_switching_commission_moves_the_page_to_the_other_unit(client, tree, nurse, patient):
    """Two care commissions: the login asks which one; the page acts at the chosen unit, and
    switching ends a lookup made at the other unit."""
    from apps.commissions import services as commissions
    from apps.core.actors import SYSTEM

    primary = commissions.commission_grant(
        actor=SYSTEM, employee=nurse[1], care_unit=tree["primary"], purpose="Vård och behandling",
        rights=["Läsa;alla;VE"], valid_from=timezone.now() - timedelta(days=1), valid_until=None)
    cardio = nurse[1].commissions.get(care_unit=tree["cardio"])
    client.post(reverse("authn:login"), {"username": nurse[0].username, "password": PASSWORD})
    response = client.post(reverse("authn:otp"), {"token": totp_now(), "next": URL})
    assert response["Location"].startswith(reverse("authn:commission"))
    client.post(reverse("authn:commission"), {"commission": str(cardio.pk), "next": URL})
    find(client, tree["cardio"])
    assert "Patient: Tolvan" in client.get(URL).content.decode()
    client.post(reverse("authn:commission"), {"commission": str(primary.pk), "next": URL})
    html = client.get(URL).content.decode()
    assert "Care unit: Primary Care Centre North" in html and "Patient: Tolvan" not in html
    client.post(URL, consent_data())
    assert not ConsentAssertion.objects.exists()


def test_emergency_durations_are_in_the_readers_language() -> None:
    """Found: the English page offered "1 timme, 4 timmar, ..." (labels made once, in Swedish)."""
    from django.utils import translation

    with translation.override("en"):
        assert (1, "1 hour") in care.EmergencyForm().fields["hours"].choices  # type: ignore[attr-defined]
    with translation.override("sv"):
        assert (24, "24 timmar") in care.EmergencyForm().fields["hours"].choices  # type: ignore[attr-defined]
