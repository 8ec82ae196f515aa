"""The provisioning administration services: registering and changing downstream systems
(credentials encrypted at rest, never in an audit event), the URL and scope rules, pausing,
retrying and skipping jobs and starting reconciliations, each refused outside the actor's
organisations and audited once."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.commissions import services as commissions
from apps.commissions.models import Role
from apps.core.actors import SYSTEM
from apps.core.errors import NotFound, ValidationFailed
from apps.provisioning import credentials, errors, services
from apps.provisioning.models import (
    AccessTokenCache,
    DownstreamSystem,
    ProvisioningJob,
    ReconciliationRun,
)
from tests.conftest import make_staff
from tests.provisioning.admin_support import TOKEN, job, register

pytestmark = pytest.mark.django_db

CLIENT_CREDENTIALS = {"token_url": "https://idp.example.se/oauth2/token", "client_id": "portal",
                      "client_secret": "client secret with spaces!", "scope": "scim.write  scim.read"}


@pytest.fixture
def system(hospital_admin: Any, tree: Any) -> DownstreamSystem:
    return register(hospital_admin, tree["hospital"], scope=[tree["cardio"], tree["ortho"]])


@pytest.fixture
def person(tree: Any) -> Any:
    user, _ = make_staff(tree["cardio"], "Petra", "Person")
    return user.person


@pytest.fixture
def other_admin(tree: Any) -> Any:
    """A local administrator of the other care provider."""
    user, _ = make_staff(tree["other"], "Otto", "Other")
    commissions.role_grant(actor=SYSTEM, person=user.person, role=Role.LOCAL_ADMIN,
                           organisation=tree["other"], valid_from=timezone.now(), valid_until=None)
    return user


def _column(system: DownstreamSystem) -> str:
    """The credentials column as the database holds it, read past the ORM."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM provisioning_downstreamsystem WHERE id = %s",
                       [DownstreamSystem._meta.pk.get_db_prep_value(system.pk, connection)])
        return str(cursor.fetchone()[0])


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


def test_register_stores_the_token_encrypted_and_audits_without_it(
        system: DownstreamSystem, hospital_admin: Any, tree: Any) -> None:
    stored = _column(system)
    assert TOKEN not in stored and "s3cr3t" not in stored
    assert credentials.decrypt(stored) == {"token": TOKEN}
    assert system.state == DownstreamSystem.State.ENABLED
    assert list(system.scope.order_by("path")) == [tree["cardio"], tree["ortho"]]
    assert system.attributes == ["emails", "commissions"]
    [event] = _events("downstream_system.registered")
    assert event.actor_id == hospital_admin.pk and event.target_id == str(system.pk)
    assert event.organisation_hsa_id == tree["hospital"].hsa_id
    assert TOKEN not in json.dumps(event.changes) and "s3cr3t" not in json.dumps(event.changes)
    assert event.changes["base_url"] == [None, "https://scim.example.se/scim/v2"]
    assert event.changes["scope"] == [None, [tree["cardio"].hsa_id, tree["ortho"].hsa_id]]


def test_oauth2_client_credentials_are_stored_encrypted(hospital_admin: Any, tree: Any) -> None:
    system = register(hospital_admin, tree["cardio"], auth_method="client_credentials",
                      credentials_given=CLIENT_CREDENTIALS)
    assert "client secret with spaces!" not in _column(system)
    assert credentials.decrypt(_column(system)) == {**CLIENT_CREDENTIALS,
                                                   "scope": "scim.write scim.read"}
    [event] = _events("downstream_system.registered")
    assert "client secret with spaces!" not in json.dumps(event.changes)
    assert event.changes["client_id"] == [None, "portal"]


@pytest.mark.parametrize("organisation", ["other", "region"])
def test_an_administrator_registers_only_for_their_own_organisations(
        hospital_admin: Any, tree: Any, organisation: str) -> None:
    with pytest.raises(NotFound):
        register(hospital_admin, tree[organisation])
    assert not DownstreamSystem.objects.exists() and not AuditEvent.objects.filter(
        action__startswith="downstream_system").exists()


def test_staff_without_the_administrator_role_registers_nothing(tree: Any) -> None:
    nurse, _ = make_staff(tree["cardio"], "Nina", "Nurse", care=True)
    with pytest.raises(NotFound):
        register(nurse, tree["cardio"])


