"""Audit action codes of the identities app."""

from django.utils.translation import gettext_lazy as _

from apps.audit.registry import register

PERSON_CREATED = register("person.created", _("Person registered"))
USER_CREATED = register("user.created", _("Login account created"))
OTP_DEVICE_CREATED = register("otp_device.created", _("Second factor (TOTP) enrolled"))
