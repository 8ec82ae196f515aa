"""The e-ID pages: "My e-IDs" (self-service with step-up) and the issuer's pages."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.commissions.models import Employee
from apps.core.actors import SYSTEM
from apps.identities.models import User
from apps.issuance import rules
from apps.issuance.ca import IssuingCA
from apps.issuance.models import ActivationCode, MobileEID
from apps.organisations.models import Organisation
from tests.conftest import PASSWORD, login_session, make_staff, totp_now
from tests.issuance.support import issue, redeem_qr

pytestmark = pytest.mark.django_db

MY_EIDS = reverse("selfservice:my_eids")
NEW = reverse("selfservice:my_eid_new")


def login(client: Client, user: User) -> None:
    client.post(reverse("authn:login"), {"username": user.username, "password": PASSWORD})
    response = client.post(reverse("authn:otp"), {"token": totp_now()})
    assert response.status_code == 302


def step_up(client: Client, federation: Any, user: User) -> None:
    """Confirm it is you at LoA 3 at the test IdP (ForceAuthn), as the step-up page offers."""
    response = federation.login(client, user.person, step_up=True)
    assert response.status_code == 302, response


@pytest.fixture
def nina(nurse: tuple[User, Employee]) -> User:
    return nurse[0]


def test_my_eids_needs_a_staff_login(client: Client, nina: User) -> None:
    response = client.get(MY_EIDS)
    assert response.status_code == 302 and response["Location"].startswith(reverse("authn:login"))


def test_a_code_is_shown_only_after_step_up_and_only_once(client: Client, nina: User,
                                                          federation: Any) -> None:
    login(client, nina)
    page = client.get(MY_EIDS).content.decode()
    assert "You have no mobile e-ID yet." in page and "Get a new mobile e-ID" in page

    response = client.get(NEW)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("authn:step_up"))
    response = client.post(NEW)  # no way around the step-up with a POST either
    assert response.status_code == 302 and not ActivationCode.objects.exists()

    page = client.get(response["Location"]).content.decode()
    assert "A new mobile e-ID is issued on the strength of the login you make now" in page
    assert "Your login is at level 2." in page  # password and authenticator app: not enough
    assert 'name="token"' not in page
    step_up(client, federation, nina)
    assert "Create activation code" in client.get(NEW).content.decode()
    response = client.post(NEW)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert "<title>Your activation code" in page
    code = ActivationCode.objects.get(person=nina.person)
    short = re.search(r'id="short-code">([0-9A-Z]{4}-[0-9A-Z]{4})<', page)
    assert short is not None
    assert '<img src="data:image/svg+xml' in page and 'alt="QR code' in page
    assert nina.person.person_number in page
    assert (f".venv/bin/python clients/mobile_app/eid_app.py activate --portal http://localhost:8000 "
            f"--wallet var/wallet-{code.pk}.json --person-number {nina.person.person_number} "
            f"--code {short.group(1)}") in page
    assert f"EIDACT1.{code.pk.hex}." in page
    # The step-up is spent: reloading or asking again needs a new one, and shows nothing.
    response = client.post(NEW)
    assert response.status_code == 302 and response["Location"].startswith(
        reverse("authn:step_up"))
    assert ActivationCode.objects.filter(person=nina.person).count() == 1
    assert short.group(1) not in client.get(MY_EIDS).content.decode()


def test_list_shows_e_ids_with_status_in_words_and_revoke(
    client: Client, nina: User, issuing_ca: IssuingCA, django_capture_on_commit_callbacks: Any
) -> None:
    eid = redeem_qr(issue(nina.person), device="Work phone").eid
    login(client, nina)
    page = client.get(MY_EIDS).content.decode()
    assert "Work phone" in page and eid.serial in page and "Active" in page
    revoke_url = reverse("selfservice:eid_revoke", args=[eid.pk])
    assert revoke_url in page

    response = client.post(revoke_url, {"reason": ""})
    assert response.status_code == 200 and 'id="id_reason_error"' in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(revoke_url, {"reason": "Phone lost"})
    assert response.status_code == 302 and response["Location"] == MY_EIDS
    eid.refresh_from_db()
    assert eid.status == MobileEID.Status.REVOKED
    page = client.get(MY_EIDS).content.decode()
    assert "Revoked" in page and revoke_url not in page


def test_fourth_e_id_refused_with_a_clear_message(client: Client, nina: User,
                                                 issuing_ca: IssuingCA, federation: Any) -> None:
    for _ in range(3):
        redeem_qr(issue(nina.person))
    login(client, nina)
    page = client.get(MY_EIDS).content.decode()
    assert "You already have 3 active mobile e-IDs" in page
    step_up(client, federation, nina)
    response = client.post(NEW, follow=True)
    assert "You already have 3 active mobile e-IDs" in response.content.decode()
    assert ActivationCode.objects.filter(person=nina.person, used_at__isnull=True).count() == 0


def test_others_cannot_open_a_revoke_page(client: Client, nina: User, issuing_ca: IssuingCA,
                                          tree: dict[str, Organisation]) -> None:
    eid = redeem_qr(issue(nina.person)).eid
    colleague, _ = make_staff(tree["cardio"], "Olle", "Other")
    login(client, colleague)
    assert client.get(reverse("selfservice:eid_revoke", args=[eid.pk])).status_code == 404
    assert client.get(reverse("selfservice:issuer_search")).status_code == 404


def test_issuer_finds_checks_document_and_creates_a_code(
    client: Client, issuer: User, nina: User, issuing_ca: IssuingCA, federation: Any
) -> None:
    login_session(client, issuer)
    number = nina.person.person_number
    page = client.get(reverse("selfservice:issuer_search"), {"q": number}).content.decode()
    person_url = reverse("selfservice:issuer_person", args=[nina.person.pk])
    assert person_url in page and "Nina Nurse" in page
    hsa = nina.person.employees.get().hsa_id
    assert person_url in client.get(reverse("selfservice:issuer_search"),
                                    {"q": hsa}).content.decode()

    response = client.get(person_url)
    assert response.status_code == 302 and "purpose=issue_for_others" in response["Location"]
    step_up(client, federation, issuer)
    page = client.get(person_url).content.decode()
    assert "Identity document checked" in page and 'name="token"' not in page
    code_url = reverse("selfservice:issuer_code", args=[nina.person.pk])
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    response = client.post(code_url, {"document_type": "passport", "document_last_four": "1234",
                                      "document_expires_on": yesterday})
    assert response.status_code == 400
    assert 'id="id_document_expires_on_error"' in response.content.decode()
    assert not ActivationCode.objects.exists()

    next_year = (timezone.localdate() + dt.timedelta(days=365)).isoformat()
    response = client.post(code_url, {"document_type": "national_id_card",
                                      "document_last_four": "9876",
                                      "document_expires_on": next_year})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert 'id="short-code"' in page and number in page
    # Whose code it is, not "Your activation code": the issuer is not the owner.
    assert "<title>Activation code for Nina Nurse" in page and "Your activation code" not in page
    code = ActivationCode.objects.get(person=nina.person)
    assert code.issued_for_other and code.document_last_four == "9876"
    assert code.created_by_id == issuer.pk
    # The step-up is spent: a second code for the same step-up is refused.
    again = client.post(code_url, {"document_type": "national_id_card",
                                   "document_last_four": "9876", "document_expires_on": next_year})
    assert again.status_code == 302 and "purpose=issue_for_others" in again["Location"]
    assert ActivationCode.objects.count() == 1


def test_issuer_revokes_an_e_id_in_scope(client: Client, issuer: User, nina: User,
                                         issuing_ca: IssuingCA, federation: Any) -> None:
    eid = redeem_qr(issue(nina.person)).eid
    login_session(client, issuer)
    step_up(client, federation, issuer)
    person_url = reverse("selfservice:issuer_person", args=[nina.person.pk])
    revoke_url = reverse("selfservice:eid_revoke", args=[eid.pk])
    page = client.get(person_url).content.decode()
    assert revoke_url in page
    # Never used: said in words, as on the administrator's person page (not "–").
    row = page.split(eid.serial)[1].split("</tr>")[0]
    assert "<td>never</td>" in row
    response = client.post(revoke_url, {"reason": "Reported stolen"})
    assert response.status_code == 302 and response["Location"] == person_url
    eid.refresh_from_db()
    assert eid.status == "revoked" and eid.revoked_by_id == issuer.pk


def test_issuer_outside_scope_sees_nothing(client: Client, tree: dict[str, Organisation],
                                           nina: User) -> None:
    from apps.commissions import services as commissions
    from apps.commissions.models import Role
    from apps.core.actors import SYSTEM

    other_issuer, _ = make_staff(tree["other_unit"], "Otto", "Outside")
    commissions.role_grant(actor=SYSTEM, person=other_issuer.person, role=Role.ISSUER,
                           organisation=tree["other"], valid_from=timezone.now(),
                           valid_until=None)
    login_session(client, other_issuer)
    page = client.get(reverse("selfservice:issuer_search"),
                      {"q": nina.person.person_number}).content.decode()
    assert "Nina Nurse" not in page and "No staff member in your area matches." in page
    assert client.get(reverse("selfservice:issuer_person",
                              args=[nina.person.pk])).status_code == 404
    response = client.post(reverse("selfservice:issuer_code", args=[nina.person.pk]),
                           {"document_type": "passport", "document_last_four": "1234",
                            "document_expires_on": "2099-01-01"})
    assert response.status_code == 404


def test_issue_service_code_is_consistent_with_page_limits() -> None:
    assert rules.CODE_VALIDITY_SECONDS == 600 and rules.MAX_FAILED_ATTEMPTS == 5


def _wallet(page: str) -> str:
    match = re.search(r"--wallet (\S+)", page)
    assert match is not None
    return match.group(1)


def test_two_people_with_one_first_name_get_different_wallet_files(
    client: Client, tree: dict[str, Organisation], federation: Any
) -> None:
    """Found: the code page suggested var/wallet-<first name>.json, so a second Anna's
    activation refused to overwrite the first Anna's wallet."""
    wallets = []
    for family in ("Andersson", "Berg"):
        user, _ = make_staff(tree["cardio"], "Anna", family, care=True)
        client.logout()
        login(client, user)
        step_up(client, federation, user)
        page = client.post(NEW).content.decode()
        code = ActivationCode.objects.get(person=user.person)
        wallets.append(_wallet(page))
        assert _wallet(page) == f"var/wallet-{code.pk}.json"
    assert wallets[0] != wallets[1]


