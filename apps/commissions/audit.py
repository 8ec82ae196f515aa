"""Audit action codes of the commissions app."""

from django.utils.translation import gettext_lazy as _

from apps.audit.registry import register, register_target
from apps.commissions.models import Role

EMPLOYEE_CREATED = register("employee.created", _("Employee HSA-id registered"))
EMPLOYEE_MOVED = register("employee.moved", _("Employee HSA-id moved to another unit"))
COMMISSION_GRANTED = register("commission.granted", _("Commission granted"))
COMMISSION_ENDED = register("commission.ended", _("Commission ended"))
COMMISSION_CHOSEN = register("commission.chosen", _("Commission chosen to act under"))
# Shown with "(failed)" after the label.
COMMISSION_CHOICE_FAILED = register("commission.choice_failed",
                                    _("Choice of commission to act under"))
ROLE_GRANTED = register("role.granted", _("System role granted"))
ROLE_ENDED = register("role.ended", _("System role ended"))
ACCOUNT_DEACTIVATED = register("account.deactivated", _("Login account deactivated"))
ACCOUNT_REACTIVATED = register("account.reactivated", _("Login account reactivated"))
# A leaver: one summary event beside the events of each change, all under one request id.
PERSON_LEFT = register("person.left", _("Made a leaver"))
PERSON_RENAMED = register("person.renamed", _("Name changed"))
PLANNED_LEAVE_SET = register("planned_leave.set", _("Last working day planned"))
PLANNED_LEAVE_CANCELLED = register("planned_leave.cancelled", _("Planned leaver cancelled"))
PLANNED_LEAVE_APPLIED = register("planned_leave.applied", _("Planned leaver applied"))
# The care provider's systematic log follow-up (PDL 2008:355 4 kap. 3 §) taking a copy of the log.
AUDIT_LOG_EXPORTED = register("audit_log.exported", _("Audit log exported"))



def _role_assignment_label(stored: str) -> str:
    """`<role code> @ <organisation>` with the role's name in the reader's language (a label
    written before roles were stored as codes is shown as it is)."""
    role, separator, organisation = stored.partition(" @ ")
    if not separator or role not in Role.values:
        return stored
    return f"{Role(role).label} @ {organisation}"


register_target("commissions.roleassignment", _role_assignment_label)

#: An enrolment's channel as its audit rows' target label names it (`Enrolment.__str__`).
_ENROLMENT_CHANNELS = {"email": _("invitation by e-mail"), "issuer": _("mobile e-ID from an issuer")}


def _enrolment_label(stored: str) -> str:
    """`<person> (<channel>)` with the channel in the reader's language instead of its stored
    value (`email`, `issuer`); any other label is shown as it is."""
    person, separator, channel = stored.rpartition(" (")
    label = _ENROLMENT_CHANNELS.get(channel.removesuffix(")")) if channel.endswith(")") else None
    return f"{person} ({label})" if separator and label else stored


register_target("commissions.enrolment", _enrolment_label)
# Joiners (docs/journey-joiner.md): the enrolment of a new staff account.
ENROLMENT_CREATED = register("enrolment.created", _("Enrolment of a new login account started"))
ENROLMENT_SENT = register("enrolment.sent", _("Enrolment invitation e-mailed"))
ENROLMENT_ENDED = register("enrolment.ended", _("Enrolment ended"))
ENROLMENT_DONE = register("enrolment.done", _("Enrolment done by an e-ID issuer"))
# Every joiner lookup that finds a registered person, found or refused (docs/decisions.md,
# "Joiners"): the registry is searched by identity number, so each look is logged.
JOINER_LOOKUP = register("joiner.lookup", _("Registered person looked up for a joiner"))
