"""My account's pages: staff only, every error of the password form at once without the typed
passwords, and the session in use stays logged in after its own change."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from apps.core.loa import LOA2
from tests.conftest import PASSWORD, login_session, totp_now


def staff_client(user):
    return login_session(Client(), user, loa=LOA2, methods=("pwd", "otp"), idp=None)


def test_the_page_gathers_the_account(nurse):
    user, _ = nurse
    page = staff_client(user).get(reverse("selfservice:my_account"))
    text = page.content.decode()
    assert page.status_code == 200
    for expected in ("Change password", "Replace authenticator app", "My sessions", "My e-IDs",
                     "My passkeys", "My e-services", "Your commissions", user.person.email):
        assert expected in text


def test_patients_keep_their_own_pages(client, patient):
    login_session(client, patient)
    response = client.get(reverse("selfservice:my_account"))
    assert response.status_code == 302


def test_the_form_shows_every_error_and_no_password(nurse):
    user, _ = nurse
    page = staff_client(user).post(reverse("selfservice:my_password"), {
        "current_password": PASSWORD, "new_password": "abc", "new_password_again": "abd",
        "token": "",
    })
    assert page.status_code == 400
    errors = page.context["form"].errors
    assert set(errors) == {"new_password", "new_password_again", "token"}
    assert PASSWORD not in page.content.decode()


def test_changing_the_password_keeps_this_session(nurse):
    user, _ = nurse
    client = staff_client(user)
    response = client.post(reverse("selfservice:my_password"), {
        "current_password": PASSWORD, "new_password": "ett helt nytt lösen",
        "new_password_again": "ett helt nytt lösen", "token": totp_now()})
    assert response.status_code == 302, response.content.decode()
    assert client.get(reverse("selfservice:my_account")).status_code == 200
    user.refresh_from_db()
    assert user.check_password("ett helt nytt lösen")


def test_the_login_page_leads_a_lost_authenticator_to_the_two_ways_back(client, db):
    login_page = client.get(reverse("authn:login")).content.decode()
    assert reverse("authn:lost_authenticator") in login_page
    page = client.get(reverse("authn:lost_authenticator")).content.decode()
    assert reverse("federation:mobile_eid") in page and "identity document" in page


def test_a_mobile_e_id_step_up_replaces_a_lost_authenticator(nurse, otp_clock):
    """Logged in with the mobile e-ID and confirmed with it (the step-up's proof, as
    `federation.mobile_eid.step_up_wait_view` stores it): no code of the lost app is needed."""
    from apps.authn.models import TOTPDevice
    from apps.core.assurance import mint_step_up
    from apps.core.loa import LOA3

    user, _ = nurse
    client = login_session(Client(), user, loa=LOA3, methods=("mobile_eid",), idp=None)
    client.post(reverse("selfservice:my_authenticator_start"))
    page = client.get(reverse("selfservice:my_authenticator")).content.decode()
    assert "Confirm it is you another way" in page
    session = client.session
    authn = session["authn"]
    authn["step_up"] = mint_step_up(user.pk, "mobile_eid", loa=LOA3).as_session()
    session["authn"] = authn
    session.save()
    new = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(reverse("selfservice:my_authenticator"),
                           {"new_token": totp_now(new.bin_key.hex()), "token": ""})
    assert response.status_code == 302, response.content.decode()
    assert list(TOTPDevice.objects.filter(user=user)) == [new]


def test_a_wrong_current_password_is_shown_with_the_other_errors(nurse):
    """Found: with a new password too short, the wrong current password was not mentioned
    until the next try. Now every error shows at once; no typed password is sent back."""
    user, _ = nurse
    page = staff_client(user).post(reverse("selfservice:my_password"), {
        "current_password": "not my password", "new_password": "abc",
        "new_password_again": "abc", "token": "123456"})
    assert page.status_code == 400
    text = page.content.decode()
    assert "Your current password is wrong." in text
    assert "The password must be at least 8 characters long." in text
    assert set(page.context["form"].errors) == {"current_password", "new_password"}
    assert "not my password" not in text and 'value="abc"' not in text
    assert 'value="123456"' in text  # the code is kept as typed
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_missing_code_is_named_with_the_other_errors(nurse):
    """Every form of My account names a missing second factor together with its other errors
    (the service is not reached while the form itself is refused)."""
    user, _ = nurse
    client = staff_client(user)
    email = client.post(reverse("selfservice:my_account"), {"email": "not an address",
                                                             "token": ""})
    assert set(email.context["form"].errors) == {"email", "token"}
    assert 'value="not an address"' in email.content.decode()  # kept as typed
    password = client.post(reverse("selfservice:my_password"), {
        "current_password": "not my password", "new_password": "ett helt nytt lösen",
        "new_password_again": "ett helt nytt lösen", "token": ""})
    assert set(password.context["form"].errors) == {"current_password", "token"}
    client.post(reverse("selfservice:my_authenticator_start"))
    device = client.post(reverse("selfservice:my_authenticator"), {"new_token": "12",
                                                                   "token": ""})
    assert set(device.context["form"].errors) == {"new_token", "token"}
    assert "Enter the code from your authenticator app" in device.content.decode()
