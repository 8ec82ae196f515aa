"""Joiners at the same moment, on PostgreSQL: two administrators registering one personnummer get
one person (the unique identity number decides; the slower one is answered cleanly, never with a
500), and an invitation submitted twice at once is spent once (the person's row lock, then the
account's, then the invitation's: docs/architecture.md, "Lock order")."""

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
from apps.commissions.models import Employee, Role
from apps.core.actors import SYSTEM
from apps.identities.models import IdentityNumber, Person, User
from apps.outbox.delivery import deliver_pending
from tests.concurrency.support import at_once, post_form
from tests.conftest import invitation_path, login_session, make_staff

pytestmark = pytest.mark.django_db(transaction=True)

NUMBERS = ["19750302-2381", "19750302-2399", "19750302-2407"]


def _admin(unit: Any, given: str, family: str) -> User:
    user, _ = make_staff(unit, given, family)
    services.role_grant(actor=SYSTEM, person=user.person, role=Role.LOCAL_ADMIN,
                        organisation=unit, valid_from=timezone.now(), valid_until=None)
    return user


def _cookies(*admins: User) -> list[dict[str, str]]:
    clients = [login_session(Client(), admin) for admin in admins]
    return [{"sessionid": c.cookies[settings.SESSION_COOKIE_NAME].value} for c in clients]


def _form(number: str, unit: Any) -> dict[str, str]:
    return {"identity_number": number, "given_name": "Åsa", "family_name": "Öberg",
            "email": "asa.oberg@example.invalid", "organisation": str(unit.pk),
            "channel": "email", "confirm": "1"}


def test_two_administrators_of_one_unit_register_one_person(live_server: Any, tree: Any,
                                                            hospital_admin: User) -> None:
    second = _admin(tree["hospital"], "Bertil", "Admin")
    cookies = _cookies(hospital_admin, second)
    path = reverse("administration:joiner_register")
    for number in NUMBERS:
        answers = at_once([partial(post_form, live_server.url, path, _form(number, tree["cardio"]),
                                   cookies=c) for c in cookies])
        assert sorted(a.status for a in answers) == [302, 400]
        refused = next(a for a in answers if a.status == 400)
        assert "This person is already registered." in refused.text
        extension = number.replace("-", "")
        person = IdentityNumber.objects.get(extension=extension).person
        assert Employee.objects.filter(person=person).count() == 1
        assert User.objects.filter(person=person).count() == 1
        assert AuditEvent.objects.filter(action="person.created",
                                         subject_person_id=person.pk).count() == 1
    assert Person.objects.filter(family_name="Öberg").count() == len(NUMBERS)


def test_administrators_of_two_parts_register_one_person_with_two_hsa_ids(
        live_server: Any, tree: Any, hospital_admin: User) -> None:
    primary = _admin(tree["primary"], "Petra", "Primär")
    cookies = _cookies(hospital_admin, primary)
    path = reverse("administration:joiner_register")
    for number in NUMBERS:
        answers = at_once([
            partial(post_form, live_server.url, path, _form(number, tree["cardio"]),
                    cookies=cookies[0]),
            partial(post_form, live_server.url, path, _form(number, tree["primary"]),
                    cookies=cookies[1])])
        assert [a.status for a in answers] == [302, 302], [a.text[:2000] for a in answers]
        person = IdentityNumber.objects.get(extension=number.replace("-", "")).person
        assert {e.organisation_id for e in Employee.objects.filter(person=person)} == {
            tree["cardio"].pk, tree["primary"].pk}
        assert User.objects.filter(person=person).count() == 1


def test_an_invitation_submitted_twice_at_once_is_spent_once(live_server: Any, tree: Any,
                                                             hospital_admin: User) -> None:
    for round_, number in enumerate(NUMBERS):
        result = services.joiner_register(
            actor=hospital_admin, identity_number=number, reserve=False, given_name="Åsa",
            family_name=f"Öberg{round_}", email="asa.oberg@example.invalid",
            organisation=tree["cardio"], channel="email")
        deliver_pending()
        link = invitation_path()
        fields = [{"password": f"sommar i skogen {n}", "password_again": f"sommar i skogen {n}"}
                  for n in (1, 2)]
        answers = at_once([partial(post_form, live_server.url, link, f) for f in fields])
        assert sorted(a.status for a in answers) == [302, 410]
        assert AuditEvent.objects.filter(action="invitation.accepted",
                                         subject_person_id=result.person.pk).count() == 1
        user = User.objects.get(person=result.person, kind=User.Kind.STAFF)
        winner = 1 if answers[0].status == 302 else 2
        assert user.check_password(f"sommar i skogen {winner}")