def _document(**overrides: str) -> dict[str, str]:
    data = {"document_type": "passport", "document_last_four": "1234",
            "document_expires_on": (timezone.localdate() + dt.timedelta(days=365)).isoformat()}
    data.update(overrides)
    return data


def test_issuer_form_shows_every_error_at_once_and_keeps_the_step_up_unspent(
    client: Client, issuer: User, nina: User, issuing_ca: IssuingCA, federation: Any
) -> None:
    """Found: the issuer form showed one error per submit (the document's, then the
    next); now every field error shows together, and the step-up is not spent on a document
    that is wrong, so the same step-up works once the document is right."""
    login_session(client, issuer)
    step_up(client, federation, issuer)
    code_url = reverse("selfservice:issuer_code", args=[nina.person.pk])
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    response = client.post(code_url, _document(document_last_four="12ab",
                                               document_expires_on=yesterday))
    page = response.content.decode()
    assert response.status_code == 400
    for field in ("document_last_four", "document_expires_on"):
        assert f'id="id_{field}_error"' in page, field
    assert "Enter the last four digits of the document number." in page
    assert "The identity document has expired." in page
    assert not ActivationCode.objects.exists()
    response = client.post(code_url, _document())  # the same step-up: it was not spent
    assert response.status_code == 200 and 'id="short-code"' in response.content.decode()
    assert ActivationCode.objects.get(person=nina.person).issued_for_other


