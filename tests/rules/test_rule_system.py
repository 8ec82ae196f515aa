"""A system speaks only for the staff of its own care provider (HSLF-FS 2016:40 4 kap. 2 §: the
care provider assigns and answers for its staff's access), and only a system asks."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.actors import SYSTEM
from apps.core.errors import Forbidden
from apps.identities.identifiers import parse_person_number
from apps.rules import services
from apps.rules.decision import AccessRequest
from tests.rules.conftest import rule


def test_a_system_of_another_care_provider_cannot_speak_for_the_regions_staff(world):
    decision = world.ask(world.cardio_nurse, system="other")
    assert rule(decision) == "system.not_entitled"
    assert not AuditEvent.objects.filter(action="access.decided", outcome="success").exists()
    assert world.ask(world.cardio_nurse, system="region").allowed


def test_the_portals_own_system_actor_is_refused_not_crashed(world):
    request = AccessRequest(
        patient=parse_person_number("19121212-1212"),
        care_provider_hsa_id=world.tree["region"].hsa_id, care_unit_hsa_id=None,
        information_type="lak", activity="Läsa", purpose="Vård och behandling",
        when=timezone.now(), care_relationship=True)
    with pytest.raises(Forbidden) as exc:
        services.access_decide(actor=SYSTEM, request=request)  # type: ignore[arg-type]
    assert exc.value.code == "rules.caller"
