"""Through the pages: a person who also works outside the administrator's scope shows their account,
sessions and e-IDs read-only, and the joiner's confirmation says the same about anyone already
registered (docs/decisions.md, "Person-wide actions", "Joiners")."""

from __future__ import annotations

import pytest

from apps.commissions import services
from apps.identities.models import User
from tests.conftest import login_session, make_staff

URL = "/administration/people/new/"
ELSEWHERE = "This person also works in another part of the organisation."


@pytest.fixture
def as_admin(client, hospital_admin):
    client.cookies["django_language"] = "en"
    return login_session(client, hospital_admin)


def form(tree, user: User, **changes):
    person = user.person
    return {"identity_number": person.identity_numbers.get().display,
            "given_name": person.given_name, "family_name": person.family_name,
            "email": "someone@example.invalid", "organisation": str(tree["cardio"].pk),
            "title": "", "channel": "email"} | changes


def test_the_account_of_someone_also_working_elsewhere_is_read_only(as_admin, tree, hospital_admin):
    olga, _ = make_staff(tree["other_unit"], "Olga", "Outside", care=True,
                         username="olga.elsewhere")
    login_session(type(as_admin)(), olga)  # a session of hers
    assert as_admin.post(URL, form(tree, olga, confirm="1")).status_code == 302
    base = f"/administration/people/{olga.person.pk}/"

    page = as_admin.get(base).content.decode()

    assert ELSEWHERE in page and "Other Care AB" not in page
    assert "/deactivate/" not in page and "End all sessions" not in page
    assert "olga.elsewhere" in page  # shown, read-only
    response = as_admin.post(f"{base}accounts/{olga.pk}/deactivate/", {"reason": "Sabotage"})
    assert response.status_code == 404
    olga.refresh_from_db()
    assert olga.is_active


def test_the_account_of_someone_wholly_in_scope_has_its_actions(as_admin, tree, nurse):
    page = as_admin.get(f"/administration/people/{nurse[0].person.pk}/").content.decode()
    assert ELSEWHERE not in page and "/deactivate/" in page


def test_the_confirmation_tells_nothing_of_an_existing_persons_accounts(as_admin, tree, patient):
    staff, _ = make_staff(tree["other_unit"], "Sara", "Secret", username="secret.username42")
    texts = [as_admin.post(URL, form(tree, who)).content.decode() for who in (staff, patient)]
    for page in texts:
        assert "The registered person gets the new employee HSA-id." in page
        assert "secret.username42" not in page and "tolvan" not in page
        assert "already has the login account" not in page and "elsewhere" not in page
    # Only the typed values differ between a staff member and a patient.
    assert [p.count("<li>") for p in texts] == [texts[0].count("<li>")] * 2
    assert str(services.JOINER_MISMATCH) not in texts[0]


def test_a_colleagues_patient_account_is_not_in_the_audit_search_nor_its_export(as_admin, tree):
    """Petra works at Cardiology and logs in with a citizen e-ID as a patient: the login links her
    patient account (`federated_identity.linked`, no organisation, target the patient account).
    Being a patient is patient data: neither the search nor the export shows it."""
    from apps.federation.actors import SAML_SP
    from apps.federation.attributes import map_attributes
    from apps.federation.models import IdentityProvider
    from apps.federation.services import federated_login

    staff, _ = make_staff(tree["cardio"], "Petra", "Patient")
    number = staff.person.identity_numbers.get().display
    citizen = IdentityProvider.objects.create(entity_id="https://citizen.test/", name="Citizen",
                                              accounts="patient")
    as_patient = federated_login(actor=SAML_SP, idp=citizen, subject="abc", attributes=map_attributes({
        "urn:oid:1.2.752.29.4.13": [number], "urn:oid:2.5.4.42": ["Petra"],
        "urn:oid:2.5.4.4": ["Patient"]}))
    assert as_patient.kind == User.Kind.PATIENT

    page = as_admin.get("/administration/audit/", {"person": number}).content.decode()
    export = b"".join(as_admin.post("/administration/audit/export/",
                                    {"person": number}).streaming_content).decode()

    assert "Petra Patient" in page  # her staff events are there
    assert as_patient.username not in page
    assert '<th scope="row">First login with this e-ID' not in page
    assert as_patient.username not in export and "federated_identity.linked" not in export
