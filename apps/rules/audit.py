"""Audit action codes of the rules service (regelverkstjänst). A decision has the patient as
subject, so an allowed one shows in the patient's log extract (PDL 2008:355 8 kap. 3 §)."""

from django.utils.translation import gettext_lazy as _

from apps.audit.registry import register

ACCESS_DECIDED = register("access.decided", _("Access to patient information decided"),
                          patient_data=True)
EMERGENCY_REVIEWED = register("emergency_access.reviewed", _("Emergency access followed up"),
                              patient_data=True)
