"""Audit action codes of the consents app (every event has the patient as subject, so it shows
in the patient's log extract)."""

from django.utils.translation import gettext_lazy as _

from apps.audit.registry import register

CONSENT_GIVEN = register("consent.given", _("Consent given"), patient_data=True)
CONSENT_WITHDRAWN = register("consent.withdrawn", _("Consent withdrawn"), patient_data=True)
CONSENT_DELETED = register("consent.deleted", _("Consent removed as a wrong registration"),
                           patient_data=True)
PATIENT_LOOKED_UP = register("patient.looked_up", _("Looked up to register consent"),
                             patient_data=True)
EMERGENCY_ACCESS_REGISTERED = register("emergency_access.registered",
                                       _("Emergency access registered"), patient_data=True)