def test_issuer_person_page_shows_what_the_document_is_checked_against(
    client: Client, issuer: User, nina: User, tree: dict[str, Organisation], federation: Any
) -> None:
    """Found: the page asked to compare a photo the portal does not show, and lacked
    the HSA-id and unit the issuer checks against."""
    from apps.commissions import services as commissions
    from apps.core.actors import SYSTEM

    employee = nina.person.employees.get()
    Employee.objects.filter(pk=employee.pk).update(title="Sjuksköterska")
    login_session(client, issuer)
    step_up(client, federation, issuer)
    page = client.get(reverse("selfservice:issuer_person", args=[nina.person.pk])).content.decode()
    assert "Compare the photo" not in page
    assert "Check the identity document of the person in front of you" in page
    assert nina.person.person_number in page
    row = page.split(f"<th scope=\"row\">{employee.hsa_id}</th>")[1].split("</tr>")[0]
    assert "Cardiology (SE2321000016-0101)" in row and "Sjuksköterska" in row
    # Someone who also works outside the issuer's area is no longer theirs to serve
    # (docs/decisions.md, "Person-wide actions").
    commissions.employee_create(actor=SYSTEM, person=nina.person, organisation=tree["other_unit"])
    assert client.get(reverse("selfservice:issuer_person", args=[nina.person.pk])).status_code == 404


