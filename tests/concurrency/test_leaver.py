"""Two administrators make the same person a leaver at the same moment, over HTTP against the live
server: everything changes once (the person's row lock first: docs/architecture.md, "Lock
order"), and the slower one is told there is nothing left to end."""

from __future__ import annotations

from functools import partial
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.commissions import services
from apps.commissions.models import Role
from apps.core.actors import SYSTEM
from apps.identities.models import User
from tests.concurrency.support import at_once, post_form
from tests.conftest import login_session, make_staff

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_administrators_make_the_same_leaver_once(live_server: Any, tree: Any,
                                                      hospital_admin: User) -> None:
    second, _ = make_staff(tree["hospital"], "Bertil", "Admin")
    services.role_grant(actor=SYSTEM, person=second.person, role=Role.LOCAL_ADMIN,
                        organisation=tree["hospital"], valid_from=timezone.now(), valid_until=None)
    admins = [login_session(Client(), admin) for admin in (hospital_admin, second)]
    cookies = [{"sessionid": c.cookies[settings.SESSION_COOKIE_NAME].value} for c in admins]
    for round_ in range(3):
        user, employee = make_staff(tree["ortho"], "Lena", f"Leaver{round_}", care=True)
        services.commission_grant(
            actor=SYSTEM, employee=employee, care_unit=tree["cardio"],
            purpose="Vård och behandling", rights=["Läsa;alla;VE"],
            valid_from=timezone.now(), valid_until=None)
        path = reverse("administration:person_leave", args=[user.person.pk])
        answers = at_once([partial(post_form, live_server.url, path, {"now-reason": "Left"},
                                   cookies=c) for c in cookies])
        assert sorted(a.status for a in answers) == [200, 302]
        refused = next(a for a in answers if a.status == 200)
        assert "There is nothing left to end for this person here." in refused.text
        events = AuditEvent.objects.filter(subject_person_id=user.person.pk)
        assert events.filter(action="commission.ended").count() == 2
        assert events.filter(action="account.deactivated").count() == 1
        assert events.filter(action="person.left").count() == 1
        assert not User.objects.get(pk=user.pk).is_active


def test_two_scheduler_runs_at_once_apply_a_planned_leaver_once(tree: Any,
                                                                hospital_admin: User) -> None:
    from django.db import connection

    from apps.commissions.models import PlannedLeave
    from apps.core.actors import WORKER

    user, _ = make_staff(tree["ortho"], "Lena", "Planned", care=True)
    planned = services.planned_leave_set(
        actor=hospital_admin, person=user.person, reason="Retires",
        last_day=timezone.localtime(timezone.now(), services.SWEDEN).date())
    PlannedLeave.objects.filter(pk=planned.pk).update(last_day=planned.last_day.replace(year=2020))

    def run() -> int:
        try:
            return services.planned_leaves_apply(actor=WORKER)
        finally:
            connection.close()

    assert sorted(at_once([run, run])) == [0, 1]
    events = AuditEvent.objects.filter(subject_person_id=user.person.pk)
    assert events.filter(action="person.left").count() == 1
    assert events.filter(action="planned_leave.applied").count() == 1
    assert not User.objects.get(pk=user.pk).is_active


def test_cancelling_a_plan_while_the_scheduler_applies_it_does_one_or_the_other(
        tree: Any, hospital_admin: User) -> None:
    """The scheduler and the cancel both lock the person, then the plan: neither waits for the
    other in a circle, and the plan is either applied or cancelled, never both
    (docs/architecture.md, "Lock order")."""
    from django.db import connection

    from apps.commissions.models import PlannedLeave
    from apps.core.actors import WORKER
    from apps.core.errors import ValidationFailed

    for round_ in range(3):
        user, _ = make_staff(tree["ortho"], "Lena", f"Cancelled{round_}", care=True)
        planned = services.planned_leave_set(
            actor=hospital_admin, person=user.person, reason="Retires",
            last_day=timezone.localtime(timezone.now(), services.SWEDEN).date())
        PlannedLeave.objects.filter(pk=planned.pk).update(
            last_day=planned.last_day.replace(year=2020))

        def apply() -> str:
            try:
                return "applied" if services.planned_leaves_apply(actor=WORKER) else "none"
            finally:
                connection.close()

        def cancel(planned: PlannedLeave = planned) -> str:
            try:
                services.planned_leave_cancel(actor=hospital_admin, planned=planned,
                                              reason="Stays")
                return "cancelled"
            except ValidationFailed as exc:
                return exc.code
            finally:
                connection.close()

        outcome = sorted(at_once([apply, cancel]))
        events = AuditEvent.objects.filter(subject_person_id=user.person.pk)
        if outcome == ["cancelled", "none"]:
            assert not PlannedLeave.objects.filter(pk=planned.pk).exists()
            assert not events.filter(action="person.left").exists()
            assert User.objects.get(pk=user.pk).is_active
        else:
            assert outcome == ["applied", "leave.applied"]
            assert events.filter(action="person.left").count() == 1
            assert not events.filter(action="planned_leave.cancelled").exists()
            assert not User.objects.get(pk=user.pk).is_active


@pytest.mark.parametrize("change", ["cancel", "move the day"])
def test_the_scheduler_waits_for_a_plan_changed_under_the_person_lock(
        tree: Any, hospital_admin: User, change: str) -> None:
    """An administrator's change of a due plan holds the person, then the plan; the scheduler
    started meanwhile waits for the person (the same order, no circle) and then sees the change:
    a cancelled plan is skipped, a plan moved to a later day is not applied (it is no longer
    due when the scheduler gets it)."""
    import threading
    import time

    from django.db import connection

    from apps.commissions.models import PlannedLeave
    from apps.core.actors import WORKER

    user, _ = make_staff(tree["ortho"], "Lena", f"Held{change[:4]}", care=True)
    planned = services.planned_leave_set(
        actor=hospital_admin, person=user.person, reason="Retires",
        last_day=timezone.localtime(timezone.now(), services.SWEDEN).date())
    PlannedLeave.objects.filter(pk=planned.pk).update(last_day=planned.last_day.replace(year=2020))
    planned.refresh_from_db()
    inside = threading.Event()
    real_record = services.record

    def slow_record(**kwargs: Any) -> Any:
        inside.set()
        time.sleep(0.5)  # the scheduler reaches the person lock now
        return real_record(**kwargs)

    def administrator() -> str:
        try:
            with mock.patch.object(services, "record", slow_record):
                if change == "cancel":
                    services.planned_leave_cancel(actor=hospital_admin, planned=planned,
                                                  reason="Stays")
                else:
                    services.planned_leave_set(
                        actor=hospital_admin, person=user.person, reason="Retires later",
                        last_day=timezone.localtime(timezone.now(), services.SWEDEN).date())
            return "changed"
        finally:
            connection.close()

    def scheduler() -> str:
        inside.wait(10)
        try:
            return f"applied {services.planned_leaves_apply(actor=WORKER)}"
        finally:
            connection.close()

    assert at_once([administrator, scheduler], timeout=30) == ["changed", "applied 0"]
    assert User.objects.get(pk=user.pk).is_active
    assert not AuditEvent.objects.filter(subject_person_id=user.person.pk,
                                         action="person.left").exists()
