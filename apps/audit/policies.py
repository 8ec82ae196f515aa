"""Who may change or check the audit log's storage: archive a month, remove an archived month's table,
seal and verify the hash chains.
Deny by default."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from apps.core.actors import is_operator
from apps.core.calls import policy
from apps.core.errors import Forbidden


@policy
def require_audit_archive(actor: Any) -> None:
    """Only the portal's own system actors: the scheduler (`WORKER`) and an operator's command
    (`SYSTEM`); no person, from any page or API (docs/audit-log.md, "Retention and archive").
    Raises Forbidden (`audit_archive.operator_only`)."""
    if not is_operator(actor):
        raise Forbidden(_("Only the portal itself archives the audit log."),
                        code="audit_archive.operator_only")


@policy
def require_audit_integrity(actor: Any) -> None:
    """Only the portal itself (the scheduler, an operator's command) seals and verifies the audit
    log. Raises Forbidden (`audit_log.integrity_forbidden`)."""
    if not is_operator(actor):
        raise Forbidden(_("Only the portal seals and verifies the audit log."),
                        code="audit_log.integrity_forbidden")
