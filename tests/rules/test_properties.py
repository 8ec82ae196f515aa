"""Properties of the pure decision (`apps.rules.decision.evaluate`), over generated facts:
an allow implies every rule's precondition held (so a missing precondition always denies), and
adding a block never turns a deny into an allow (nor an allow into a different allow)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.identities.identifiers import PersonIdentifier
from apps.rules.decision import (
    AccessRequest,
    BlockFacts,
    CommissionFacts,
    Facts,
    block_applies,
    crosses_providers,
    evaluate,
    scopes_covering,
    states_a_reason,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
P1, P2 = uuid.UUID(int=1), uuid.UUID(int=2)
UNITS = {uuid.UUID(int=11): P1, uuid.UUID(int=12): P1, uuid.UUID(int=21): P2}
ACTIVITIES = ["Läsa", "Skriva", "Utskrift"]
TYPES = ["alla", "lak", "upp", "dia"]
PURPOSES = ["Vård och behandling", "Statistik"]
TOLVAN = PersonIdentifier("1.2.752.129.2.1.3.1", "191212121212")

def mostly(good, bad):
    """`good` eight times in nine, so that generated cases reach every rule, allows included."""
    return st.sampled_from([good] * 8 + [bad])


times = st.one_of(st.none(), st.integers(-60, 10).map(lambda d: NOW + timedelta(days=d)))


@st.composite
def commissions(draw: st.DrawFn) -> CommissionFacts:
    unit = draw(st.sampled_from(sorted(UNITS)))
    rights = draw(st.frozensets(st.tuples(mostly("Läsa", "Skriva"), mostly("alla", "lak"),
                                          st.sampled_from(["VE", "VG", "SJF"])), min_size=1, max_size=4))
    start = NOW + timedelta(days=draw(mostly(-10, 1)))
    return CommissionFacts(
        commission_id=uuid.UUID(int=100), commission_hsa_id="SE2321000016-C1",
        employee_id=uuid.UUID(int=200), person_id=uuid.UUID(int=300),
        purpose=draw(mostly(PURPOSES[0], PURPOSES[1])), valid_from=start,
        valid_until=draw(st.sampled_from([None, None, NOW + timedelta(hours=1),
                                          NOW - timedelta(hours=1)])),
        ended_at=draw(mostly(None, NOW - timedelta(minutes=5))),
        care_provider_id=UNITS[unit], care_unit_id=unit, care_unit_hsa_id="SE2321000016-U",
        rights=rights)


@st.composite
def blocks(draw: st.DrawFn) -> BlockFacts:
    inner = draw(st.booleans())
    start, end = draw(times), draw(times)
    if start and end and end <= start:
        start, end = end, start + timedelta(days=1)
    return BlockFacts(
        id=uuid.uuid4(), block_type="inner" if inner else "outer",
        care_unit_id=draw(st.sampled_from(sorted(UNITS))) if inner else None,
        period_start=start, period_end=end,
        excluded_types=draw(st.frozensets(st.sampled_from(["lak", "upp"]))),
        temporarily_revoked=draw(st.booleans()))


@st.composite
def cases(draw: st.DrawFn) -> tuple[AccessRequest, Facts]:
    owner_unit = draw(st.one_of(st.none(), st.sampled_from(sorted(UNITS))))
    owner_provider = UNITS[owner_unit] if owner_unit else draw(st.sampled_from([P1, P2]))
    info_from, info_until = draw(times), draw(times)
    if info_from and info_until and info_until < info_from:
        info_from, info_until = info_until, info_from
    request = AccessRequest(
        patient=draw(mostly(TOLVAN, None)),
        care_provider_hsa_id=draw(mostly("SE2321000016-0001", None)),
        care_unit_hsa_id="SE2321000016-U" if owner_unit else None,
        information_type=draw(st.sampled_from([*TYPES, *TYPES, "xyz"])),
        activity=draw(mostly("Läsa", "Utskrift")), purpose=draw(mostly(*PURPOSES)),
        when=NOW, care_relationship=draw(mostly(True, False)), emergency=draw(st.booleans()),
        emergency_reason=draw(st.sampled_from(["", " ", "Unconscious"])),
        information_from=info_from, information_until=info_until)
    commission = draw(mostly(True, False).flatmap(
        lambda present: commissions() if present else st.none()))
    facts = Facts(
        commission=commission,
        system_care_provider_id=draw(mostly(commission.care_provider_id if commission else P1,
                                            P2)),
        patient_id=draw(mostly(uuid.UUID(int=400), None)),
        owner_provider_id=draw(mostly(owner_provider, None)),
        owner_unit_id=owner_unit, owner_unit_in_provider=draw(mostly(True, False)),
        consent=draw(st.booleans()),
        emergency_assertion_id=draw(st.sampled_from([None, uuid.UUID(int=500)])),
        emergency_assertion_reason="Unconscious",
        blocks=tuple(draw(st.lists(blocks(), max_size=3))))
    return request, facts


@settings(max_examples=300, deadline=None)
@given(cases())
def test_an_allow_means_every_precondition_held(case):
    request, facts = case
    verdict = evaluate(request, facts)
    if not verdict.allowed:
        return
    commission = facts.commission
    assert commission is not None and facts.patient_id is not None
    assert request.patient is not None and facts.owner_provider_id is not None
    assert facts.system_care_provider_id == commission.care_provider_id
    assert commission.valid_at(request.when)
    assert request.purpose == commission.purpose == "Vård och behandling"
    assert any(a == request.activity and t in (request.information_type, "alla")
               and s in scopes_covering(facts) for a, t, s in commission.rights)
    assert request.care_relationship
    if crosses_providers(facts):
        assert facts.consent or facts.emergency_assertion_id or states_a_reason(
            request.emergency_reason)
    assert not any(block_applies(request, facts, b) for b in facts.blocks)


@settings(max_examples=300, deadline=None)
@given(cases(), blocks())
def test_adding_a_block_never_turns_a_deny_into_an_allow(case, extra):
    request, facts = case
    before = evaluate(request, facts)
    after = evaluate(request, replace(facts, blocks=(*facts.blocks, extra)))
    if after.allowed:
        assert before.allowed and before.rule == after.rule
    if not before.allowed:
        assert not after.allowed


@settings(max_examples=300, deadline=None)
@given(cases())
def test_dropping_any_precondition_of_an_allow_denies(case):
    request, facts = case
    if not evaluate(request, facts).allowed:
        return
    assert facts.commission is not None
    knocked = [
        (request, replace(facts, commission=None)),
        (request, replace(facts, system_care_provider_id=None)),
        (request, replace(facts, patient_id=None)),
        (request, replace(facts, owner_provider_id=None)),
        (replace(request, patient=None), facts),
        (replace(request, care_relationship=False), facts),
        (replace(request, purpose="Statistik"), facts),
        (request, replace(facts, commission=replace(facts.commission, rights=frozenset()))),
        (request, replace(facts, commission=replace(facts.commission, ended_at=NOW))),
    ]
    for knocked_request, knocked_facts in knocked:
        assert not evaluate(knocked_request, knocked_facts).allowed
