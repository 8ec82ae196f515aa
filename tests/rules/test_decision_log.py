"""Every decision, allow or deny, is one audit event naming the staff member, the commission, the
acting unit, the patient, the owner, the activity, the rule and the obligations (HSLF-FS 2016:40
4 kap. 9 §); the decision reads at most three SQL statements."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_list_for_person
from apps.blocks.models import Block


def test_an_allow_is_one_audit_event_with_who_what_and_why(world):
    before = AuditEvent.objects.count()
    decision = world.ask(world.cardio_nurse)
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.get(pk=decision.id)
    nurse = world.cardio_nurse
    assert (event.action, event.outcome) == ("access.decided", AuditEvent.Outcome.SUCCESS)
    assert (event.actor_kind, event.actor_label, event.actor_identifier) == (
        "staff", "Nina Nurse", nurse.employee.hsa_id)
    assert event.commission_hsa_id == nurse.commission.hsa_id
    assert event.organisation_hsa_id == world.tree["cardio"].hsa_id
    assert event.subject_person_id == world.patient.pk
    assert event.changes | {"obligations": None} == event.changes | {
        "system": "record-system", "rule": "allow.care_provider", "decision": "allow",
        "activity": "Läsa", "information_type": "lak", "purpose": "Vård och behandling",
        "owner_provider": world.tree["region"].hsa_id, "owner_unit": world.tree["cardio"].hsa_id,
        "emergency": False, "obligations": None}
    assert event in audit_list_for_person(world.patient.pk)


def test_a_deny_is_one_failed_audit_event_naming_the_rule_and_block(world):
    block = world.block(Block.Type.INNER, unit="cardio")
    decision = world.ask(world.ortho_doctor)
    event = AuditEvent.objects.get(pk=decision.id)
    assert event.outcome == AuditEvent.Outcome.FAILURE
    assert event.changes["rule"] == "block.inner"
    assert event.changes["block"] == str(block.pk)


def test_a_deny_for_an_unknown_staff_member_is_logged_under_the_typed_id(world):
    decision = world.ask(world.cardio_nurse, commission_hsa_id="SE2321000016-NOPE")
    event = AuditEvent.objects.get(pk=decision.id)
    assert event.actor_identifier == world.cardio_nurse.employee.hsa_id
    assert event.commission_hsa_id == ""


@pytest.mark.parametrize("across", [False, True])
def test_a_decision_reads_at_most_three_statements_and_writes_one_row(world, across):
    world.block(Block.Type.INNER, unit="ortho")
    if across:
        world.consent(world.other_doctor)
    who = world.other_doctor if across else world.cardio_nurse
    with CaptureQueriesContext(connection) as queries:
        assert world.ask(who).allowed
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert statements.count("SELECT") <= 3
    assert statements.count("INSERT") == 1
