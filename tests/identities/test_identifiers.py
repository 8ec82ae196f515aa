"""Tests for apps.identities.identifiers (plain pytest, no Django settings needed)."""

from datetime import date

import pytest
from stdnum import luhn

from apps.identities.identifiers import (
    OID_PERSONNUMMER,
    OID_SAMORDNINGSNUMMER,
    IdentifierError,
    PersonIdentifier,
    make_person_number,
    normalise_hsa_id,
    normalise_org_number,
    normalise_text,
    parse_person_number,
)

TODAY = date(2025, 6, 15)


def with_check_digit(first_nine: str) -> str:
    """Return the 10-digit form YYMMDDNNN + Luhn digit (fixtures are computed, not guessed)."""
    return first_nine + luhn.calc_check_digit(first_nine)


def ten(first_nine: str, separator: str = "-") -> str:
    """A 10-digit form with separator, e.g. ten("250701123") -> "250701-123C"."""
    number = with_check_digit(first_nine)
    return f"{number[:6]}{separator}{number[6:]}"


def twelve(century: str, first_nine: str) -> str:
    number = with_check_digit(first_nine)
    return f"{century}{number[:6]}-{number[6:]}"


def assert_rejected(value: str, code: str, today: date = TODAY) -> None:
    with pytest.raises(IdentifierError) as excinfo:
        parse_person_number(value, today=today)
    assert excinfo.value.code == code


# --- personnummer -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["19121212-1212", "191212121212", "121212+1212", "  19121212-1212\n", "\t191212121212 "],
)
def test_tolvan_tolvansson(value: str) -> None:
    result = parse_person_number(value, today=TODAY)
    assert result == PersonIdentifier(root=OID_PERSONNUMMER, extension="191212121212")
    assert result.display == "19121212-1212"


@pytest.mark.parametrize(
    "value",
    [
        "\uff11\uff19\uff11\uff12\uff11\uff12\uff11\uff12-\uff11\uff12\uff11\uff12",  # fullwidth
        "\uff11\uff19\uff11\uff12\uff11\uff12\uff11\uff12\uff0d1212",  # fullwidth hyphen
        "\u300019121212-1212",  # ideographic space
    ],
)
def test_compatibility_forms_are_the_ascii_number(value: str) -> None:
    """NFKC first: fullwidth digits are the digits 0-9, so the typed form is one number."""
    assert parse_person_number(value, today=TODAY).extension == "191212121212"


def test_default_today_is_used() -> None:
    assert parse_person_number("19121212-1212").extension == "191212121212"


@pytest.mark.parametrize("value", ["121212-1212", "1212121212"])
def test_ten_digits_without_plus_means_under_100(value: str) -> None:
    # 2012-12-12 is not in the future, so the person is 12, not 112.
    assert parse_person_number(value, today=TODAY).extension == "201212121212"


def test_ten_digits_before_2012_births_means_previous_century() -> None:
    assert parse_person_number("121212-1212", today=date(2012, 12, 11)).extension == (
        "191212121212"
    )
    assert parse_person_number("121212-1212", today=date(2012, 12, 12)).extension == (
        "201212121212"
    )


@pytest.mark.parametrize(
    ("first_nine", "expected_year"),
    [
        ("250614123", "2025"),  # yesterday
        ("250615123", "2025"),  # today
        ("250616123", "1925"),  # tomorrow would be in the future
        ("260101123", "1926"),
        ("000101123", "2000"),
        ("991231123", "1999"),
    ],
)
def test_ten_digit_century(first_nine: str, expected_year: str) -> None:
    result = parse_person_number(ten(first_nine), today=TODAY)
    assert result.extension[:4] == expected_year
    assert result.extension[2:] == with_check_digit(first_nine)


@pytest.mark.parametrize(
    ("first_nine", "expected_year"),
    [
        ("250101123", "1925"),  # turns 100 this calendar year: "+" from 1 January
        ("251231123", "1925"),
        ("260101123", "1826"),  # someone born 1926 is 99, so "+" means 1826
        ("121212121", "1912"),
    ],
)
def test_plus_means_100_or_older(first_nine: str, expected_year: str) -> None:
    result = parse_person_number(ten(first_nine, "+"), today=TODAY)
    assert result.extension[:4] == expected_year


def test_leap_day_is_accepted() -> None:
    result = parse_person_number(twelve("20", "240229123"), today=TODAY)
    assert result.extension.startswith("20240229")


@pytest.mark.parametrize(
    "value",
    [
        twelve("20", "230229123"),  # 2023 is not a leap year
        ten("230229123"),
        twelve("19", "801301123"),  # month 13
        twelve("19", "800001123"),  # month 00 is only allowed in a samordningsnummer
        twelve("19", "800100123"),  # day 00
        twelve("19", "800132123"),  # day 32
        twelve("19", "800431123"),  # 31 April
        twelve("00", "000101123"),  # year 0000
    ],
)
def test_invalid_date(value: str) -> None:
    assert_rejected(value, "pnr.date")