def test_an_administrator_above_the_owner_manages_its_systems(
        system: DownstreamSystem, tree: Any, person: Any) -> None:
    region_admin, _ = make_staff(tree["region"], "Rut", "Region")
    commissions.role_grant(actor=SYSTEM, person=region_admin.person, role=Role.LOCAL_ADMIN,
                           organisation=tree["region"], valid_from=timezone.now(), valid_until=None)
    services.downstream_system_pause(actor=region_admin, system=system)
    failed = job(system, person)
    services.provisioning_job_retry(actor=region_admin, job=failed)


@pytest.mark.parametrize("scope, code", [
    (["primary"], "downstream_system.scope_outside"),
    (["cardio", "other_unit"], "downstream_system.scope_outside"),
    ([], "downstream_system.scope_missing"),
])
def test_the_scope_lies_under_the_owner(hospital_admin: Any, tree: Any, scope: list[str],
                                        code: str) -> None:
    region_admin, _ = make_staff(tree["region"], "Rut", "Region")
    commissions.role_grant(actor=SYSTEM, person=region_admin.person, role=Role.LOCAL_ADMIN,
                           organisation=tree["region"], valid_from=timezone.now(), valid_until=None)
    with pytest.raises(ValidationFailed) as refused:
        register(region_admin, tree["hospital"], scope=[tree[name] for name in scope])
    assert refused.value.code == code and refused.value.field == "scope"


