"""Pushing several people at once: a target that announces bulk support (RFC 7644 §3.7) gets one
bulk request per batch, and each operation's result becomes its own job's (done, recovered after
a 409, failed for a refusal, retried for a transient failure); a target that announces none gets
one request per user. A person whose Group memberships did not change causes no PATCH of a
Group."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.audit.models import AuditEvent
from apps.identities.models import Person, User
from apps.provisioning.models import ProvisioningJob, RemoteUser
from apps.provisioning.push import push_due
from tests.conftest import make_staff
from tests.integration.scim_target import FaultyProxy, ScimTarget
from tests.provisioning.conftest import make_due, make_system, queue

pytestmark = pytest.mark.django_db


def _people(tree: Any, n: int, family: str = "Bulk") -> list[Person]:
    return [make_staff(tree["cardio"], f"Bo{i}", family, care=True)[0].person for i in range(n)]


def _writes(proxy: FaultyProxy) -> list[tuple[str, str]]:
    return [(method, path) for method, path in proxy.requests if method != "GET"]


def test_a_batch_of_new_staff_goes_as_one_bulk_request_without_group_patches(
    target: ScimTarget, proxy: FaultyProxy, tree: Any
) -> None:
    people = _people(tree, 4)
    system = make_system(tree["region"], proxy.url)
    jobs = [queue(system, person, "person.created") for person in people]

    assert push_due().results == {"created": 4}

    assert _writes(proxy) == [("POST", "/v2/Bulk")]  # no user holds a role: no Group patched
    for person, job in zip(people, jobs, strict=True):
        held = target.user(str(person.pk))
        assert held is not None and held["active"] is True
        job.refresh_from_db()
        assert (job.state, job.result) == ("done", "created")
        assert RemoteUser.objects.get(system=system, person=person).remote_id == held["id"]
    assert AuditEvent.objects.filter(action="provisioning_job.pushed",
                                     target_id__in=[str(j.pk) for j in jobs]).count() == 4


def test_one_failing_operation_of_a_bulk_fails_only_its_job(
    target: ScimTarget, proxy: FaultyProxy, tree: Any, assert_audited: Any
) -> None:
    """One bulk request carries: a change (updated), a userName another user at the target
    holds (409 on replace: refused, failed), a user deleted at the target (404: created again)
    and a user a lost response created (409 on create: recovered)."""
    changed, clashing, deleted = _people(tree, 3)
    system = make_system(tree["region"], proxy.url)
    for person in (changed, clashing, deleted):
        queue(system, person)
    push_due()
    lost = _people(tree, 1, family="Lost")[0]
    status, _ = target.request("POST", "/Users", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "externalId": str(lost.pk), "userName": "bo0.lost"})
    assert status == 201
    status, _ = target.request("POST", "/Users", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "externalId": "someone-else", "userName": "taken.name"})
    assert status == 201
    Person.objects.filter(pk__in=[changed.pk, deleted.pk]).update(given_name="Changed")
    User.objects.filter(person=clashing).update(username="taken.name")
    status, _ = target.request("DELETE", f"/Users/{target.user(str(deleted.pk))['id']}")  # type: ignore[index]
    assert status == 204
    before = len(proxy.requests)
    jobs = {person.pk: queue(system, person) for person in (changed, clashing, deleted, lost)}

    report = push_due()

    assert report.results == {"updated": 1, "created": 1, "recovered": 1} and report.failed == 1
    assert proxy.requests[before:].count(("POST", "/v2/Bulk")) == 1
    for job in jobs.values():
        job.refresh_from_db()
    assert jobs[clashing.pk].state == "failed"
    assert jobs[clashing.pk].last_error.startswith("409: ")
    assert_audited("provisioning_job.failed", target=jobs[clashing.pk], subject=clashing,
                   outcome="failure")
    assert target.user(str(changed.pk))["name"]["givenName"] == "Changed"  # type: ignore[index]
    assert target.user(str(deleted.pk)) is not None
    assert target.user(str(lost.pk))["active"] is True  # type: ignore[index]
    assert len(target.users()) == 5  # one per person, and the other holder of taken.name
    assert (jobs[lost.pk].result, jobs[deleted.pk].result) == ("recovered", "created")


def test_a_bulk_request_answered_503_is_retried_for_every_job_then_delivered(
    target: ScimTarget, proxy: FaultyProxy, tree: Any
) -> None:
    people = _people(tree, 3)
    system = make_system(tree["region"], proxy.url)
    for person in people:
        queue(system, person)
    proxy.fail(503, headers={"Retry-After": "30"})

    assert push_due().retried == 3
    assert set(ProvisioningJob.objects.filter(system=system).values_list("state", flat=True)) == {
        "pending"}
    assert target.users() == []
    make_due()
    assert push_due().results == {"created": 3}
    assert {u["externalId"] for u in target.users()} == {str(p.pk) for p in people}


@pytest.fixture
def single_target(tmp_path: Path) -> Iterator[ScimTarget]:
    """A scim2-server that announces no bulk support."""
    server = ScimTarget(tmp_path, bulk=False)
    server.start()
    yield server
    server.stop()


def test_a_target_without_bulk_support_gets_one_request_per_user(
    single_target: ScimTarget, tree: Any
) -> None:
    proxy = FaultyProxy(single_target)
    try:
        people = _people(tree, 3)
        system = make_system(tree["region"], proxy.url)
        for person in people:
            queue(system, person)

        assert push_due().results == {"created": 3}
        assert _writes(proxy) == [("POST", "/v2/Users")] * 3
        assert {u["externalId"] for u in single_target.users()} == {str(p.pk) for p in people}
    finally:
        proxy.close()