@pytest.mark.parametrize(
    "value",
    [
        twelve("20", "250616123"),  # tomorrow
        twelve("21", "000101123"),
        "20991231-1234",
    ],
)
def test_future_birth_date(value: str) -> None:
    assert_rejected(value, "pnr.future_date")


@pytest.mark.parametrize("value", ["19121212-1213", "121212-1211", "191212121202"])
def test_wrong_check_digit(value: str) -> None:
    assert_rejected(value, "pnr.checksum")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "abcdefghij",
        "19121212-121X",
        "121212-121",  # too short
        "1912121212123",  # too long
        "19121212+1212",  # "+" only exists in the 10-digit form
        "121212--1212",
        "1212-121212",
        "19121212 1212",
        "121212/1212",
        "\u0661\u0662\u0661\u0662\u0661\u0662\u0661\u0662\u0661\u0662",  # Arabic-Indic digits
        "19121212\u20101212",  # a Unicode hyphen, which NFKC keeps
        "19121212-1212\u200b",  # zero-width space
    ],
)
def test_bad_format(value: str) -> None:
    assert_rejected(value, "pnr.format")


@pytest.mark.parametrize(
    "value", ["556036-0793", "5560360793", "232100-0016", "16556036-0793", "165560360793"]
)
def test_organisation_number_is_recognised(value: str) -> None:
    assert_rejected(value, "pnr.is_orgnr")


@pytest.mark.parametrize(
    "value",
    ["0701234567", "070-1234567", "0731234567", "0761234567", "0709123456", "+46701234567"],
)
def test_mobile_numbers_are_rejected(value: str) -> None:
    with pytest.raises(IdentifierError):
        parse_person_number(value, today=TODAY)


# --- samordningsnummer --------------------------------------------------------------------------


def test_coordination_number() -> None:
    first_nine = "701063239"
    value = twelve("19", first_nine)
    assert value == "19701063-2391"  # the check digit computed by stdnum.luhn
    result = parse_person_number(value, today=TODAY)
    assert result == PersonIdentifier(root=OID_SAMORDNINGSNUMMER, extension="197010632391")
    assert result.display == "19701063-2391"


@pytest.mark.parametrize("separator", ["-", ""])
def test_coordination_number_ten_digits(separator: str) -> None:
    result = parse_person_number(ten("701063239", separator), today=TODAY)
    assert result == PersonIdentifier(root=OID_SAMORDNINGSNUMMER, extension="197010632391")


@pytest.mark.parametrize(
    "value",
    [
        twelve("19", "700060123"),  # unknown month and day
        twelve("19", "700075123"),  # unknown month, day 15
        twelve("19", "700091123"),  # unknown month, day 31
        twelve("19", "700560123"),  # May, unknown day
        twelve("20", "240289123"),  # 29 Feb 2024 + 60
        ten("700060123"),  # 10-digit form with unknown month and day: 1970
    ],
)
def test_coordination_number_with_unknown_parts(value: str) -> None:
    result = parse_person_number(value, today=TODAY)
    assert result.root == OID_SAMORDNINGSNUMMER
    assert result.extension[2:] == value.replace("-", "")[-10:]


@pytest.mark.parametrize(
    "value",
    [
        twelve("19", "700092123"),  # day 32
        twelve("19", "701360123"),  # month 13, unknown day
        twelve("19", "700291123"),  # 31 February
        twelve("20", "230289123"),  # 29 Feb 2023
        ten("230289123"),
    ],
)
def test_coordination_number_invalid_date(value: str) -> None:
    assert_rejected(value, "pnr.date")


@pytest.mark.parametrize("first_nine", ["990060123", "250760123", "250676123"])
def test_coordination_number_in_the_future(first_nine: str) -> None:
    # 2099 (unknown month and day), July 2025 (unknown day), 16 June 2025.
    assert_rejected(twelve("20", first_nine), "pnr.future_date")


def test_coordination_number_partly_known_this_month_is_accepted() -> None:
    assert parse_person_number(twelve("20", "250660123"), today=TODAY).extension[:8] == "20250660"


def test_coordination_number_wrong_check_digit() -> None:
    assert_rejected("19701063-2392", "pnr.checksum")


# --- make_person_number -------------------------------------------------------------------------


@pytest.mark.parametrize("birth", [date(1912, 12, 12), date(2024, 2, 29), date(1925, 1, 31)])
@pytest.mark.parametrize("serial", [0, 121, 999])
@pytest.mark.parametrize("coordination", [False, True])
def test_make_person_number_round_trips(birth: date, serial: int, coordination: bool) -> None:
    number = make_person_number(birth, serial, coordination=coordination)
    assert len(number) == 12 and number.isdigit()
    result = parse_person_number(number, today=TODAY)
    assert result.extension == number
    assert result.root == (OID_SAMORDNINGSNUMMER if coordination else OID_PERSONNUMMER)


def test_make_person_number_tolvan() -> None:
    assert make_person_number(date(1912, 12, 12), 121) == "191212121212"
    assert make_person_number(date(1970, 10, 3), 239, coordination=True) == "197010632391"


