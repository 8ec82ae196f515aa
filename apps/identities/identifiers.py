"""Validation and normalisation of the identifiers people type.

Pure functions with no database access: personnummer and samordningsnummer, HSA-ids,
organisationsnummer and usernames. Every rejection raises :class:`IdentifierError`, which carries
a stable ``code`` (for logs, tests and API clients) and a human-friendly, translatable ``message``.

One function per kind of identifier, used by creation, lookup and search alike
(docs/security.md, "Identifiers that look alike"): each applies Unicode NFKC first (UAX #15), so
compatibility look-alikes such as fullwidth ``０-９``/``Ａ-Ｚ`` or the Kelvin sign become the plain
characters they stand for, then the identifier's own rule, which admits ASCII only. A look-alike
is therefore either the same identifier or refused.

Sources: Skatteverket (personnummer SKV 704, samordningsnummer SKV 707), Folkbokföringslagen
(1991:481) 18 §, Inera's HSA-id format (docs/glossary.md), RFC 8265 (usernames), Unicode UAX #15
(normalisation) and UTS #39 (confusables), and python-stdnum for the Luhn check digit
(``stdnum.luhn``, ``stdnum.se.personnummer``, ``stdnum.se.orgnr``).
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from stdnum import luhn
from stdnum.exceptions import InvalidChecksum
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.se import orgnr as stdnum_orgnr
from stdnum.se import personnummer as stdnum_personnummer

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

__all__ = [
    "OID_PERSONNUMMER",
    "OID_SAMORDNINGSNUMMER",
    "RESERVE_ID_ALPHABET",
    "RESERVE_ID_LENGTH",
    "IdentifierError",
    "PersonIdentifier",
    "fold_username",
    "make_person_number",
    "nfkc",
    "normalise_hsa_id",
    "normalise_org_number",
    "normalise_text",
    "normalise_username",
    "parse_person_number",
    "username_from_names",
]

#: Identifier OID (root) of a personnummer (personal identity number).
OID_PERSONNUMMER = "1.2.752.129.2.1.3.1"
#: Identifier OID (root) of a samordningsnummer (coordination number).
OID_SAMORDNINGSNUMMER = "1.2.752.129.2.1.3.3"

#: A reserve id (reservnummer) the portal gives: 12 characters of this alphabet (upper-case letters
#: and digits without the look-alikes 0/O, 1/I and 5/S, 8/B), stored without separators
#: (docs/glossary.md, "reserve id"; docs/decisions.md, "Joiners"). Its root is the issuer's own OID,
#: `settings.PORTAL_RESERVE_ID_ROOT` for the portal's own reserve ids.
RESERVE_ID_ALPHABET = "ACDEFGHJKLMNPQRTUVWXYZ234679"
RESERVE_ID_LENGTH = 12

HSA_ID_MAX_LENGTH = 31
#: A stored HSA-id: the shape `normalise_hsa_id` returns (upper-case ``SE``). Anchored with ``\A`` and
#: ``\Z`` so the same pattern holds in Python and in PostgreSQL's and SQLite's check constraints.
HSA_ID_STORED_PATTERN = r"\ASE(?:[0-9]{12}|[0-9]{10})-[A-Za-z0-9]+\Z"

USERNAME_MAX_LENGTH = 150
#: A stored username: lower-case ASCII letters and digits, joined by single ``.``, ``-`` or ``_``
#: (never first, last or two in a row, where an extra one is easy to miss). Anchored like
#: :data:`HSA_ID_STORED_PATTERN`.
USERNAME_PATTERN = r"\A[a-z0-9]+(?:[._-][a-z0-9]+)*\Z"
_USERNAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")

_CHECK_DIGIT_MESSAGE = _("The check digit is wrong. Check the number and try again.")

_MESSAGES: dict[str, "str | StrPromise"] = {
    "pnr.format": _(
        "Enter a personal identity number or coordination number as YYYYMMDD-NNNN, "
        "for example 19121212-1212."
    ),
    "pnr.checksum": _CHECK_DIGIT_MESSAGE,
    "pnr.date": _("The number does not start with a valid date. Check the number and try again."),
    "pnr.future_date": _("The date of birth is in the future. Check the number and try again."),
    "pnr.is_orgnr": _(
        "This looks like an organisation number. "
        "Enter a personal identity number or coordination number."
    ),
    "hsa.format": _(
        "Enter an HSA-id such as SE2321000016-ABC1: SE, the organisation number, a hyphen, "
        "then letters A-Z and digits (no å, ä, ö or @)."
    ),
    "hsa.too_long": _("An HSA-id has at most 31 characters."),
    "hsa.checksum": _(
        "The organisation number in the HSA-id has a wrong check digit. "
        "Check the HSA-id and try again."
    ),
    "orgnr.format": _("Enter the organisation number as NNNNNN-NNNN, for example 232100-0016."),
    "orgnr.checksum": _CHECK_DIGIT_MESSAGE,
    "username.character": _(
        "A username cannot contain “{character}” ({codepoint}). Use only the letters a–z, the "
        "digits 0–9 and “.”, “-” or “_”: no letters with accents (å, ä, ö), letters from other "
        "alphabets that look like a–z, spaces or invisible characters."
    ),
    "username.format": _(
        "A username starts and ends with a letter or digit, and never has two of “.”, “-” and "
        "“_” in a row."
    ),
    "username.too_long": _("A username has at most 150 characters."),
    "text.too_long": _(
        "This has room for at most {max_length} characters. Some characters are stored as two "
        "or more: the ligature “ﬀ”, for example, as “ff”."
    ),
    "text.control": _(
        "This cannot contain the invisible control character {codepoint}. Type the text again "
        "instead of pasting it."
    ),
}


class IdentifierError(ValueError):
    """An identifier was rejected.

    ``code`` is a stable string such as ``"pnr.checksum"``; ``message`` is a lazily translated
    text to show to people, filled in with ``params`` (e.g. the refused character).
    ``str(error)`` is the code, so logging never needs translations.
    """

    code: str
    message: str | Promise

    def __init__(self, code: str, **params: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = format_lazy(_MESSAGES[code], **params) if params else _MESSAGES[code]


def nfkc(value: str) -> str:
    """``value`` in Unicode Normalization Form KC (UAX #15): compatibility characters become the
    characters they stand for (fullwidth ``Ａ`` → ``A``, ``１`` → ``1``, the ligature ``ﬁ`` → ``fi``,
    the Kelvin sign → ``K``). Every identifier and every search query goes through it first."""
    return unicodedata.normalize("NFKC", value)


def normalise_text(value: str, max_length: int) -> str:
    """``value`` as stored: NFKC (:func:`nfkc`) without surrounding whitespace, checked against
    ``max_length`` (characters, the column's size) after normalising, since NFKC can make a text
    longer (the ligature ``ﬃ`` becomes ``ffi``). For names, titles and e-mail addresses people type
    (docs/security.md, "Identifiers that look alike"): one line, so a control character (Unicode
    category Cc: C0, DEL and C1, also tab and line breaks inside the text) is refused, never stored
    (PostgreSQL refuses NUL in text outright).

    :raises IdentifierError: with code ``text.control`` (the message names the first control
        character's code point) or ``text.too_long`` when the stored form is longer.
    """
    text = nfkc(value).strip()
    for character in text:
        if unicodedata.category(character) == "Cc":
            raise IdentifierError("text.control", codepoint=f"U+{ord(character):04X}")
    if len(text) > max_length:
        raise IdentifierError("text.too_long", max_length=str(max_length))
    return text


@dataclass(frozen=True)
class PersonIdentifier:
    """A person identifier stored as (root OID, extension), never as a bare string.

    ``root`` is :data:`OID_PERSONNUMMER` or :data:`OID_SAMORDNINGSNUMMER` with ``extension`` the
    12-digit canonical form without separator, e.g. ``"191212121212"``; or the OID of a reserve
    id's issuer with the reserve id as stored (``settings.PORTAL_RESERVE_ID_ROOT`` for the
    portal's own: :data:`RESERVE_ID_ALPHABET`).
    """

    root: str
    extension: str

    @property
    def display(self) -> str:
        """The extension as ``YYYYMMDD-NNNN``, e.g. ``"19121212-1212"``."""
        return f"{self.extension[:8]}-{self.extension[8:]}"


# Digits are spelled [0-9]: \d would also match non-ASCII (e.g. Arabic-Indic) digits.
_PERSON_NUMBER_RE = re.compile(
    r"(?P<century>[0-9]{2})?(?P<yymmdd>[0-9]{6})(?P<separator>[-+]?)(?P<serial>[0-9]{4})"
)


def parse_person_number(value: str, *, today: date | None = None) -> PersonIdentifier:
    """Validate a personnummer or samordningsnummer and return its canonical identifier.

    Accepted shapes (surrounding whitespace is ignored): ``YYYYMMDDNNNN``, ``YYYYMMDD-NNNN``,
    ``YYMMDDNNNN``, ``YYMMDD-NNNN`` and ``YYMMDD+NNNN``. The value is NFKC-normalised first
    (:func:`nfkc`), so fullwidth digits ``０-９`` and a fullwidth hyphen count as the ASCII ones;
    other digits (e.g. Arabic-Indic) are refused, as the digits are spelled ``[0-9]``.

    Rules and sources:

    * The last digit is a Luhn check digit over the 10-digit form (Skatteverket SKV 704).
    * Century of a 10-digit form (Folkbokföringslagen 18 §): with ``-`` or no separator the
      person is under 100, i.e. the most recent birth date that is not after ``today``. ``+`` is
      used from the calendar year the person turns 100, so the birth year is the latest one that
      is at most ``today.year - 100``.
    * A samordningsnummer has 60 added to the day of birth (SKV 707). Skatteverket's newer
      numbers may have an unknown month (``00``) and/or an unknown day (day ``60``); then only the
      known parts are checked (month 0..12, day 60..91, date not in the future).
    * A personnummer must be a real date (no 2023-02-29); no birth date may lie after ``today``.
    * Month digits of 20 or more mean an organisationsnummer (the third digit is at least 2).

    ``python-stdnum``'s ``se.personnummer`` validates plain personnummer and is used for them;
    it rejects every samordningsnummer, picks the century from the real clock and accepts birth
    dates in the future, so those parts are done here.

    :param value: the number as typed.
    :param today: the reference date for century and future checks; defaults to ``date.today()``.
    :returns: ``PersonIdentifier(root=<OID>, extension="YYYYMMDDNNNN")``.
    :raises IdentifierError: with code ``pnr.format``, ``pnr.is_orgnr``, ``pnr.date``,
        ``pnr.future_date`` or ``pnr.checksum``.
    """
    today = today or date.today()
    match = _PERSON_NUMBER_RE.fullmatch(nfkc(value).strip())
    if match is None or (match["century"] and match["separator"] == "+"):
        raise IdentifierError("pnr.format")
    yymmdd, serial = match["yymmdd"], match["serial"]
    month_digits, day_digits = int(yymmdd[2:4]), int(yymmdd[4:6])
    if month_digits >= 20:
        raise IdentifierError("pnr.is_orgnr")

    coordination = day_digits >= 60
    if coordination:
        # 0 means "unknown" for both parts.
        month, day = month_digits, day_digits - 60
        if month > 12 or day > 31:
            raise IdentifierError("pnr.date")
    else:
        month, day = month_digits, day_digits
        if not (1 <= month <= 12 and 1 <= day <= 31):
            raise IdentifierError("pnr.date")

    if match["century"]:
        year = int(match["century"] + yymmdd[:2])
    else:
        year = _resolve_year(int(yymmdd[:2]), month, day, match["separator"] == "+", today)

    try:
        # For a partial date this is the earliest possible birth date; for a full date, the date.
        earliest_birth = date(year, month or 1, day or 1)
    except ValueError:
        raise IdentifierError("pnr.date") from None
    if earliest_birth > today:
        raise IdentifierError("pnr.future_date")

    extension = f"{year:04d}{yymmdd[2:]}{serial}"
    if coordination:
        if not luhn.is_valid(extension[2:]):
            raise IdentifierError("pnr.checksum")
        return PersonIdentifier(root=OID_SAMORDNINGSNUMMER, extension=extension)

    try:
        stdnum_personnummer.validate(f"{extension[:8]}-{extension[8:]}")
    except InvalidChecksum:
        raise IdentifierError("pnr.checksum") from None
    except StdnumValidationError:
        raise IdentifierError("pnr.date") from None
    return PersonIdentifier(root=OID_PERSONNUMMER, extension=extension)


def _resolve_year(yy: int, month: int, day: int, plus: bool, today: date) -> int:
    """Pick the four-digit birth year for a 10-digit number (month/day 0 mean unknown)."""
    latest = today.year - 100 if plus else today.year
    year = latest - (latest - yy) % 100
    if not plus and (year, month or 1, day or 1) > (today.year, today.month, today.day):
        year -= 100
    return year


def make_person_number(birth: date, serial: int, *, coordination: bool = False) -> str:
    """Build a valid 12-digit canonical number, e.g. for synthetic demo people.

    :param birth: date of birth.
    :param serial: the three-digit birth number 0..999 (its last digit is odd for men).
    :param coordination: build a samordningsnummer (day + 60) instead of a personnummer.
    :returns: ``"YYYYMMDDNNNC"`` with the Luhn check digit ``C`` computed over the last 9 digits.
    :raises ValueError: if ``serial`` is outside 0..999 (a programming error, not user input).
    """
    if not 0 <= serial <= 999:
        raise ValueError(f"serial must be in 0..999, got {serial}")
    day = birth.day + 60 if coordination else birth.day
    body = f"{birth.year % 100:02d}{birth.month:02d}{day:02d}{serial:03d}"
    return f"{birth.year // 100:02d}{body}{luhn.calc_check_digit(body)}"


_HSA_ID_RE = re.compile(r"[Ss][Ee](?P<number>[0-9]{12}|[0-9]{10})-[A-Za-z0-9]+")


def normalise_hsa_id(value: str) -> str:
    """Validate an HSA-id and return it with an upper-case ``SE`` prefix.

    Shape (Inera's HSA-id format, docs/glossary.md): ``SE`` + the directory owner's 10-digit
    organisationsnummer (Luhn check digit verified with ``stdnum.se.orgnr``) or the older national
    12-digit number (only digits are checked) + ``-`` + one or more of ``[A-Za-z0-9]``; at most 31
    characters; no å, ä, ö or ``@``. The value is NFKC-normalised first (:func:`nfkc`: fullwidth
    ``ＳＥ２３…`` is ``SE23…``) and surrounding whitespace removed; apart from the prefix the id
    is kept exactly as given, e.g. ``"se2321000016-abc1"`` becomes ``"SE2321000016-abc1"``. HSA-ids
    are one id whatever their case: compare them by ``.lower()`` of this result (ASCII only, so no
    locale's case rules apply), as the case-insensitive unique constraints do.

    :raises IdentifierError: with code ``hsa.too_long``, ``hsa.format`` or ``hsa.checksum``.
    """
    value = nfkc(value).strip()
    if len(value) > HSA_ID_MAX_LENGTH:
        raise IdentifierError("hsa.too_long")
    match = _HSA_ID_RE.fullmatch(value)
    if match is None:
        raise IdentifierError("hsa.format")
    number = match["number"]
    if len(number) == 10 and not stdnum_orgnr.is_valid(number):
        raise IdentifierError("hsa.checksum")
    return "SE" + value[2:]


_ORG_NUMBER_RE = re.compile(r"(?P<head>[0-9]{6})-?(?P<tail>[0-9]{4})")


def normalise_org_number(value: str) -> str:
    """Validate an organisationsnummer and return it as ``NNNNNN-NNNN``.

    Accepts ``NNNNNN-NNNN`` or ``NNNNNNNNNN`` (surrounding whitespace ignored); the Luhn check
    digit is verified with ``stdnum.se.orgnr``. A sole trader's personnummer is also a valid
    organisationsnummer, so it is accepted too. NFKC-normalised first, like every identifier.

    :raises IdentifierError: with code ``orgnr.format`` or ``orgnr.checksum``.
    """
    match = _ORG_NUMBER_RE.fullmatch(nfkc(value).strip())
    if match is None:
        raise IdentifierError("orgnr.format")
    number = match["head"] + match["tail"]
    try:
        stdnum_orgnr.validate(number)
    except InvalidChecksum:
        raise IdentifierError("orgnr.checksum") from None
    except StdnumValidationError:
        raise IdentifierError("orgnr.format") from None
    return stdnum_orgnr.format(number)


_USERNAME_RE = re.compile(USERNAME_PATTERN)


def fold_username(value: str) -> str:
    """The form in which usernames are stored, compared and looked up: NFKC, Unicode case folding,
    NFKC again, surrounding whitespace removed. ``"ＡＮＮＡ.Admin "`` becomes ``"anna.admin"``.

    Usernames are case-insensitive (RFC 8265 §3.4, the UsernameCaseMapped profile, maps case
    too; full case folding rather than lower-casing, as UTS #39 §4 advises for comparisons).
    Never raises: a login form looks the result up as it is, and anything that
    :func:`normalise_username` would refuse (``аnna.admin`` with a Cyrillic ``а``) matches no stored
    username, since every stored one passed it.
    """
    return nfkc(nfkc(value).casefold()).strip()


def normalise_username(value: str) -> str:
    """Validate a new username and return its stored form (:func:`fold_username`).

    The allowed set is the RFC 8265 UsernameCaseMapped profile restricted to ASCII letters,
    digits, ``.``, ``-`` and ``_`` (docs/decisions.md, "Usernames"): after folding, 1 to 150
    characters matching :data:`USERNAME_PATTERN`. ASCII only means a username can hold no mixed
    scripts, no invisible or format characters (zero-width space, soft hyphen) and no letter from
    another alphabet that looks like a Latin one (Cyrillic ``а``, dotless ``ı``): such characters
    are refused and named in the message. Names that differ only in case or width fold to the same
    username; the database refuses a second account with it, or with one that UTS #39 counts as
    confusable (``apps.identities.models.username_skeleton``).

    :raises IdentifierError: with code ``username.character`` (the message names the first
        refused character and its code point), ``username.format`` or ``username.too_long``.
    """
    username = fold_username(value)
    for character in username:
        if character not in _USERNAME_CHARACTERS:
            raise IdentifierError("username.character", character=character,
                                  codepoint=f"U+{ord(character):04X}")
    if len(username) > USERNAME_MAX_LENGTH:
        raise IdentifierError("username.too_long")
    if _USERNAME_RE.fullmatch(username) is None:
        raise IdentifierError("username.format")
    return username


#: Letters the ASCII folding of a name maps by hand: those Unicode's canonical decomposition
#: (NFKD) leaves whole (ø, æ, ł ...); å, ä, ö, é and the like lose their marks by NFKD.
_NAME_FOLDS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d",
                             "þ": "th", "ı": "i", "ŋ": "n"})
#: A username made from names when they hold no letter a-z at all.
_USERNAME_FALLBACK = "staff"


def _ascii_name(name: str) -> str:
    """A name folded to the username alphabet: lower case, marks dropped (`Åsa-Öberg` →
    `asa-oberg`), every run of other characters one hyphen."""
    text = unicodedata.normalize("NFKD", nfkc(name).casefold().translate(_NAME_FOLDS))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return "-".join(re.findall(r"[a-z0-9]+", text))


def username_from_names(given_name: str, family_name: str) -> str:
    """A username made from a person's names, e.g. for a joiner before any number is added:
    ``given.family`` folded to ASCII (``_ascii_name``: ``("Åsa", "Öberg")`` → ``"asa.oberg"``,
    ``"Zoë Ærø"`` → ``"zoe-aero"``), normalised like every username (:func:`normalise_username`);
    ``"staff"`` when the names hold no letter a-z at all (docs/decisions.md, "Joiners")."""
    parts = [p for p in (_ascii_name(given_name), _ascii_name(family_name)) if p]
    base = (".".join(parts) or _USERNAME_FALLBACK)[:USERNAME_MAX_LENGTH - 4].strip("._-")
    return normalise_username(base)
