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
    assert set(errors) == {"new_password", "new_password_again"}
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
