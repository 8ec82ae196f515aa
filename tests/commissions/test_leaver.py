"""Leavers: one action ends what the administrator's scope gave a person (docs/journey-leaver.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.commissions import services
from apps.commissions.models import Commission, Role, RoleAssignment
from apps.core.actors import SYSTEM
from apps.core.errors import Forbidden, NotFound, ValidationFailed
from apps.identities.models import User
from apps.issuance.models import ActivationCode, MobileEID
from apps.outbox.models import OutboxEvent
from tests.conftest import make_staff
from tests.issuance.support import issue, redeem_qr, use_temporary_ca

CARE = "Vård och behandling"


@pytest.fixture(autouse=True)
def ca(settings, tmp_path):
    return use_temporary_ca(settings, tmp_path)


def grant(employee, unit):
    return services.commission_grant(
        actor=SYSTEM, employee=employee, care_unit=unit, purpose=CARE, rights=["Läsa;alla;VE"],
        valid_from=timezone.now() - timedelta(days=1), valid_until=None)


def test_leaver_ends_everything_and_deactivates_when_nothing_is_left(tree, hospital_admin):
    user, employee = make_staff(tree["cardio"], "Lena", "Leaver", care=True)
    grant(employee, tree["ortho"])
    services.role_grant(actor=SYSTEM, person=user.person, role=Role.ISSUER,
                        organisation=tree["hospital"], valid_from=timezone.now(), valid_until=None)
    eid = redeem_qr(issue(user.person)).eid
    open_code = issue(user.person)
    epoch = user.session_epoch

    result = services.person_leave(actor=hospital_admin, person=user.person, reason="Left")

    assert (result.commissions, result.roles, result.accounts) == (2, 1, 1)
    assert not Commission.objects.active_at(timezone.now()).filter(employee=employee).exists()
    assert not RoleAssignment.objects.active_at(timezone.now()).filter(person=user.person).exists()
    user.refresh_from_db()
    assert not user.is_active and user.session_epoch != epoch
    eid.refresh_from_db()
    assert eid.status == MobileEID.Status.REVOKED
    assert ActivationCode.objects.get(pk=open_code.code.pk).ended_at is not None
    assert OutboxEvent.objects.filter(topic="eid.revoked").exists()
    events = AuditEvent.objects.filter(subject_person_id=user.person.pk,
                                       occurred_at__gte=timezone.now() - timedelta(minutes=1),
                                       actor_id=hospital_admin.pk)
    actions = sorted(events.values_list("action", flat=True))
    assert actions.count("commission.ended") == 2
    assert {"role.ended", "account.deactivated", "eid.revoked", "person.left"} <= set(actions)
    assert len(set(events.values_list("request_id", flat=True))) == 1


def test_commissions_outside_the_subtree_are_kept_and_the_account_too(tree, hospital_admin):
    user, employee = make_staff(tree["cardio"], "Kalle", "Kvar", care=True)
    kept = grant(employee, tree["primary"])
    eid = redeem_qr(issue(user.person)).eid

    result = services.person_leave(actor=hospital_admin, person=user.person, reason="Moved")

    assert (result.commissions, result.roles, result.accounts) == (1, 0, 0)
    kept.refresh_from_db()
    assert kept.ended_at is None
    user.refresh_from_db()
    assert user.is_active
    eid.refresh_from_db()
    assert eid.status == MobileEID.Status.ACTIVE


def test_person_outside_the_subtree_is_not_found(tree, hospital_admin):
    user, _ = make_staff(tree["primary"], "Pia", "Primär", care=True)
    with pytest.raises(NotFound):
        services.person_leave(actor=hospital_admin, person=user.person, reason="Left")
    user.refresh_from_db()
    assert user.is_active


def test_the_administrator_cannot_make_themself_a_leaver(tree, hospital_admin):
    with pytest.raises(Forbidden):
        services.person_leave(actor=hospital_admin, person=hospital_admin.person, reason="Bye")
    assert User.objects.get(pk=hospital_admin.pk).is_active


def test_reason_required_and_a_second_leave_changes_nothing(tree, hospital_admin):
    user, _ = make_staff(tree["cardio"], "Lena", "Leaver", care=True)
    with pytest.raises(ValidationFailed) as blank:
        services.person_leave(actor=hospital_admin, person=user.person, reason="  ")
    assert blank.value.code == "no_reason"
    services.person_leave(actor=hospital_admin, person=user.person, reason="Left")
    with pytest.raises(ValidationFailed) as again:
        services.person_leave(actor=hospital_admin, person=user.person, reason="Left")
    assert again.value.code == "leave.nothing"
    assert AuditEvent.objects.filter(action="person.left", subject_person_id=user.person.pk).count() == 1


def sweden_today():
    return timezone.localtime(timezone.now(), services.SWEDEN).date()


def test_planned_leaver_is_applied_by_the_scheduler_after_the_last_day(tree, hospital_admin):
    from apps.commissions.models import PlannedLeave
    from apps.commissions.tasks import planned_leaves_apply_task

    user, employee = make_staff(tree["cardio"], "Lena", "Leaver", care=True)
    kept = grant(employee, tree["primary"])
    planned = services.planned_leave_set(actor=hospital_admin, person=user.person,
                                         last_day=sweden_today(), reason="Retires")
    assert planned.organisation == tree["hospital"]
    assert planned_leaves_apply_task() == 0  # the last day has not ended yet
    assert Commission.objects.active_at(timezone.now()).filter(employee=employee).count() == 2
    PlannedLeave.objects.filter(pk=planned.pk).update(last_day=sweden_today() - timedelta(days=1))

    assert planned_leaves_apply_task() == 1
    assert planned_leaves_apply_task() == 0  # applied once
    active = Commission.objects.active_at(timezone.now()).filter(employee=employee)
    assert list(active) == [kept]  # outside the planner's subtree: kept, so the account too
    assert User.objects.get(pk=user.pk).is_active
    events = AuditEvent.objects.filter(subject_person_id=user.person.pk, actor_kind="system",
                                       action__in=["commission.ended", "person.left",
                                                   "planned_leave.applied"])
    assert sorted(events.values_list("action", flat=True)) == [
        "commission.ended", "person.left", "planned_leave.applied"]
    assert len(set(events.values_list("request_id", flat=True))) == 1
    assert set(events.values_list("actor_label", flat=True)) == {"system:worker"}


def test_planned_leaver_refusals(tree, hospital_admin):
    user, _ = make_staff(tree["cardio"], "Lena", "Leaver", care=True)
    with pytest.raises(ValidationFailed) as past:
        services.planned_leave_set(actor=hospital_admin, person=user.person,
                                   last_day=sweden_today() - timedelta(days=1), reason="Left")
    assert past.value.code == "leave.day_past"
    with pytest.raises(Forbidden):
        services.planned_leave_set(actor=hospital_admin, person=hospital_admin.person,
                                   last_day=sweden_today(), reason="Bye")
    outsider, _ = make_staff(tree["primary"], "Pia", "Primär", care=True)
    with pytest.raises(NotFound):
        services.planned_leave_set(actor=hospital_admin, person=outsider.person,
                                   last_day=sweden_today(), reason="Left")
    with pytest.raises(Forbidden):
        services.planned_leaves_apply(actor=hospital_admin)


# --- Cancelling a planned leaver ------------------------------------------------------------------


def plan(admin, person, days=30):
    return services.planned_leave_set(
        actor=admin, person=person, reason="Retires",
        last_day=(timezone.localtime(timezone.now(), services.SWEDEN) + timedelta(days=days)).date())


def test_a_planned_leaver_is_cancelled_with_a_reason_and_audited(tree, hospital_admin,
                                                                 assert_audited):
    from apps.commissions.models import PlannedLeave

    user, _ = make_staff(tree["ortho"], "Lena", "Planned", care=True)
    planned = plan(hospital_admin, user.person)
    with pytest.raises(ValidationFailed) as blank:
        services.planned_leave_cancel(actor=hospital_admin, planned=planned, reason=" ")
    assert blank.value.code == "no_reason"
    services.planned_leave_cancel(actor=hospital_admin, planned=planned, reason="Stays on")
    assert not PlannedLeave.objects.filter(pk=planned.pk).exists()
    event = AuditEvent.objects.get(action="planned_leave.cancelled")
    assert event.reason == "Stays on" and event.organisation_hsa_id == tree["hospital"].hsa_id
    assert event.changes["last_day"] == [planned.last_day.isoformat(), None]
    assert event.actor_id == hospital_admin.pk and event.subject_person_id == user.person.pk
    PlannedLeave.objects.filter(pk=planned.pk).update(last_day=planned.last_day.replace(year=2020))
    assert services.planned_leaves_apply(actor=SYSTEM) == 0  # nothing left to apply
    assert User.objects.get(pk=user.pk).is_active


def test_an_applied_planned_leaver_is_not_cancelled(tree, hospital_admin):
    from apps.commissions.models import PlannedLeave

    user, _ = make_staff(tree["ortho"], "Lena", "Planned", care=True)
    planned = plan(hospital_admin, user.person)
    PlannedLeave.objects.filter(pk=planned.pk).update(last_day=planned.last_day.replace(year=2020))
    assert services.planned_leaves_apply(actor=SYSTEM) == 1
    with pytest.raises(ValidationFailed) as applied:
        services.planned_leave_cancel(actor=hospital_admin, planned=planned, reason="Oops")
    assert applied.value.code == "leave.applied"
    assert PlannedLeave.objects.get(pk=planned.pk).applied_at is not None
    assert not AuditEvent.objects.filter(action="planned_leave.cancelled").exists()


def test_cancelling_outside_the_scope_or_ones_own_is_refused(tree, hospital_admin):
    region_admin, _ = make_staff(tree["region"], "Rut", "Region")
    colleague, _ = make_staff(tree["hospital"], "Bertil", "Admin")
    for admin, root in ((region_admin, "region"), (colleague, "hospital")):
        services.role_grant(actor=SYSTEM, person=admin.person, role=Role.LOCAL_ADMIN,
                            organisation=tree[root], valid_from=timezone.now(), valid_until=None)
    outsider, _ = make_staff(tree["primary"], "Pia", "Primär", care=True)
    with pytest.raises(NotFound):  # the person is outside the scope
        services.planned_leave_cancel(actor=hospital_admin, planned=plan(region_admin,
                                      outsider.person), reason="x")
    with pytest.raises(NotFound):  # planned over the region, above the administrator's scope
        services.planned_leave_cancel(actor=hospital_admin, planned=plan(region_admin,
                                      colleague.person), reason="x")
    with pytest.raises(Forbidden):  # one's own
        services.planned_leave_cancel(actor=hospital_admin, planned=plan(colleague,
                                      hospital_admin.person), reason="x")


def test_a_planned_leaver_is_recorded_at_the_plans_subtree_after_the_person_moved_away(
        tree, hospital_admin):
    from apps.commissions.models import PlannedLeave

    user, employee = make_staff(tree["ortho"], "Lena", "Moved", care=True)
    services.role_grant(actor=SYSTEM, person=user.person, role=Role.ISSUER,
                        organisation=tree["hospital"], valid_from=timezone.now(), valid_until=None)
    planned = plan(hospital_admin, user.person)
    services.employee_move(actor=SYSTEM, employee=employee, organisation=tree["primary"], end=[],
                           reason="Moved to primary care")
    PlannedLeave.objects.filter(pk=planned.pk).update(last_day=planned.last_day.replace(year=2020))
    assert services.planned_leaves_apply(actor=SYSTEM) == 1
    left = AuditEvent.objects.get(action="person.left", subject_person_id=user.person.pk)
    assert left.organisation_hsa_id == tree["hospital"].hsa_id
    assert left.changes["roles_ended"] == [None, 1]


@pytest.mark.parametrize("how,cause,said", [
    ("leaver", "leaver", "when the person was made a leaver"),
    ("deactivate", "account_deactivated", "when the person's login account was deactivated"),
    ("commission", "entitlement_ended", "when the person's staff entitlement ended"),
])
def test_an_ended_code_says_what_ended_it_in_the_log_and_to_the_app(tree, hospital_admin, how,
                                                                   cause, said):
    from apps.audit.registry import reason_text
    from apps.issuance import errors

    user, employee = make_staff(tree["cardio"], "Lena", "Leaver", care=True)
    issue(user.person)  # replaced by the next one: a newer code exists for the first
    code = issue(user.person)
    if how == "leaver":
        services.person_leave(actor=hospital_admin, person=user.person, reason="Slutar")
    elif how == "deactivate":
        services.account_deactivate(actor=hospital_admin, user=user, reason="Slutar")
    else:
        services.commission_end(actor=hospital_admin, commission=employee.commissions.get(),
                                reason="Slutar")

    ended = AuditEvent.objects.get(action="activation_code.ended", target_id=str(code.code.pk))
    assert ended.reason == f"activation_code.{cause}"
    assert "newer" not in reason_text(ended.reason)
    with pytest.raises(errors.CodeGone) as refused:
        redeem_qr(code)
    assert said in str(refused.value.message) and "newer" not in str(refused.value.message)
    failed = AuditEvent.objects.get(action="activation_code.redeem_failed")
    assert said in reason_text(failed.reason)
