"""Movers: an employee HSA-id's home moves to another unit; the administrator chooses which
commissions end (docs/journey-leaver.md, "Movers")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.commissions import services
from apps.commissions.models import Commission
from apps.core.actors import SYSTEM
from apps.core.errors import Forbidden, NotFound, ValidationFailed
from tests.conftest import make_staff


def grant(employee, unit):
    return services.commission_grant(
        actor=SYSTEM, employee=employee, care_unit=unit, purpose="Vård och behandling",
        rights=["Läsa;alla;VE"], valid_from=timezone.now() - timedelta(days=1), valid_until=None)


def test_move_ends_the_chosen_commissions_and_keeps_the_others(tree, hospital_admin):
    _, employee = make_staff(tree["cardio"], "Maja", "Mover")
    old = grant(employee, tree["cardio"])
    kept = grant(employee, tree["ortho"])
    moved = services.employee_move(actor=hospital_admin, employee=employee,
                                   organisation=tree["ortho"], end=[old], reason="New post")
    assert moved.organisation == tree["ortho"] and moved.hsa_id == employee.hsa_id
    active = Commission.objects.active_at(timezone.now()).filter(employee=employee)
    assert list(active) == [kept]
    events = AuditEvent.objects.filter(subject_person_id=employee.person_id,
                                       actor_id=hospital_admin.pk)
    assert sorted(events.values_list("action", flat=True)) == ["commission.ended", "employee.moved"]
    assert len(set(events.values_list("request_id", flat=True))) == 1


def test_move_refusals(tree, hospital_admin):
    _, employee = make_staff(tree["cardio"], "Maja", "Mover")
    commission = grant(employee, tree["cardio"])
    with pytest.raises(NotFound):  # to a unit outside the scope
        services.employee_move(actor=hospital_admin, employee=employee,
                               organisation=tree["primary"], end=[], reason="x")
    with pytest.raises(ValidationFailed) as same:
        services.employee_move(actor=hospital_admin, employee=employee,
                               organisation=tree["cardio"], end=[], reason="x")
    assert same.value.code == "employee.same_home"
    with pytest.raises(ValidationFailed) as blank:
        services.employee_move(actor=hospital_admin, employee=employee,
                               organisation=tree["ortho"], end=[commission], reason=" ")
    assert blank.value.code == "no_reason"
    _, other = make_staff(tree["ortho"], "Olle", "Ortoped")
    foreign = grant(other, tree["ortho"])
    with pytest.raises(NotFound):  # a commission of another employee HSA-id
        services.employee_move(actor=hospital_admin, employee=employee,
                               organisation=tree["ortho"], end=[foreign], reason="x")
    employee.refresh_from_db()
    assert employee.organisation == tree["cardio"]
    own = hospital_admin.person.employees.get()
    with pytest.raises(Forbidden):
        services.employee_move(actor=hospital_admin, employee=own, organisation=tree["ortho"],
                               end=[], reason="x")


def test_a_move_read_before_another_move_is_refused_not_repeated(tree, hospital_admin):
    """The scope was checked on the home the administrator saw: a move that lost the race to
    another one is told so, and moves nothing from a home it never checked."""
    from apps.commissions.models import Employee

    _, employee = make_staff(tree["cardio"], "Maja", "Mover")
    seen = Employee.objects.get(pk=employee.pk)
    services.employee_move(actor=hospital_admin, employee=employee, organisation=tree["ortho"],
                           end=[], reason="First")
    with pytest.raises(ValidationFailed) as late:
        services.employee_move(actor=hospital_admin, employee=seen,
                               organisation=tree["hospital"], end=[], reason="Second")
    assert late.value.code == "employee.moved_meanwhile"
    assert Employee.objects.get(pk=employee.pk).organisation == tree["ortho"]


def test_a_commission_ended_meanwhile_is_a_clear_refusal(tree, hospital_admin):
    _, employee = make_staff(tree["cardio"], "Maja", "Mover")
    commission = grant(employee, tree["cardio"])
    services.commission_end(actor=hospital_admin, commission=commission, reason="Ended")
    with pytest.raises(ValidationFailed) as ended:
        services.employee_move(actor=hospital_admin, employee=employee,
                               organisation=tree["ortho"], end=[commission], reason="x")
    assert ended.value.code == "employee.commission_ended"
    employee.refresh_from_db()
    assert employee.organisation == tree["cardio"]
