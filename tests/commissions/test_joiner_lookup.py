"""The joiner's lookup into the registry (docs/decisions.md, "Joiners"): a protected person is
never pulled in, and every lookup that finds a registered person is audited, refused or not."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.commissions import services
from apps.commissions.models import Employee
from apps.core.errors import ValidationFailed
from apps.identities.models import Person
from tests.conftest import make_staff


def arguments(person, unit, **changes):
    values = {"identity_number": person.identity_numbers.get().display, "reserve": False,
              "given_name": person.given_name, "family_name": person.family_name,
              "organisation": unit, "channel": "email"}
    return values | changes


def lookups(person):
    return list(AuditEvent.objects.filter(action="joiner.lookup", subject_person_id=person.pk)
                .order_by("occurred_at").values_list("outcome", "changes", "organisation_hsa_id",
                                                     "subject_label"))


def test_a_protected_person_outside_the_scope_is_refused_like_other_details(tree, hospital_admin):
    other, _ = make_staff(tree["other_unit"], "Hemlig", "Person")
    Person.objects.filter(pk=other.person.pk).update(is_protected=True)
    with pytest.raises(ValidationFailed) as planned:
        services.joiner_plan(actor=hospital_admin, **arguments(other.person, tree["cardio"]))
    with pytest.raises(ValidationFailed) as registered:
        services.joiner_register(actor=hospital_admin, email="x@example.invalid",
                                 **arguments(other.person, tree["cardio"]))
    for refused in (planned, registered):
        assert refused.value.code == "joiner.mismatch"
        assert str(refused.value.message) == str(services.JOINER_MISMATCH)
    assert not Employee.objects.filter(person=other.person, organisation=tree["cardio"]).exists()


def test_every_lookup_that_finds_someone_is_audited_refused_or_not(tree, hospital_admin, nurse):
    other, _ = make_staff(tree["other_unit"], "Olga", "Outside")
    cardio = tree["cardio"].hsa_id

    with pytest.raises(ValidationFailed):
        services.joiner_plan(actor=hospital_admin,
                             **arguments(other.person, tree["cardio"], given_name="Anna"))
    services.joiner_plan(actor=hospital_admin, **arguments(other.person, tree["cardio"]))
    services.joiner_register(actor=hospital_admin, email="x@example.invalid",
                             **arguments(other.person, tree["cardio"]))
    with pytest.raises(services.AlreadyRegistered):
        services.joiner_register(actor=hospital_admin, email="x@example.invalid",
                                 **arguments(nurse[0].person, tree["cardio"]))

    # A refused lookup is labelled with what the administrator typed, never the registered name.
    assert lookups(other.person) == [
        ("failure", {"result": [None, "joiner.mismatch"]}, cardio, "Anna Outside"),
        ("success", {"result": [None, "joiner.found"]}, cardio, "Olga Outside"),
        ("success", {"result": [None, "joiner.found"]}, cardio, "Olga Outside"),
    ]
    assert lookups(nurse[0].person) == [
        ("failure", {"result": [None, "joiner.in_scope"]}, cardio, "Nina Nurse")]
    assert AuditEvent.objects.filter(action="joiner.lookup",
                                     actor_id=hospital_admin.pk).count() == 4
