"""Blocks and temporary revokes: who may, the rules of the Spärr contract, refusals, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit.selectors import audit_list_for_person
from apps.blocks import services
from apps.blocks.models import Block, TemporaryRevoke
from apps.commissions.models import Commission
from apps.core.actors import SYSTEM
from apps.core.errors import Forbidden, NotFound, ValidationFailed
from tests.conftest import make_staff

INNER, OUTER = Block.Type.INNER, Block.Type.OUTER
CONSENT, EMERGENCY = TemporaryRevoke.Reason.PATIENTS_CONSENT, TemporaryRevoke.Reason.EMERGENCY


def revoked_block_ids(patient, care_unit, employee, when):
    """Ids of `patient`'s blocks a temporary revoke in force at `when` lifts for `employee` (None:
    only unit-wide revokes count) acting at `care_unit`."""
    who = Q(employee__isnull=True) if employee is None else (
        Q(employee__isnull=True) | Q(employee=employee))
    return set(TemporaryRevoke.objects.in_force_at(when)
               .filter(who, block__patient=patient, care_unit=care_unit)
               .values_list("block_id", flat=True))


def commission_of(employee):
    return Commission.objects.get(employee=employee)


@pytest.fixture
def staff(nurse):
    """The nurse at Cardiology (Region Demo) and the commission she acts under."""
    user, employee = nurse
    return user, commission_of(employee)


def block(staff, patient, tree, block_type=INNER, **kw):
    user, commission = staff
    kw.setdefault("care_unit", tree["cardio"])
    return services.block_register(actor=user, commission=commission, patient=patient.person,
                                   block_type=block_type, care_provider=tree["region"], **kw)


def test_staff_at_the_owner_registers_an_inner_block(staff, patient, tree, assert_audited):
    registered = block(staff, patient, tree, excluded_types=["lak", "upp"])
    assert registered.status == Block.Status.ACTIVE
    assert registered.excluded_types == {"lak", "upp"}
    assert registered.registered_by_id == staff[0].pk
    event = assert_audited("block.registered", target=registered, subject=patient.person)
    assert event.organisation_hsa_id == tree["cardio"].hsa_id
    assert event in audit_list_for_person(patient.person.pk)
    assert list(Block.objects.in_force_at(timezone.now()).filter(patient=patient.person)) == [registered]


def test_an_outer_block_may_name_no_unit_and_a_period(staff, patient, tree):
    start = timezone.now() - timedelta(days=365)
    registered = block(staff, patient, tree, OUTER, care_unit=None, period_start=start,
                       period_end=start + timedelta(days=30))
    assert registered.care_unit is None
    assert registered.period_start == start


def test_an_inner_block_needs_a_care_unit(staff, patient, tree):
    with pytest.raises(ValidationFailed) as exc:
        block(staff, patient, tree, INNER, care_unit=None)
    assert exc.value.field == "care_unit"
    assert not Block.objects.exists()


def test_only_medication_and_alerts_can_be_excluded(staff, patient, tree):
    with pytest.raises(ValidationFailed) as exc:
        block(staff, patient, tree, excluded_types=["lak", "dia"])
    assert exc.value.code == "block.type_not_excludable"
    assert not Block.objects.exists()


def test_the_period_end_must_follow_its_start(staff, patient, tree):
    now = timezone.now()
    with pytest.raises(ValidationFailed) as exc:
        block(staff, patient, tree, period_start=now, period_end=now)
    assert exc.value.field == "period_end"


def test_the_unit_must_belong_to_the_care_provider(staff, patient, tree):
    with pytest.raises(ValidationFailed) as exc:
        block(staff, patient, tree, care_unit=tree["other_unit"])
    assert exc.value.code == "block.unit_not_at_provider"


def test_staff_outside_the_owning_care_provider_cannot_block(patient, tree):
    user, employee = make_staff(tree["other_unit"], "Olle", "Other", care=True)
    with pytest.raises(Forbidden) as exc:
        block((user, commission_of(employee)), patient, tree)
    assert exc.value.code == "block.not_information_owner"
    assert not Block.objects.exists()


def test_nobody_acts_under_someone_elses_commission(staff, patient, tree):
    other, _ = make_staff(tree["cardio"], "Carl", "Colleague", care=True)
    with pytest.raises(NotFound):
        block((other, staff[1]), patient, tree)
    with pytest.raises(NotFound):
        block((staff[0], None), patient, tree)


def test_an_ended_commission_is_refused(staff, patient, tree):
    user, commission = staff
    Commission.objects.filter(pk=commission.pk).update(valid_until=timezone.now())
    commission.refresh_from_db()
    with pytest.raises(Forbidden) as exc:
        block(staff, patient, tree)
    assert exc.value.code == "commission.not_valid"


def test_a_patient_cannot_register_a_block(patient, tree):
    with pytest.raises(NotFound):
        block((patient, None), patient, tree)


def test_revoke_keeps_the_block_as_history(staff, patient, tree, assert_audited):
    registered = block(staff, patient, tree)
    before = timezone.now()
    revoked = services.block_revoke(actor=staff[0], commission=staff[1], block=registered,
                                    reason="The patient asked")
    assert revoked.status == Block.Status.REVOKED
    assert revoked.revoke_reason == "The patient asked"
    assert Block.objects.count() == 1
    assert list(Block.objects.in_force_at(before).filter(patient=patient.person)) == [registered]
    assert not Block.objects.in_force_at(timezone.now()).filter(patient=patient.person).exists()
    assert_audited("block.revoked", target=revoked, subject=patient.person)


def test_a_block_is_revoked_once(staff, patient, tree):
    registered = block(staff, patient, tree)
    services.block_revoke(actor=staff[0], commission=staff[1], block=registered, reason="Asked")
    with pytest.raises(ValidationFailed) as exc:
        services.block_revoke(actor=staff[0], commission=staff[1], block=registered,
                              reason="Again")
    assert exc.value.code == "block.already_revoked"
    assert Block.objects.get().revoke_reason == "Asked"


def test_a_removed_block_cannot_be_revoked(staff, patient, tree, assert_audited):
    registered = block(staff, patient, tree)
    deleted = services.block_delete(actor=staff[0], commission=staff[1], block=registered,
                                    reason="Wrong patient")
    assert deleted.status == Block.Status.DELETED
    assert_audited("block.deleted", target=deleted, subject=patient.person)
    assert not Block.objects.in_force_at(registered.registered_at).filter(patient=patient.person).exists()
    with pytest.raises(ValidationFailed) as exc:
        services.block_revoke(actor=staff[0], commission=staff[1], block=registered,
                              reason="Asked")
    assert exc.value.code == "block.already_deleted"


def test_revoke_and_removal_need_a_reason(staff, patient, tree):
    registered = block(staff, patient, tree)
    for change in (services.block_revoke, services.block_delete):
        with pytest.raises(ValidationFailed) as exc:
            change(actor=staff[0], commission=staff[1], block=registered, reason="  ")
        assert exc.value.field == "reason"


def test_another_care_provider_does_not_see_the_block(staff, patient, tree):
    registered = block(staff, patient, tree)
    user, employee = make_staff(tree["other_unit"], "Olle", "Other", care=True)
    with pytest.raises(NotFound):
        services.block_revoke(actor=user, commission=commission_of(employee), block=registered,
                              reason="Asked")


def test_the_database_refuses_both_lifted_and_removed(staff, patient, tree):
    registered = block(staff, patient, tree)
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        Block.objects.filter(pk=registered.pk).update(
            revoked_at=now, revoked_by_label="x", revoke_reason="x",
            deleted_at=now, deleted_by_label="x", delete_reason="x")


def temporary(actor_commission, blocked, unit, reason=CONSENT, days=7, **kw):
    user, commission = actor_commission
    return services.temporary_revoke_register(
        actor=user, commission=commission, block=blocked, care_unit=unit, reason=reason,
        valid_until=timezone.now() + timedelta(days=days) - timedelta(seconds=5), **kw)


@pytest.fixture
def ortho_staff(tree):
    user, employee = make_staff(tree["ortho"], "Otto", "Ortho", care=True)
    return user, commission_of(employee)


def test_a_temporary_revoke_lifts_an_inner_block_for_another_unit(staff, ortho_staff, patient,
                                                                    tree, assert_audited):
    blocked = block(staff, patient, tree)
    revoke = temporary(ortho_staff, blocked, tree["ortho"])
    now = timezone.now()
    assert revoke.employee is None
    assert revoked_block_ids(patient.person, tree["ortho"], None, now) == {
        blocked.pk}
    assert not revoked_block_ids(patient.person, tree["primary"], None, now)
    assert_audited("block.temporary_revoke_registered", target=revoke, subject=patient.person)


def test_an_emergency_revoke_names_the_acting_employee(staff, ortho_staff, patient, tree):
    blocked = block(staff, patient, tree)
    revoke = temporary(ortho_staff, blocked, tree["ortho"], EMERGENCY, days=1)
    assert revoke.employee == ortho_staff[1].employee
    colleague, _ = make_staff(tree["ortho"], "Olga", "Ortho", care=True)
    now = timezone.now()
    assert revoked_block_ids(
        patient.person, tree["ortho"], ortho_staff[1].employee, now) == {blocked.pk}
    assert not revoked_block_ids(
        patient.person, tree["ortho"], colleague.person.employees.get(), now)


def test_a_temporary_revoke_lasts_at_most_7_days(staff, ortho_staff, patient, tree):
    blocked = block(staff, patient, tree)
    with pytest.raises(ValidationFailed) as exc:
        services.temporary_revoke_register(
            actor=ortho_staff[0], commission=ortho_staff[1], block=blocked, care_unit=tree["ortho"],
            reason=CONSENT, valid_until=timezone.now() + timedelta(days=7, minutes=1))
    assert exc.value.code == "temporary_revoke.too_long"
    assert not TemporaryRevoke.objects.exists()


def test_the_database_refuses_a_revoke_longer_than_7_days(staff, ortho_staff, patient, tree):
    revoke = temporary(ortho_staff, block(staff, patient, tree), tree["ortho"])
    with pytest.raises(IntegrityError), transaction.atomic():
        TemporaryRevoke.objects.filter(pk=revoke.pk).update(
            valid_until=revoke.registered_at + timedelta(days=7, seconds=1))


def test_a_temporary_revoke_is_for_a_unit_the_block_hides_from(staff, ortho_staff, patient, tree):
    blocked = block(staff, patient, tree)
    with pytest.raises(ValidationFailed) as exc:
        temporary(staff, blocked, tree["cardio"])  # the owning unit is not blocked
    assert exc.value.field == "care_unit"
    outer = block(staff, patient, tree, OUTER)
    with pytest.raises(ValidationFailed):
        temporary(ortho_staff, outer, tree["ortho"])  # same care provider: an outer block hides nothing


def test_a_temporary_revoke_is_registered_at_ones_own_unit(staff, ortho_staff, patient, tree):
    blocked = block(staff, patient, tree)
    with pytest.raises(Forbidden) as exc:
        temporary(ortho_staff, blocked, tree["primary"])
    assert exc.value.code == "block.not_at_unit"


def test_no_temporary_revoke_of_a_lifted_block(staff, ortho_staff, patient, tree):
    blocked = block(staff, patient, tree)
    services.block_revoke(actor=staff[0], commission=staff[1], block=blocked, reason="Asked")
    with pytest.raises(ValidationFailed) as exc:
        temporary(ortho_staff, blocked, tree["ortho"])
    assert exc.value.code == "block.already_revoked"


def test_a_temporary_revoke_ends_early_once(staff, ortho_staff, patient, tree, assert_audited):
    revoke = temporary(ortho_staff, block(staff, patient, tree), tree["ortho"])
    ended = services.temporary_revoke_cancel(actor=ortho_staff[0], commission=ortho_staff[1],
                                             revoke=revoke, reason="Care episode over")
    assert ended.cancelled_at is not None
    assert not revoked_block_ids(patient.person, tree["ortho"], None,
                                                       timezone.now())
    assert_audited("block.temporary_revoke_cancelled", target=ended, subject=patient.person)
    with pytest.raises(ValidationFailed) as exc:
        services.temporary_revoke_cancel(actor=ortho_staff[0], commission=ortho_staff[1],
                                         revoke=revoke, reason="Again")
    assert exc.value.code == "temporary_revoke.not_active"
    with pytest.raises(NotFound):  # staff elsewhere do not see it
        services.temporary_revoke_cancel(actor=staff[0], commission=staff[1], revoke=revoke,
                                         reason="x")


def test_the_system_registers_demo_blocks(patient, tree):
    registered = services.block_register(actor=SYSTEM, commission=None, patient=patient.person,
                                         block_type=OUTER, care_provider=tree["region"])
    assert registered.registered_by_id is None


def test_nobody_blocks_their_own_records_as_staff(staff, tree):
    user, commission = staff
    with pytest.raises(Forbidden) as exc:
        services.block_register(actor=user, commission=commission, patient=user.person,
                                block_type=OUTER, care_provider=tree["region"])
    assert exc.value.code == "block.self"


def test_a_second_temporary_revoke_for_the_same_staff_is_refused(staff, ortho_staff, patient,
                                                                 tree):
    blocked = block(staff, patient, tree)
    first = temporary(ortho_staff, blocked, tree["ortho"], days=1)
    with pytest.raises(ValidationFailed) as exc:
        temporary(ortho_staff, blocked, tree["ortho"], days=2)
    assert exc.value.code == "temporary_revoke.already_lifted"
    assert "end it early first" in str(exc.value.message)
    # ended early, it can be registered again
    services.temporary_revoke_cancel(actor=ortho_staff[0], commission=ortho_staff[1],
                                     revoke=first, reason="Visit over")
    temporary(ortho_staff, blocked, tree["ortho"], days=2)
    assert TemporaryRevoke.objects.filter(block=blocked).count() == 2


def test_a_unit_wide_revoke_may_follow_one_for_a_named_employee(staff, ortho_staff, patient,
                                                                tree):
    blocked = block(staff, patient, tree)
    named = temporary(ortho_staff, blocked, tree["ortho"], EMERGENCY, days=1)
    assert named.employee is not None
    temporary(ortho_staff, blocked, tree["ortho"], days=1)
    with pytest.raises(ValidationFailed):
        temporary(ortho_staff, blocked, tree["ortho"], EMERGENCY, days=1)
