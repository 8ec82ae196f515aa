"""A username typed in another case or width logs in to that one account; a look-alike reaches no
account and gets the one answer for a wrong username or password (docs/security.md, "Identifiers
that look alike")."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from tests.conftest import PASSWORD, make_staff, totp_now


@pytest.fixture
def anna(tree):
    user, _ = make_staff(tree["hospital"], "Anna", "Admin", username="anna.admin")
    make_staff(tree["hospital"], "Sara", "Staff", username="sara.staff")
    return user


def login(client, username, password=PASSWORD):
    return client.post(reverse("authn:login"), {"username": username, "password": password},
                       HTTP_ACCEPT_LANGUAGE="en")


@pytest.mark.parametrize("typed", ["ANNA.ADMIN", "\uff41nna.admin", "Anna.Admin",
                                   "\uff21\uff2e\uff2e\uff21.\uff21\uff24\uff2d\uff29\uff2e"])
def test_a_case_or_width_variant_logs_in_to_the_one_account(client, anna, typed):
    assert login(client, typed).status_code == 302
    client.post(reverse("authn:otp"), {"token": totp_now()})
    assert client.session["_auth_user_id"] == str(anna.pk)


@pytest.mark.parametrize("typed", ["\u0430nna.admin", "anna.adm\u0131n", "anna\u200b.admin",
                                   "anna.adrnin", "\u0430NNA.ADMIN"])
def test_a_look_alike_is_a_wrong_username(client, anna, typed):
    response = login(client, typed)
    assert response.status_code == 200
    assert "Wrong username or password." in response.content.decode()
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action="login.failed")
    assert event.subject_person_id is None and event.target_id != str(anna.pk)


def test_failures_under_a_variant_count_for_the_one_account(client, anna):
    login(client, "ANNA.ADMIN", password="wrong")
    event = AuditEvent.objects.get(action="login.failed")
    assert (event.target_id, event.subject_person_id) == (str(anna.pk), anna.person.pk)
    assert event.changes["username"] == [None, "anna.admin"]


def test_a_nul_character_is_a_form_error_not_a_server_error(client, anna):
    response = login(client, "anna\x00.admin")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