def test_an_e_id_without_a_device_name_is_named_in_the_readers_language(
    client: Client, nina: User, issuing_ca: IssuingCA
) -> None:
    """Found: the default device name "Mobile e-ID" was stored in English and shown
    so in the Swedish UI."""
    from tests.issuance.support import device_csr

    issued = issue(nina.person)
    response = Client().post("/api/v1/eid/activations", {"csr": device_csr()[1],
                                                          "qr_payload": issued.qr_payload},
                             content_type="application/json")
    assert response.status_code == 201, response.content
    assert MobileEID.objects.get().device_name == ""
    login(client, nina)
    swedish = client.get(MY_EIDS, HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert '<th scope="row">Mobil e-legitimation</th>' in swedish
    assert "Mobile e-ID" not in swedish
    english = client.get(MY_EIDS, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<th scope="row">Mobile e-ID</th>' in english


def test_the_issuer_page_lists_joiners_waiting_for_a_mobile_eid_in_scope(
        client: Client, issuer: User, hospital_admin: User, tree: dict[str, Organisation]) -> None:
    from apps.commissions import services as commission_services
    from apps.commissions.models import Role

    joiner = commission_services.joiner_register(
        actor=hospital_admin, identity_number="19750302-2381", reserve=False, given_name="Åsa",
        family_name="Öberg", email="asa.oberg@example.invalid", organisation=tree["cardio"],
        channel="issuer")
    login_session(client, issuer)
    page = client.get(reverse("selfservice:issuer_search")).content.decode()
    assert "Waiting for a mobile e-ID" in page and "Åsa Öberg" in page
    assert reverse("selfservice:issuer_person", args=[joiner.person.pk]) in page

    elsewhere, _ = make_staff(tree["primary"], "Ebba", "Elsewhere")
    commission_services.role_grant(actor=SYSTEM, person=elsewhere.person, role=Role.ISSUER,
                                   organisation=tree["primary"], valid_from=timezone.now(),
                                   valid_until=None)
    other = Client()
    login_session(other, elsewhere)
    page = other.get(reverse("selfservice:issuer_search")).content.decode()
    assert "Åsa Öberg" not in page and "Nobody in your area is waiting" in page
