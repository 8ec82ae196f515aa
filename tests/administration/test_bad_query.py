"""Bad query parameters and form values on the administration pages: a clear, translated error or
the page as usual, never a 500 or an exception's raw text.

Logged in at LoA 3 as `hospital_admin` over Demo Hospital (Cardiology, Orthopaedics).
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.conftest import login_session, make_staff

JUNK = ["not-a-uuid", "\x00", "-1", "9" * 40, "'; select 1; --", "ÅÄÖ"]


def text(response):
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


@pytest.fixture
def as_admin(client, hospital_admin):
    client.cookies["django_language"] = "en"
    return login_session(client, hospital_admin)


def test_a_malformed_unit_in_the_audit_search_is_a_clear_form_error(as_admin, tree):
    """Found: `?unit=not-a-uuid` showed "“not-a-uuid” is not a valid UUID."."""
    response = as_admin.get(reverse("administration:audit_search"), {"unit": "not-a-uuid"})
    assert response.status_code == 200
    assert response.context["form"].errors["unit"] == [
        "Select a valid choice. That choice is not one of the available choices."]
    assert "UUID" not in text(response)


def test_the_malformed_unit_error_is_in_swedish_for_a_swedish_reader(client, hospital_admin,
                                                                     settings, tree):
    settings.LANGUAGE_CODE = "sv"
    client.cookies["django_language"] = "sv"
    login_session(client, hospital_admin)
    response = client.get(reverse("administration:audit_search"), {"unit": "x"})
    assert "Välj ett giltigt alternativ" in text(response)


@pytest.mark.parametrize("junk", JUNK)
def test_no_query_parameter_breaks_a_page(as_admin, tree, junk):
    user, employee = make_staff(tree["ortho"], "Olle", "Ortoped", care=True)
    person = user.person.pk
    pages = [
        (reverse("administration:person_list"), ["q", "after"]),
        (reverse("administration:person_list"), ["q", "before"]),
        (reverse("administration:person_detail", args=[person]), ["after"]),
        (reverse("administration:person_detail", args=[person]), ["before"]),
        (reverse("administration:audit_search"),
         ["person", "actor", "action", "unit", "since", "until", "after"]),
        (reverse("administration:person_leave", args=[person]), ["when"]),
        (reverse("administration:employee_move", args=[person, employee.pk]), ["organisation"]),
        (reverse("administration:commission_grant", args=[person]), ["employee"]),
        (reverse("administration:role_grant", args=[person]), ["organisation"]),
    ]
    for url, names in pages:
        response = as_admin.get(url, {name: junk for name in names})
        assert response.status_code == 200, (url, response.status_code)
        assert "UUID" not in text(response) and "Traceback" not in text(response)


@pytest.mark.parametrize("junk", ["not-a-uuid", "\x00"])
def test_a_malformed_choice_posted_to_a_form_is_a_form_error(as_admin, tree, junk):
    user, employee = make_staff(tree["ortho"], "Olle", "Ortoped", care=True)
    move = reverse("administration:employee_move", args=[user.person.pk, employee.pk])
    response = as_admin.post(move, {"organisation": junk, "end": [junk], "reason": "x"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"organisation", "end"}
    assert "UUID" not in text(response)
    grant = reverse("administration:commission_grant", args=[user.person.pk])
    response = as_admin.post(grant, {"employee": junk, "care_unit": junk})
    assert response.status_code == 200
    assert {"employee", "care_unit"} <= set(response.context["form"].errors)
    assert "UUID" not in text(response)
