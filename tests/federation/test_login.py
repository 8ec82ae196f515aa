"""Federated login through the real test IdP: staff and patients, level of assurance in the
session, linking by the canonical identity number, and the refusals a person can act on."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.commissions.models import Employee
from apps.core.loa import LOA3
from apps.federation.models import FederatedIdentity
from apps.identities.identifiers import make_person_number
from apps.identities.models import Person, User
from tests.federation.support import person_attributes

pytestmark = pytest.mark.django_db


def test_staff_log_in_at_level_3_through_their_organisation_idp(
        client: Client, federation: Any, nurse: tuple[User, Employee]) -> None:
    user, _employee = nurse
    response = federation.login(client, user.person, next_path="/my/eids/")
    assert response.status_code == 302 and response["Location"] == "/my/eids/"
    authn = client.session["authn"]
    assert authn["loa"] == LOA3 and authn["methods"] == ["saml"]
    assert authn["idp"] == federation.idps["staff"].entity_id
    assert client.get("/").context["user"] == user
    link = FederatedIdentity.objects.get()
    assert link.user == user and link.idp_entity_id == federation.idps["staff"].entity_id
    assert AuditEvent.objects.filter(action="login.succeeded", actor_id=str(user.pk),
                                     loa=LOA3).exists()


def _citizen(number: str, given: str = "Tolvan", family: str = "Tolvansson") -> dict[str, str]:
    return {"personalIdentityNumber": number, "givenName": given, "sn": family}


def _citizen_login(client: Client, federation: Any, attributes: dict[str, str],
                   **variant: Any) -> Any:
    request = federation.start(client, "citizen", next_path="/patient/")
    answer = federation.idps["citizen"].response(request, attributes, **variant)
    return federation.post(client, answer)


@pytest.mark.parametrize("number", ["121212+1212", "19121212-1212", "191212121212"])
def test_every_written_form_of_an_identity_number_finds_the_same_person(
        client: Client, federation: Any, patient: User, number: str) -> None:
    response = _citizen_login(client, federation, _citizen(number))
    assert response.status_code == 302, response.content
    assert client.session["_auth_user_id"] == str(patient.pk)
    assert Person.objects.count() == 1


def test_a_patient_is_registered_on_first_login_and_found_again_after(
        client: Client, federation: Any, db: Any) -> None:
    response = _citizen_login(client, federation, _citizen("19121212-1212"))
    assert response.status_code == 302 and response["Location"] == "/patient/"
    user = User.objects.get(kind=User.Kind.PATIENT)
    assert user.person.person_number == "19121212-1212" and str(user.person) == "Tolvan Tolvansson"
    assert AuditEvent.objects.filter(action="person.created", actor_label="system:saml-sp").exists()
    assert AuditEvent.objects.filter(action="federated_identity.linked",
                                     target_id=str(user.pk)).exists()
    other = Client()
    _citizen_login(other, federation, _citizen("19121212-1212", given="Tolvan-Renamed"))
    assert other.session["_auth_user_id"] == str(user.pk)
    assert User.objects.count() == 1
    user.person.refresh_from_db()
    assert user.person.given_name == "Tolvan"  # the stored person is never overwritten


def test_an_unknown_staff_member_is_told_whom_to_ask_and_nothing_is_created(
        client: Client, federation: Any, tree: Any) -> None:
    request = federation.start(client, "staff")
    answer = federation.idps["staff"].response(request, {
        "personalIdentityNumber": "198005170017", "givenName": "Unknown", "sn": "Staff",
        "employeeHsaId": "SE2321000016-X999"})
    page = federation.post(client, answer)
    assert page.status_code == 403
    text = page.content.decode()
    assert "You are not registered as staff in the portal." in text
    assert "local administrator" in text
    assert not Person.objects.filter(given_name="Unknown").exists()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="saml_response.refused",
                                     changes__reason=[None, "staff.unknown"]).exists()


def test_a_patient_idp_never_logs_into_a_staff_account(
        client: Client, federation: Any, nurse: tuple[User, Employee]) -> None:
    user, _employee = nurse
    _citizen_login(client, federation, person_attributes(user.person, personality="citizen"))
    logged_in = User.objects.get(pk=client.session["_auth_user_id"])
    assert logged_in.kind == User.Kind.PATIENT and logged_in.person_id == user.person_id


def test_a_known_subject_with_another_identity_number_is_refused(
        client: Client, federation: Any, patient: User) -> None:
    _citizen_login(client, federation, _citizen("19121212-1212"))
    other = Client()
    request = federation.start(other, "citizen")
    other_number = make_person_number(date(1990, 1, 1), 7)
    answer = federation.idps["citizen"].response(request, _citizen(other_number, "O", "P"))
    # The IdP now says Tolvan's subject has another number (a reassigned or corrupted identity).
    subject = re.search(r"persistent\">([0-9a-f]+)<", answer.xml)
    assert subject is not None
    FederatedIdentity.objects.update(subject=subject.group(1))
    page = federation.post(other, answer)
    assert page.status_code == 403
    assert "another personal identity number" in page.content.decode()


def test_a_level_2_login_is_recorded_as_level_2(
        client: Client, federation: Any, nurse: tuple[User, Employee]) -> None:
    from apps.core.loa import LOA2
    federation.login(client, nurse[0].person, loa=LOA2)
    assert client.session["authn"]["loa"] == LOA2


def test_sambi_level_names_are_mapped_to_the_framework(
        client: Client, federation: Any, nurse: tuple[User, Employee]) -> None:
    federation.login(client, nurse[0].person, loa="http://id.sambi.se/loa/loa3")
    assert client.session["authn"]["loa"] == LOA3


def test_an_unknown_level_is_refused(
        client: Client, federation: Any, nurse: tuple[User, Employee]) -> None:
    page = federation.login(client, nurse[0].person, loa="urn:example:loa:high")
    assert page.status_code == 403 and "_auth_user_id" not in client.session
    assert "did not say how strongly you logged in" in page.content.decode()


def test_the_discovery_page_lists_the_idps_and_remembers_the_last_choice(
        client: Client, federation: Any) -> None:
    page = client.get(reverse("federation:discovery")).content.decode()
    assert "Test IdP (staff)" in page and "Test IdP (citizen)" in page
    federation.start(client, "citizen")
    page = client.get(reverse("federation:discovery")).content.decode()
    assert page.index("Test IdP (citizen)") < page.index("Test IdP (staff)")
    assert "Your last choice" in page
    patients_only = client.get(reverse("federation:discovery"), {"for": "patient"})
    assert "Test IdP (staff)" not in patients_only.content.decode()


def test_a_deactivated_account_cannot_log_in_through_an_idp(
        client: Client, federation: Any, nurse: tuple[User, Employee]) -> None:
    user, _employee = nurse
    federation.login(client, user.person)  # linked
    User.objects.filter(pk=user.pk).update(is_active=False)
    other = Client()
    page = federation.login(other, user.person)
    assert page.status_code == 403 and "_auth_user_id" not in other.session
    assert "Your account in the portal is deactivated." in page.content.decode()


def test_the_sp_metadata_names_the_consumer_keys_and_only_strong_algorithms(client: Client,
                                                                           federation: Any) -> None:
    response = client.get(reverse("federation:metadata"))
    assert response["Content-Type"].startswith("application/samlmetadata+xml")
    xml = response.content.decode()
    assert 'entityID="http://localhost:8000/saml/metadata/"' in xml
    assert 'Location="http://localhost:8000/saml/acs/"' in xml
    assert 'WantAssertionsSigned="true"' in xml and 'AuthnRequestsSigned="true"' in xml
    algorithms = re.findall(r'Algorithm="([^"]+)"', xml)
    assert algorithms and not [a for a in algorithms if "sha1" in a or "md5" in a]


def test_a_first_login_with_very_long_names_registers_the_person_with_them_cut(
        client: Client, federation: Any, db: Any) -> None:
    response = _citizen_login(client, federation, _citizen("19121212-1212", "Å" * 250, "B" * 250))
    assert response.status_code == 302
    person = User.objects.get().person
    assert person.given_name == "Å" * 100 and person.family_name == "B" * 100
def test_logout_goes_to_the_idp_by_a_page_not_a_redirect(
        client: Client, federation: Any, nurse: tuple[User, Employee]) -> None:
    """After the logout POST, the single logout request reaches the IdP by a page that moves on
    by itself (meta refresh) and by a link: a redirect would be blocked by the form page's CSP
    form-action 'self', which browsers apply to a form submission's redirects."""
    user, _employee = nurse
    federation.login(client, user.person)
    response = client.post(reverse("authn:logout"), follow=True)
    assert response.status_code == 200 and response.redirect_chain[-1][0] == "/saml/logout/"
    slo_url = re.escape(federation.idps["staff"].slo_url + "?SAMLRequest=")
    html = response.content.decode()
    assert re.search(f'<meta http-equiv="refresh" content="0; url={slo_url}', html)
    assert re.search(f'<a class="button" href="{slo_url}', html)
    assert "_auth_user_id" not in client.session


def test_the_sp_key_is_read_once_per_file_version(tmp_path: Any) -> None:
    """The SP key is cached (pysaml2 loads and checks it for every client), and a replaced key
    file is read again (key rotation)."""
    from cryptography.hazmat.primitives import serialization
    from saml2 import sigver

    from apps.federation.management.commands.saml_sp_init import write_key_pair

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    write_key_pair(key, cert, "one")
    first = sigver.import_rsa_key_from_file(str(key))
    assert sigver.import_rsa_key_from_file(str(key)) is first
    write_key_pair(key, cert, "two")
    second = sigver.import_rsa_key_from_file(str(key))
    public = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    assert second.public_key().public_bytes(*public) != first.public_key().public_bytes(*public)
