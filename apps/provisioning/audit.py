"""Audit action codes of provisioning (docs/provisioning.md); each write of a provisioning service
records one of them."""

from django.utils.translation import gettext_lazy as _

from apps.audit.registry import register

SYSTEM_REGISTERED = register("downstream_system.registered", _("Downstream system registered"))
SYSTEM_CHANGED = register("downstream_system.changed", _("Downstream system changed"))
SYSTEM_PAUSED = register("downstream_system.paused", _("Downstream system paused"))
SYSTEM_ENABLED = register("downstream_system.enabled", _("Downstream system enabled"))
SYSTEM_PUSHED_NOW = register("downstream_system.pushed_now",
                             _("Waiting changes of a downstream system made due now"))
SYSTEM_REKEYED = register("downstream_system.rekeyed",
                          _("Downstream system's credentials re-encrypted with a new key"))
JOB_RETRIED = register("provisioning_job.retried", _("Provisioning retried"))
JOB_SKIPPED = register("provisioning_job.skipped", _("Provisioning skipped"))
JOB_PUSHED = register("provisioning_job.pushed", _("Change pushed to a downstream system"))
JOB_FAILED = register("provisioning_job.failed", _("Provisioning failed"))
RECONCILIATION_STARTED = register("reconciliation.started", _("Reconciliation started"))
RECONCILIATION_FINISHED = register("reconciliation.finished", _("Reconciliation finished"))
SCHEDULE_HANDED_OVER = register("provisioning_schedule.handed_over",
                                _("Time-based changes handed to provisioning"))
