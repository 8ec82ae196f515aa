"""The Swedish translation: Swedish by default, English on request, and a complete, compiled catalogue.

The portal's default language is Swedish (settings LANGUAGE_CODE "sv"); LocaleMiddleware picks
English from the language cookie (the switch in the header) or the Accept-Language header. The
catalogue is locale/sv/LC_MESSAGES/django.po; the compiled django.mo is committed because a fresh
clone has no GNU gettext. `make messages` refreshes both.
"""

from __future__ import annotations

import ast
import gettext
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from apps.identities.identifiers import IdentifierError, parse_person_number
from tests.conftest import PASSWORD

LOCALE_DIR = Path(django_settings.BASE_DIR) / "locale"
PO = LOCALE_DIR / "sv" / "LC_MESSAGES" / "django.po"
MO = LOCALE_DIR / "sv" / "LC_MESSAGES" / "django.mo"
# The same folders `make messages` leaves out.
IGNORED = [".venv", "var", "tests", "benchmarks", "clients", "docs"]


@pytest.fixture(autouse=True)
def english_ui() -> Iterator[None]:
    """Override conftest's English default: this module checks the real default, Swedish."""
    with translation.override(None):
        yield


@dataclass
class Entry:
    """One catalogue entry: msgid, optional msgid_plural, msgstr (or msgstr[n]) and flags."""

    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)


