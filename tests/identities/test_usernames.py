"""Usernames that look alike are one username, or refused (docs/security.md, "Identifiers that look
alike"): normalised by one function at creation and lookup, unique in the database after that
normalisation and by their UTS #39 skeleton, whatever writes the row."""

from __future__ import annotations

import threading
import unicodedata
from datetime import date
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import translation
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from apps.core.actors import SYSTEM
from apps.core.errors import ValidationFailed
from apps.identities import services
from apps.identities.identifiers import (
    IdentifierError,
    fold_username,
    make_person_number,
    normalise_username,
)
from apps.identities.models import Person, User

ANNA = "anna.admin"
_serial = iter(range(100, 999))


def person(given: str = "Anna", family: str = "Admin") -> Person:
    return services.person_create(actor=SYSTEM, given_name=given, family_name=family,
                                  person_number=make_person_number(date(1970, 1, 1), next(_serial)))


def account(username: str, owner: Person | None = None) -> User:
    return services.user_create(actor=SYSTEM, person=owner or person(), username=username,
                                kind=User.Kind.STAFF, password="x" * 12)


@pytest.fixture
def anna(db: Any) -> User:
    return account(ANNA)


# --- the inputs found: each was accepted as a second account beside anna.admin -----------------


@pytest.mark.parametrize(("username", "code", "shown"), [
    ("\u0430nna.admin", "username.character", "U+0430"),  # Cyrillic а
    ("anna.adm\u0131n", "username.character", "U+0131"),  # dotless ı
    ("anna\u200b.admin", "username.character", "U+200B"),  # zero-width space
    ("\uff41nna.admin", "username.taken", ""),  # fullwidth ａ: NFKC makes it anna.admin
    ("ANNA.ADMIN", "username.taken", ""),  # usernames are case-insensitive
])
def test_a_look_alike_of_an_existing_username_is_refused(anna, username, code, shown):
    with pytest.raises(ValidationFailed) as refused:
        account(username)
    assert (refused.value.code, refused.value.field) == (code, "username")
    assert shown in str(refused.value.message)
    assert list(User.objects.values_list("username", flat=True)) == [ANNA]


def test_the_refusal_names_the_character_in_the_users_language(db):
    with translation.override("sv"):
        with pytest.raises(ValidationFailed) as refused:
            account("\u0430nna.admin")
        message = str(refused.value.message)
    assert message.startswith("Ett användarnamn får inte innehålla ”\u0430” (U+0430).")


@pytest.mark.parametrize("username", [
    "anna.adrnin",  # "rn" looks like "m" (confusables.txt)
    "\uff41nna.adrnin",
    "ANNA.ADRNIN",
])
def test_a_username_confusable_with_an_existing_one_is_refused(anna, username):
    with pytest.raises(ValidationFailed) as refused:
        account(username)
    assert refused.value.code == "username.confusable"
    assert User.objects.count() == 1


def test_digit_one_and_letter_l_are_confusable_both_ways(db):
    account("sara1")
    with pytest.raises(ValidationFailed) as refused:
        account("saral")
    assert refused.value.code == "username.confusable"


@pytest.mark.parametrize(("typed", "stored"), [
    ("Anna.Admin", "anna.admin"),
    ("  anna.admin\t", "anna.admin"),
    ("\uff21\uff2e\uff2e\uff21.admin", "anna.admin"),  # fullwidth capitals
    ("\ufb01lip", "filip"),  # the ligature ﬁ
    ("\u017fara", "sara"),  # long s
    ("\u212aarin", "karin"),  # Kelvin sign
    ("stra\u00dfe", "strasse"),  # full case folding, as UTS #39 compares
    ("patient-191212121212", "patient-191212121212"),
    ("a_b-c.d", "a_b-c.d"),
])
def test_usernames_are_stored_normalised(db, typed, stored):
    assert normalise_username(typed) == stored
    assert account(typed).username == stored


@pytest.mark.parametrize(("username", "code"), [
    ("", "username.format"),
    ("   ", "username.format"),
    (".anna", "username.format"),
    ("anna.", "username.format"),  # a trailing dot is easy to miss
    ("anna..admin", "username.format"),
    ("anna._admin", "username.format"),
    ("anna admin", "username.character"),
    ("åsa.ek", "username.character"),
    ("anna@example.org", "username.character"),
    ("a\u0301nna", "username.character"),  # combining accent
    ("\u0130nna", "username.character"),  # İ folds to i + combining dot
    ("anna\u00ad.admin", "username.character"),  # soft hyphen
    ("anna\u202e.admin", "username.character"),  # right-to-left override
    ("a" * 151, "username.too_long"),
])
def test_refused_usernames(username, code):
    with pytest.raises(IdentifierError) as refused:
        normalise_username(username)
    assert refused.value.code == code


