"""Deny by default: a request missing a member, with a malformed one, or naming nothing known is
denied with its rule, and still logged (docs/rules.md, "Inputs")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.identities.identifiers import parse_person_number
from tests.rules.conftest import rule

CASES = [
    ("a patient number that is not one", {"patient": None}, "input.unknown"),
    ("a patient the portal does not know", {"patient": parse_person_number("19800517-1015")},
     "patient.unknown"),
    ("no owner care provider", {"care_provider_hsa_id": None}, "input.unknown"),
    ("an owner that is not a care provider", {"care_provider_hsa_id": "SE2321000016-0100"},
     "owner.unknown"),
    ("an owner unknown to the portal", {"care_provider_hsa_id": "SE2321000016-9999"},
     "owner.unknown"),
    ("an unknown care unit", {"care_unit_hsa_id": "SE2321000016-0999"}, "owner.unknown"),
    ("a unit of another care provider", {"care_unit_hsa_id": "SE5560360793-0002"},
     "owner.unknown"),
    ("a unit that is not a care unit", {"care_unit_hsa_id": "SE2321000016-0100"},
     "owner.unknown"),
    ("an unknown information type", {"information_type": "xyz"}, "input.unknown"),
    ("an unknown activity", {"activity": "Radera"}, "input.unknown"),
    ("an unknown purpose", {"purpose": "Nyfikenhet"}, "input.unknown"),
    ("an information period ending before it starts",
     {"information_from": timezone.now(), "information_until": timezone.now() - timedelta(days=1)},
     "input.unknown"),
]


@pytest.mark.parametrize(("case", "change", "expected"), CASES, ids=[c[0] for c in CASES])
def test_an_incomplete_or_unknown_request_is_denied(world, case, change, expected):
    decision = world.ask(world.cardio_nurse, **change)
    assert not decision.allowed
    assert rule(decision) == expected
    event = AuditEvent.objects.get(pk=decision.id)
    assert event.outcome == AuditEvent.Outcome.FAILURE
    assert event.changes["rule"] == expected


@pytest.mark.parametrize("commission", ["SE2321000016-NOPE", "not an HSA-id", ""])
def test_a_commission_the_employee_does_not_hold_is_denied(world, commission):
    decision = world.ask(world.cardio_nurse, commission_hsa_id=commission or " ")
    assert rule(decision) == "commission.unknown"


def test_another_employees_commission_is_denied(world):
    decision = world.ask(world.cardio_nurse,
                         commission_hsa_id=world.ortho_doctor.commission.hsa_id)
    assert rule(decision) == "commission.unknown"


@pytest.mark.parametrize("typed", [str.lower, lambda s: s.replace("SE", "ｓｅ", 1)])
def test_a_commission_hsa_id_matches_whatever_its_case_and_width(world, typed):
    decision = world.ask(world.cardio_nurse, commission_hsa_id=typed(
        world.cardio_nurse.commission.hsa_id))
    assert decision.allowed


def test_a_deny_for_an_unknown_commission_still_names_the_patient(world):
    decision = world.ask(world.cardio_nurse,
                         commission_hsa_id=world.other_doctor.commission.hsa_id)
    assert rule(decision) == "commission.unknown"
    assert AuditEvent.objects.get(pk=decision.id).subject_person_id == world.patient.pk