def parse_po(path: Path) -> list[Entry]:
    """A small reader for the .po format as written by GNU gettext (no obsolete `#~` entries)."""
    entries: list[Entry] = []
    entry = Entry()
    last: tuple[str, int] | None = None
    started = False

    def flush() -> None:
        nonlocal entry, started
        if started:
            entries.append(entry)
        entry, started = Entry(), False

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            flush()
            continue
        if line.startswith("#,"):
            entry.flags |= {f.strip() for f in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            assert last is not None, f"continuation without a keyword: {raw!r}"
            text = ast.literal_eval(line)
            kind, n = last
            if kind == "msgid":
                entry.msgid += text
            elif kind == "msgid_plural":
                entry.msgid_plural = (entry.msgid_plural or "") + text
            else:
                entry.msgstr[n] += text
        else:
            keyword, _, value = line.partition(" ")
            text = ast.literal_eval(value)
            started = True
            if keyword == "msgid":
                entry.msgid, last = text, ("msgid", 0)
            elif keyword == "msgid_plural":
                entry.msgid_plural, last = text, ("msgid_plural", 0)
            elif keyword == "msgstr":
                entry.msgstr[0], last = text, ("msgstr", 0)
            else:
                n = int(re.fullmatch(r"msgstr\[(\d+)\]", keyword).group(1))  # type: ignore[union-attr]
                entry.msgstr[n], last = text, ("msgstr", n)
    flush()
    return entries


def messages(path: Path = PO) -> list[Entry]:
    """Every entry except the header."""
    return [e for e in parse_po(path) if e.msgid]


# --- Pages -------------------------------------------------------------------------------------


def test_start_page_is_swedish_by_default(client: Any, db: Any) -> None:
    page = client.get("/").content.decode()
    assert '<html lang="sv"' in page
    assert "Logga in som medarbetare" in page
    assert "Hoppa till innehållet" in page
    assert "Log in as staff" not in page


def test_staff_login_page_is_swedish_by_default(client: Any, db: Any) -> None:
    page = client.get(reverse("authn:login")).content.decode()
    assert '<html lang="sv"' in page
    assert "<h1>Logga in som medarbetare</h1>" in page
    assert "Användarnamn" in page and "Lösenord" in page
    assert ">Fortsätt</button>" in page
    # The switch offers the other language, named in that language.
    assert 'lang="en"' in page and ">English</button>" in page


def test_pages_are_english_when_the_browser_asks_for_english(client: Any, db: Any) -> None:
    start = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en"' in start
    assert "Log in as staff" in start
    login = client.get(reverse("authn:login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en"' in login
    assert "Username" in login and "Password" in login
    assert ">Svenska</button>" in login


def test_language_switch_remembers_the_choice(client: Any, db: Any) -> None:
    response = client.post(reverse("set_language"), {"language": "en", "next": "/login/"})
    assert response.status_code == 302
    assert '<html lang="en"' in client.get(reverse("authn:login")).content.decode()
    client.post(reverse("set_language"), {"language": "sv", "next": "/"})
    assert "Logga in som medarbetare" in client.get("/").content.decode()


def test_a_service_error_is_shown_in_swedish_by_default(client: Any, hospital_admin: Any) -> None:
    page = client.post(reverse("authn:login"),
                       {"username": hospital_admin.username, "password": "wrong"}).content.decode()
    assert "Fel användarnamn eller lösenord." in page
    assert "Wrong username or password." not in page


def test_a_field_error_is_shown_in_swedish_by_default(client: Any, db: Any) -> None:
    page = client.post(reverse("authn:patient_login"),
                       {"person_number": "19121212-1213"}).content.decode()
    assert "Ingen demopatient har detta nummer." in page


def test_a_field_error_follows_the_language_choice(client: Any, db: Any) -> None:
    page = client.post(reverse("authn:patient_login"), {"person_number": "19121212-1213"},
                       HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No demo patient has this number." in page


def test_service_messages_are_translated_when_read_not_when_raised() -> None:
    """Error messages are lazy: the language of the request that shows them decides."""
    with pytest.raises(IdentifierError) as raised:
        parse_person_number("19121212-1213")
    with translation.override("sv"):
        assert str(raised.value.message).startswith("Kontrollsiffran är fel")
    with translation.override("en"):
        assert str(raised.value.message).startswith("The check digit is wrong")


def test_vocabulary_labels_are_the_swedish_code_words() -> None:
    from apps.commissions.vocabularies import Activity, Purpose, Scope

    with translation.override("sv"):
        assert Purpose.CARE.label == "Vård och behandling"
        assert Activity.READ.label == "Läsa"
        assert Scope.COHERENT.label == "andra vårdgivare (sammanhållen journalföring)"


# --- The catalogue -----------------------------------------------------------------------------


def test_every_message_is_translated_and_none_is_fuzzy() -> None:
    entries = messages()
    assert len(entries) > 100
    untranslated = [e.msgid for e in entries if not all(e.msgstr.values()) or not e.msgstr]
    assert untranslated == []
    assert [e.msgid for e in entries if "fuzzy" in e.flags] == []
    header = parse_po(PO)[0]
    assert header.msgid == "" and "fuzzy" not in header.flags
    assert "Language: sv" in header.msgstr[0]
    for e in entries:
        if e.msgid_plural is not None:
            assert sorted(e.msgstr) == [0, 1], e.msgid


PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|\{[0-9a-z_]*\}")


def test_translations_keep_every_placeholder() -> None:
    """What `msgfmt --check-format` checks, for a clone without GNU gettext."""
    for e in messages():
        expected = sorted(PLACEHOLDER.findall(e.msgid_plural or e.msgid))
        for text in e.msgstr.values():
            assert sorted(PLACEHOLDER.findall(text)) == expected, e.msgid


def test_compiled_catalogue_matches_the_po_file() -> None:
    """A forgotten `compilemessages` fails here: every .po entry must be in the .mo, unchanged."""
    with MO.open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    for e in messages():
        if e.msgid_plural is None:
            assert compiled.gettext(e.msgid) == e.msgstr[0], e.msgid
        else:
            assert compiled.ngettext(e.msgid, e.msgid_plural, 1) == e.msgstr[0], e.msgid
            assert compiled.ngettext(e.msgid, e.msgid_plural, 2) == e.msgstr[1], e.msgid


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext (xgettext) is not installed")
def test_catalogue_covers_every_string_in_the_code(tmp_path: Path, monkeypatch: Any,
                                                   settings: Any) -> None:
    """Run makemessages on a copy of the code and catalogue: a new English string nobody
    translated shows up as untranslated. Fix with `make messages`, translate, commit .po and .mo.

    makemessages writes into the `locale` folder next to the files it reads, so it runs in a copy;
    the real catalogue is never touched by a test.
    """
    base = Path(settings.BASE_DIR)
    copy = tmp_path / "src"
    copy.mkdir()
    for item in base.iterdir():
        if item.name in IGNORED or item.name.startswith(".") or item.name == "locale":
            continue
        if item.is_dir():
            shutil.copytree(item, copy / item.name, ignore=shutil.ignore_patterns("__pycache__"))
        elif item.suffix in {".py", ".html", ".txt"}:
            shutil.copy(item, copy / item.name)
    catalogue = copy / "locale" / "sv" / "LC_MESSAGES"
    catalogue.mkdir(parents=True)
    shutil.copy(PO, catalogue / "django.po")
    before = PO.read_bytes()
    monkeypatch.chdir(copy)
    settings.LOCALE_PATHS = [copy / "locale"]
    call_command("makemessages", locale=["sv"], ignore_patterns=IGNORED, verbosity=0)
    assert PO.read_bytes() == before
    refreshed = messages(catalogue / "django.po")
    missing = [e.msgid for e in refreshed if "fuzzy" in e.flags or not all(e.msgstr.values())]
    assert missing == [], "untranslated strings: run `make messages`, translate them, commit .po and .mo"


def _log_in(client: Any, user: Any) -> None:
    from tests.conftest import totp_now

    client.post(reverse("authn:login"), {"username": user.username, "password": PASSWORD})
    client.post(reverse("authn:otp"), {"token": totp_now()})
    assert "_auth_user_id" in client.session


def test_staff_pages_in_swedish_use_the_healthcare_terms(client: Any, nurse: Any) -> None:
    user, _ = nurse
    _log_in(client, user)
    page = client.get(reverse("selfservice:care_consent")).content.decode()
    assert '<html lang="sv"' in page
    assert "Registrera samtycke eller nödåtkomst" in page
    assert "Vårdenhet" in page


def test_commission_form_in_swedish_shows_each_vocabulary_code_once(
    client: Any, hospital_admin: Any, nurse: Any,
) -> None:
    _, employee = nurse
    _log_in(client, hospital_admin)
    url = reverse("administration:commission_grant", kwargs={"person_id": employee.person.pk})
    page = client.get(url).content.decode()
    assert "Läsa (Läsa)" not in page and "Vård och behandling (Vård och behandling)" not in page
    assert re.search(r">\s*Läsa\s*<", page)
    assert "läkemedel (lak)" in page
    assert "andra vårdgivare (sammanhållen journalföring) (SJF)" in page
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Read (Läsa)" in english