# --- the database holds the rule even when the services are bypassed ---------------------------


@pytest.mark.parametrize("username", ["ANNA.ADMIN", "anna.adrnin", "\u0430nna.admin", "anna."])
def test_the_database_refuses_a_raw_write_of_a_look_alike(anna, username):
    """A case variant, a confusable or a refused character, written with the ORM directly."""
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username=username, kind=User.Kind.STAFF, person=anna.person)


@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_of_look_alikes_let_exactly_one_through():
    """Four connections create `anna.admin` look-alikes at the same moment:
    the unique indexes decide, and the losers get the clear refusal, not a server error."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: concurrent transactions; run with DATABASE_URL=postgres://...")
    owners = [person(f"Anna{i}") for i in range(4)]
    names = ["anna.admin", "ANNA.ADMIN", "\uff41nna.admin", "anna.adrnin"]
    start = threading.Barrier(len(names))
    outcomes: list[str] = []

    def create(username: str, owner: Person) -> None:
        start.wait()
        try:
            account(username, owner)
            outcomes.append("created")
        except ValidationFailed as refused:
            outcomes.append(refused.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=pair) for pair in zip(names, owners, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes.count("created") == 1, outcomes
    assert set(outcomes) <= {"created", "username.taken", "username.confusable"}
    assert User.objects.count() == 1


# --- properties for any string ---------------------------------------------------------------------

def _variants(username: str) -> list[str]:
    """Ways a person might type an existing username: case, width, spacing, canonical forms."""
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in username)
    return [username.upper(), username.title(), fullwidth, f" {username}\u3000",
            unicodedata.normalize("NFD", username), unicodedata.normalize("NFKD", username)]


#: Characters that stress the rule: ASCII, case pairs, fullwidth and compatibility forms,
#: look-alikes from other scripts, invisible and combining characters.
TRICKY = st.sampled_from(list(
    "anmrl1iI0oOdcl.-_ AMRNL"
    "\uff41\uff2d\uff11\uff0e"  # fullwidth a M 1 .
    "\u0430\u0435\u043e\u0456\u0131\u0130\u017f\u212a\u00df\ufb01"  # Cyrillic а е о і, ı İ ſ K ß ﬁ
    "\u200b\u200d\u00ad\u2060\u202e\u0301\u0307\u3000\t"
))
FIXED = ["anna.admin", "sara.staff", "l1", "rnm", "patient-191212121212"]
USERNAME_LIKE = st.one_of(
    st.text(max_size=20),
    st.text(TRICKY, max_size=12),
    st.from_regex(r"\A[a-zA-Z0-9]{1,6}(?:[._-][a-zA-Z0-9]{1,6}){0,2}\Z"),
    st.sampled_from([*FIXED, "anna.adrnin", "ll", "rnrn", "sara.sta\u0192f"]).flatmap(
        lambda known: st.sampled_from([known, *_variants(known)])),
)


@settings(max_examples=500, database=None)
@given(USERNAME_LIKE)
def test_normalisation_is_idempotent(value):
    folded = fold_username(value)
    assert fold_username(folded) == folded
    try:
        username = normalise_username(value)
    except IdentifierError:
        return
    assert normalise_username(username) == username == folded


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=USERNAME_LIKE)
def test_a_lookup_never_reaches_another_account(db, value):
    """Create an account from any string `value` beside a fixed population, then look up `value`
    and variants of its normalised form: each reaches the account holding that normalised form
    (new or existing), or none; never another one."""
    with transaction.atomic():
        owner = person()
        for username in FIXED:
            account(username, owner)
        try:
            created = account(value, owner)
            event("created")
        except ValidationFailed as refused:
            created = None
            event(refused.code)

        def lookup(typed: str) -> User | None:
            try:
                return User.objects.get_by_natural_key(typed)
            except User.DoesNotExist:
                return None

        try:
            username = normalise_username(value)
        except IdentifierError:
            assert created is None and lookup(value) is None  # refused: no account is its
        else:  # new, taken (the holder is the existing account) or confusable (no holder)
            holder = User.objects.filter(username=username).first()
            assert created is None or created == holder
            for typed in [value, *_variants(username)]:
                assert lookup(typed) == holder, typed
        transaction.set_rollback(True)
