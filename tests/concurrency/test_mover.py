"""A mover racing another move of the same employee HSA-id, or a leaver of the same person, over
HTTP against the live server: the person's row lock comes first, then the employee HSA-id, then
the commissions (docs/architecture.md, "Lock order"), so nothing deadlocks, nothing is done
half or twice, and the loser is told clearly on the page (200 with the reason), never a 500."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.commissions import services
from apps.commissions.models import Commission, Employee, Role
from apps.core.actors import SYSTEM
from apps.identities.models import User
from tests.concurrency.support import at_once, post_form
from tests.conftest import login_session, make_staff

pytestmark = pytest.mark.django_db(transaction=True)

MOVED_MEANWHILE = "Someone else moved this employee HSA-id a moment ago."
ENDED_MEANWHILE = "A commission you chose to end has ended meanwhile."
#: What a form whose choice is gone says (the commission is no longer offered).
NOT_OFFERED = "Select a valid choice."


@pytest.fixture
def cookies(tree: Any, hospital_admin: User) -> list[dict[str, str]]:
    """Two local administrators over Demo Hospital, each logged in."""
    second, _ = make_staff(tree["hospital"], "Bertil", "Admin")
    services.role_grant(actor=SYSTEM, person=second.person, role=Role.LOCAL_ADMIN,
                        organisation=tree["hospital"], valid_from=timezone.now(), valid_until=None)
    clients = [login_session(Client(), admin) for admin in (hospital_admin, second)]
    return [{"sessionid": c.cookies[settings.SESSION_COOKIE_NAME].value} for c in clients]


def test_two_moves_of_one_employee_at_once_change_it_once(live_server: Any, tree: Any,
                                                         cookies: list[dict[str, str]]) -> None:
    for round_ in range(3):
        user, employee = make_staff(tree["cardio"], "Maja", f"Mover{round_}", care=True)
        commission = Commission.objects.get(employee=employee)
        path = reverse("administration:employee_move", args=[user.person.pk, employee.pk])
        targets = [tree["ortho"], tree["hospital"]]
        answers = at_once([partial(post_form, live_server.url, path, {
            "organisation": str(target.pk), "end": str(commission.pk), "reason": "New post"},
            cookies=c) for target, c in zip(targets, cookies, strict=True)])
        assert sorted(a.status for a in answers) == [200, 302]
        winner = targets[[a.status for a in answers].index(302)]
        loser = next(a for a in answers if a.status == 200)
        assert MOVED_MEANWHILE in loser.text or NOT_OFFERED in loser.text
        assert Employee.objects.get(pk=employee.pk).organisation == winner
        events = AuditEvent.objects.filter(subject_person_id=user.person.pk)
        assert events.filter(action="employee.moved").count() == 1
        assert events.filter(action="commission.ended").count() == 1
        assert Commission.objects.get(pk=commission.pk).ended_at is not None


def test_a_move_racing_a_leaver_leaves_one_consistent_state(live_server: Any, tree: Any,
                                                           cookies: list[dict[str, str]]) -> None:
    for round_ in range(4):
        user, employee = make_staff(tree["cardio"], "Lena", f"Racer{round_}", care=True)
        commission = Commission.objects.get(employee=employee)
        move = reverse("administration:employee_move", args=[user.person.pk, employee.pk])
        leave = reverse("administration:person_leave", args=[user.person.pk])
        calls = {"move": partial(post_form, live_server.url, move, {
                     "organisation": str(tree["ortho"].pk), "end": str(commission.pk),
                     "reason": "New post"}, cookies=cookies[0]),
                 "leave": partial(post_form, live_server.url, leave, {"now-reason": "Left"},
                                  cookies=cookies[1])}
        order = ["move", "leave"] if round_ % 2 else ["leave", "move"]  # who starts first
        answers = dict(zip(order, at_once([calls[name] for name in order]), strict=True))
        assert answers["leave"].status == 302  # the leaver always ends what is left
        events = AuditEvent.objects.filter(subject_person_id=user.person.pk)
        assert events.filter(action="person.left").count() == 1
        assert events.filter(action="commission.ended").count() == 1  # ended once, by either
        assert Commission.objects.get(pk=commission.pk).ended_at is not None
        assert not User.objects.get(pk=user.pk).is_active
        home = Employee.objects.get(pk=employee.pk).organisation
        if answers["move"].status == 302:  # the move came first; the leaver ended the rest
            assert home == tree["ortho"]
            assert events.filter(action="employee.moved").count() == 1
        else:  # the leaver came first: the move is refused whole, with the reason shown
            assert answers["move"].status == 200
            assert ENDED_MEANWHILE in answers["move"].text or NOT_OFFERED in answers["move"].text
            assert home == tree["cardio"]
            assert not events.filter(action="employee.moved").exists()
