"""Rules service figures (part of `make bench`): the PDL access decision at national scale, in
process and through the AuthZEN endpoint under gunicorn. Prints, never asserts.

PostgreSQL only (skipped on SQLite, whose figures would say nothing about production). The
decision runs in a database of its own, next to the one `make bench` was given: `<name>_rules`,
or `BENCH_RULES_DATABASE`. It is created, migrated and seeded with PostgreSQL COPY (rows only,
not through the services) at a scale of `BENCH_RULES_PEOPLE` patients (default 20,000; the
goal's scale is 1,000,000), each with on average 8 consent and emergency access assertions and 2
blocks, 1 in 20 active blocks temporarily revoked, and one audit row for each of those
registrations. A database already seeded at the same scale is reused (its comment says so); drop
it with `dropdb` to seed afresh. The figures run in a child process on that database
(`python -m benchmarks.rules` with its DATABASE_URL), which can also be run by hand.

What it prints (docs/benchmarks.md, "Rules service"): the seeding time and table sizes; for
`BENCH_RULES_DECISIONS` decisions of a random mix (within the care provider, with consent across
care providers, blocked, no right, no consent) the latency of `facts.acting_staff` +
`services.access_decide` (p50/p99 ms), the SQL reads and writes per decision, and the cost of the
audit row (the same decisions with the reads and the rules only, and the INSERT statement
alone); EXPLAIN ANALYZE of the three reads; and, when the AuthZEN endpoint is in the build,
requests/s and p99 at concurrency 8 and 32 for `POST /access/v1/evaluation` beside `/healthz` (a
constant JSON answer of the same server), `BENCH_RULES_SECONDS` each.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # the child process: set Django up before the models are imported
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.test")
    import django

    django.setup()

import contextlib  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import date, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

from django.conf import settings  # noqa: E402
from django.db import DatabaseError, connection  # noqa: E402

from benchmarks.bulk import copy_rows, row_uuid, secondary_indexes  # noqa: E402

#: Patients seeded (the goal's figures are for 1,000,000).
PEOPLE = int(os.environ.get("BENCH_RULES_PEOPLE", "20000"))
#: Decisions timed in process (each mode).
DECISIONS = int(os.environ.get("BENCH_RULES_DECISIONS", "2000"))
#: Seconds of load per endpoint and concurrency under gunicorn.
SECONDS = float(os.environ.get("BENCH_RULES_SECONDS", "5"))
CONCURRENCY = (8, 32)
#: Care providers, care units per care provider, staff (one commission each) per care unit.
PROVIDERS = 6
UNITS_PER_PROVIDER = 6
STAFF_PER_UNIT = 40
#: Patients whose rows are interleaved when loaded, so that one patient's consents and blocks lie
#: on different heap pages, as rows registered over years would.
CHUNK = 5000
#: The comment on a seeded database: the scale it holds.
SEEDED = "rules benchmark: people={people} seeded"

EVALUATION_PATH = "/access/v1/evaluation"
#: The scope a client credentials token needs for it.
SCOPE = "access.evaluate"


# ---- the seeded world ------------------------------------------------------------------------

@dataclass(frozen=True)
class Unit:
    index: int
    id: str
    hsa_id: str
    provider: int


@dataclass(frozen=True)
class Staff:
    """One employee with one commission at `unit`: `rights` "SJF" (VG and SJF), "VG" or "VE"."""

    index: int
    employee_id: str
    employee_hsa_id: str
    commission_hsa_id: str
    unit: Unit
    rights: str


@dataclass(frozen=True)
class PlannedConsent:
    unit: int
    emergency: bool
    state: str  # "in_force", "withdrawn", "expired"
    valid_from_days: int
    valid_for_days: int | None
    staff: int | None


@dataclass(frozen=True)
class PlannedBlock:
    provider: int
    unit: int | None  # inner block: the unit
    period: tuple[int, int] | None  # days before T0: (start, length)
    excludes_medication: bool
    excludes_alerts: bool
    state: str  # "active", "revoked", "deleted"
    registered_days: int
    revoke_unit: int | None  # a temporary revoke in force for this unit
    revoke_staff: int | None


def provider_orgnr(p: int) -> str:
    from stdnum import luhn

    body = f"55{p + 1:07d}"
    return body + luhn.calc_check_digit(body)


def world() -> tuple[list[str], list[Unit], list[Staff]]:
    """The care providers' HSA-ids, their units and staff (deterministic)."""
    providers = [f"SE{provider_orgnr(p)}-VG" for p in range(PROVIDERS)]
    units = [Unit(p * UNITS_PER_PROVIDER + u, row_uuid(11, p * UNITS_PER_PROVIDER + u + 1),
                  f"SE{provider_orgnr(p)}-VE{u + 1}", p)
             for p in range(PROVIDERS) for u in range(UNITS_PER_PROVIDER)]
    staff = []
    for unit in units:
        for s in range(STAFF_PER_UNIT):
            n = unit.index * STAFF_PER_UNIT + s
            rights = "VE" if s % 10 == 0 else "VG" if s % 10 == 1 else "SJF"
            orgnr = provider_orgnr(unit.provider)
            staff.append(Staff(n, row_uuid(13, n + 1), f"SE{orgnr}-E{n + 1}", f"SE{orgnr}-C{n + 1}",
                               unit, rights))
    return providers, units, staff


