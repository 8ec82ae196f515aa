"""The history on a staff member's page names who did each thing with an immutable identifier
beside the name, so two people with one name are told apart (docs/security.md)."""

from __future__ import annotations

import re
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from apps.commissions import services
from apps.commissions.models import Role
from apps.core.actors import SYSTEM
from tests.conftest import login_session, make_staff


def text(response):
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def test_two_administrators_with_one_name_are_told_apart(client, tree, hospital_admin):
    namesake, _ = make_staff(tree["hospital"], "Astrid", "Admin", username="astrid.admin2")
    services.role_grant(actor=SYSTEM, person=namesake.person, role=Role.LOCAL_ADMIN,
                        organisation=tree["hospital"], valid_from=timezone.now(), valid_until=None)
    _, olle = make_staff(tree["ortho"], "Olle", "Ortoped")
    for admin, unit in ((hospital_admin, tree["ortho"]), (namesake, tree["cardio"])):
        services.commission_grant(actor=admin, employee=olle, care_unit=unit,
                                  purpose="Vård och behandling", rights=["Läsa;alla;VE"],
                                  valid_from=timezone.now(),
                                  valid_until=timezone.now() + timedelta(days=30))

    client.cookies["django_language"] = "en"
    login_session(client, hospital_admin)  # administration needs LoA 3
    body = text(client.get(reverse("administration:person_detail",
                                   kwargs={"person_id": olle.person.pk})))
    assert "Commission granted" in body
    assert "Astrid Admin username astrid.admin " in body
    assert "Astrid Admin username astrid.admin2 " in body
    assert "The portal" in body  # a system actor: its translated name, no username