@pytest.mark.parametrize("url, code", [
    ("http://scim.example.se/scim/v2", "downstream_system.url_scheme"),
    ("https://user:password@scim.example.se/scim/v2", "downstream_system.url_credentials"),
    ("https://token@scim.example.se/scim/v2", "downstream_system.url_credentials"),
    ("https://scim.example.se/scim/v2?tenant=1", "downstream_system.url_query"),
    ("https://scim.example.se/scim/v2#users", "downstream_system.url_query"),
    ("scim.example.se/scim/v2", "downstream_system.url_invalid"),
    ("ftp://scim.example.se/scim", "downstream_system.url_invalid"),
    ("https://scim.example.se:port/scim", "downstream_system.url_invalid"),
    ("https://scim.exämple.se/scim", "downstream_system.url_invalid"),
    ("https://scim.example.se/scim v2", "downstream_system.url_invalid"),
    ("", "downstream_system.url_invalid"),
    ("https://999.1.1.1/v2", "downstream_system.url_invalid"),
    ("https://169.254.169.254/latest/meta-data", "downstream_system.url_host"),
    ("https://[fd00:ec2::254]/latest", "downstream_system.url_host"),
    ("https://[::ffff:169.254.169.254]/x", "downstream_system.url_host"),
    ("https://[::ffff:a9fe:a9fe]/x", "downstream_system.url_host"),
    ("https://[fe80::1%25eth0]/v2", "downstream_system.url_host"),
    ("https://0.0.0.0:8443/v2", "downstream_system.url_host"),
    ("https://[::]/v2", "downstream_system.url_host"),
])
def test_refused_base_urls(hospital_admin: Any, tree: Any, url: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        register(hospital_admin, tree["cardio"], base_url=url)
    assert refused.value.code == code and refused.value.field == "base_url"


@pytest.mark.parametrize("url, stored", [
    ("http://127.0.0.1:8765/scim/v2/", "http://127.0.0.1:8765/scim/v2"),
    ("http://[::1]:8765/scim/v2", "http://[::1]:8765/scim/v2"),
    ("http://localhost:8765/scim/v2", "http://localhost:8765/scim/v2"),
    ("  https://scim.example.se/scim/v2/  ", "https://scim.example.se/scim/v2"),
])
def test_loopback_http_and_https_are_accepted(hospital_admin: Any, tree: Any, url: str,
                                              stored: str) -> None:
    assert register(hospital_admin, tree["cardio"], base_url=url).base_url == stored


def test_debug_allows_http_anywhere(hospital_admin: Any, tree: Any, settings: Any) -> None:
    settings.DEBUG = True
    assert register(hospital_admin, tree["cardio"], base_url="http://scim.test/v2").base_url == (
        "http://scim.test/v2")


@pytest.mark.parametrize("auth_method, given, field", [
    ("bearer", {"token": ""}, "token"),
    ("bearer", {"token": "two words"}, "token"),
    ("bearer", {"token": "a" * 5000}, "token"),
    ("client_credentials", {**CLIENT_CREDENTIALS, "client_secret": ""}, "client_secret"),
    ("client_credentials", {**CLIENT_CREDENTIALS, "client_secret": "tab\there"}, "client_secret"),
    ("client_credentials", {**CLIENT_CREDENTIALS, "client_id": ""}, "client_id"),
    ("client_credentials", {**CLIENT_CREDENTIALS, "token_url": "http://idp.example.se/token"},
     "token_url"),
    ("client_credentials", {**CLIENT_CREDENTIALS, "scope": 'say "hello"'}, "client_scope"),
    ("basic", {"token": TOKEN}, "auth_method"),
])
def test_refused_credentials(hospital_admin: Any, tree: Any, auth_method: str,
                             given: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        register(hospital_admin, tree["cardio"], auth_method=auth_method, credentials_given=given)
    assert refused.value.field == field


def test_unknown_attributes_are_refused(hospital_admin: Any, tree: Any) -> None:
    with pytest.raises(ValidationFailed) as refused:
        register(hospital_admin, tree["cardio"], attributes=["emails", "password"])
    assert refused.value.field == "attributes"


def test_a_name_is_used_once_per_organisation(system: DownstreamSystem, hospital_admin: Any,
                                              tree: Any) -> None:
    with pytest.raises(ValidationFailed) as refused:
        register(hospital_admin, tree["hospital"], name=" Journal system ")
    assert refused.value.code == "downstream_system.name_taken"
    assert register(hospital_admin, tree["cardio"]).name == "Journal system"


def _change(actor: Any, system: DownstreamSystem, **overrides: Any) -> DownstreamSystem:
    arguments: dict[str, Any] = {
        "name": system.name, "base_url": system.base_url, "auth_method": system.auth_method,
        "credentials_given": {"token": ""}, "scope": list(system.scope.all()),
        "attributes": system.attributes}
    arguments.update(overrides)
    return services.downstream_system_change(actor=actor, system=system, **arguments)


def test_a_blank_token_keeps_the_stored_one(system: DownstreamSystem, hospital_admin: Any,
                                            tree: Any) -> None:
    changed = _change(hospital_admin, system, name="Journal", scope=[tree["cardio"]],
                      base_url="https://scim.example.se/v3")
    assert credentials.decrypt(_column(changed)) == {"token": TOKEN}
    [event] = _events("downstream_system.changed")
    assert event.changes == {
        "name": ["Journal system", "Journal"],
        "base_url": ["https://scim.example.se/scim/v2", "https://scim.example.se/v3"],
        "scope": [[tree["cardio"].hsa_id, tree["ortho"].hsa_id], [tree["cardio"].hsa_id]]}


def test_a_new_token_replaces_the_stored_one_and_is_audited_masked(
        system: DownstreamSystem, hospital_admin: Any) -> None:
    _change(hospital_admin, system, credentials_given={"token": "n3w-token"})
    assert credentials.decrypt(_column(system)) == {"token": "n3w-token"}
    [event] = _events("downstream_system.changed")
    assert event.changes == {"secret": ["***", "***"]}


def test_a_stored_token_is_not_sent_to_another_host(system: DownstreamSystem,
                                                   hospital_admin: Any) -> None:
    with pytest.raises(ValidationFailed) as refused:
        _change(hospital_admin, system, base_url="https://collector.example.com/scim/v2")
    assert refused.value.field == "token" and refused.value.code == "downstream_system.secret_missing"
    assert DownstreamSystem.objects.get(pk=system.pk).base_url == "https://scim.example.se/scim/v2"


def test_changing_the_method_needs_the_new_credentials(system: DownstreamSystem,
                                                       hospital_admin: Any) -> None:
    with pytest.raises(ValidationFailed) as refused:
        _change(hospital_admin, system, auth_method="client_credentials",
                credentials_given={**CLIENT_CREDENTIALS, "client_secret": ""})
    assert refused.value.field == "client_secret"
    _change(hospital_admin, system, auth_method="client_credentials",
            credentials_given=CLIENT_CREDENTIALS)
    assert credentials.decrypt(_column(system))["client_secret"] == "client secret with spaces!"
    # Later, a blank secret keeps it while the token URL's host and the client ID stay.
    _change(hospital_admin, DownstreamSystem.objects.get(pk=system.pk),
            credentials_given={**CLIENT_CREDENTIALS, "client_secret": "", "scope": ""})
    stored = credentials.decrypt(_column(system))
    assert stored["client_secret"] == "client secret with spaces!" and stored["scope"] == ""


def test_a_new_scim_base_url_needs_the_client_secret_again_and_drops_the_access_token(
    system: DownstreamSystem, hospital_admin: Any
) -> None:
    """An access token fetched with the stored client secret is never sent to another host."""
    _change(hospital_admin, system, auth_method="client_credentials",
            credentials_given=CLIENT_CREDENTIALS)
    system = DownstreamSystem.objects.get(pk=system.pk)
    AccessTokenCache.objects.create(system=system, token="issued",
                                    expires_at=timezone.now() + timedelta(hours=1))
    with pytest.raises(ValidationFailed) as refused:
        _change(hospital_admin, system, base_url="https://collector.example.com/scim/v2",
                credentials_given={**CLIENT_CREDENTIALS, "client_secret": ""})
    assert refused.value.field == "client_secret"
    _change(hospital_admin, system, base_url="https://collector.example.com/scim/v2",
            credentials_given=CLIENT_CREDENTIALS)
    assert not AccessTokenCache.objects.filter(system=system).exists()


def test_nothing_changed_records_nothing(system: DownstreamSystem, hospital_admin: Any) -> None:
    _change(hospital_admin, system)
    assert not _events("downstream_system.changed")


def test_another_organisation_cannot_change_pause_or_reconcile(
        system: DownstreamSystem, other_admin: Any, person: Any) -> None:
    failed = job(system, person)
    for attempt in (lambda: _change(other_admin, system, name="Mine"),
                    lambda: services.downstream_system_pause(actor=other_admin, system=system),
                    lambda: services.reconciliation_start(actor=other_admin, system=system),
                    lambda: services.provisioning_job_retry(actor=other_admin, job=failed),
                    lambda: services.provisioning_job_skip(actor=other_admin, job=failed,
                                                           reason="Not ours")):
        with pytest.raises(NotFound):
            attempt()
    assert DownstreamSystem.objects.get(pk=system.pk).name == "Journal system"
    assert ProvisioningJob.objects.get(pk=failed.pk).state == "failed"
    assert not ReconciliationRun.objects.exists()
    assert AuditEvent.objects.filter(actor_id=other_admin.pk).count() == 0


def test_pause_and_enable(system: DownstreamSystem, hospital_admin: Any) -> None:
    paused = services.downstream_system_pause(actor=hospital_admin, system=system)
    assert paused.state == "paused"
    with pytest.raises(errors.StateUnchanged):
        services.downstream_system_pause(actor=hospital_admin, system=system)
    assert services.downstream_system_enable(actor=hospital_admin, system=system).state == "enabled"
    [pause] = _events("downstream_system.paused")
    [enable] = _events("downstream_system.enabled")
    assert pause.changes == {"state": ["enabled", "paused"]}
    assert enable.changes == {"state": ["paused", "enabled"]}


def test_retry_makes_a_failed_job_due_now_and_keeps_its_attempts(
        system: DownstreamSystem, hospital_admin: Any, person: Any) -> None:
    failed = job(system, person, available_at=timezone.now() + timedelta(hours=1))
    before = timezone.now()
    retried = services.provisioning_job_retry(actor=hospital_admin, job=failed)
    stored = ProvisioningJob.objects.get(pk=failed.pk)
    assert stored.state == retried.state == "pending"
    assert stored.attempts == 5 and before <= stored.available_at <= timezone.now()
    assert stored.finished_at is None
    [event] = _events("provisioning_job.retried")
    assert event.subject_person_id == person.pk and event.target_id == str(failed.pk)
    assert event.changes["state"] == ["failed", "pending"]
    with pytest.raises(errors.JobNotRetryable):
        services.provisioning_job_retry(actor=hospital_admin, job=failed)


def test_push_now_makes_the_waiting_changes_of_a_working_system_due(
        system: DownstreamSystem, hospital_admin: Any, person: Any, other_admin: Any) -> None:
    later = timezone.now() + timedelta(hours=1)
    waiting = [job(system, person, ProvisioningJob.State.PENDING, attempts=3, available_at=later)
               for _ in range(2)]
    failed = job(system, person, available_at=later)
    with pytest.raises(NotFound):
        services.downstream_system_push_now(actor=other_admin, system=system)

    assert services.downstream_system_push_now(actor=hospital_admin, system=system) == 2
    for pending in waiting:
        stored = ProvisioningJob.objects.get(pk=pending.pk)
        assert stored.available_at <= timezone.now() and stored.attempts == 3
    assert ProvisioningJob.objects.get(pk=failed.pk).state == "failed"  # retried one by one
    [event] = _events("downstream_system.pushed_now")
    assert event.changes == {"jobs_made_due": [0, 2]}

    services.downstream_system_pause(actor=hospital_admin, system=system)
    with pytest.raises(errors.SystemPaused):
        services.downstream_system_push_now(actor=hospital_admin, system=system)


@pytest.mark.parametrize("state", ["pending", "failed"])
def test_skip_closes_a_pending_or_failed_job_with_the_reason_audited(
        system: DownstreamSystem, hospital_admin: Any, person: Any, state: str) -> None:
    open_job = job(system, person, state)
    services.provisioning_job_skip(actor=hospital_admin, job=open_job,
                                   reason="  Test account, not in the target  ")
    stored = ProvisioningJob.objects.get(pk=open_job.pk)
    assert stored.state == "skipped" and stored.finished_at is not None
    [event] = _events("provisioning_job.skipped")
    assert event.reason == "Test account, not in the target"
    assert event.subject_person_id == person.pk
    assert event.changes == {"state": [state, "skipped"],
                             "change": ["commission.granted", "commission.granted"]}
    assert event.target_label == f"Journal system #{open_job.pk}"


@pytest.mark.parametrize("state", ["in_progress", "done", "skipped"])
def test_skip_refuses_a_job_that_is_not_open(system: DownstreamSystem, hospital_admin: Any,
                                             person: Any, state: str) -> None:
    closed = job(system, person, state)
    with pytest.raises(errors.JobNotSkippable):
        services.provisioning_job_skip(actor=hospital_admin, job=closed, reason="Why not")
    assert ProvisioningJob.objects.get(pk=closed.pk).state == state


@pytest.mark.parametrize("reason", ["", "   ", "x" * 1001])
def test_skip_needs_a_reason(system: DownstreamSystem, hospital_admin: Any, person: Any,
                             reason: str) -> None:
    failed = job(system, person)
    with pytest.raises(ValidationFailed) as refused:
        services.provisioning_job_skip(actor=hospital_admin, job=failed, reason=reason)
    assert refused.value.field == "reason"


def test_one_reconciliation_runs_at_a_time(system: DownstreamSystem, hospital_admin: Any) -> None:
    run = services.reconciliation_start(actor=hospital_admin, system=system)
    assert run.state == "running" and run.started_by_id == hospital_admin.pk
    with pytest.raises(errors.ReconciliationRunning):
        services.reconciliation_start(actor=hospital_admin, system=system)
    [event] = _events("reconciliation.started")
    assert event.target_id == str(system.pk) and event.changes == {"reconciliation": [None, str(run.pk)]}
    ReconciliationRun.objects.filter(pk=run.pk).update(state="done")
    assert services.reconciliation_start(actor=hospital_admin, system=system).pk != run.pk


def test_a_paused_system_is_not_reconciled(system: DownstreamSystem, hospital_admin: Any) -> None:
    services.downstream_system_pause(actor=hospital_admin, system=system)
    with pytest.raises(errors.SystemPaused):
        services.reconciliation_start(actor=hospital_admin, system=system)
    assert not ReconciliationRun.objects.exists()


def test_credentials_no_key_decrypts_any_more_are_entered_again(
        system: DownstreamSystem, hospital_admin: Any) -> None:
    DownstreamSystem.objects.filter(pk=system.pk).update(credentials="made-under-a-removed-key")
    system.refresh_from_db()
    with pytest.raises(ValidationFailed) as refused:
        _change(hospital_admin, system, name="Journal")
    assert refused.value.field == "token" and refused.value.code == "downstream_system.secret_missing"
    _change(hospital_admin, system, credentials_given={"token": "n3w-token"})
    assert credentials.decrypt(_column(system)) == {"token": "n3w-token"}
