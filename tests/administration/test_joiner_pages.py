"""Joiners through the pages: the form, the one confirmation, the refusals, the person page's
pending enrolment, and the invitation page the person opens without a login."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.commissions import services
from apps.commissions.models import Enrolment
from apps.identities.models import Person, User
from apps.outbox.delivery import deliver_pending
from tests.conftest import invitation_path, login_session, make_staff

URL = "/administration/people/new/"
NUMBER = "19750302-2381"


@pytest.fixture
def as_admin(client, hospital_admin):
    client.cookies["django_language"] = "en"
    return login_session(client, hospital_admin)


def form(tree, **changes):
    data = {"identity_number": NUMBER, "given_name": "Åsa", "family_name": "Öberg",
            "email": "asa.oberg@example.invalid", "organisation": str(tree["cardio"].pk),
            "title": "Sjuksköterska", "channel": "email"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_people_list_links_to_the_form(as_admin):
    page = as_admin.get("/administration/").content.decode()
    assert URL in page and "Register a new staff member" in page


def test_the_form_lists_only_units_in_scope(as_admin, tree):
    page = as_admin.get(URL).content.decode()
    assert "Cardiology" in page and "Orthopaedics" in page
    assert "Primary Care Centre North" not in page and "Other Clinic" not in page


def test_every_error_at_once_and_what_was_typed_kept(as_admin, tree):
    response = as_admin.post(URL, form(tree, identity_number="19750302-2382", given_name="",
                                       email="not an e-mail", channel=None))
    assert response.status_code == 400
    page = response.content.decode()
    assert "The check digit is wrong" in page
    assert "Enter a valid email address" in page
    assert page.count("This field is required") >= 2  # given name, channel
    assert 'value="Öberg"' in page and 'value="19750302-2382"' in page
    assert not Person.objects.filter(family_name="Öberg").exists()


def test_confirm_then_register(as_admin, tree):
    check = as_admin.post(URL, form(tree))
    page = check.content.decode()
    assert check.status_code == 200 and "Check and register" in page
    assert "asa.oberg" in page and "Cardiology" in page and "19750302-2381" in page
    assert not Person.objects.filter(family_name="Öberg").exists()  # nothing yet

    done = as_admin.post(URL, {**form(tree), "confirm": "1"})
    person = Person.objects.get(family_name="Öberg")
    assert done.status_code == 302 and done["Location"].endswith(f"/people/{person.pk}/")
    detail = as_admin.get(done["Location"]).content.decode()
    assert "asa.oberg" in detail and "an invitation is being sent" in detail
    deliver_pending()
    assert "invitation e-mailed to asa.oberg@example.invalid" in as_admin.get(
        done["Location"]).content.decode()
    # The token is never on the administrator's pages.
    token = invitation_path().split("/")[2]
    assert token not in as_admin.get(done["Location"]).content.decode()


def test_change_goes_back_to_the_form_with_the_values(as_admin, tree):
    page = as_admin.post(URL, {**form(tree), "change": "1"}).content.decode()
    assert "Register a new staff member" in page and 'value="Åsa"' in page


def test_someone_in_scope_links_to_their_page(as_admin, tree):
    user, _ = make_staff(tree["ortho"], "Olle", "Ortoped")
    number = user.person.identity_numbers.get().display
    page = as_admin.post(URL, form(tree, identity_number=number.replace("-", "")[2:])
                         ).content.decode()
    assert "This person is already registered." in page
    assert f"/administration/people/{user.person.pk}/" in page


def test_someone_outside_the_scope_with_other_names_is_not_revealed(as_admin, tree):
    user, _ = make_staff(tree["other_unit"], "Hemlig", "Hansson")
    number = user.person.identity_numbers.get().display
    response = as_admin.post(URL, form(tree, identity_number=number))
    page = response.content.decode()
    assert response.status_code == 400
    assert "registered with other details" in page
    assert "Hemlig" not in page and "Hansson" not in page and str(user.person.pk) not in page


def test_a_unit_outside_the_scope_is_refused(as_admin, tree):
    response = as_admin.post(URL, {**form(tree, organisation=str(tree["primary"].pk)),
                                   "confirm": "1"})
    assert response.status_code == 400
    assert not Person.objects.filter(family_name="Öberg").exists()


def test_staff_who_administer_nothing_get_404(client, nurse):
    client.cookies["django_language"] = "en"
    login_session(client, nurse[0])
    assert client.get(URL).status_code == 404


def test_the_person_page_sends_a_new_invitation(as_admin, tree, hospital_admin):
    result = services.joiner_register(
        actor=hospital_admin, identity_number=NUMBER, reserve=False, given_name="Åsa",
        family_name="Öberg", email="asa.oberg@example.invalid", organisation=tree["cardio"],
        channel="issuer")
    assert result.user is not None
    detail = f"/administration/people/{result.person.pk}/"
    page = as_admin.get(detail).content.decode()
    assert "waiting for a mobile e-ID from an issuer" in page
    # No link was ever sent on the issuer's way: the page does not speak of an earlier one.
    assert "an earlier link stops working" not in page
    assert "An invitation is e-mailed to the work e-mail instead" in page
    response = as_admin.post(
        reverse("administration:enrolment_resend", args=[result.person.pk, result.user.pk]))
    assert response.status_code == 302
    assert Enrolment.objects.get(user=result.user, ended_at__isnull=True).channel == "email"


# --- the invitation page (no login) -------------------------------------------------------------


def _invited(tree, admin):
    result = services.joiner_register(
        actor=admin, identity_number=NUMBER, reserve=False, given_name="Åsa", family_name="Öberg",
        email="asa.oberg@example.invalid", organisation=tree["cardio"], channel="email")
    deliver_pending()
    return result, invitation_path()


def test_the_invitation_page_sets_the_password(client, tree, hospital_admin):
    result, link = _invited(tree, hospital_admin)
    page = client.get(link)
    assert page.status_code == 200 and "asa.oberg" in page.content.decode()
    assert page["Referrer-Policy"] == "same-origin"
    mismatch = client.post(link, {"password": "sommar i skogen", "password_again": "sommar"})
    assert mismatch.status_code == 400 and "not the same" in mismatch.content.decode()
    short = client.post(link, {"password": "kort", "password_again": "kort"})
    assert short.status_code == 400 and "at least 8" in short.content.decode()
    done = client.post(link, {"password": "sommar i skogen", "password_again": "sommar i skogen"})
    assert done.status_code == 302 and done["Location"] == reverse("authn:login")
    assert User.objects.get(pk=result.user.pk).check_password("sommar i skogen")
    again = client.get(link)
    assert again.status_code == 410 and "does not work any more" in again.content.decode()


def test_an_unknown_expired_or_deactivated_invitation_gets_a_clear_page(client, tree,
                                                                        hospital_admin):
    assert client.get("/invitation/nonsense/").status_code == 410
    assert client.get("/invitation/" + "x" * 300 + "/").status_code == 410
    result, link = _invited(tree, hospital_admin)
    Enrolment.objects.filter(user=result.user).update(expires_at=timezone.now())
    assert client.get(link).status_code == 410
    assert client.post(link, {"password": "sommar i skogen",
                              "password_again": "sommar i skogen"}).status_code == 410


def test_the_first_login_after_the_invitation_enrols_an_authenticator(client, tree,
                                                                      hospital_admin):
    result, link = _invited(tree, hospital_admin)
    client.post(link, {"password": "sommar i skogen", "password_again": "sommar i skogen"})
    login = client.post(reverse("authn:login"), {"username": "ASA.OBERG",
                                                 "password": "sommar i skogen"})
    assert login.status_code == 302
    follow = client.get(login["Location"], follow=True)
    assert "authenticator app" in follow.content.decode()
    assert follow.redirect_chain[-1][0].startswith(reverse("authn:enrol"))


def test_a_reserve_number_is_registered_and_shown_on_the_person_page(as_admin, tree):
    check = as_admin.post(URL, form(tree, identity_number="", reserve="on")).content.decode()
    assert "is registered with a new reserve number" in check
    done = as_admin.post(URL, {**form(tree, identity_number="", reserve="on"), "confirm": "1"})
    person = Person.objects.get(family_name="Öberg")
    page = as_admin.get(done["Location"]).content.decode()
    assert "Reserve number" in page and person.reserve_number in page
    assert len(person.reserve_number) == 12


def test_names_title_and_email_are_measured_after_nfkc_every_error_at_once(as_admin, tree):
    # "ﬀ" (one character) is stored as "ff" (two): 100 of them do not fit a 100-character column.
    long_email = "a@" + ".".join(["ﬀ" * 60] * 4) + ".se"
    response = as_admin.post(URL, {**form(tree, family_name="ﬀ" * 100, given_name="ﬃ" * 100,
                                          title="ﬃ" * 100, email=long_email), "confirm": "1"})
    assert response.status_code == 400
    page = response.content.decode()
    assert page.count("This has room for at most 100 characters") == 6  # summary and fields
    assert "This has room for at most 254 characters" in page
    assert not Person.objects.filter(family_name__startswith="ff").exists()


def test_the_reserve_checkbox_comes_before_its_label_without_a_colon(as_admin, tree):
    page = as_admin.get(URL).content.decode()
    checkbox = page.index('id="id_reserve"')
    label = page.index('<label for="id_reserve">')
    assert checkbox < label
    assert '<label for="id_reserve">The person has neither: give a reserve number</label>' in page


def test_the_unit_list_shows_the_tree(as_admin, tree):
    """Found: the units were one flat list under the scope's name."""
    import re

    page = as_admin.get(URL).content.decode()
    select = page.split('name="organisation"')[1].split("</select>")[0]
    options = [" ".join(text.split()) for text in re.findall(r"<option[^>]*>([^<]*)</option>",
                                                               select)][1:]
    assert options == ["Demo Hospital (SE2321000016-0100)", "— Cardiology (SE2321000016-0101)",
                       "— Orthopaedics (SE2321000016-0102)"]
    assert '<optgroup label="Demo Hospital">' in select


def test_a_control_character_pasted_into_a_name_or_title_is_a_clear_error(as_admin, tree):
    response = as_admin.post(URL, {**form(tree, given_name="Å\x00sa", family_name="Öb\x1berg",
                                          title="Sjuk\x07sköterska"), "confirm": "1"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "invisible control character U+001B" in page
    assert "invisible control character U+0007" in page
    assert not Person.objects.filter(given_name__startswith="Å").exists()
