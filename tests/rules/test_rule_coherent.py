"""Coherent record keeping (sammanhållen journalföring): reading another care provider's
information needs the patient's consent (PDL 2008:355 6 kap. 3 § 3 p.) for the acting unit or the
named employee, or emergency access with a stated reason (6 kap. 4 §), which is logged with
activity Nödöppning and followed up (Inera's Samtycke contract)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.consents import services as consents
from apps.core.actors import SYSTEM
from apps.rules.models import EmergencyOpening
from tests.rules.conftest import rule


def test_without_consent_another_providers_information_is_denied(world):
    assert rule(world.ask(world.other_doctor)) == "consent.missing"


def test_a_consent_for_the_whole_unit_lets_each_of_its_staff_read(world):
    world.consent(world.other_doctor)
    for who in (world.other_doctor, world.other_colleague):
        decision = world.ask(who)
        assert decision.allowed
        assert rule(decision) == "allow.consent"
        assert decision.verdict.obligations == ()


def test_a_consent_naming_one_employee_lets_only_them_read(world):
    world.consent(world.other_doctor, named=True)
    assert world.ask(world.other_doctor).allowed
    assert rule(world.ask(world.other_colleague)) == "consent.missing"


def test_an_expired_consent_no_longer_counts(world):
    world.consent(world.other_doctor, valid_from=timezone.now() - timedelta(days=10),
                  valid_until=timezone.now() - timedelta(days=1))
    assert rule(world.ask(world.other_doctor)) == "consent.missing"


def test_a_withdrawn_consent_no_longer_counts(world):
    consent = world.consent(world.other_doctor)
    assert world.ask(world.other_doctor).allowed
    consents.consent_withdraw(actor=SYSTEM, consent=consent)
    assert rule(world.ask(world.other_doctor)) == "consent.missing"


def test_a_deleted_consent_never_counted(world):
    consent = world.consent(world.other_doctor)
    consents.consent_delete(actor=SYSTEM, consent=consent, reason="Wrong patient")
    assert rule(world.ask(world.other_doctor)) == "consent.missing"


def test_a_consent_at_another_unit_does_not_count(world):
    world.consent(world.cardio_nurse)
    assert rule(world.ask(world.other_doctor)) == "consent.missing"


def test_emergency_access_without_a_reason_is_denied(world):
    # blanks, invisible format characters (zero-width space, soft hyphen), the Braille blank and
    # the Hangul filler state nothing
    for reason in ("", "   ", "\u200b", "\u00ad", "\u2800", "\u3164 \u3164"):
        decision = world.ask(world.other_doctor, emergency=True, emergency_reason=reason)
        assert rule(decision) == "emergency.reason_missing"
    assert not EmergencyOpening.objects.exists()


def test_emergency_access_with_a_reason_opens_logs_and_awaits_follow_up(world):
    decision = world.ask(world.other_doctor, emergency=True,
                         emergency_reason="Unconscious, medication list needed.")
    assert decision.allowed
    assert rule(decision) == "allow.emergency"
    assert {(o.id, o.value) for o in decision.verdict.obligations} == {
        ("log_activity", "Nödöppning"), ("emergency_follow_up", "")}
    event = AuditEvent.objects.get(pk=decision.id)
    assert event.reason == "Unconscious, medication list needed."
    assert event.changes["emergency"] is True
    opening = EmergencyOpening.objects.get(decision_id=decision.id)
    assert opening.care_provider == world.tree["other"]
    assert opening.owner_provider == world.tree["region"]
    assert opening.reviewed_at is None


def test_a_registered_emergency_access_opens_and_is_followed_up(world):
    assertion = world.emergency(world.other_doctor)
    decision = world.ask(world.other_doctor)
    assert rule(decision) == "allow.emergency"
    assert EmergencyOpening.objects.get(decision_id=decision.id).assertion == assertion
    # it is personal: a colleague at the same unit is not let in by it
    assert rule(world.ask(world.other_colleague)) == "consent.missing"


def test_a_consent_is_used_before_emergency_access(world):
    world.consent(world.other_doctor)
    decision = world.ask(world.other_doctor, emergency=True, emergency_reason="Just in case")
    assert rule(decision) == "allow.consent"
    assert not EmergencyOpening.objects.exists()


def test_emergency_is_not_needed_inside_the_care_provider(world):
    decision = world.ask(world.cardio_nurse, emergency=True, emergency_reason="x")
    assert rule(decision) == "allow.care_provider"
    assert not EmergencyOpening.objects.exists()
