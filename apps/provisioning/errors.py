"""Refusals of the provisioning administration (docs/provisioning.md, "Administering downstream
systems"), each with a stable code (`apps.core.errors`). A page shows the message; the code lets
tests and clients tell them apart."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict


class JobNotRetryable(Conflict):
    """Only a failed job is retried; of two retries (or a retry and a skip) at once, one wins and
    the other gets this (`provisioning_job.not_failed`)."""

    default_code = "provisioning_job.not_failed"

    def __init__(self) -> None:
        super().__init__(_("This change is no longer failed, so it was not retried: someone "
                           "else has just retried or skipped it."))


class JobNotSkippable(Conflict):
    """Only a pending or failed job is skipped: one in progress is being pushed, one done or
    skipped is closed (`provisioning_job.not_open`)."""

    default_code = "provisioning_job.not_open"

    def __init__(self) -> None:
        super().__init__(_("This change is no longer pending or failed, so it was not skipped: "
                           "it is being pushed, or it was done or skipped a moment ago."))


class ReconciliationRunning(Conflict):
    """A system runs one reconciliation at a time (`reconciliation.running`)."""

    default_code = "reconciliation.running"

    def __init__(self) -> None:
        super().__init__(_("A reconciliation of this system is already running. Wait until it "
                           "has finished before starting another."))


class SystemPaused(Conflict):
    """A paused system is not contacted, so it is neither reconciled nor pushed to on demand
    (`downstream_system.paused`)."""

    default_code = "downstream_system.paused"

    def __init__(self) -> None:
        super().__init__(_("The system is paused. Enable it first: nothing is sent to a paused "
                           "system."))


class StateUnchanged(Conflict):
    """Pausing a paused system or enabling an enabled one (`downstream_system.state_unchanged`),
    e.g. when another administrator did it a moment ago."""

    default_code = "downstream_system.state_unchanged"

    def __init__(self, paused: bool) -> None:
        super().__init__(_("The system is already paused.") if paused
                         else _("The system is already enabled."))