def person_number(i: int) -> str:
    """Patient `i`'s personnummer (12 digits): unique birth day and serial."""
    from apps.identities.identifiers import make_person_number

    days = 365 * 90
    return make_person_number(date(1930, 1, 1) + timedelta(days=i % days), i // days)


def plan(i: int, units: list[Unit], staff: list[Staff]) -> tuple[list[PlannedConsent],
                                                                  list[PlannedBlock]]:
    """Patient `i`'s consents (4..12) and blocks (0..4), deterministic."""
    rng = random.Random(i)
    consents = []
    for _ in range(rng.randint(4, 12)):
        unit = rng.randrange(len(units))
        emergency = rng.random() < 0.02
        roll = rng.random()
        state = "in_force" if roll < 0.8 else "withdrawn" if roll < 0.9 else "expired"
        start = rng.randint(30, 1800)
        length = (7 if emergency else None if state != "expired" and rng.random() < 0.6
                  else rng.randint(1, start - 1) if state == "expired"
                  else rng.randint(start + 30, start + 1000))
        if emergency and state == "in_force":
            start, length = rng.randint(0, 5), 7
        consents.append(PlannedConsent(
            unit, emergency, state, start, length,
            units[unit].index * STAFF_PER_UNIT + rng.randrange(STAFF_PER_UNIT) if emergency
            else None))
    blocks = []
    for _ in range(rng.choice((0, 1, 2, 2, 3, 4))):
        provider = rng.randrange(PROVIDERS)
        inner = rng.random() < 0.4
        inner_unit = (provider * UNITS_PER_PROVIDER + rng.randrange(UNITS_PER_PROVIDER) if inner
                      else None)
        period = ((rng.randint(400, 3000), rng.randint(30, 365)) if rng.random() < 0.3 else None)
        roll = rng.random()
        state = "active" if roll < 0.85 else "revoked" if roll < 0.95 else "deleted"
        revoke = state == "active" and rng.random() < 0.05
        revoke_unit = rng.randrange(len(units)) if revoke else None
        blocks.append(PlannedBlock(
            provider, inner_unit, period, rng.random() < 0.1, rng.random() < 0.1, state,
            rng.randint(10, 1800), revoke_unit,
            revoke_unit * STAFF_PER_UNIT + rng.randrange(STAFF_PER_UNIT)
            if revoke_unit is not None and rng.random() < 0.3 else None))
    return consents, blocks


# ---- seeding with COPY -----------------------------------------------------------------------

def _ts(when: datetime) -> str:
    return when.isoformat()


N = "\\N"


def seed_small(t0: datetime) -> tuple[list[str], list[Unit], list[Staff]]:
    """The care providers, units, staff, commissions and rights, through the ORM (rows only)."""
    from apps.commissions.models import Commission, CommissionRight, Employee
    from apps.commissions.vocabularies import Purpose
    from apps.identities.models import Person
    from apps.organisations.models import Organisation

    providers, units, staff = world()
    orgs = []
    for p, hsa in enumerate(providers):
        pid = row_uuid(10, p + 1)
        orgs.append(Organisation(id=pid, hsa_id=hsa, name=f"Vårdgivare {p + 1}", parent_id=None,
                                 path=f"/{hsa}/", is_care_provider=True, care_provider_id=pid,
                                 org_number=f"{provider_orgnr(p)[:6]}-{provider_orgnr(p)[6:]}"))
    Organisation.objects.bulk_create(orgs)
    Organisation.objects.bulk_create([
        Organisation(id=u.id, hsa_id=u.hsa_id, name=f"Vårdenhet {u.index + 1}",
                     parent_id=row_uuid(10, u.provider + 1),
                     path=f"/{providers[u.provider]}/{u.hsa_id}/", is_care_unit=True,
                     care_provider_id=row_uuid(10, u.provider + 1)) for u in units])
    Person.objects.bulk_create([Person(id=row_uuid(12, s.index + 1), given_name="Bench",
                                       family_name=f"Staff {s.index + 1}") for s in staff])
    Employee.objects.bulk_create([
        Employee(id=s.employee_id, person_id=row_uuid(12, s.index + 1), hsa_id=s.employee_hsa_id,
                 organisation_id=s.unit.id) for s in staff])
    Commission.objects.bulk_create([
        Commission(id=row_uuid(14, s.index + 1), hsa_id=s.commission_hsa_id, name="Vård",
                   employee_id=s.employee_id, purpose=Purpose.CARE,
                   care_provider_id=row_uuid(10, s.unit.provider + 1), care_unit_id=s.unit.id,
                   valid_from=t0 - timedelta(days=400), assigned_by_label="Bench")
        for s in staff])
    scopes = {"SJF": ("VG", "SJF"), "VG": ("VG",), "VE": ("VE",)}
    CommissionRight.objects.bulk_create([
        CommissionRight(commission_id=row_uuid(14, s.index + 1), activity="Läsa",
                        information_class="alla", scope=scope)
        for s in staff for scope in scopes[s.rights]])
    return providers, units, staff


def seed_large(t0: datetime, units: list[Unit], staff: list[Staff], providers: list[str]
               ) -> dict[str, int]:
    """People, identity numbers, consents, blocks, temporary revokes and their audit rows by COPY,
    the tables' secondary indexes dropped before and built after (as a bulk load is done)."""
    from apps.identities.identifiers import OID_PERSONNUMMER

    audit: list[str] = []  # audit lines of the current chunk (written after the chunk's rows)
    counts: Counter[str] = Counter()

    stamps: dict[int, str] = {}

    def days(n: int) -> str:
        """T0 less `n` whole days (negative: after T0), as text (cached: the load's hot path)."""
        found = stamps.get(n)
        if found is None:
            found = stamps[n] = _ts(t0 - timedelta(days=n))
        return found

    def audit_line(when: str, action: str, org: str, patient: str, target_type: str,
                   target: str) -> None:
        counts["audit"] += 1
        audit.append(
            f"{row_uuid(20, counts['audit'])},{when},{action},success,{N},Bench Registrar,user,"
            f"bench.registrar,,{org},,{patient},,{target_type},{target},,{{}},,,{N},\n")

    def people() -> Iterator[str]:
        for i in range(PEOPLE):
            yield (f"{row_uuid(1, i + 1)},{_ts(t0)},{_ts(t0)},Patient,Nummer {i + 1},,f\n")

    def numbers() -> Iterator[str]:
        for i in range(PEOPLE):
            yield (f"{row_uuid(2, i + 1)},{_ts(t0)},{_ts(t0)},{row_uuid(1, i + 1)},"
                   f"{OID_PERSONNUMMER},{person_number(i)}\n")

    consent_lines: list[str] = []
    block_lines: list[str] = []
    revoke_lines: list[str] = []

    def chunk(first: int) -> None:
        """Plans of patients first..first+CHUNK, emitted round by round (interleaved)."""
        plans = [(i, *plan(i, units, staff)) for i in range(first, min(first + CHUNK, PEOPLE))]
        for k in range(12):
            for i, consents, blocks in plans:
                patient = row_uuid(1, i + 1)
                if k < len(consents):
                    c = consents[k]
                    counts["consent"] += 1
                    cid = row_uuid(3, counts["consent"])
                    unit = units[c.unit]
                    start = days(c.valid_from_days)
                    until = (N if c.valid_for_days is None
                             else days(c.valid_from_days - c.valid_for_days))
                    cancelled = (days(c.valid_from_days - c.valid_from_days // 2)
                                 if c.state == "withdrawn" else N)
                    kind = "emergency" if c.emergency else "consent"
                    consent_lines.append(
                        f"{cid},{start},{start},{kind},{patient},"
                        f"{row_uuid(10, unit.provider + 1)},{unit.id},"
                        f"{staff[c.staff].employee_id if c.staff is not None else N},"
                        f"{start},{until},,{'Medvetslös' if c.emergency else ''},"
                        f"{start},{N},Bench Registrar,{cancelled},{N},"
                        f"{'Bench Registrar' if c.state == 'withdrawn' else ''},{N},{N},,\n")
                    audit_line(start, "emergency_access.registered" if c.emergency
                               else "consent.given", unit.hsa_id, patient,
                               "consents.consentassertion", cid)
                if k < len(blocks):
                    b = blocks[k]
                    counts["block"] += 1
                    bid = row_uuid(4, counts["block"])
                    registered = days(b.registered_days)
                    next_day = days(b.registered_days - 1)
                    period = (f"{days(b.period[0])},{days(b.period[0] - b.period[1])}"
                              if b.period else f"{N},{N}")
                    revoked = (f"{next_day},{N},Bench Registrar,"
                               "Patientens begäran" if b.state == "revoked" else f"{N},{N},,")
                    deleted = (f"{next_day},{N},Bench Registrar,"
                               "Felregistrerad" if b.state == "deleted" else f"{N},{N},,")
                    block_lines.append(
                        f"{bid},{registered},{registered},"
                        f"{'inner' if b.unit is not None else 'outer'},{patient},"
                        f"{row_uuid(10, b.provider + 1)},"
                        f"{units[b.unit].id if b.unit is not None else N},{period},"
                        f"{'t' if b.excludes_medication else 'f'},"
                        f"{'t' if b.excludes_alerts else 'f'},{registered},{N},"
                        f"Bench Registrar,{revoked},{deleted}\n")
                    audit_line(registered, "block.registered", providers[b.provider],
                               patient, "blocks.block", bid)
                    if b.revoke_unit is not None:
                        counts["revoke"] += 1
                        rid = row_uuid(5, counts["revoke"])
                        since = days(1)
                        employee = (staff[b.revoke_staff].employee_id
                                    if b.revoke_staff is not None else N)
                        revoke_lines.append(
                            f"{rid},{since},{since},{bid},{units[b.revoke_unit].id},{employee},"
                            f"patients_consent,{since},{days(-5)},{since},"
                            f"{N},Bench Registrar,{N},{N},,\n")
                        audit_line(since, "block.temporary_revoke_registered",
                                   units[b.revoke_unit].hsa_id, patient, "blocks.temporaryrevoke",
                                   rid)

    def drain(lines: list[str]) -> Iterator[str]:
        yield from lines
        lines.clear()

    def chunks() -> Iterator[None]:
        for first in range(0, PEOPLE, CHUNK):
            chunk(first)
            yield None

    tables = ["identities_person", "identities_identitynumber", "consents_consentassertion",
              "blocks_block", "blocks_temporaryrevoke", "audit_auditevent"]
    indexes = secondary_indexes(tables)
    timings: dict[str, float] = {}
    with connection.cursor() as cursor:
        # No foreign key triggers while loading rows that are consistent by construction (a
        # superuser's setting; otherwise the triggers stay and the load is slower).
        with contextlib.suppress(DatabaseError):
            cursor.execute("SET session_replication_role = replica")
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
    start = time.perf_counter()
    copy_rows("identities_person",
          "id, created_at, updated_at, given_name, family_name, email, is_protected", people())
    copy_rows("identities_identitynumber", "id, created_at, updated_at, person_id, root, extension",
          numbers())
    timings["people and identity numbers"] = time.perf_counter() - start
    start = time.perf_counter()
    consent_columns = (
        "id, created_at, updated_at, assertion_type, patient_id, care_provider_id, care_unit_id, "
        "employee_id, valid_from, valid_until, representative_name, reason, registered_at, "
        "registered_by_id, registered_by_label, cancelled_at, cancelled_by_id, "
        "cancelled_by_label, deleted_at, deleted_by_id, deleted_by_label, delete_reason")
    block_columns = (
        "id, created_at, updated_at, block_type, patient_id, care_provider_id, care_unit_id, "
        "period_start, period_end, excludes_medication, excludes_alerts, registered_at, "
        "registered_by_id, registered_by_label, revoked_at, revoked_by_id, revoked_by_label, "
        "revoke_reason, deleted_at, deleted_by_id, deleted_by_label, delete_reason")
    revoke_columns = (
        "id, created_at, updated_at, block_id, care_unit_id, employee_id, reason, valid_from, "
        "valid_until, registered_at, registered_by_id, registered_by_label, cancelled_at, "
        "cancelled_by_id, cancelled_by_label, cancel_reason")
    audit_columns = (
        "id, occurred_at, action, outcome, actor_id, actor_label, actor_kind, actor_identifier, "
        "commission_hsa_id, organisation_hsa_id, organisation_label, subject_person_id, "
        "subject_label, target_type, target_id, target_label, changes, reason, request_id, ip, "
        "loa")
    for _ in chunks():  # each chunk's rows in four COPY statements
        copy_rows("consents_consentassertion", consent_columns, drain(consent_lines))
        copy_rows("blocks_block", block_columns, drain(block_lines))
        copy_rows("blocks_temporaryrevoke", revoke_columns, drain(revoke_lines))
        copy_rows("audit_auditevent", audit_columns, drain(audit))
    timings["consents, blocks, revokes, audit rows"] = time.perf_counter() - start
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("RESET session_replication_role")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _name, definition in indexes:
            cursor.execute(definition)
        cursor.execute("RESET maintenance_work_mem")
    timings[f"{len(indexes)} secondary indexes built"] = time.perf_counter() - start
    start = time.perf_counter()
    with connection.cursor() as cursor:
        # As autovacuum would leave the tables: statistics and the visibility map.
        cursor.execute("VACUUM (ANALYZE)")
    timings["VACUUM (ANALYZE)"] = time.perf_counter() - start
    for name, seconds in timings.items():
        print(f"  {name:46} {seconds:8.1f} s")
    return dict(counts)


def table_sizes() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.reltuples::bigint, pg_relation_size(c.oid), "
            "pg_indexes_size(c.oid) FROM pg_class c WHERE c.relname = ANY(%s) ORDER BY 1",
            [["identities_person", "identities_identitynumber", "consents_consentassertion",
              "blocks_block", "blocks_temporaryrevoke", "audit_auditevent",
              "commissions_commission", "commissions_commissionright"]])
        rows = cursor.fetchall()
    print(f"  {'table':32} {'rows':>12} {'heap MB':>9} {'indexes MB':>11}")
    for name, rows_, heap, index in rows:
        print(f"  {name:32} {rows_:12,} {heap / 2**20:9.0f} {index / 2**20:11.0f}")


# ---- the decisions ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Ask:
    """One decision to time: who asks (staff) about which patient and owner, and the mix kind."""

    kind: str
    staff: Staff
    patient: int
    provider_hsa_id: str
    unit_hsa_id: str | None
    information_type: str


def asks(count: int, providers: list[str], units: list[Unit], staff: list[Staff]) -> list[Ask]:
    """`count` asks of a random mix: 40 % within the care provider, 25 % with consent across care
    providers, 15 % for blocked information, 10 % without a right, 10 % without consent."""
    rng = random.Random(7)
    by_unit: dict[int, list[Staff]] = {}
    for s in staff:
        by_unit.setdefault(s.unit.index, []).append(s)
    types = ["alla", "dia", "lak", "und"]

    def someone(unit: int, rights: tuple[str, ...]) -> Staff:
        return rng.choice([s for s in by_unit[unit] if s.rights in rights])

    def other_unit(s: Staff) -> Unit:
        mine = [u for u in units if u.provider == s.unit.provider and u.index != s.unit.index]
        return rng.choice(mine)

    result: list[Ask] = []
    while len(result) < count:
        roll = rng.random()
        i = rng.randrange(PEOPLE)
        info = rng.choice(types)
        if roll < 0.40:
            s = someone(rng.randrange(len(units)), ("SJF", "VG"))
            u = other_unit(s)
            result.append(Ask("within provider", s, i, providers[u.provider], u.hsa_id, info))
        elif roll < 0.65 or roll >= 0.90:
            consents, _ = plan(i, units, staff)
            given = [c.unit for c in consents if c.state == "in_force" and not c.emergency]
            if roll < 0.65 and not given:
                continue
            if roll < 0.65:
                s = someone(rng.choice(given), ("SJF",))
                kind = "consent across providers"
            else:
                free = [u.index for u in units if u.index not in given]
                s = someone(rng.choice(free), ("SJF",))
                kind = "no consent"
            owner = rng.choice([p for p in range(PROVIDERS) if p != s.unit.provider])
            u = rng.choice([x for x in units if x.provider == owner])
            result.append(Ask(kind, s, i, providers[owner], u.hsa_id, info))
        elif roll < 0.80:
            consents, blocks = plan(i, units, staff)
            active = [b for b in blocks if b.state == "active" and b.revoke_unit is None
                      and b.period is None]
            if not active:
                continue
            b = rng.choice(active)
            if b.unit is not None:  # inner: someone at another unit of the same care provider
                s = someone(rng.choice([u.index for u in units if u.provider == b.provider
                                        and u.index != b.unit]), ("SJF", "VG"))
                result.append(Ask("blocked", s, i, providers[b.provider], units[b.unit].hsa_id,
                                  "dia"))
                continue
            given = [c.unit for c in consents if c.state == "in_force" and not c.emergency
                     and units[c.unit].provider != b.provider]
            if not given:
                continue
            s = someone(rng.choice(given), ("SJF",))
            u = rng.choice([x for x in units if x.provider == b.provider])
            result.append(Ask("blocked", s, i, providers[b.provider], u.hsa_id, "dia"))
        else:
            s = someone(rng.randrange(len(units)), ("VE",))
            u = other_unit(s)
            result.append(Ask("no right", s, i, providers[u.provider], u.hsa_id, info))
    return result


def _request(ask: Ask) -> Any:
    from django.utils import timezone

    from apps.commissions.vocabularies import Purpose
    from apps.identities.identifiers import OID_PERSONNUMMER, PersonIdentifier
    from apps.rules.decision import AccessRequest

    return AccessRequest(
        patient=PersonIdentifier(OID_PERSONNUMMER, person_number(ask.patient)),
        care_provider_hsa_id=ask.provider_hsa_id, care_unit_hsa_id=ask.unit_hsa_id,
        information_type=ask.information_type, activity="Läsa", purpose=Purpose.CARE,
        when=timezone.now(), care_relationship=True)


CLIENT_ID, CLIENT_LABEL = "bench-journal", "Bench record system"


def _system_provider(ask: Ask) -> uuid.UUID:
    """The care provider of the record system asking: the staff member's own (a system speaks
    only for its own care provider's staff, apps.rules.policies)."""
    return uuid.UUID(row_uuid(10, ask.staff.unit.provider + 1))


def decide(ask: Ask) -> Any:
    """What the endpoint does in process: the actor, then the decision with its audit row."""
    from apps.rules import facts, services

    actor = facts.acting_staff(client_id=CLIENT_ID, client_label=CLIENT_LABEL,
                               client_care_provider_id=_system_provider(ask),
                               employee_hsa_id=ask.staff.employee_hsa_id,
                               commission_hsa_id=ask.staff.commission_hsa_id)
    return services.access_decide(actor=actor, request=_request(ask)).verdict


def decide_reads_only(ask: Ask) -> Any:
    """The same reads and rules without the write (no transaction, no audit row)."""
    from apps.rules import facts
    from apps.rules.decision import evaluate

    actor = facts.acting_staff(client_id=CLIENT_ID, client_label=CLIENT_LABEL,
                               client_care_provider_id=_system_provider(ask),
                               employee_hsa_id=ask.staff.employee_hsa_id,
                               commission_hsa_id=ask.staff.commission_hsa_id)
    request = _request(ask)
    return evaluate(request, facts.gather(request, actor))


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def timed(fn: Callable[[Ask], Any], work: list[Ask]) -> tuple[list[float], list[Any], float]:
    """Wall times (ms) of `fn` over `work`, its results, and the mean CPU time of this process
    per call (ms: Python, Django and the driver's client side, whatever else the machine runs)."""
    times, verdicts = [], []
    cpu = 0.0
    for ask in work:
        cpu_start = time.process_time()
        start = time.perf_counter()
        verdicts.append(fn(ask))
        times.append((time.perf_counter() - start) * 1000)
        cpu += time.process_time() - cpu_start
    return times, verdicts, cpu * 1000 / len(work)


def timed_pair(first: Callable[[Ask], Any], second: Callable[[Ask], Any], work: list[Ask]
               ) -> tuple[tuple[list[float], list[Any], float], tuple[list[float], list[Any], float]]:
    """`timed` of both over `work`, interleaved ask by ask (in turn first or second first), so
    that both meet the same load of a shared machine and their difference is the extra work."""
    a: list[tuple[list[float], list[Any], float]] = []
    b: list[tuple[list[float], list[Any], float]] = []
    for n, ask in enumerate(work):
        if n % 2:
            b.append(timed(second, [ask]))
            a.append(timed(first, [ask]))
        else:
            a.append(timed(first, [ask]))
            b.append(timed(second, [ask]))

    def joined(parts: list[tuple[list[float], list[Any], float]]
               ) -> tuple[list[float], list[Any], float]:
        return ([t for p in parts for t in p[0]], [v for p in parts for v in p[1]],
                statistics.fmean(p[2] for p in parts))

    return joined(a), joined(b)


def in_process(providers: list[str], units: list[Unit], staff: list[Staff]) -> list[Ask]:
    from django.db import reset_queries
    from django.test.utils import CaptureQueriesContext

    settings.DEBUG = False  # as in production: no query log (the test settings turn it on)
    work = asks(DECISIONS, providers, units, staff)
    for ask in work[:200]:  # warm the connection, the caches and the plans' code paths
        decide(ask)
    # SQL statements per decision, counted on a sample (the capture itself costs time).
    sample = work[:500]
    reset_queries()
    with CaptureQueriesContext(connection) as captured:
        for ask in sample:
            decide(ask)
    kinds = Counter(q["sql"].split(None, 1)[0].upper() for q in captured.captured_queries)
    reset_queries()
    reads = kinds.pop("SELECT", 0)
    transaction_control = {k: kinds.pop(k) for k in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")
                           if k in kinds}
    writes = sum(kinds.values())
    # The statements' time in the database driver (execute to result), by kind.
    driver: dict[str, list[float]] = {"SELECT": [], "INSERT": []}

    def timing(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            driver.setdefault(sql.split(None, 1)[0].upper(), []).append(
                (time.perf_counter() - began) * 1000)

    with connection.execute_wrapper(timing):
        timed(decide, sample)
    insert_ms = driver["INSERT"]
    select_ms = sum(driver["SELECT"]) / len(sample)
    (full, verdicts, full_cpu), (reads_only, _, reads_cpu) = timed_pair(
        decide, decide_reads_only, work)
    outcomes = Counter(v.rule.code for v in verdicts)
    by_kind = Counter(a.kind for a in work)
    print(f"  {len(work):,} decisions: "
          + ", ".join(f"{kind} {n / len(work):.0%}" for kind, n in by_kind.most_common()))
    print("  outcomes: " + ", ".join(f"{code} {n / len(work):.1%}"
                                     for code, n in outcomes.most_common()))
    print(f"  {'':44} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name, values in (("acting_staff + access_decide", full),
                         ("the same, reads and rules only", reads_only),
                         ("the audit INSERT statement alone", insert_ms)):
        print(f"  {name:44} {statistics.median(values):8.3f} {_percentile(values, 0.99):8.3f} "
              f"{statistics.fmean(values):8.3f}")
    print(f"  {'the write (audit row, transaction, commit)':44} "
          f"{statistics.median(full) - statistics.median(reads_only):8.3f} {'':8} "
          f"{statistics.fmean(full) - statistics.fmean(reads_only):8.3f}   (difference)")
    print(f"  {'the reads in the database driver (mean)':44} {'':8} {'':8} {select_ms:8.3f}")
    print(f"  {'CPU of this process per decision (mean)':44} {'':8} {'':8} {full_cpu:8.3f}"
          f"   (reads and rules only: {reads_cpu:.3f})")
    print(f"  SQL per decision (sample of {len(sample)}): {reads / len(sample):.2f} reads, "
          f"{writes / len(sample):.2f} writes ("
          + ", ".join(f"{k} {v}" for k, v in kinds.items()) + "; and "
          + ", ".join(f"{k} {v}" for k, v in transaction_control.items()) + ")")
    print(f"  goal p99 <= 2 ms: {'met' if _percentile(full, 0.99) <= 2 else 'missed'}; "
          f"reads <= 3: {'met' if reads / len(sample) <= 3 else 'missed'}")
    explain(work)
    return work


def explain(work: list[Ask]) -> None:
    """EXPLAIN ANALYZE of the three reads of one blocked decision (all three run for it)."""
    from django.db import reset_queries
    from django.test.utils import CaptureQueriesContext

    ask = next(a for a in work if a.kind == "blocked")
    reset_queries()
    with CaptureQueriesContext(connection) as captured:
        decide_reads_only(ask)
    print("  EXPLAIN ANALYZE of the reads of one decision (planning / execution ms, top node):")
    with connection.cursor() as cursor:
        for n, query in enumerate(captured.captured_queries, 1):
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            plan_ = [row[0] for row in cursor.fetchall()]
            planning = next((r.split(":")[1].strip() for r in plan_ if r.startswith("Planning T")),
                            "?")
            execution = next((r.split(":")[1].strip() for r in plan_
                              if r.startswith("Execution T")), "?")
            print(f"    {n}. planning {planning:>10}  execution {execution:>10}   "
                  f"{plan_[0].split('  (')[0][:70]}")
            if os.environ.get("BENCH_RULES_EXPLAIN"):
                print("\n".join("       " + line for line in plan_))
    # The same three statements sent as text (planned each time, as psycopg2 sends them) and
    # as prepared statements (planned once): what the database and the round trips cost
    # without Django, and what planning takes of it.
    statements = [q["sql"] for q in captured.captured_queries]
    rounds = 300
    with connection.cursor() as cursor:
        for n, sql in enumerate(statements):
            cursor.execute(f"PREPARE bench_rules_{n} AS {sql}")
        figures = []
        for run_ in ([(sql, None) for sql in statements],
                     [(f"EXECUTE bench_rules_{n}", None) for n in range(len(statements))]):
            for sql, _ in run_:  # warm
                cursor.execute(sql)
                cursor.fetchall()
            start = time.perf_counter()
            for _ in range(rounds):
                for sql, _ in run_:
                    cursor.execute(sql)
                    cursor.fetchall()
            figures.append((time.perf_counter() - start) * 1000 / rounds)
        cursor.execute("DEALLOCATE ALL")
    print(f"  the three reads as SQL text without Django: {figures[0]:.3f} ms per decision; as "
          f"prepared statements: {figures[1]:.3f} ms (mean of {rounds})")


# ---- the AuthZEN endpoint under gunicorn -----------------------------------------------------

def _evaluation_body(ask: Ask) -> bytes:
    """An AuthZEN Access Evaluation request (OpenID AuthZEN 1.0 section 6; the members as
    docs/authzen.md maps them) for `ask`."""
    return json.dumps({
        "subject": {"type": "user", "id": ask.staff.employee_hsa_id,
                    "properties": {"commission": ask.staff.commission_hsa_id}},
        "resource": {"type": "patient_record", "id": person_number(ask.patient),
                     "properties": {"care_provider": ask.provider_hsa_id,
                                    "care_unit": ask.unit_hsa_id,
                                    "information_type": ask.information_type}},
        "action": {"name": "read"},
        "context": {"care_relationship": True},
    }).encode()


def _tokens() -> dict[int, str]:
    """A client credentials access token (scope `access.evaluate`) of one record system per care
    provider, registered and approved through the services, from the token endpoint through the
    test client; by care provider index. A system speaks only for its own care provider's staff,
    so each evaluation is sent with the token of its staff member's care provider."""
    from django.test import Client as DjangoClient

    from apps.core.actors import SYSTEM
    from apps.federation import services_oidc
    from apps.federation.oidc import keys
    from apps.organisations.models import Organisation
    from benchmarks.oidc import _basic

    keys.ensure()
    tokens = {}
    for p in range(PROVIDERS):
        provider = Organisation.objects.get(pk=row_uuid(10, p + 1))
        done = services_oidc.client_register(
            actor=SYSTEM, organisation=provider, name=f"bench record system {p + 1}",
            contact_name="Bench", contact_email="bench@demoland.example",
            client_type="confidential", grant_type="client-credentials",
            post_logout_redirect_uris=[], redirect_uris=[], allowed_scopes=[SCOPE],
            allowed_claims=[], algorithm="ES256", first_party=True)
        client = services_oidc.client_approve(actor=SYSTEM, client=done.client)
        response = DjangoClient(HTTP_HOST="127.0.0.1").post(
            "/oauth2/token/", {"grant_type": "client_credentials", "scope": SCOPE},
            HTTP_AUTHORIZATION=_basic(client, done.secret))
        assert response.status_code == 200, response.content
        tokens[p] = str(response.json()["access_token"])
    return tokens


def under_gunicorn(work: list[Ask]) -> None:
    from django.urls import Resolver404, resolve

    from benchmarks import oidc

    try:
        resolve(EVALUATION_PATH)
    except Resolver404:
        print(f"  skipped: POST {EVALUATION_PATH} is not in this build")
        return
    tokens = _tokens()
    requests = [(_evaluation_body(a), {"Content-Type": "application/json",
                                       "Authorization": f"Bearer {tokens[a.staff.unit.provider]}"})
                for a in work]
    position = [0]

    def evaluation(thread: int) -> tuple[str, str, bytes, dict[str, str]]:
        position[0] += 1
        body, headers = requests[position[0] % len(requests)]
        return "POST", EVALUATION_PATH, body, headers

    check = _first_answer(*requests[0])
    if check is not None:
        print(f"  skipped: the endpoint answered {check}")
        return
    port = oidc._free_port()
    server = oidc._serve(port)
    try:
        print(f"  gunicorn: {oidc.WORKERS} workers x {os.environ.get('GUNICORN_THREADS', '4')} "
              f"threads (gthread, portal/gunicorn.conf.py), debug off; {SECONDS:.0f} s per point, "
              "load from this process (threads, keep-alive)")
        print(f"  {'endpoint':28} {'c':>3} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'fail':>5}"
              f" {'req/s ratio':>12}")
        for concurrency in CONCURRENCY:
            base = oidc._load(port, concurrency, lambda n: ("GET", "/healthz", b"", {}),
                              lambda n, c: None, seconds=SECONDS)
            ours = oidc._load(port, concurrency, evaluation, lambda n, c: None, seconds=SECONDS)
            for name, (rate, p50, p99, failed) in (("GET /healthz", base),
                                                   (f"POST {EVALUATION_PATH}", ours)):
                ratio = f"{rate / base[0]:12.2f}" if name != "GET /healthz" else ""
                print(f"  {name:28} {concurrency:3d} {rate:8.0f} {p50:8.2f} {p99:8.2f} "
                      f"{failed:5d} {ratio}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def _first_answer(body: bytes, headers: dict[str, str]) -> str | None:
    """None when one evaluation through the test client answers 200, else what it answered;
    prints the SQL statements of one evaluation request, by kind."""
    from django.test import Client as DjangoClient

    kinds: Counter[str] = Counter()

    def counting(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        kinds[sql.split(None, 1)[0].upper()] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counting):
        response = DjangoClient(HTTP_HOST="127.0.0.1").post(
            EVALUATION_PATH, body, content_type="application/json",
            HTTP_AUTHORIZATION=headers["Authorization"])
    if response.status_code != 200:
        return f"{response.status_code} {response.content[:300]!r}"
    print("  SQL statements of one evaluation request (token check, client, decision): "
          + ", ".join(f"{kind} {n}" for kind, n in kinds.most_common()))
    return None


# ---- the two processes -----------------------------------------------------------------------

def run() -> None:
    """The child process: migrate, seed unless seeded at this scale, then the figures."""
    import logging

    from django.core.management import call_command
    from django.utils import timezone

    logging.getLogger("celery").setLevel(logging.WARNING)
    name = settings.DATABASES["default"]["NAME"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                       "WHERE datname = current_database()")
        comment = cursor.fetchone()[0]
    print(f"\nrules service: database {name}, {PEOPLE:,} people; load average "
          + " ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs")
    call_command("migrate", verbosity=0)
    if comment != SEEDED.format(people=PEOPLE):
        start = time.perf_counter()
        t0 = timezone.now()
        providers, units, staff = seed_small(t0)
        counts = seed_large(t0, units, staff, providers)
        with connection.cursor() as cursor:
            cursor.execute(f"COMMENT ON DATABASE {connection.ops.quote_name(name)} IS %s",
                           [SEEDED.format(people=PEOPLE)])
        print(f"  seeded in {time.perf_counter() - start:.1f} s (COPY): "
              + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    else:
        print("  seeded before at this scale: reused (dropdb it to seed afresh)")
        providers, units, staff = world()
    table_sizes()
    print("\nrules service, in process (acting_staff + access_decide, one audit row each):")
    work = in_process(providers, units, staff)
    print(f"\nrules service, {EVALUATION_PATH} under gunicorn:")
    under_gunicorn(work)


def main() -> None:
    """Called by benchmarks.run: run the figures in a child process on the rules database (made
    here when missing, dropped and made again when it holds another scale)."""
    if connection.vendor != "postgresql":
        print("rules service at scale: skipped (PostgreSQL only: set DATABASE_URL to a "
              "PostgreSQL database)")
        return
    from benchmarks.databases import database_url, server_connection

    name = (os.environ.get("BENCH_RULES_DATABASE")
            or f"{settings.DATABASES['default']['NAME']}_rules")
    server = server_connection()
    with server.cursor() as cursor:
        cursor.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                       "WHERE datname = %s", [name])
        found = cursor.fetchone()
        if found is None or found[0] != SEEDED.format(people=PEOPLE):
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cursor.execute(f'CREATE DATABASE "{name}"')
    server.close()
    url = database_url(name)
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "benchmarks.rules"], cwd=settings.BASE_DIR, env=env,
                   check=True)


if __name__ == "__main__":
    run()
