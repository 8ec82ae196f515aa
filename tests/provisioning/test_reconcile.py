"""Reconciliation against a real scim2-server whose users drifted from the portal: a user changed
at the target, one deleted there, one the portal never sent, and one who left the scope. The run
repairs them, shows its progress and is audited."""

from __future__ import annotations

from typing import Any

import pytest

from apps.core.actors import SYSTEM
from apps.identities.models import Person
from apps.provisioning import services
from apps.provisioning.models import DownstreamSystem, ProvisioningJob, ReconciliationRun
from apps.provisioning.push import push_due
from apps.provisioning.reconcile import reconcile_step
from apps.provisioning.scope import systems_for_person
from tests.conftest import make_staff
from tests.integration.scim_target import ScimTarget
from tests.provisioning.conftest import HostileTarget, make_system, queue, scim

pytestmark = pytest.mark.django_db

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


def _start(system: DownstreamSystem) -> ReconciliationRun:
    return ReconciliationRun.objects.create(system=system, started_by_label=SYSTEM.code)


def test_a_run_repairs_drift_deactivates_strays_and_reports_progress(
    system: DownstreamSystem, target: ScimTarget, tree: Any, assert_audited: Any
) -> None:
    changed, _ = make_staff(tree["cardio"], "Cecilia", "Changed", care=True)
    deleted, _ = make_staff(tree["cardio"], "Dennis", "Deleted", care=True)
    kept, _ = make_staff(tree["ortho"], "Karin", "Kept", care=True)
    mover, mover_employee = make_staff(tree["cardio"], "Mats", "Mover", care=True)
    for user in (changed, deleted, kept, mover):
        queue(system, user.person)
    push_due()
    held = {u["externalId"]: u for u in target.users()}
    target.request("PATCH", f"/Users/{held[str(changed.person.pk)]['id']}", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "name.givenName", "value": "Someone else"}]})
    target.request("DELETE", f"/Users/{held[str(deleted.person.pk)]['id']}")
    status, _ = target.request("POST", "/Users", {"schemas": [CORE], "userName": "stray",
                                                 "externalId": "not-a-portal-person"})
    assert status == 201
    mover_employee.organisation = tree["other_unit"]  # out of the scope, never pushed since
    mover_employee.save(update_fields=["organisation"])
    run = _start(system)

    steps = 0
    while ReconciliationRun.objects.get(pk=run.pk).state == "running":
        assert reconcile_step() == 1
        steps += 1
        assert steps < 10
    run.refresh_from_db()
    assert (run.state, run.error) == ("done", "")
    assert (run.total, run.compared) == (3 + 4, 3 + 4)  # people in scope + users at the target
    assert (run.repaired, run.removed) == (2, 2)
    assert set(ProvisioningJob.objects.filter(change="reconcile").values_list(
        "person_id", flat=True)) == {changed.person.pk, deleted.person.pk, mover.person.pk}
    assert_audited("reconciliation.finished", target=run)

    push_due()
    users = {u["externalId"]: u for u in target.users()}
    assert users[str(changed.person.pk)]["name"]["givenName"] == "Cecilia"
    assert users[str(deleted.person.pk)]["active"] is True
    assert users[str(mover.person.pk)]["active"] is False
    assert users["not-a-portal-person"]["active"] is False
    assert users[str(kept.person.pk)]["active"] is True
    assert set(ProvisioningJob.objects.values_list("state", flat=True)) == {"done"}


def test_a_target_down_during_a_run_leaves_it_running_and_it_goes_on_later(
    system: DownstreamSystem, target: ScimTarget, tree: Any
) -> None:
    user, _ = make_staff(tree["cardio"], "Rut", "Run", care=True)
    run = _start(system)
    target.stop()
    assert reconcile_step() == 1
    run.refresh_from_db()
    assert run.state == "running" and run.lease_until is None

    target.start()
    while ReconciliationRun.objects.get(pk=run.pk).state == "running":
        reconcile_step()
    run.refresh_from_db()
    assert (run.state, run.repaired) == ("done", 1)
    push_due()
    assert target.user(str(user.person.pk)) is not None


def test_a_target_user_naming_a_person_never_sent_learns_nothing_of_them(
    system: DownstreamSystem, target: ScimTarget, tree: Any
) -> None:
    """The target holds a user whose externalId is the id of a person of another care provider,
    never in the system's scope: reconciliation only deactivates it, sends none of the person's
    data, and the system does not receive the person later."""
    outsider, _ = make_staff(tree["other_unit"], "Olga", "Outsider", care=True)
    Person.objects.filter(pk=outsider.person.pk).update(email="olga.outsider@othercare.se")
    status, _ = target.request("POST", "/Users", {"schemas": [CORE], "userName": "bait",
                                                 "externalId": str(outsider.person.pk)})
    assert status == 201
    run = services.reconciliation_start(actor=SYSTEM, system=system)
    for _ in range(10):
        if ReconciliationRun.objects.get(pk=run.pk).state != "running":
            break
        reconcile_step()
    push_due()

    held = target.user(str(outsider.person.pk))
    assert held is not None and held["active"] is False
    assert held.get("userName") == "bait"
    assert "Outsider" not in str(held) and "othercare.se" not in str(held), held
    assert system not in systems_for_person(outsider.person.pk)


def test_progress_never_shows_more_compared_than_the_total_after_the_target_lost_its_users(
    system: DownstreamSystem, target: ScimTarget, tree: Any
) -> None:
    """The target restarted empty: the portal phase queues every person, their pushes run
    between the steps and add users, and the target phase compares those too; the status page
    must never show "8 of 4"."""
    for name in ("Anna", "Bo", "Cia", "Dag"):
        make_staff(tree["cardio"], name, "Empty", care=True)
    run = services.reconciliation_start(actor=SYSTEM, system=system)
    for _ in range(20):
        reconcile_step()
        push_due()
        current = ReconciliationRun.objects.get(pk=run.pk)
        assert current.compared <= current.total, (current.compared, current.total)
        if current.state != "running":
            break
    assert current.state == "done" and current.compared == current.total


def test_a_target_claiming_billions_of_users_does_not_break_the_run(
    tree: Any, hostile: HostileTarget
) -> None:
    """`totalResults: 99999999999` (RFC 7644 §3.4.2) is believed only up to a bound."""
    system = make_system(tree["region"], hostile.url)
    hostile.answer = lambda m, p, b: scim(200, {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 99999999999, "itemsPerPage": 0, "startIndex": 1, "Resources": []})
    run = services.reconciliation_start(actor=SYSTEM, system=system)

    reconcile_step()

    run.refresh_from_db()
    assert run.state in (ReconciliationRun.State.RUNNING, ReconciliationRun.State.DONE)
    assert run.lease_until is None and run.total > 0
