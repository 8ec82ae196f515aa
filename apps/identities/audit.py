"""Audit action codes of the identities app."""

from django.utils.translation import gettext_lazy as _

from apps.audit.registry import register

PERSON_CREATED = register("person.created", _("Person registered"))
USER_CREATED = register("user.created", _("Login account created"))
# A patient account says the person is a patient: patient data, never in an administrator's view.
PATIENT_ACCOUNT_CREATED = register("patient_account.created", _("Patient account created"),
                                   patient_data=True)
