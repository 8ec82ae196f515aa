"""The person list's search as an administrator uses it: every word of a name narrows the list
(given or family name, any case, NFKC), and identifiers are answered by an exact lookup.

Logged in at LoA 3 as `hospital_admin` over Demo Hospital (Cardiology, Orthopaedics).
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.conftest import login_session, make_staff


def names(client, query):
    response = client.get(reverse("administration:person_list"), {"q": query})
    assert response.status_code == 200
    return sorted(str(p) for p in response.context["page"].rows)


@pytest.fixture
def as_admin(client, hospital_admin):
    client.cookies["django_language"] = "en"
    return login_session(client, hospital_admin)


@pytest.fixture
def people(tree):
    return {name: make_staff(tree["cardio"], *name.split())
            for name in ("Anna Svensson", "Anna Berg", "Erik Svensson", "Annika Lind")}


@pytest.mark.parametrize("query", ["anna svensson", "Svensson Anna", "ＡＮＮＡ  svens", "ann svensson"])
def test_every_word_of_a_name_narrows_the_list(as_admin, people, query):
    """Found: "anna svensson" listed every Anna and every Svensson."""
    assert names(as_admin, query) == ["Anna Svensson"]


def test_one_word_still_finds_everyone_it_is_part_of(as_admin, people):
    assert names(as_admin, "ann") == ["Anna Berg", "Anna Svensson", "Annika Lind"]
    assert names(as_admin, "anna lind") == []


def test_identifiers_are_exact_lookups(as_admin, people):
    user, employee = people["Erik Svensson"]
    number = user.person.person_number
    for query in (number, number.replace("-", ""), number[2:], employee.hsa_id.lower(),
                  user.username.upper()):
        assert names(as_admin, query) == ["Erik Svensson"], query
    assert names(as_admin, number[:-1]) == []  # part of a number finds nobody


def test_the_page_text_of_a_narrowed_search(as_admin, people):
    page = as_admin.get(reverse("administration:person_list"), {"q": "anna svensson"})
    body = " ".join(re.sub(r"<[^>]+>", " ", page.content.decode()).split())
    assert "Svensson, Anna" in body
    assert "Berg, Anna" not in body and "Svensson, Erik" not in body
