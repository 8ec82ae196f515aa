"""The history on a staff member's page names who did each thing with an immutable identifier
beside the name, so two people with one name are told apart (docs/security.md)."""

from __future__ import annotations

import re
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
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


def test_the_history_pages_by_keyset_with_a_constant_cost(client, tree, hospital_admin,
                                                          django_assert_max_num_queries):
    """"Older events" and "Newer events" walk the history 25 at a time without counting it
    (docs/search-and-lists.md); each page costs what the first does."""
    _, olle = make_staff(tree["ortho"], "Olle", "Ortoped")
    now = timezone.now()
    AuditEvent.objects.bulk_create(AuditEvent(
        occurred_at=now - timedelta(minutes=i), action="commission.granted", actor_kind="system",
        actor_label="Bench", organisation_hsa_id=tree["ortho"].hsa_id,
        subject_person_id=olle.person.pk, target_type="bench.thing", target_id=str(i))
        for i in range(40))
    client.cookies["django_language"] = "en"
    login_session(client, hospital_admin)
    url = reverse("administration:person_detail", kwargs={"person_id": olle.person.pk})
    with CaptureQueriesContext(connection) as on_first:
        first = client.get(url)
    assert "Older events" in text(first) and "Newer events" not in text(first)
    with django_assert_max_num_queries(len(on_first.captured_queries)):
        second = client.get(url, {"after": first.context["history"].next})
    older = [e.target_id for e in second.context["history"]]
    assert older and not set(older) & {e.target_id for e in first.context["history"]}
    assert "Newer events" in text(second)
    back = client.get(url, {"before": second.context["history"].previous})
    assert ([e.pk for e in back.context["history"]]
            == [e.pk for e in first.context["history"]])
