"""Audit action codes of the commissions app."""

from django.utils.translation import gettext_lazy as _

from apps.audit.registry import register

EMPLOYEE_CREATED = register("employee.created", _("Employee HSA-id registered"))
COMMISSION_GRANTED = register("commission.granted", _("Commission granted"))
COMMISSION_ENDED = register("commission.ended", _("Commission ended"))
ROLE_GRANTED = register("role.granted", _("System role granted"))
ROLE_ENDED = register("role.ended", _("System role ended"))
ACCOUNT_DEACTIVATED = register("account.deactivated", _("Login account deactivated"))
ACCOUNT_REACTIVATED = register("account.reactivated", _("Login account reactivated"))
