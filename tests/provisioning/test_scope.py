"""What a downstream system learns about a person: only what lies in its scope, nothing more
once the person left it, and no name or e-mail of a person with protected personal data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from scim2_models import Context

from apps.commissions import services as commissions
from apps.core.actors import SYSTEM
from apps.identities.models import Person
from apps.provisioning.models import DownstreamSystem
from apps.provisioning.push import push_due
from apps.provisioning.resources import user_resource
from apps.provisioning.scope import systems_for_person
from tests.conftest import make_staff
from tests.integration.scim_target import ScimTarget
from tests.provisioning.conftest import UNUSED_URL, make_system, queue

pytestmark = pytest.mark.django_db


def test_a_commission_at_a_unit_outside_the_scope_is_not_sent(tree: Any) -> None:
    """The hospital's directory receives the hospital's people; a cardiology nurse's commission
    at a primary care centre outside the hospital stays unknown to it."""
    directory = make_system(tree["region"], UNUSED_URL, name="Hospital directory",
                            scope=[tree["hospital"]])
    user, employee = make_staff(tree["cardio"], "Nils", "Nurse", care=True)
    commissions.commission_grant(
        actor=SYSTEM, employee=employee, care_unit=tree["primary"], purpose="Vård och behandling",
        rights=["Läsa;alla;VE"], valid_from=timezone.now() - timedelta(days=1), valid_until=None)

    sent = str(user_resource(directory, user.person.pk).model_dump(
        scim_ctx=Context.RESOURCE_CREATION_REQUEST))

    assert tree["primary"].hsa_id not in sent, sent
    assert tree["cardio"].hsa_id in sent, sent


def test_a_person_moved_to_another_care_provider_is_deactivated_and_then_no_longer_sent(
    system: DownstreamSystem, target: ScimTarget, tree: Any
) -> None:
    """A person moves to the other care provider: the region's target keeps their user,
    deactivated, with no name or e-mail, and their later changes no longer reach it."""
    mover, employee = make_staff(tree["cardio"], "Mona", "Mover", care=True)
    queue(system, mover.person)
    push_due()
    employee.organisation = tree["other_unit"]
    employee.save(update_fields=["organisation"])
    queue(system, mover.person)
    push_due()
    held = target.user(str(mover.person.pk))
    assert held is not None and held["active"] is False
    assert "Mover" not in str(held) and "@" not in str(held.get("emails", "")), held

    Person.objects.filter(pk=mover.person.pk).update(email="mona@othercare.se")
    assert system not in systems_for_person(mover.person.pk)
    for fanned in systems_for_person(mover.person.pk):
        queue(fanned, mover.person)
    push_due()

    assert "othercare.se" not in str(target.user(str(mover.person.pk)))


def test_a_protected_person_is_sent_without_name_and_email(tree: Any) -> None:
    """A staff member with protected personal data (skyddade personuppgifter) reaches the
    systems by login name only (docs/decisions.md, "Provisioning of protected persons")."""
    system = make_system(tree["region"], UNUSED_URL)
    user, _ = make_staff(tree["cardio"], "Pia", "Protected", care=True)
    Person.objects.filter(pk=user.person.pk).update(is_protected=True, email="pia@region.se")

    resource = user_resource(system, user.person.pk)
    sent = str(resource.model_dump(scim_ctx=Context.RESOURCE_CREATION_REQUEST))

    assert "Protected" not in sent and "pia@region.se" not in sent, sent
    assert resource.user_name == user.username and resource.active is True