@pytest.mark.parametrize("serial", [-1, 1000])
def test_make_person_number_rejects_bad_serial(serial: int) -> None:
    with pytest.raises(ValueError):
        make_person_number(date(1970, 1, 1), serial)


# --- IdentifierError ----------------------------------------------------------------------------


def test_identifier_error_shape() -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_person_number("19121212-1213", today=TODAY)
    error = excinfo.value
    assert isinstance(error, IdentifierError)
    assert error.code == "pnr.checksum"
    assert str(error) == "pnr.checksum"
    assert error.message is not None


# --- HSA-id -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("SE2321000016-ABC1", "SE2321000016-ABC1"),
        ("se2321000016-abc1", "SE2321000016-abc1"),
        ("  Se2321000016-15ZV\n", "SE2321000016-15ZV"),
        ("SE165565594230-1000", "SE165565594230-1000"),
        ("SE5565594230-X", "SE5565594230-X"),
        ("SE2321000016-" + "A" * 18, "SE2321000016-" + "A" * 18),  # exactly 31 characters
        # NFKC first: compatibility look-alikes are the ASCII characters they stand for.
        ("SE2321000016-\u212a", "SE2321000016-K"),  # Kelvin sign
        ("ＳＥ２３２１００００１６－ＡＢＣ１", "SE2321000016-ABC1"),  # fullwidth
    ],
)
def test_hsa_id_valid(value: str, expected: str) -> None:
    assert normalise_hsa_id(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "SE2321000016",
        "SE2321000016-",
        "SE2321000016ABC1",
        "SE232100-0016-ABC1",
        "SE23210000-ABC1",  # 8 digits
        "SE23210000160-ABC1",  # 11 digits
        "DK2321000016-ABC1",
        "2321000016-ABC1",
        "SE2321000016-ÅSA1",
        "SE2321000016-bäck",
        "SE2321000016-ö",
        "SE2321000016-a@b",
        "SE2321000016-AB C",
        "SE2321000016-AB-C",
        "SE2321000016-ABC\u0406",  # Cyrillic І, not NFKC-equivalent to I
        "SE2321000016-abc\u0131",  # dotless ı, which PostgreSQL's UPPER makes I
        "SE2321000016-AB\u200bC1",  # zero-width space
        "SE\u0662321000016-ABC1",
    ],
)
def test_hsa_id_bad_format(value: str) -> None:
    with pytest.raises(IdentifierError) as excinfo:
        normalise_hsa_id(value)
    assert excinfo.value.code == "hsa.format"


def test_hsa_id_too_long() -> None:
    with pytest.raises(IdentifierError) as excinfo:
        normalise_hsa_id("SE2321000016-" + "A" * 19)
    assert excinfo.value.code == "hsa.too_long"


def test_hsa_id_bad_organisation_number() -> None:
    with pytest.raises(IdentifierError) as excinfo:
        normalise_hsa_id("SE2321000017-ABC1")
    assert excinfo.value.code == "hsa.checksum"


# --- organisationsnummer ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("232100-0016", "232100-0016"),
        ("2321000016", "232100-0016"),
        (" 556036-0793 ", "556036-0793"),
        ("121212-1212", "121212-1212"),  # a sole trader's personnummer
    ],
)
def test_org_number_valid(value: str, expected: str) -> None:
    assert normalise_org_number(value) == expected


def test_org_number_in_fullwidth_digits() -> None:
    assert normalise_org_number("\uff12\uff13\uff12\uff11\uff10\uff10-0016") == "232100-0016"


@pytest.mark.parametrize("value", ["232100-0017", "5560360794"])
def test_org_number_wrong_check_digit(value: str) -> None:
    with pytest.raises(IdentifierError) as excinfo:
        normalise_org_number(value)
    assert excinfo.value.code == "orgnr.checksum"


@pytest.mark.parametrize(
    "value",
    ["", "ABCDEF-GHIJ", "23210000161", "232100-001", "23-21-00-0016", "232100 0016", "232100+0016"],
)
def test_org_number_bad_format(value: str) -> None:
    with pytest.raises(IdentifierError) as excinfo:
        normalise_org_number(value)
    assert excinfo.value.code == "orgnr.format"


@pytest.mark.parametrize("value, codepoint", [
    ("Ca\x00rl", "U+0000"), ("Ca\trl", "U+0009"), ("Ca\nrl", "U+000A"), ("Ca\x7frl", "U+007F"),
    ("Ca\x85rl", "U+0085"),
])
def test_a_control_character_inside_a_text_is_refused_and_named(value: str,
                                                                codepoint: str) -> None:
    """Names, titles and addresses are one line; PostgreSQL refuses NUL outright."""
    with pytest.raises(IdentifierError) as excinfo:
        normalise_text(value, 100)
    assert excinfo.value.code == "text.control"
    assert codepoint in str(excinfo.value.message)
    assert normalise_text("  Carl\n", 100) == "Carl"  # surrounding whitespace is only trimmed
