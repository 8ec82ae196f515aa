"""Pushing people to a real scim2-server: what the target holds after each kind of change, and what
the status page (the jobs) and the audit log say."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.commissions import services as commissions
from apps.commissions.models import Role
from apps.core.actors import SYSTEM
from apps.identities.models import Person
from apps.provisioning import credentials
from apps.provisioning.models import (
    AccessTokenCache,
    DownstreamSystem,
    ProvisioningJob,
    RemoteUser,
)
from apps.provisioning.push import push_due
from apps.provisioning.resources import user_states
from apps.provisioning.schema import HSA_USER_SCHEMA
from tests.conftest import make_staff
from tests.integration.scim_target import TOKEN, FaultyProxy, ScimTarget
from tests.provisioning.conftest import make_system, queue

pytestmark = pytest.mark.django_db

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_a_new_staff_member_is_created_with_the_hsa_extension(
    system: DownstreamSystem, target: ScimTarget, tree: Any, assert_audited: Any
) -> None:
    user, employee = make_staff(tree["cardio"], "Nina", "Nurse", care=True)
    Person.objects.filter(pk=user.person.pk).update(email="nina@region.example.com")
    job = queue(system, user.person, "person.created")

    report = push_due()

    assert report.results == {"created": 1}
    held = target.user(str(user.person.pk))
    assert held is not None
    assert held["userName"] == "nina.nurse" and held["active"] is True
    assert held["name"]["givenName"] == "Nina" and held["name"]["familyName"] == "Nurse"
    assert held["emails"][0]["value"] == "nina@region.example.com"
    assert held[ENTERPRISE]["employeeNumber"] == employee.hsa_id
    assert held[ENTERPRISE]["organization"] == "Region Demo"
    hsa = held[HSA_USER_SCHEMA]
    assert [e["hsaId"] for e in hsa["employments"]] == [employee.hsa_id]
    [commission] = hsa["commissions"]
    assert commission["careUnitHsaId"] == tree["cardio"].hsa_id
    assert commission["purpose"] == "Vård och behandling"
    job.refresh_from_db()
    assert (job.state, job.result, job.last_error) == ("done", "created", "")
    remote = RemoteUser.objects.get(system=system, person=user.person)
    assert remote.remote_id == held["id"] and remote.active
    event = assert_audited("provisioning_job.pushed", target=job, subject=user.person)
    assert event.actor_label == "system:worker"


def test_a_change_replaces_the_user_and_an_unchanged_state_sends_nothing(
    system: DownstreamSystem, target: ScimTarget, proxy: FaultyProxy, tree: Any
) -> None:
    user, _ = make_staff(tree["cardio"], "Olle", "Old", care=True)
    queue(system, user.person)
    push_due()
    Person.objects.filter(pk=user.person.pk).update(given_name="Olof", email="olof@example.com")
    queue(system, user.person)
    queue(system, user.person)  # a second change whose state is the same by the time it runs

    assert push_due(limit=1).results == {"updated": 1}
    sent = len(proxy.requests)
    assert push_due().results == {"unchanged": 1}
    assert len(proxy.requests) == sent  # no request at all

    held = target.user(str(user.person.pk))
    assert held is not None and held["name"]["givenName"] == "Olof"
    assert held["emails"][0]["value"] == "olof@example.com"
    assert len(target.users()) == 1


def test_an_ended_commission_leaves_the_target_and_a_leaver_is_deactivated(
    system: DownstreamSystem, target: ScimTarget, tree: Any, hospital_admin: Any
) -> None:
    user, employee = make_staff(tree["cardio"], "Lena", "Leaver", care=True)
    queue(system, user.person)
    push_due()
    commission = employee.commissions.get()
    commissions.commission_end(actor=SYSTEM, commission=commission, reason="Moved on")
    queue(system, user.person, "commission.ended")
    push_due()
    held = target.user(str(user.person.pk))
    assert held is not None and "commissions" not in held.get(HSA_USER_SCHEMA, {})

    commissions.account_deactivate(actor=SYSTEM, user=user, reason="Left")
    job = queue(system, user.person, "account.deactivated")
    report = push_due()

    assert report.results == {"deactivated": 1}
    held = target.user(str(user.person.pk))
    assert held is not None and held["active"] is False
    job.refresh_from_db()
    assert job.result == "deactivated"


def test_someone_moved_out_of_scope_is_deactivated_never_deleted(
    target: ScimTarget, tree: Any, proxy: FaultyProxy
) -> None:
    system = make_system(tree["cardio"], proxy.url)  # receives Cardiology's people only
    user, employee = make_staff(tree["cardio"], "Mia", "Mover", care=True)
    queue(system, user.person)
    push_due()
    employee.organisation = tree["ortho"]
    employee.save(update_fields=["organisation"])
    queue(system, user.person, "employee.moved")

    assert push_due().results == {"deactivated": 1}
    held = target.user(str(user.person.pk))
    assert held is not None and held["active"] is False
    assert HSA_USER_SCHEMA not in held or not held[HSA_USER_SCHEMA].get("employments")


def test_a_person_never_sent_and_out_of_scope_is_not_created(
    system: DownstreamSystem, target: ScimTarget, tree: Any
) -> None:
    user, _ = make_staff(tree["other_unit"], "Otto", "Other", care=True)
    job = queue(system, user.person)
    assert push_due().results == {"unchanged": 1}
    assert target.users() == []
    job.refresh_from_db()
    assert job.state == "done"


def test_system_roles_are_groups_with_their_holders(
    system: DownstreamSystem, target: ScimTarget, tree: Any, hospital_admin: Any
) -> None:
    queue(system, hospital_admin.person, "role.granted")
    push_due()
    admin_id = target.user(str(hospital_admin.person.pk))["id"]  # type: ignore[index]
    groups = {g["externalId"]: g for g in target.groups()}
    assert set(groups) <= set(Role.values)  # a role's Group is made when first needed
    assert [m["value"] for m in groups["local_admin"]["members"]] == [admin_id]
    assert all(not g.get("members") for role, g in groups.items() if role != "local_admin")

    assignment = hospital_admin.person.role_assignments.get()
    commissions.role_end(actor=SYSTEM, assignment=assignment, reason="Done")
    queue(system, hospital_admin.person, "role.ended")
    push_due()
    groups = {g["externalId"]: g for g in target.groups()}
    assert not groups["local_admin"].get("members")


def test_a_paused_system_queues_until_enabled(
    system: DownstreamSystem, target: ScimTarget, tree: Any
) -> None:
    system.state = DownstreamSystem.State.PAUSED
    system.save(update_fields=["state"])
    user, _ = make_staff(tree["cardio"], "Pia", "Paused", care=True)
    job = queue(system, user.person)

    assert push_due().as_dict() == {"retried": 0, "failed": 0, "lost": 0}
    job.refresh_from_db()
    assert job.state == "pending" and target.users() == []

    system.state = DownstreamSystem.State.ENABLED
    system.save(update_fields=["state"])
    assert push_due().results == {"created": 1}


def test_a_permanent_refusal_fails_the_job_with_the_error_and_later_changes_still_go(
    system: DownstreamSystem, target: ScimTarget, proxy: FaultyProxy, tree: Any,
    assert_audited: Any,
) -> None:
    user, _ = make_staff(tree["cardio"], "Rita", "Refused", care=True)
    first = queue(system, user.person)
    proxy.fail(400)
    assert push_due(limit=1).failed == 1
    first.refresh_from_db()
    assert first.state == "failed" and first.last_error.startswith("400: injected")
    assert_audited("provisioning_job.failed", target=first, subject=user.person,
                   outcome="failure")

    second = queue(system, user.person)
    assert push_due().results == {"created": 1}  # the failed job blocks nothing
    second.refresh_from_db()
    assert second.state == "done" and target.user(str(user.person.pk)) is not None


def test_user_resources_read_the_database_a_constant_number_of_times(
    system: DownstreamSystem, tree: Any
) -> None:
    people = [make_staff(tree["cardio"], f"P{i}", "Many", care=True)[0].person for i in range(2)]
    with CaptureQueriesContext(connection) as two:
        user_states(system, [p.pk for p in people])
    people += [make_staff(tree["ortho"], f"Q{i}", "Many", care=True)[0].person for i in range(6)]
    with CaptureQueriesContext(connection) as eight:
        states = user_states(system, [p.pk for p in people])
    assert len(states) == 8 and all(state.resource.active for state in states)
    assert len(eight) == len(two)


def test_a_commission_not_yet_valid_is_not_sent(
    system: DownstreamSystem, target: ScimTarget, tree: Any
) -> None:
    user, employee = make_staff(tree["cardio"], "Fia", "Future")
    commissions.commission_grant(
        actor=SYSTEM, employee=employee, care_unit=tree["cardio"], purpose="Vård och behandling",
        rights=["Läsa;alla;VE"], valid_from=timezone.now() + timedelta(days=3), valid_until=None)
    queue(system, user.person)
    push_due()
    held = target.user(str(user.person.pk))
    assert held is not None and held["active"] is True
    assert "commissions" not in held.get(HSA_USER_SCHEMA, {})


def test_every_finished_push_is_audited_once(system: DownstreamSystem, tree: Any) -> None:
    user, _ = make_staff(tree["cardio"], "Ada", "Audit", care=True)
    jobs = [queue(system, user.person) for _ in range(3)]
    push_due()
    assert AuditEvent.objects.filter(action="provisioning_job.pushed",
                                     target_id__in=[str(j.pk) for j in jobs]).count() == 3
    assert set(ProvisioningJob.objects.values_list("state", flat=True)) == {"done"}


class TokenEndpoint:
    """An OAuth2 token endpoint (RFC 6749 §4.4) on 127.0.0.1 that issues the target's token to
    client `journal` with secret `s3cret` (HTTP Basic), counting the requests."""

    def __init__(self) -> None:
        import base64
        import http.server
        import threading

        endpoint = self
        self.issued = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                basic = base64.b64encode(b"journal:s3cret").decode()
                ok = self.headers.get("Authorization") == f"Basic {basic}"
                body = (json.dumps({"access_token": TOKEN, "token_type": "Bearer",
                                    "expires_in": 3600}) if ok
                        else json.dumps({"error": "invalid_client"})).encode()
                endpoint.issued += ok
                self.send_response(200 if ok else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_oauth2_client_credentials_fetch_one_token_shared_through_the_database(
    target: ScimTarget, tree: Any
) -> None:
    endpoint = TokenEndpoint()
    try:
        system = make_system(tree["region"], target.url)
        system.auth_method = DownstreamSystem.AuthMethod.CLIENT_CREDENTIALS
        system.credentials = credentials.encrypt({
            "token_url": endpoint.url, "client_id": "journal", "client_secret": "s3cret",
            "scope": "scim"})
        system.save(update_fields=["auth_method", "credentials"])
        for given in ("Tor", "Tora"):
            user, _ = make_staff(tree["cardio"], given, "Token", care=True)
            queue(system, user.person)

        assert push_due().results == {"created": 2}
        assert endpoint.issued == 1  # the second push used the stored token
        cached = AccessTokenCache.objects.get(system=system)
        assert TOKEN not in cached.token  # encrypted at rest
    finally:
        endpoint.server.shutdown()


def test_groups_turned_on_later_are_created_with_the_holders_already_sent(
    target: ScimTarget, tree: Any, hospital_admin: Any, proxy: FaultyProxy
) -> None:
    system = make_system(tree["region"], proxy.url, attributes=["employments"])
    queue(system, hospital_admin.person)
    push_due()
    assert target.groups() == []
    system.attributes = ["employments", "groups"]
    system.save(update_fields=["attributes"])
    user, _ = make_staff(tree["cardio"], "Gun", "Group", care=True)
    commissions.role_grant(actor=SYSTEM, person=user.person, role=Role.LOCAL_ADMIN,
                           organisation=tree["cardio"], valid_from=timezone.now(),
                           valid_until=None)
    queue(system, user.person)

    push_due()
    admin_id = target.user(str(hospital_admin.person.pk))["id"]  # type: ignore[index]
    gun_id = target.user(str(user.person.pk))["id"]  # type: ignore[index]
    groups = {g["externalId"]: g for g in target.groups()}
    assert sorted(m["value"] for m in groups["local_admin"]["members"]) == sorted(
        [admin_id, gun_id])
