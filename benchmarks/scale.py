"""`make bench-scale`: the portal at national scale (PostgreSQL only; not part of `make test` or
`make bench`). Prints, never asserts.

Seeds, by PostgreSQL COPY from rows generated here (rows only, not through the services), at a
scale `BENCH_SCALE` (1.0: the sizes below; 0.01 for a quick run):

- 21 regions, each with care providers (vårdgivare) and about 3,000 care units (vårdenheter) in
  all, sized by the regions' populations (a fixed tree, whatever the scale);
- 1,000,000 staff: a person with a personnummer, a staff login account, an employee HSA-id (one
  in ten a second one at another unit of the same region) and one or two commissions
  (medarbetaruppdrag) each;
- 10,000,000 patients: a person with a personnummer, without employee HSA-ids;
- 20,000,000 audit rows over 24 months up to now (into their monthly partitions, each row's
  digest set by the table's trigger): access decisions and registrations about patients, staff
  logins and sessions, administrators' changes.

It runs in a database of its own on `DATABASE_URL`'s server: `<name>_scale`, or
`BENCH_SCALE_DATABASE`, dropped and created afresh, migrated and seeded, then dropped at the end
unless `BENCH_SCALE_KEEP=1`. With `BENCH_SCALE_REUSE=1` a kept database seeded at the same scale
is measured again without seeding. Then, as a local administrator of the largest region, logged in
through Django's test client, it prints p50 and p95 (ms over `BENCH_SCALE_RUNS` runs with varied
inputs) and the SQL statements of each page or read of the `FIGURES` registry, and the rate of the
bulk figures (rows per second). `BENCH_SCALE_SQL=1` prints the statements themselves.
docs/benchmarks.md, "National scale", says how to read the figures.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # set Django up before the models are imported
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    import django

    django.setup()

import contextlib  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import unicodedata  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from django.conf import settings  # noqa: E402
from django.db import DatabaseError, connection  # noqa: E402

from benchmarks.bulk import NULL, copy_rows, row_uuid, secondary_indexes  # noqa: E402

#: The scale: 1.0 is the sizes of the module's docstring.
SCALE = float(os.environ.get("BENCH_SCALE", "1.0"))
STAFF = max(100, round(1_000_000 * SCALE))
PATIENTS = max(1000, round(10_000_000 * SCALE))
AUDIT_ROWS = max(1000, round(20_000_000 * SCALE))
#: Months of audit rows, the current one included.
MONTHS = 24
#: Care units in all (a fixed tree whatever the scale), about this many per care provider.
UNITS = 3000
UNITS_PER_PROVIDER = 18
#: Runs timed per figure (each with another input), after one untimed warm-up.
RUNS = int(os.environ.get("BENCH_SCALE_RUNS", "30"))
#: The comment on a seeded database: the scale it holds (`BENCH_SCALE_REUSE`).
SEEDED = "bench-scale: scale={scale} seeded"

#: Regions (root organisations, not care providers themselves) and their share of the country's
#: population (SCB, rounded), which sizes their care units and staff.
REGIONS = [
    ("Region Stockholm", 23.5), ("Västra Götalandsregionen", 17.0), ("Region Skåne", 13.3),
    ("Region Östergötland", 4.5), ("Region Uppsala", 3.8), ("Region Jönköpings län", 3.5),
    ("Region Halland", 3.3), ("Region Örebro län", 2.9), ("Region Sörmland", 2.9),
    ("Region Gävleborg", 2.7), ("Region Dalarna", 2.7), ("Region Värmland", 2.7),
    ("Region Västmanland", 2.6), ("Region Västerbotten", 2.6), ("Region Norrbotten", 2.4),
    ("Region Kalmar län", 2.3), ("Region Västernorrland", 2.3), ("Region Kronoberg", 1.9),
    ("Region Blekinge", 1.5), ("Region Jämtland Härjedalen", 1.2), ("Region Gotland", 0.6),
]
PROVIDER_KINDS = ["Sjukhusförvaltningen", "Närsjukvården", "Primärvården", "Psykiatrin",
                  "Tandvården", "Habiliteringen"]
UNIT_KINDS = ["Akutmottagningen", "Kardiologiska kliniken", "Ortopedkliniken", "Barnkliniken",
              "Vårdcentralen Centrum", "Vårdcentralen Söder", "Vårdcentralen Öster",
              "Geriatriska kliniken", "Röntgenkliniken", "Förlossningsavdelningen",
              "Öron-näsa-halskliniken", "Hudkliniken", "Ögonkliniken", "Kvinnokliniken",
              "Infektionskliniken", "Njurmedicin", "Lungmedicin", "Minnesmottagningen"]
#: Names (SCB's common Swedish names with å, ä and ö, and others): data, so Swedish.
GIVEN = ["Anna", "Erik", "Maria", "Lars", "Karin", "Anders", "Eva", "Johan", "Sara", "Per",
         "Lena", "Mikael", "Emma", "Oskar", "Ingrid", "Nils", "Sofia", "Gustav", "Elin", "Hassan",
         "Amira", "Jonas", "Maja", "Ali", "Fatima", "Olle", "Linnéa", "Viktor", "Alva", "Leo",
         "Åsa", "Örjan", "Märta", "Björn", "Göran", "Jörgen", "Håkan", "Ebba", "Agnes", "Sören",
         "Kerstin", "Birgitta", "Mohammed", "Yasmin", "Ida", "Hugo", "Ella", "Liam", "Wilma",
         "Noah", "Saga", "Elsa", "Astrid", "Åke", "Bengt", "Ulla", "Margareta", "Tove", "Stig"]
FAMILY = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
          "Persson", "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson",
          "Bengtsson", "Jönsson", "Lindberg", "Jakobsson", "Magnusson", "Lindström", "Olofsson",
          "Lindqvist", "Lindgren", "Berg", "Axelsson", "Bergström", "Lundberg", "Lind",
          "Lundgren", "Lundqvist", "Mattsson", "Berglund", "Fredriksson", "Sandberg", "Henriksson",
          "Forsberg", "Sjöberg", "Wallin", "Engström", "Eklund", "Danielsson", "Lundin", "Håkansson",
          "Björk", "Bergman", "Gunnarsson", "Holm", "Wikström", "Samuelsson", "Isaksson",
          "Fransson", "Bergqvist", "Nyström", "Holmberg", "Arvidsson", "Löfgren", "Söderberg",
          "Nyberg", "Blomqvist", "Claesson", "Nordström", "Åberg", "Öberg", "Ängström", "Sjögren",
          "Hägglund", "Ström", "Åström", "Mårtensson", "Hussein", "Ahmed", "Ali", "Nguyen"]
TITLES = ["Sjuksköterska", "Läkare", "Undersköterska", "Barnmorska", "Fysioterapeut",
          "Arbetsterapeut", "Kurator", "Medicinsk sekreterare", "Biomedicinsk analytiker"]
#: Table numbers of the seeded rows' ids (`row_uuid`).
T_ORG, T_STAFF, T_PATIENT, T_NUMBER, T_USER, T_EMPLOYEE, T_COMMISSION, T_AUDIT = range(51, 59)
#: Birth days of the patients (1926 on) and of the staff (1960 on); staff take birth numbers
#: from 500 up, patients below, so no two people share a personnummer.
PATIENT_BIRTHS = (date(1926, 1, 1), 36_524)
STAFF_BIRTHS = (date(1960, 1, 1), 16_071)
LOA3 = "http://id.elegnamnden.se/loa/1.0/loa3"


# ---- the seeded world: every attribute a pure function of an index ---------------------------

def _mix(n: int, salt: int) -> int:
    """A well-spread non-negative integer from `n` (deterministic)."""
    return ((n + salt) * 2654435761 ^ (n >> 7) * 40503) & 0x7FFFFFFF


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()


def orgnr(body: str) -> str:
    """A 10-digit organisationsnummer: the 9 digits of `body` and the Luhn check digit."""
    from stdnum import luhn

    return body + luhn.calc_check_digit(body)


def _luhn_weights(digits: str, start: int) -> int:
    """The Luhn sum of `digits` standing at positions `start`.. of a 9-digit body (the first,
    third, ... digits of the body are doubled)."""
    total = 0
    for k, ch in enumerate(digits, start):
        d = int(ch) * (2 if k % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return total


class Numbers:
    """Personnummer of the seeded people, built from a birth day and number with the Luhn sums of
    both parts cached (Skatteverket SKV 704; the same result as
    `identifiers.make_person_number`)."""

    def __init__(self) -> None:
        self.days: dict[tuple[date, int], tuple[str, int]] = {}
        self.serials = [(f"{s:03d}", _luhn_weights(f"{s:03d}", 6)) for s in range(1000)]

    def number(self, births: tuple[date, int], day: int, serial: int) -> str:
        found = self.days.get((births[0], day))
        if found is None:
            born = births[0] + timedelta(days=day)
            body = f"{born.year % 100:02d}{born.month:02d}{born.day:02d}"
            found = self.days[(births[0], day)] = (f"{born.year}{born.month:02d}{born.day:02d}",
                                                   _luhn_weights(body, 0))
        serial_text, serial_sum = self.serials[serial]
        return f"{found[0]}{serial_text}{(10 - (found[1] + serial_sum) % 10) % 10}"


NUMBERS = Numbers()


def patient_number(p: int) -> str:
    """Patient `p`'s personnummer, in load order (so the unique index grows at its end)."""
    per_day = math.ceil(PATIENTS / PATIENT_BIRTHS[1])
    return NUMBERS.number(PATIENT_BIRTHS, p // per_day, p % per_day)


def staff_number(s: int) -> str:
    per_day = math.ceil(STAFF / STAFF_BIRTHS[1])
    return NUMBERS.number(STAFF_BIRTHS, s // per_day, 500 + s % per_day)


def staff_name(s: int) -> tuple[str, str]:
    return GIVEN[_mix(s, 1) % len(GIVEN)], FAMILY[_mix(s, 2) % len(FAMILY)]


def patient_name(p: int) -> tuple[str, str]:
    return GIVEN[_mix(p, 3) % len(GIVEN)], FAMILY[_mix(p, 4) % len(FAMILY)]


@dataclass(frozen=True)
class Unit:
    index: int
    id: str
    hsa_id: str
    name: str
    region: int
    provider_id: str


@dataclass
class Tree:
    """The organisations: rows to load, the care units in load order and each region's first
    and last unit index (staff are spread evenly over the units, so a region's staff are the
    indexes of its units)."""

    rows: list[str] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    region_ids: list[str] = field(default_factory=list)
    region_units: list[tuple[int, int]] = field(default_factory=list)


def tree(stamp: str) -> Tree:
    """The 21 regions → care providers → care units (HSA-ids under each region's and care
    provider's organisationsnummer, Inera's HSA-id format)."""
    found = Tree()
    weights = sum(w for _, w in REGIONS)
    n = 0
    provider_count = 0
    for r, (region, weight) in enumerate(REGIONS):
        region_orgnr = orgnr(f"232100{r + 1:03d}")
        region_hsa = f"SE{region_orgnr}-0001"
        region_id = row_uuid(T_ORG, n + 1)
        n += 1
        found.region_ids.append(region_id)
        found.rows.append(f"{region_id},{stamp},{stamp},{region_hsa},{region},{NULL},"
                          f"/{region_hsa}/,f,f,,{NULL}\n")
        units = max(UNITS_PER_PROVIDER, round(UNITS * weight / weights))
        first = len(found.units)
        for p in range(math.ceil(units / UNITS_PER_PROVIDER)):
            provider_count += 1
            number = orgnr(f"55{provider_count:07d}")
            provider_hsa = f"SE{number}-0001"
            provider_id = row_uuid(T_ORG, n + 1)
            n += 1
            name = f"{PROVIDER_KINDS[p % len(PROVIDER_KINDS)]} {p // len(PROVIDER_KINDS) + 1}, " \
                   f"{region.removeprefix('Region ')}"
            found.rows.append(
                f"{provider_id},{stamp},{stamp},{provider_hsa},\"{name}\",{region_id},"
                f"/{region_hsa}/{provider_hsa}/,t,f,{number[:6]}-{number[6:]},{provider_id}\n")
            for u in range(min(UNITS_PER_PROVIDER, units - p * UNITS_PER_PROVIDER)):
                unit_hsa = f"SE{number}-{u + 2:04d}"
                unit_id = row_uuid(T_ORG, n + 1)
                n += 1
                unit_name = f"{UNIT_KINDS[u % len(UNIT_KINDS)]} {provider_count}"
                found.units.append(Unit(len(found.units), unit_id, unit_hsa, unit_name, r,
                                        provider_id))
                found.rows.append(
                    f"{unit_id},{stamp},{stamp},{unit_hsa},{unit_name},{provider_id},"
                    f"/{region_hsa}/{provider_hsa}/{unit_hsa}/,f,t,,{provider_id}\n")
        found.region_units.append((first, len(found.units)))
    return found


def staff_unit(s: int, units: int) -> int:
    """The unit of staff `s`'s first employee HSA-id: staff spread evenly over the units."""
    return s * units // STAFF


def staff_range(world: Tree, region: int) -> range:
    """The staff of `region`: those whose first unit is one of its units."""
    first, last = world.region_units[region]
    units = len(world.units)
    return range(math.ceil(first * STAFF / units), math.ceil(last * STAFF / units))


def second_unit(s: int, world: Tree) -> int | None:
    """One staff member in ten has a second employee HSA-id, at another unit of their region."""
    if s % 10 != 3:
        return None
    unit = world.units[staff_unit(s, len(world.units))]
    first, last = world.region_units[unit.region]
    size = last - first
    return first + (unit.index - first + 1 + _mix(s, 5) % (size - 1)) % size


def employee_hsa_id(unit: Unit, s: int, second: bool = False) -> str:
    """Staff `s`'s employee HSA-id at `unit` (under its care provider's organisationsnummer)."""
    return f"{unit.hsa_id.split('-')[0]}-E{s:07d}{'B' if second else ''}"


def commission_hsa_id(unit: Unit, s: int, n: int) -> str:
    """The HSA-id of staff `s`'s commission `n` (0 or 1) at `unit`."""
    return f"{unit.hsa_id.split('-')[0]}-C{s:07d}{'B' if n else ''}"


# ---- seeding with COPY -----------------------------------------------------------------------

#: Names in ASCII (usernames, e-mail addresses), computed once.
ASCII = {name: _ascii(name).replace(" ", "") for name in GIVEN + FAMILY}
#: The tables loaded by COPY: their secondary indexes are dropped before and built after.
TABLES = ["organisations_organisation", "identities_person", "identities_identitynumber",
          "identities_user", "commissions_employee", "commissions_commission", "audit_auditevent"]


def staff_username(s: int) -> str:
    """Staff `s`'s username: names in ASCII and a code without `1` and `m`, so no two usernames
    share a confusable skeleton (`identities.models.username_skeleton`)."""
    given, family = staff_name(s)
    code, n = "", s
    while True:
        n, digit = divmod(n, 9)
        code = "023456789"[digit] + code
        if not n:
            break
    return f"{ASCII[given]}.{ASCII[family]}.{code}"


class Phases:
    """The seeding phases' times and rows, printed as they end and summed at the end."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.rows: dict[str, int] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[dict[str, int]]:
        counted: dict[str, int] = {}
        start = time.perf_counter()
        yield counted
        seconds = time.perf_counter() - start
        rows = counted.get("rows", 0)
        rate = f"{rows:>12,} rows {rows / seconds:>10,.0f} rows/s" if rows else ""
        print(f"  {name:44} {seconds:8.1f} s {rate}", flush=True)

    def total(self) -> float:
        return time.perf_counter() - self.started


def seed(world: Tree, now: datetime) -> None:
    """Every seeded row by COPY (foreign key triggers off while loading rows consistent by
    construction; the secondary indexes dropped before and built after), then VACUUM (ANALYZE),
    as autovacuum would leave the tables."""
    from apps.commissions.vocabularies import Purpose
    from apps.identities.identifiers import OID_PERSONNUMMER

    stamp = now.isoformat()
    phases = Phases()
    units = world.units
    indexes = secondary_indexes(TABLES)
    with connection.cursor() as cursor:
        with contextlib.suppress(DatabaseError):  # a superuser's setting; else the load is slower
            cursor.execute("SET session_replication_role = replica")
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")

    def people(table: int, count: int, name: Callable[[int], tuple[str, str]],
               email: bool) -> Iterator[str]:
        for i in range(count):
            given, family = name(i)
            address = f"{ASCII[given]}.{ASCII[family]}.{i}@region.example" if email else ""
            # Staff are marked as the employee HSA-id trigger would (it is off during the load).
            staff = "t" if table == T_STAFF else "f"
            yield f"{row_uuid(table, i + 1)},{stamp},{stamp},{given},{family},{address},f,{staff}\n"

    def numbers(table: int, count: int, number: Callable[[int], str], first: int
                ) -> Iterator[str]:
        for i in range(count):
            yield (f"{row_uuid(T_NUMBER, first + i + 1)},{stamp},{stamp},{row_uuid(table, i + 1)},"
                   f"{OID_PERSONNUMMER},{number(i)}\n")

    def users() -> Iterator[str]:
        for s in range(STAFF):
            yield (f"{row_uuid(T_USER, s + 1)},!,{NULL},{staff_username(s)},staff,"
                   f"{row_uuid(T_STAFF, s + 1)},t,{stamp},{row_uuid(T_USER + 100, s + 1)}\n")

    def employees() -> Iterator[str]:
        for s in range(STAFF):
            person = row_uuid(T_STAFF, s + 1)
            title = TITLES[_mix(s, 6) % len(TITLES)]
            unit = units[staff_unit(s, len(units))]
            yield (f"{row_uuid(T_EMPLOYEE, 2 * s + 1)},{stamp},{stamp},{person},"
                   f"{employee_hsa_id(unit, s)},{unit.id},{title}\n")
            other = second_unit(s, world)
            if other is not None:
                yield (f"{row_uuid(T_EMPLOYEE, 2 * s + 2)},{stamp},{stamp},{person},"
                       f"{employee_hsa_id(units[other], s, True)},{units[other].id},{title}\n")

    def commissions() -> Iterator[str]:
        for s in range(STAFF):
            unit = units[staff_unit(s, len(units))]
            since = (now - timedelta(days=30 + _mix(s, 7) % 3000)).isoformat()
            for n, purpose in enumerate((Purpose.CARE, Purpose.ADMINISTRATION)[:1 + (s % 5 < 2)]):
                yield (f"{row_uuid(T_COMMISSION, 2 * s + 1 + n)},{stamp},{stamp},{since},{NULL},"
                       f"Bench,{NULL},{NULL},,{commission_hsa_id(unit, s, n)},{purpose.value},"
                       f"{row_uuid(T_EMPLOYEE, 2 * s + 1)},{purpose.value},{unit.provider_id},"
                       f"{unit.id}\n")

    person_columns = ("id, created_at, updated_at, given_name, family_name, email, is_protected, "
                      "is_staff")
    number_columns = "id, created_at, updated_at, person_id, root, extension"
    print(f"seeding at scale {SCALE} (COPY):", flush=True)
    loads: list[tuple[str, str, str, Callable[[], Iterator[str]]]] = [
        ("organisations", "organisations_organisation",
         "id, created_at, updated_at, hsa_id, name, parent_id, path, is_care_provider, "
         "is_care_unit, org_number, care_provider_id", lambda: iter(world.rows)),
        ("staff: people", "identities_person", person_columns,
         lambda: people(T_STAFF, STAFF, staff_name, True)),
        ("staff: personnummer", "identities_identitynumber", number_columns,
         lambda: numbers(T_STAFF, STAFF, staff_number, 0)),
        ("staff: login accounts", "identities_user",
         "id, password, last_login, username, kind, person_id, is_active, created_at, "
         "session_epoch", users),
        ("staff: employee HSA-ids", "commissions_employee",
         "id, created_at, updated_at, person_id, hsa_id, organisation_id, title", employees),
        ("staff: commissions", "commissions_commission",
         "id, created_at, updated_at, valid_from, valid_until, assigned_by_label, "
         "assigned_by_id, ended_at, end_reason, hsa_id, name, employee_id, purpose, "
         "care_provider_id, care_unit_id", commissions),
        ("patients: people", "identities_person", person_columns,
         lambda: people(T_PATIENT, PATIENTS, patient_name, False)),
        ("patients: personnummer", "identities_identitynumber", number_columns,
         lambda: numbers(T_PATIENT, PATIENTS, patient_number, STAFF)),
    ]
    for name, table, columns, lines in loads:
        with phases.phase(name) as counted:
            counted["rows"] = copy_rows(table, columns, lines())
    with connection.cursor() as cursor:
        # The audit rows with every trigger of the table (a BEFORE INSERT one fills each row's
        # hash, where there is one).
        cursor.execute("RESET session_replication_role")
    with phases.phase(f"audit rows ({MONTHS} months)") as counted:
        audit_partitions(now)
        counted["rows"] = copy_rows("audit_auditevent", AUDIT_COLUMNS, audit_lines(world, now))
    with phases.phase(f"{len(indexes)} secondary indexes built"), connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _name, definition in indexes:
            cursor.execute(definition)
        cursor.execute("RESET maintenance_work_mem")
    with phases.phase("VACUUM (ANALYZE)"), connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    print(f"  {'seeded in':44} {phases.total():8.1f} s", flush=True)


AUDIT_COLUMNS = (
    "id, occurred_at, action, outcome, actor_id, actor_label, actor_kind, actor_identifier, "
    "commission_hsa_id, organisation_hsa_id, organisation_label, subject_person_id, "
    "subject_label, target_type, target_id, target_label, changes, reason, request_id, ip, loa")


def first_month(now: datetime) -> datetime:
    """The start (UTC) of the first of the `MONTHS` months up to `now`'s."""
    month = now.year * 12 + now.month - 1 - (MONTHS - 1)
    return datetime(month // 12, month % 12 + 1, 1, tzinfo=UTC)


def audit_partitions(now: datetime) -> None:
    """The audit table's monthly partitions for the `MONTHS` months up to `now`'s (the
    migration makes those from its own month on): COPY into the parent table routes each row to
    its month's; a row of a month without one would land in the default partition."""
    from apps.audit.partitions import partitions_ensure

    partitions_ensure(first_month(now).date(), now.date())


def audit_lines(world: Tree, now: datetime) -> Iterator[str]:
    """`AUDIT_ROWS` audit rows in time order, evenly over the `MONTHS` months up to `now`:
    80 % access decisions about a patient (3 % of them denied), 3 % consents, emergency access
    and blocks registered for a patient, 10 % staff logins, sessions and commission choices,
    4 % administrators' changes to staff at a unit, 3 % person-wide events without a unit. Each
    staff member's columns are built once (`StaffColumns`): this generator feeds COPY, so its
    speed bounds the load's."""
    rng = random.Random(20)
    draw = rng.random
    staff = StaffColumns(world)
    regions = [staff_range(world, r) for r in range(len(REGIONS))]
    start_us = int(first_month(now).timestamp() * 1_000_000)
    step = (int(now.timestamp() * 1_000_000) - start_us) / AUDIT_ROWS
    minute, prefix = -1, ""
    registered = ("consent.given,success", "emergency_access.registered,success",
                  "block.registered,success")
    targets = ("consents.consentassertion", "consents.consentassertion", "blocks.block")
    own = ("login.succeeded", "session.started", "commission.chosen", "session.ended")
    changes = ("commission.granted", "commission.ended", "employee.created", "role.granted",
               "account.deactivated", "employee.moved")
    wide = ("person.left", "password.changed", "second_factor.reset", "sessions.ended")
    tail = f",{{}},,,{NULL},{LOA3}\n"
    for k in range(AUDIT_ROWS):
        us = start_us + int((k + draw()) * step)
        if us // 60_000_000 != minute:
            minute = us // 60_000_000
            prefix = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%d %H:%M")
        rest = us - minute * 60_000_000
        head = (f"{row_uuid(T_AUDIT, k + 1)},{prefix}:{rest // 1_000_000:02d}."
                f"{rest % 1_000_000:06d}+00")
        s = int(draw() * STAFF)
        actor, org, commission, person = staff.of(s)
        roll = draw()
        if roll < 0.83:
            p = int(draw() * PATIENTS)
            given, family = patient_name(p)
            patient = row_uuid(T_PATIENT, p + 1)
            if roll < 0.80:
                what = ("access.decided,failure" if roll < 0.024 else "access.decided,success")
                target = f"rules.access,{patient},Läsa;alla"
            else:
                what = registered[k % 3]
                target = f"{targets[k % 3]},{row_uuid(T_AUDIT + 100, k + 1)},"
            yield (f"{head},{what},{actor},{commission},{org},{patient},{given} {family},"
                   f"{target}{tail}")
        elif roll < 0.93:
            action = own[k % 4]
            where = f"{commission},{org}" if action == "commission.chosen" else ",,"
            yield (f"{head},{action},success,{actor},{where},{person},"
                   f"identities.user,{row_uuid(T_USER, s + 1)},{tail}")
        else:
            # An administrator of the same region acts on staff member `s`.
            region = regions[world.units[staff_unit(s, len(world.units))].region]
            admin = staff.of(region.start + _mix(k, 8) % len(region))[0]
            if roll < 0.97:
                action, where = changes[k % len(changes)], f",{org}"
            else:
                action, where = wide[k % len(wide)], ",,"
            yield (f"{head},{action},success,{admin},{where},{person},identities.person,"
                   f"{person.split(',')[0]},{tail}")


class StaffColumns:
    """Staff members' audit columns, built on first use and kept: (actor: id, label, kind and
    username; organisation: HSA-id and name of their unit; their care commission's HSA-id;
    subject: person id and label)."""

    def __init__(self, world: Tree) -> None:
        self.units = world.units
        self.found: dict[int, tuple[str, str, str, str]] = {}

    def of(self, s: int) -> tuple[str, str, str, str]:
        found = self.found.get(s)
        if found is None:
            given, family = staff_name(s)
            unit = self.units[staff_unit(s, len(self.units))]
            found = self.found[s] = (
                f"{row_uuid(T_USER, s + 1)},{given} {family},user,{staff_username(s)}",
                f"{unit.hsa_id},{unit.name}", commission_hsa_id(unit, s, 0),
                f"{row_uuid(T_STAFF, s + 1)},{given} {family}")
        return found


def database_size() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        return str(cursor.fetchone()[0])


# ---- the figures -----------------------------------------------------------------------------

class NotAvailable(Exception):
    """A figure's function is not in this build: the figure prints "n/a (not available)"."""


def available(module: str, name: str) -> Any:
    """`module.name`, or NotAvailable when either is missing (a figure wired before its function
    is merged)."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise NotAvailable(f"{module}.{name}") from exc


@dataclass
class Bench:
    """What the figures run against: the administrator's logged-in test client, the largest
    region (its scope), and varied inputs drawn from the seeded world."""

    client: Any
    world: Tree
    region: int
    staff: list[int]
    patients: list[uuid.UUID]
    months: list[tuple[date, date]]
    now: datetime
    #: A temporary folder for files a figure writes (seal keys, exports), removed at the end.
    folder: Path

    def get(self, url: str, **query: Any) -> Any:
        """A page through the test client; anything but 200 stops the run (a redirect to the
        login page would time nothing useful)."""
        response = self.client.get(url, query)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} {query} answered {response.status_code}")
        return response

    def unit(self, i: int) -> Unit:
        first, last = self.world.region_units[self.region]
        return self.world.units[first + _mix(i, 9) % (last - first)]


#: A latency figure: given the bench, a function of the run number (0..RUNS) that does one
#: request or read with that run's input.
Run = Callable[[int], object]
#: A rate figure: given the bench, a function that does the whole job and returns its rows.
Job = Callable[[], int]


@dataclass(frozen=True)
class Figure:
    """One line of the table. `latency` or `rate` prepares it (None: not available yet);
    `goal_ms` is a p95 goal, `goal_rate` a rows-per-second goal."""

    name: str
    latency: Callable[[Bench], Run] | None = None
    rate: Callable[[Bench], Job] | None = None
    goal_ms: float | None = None
    goal_rate: float | None = None


def _list_url() -> str:
    from django.urls import reverse

    return reverse("administration:person_list")


def person_search(query: Callable[[Bench, int], str]) -> Callable[[Bench], Run]:
    """The staff list page searched (`?q=`) for `query(bench, run)`, an attribute of the run's
    staff member; the page must name that member (checked once, untimed), so a search that finds
    nobody cannot pass for a fast one."""
    def prepare(bench: Bench) -> Run:
        url = _list_url()
        given, family = staff_name(bench.staff[RUNS])
        page = bench.get(url, q=query(bench, RUNS)).content.decode()
        if f"{given} {family}" not in page and f"{family}, {given}" not in page:
            raise RuntimeError(f"the search for {query(bench, RUNS)!r} did not find "
                               f"{given} {family}")
        return lambda i: bench.get(url, q=query(bench, i))
    return prepare


def list_page(number: int) -> Callable[[Bench], Run]:
    """Page `number` of the staff list without a query (the last page when there are fewer).
    The list pages by keyset (`?after=<cursor>`, apps.core.paging): the cursor of the row just
    before page `number` is found once, untimed, by an OFFSET over the same order, and only the
    GET of that page is timed, as a person who followed the Next links `number - 1` times would
    fetch it."""
    def prepare(bench: Bench) -> Run:
        from apps.administration.views import PAGE_SIZE
        from apps.commissions.policies import scope_roots
        from apps.commissions.selectors import PERSON_KEYS, person_search_in_scope
        from apps.core.paging import encode_position

        url = _list_url()
        if number <= 1:
            return lambda i: bench.get(url)
        from apps.identities.models import User

        admin = User.objects.get(username="bench.admin")
        people = person_search_in_scope(scope_roots(admin), "").order_by(*PERSON_KEYS)
        total = len(staff_range(bench.world, bench.region))
        before = people[min(number - 1, max(1, math.ceil(total / PAGE_SIZE)) - 1) * PAGE_SIZE - 1]
        after = encode_position(before, PERSON_KEYS)
        page = bench.get(url, after=after)
        if page.status_code != 200 or b"The page link was not valid" in page.content:
            raise RuntimeError(f"page {number} of the staff list was not served by its cursor")
        return lambda i: bench.get(url, after=after)
    return prepare


def person_page(bench: Bench) -> Run:
    from django.urls import reverse

    return lambda i: bench.get(reverse("administration:person_detail", args=[
        row_uuid(T_STAFF, bench.staff[i] + 1)]))


def audit_month(by: str) -> Callable[[Bench], Run]:
    """The audit search page over one month of the 24, by an actor's username or by a unit of
    the region."""
    def prepare(bench: Bench) -> Run:
        from django.urls import reverse

        url = reverse("administration:audit_search")

        def run(i: int) -> object:
            since, until = bench.months[i % len(bench.months)]
            what = (staff_username(bench.staff[i]) if by == "actor" else bench.unit(i).id)
            return bench.get(url, **{by: what, "since": since.isoformat(),
                                     "until": until.isoformat()})
        return run
    return prepare


def log_extract(bench: Bench) -> Run:
    """A patient's log extract as the patient's page reads it: its first keyset page."""
    from apps.audit.selectors import AUDIT_KEYS, log_extract_for_person
    from apps.core.paging import keyset_page
    from apps.selfservice.patient import LOG_PAGE_SIZE

    def run(i: int) -> object:
        return keyset_page(log_extract_for_person(bench.patients[i]), AUDIT_KEYS,
                           size=LOG_PAGE_SIZE).rows
    return run


def _last_whole_month(bench: Bench) -> tuple[date, date]:
    """The first and last day of the last whole month of the 24 (the one before now's)."""
    return bench.months[-2]


def chain_sealing(bench: Bench) -> Job:
    """Seal every UTC day of the last whole month (`apps.audit.integrity.day_seal`, as the
    scheduler does each day), with a seal key kept under `VAR_DIR/bench-scale/<database>/`; the
    rows chained."""
    day_seal = available("apps.audit.integrity", "day_seal")
    key_init = available("apps.audit.integrity", "seal_key_init")
    from apps.core.actors import WORKER

    # Beside the database it seals (a kept one is measured again with the same key).
    folder = settings.VAR_DIR / "bench-scale" / str(connection.settings_dict["NAME"]) / "seal"
    settings.PORTAL_AUDIT_SEAL_KEY_FILE = folder / "seal-key.pem"
    settings.PORTAL_AUDIT_SEAL_PUBLIC_KEY_DIR = folder / "public"
    key_init()
    first, last = _last_whole_month(bench)

    def job() -> int:
        rows = 0
        for n in range((last - first).days + 1):
            seals = day_seal(actor=WORKER, day=first + timedelta(days=n))
            rows += seals[0].day_count if seals else 0
        return rows
    return job


def chain_verification(bench: Bench) -> Job:
    """Verify the month `chain_sealing` sealed (`apps.audit.integrity.verify`): its rows against
    their digests and the signed chain; a finding is printed (there should be none)."""
    verify = available("apps.audit.integrity", "verify")
    first, last = _last_whole_month(bench)

    def job() -> int:
        report = verify(first, last, now=bench.now)
        for finding in report.findings[:5]:
            print(f"    finding: {finding}")
        return int(report.rows_checked)
    return job


def month_export(bench: Bench) -> Job:
    """Export the last whole month's partition to a gzip file with its manifest
    (`apps.audit.archive.export`, the archive's first step) in the bench's folder."""
    export = available("apps.audit.archive", "export")
    month = _last_whole_month(bench)[0]
    return lambda: int(export(month, bench.folder / "archive").rows)


#: The figures, in the order printed. The chain and the export print "n/a (not available)" until
#: their functions are in the build; the sealing runs before the verification, which needs it.
FIGURES: list[Figure] = [
    Figure("search by name", person_search(
        lambda b, i: " ".join(staff_name(b.staff[i]))), goal_ms=100),
    Figure("search by personnummer", person_search(
        lambda b, i: (lambda n: f"{n[:8]}-{n[8:]}")(staff_number(b.staff[i]))), goal_ms=100),
    Figure("search by employee HSA-id", person_search(lambda b, i: employee_hsa_id(
        b.world.units[staff_unit(b.staff[i], len(b.world.units))], b.staff[i])), goal_ms=100),
    Figure("staff list, page 1", list_page(1), goal_ms=100),
    Figure("staff list, page 2,000", list_page(2000), goal_ms=100),
    Figure("person page", person_page),
    Figure("audit search by actor, one month", audit_month("actor"), goal_ms=100),
    Figure("audit search by unit, one month", audit_month("unit"), goal_ms=100),
    Figure("log extract, one patient", log_extract, goal_ms=50),
    Figure("chain sealing, one month", rate=chain_sealing),
    Figure("chain verification, one month", rate=chain_verification, goal_rate=100_000),
    Figure("export of one month", rate=month_export),
]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def measure(bench: Bench) -> None:
    """Print each figure: p50, p95 and SQL statements of one run; or rows per second."""
    print(f"\n{'figure':36} {'p50 ms':>9} {'p95 ms':>9} {'SQL':>4}  goal")
    for figure in FIGURES:
        try:
            statements = report(figure, bench)
        except NotAvailable:
            print(f"{figure.name:36} n/a (not available)")
            continue
        if os.environ.get("BENCH_SCALE_SQL"):
            for sql in statements:
                print(f"    {sql}")


def report(figure: Figure, bench: Bench) -> list[str]:
    """Time `figure` and print its line; returns the SQL statements of one run. Raises
    NotAvailable when its function is not in the build."""
    statements: list[str] = []

    def counting(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    if figure.latency is not None:
        run = figure.latency(bench)
        run(RUNS)  # warm: the connection, the caches, the templates
        with connection.execute_wrapper(counting):
            run(0)
        times = []
        for i in range(RUNS):
            start = time.perf_counter()
            run(i)
            times.append((time.perf_counter() - start) * 1000)
        p95 = _percentile(times, 0.95)
        verdict = ("" if figure.goal_ms is None else
                   f"p95 <= {figure.goal_ms:.0f} ms: " + ("met" if p95 <= figure.goal_ms
                                                         else "MISSED"))
        print(f"{figure.name:36} {statistics.median(times):9.1f} {p95:9.1f} "
              f"{len(statements):4d}  {verdict}", flush=True)
        return statements
    if figure.rate is None:
        raise NotAvailable(figure.name)
    job = figure.rate(bench)
    start = time.perf_counter()
    with connection.execute_wrapper(counting):
        rows = job()
    seconds = time.perf_counter() - start
    verdict = ("" if figure.goal_rate is None else
               f">= {figure.goal_rate:,.0f} rows/s: " + ("met" if rows / seconds >= figure.goal_rate
                                                        else "MISSED"))
    print(f"{figure.name:36} {rows:,} rows in {seconds:.1f} s: {rows / seconds:,.0f} rows/s "
          f"({len(statements)} SQL)  {verdict}", flush=True)
    return statements


def admin_client(world: Tree, region: int) -> Any:
    """A local administrator of `region` (made through the services when missing), logged in to
    a test client at LoA 3 as a federated login leaves the session (`tests.conftest`)."""
    from django.test import Client
    from django.utils import timezone

    from apps.commissions import services as commissions
    from apps.commissions.models import Role
    from apps.core.actors import SYSTEM
    from apps.identities import services as identities
    from apps.identities.identifiers import make_person_number
    from apps.identities.models import User
    from apps.organisations.models import Organisation
    from tests.conftest import login_session

    user = User.objects.filter(username="bench.admin").first()
    if user is None:
        root = Organisation.objects.get(pk=world.region_ids[region])
        person = identities.person_create(
            actor=SYSTEM, given_name="Bänk", family_name="Administratör",
            person_number=make_person_number(date(1925, 6, 1), 123))
        commissions.employee_create(actor=SYSTEM, person=person, organisation=root)
        user = identities.user_create(actor=SYSTEM, person=person, username="bench.admin",
                                      kind=User.Kind.STAFF)
        commissions.role_grant(actor=SYSTEM, person=person, role=Role.LOCAL_ADMIN,
                               organisation=root, valid_from=timezone.now(), valid_until=None)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # the test client's host
    return login_session(Client(), user)


def bench_for(world: Tree, now: datetime) -> Bench:
    """The largest region's administrator and `RUNS + 1` inputs of each kind."""
    rng = random.Random(30)
    region = 0
    staff = rng.sample(staff_range(world, region), RUNS + 1)
    candidates = [row_uuid(T_PATIENT, rng.randrange(PATIENTS) + 1) for _ in range(20 * RUNS)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT subject_person_id FROM audit_auditevent "
                       "WHERE subject_person_id = ANY(%s::uuid[])", [candidates])
        patients = [row[0] for row in cursor.fetchall()][:RUNS + 1]
    while len(patients) < RUNS + 1:  # at a small scale, some patients have no rows: fine too
        patients.append(uuid.UUID(candidates[len(patients)]))
    start = first_month(now)
    months = []
    for m in range(MONTHS):
        month = start.year * 12 + start.month - 1 + m
        first = date(month // 12, month % 12 + 1, 1)
        following = date((month + 1) // 12, (month + 1) % 12 + 1, 1)
        months.append((first, following - timedelta(days=1)))
    return Bench(admin_client(world, region), world, region, staff, patients, months, now,
                 Path(tempfile.mkdtemp(prefix="bench-scale-")))


# ---- the run ---------------------------------------------------------------------------------

def _server_comment(server: Any, name: str) -> str | None:
    with server.cursor() as cursor:
        cursor.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                       "WHERE datname = %s", [name])
        found = cursor.fetchone()
    return None if found is None else (found[0] or "")


def main() -> int:
    """Create (or reuse) the database, migrate, seed, measure; drop it unless kept."""
    import logging

    from django.core.management import call_command
    from django.utils import timezone

    from benchmarks.databases import server_connection

    if connection.vendor != "postgresql":
        print("make bench-scale needs PostgreSQL: set DATABASE_URL to a PostgreSQL database, "
              "e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal (the run creates its "
              "own database beside it, <name>_scale).", file=sys.stderr)
        return 2
    logging.getLogger("celery").setLevel(logging.WARNING)
    logging.getLogger("apps.audit").setLevel(logging.WARNING)  # a line per day sealed
    settings.DEBUG = False  # as in production: no query log while loading and measuring
    name = os.environ.get("BENCH_SCALE_DATABASE") or f"{settings.DATABASES['default']['NAME']}_scale"
    keep = os.environ.get("BENCH_SCALE_KEEP") == "1"
    seeded = SEEDED.format(scale=SCALE)
    server = server_connection()
    reuse = os.environ.get("BENCH_SCALE_REUSE") == "1" and _server_comment(server, name) == seeded
    if not reuse:
        with server.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    connection.settings_dict["NAME"] = settings.DATABASES["default"]["NAME"] = name
    print(f"bench-scale: database {name}, scale {SCALE}: {STAFF:,} staff, {PATIENTS:,} patients, "
          f"{AUDIT_ROWS:,} audit rows over {MONTHS} months; load average "
          + " ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs",
          flush=True)
    now = timezone.now()
    world = tree(now.isoformat())
    try:
        if reuse:
            print("  seeded before at this scale: reused (BENCH_SCALE_REUSE=1)")
        else:
            start = time.perf_counter()
            call_command("migrate", verbosity=0)
            print(f"  {'migrate':44} {time.perf_counter() - start:8.1f} s", flush=True)
            seed(world, now)
            with connection.cursor() as cursor:
                cursor.execute(f'COMMENT ON DATABASE "{name}" IS %s', [seeded])
        print(f"  {'database size':44} {database_size():>10}", flush=True)
        bench = bench_for(world, now)
        # As a web process does once its application is loaded (portal/wsgi.py): the loaded
        # objects out of the garbage collector's way.
        gc.collect()
        gc.freeze()
        try:
            measure(bench)
        finally:
            shutil.rmtree(bench.folder, ignore_errors=True)
    finally:
        connection.close()
        if keep:
            print(f"\nkept database {name} (BENCH_SCALE_KEEP=1): measure again with "
                  f"BENCH_SCALE_REUSE=1 BENCH_SCALE={SCALE}, drop it with dropdb {name}")
        else:
            with server.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
