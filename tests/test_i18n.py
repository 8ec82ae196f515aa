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
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone, translation

from apps.identities.identifiers import IdentifierError, parse_person_number
from tests.conftest import PASSWORD, login_session, totp_now

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
    """One catalogue entry: optional msgctxt (pgettext's context), msgid, optional msgid_plural,
    msgstr (or msgstr[n]) and flags."""

    msgctxt: str | None = None
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
            if kind == "msgctxt":
                entry.msgctxt = (entry.msgctxt or "") + text
            elif kind == "msgid":
                entry.msgid += text
            elif kind == "msgid_plural":
                entry.msgid_plural = (entry.msgid_plural or "") + text
            else:
                entry.msgstr[n] += text
        else:
            keyword, _, value = line.partition(" ")
            text = ast.literal_eval(value)
            started = True
            if keyword == "msgctxt":
                entry.msgctxt, last = text, ("msgctxt", 0)
            elif keyword == "msgid":
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
    page = client.post(reverse("authn:login"), {"username": "", "password": ""}).content.decode()
    assert "Det här fältet är obligatoriskt." in page


def test_a_field_error_follows_the_language_choice(client: Any, db: Any) -> None:
    page = client.post(reverse("authn:login"), {"username": "", "password": ""},
                       HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "This field is required." in page


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
        if e.msgctxt is not None:
            assert compiled.pgettext(e.msgctxt, e.msgid) == e.msgstr[0], e.msgid
        elif e.msgid_plural is None:
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
    client.post(reverse("authn:login"), {"username": user.username, "password": PASSWORD})
    client.post(reverse("authn:otp"), {"token": totp_now()})
    assert "_auth_user_id" in client.session
    if user.kind == "staff":  # administration needs LoA 3: a federated login's session
        login_session(client, user)


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


# --- No English in the Swedish UI ----------------------------------------------------------------

#: Common English words and phrases that are not Swedish words too (so "in", "by", "all", "start"
#: and "bad" are left out). Names, HSA-ids, usernames and e-mail addresses are removed first.
ENGLISH_WORDS = re.compile(
    r"\b(the|and|of|to|you|your|is|are|was|were|with|for|this|that|not|has|have|at|on|from|will|"
    r"can|cannot|please|no|yes|who|what|when|which|my|new|none|first|last|end|ends|day|days|time|"
    r"date|name|number|reason|page|found|request|conflict|mobile|device|valid|until|staff|unit|"
    r"active|expired|revoked|replaced|newer|code|error|failed|log|logged|out|login|administrator|"
    r"nurse|issuer|local|wrong|records|consent|document|issued|granted|ended|registered|looked|"
    r"read|look|photo|compare|e-ID|e-IDs)\b|Bad Request|Not Found", re.IGNORECASE)


class VisibleText(HTMLParser):
    """The text a person sees or hears on a page in `language`: text nodes (also <title> and
    <option>) and the alt, aria-label, title and placeholder attributes; not scripts, styles,
    <code>/<pre> (commands and serial numbers), hidden inputs, nor anything marked as another
    language (the language switch, `lang="en"` on a Swedish page)."""

    SKIP = {"script", "style", "code", "pre"}
    VOID = {"br", "hr", "img", "input", "link", "meta", "source", "wbr"}

    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool]] = []

    def _skipping(self) -> bool:
        return any(skip for _, skip in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        lang = (values.get("lang") or self.language).split("-")[0]
        skip = tag in self.SKIP or (tag != "html" and lang != self.language)
        if not self._skipping() and not skip and values.get("type") != "hidden":
            self.parts += [v for k, v in attrs if k in ("alt", "aria-label", "title", "placeholder")
                           and v]
        if tag not in self.VOID:
            self.stack.append((tag, skip))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self._skipping():
            self.parts.append(data)


#: Common Swedish words that are not English words too (so "den", "till", "vid", "med" and "personal"
#: are left out), for the English UI.
SWEDISH_WORDS = re.compile(
    r"\b(och|för|inte|har|är|av|som|det|att|på|ett|eller|du|din|ditt|dina|dig|kan|ska|finns|"
    r"samtycke|samtycken|aktiv|aktiva|giltig|spärrad|spärra|ersatt|nyare|aktiveringskod|"
    r"aktiveringskoden|misslyckades|vårdenhet|vårdenheten|sida|hittades|logga|inloggad|"
    r"utloggad|medarbetare|medarbetaruppdrag|mobil|personnummer|giltighet|"
    r"registrerad|registrerat|åtgärd|anledning|lokal|administratör|utfärdare)\b", re.IGNORECASE)


def foreign_in(html: str, data: list[str], *, language: str = "sv",
               words: re.Pattern[str] = ENGLISH_WORDS) -> list[str]:
    """The `words` (of another language) in the visible `language` text of `html`, each with some
    context, after removing the data strings `data` (names, HSA-ids, usernames, vocabulary code
    words, typed reasons) and e-mail addresses."""
    parser = VisibleText(language)
    parser.feed(html)
    text = " ".join(" ".join(parser.parts).split())
    for value in sorted({value for value in data if value.strip()}, key=len, reverse=True):
        text = text.replace(value, " ")
    text = re.sub(r"\S+@\S+", " ", text)
    return [text[max(m.start() - 40, 0):m.end() + 40] for m in words.finditer(text)]


@pytest.fixture
def demo_region(db: Any, issuing_ca: Any, monkeypatch: Any) -> dict[str, Any]:
    """The README's demo region (Swedish data); the demo logins' second factor uses the test key."""
    from apps.authn import services as authn
    from apps.demo import seed
    from apps.identities.models import User
    from tests.conftest import TOTP_KEY

    enrol = authn.totp_device_create
    monkeypatch.setattr(authn, "totp_device_create",
                        lambda **kwargs: enrol(**{**kwargs, "key_hex": TOTP_KEY}))
    seed.seed()
    return {a.username: User.objects.get(username=a.username) for a in seed.ACCOUNTS}


def _data_strings() -> list[str]:
    """What people typed or the HSA directory holds (Swedish in the demo region, as real data
    would be), and the vocabulary code words shown beside their labels: data, not UI text."""
    from apps.commissions import vocabularies
    from apps.commissions.models import Commission, Employee
    from apps.consents.models import ConsentAssertion
    from apps.identities.models import Person, User
    from apps.organisations.models import Organisation

    names = [str(p) for p in Person.objects.all()]
    names += [n for p in Person.objects.all() for n in (p.given_name, p.family_name)]
    with translation.override("sv"):
        codes = [str(label) for vocabulary in (vocabularies.Purpose, vocabularies.Activity,
                                               vocabularies.InformationClass, vocabularies.Scope)
                 for label in vocabulary.labels]
    return [*names, *codes, *User.objects.values_list("username", flat=True),
            *Organisation.objects.values_list("name", flat=True),
            *Organisation.objects.values_list("hsa_id", flat=True),
            *Employee.objects.values_list("hsa_id", flat=True),
            *Employee.objects.values_list("title", flat=True),
            *Commission.objects.values_list("name", flat=True),
            *ConsentAssertion.objects.values_list("reason", flat=True)]


@pytest.mark.parametrize("language", ["sv", "en"])
def test_every_text_of_the_journeys_is_in_the_readers_language(
    client: Any, demo_region: dict[str, Any], language: str, federation: Any,
) -> None:
    """The pages the browser tests and the README's walkthrough visit, in Swedish (the default)
    and in English: no common word of the other language in what a person reads; the API is
    called in the other language, as an app on a phone set to it would. Found: the
    employee title, the default device name "Mobile e-ID", "Replaced by a newer activation code."
    and refusal reasons in the history (English in the Swedish UI, Swedish in the English one),
    the patient's username in the log extract, a technical 404 page."""
    from apps.audit.models import AuditEvent
    from apps.commissions.models import Commission
    from apps.core.actors import SYSTEM
    from apps.identities.models import Person
    from apps.issuance import services as issuance
    from tests.issuance.support import device_csr

    other = "en" if language == "sv" else "sv"
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    pages: dict[str, str] = {}

    def visit(name: str, response: Any) -> str:
        assert response.status_code in (200, 400, 403, 404), (name, response.status_code)
        pages[name] = response.content.decode()
        return pages[name]

    def staff_login(username: str) -> None:
        client.post(reverse("authn:logout"))
        visit("login", client.get(reverse("authn:login")))
        response = client.post(reverse("authn:login"),
                               {"username": username, "password": "demo-portal-2026"})
        visit("otp", client.get(response["Location"]))
        client.post(response["Location"], {"token": totp_now()})
        assert "_auth_user_id" in client.session, username

    def federated_login(username: str) -> None:
        """Administration and issuing for others need LoA 3: a federated login's session."""
        client.post(reverse("authn:logout"))
        login_session(client, demo_region[username])

    sara = demo_region["sara.staff"].person
    tolvan = Person.objects.get(identity_numbers__extension="191212121212")
    visit("start", client.get("/"))
    visit("not found", client.get("/no/such/page/"))
    visit("e-ID choice", client.get(reverse("federation:discovery")))
    visit("e-ID choice, patients", client.get(reverse("federation:discovery"), {"for": "patient"}))

    # Sara: an e-ID through the app (no device name), a code replaced, a refused try in English.
    staff_login("sara.staff")
    visit("commission choice", client.get(reverse("authn:commission")))
    cardiology = sara.employees.get().commissions.get(care_unit__name="Kardiologiska kliniken")
    client.post(reverse("authn:commission"), {"commission": str(cardiology.pk)})
    visit("step-up, level 3", client.get(reverse("authn:step_up"), {"purpose": "self_issuance"}))
    federation.login(client, sara, step_up=True)
    visit("new e-ID", client.get(reverse("selfservice:my_eid_new")))
    code_page = visit("code", client.post(reverse("selfservice:my_eid_new")))
    payload = re.search(r"EIDACT1\.[0-9a-f]+\.[A-Za-z0-9_-]+", code_page)
    assert payload is not None
    Client = type(client)
    api = Client()
    # In the other language, as an app on a phone set to it would: nothing stored may stay in it.
    assert api.post("/api/v1/eid/activations", {"csr": device_csr()[1], "qr_payload": payload.group(0)},
                    content_type="application/json", HTTP_ACCEPT_LANGUAGE=other).status_code == 201
    assert api.post("/api/v1/eid/activations", {"csr": device_csr()[1], "qr_payload": payload.group(0)},
                    content_type="application/json", HTTP_ACCEPT_LANGUAGE=other).status_code == 409
    eids = visit("my e-IDs", client.get(reverse("selfservice:my_eids")))
    revoke = re.search(r'href="(/eids/[0-9a-f-]+/revoke/)"', eids)
    assert revoke is not None
    visit("revoke", client.get(revoke.group(1)))
    visit("step-up", client.get(reverse("authn:step_up")))
    care = reverse("selfservice:care_consent")
    visit("care", client.post(care, {"action": "find", "care_unit": str(cardiology.care_unit_id),
                                     "person_number": "19121212-1212"}, follow=True))
    visit("care, one named", client.post(care, {
        "action": "consent", "consent-who": "one",
        "consent-valid_from": timezone.localdate().isoformat(), "consent-patient_present": "on"}))
    visit("care, registered", client.post(care, {
        "action": "emergency", "emergency-reason": "Medvetslös", "emergency-hours": "4"},
        follow=True))

    # Ivar, the issuer: a code for Sara (so her open code is replaced), errors first.
    issuance.activation_code_issue(actor=SYSTEM, person=sara)
    staff_login("ivar.issuer")
    visit("level too low", client.get(reverse("selfservice:issuer_search")))
    visit("my sessions", client.get(reverse("selfservice:my_sessions")))
    federated_login("ivar.issuer")
    visit("issuer search", client.get(reverse("selfservice:issuer_search"),
                                      {"q": "19800517-1015"}))
    person = reverse("selfservice:issuer_person", args=[sara.pk])
    visit("step-up, issuing", client.get(reverse("authn:step_up"),
                                         {"purpose": "issue_for_others", "next": person}))
    federation.login(client, demo_region["ivar.issuer"].person, step_up=True)
    visit("issuer person", client.get(person))
    code_url = reverse("selfservice:issuer_code", args=[sara.pk])
    visit("issuer errors", client.post(code_url, {"document_type": "passport",
                                                  "document_last_four": "12ab",
                                                  "document_expires_on": "2001-01-01"}))
    visit("issuer code", client.post(code_url, {
        "document_type": "passport", "document_last_four": "1234",
        "document_expires_on": (timezone.localdate() + timedelta(days=30)).isoformat()}))
    assert AuditEvent.objects.filter(action="activation_code.ended", subject_person_id=sara.pk)

    # Anna, the administrator: Sara's page with its history, the grant and end forms.
    federated_login("anna.admin")
    visit("admin list", client.get(reverse("administration:person_list"), {"q": "Sjuksköterska"}))
    visit("admin person", client.get(reverse("administration:person_detail", args=[sara.pk])))
    visit("admin person with a role", client.get(reverse(
        "administration:person_detail", args=[demo_region["ivar.issuer"].person.pk])))
    visit("admin grant", client.get(reverse("administration:commission_grant", args=[sara.pk])))
    commission = Commission.objects.filter(employee__person=sara).first()
    assert commission is not None
    visit("admin end", client.get(reverse("administration:commission_end",
                                          args=[sara.pk, commission.pk])))
    visit("logged out", client.post(reverse("authn:logout"), follow=True))

    # Tolvan, the demo patient.
    federation.login(client, tolvan, personality="citizen")
    consents = visit("consents", client.get(reverse("selfservice:patient_consents")))
    visit("consents, one named", client.post(reverse("selfservice:patient_consents"), {
        "care_unit": str(sara.employees.get().organisation_id), "who": "one",
        "valid_from": timezone.localdate().isoformat()}))
    withdraw = re.search(r'href="(/patient/consents/[0-9a-f-]+/withdraw/)"', consents)
    assert withdraw is not None
    visit("withdraw", client.get(withdraw.group(1)))
    log = visit("log extract", client.get(reverse("selfservice:patient_log")))
    assert tolvan.users.get().username not in log  # "You", not "patient-191212121212"

    data = _data_strings()
    words = ENGLISH_WORDS if language == "sv" else SWEDISH_WORDS
    found = {name: foreign_in(html, data, language=language, words=words)
             for name, html in pages.items()}
    foreign = {name: sorted(set(words)) for name, words in found.items() if words}
    assert not foreign, "\n".join(f"{name}: {words}" for name, words in foreign.items())
    for html in pages.values():
        assert f'<html lang="{language}"' in html


def test_the_english_word_check_catches_the_found_cases() -> None:
    """The check is strict enough: each English text once found in the Swedish UI is caught."""
    for text in ["local administrator for all of Region Demoland", "Mobile e-ID",
                 "Replaced by a newer activation code.", "Conflict: Aktiveringskoden har redan använts.",
                 "Certifikatbegäran är inte godtagbar: the CSR key must be an EC P-256 key",
                 "Page not found"]:
        assert foreign_in(f"<p>{text}</p>", []), text
    assert foreign_in('<p lang="en">English</p><p>Mobil e-legitimation spärrad</p>', []) == []
    assert foreign_in("<pre>.venv/bin/python eid_app.py --wallet x</pre>", []) == []
    for text in ["Ersatt av en nyare aktiveringskod.", "Lokal administratör @ Region Demoland",
                 "Aktiveringskoden hade redan använts."]:
        assert foreign_in(f"<p>{text}</p>", [], language="en", words=SWEDISH_WORDS), text
    assert foreign_in('<p lang="sv">Svenska</p><p>Kardiologiska kliniken</p>',
                      ["Kardiologiska kliniken"], language="en", words=SWEDISH_WORDS) == []


def test_wordings_a_swedish_reader_found_unclear_or_inconsistent():
    """Found: a garbled token event, a technical key-rotation event, "avaktiverat" beside
    "inaktiverat", two names for the audit history, "Avsluta <person>" (reads as ending the person)
    and "Tillitsnivå" capitalised after a comma."""
    from django.utils import translation

    with translation.override("sv"):
        texts = {msgid: translation.gettext(msgid) for msgid in (
            "E-service tokens ended with what they carried",
            "Second factor (TOTP) key encrypted with the current key",
            "Your account in the portal is deactivated.",
            "Why it ends now. Saved in the audit history.",
            "Make %(person)s a leaver, now or after a last working day",
            "LoA %(level)s")}
    assert "när det de bar" not in texts["E-service tokens ended with what they carried"]
    assert "TOTP" not in texts["Second factor (TOTP) key encrypted with the current key"]
    assert "inaktiverat" in texts["Your account in the portal is deactivated."]
    assert "granskningshistoriken" in texts["Why it ends now. Saved in the audit history."]
    assert texts["Make %(person)s a leaver, now or after a last working day"].startswith(
        "Avsluta allt för %(person)s")
    assert texts["LoA %(level)s"] == "tillitsnivå %(level)s"
