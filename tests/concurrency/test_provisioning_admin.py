"""Administrators acting on one provisioning job or one downstream system at the same moment: the
row lock decides (apps/provisioning/models.py, "lock order": system → remote user → job), so one
wins and the others are told why, and exactly one change is stored and audited."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.db import connection

from apps.audit.models import AuditEvent
from apps.core.errors import PortalError
from apps.provisioning import services
from apps.provisioning.models import ProvisioningJob, ReconciliationRun
from tests.concurrency.support import at_once
from tests.conftest import make_staff
from tests.provisioning.admin_support import job, register

pytestmark = pytest.mark.django_db(transaction=True)


def _in_own_connection(call: Callable[..., Any], **kwargs: Any) -> str:
    """Run a service in this thread's own connection: "won", or the refusal's code."""
    try:
        call(**kwargs)
        return "won"
    except PortalError as exc:
        return exc.code
    finally:
        connection.close()


@pytest.fixture
def setting(hospital_admin: Any, tree: Any) -> Any:
    system = register(hospital_admin, tree["hospital"], scope=[tree["cardio"]])
    user, _ = make_staff(tree["cardio"], "Petra", "Person")
    return system, user.person


def test_two_retries_of_one_failed_job_retry_it_once(hospital_admin: Any, setting: Any) -> None:
    system, person = setting
    for _round in range(3):
        failed = job(system, person)
        answers = at_once([partial(_in_own_connection, services.provisioning_job_retry,
                                   actor=hospital_admin, job=failed) for _ in range(2)])
        assert sorted(answers) == ["provisioning_job.not_failed", "won"]
        assert ProvisioningJob.objects.get(pk=failed.pk).state == "pending"
        assert AuditEvent.objects.filter(action="provisioning_job.retried",
                                         target_type="provisioning.provisioningjob",
                                         target_id=str(failed.pk)).count() == 1


def test_a_retry_and_a_skip_at_once_end_skipped(hospital_admin: Any, setting: Any) -> None:
    """Serialised by the job's lock: a skip first refuses the retry; a retry first leaves the
    job pending, which the skip then closes. Either way it ends skipped, each action that took
    effect audited once."""
    system, person = setting
    for _round in range(4):
        failed = job(system, person)
        answers = at_once([
            partial(_in_own_connection, services.provisioning_job_retry, actor=hospital_admin,
                    job=failed),
            partial(_in_own_connection, services.provisioning_job_skip, actor=hospital_admin,
                    job=failed, reason="Not needed")])
        assert answers in (["won", "won"], ["provisioning_job.not_failed", "won"])
        assert ProvisioningJob.objects.get(pk=failed.pk).state == "skipped"
        assert AuditEvent.objects.filter(target_type="provisioning.provisioningjob",
                                         target_id=str(failed.pk)).count() == answers.count("won")


def test_two_skips_of_one_job_skip_it_once(hospital_admin: Any, setting: Any) -> None:
    system, person = setting
    pending = job(system, person, "pending")
    answers = at_once([partial(_in_own_connection, services.provisioning_job_skip,
                               actor=hospital_admin, job=pending, reason=f"Reason {i}")
                       for i in range(2)])
    assert sorted(answers) == ["provisioning_job.not_open", "won"]
    [event] = AuditEvent.objects.filter(action="provisioning_job.skipped")
    assert event.reason in ("Reason 0", "Reason 1")


def test_two_reconciliation_starts_at_once_make_one_run(hospital_admin: Any,
                                                        setting: Any) -> None:
    system, _person = setting
    for _round in range(3):
        answers = at_once([partial(_in_own_connection, services.reconciliation_start,
                                   actor=hospital_admin, system=system) for _ in range(3)])
        assert sorted(answers) == ["reconciliation.running", "reconciliation.running", "won"]
        assert ReconciliationRun.objects.filter(system=system, state="running").count() == 1
        ReconciliationRun.objects.filter(system=system).update(state="done")
    assert AuditEvent.objects.filter(action="reconciliation.started").count() == 3
