"""The person list's search as an administrator uses it: every word of a name narrows the list
(given or family name, any case, NFKC), and identifiers are answered by an exact lookup.

Logged in at LoA 3 as `hospital_admin` over Demo Hospital (Cardiology, Orthopaedics).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.urls import reverse

from apps.commissions import services as commissions
from apps.commissions.models import Employee
from apps.commissions.selectors import person_search_in_scope
from apps.core.actors import SYSTEM
from apps.identities import services as identities
from apps.identities.identifiers import OID_PERSONNUMMER, make_person_number
from apps.identities.models import IdentityNumber, Person
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


# --- Identifiers first, names through the trigram index (docs/search-and-lists.md) -------------

FULLWIDTH = str.maketrans("0123456789-+", "０１２３４５６７８９－＋")


def coordination_staff(unit, given, family):
    """A staff member known by a samordningsnummer (day of birth + 60, SKV 707)."""
    number = make_person_number(date(1975, 3, 9), 421, coordination=True)
    person = identities.person_create(actor=SYSTEM, given_name=given, family_name=family,
                                      person_number=number)
    commissions.employee_create(actor=SYSTEM, person=person, organisation=unit)
    return number


def test_every_form_of_a_persons_identifiers_finds_only_that_person(as_admin, tree, people):
    """Personnummer in 12 or 10 digits, with "-" or not, fullwidth; employee HSA-id in any case;
    username in any case: the same person, and no name search beside (a number is no name)."""
    user, employee = people["Erik Svensson"]
    number = user.person.person_number  # YYYYMMDD-NNNN
    forms = [number, number.replace("-", ""), number[2:], number[2:].replace("-", ""),
             number.translate(FULLWIDTH), f"  {number}  ", employee.hsa_id.lower(),
             employee.hsa_id.upper(), user.username.upper(), user.username]
    for query in forms:
        assert names(as_admin, query) == ["Erik Svensson"], query


def test_a_samordningsnummer_in_every_form(as_admin, tree):
    number = coordination_staff(tree["cardio"], "Sam", "Ordning")
    for query in (number, f"{number[:8]}-{number[8:]}", number[2:], f"{number[2:8]}-{number[8:]}",
                  number.translate(FULLWIDTH)):
        assert names(as_admin, query) == ["Sam Ordning"], query


def test_a_hundred_year_olds_number_with_plus(as_admin, tree):
    number = make_person_number(date(1920, 6, 1), 222)
    person = identities.person_create(actor=SYSTEM, given_name="Gammal", family_name="Äldst",
                                      person_number=number)
    commissions.employee_create(actor=SYSTEM, person=person, organisation=tree["cardio"])
    assert names(as_admin, f"{number[2:8]}+{number[8:]}") == ["Gammal Äldst"]
    assert names(as_admin, f"{number[2:8]}-{number[8:]}") == []  # "-": born 2020, nobody


def test_an_organisations_hsa_id_lists_its_staff(as_admin, tree, people):
    make_staff(tree["ortho"], "Olle", "Ortoped")
    assert names(as_admin, tree["ortho"].hsa_id.lower()) == ["Olle Ortoped"]
    assert "Olle Ortoped" not in names(as_admin, tree["cardio"].hsa_id)


def test_an_identifier_is_not_also_a_name(as_admin, tree, people):
    """A username holding a digit or "." is only a username: `anna.svensson9` finds nobody, not
    every Anna and Svensson; a number that is not valid finds nobody."""
    assert names(as_admin, "anna.svensson9") == []
    assert names(as_admin, "19121212-1213") == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="unaccent and pg_trgm: PostgreSQL")
def test_names_match_without_regard_to_accents_on_postgresql(as_admin, tree):
    """docs/decisions.md, "Search: accents": "asa" finds Åsa, "ostlund" Östlund, "jose" José,
    and every word still narrows."""
    for name in ("Åsa Östlund", "Asa Berg", "José García", "Märta Ek"):
        make_staff(tree["cardio"], *name.split())
    assert names(as_admin, "asa") == ["Asa Berg", "Åsa Östlund"]
    assert names(as_admin, "ÅSA östlund") == ["Åsa Östlund"]
    assert names(as_admin, "ostlund") == ["Åsa Östlund"]
    assert names(as_admin, "jose garcia") == ["José García"]
    assert names(as_admin, "ek") == ["Märta Ek"]  # a short word: the start of a name
    assert names(as_admin, "stlu") == ["Åsa Östlund"]  # three letters or more: anywhere


def test_more_than_the_cap_says_so(as_admin, tree, people, monkeypatch):
    monkeypatch.setattr("apps.administration.views.COUNT_CAP", 3)
    response = as_admin.get(reverse("administration:person_list"))
    assert "More than 3 people" in " ".join(response.content.decode().split())
    response = as_admin.get(reverse("administration:person_list"), {"q": "svensson"})
    assert "2 people match" in " ".join(response.content.decode().split())


def test_a_crafted_page_link_shows_the_first_page(as_admin, tree, people):
    for cursor in ("x", "W10", "WyJhIiwiYiIsIm5vdC1hLXV1aWQiXQ"):
        response = as_admin.get(reverse("administration:person_list"), {"after": cursor})
        assert response.status_code == 200
        assert "The page link was not valid" in response.content.decode()
        assert len(response.context["page"].rows) == 5


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the plans of PostgreSQL")
def test_the_indexes_answer_the_search_at_scale(tree, people):
    """EXPLAIN over 10,000 more people: names through the trigram index, a personnummer through
    its unique index, an employee HSA-id through its case-insensitive unique index, the subtree
    through the organisation path."""
    added = Person.objects.bulk_create(Person(given_name=f"G{i:05d}", family_name=f"F{i % 977}")
                                       for i in range(10_000))
    Employee.objects.bulk_create(Employee(person=person, organisation=tree["cardio"],
                                          hsa_id=f"SE2321000016-X{i:05d}")
                                 for i, person in enumerate(added))
    IdentityNumber.objects.bulk_create(
        IdentityNumber(person=person, root=OID_PERSONNUMMER, extension=make_person_number(
            date(1950, 1, 1) + timedelta(days=i // 900), 100 + i % 900))
        for i, person in enumerate(added))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    roots = [tree["hospital"]]
    user, employee = people["Erik Svensson"]

    def plan(query):
        return person_search_in_scope(roots, query)[:26].explain()

    assert "person_name_trgm" in plan("g0123 f12")
    assert "identity_number_unique" in plan(user.person.person_number)
    assert "employee_hsa_id_ci_unique" in plan(employee.hsa_id)
    assert "Seq Scan on identities_person" not in plan("")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the mark is PostgreSQL's trigger")
@pytest.mark.django_db
def test_an_employee_hsa_id_however_written_marks_its_person_for_the_name_search(tree):
    """The name search reads a trigram index over staff only: every new employee HSA-id marks its
    person, through a service or written in bulk past it (docs/search-and-lists.md)."""
    through_service = Person.objects.create(given_name="Sigrid", family_name="Servicesson")
    in_bulk = Person.objects.create(given_name="Bengt", family_name="Bulksson")
    patient = Person.objects.create(given_name="Petra", family_name="Patientsson")
    commissions.employee_create(actor=SYSTEM, person=through_service, organisation=tree["cardio"])
    Employee.objects.bulk_create([Employee(person=in_bulk, organisation=tree["cardio"],
                                           hsa_id="SE2321000016-BULK1")])
    marked = dict(Person.objects.filter(pk__in=[through_service.pk, in_bulk.pk, patient.pk])
                  .values_list("family_name", "is_staff"))
    assert marked == {"Servicesson": True, "Bulksson": True, "Patientsson": False}
    found = person_search_in_scope([tree["region"]], "bulksson")
    assert [p.family_name for p in found] == ["Bulksson"]
