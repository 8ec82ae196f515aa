"""The administrators' staff search applies the identifiers' own normalisation and validation, so
the database's case rules (PostgreSQL's Unicode UPPER, SQLite's ASCII-only LIKE) decide nothing
(docs/security.md, "Identifiers that look alike")."""

from __future__ import annotations

import pytest

from apps.commissions import selectors, services
from apps.core.actors import SYSTEM
from apps.core.errors import ValidationFailed
from tests.conftest import make_staff

HSA_ID = "SE2321000016-EANNAI"


@pytest.fixture
def anna(tree):
    user, _ = make_staff(tree["hospital"], "Anna", "Admin", username="anna.admin")
    services.employee_create(actor=SYSTEM, person=user.person, organisation=tree["hospital"],
                             hsa_id=HSA_ID)
    make_staff(tree["cardio"], "Bo", "Berg")
    return user.person


def found(tree, query):
    return [str(p) for p in selectors.person_search_in_scope([tree["region"]], query)]


@pytest.mark.parametrize("query", [
    "ANNA.ADMIN", "anna.admin", "\uff41nna.admin", " Anna.Admin ",  # the username
    HSA_ID, HSA_ID.lower(), "se2321000016-EannaI",  # the employee HSA-id in any case
    "\uff33\uff25\uff12\uff13\uff12\uff11\uff10\uff10\uff10\uff10\uff11\uff16-EANNAI",  # fullwidth
    "Anna", "ADMIN", "\uff21\uff4e\uff4e\uff41",  # name words, also fullwidth
])
def test_a_variant_of_an_identifier_finds_the_one_person(tree, anna, query):
    assert found(tree, query) == ["Anna Admin"]


@pytest.mark.parametrize("query", [
    "\u0430nna.admin",  # Cyrillic а
    "anna.adm\u0131n",  # dotless ı
    "anna\u200b.admin",  # zero-width space
    "anna.adrnin",  # a confusable username is not the username
    "SE2321000016-eanna\u0131",  # dotless ı: PostgreSQL's UPPER made it I and found Anna
    "SE2321000016-EANNA\u0406",  # Cyrillic І
    "\u0410nna",  # a Cyrillic А in a name
])
def test_a_look_alike_finds_nobody(tree, anna, query):
    assert found(tree, query) == []


def test_a_case_variant_hsa_id_is_refused_so_a_search_lists_one_person(tree, anna):
    """Found: a second employee HSA-id differing only in case was accepted, and a search for it
    listed two people."""
    other, _ = make_staff(tree["hospital"], "Anna", "Andersson")
    with pytest.raises(ValidationFailed):
        services.employee_create(actor=SYSTEM, person=other.person, organisation=tree["hospital"],
                                 hsa_id=HSA_ID.lower())
    assert found(tree, HSA_ID.lower()) == ["Anna Admin"]


def test_a_personnummer_in_fullwidth_digits_finds_the_person(tree, anna):
    number = anna.person_number.replace("-", "")
    fullwidth = "".join(chr(ord(digit) + 0xFEE0) for digit in number)
    assert found(tree, fullwidth) == ["Anna Admin"]
