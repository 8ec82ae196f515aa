"""An administrator and the person end the same session at the same moment: the session ends
once, with one audit event, and the other is told it has ended already (the person's row lock,
then the session's: docs/architecture.md, "Lock order")."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from apps.audit.models import AuditEvent
from apps.authn import services
from apps.authn.models import UserSession
from apps.core.errors import ValidationFailed
from tests.conftest import login_session, make_staff

pytestmark = pytest.mark.django_db(transaction=True)


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run `calls` in threads released together; each result or the error it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except ValidationFailed as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def both_end(admin: Any, person: Any, row: UserSession) -> list[Callable[[], Any]]:
    """The administrator's and the person's "end this session", as calls."""
    return [
        lambda: services.session_end(actor=admin, user_session=row,
                                     reason=UserSession.EndReason.ADMIN, note="Lost phone"),
        lambda: services.session_end(actor=person, user_session=row,
                                     reason=UserSession.EndReason.ENDED),
    ]


def test_one_session_ends_once_when_the_administrator_and_the_person_end_it_together(
        tree: Any, hospital_admin: Any) -> None:
    olle, _ = make_staff(tree["ortho"], "Olle", "Ortoped")
    login_session(Client(), olle)
    for _ in range(5):
        row = UserSession.objects.get(user=olle, ended_at__isnull=True)
        results = at_once(both_end(hospital_admin, olle, row))
        refused = [r for r in results if isinstance(r, ValidationFailed)]
        assert len(refused) == 1 and refused[0].code == "session.ended"
        assert AuditEvent.objects.filter(action="session.ended", target_id=str(row.pk)).count() == 1
        login_session(Client(), olle)


def test_end_all_and_end_one_together_end_each_session_once(tree: Any, hospital_admin: Any) -> None:
    olle, _ = make_staff(tree["ortho"], "Olle", "Ortoped")
    for _ in range(3):
        login_session(Client(), olle)
    row = UserSession.objects.filter(user=olle).first()
    assert row is not None
    results = at_once([
        lambda: services.sessions_end_all(actor=hospital_admin, person=olle.person,
                                          reason=UserSession.EndReason.ADMIN, note="Left"),
        lambda: services.session_end(actor=olle, user_session=row,
                                     reason=UserSession.EndReason.ENDED),
    ])
    assert not UserSession.objects.filter(user=olle, ended_at__isnull=True).exists()
    ended_by_all = results[0]
    one = results[1]
    assert ended_by_all == (3 if isinstance(one, ValidationFailed) else 2)
