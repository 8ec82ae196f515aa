"""Hostile input to the people search and the keyset pages: forged cursors, identifiers outside
the scope, many words (docs/search-and-lists.md). None is a 500; none reveals more than the
scope."""

from __future__ import annotations

import base64
import json

import pytest
from django.urls import reverse

from apps.commissions import services as commissions
from apps.core.actors import SYSTEM
from tests.conftest import login_session, make_staff


def cursor(values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.fixture
def as_admin(client, hospital_admin):
    client.cookies["django_language"] = "en"
    return login_session(client, hospital_admin)


@pytest.mark.parametrize("param", ["after", "before"])
def test_a_cursor_holding_a_lone_surrogate_is_not_a_500(as_admin, tree, param):
    """`_decode` refuses NUL but not a lone surrogate: JSON `"\\ud800"` decodes to a str that
    PostgreSQL's driver cannot encode (UnicodeEncodeError) -> 500 on the staff list. Should show
    the first page with "The page link was not valid"."""
    make_staff(tree["cardio"], "Olle", "Ortoped")
    forged = cursor(["\ud800", "a", "00000000-0000-0000-0000-000000000000"])
    response = as_admin.get(reverse("administration:person_list"), {param: forged})
    assert response.status_code == 200
    assert response.context["page"].reset


def names(client, query):
    response = client.get(reverse("administration:person_list"), {"q": query})
    assert response.status_code == 200
    return [str(p) for p in response.context["page"].rows]


@pytest.fixture
def dual(tree):
    """A person with an employee HSA-id in the admin's scope (Cardiology) and one at another
    care provider (Other Clinic, outside the scope)."""
    user, inside = make_staff(tree["cardio"], "Dual", "Worker")
    outside = commissions.employee_create(actor=SYSTEM, person=user.person,
                                          organisation=tree["other_unit"])
    return user, inside, outside


def test_an_employee_hsa_id_outside_the_scope_finds_nobody(as_admin, tree, dual):
    """The admin of Demo Hospital types another care provider's employee HSA-id and is told who
    holds it: the id is looked up over every employee and only the person is narrowed to the
    scope. The person page shows only in-scope HSA-ids, so the search links an identifier the
    admin may not see to a named person."""
    _user, _inside, outside = dual
    assert names(as_admin, outside.hsa_id) == []


def test_an_organisation_hsa_id_outside_the_scope_lists_nobody(as_admin, tree, dual):
    """Another care provider's (or its unit's) HSA-id lists the admin's staff who also work
    there: an enumeration of who in my region is employed where outside it."""
    assert names(as_admin, tree["other"].hsa_id) == []
    assert names(as_admin, tree["other_unit"].hsa_id) == []


@pytest.mark.parametrize("param", ["after", "before"])
def test_a_deeply_nested_cursor_is_not_a_500(as_admin, tree, param):
    """A 2,668-character cursor (base64 of 2,000 "[") fits any request line; `json.loads`
    raises RecursionError, which `_decode` does not catch -> 500 on every keyset list (staff list
    here; the person's history, the log extract and the blocks list share `_decode`)."""
    make_staff(tree["cardio"], "Olle", "Ortoped")
    forged = base64.urlsafe_b64encode(b"[" * 2000).decode()
    response = as_admin.get(reverse("administration:person_list"), {param: forged})
    assert response.status_code == 200
    assert response.context["page"].reset


def test_a_deeply_nested_cursor_on_the_patients_log_extract_is_not_a_500(client, patient):
    """The same through a patient's "Who read my records" page: any patient can make 500s."""
    from tests.conftest import patient_login

    patient_login(client, patient)
    forged = base64.urlsafe_b64encode(b"[" * 2000).decode()
    response = client.get(reverse("selfservice:patient_log"), {"after": forged})
    assert response.status_code == 200


@pytest.fixture
def nurse_client(client, nurse):
    from tests.selfservice.test_care import login as care_login

    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return care_login(client, nurse[0])


@pytest.mark.parametrize("param", ["after", "before"])
def test_a_nul_in_the_blocks_list_cursor_is_not_a_500(nurse_client, param):
    """The care provider's blocks list audits the raw `?after=`/`?before=` value
    (`block_list_viewed(position=...)`) into the event's `changes` (jsonb), which refuses
    `\\u0000`: DataError -> 500. The raw, unchecked cursor (any length) lands in the audit log
    too; the invalid cursor should give the first page (and audit "" or the decoded position)."""
    response = nurse_client.get(reverse("selfservice:care_block_list"), {param: "\x00"})
    assert response.status_code == 200


def test_a_name_search_uses_only_the_words_that_narrow_it_and_at_most_five():
    """"a a a ... a" (50 words) was 50 conditions over every row (seconds at 50,000 people):
    repeated words and words implied by a longer one are dropped, and at most five are used."""
    from apps.identities.selectors import NAME_WORDS_MAX, name_search_words

    assert name_search_words("a " * 50) == ["a"]
    assert name_search_words("an anna ANNA svensson sson") == ["anna", "svensson"]
    assert name_search_words("na anna") == ["na", "anna"]  # "na" is the start of a name
    assert len(name_search_words("b c d e f g h i j k")) == NAME_WORDS_MAX


def test_a_hundred_repeated_words_find_what_the_word_alone_finds(as_admin, tree):
    make_staff(tree["cardio"], "Anna", "Ek")
    assert names(as_admin, "anna " * 20) == names(as_admin, "anna") != []
