"""Audit action codes of the rules service (regelverkstjänst). A decision has the patient as
subject, so an allowed one shows in the patient's log extract as a read (PDL 2008:355 8 kap. 3 §);
a denied one stays out of it (no one took part of the information) and in the append-only log
(docs/decisions.md, "Log extract shows reads")."""

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.audit.registry import register, register_target
from apps.commissions.vocabularies import Activity, InformationClass

ACCESS_DECIDED = register("access.decided", _("Access to patient information decided"),
                          patient_data=True, names_target=True, failures_in_extract=False)
EMERGENCY_REVIEWED = register("emergency_access.reviewed", _("Emergency access followed up"),
                              patient_data=True)

#: The audit target type of a decision (`services.access_decide`): the patient's information.
ACCESS_TARGET = "rules.access"


def activity_text(code: str) -> str:
    """An activity code (`Läsa`, `Skriva`, ...; Inera's Logg contract) in the reader's language
    ("Read", "Write", ...); an unknown code as stored."""
    return str(Activity(code).label) if code in Activity.values else code


def information_type_text(code: str) -> str:
    """An information class code (`alla`, `lak`, ...) in the reader's language; unknown as
    stored."""
    return str(InformationClass(code).label) if code in InformationClass.values else code


def access_text(stored: str) -> str:
    """A decision's target label `<activity>;<information type>` as "Read: all information" in
    the reader's language; any other label as stored."""
    activity, separator, information_type = stored.partition(";")
    if not separator:
        return stored
    return gettext("%(activity)s: %(information_type)s") % {
        "activity": activity_text(activity), "information_type": information_type_text(
            information_type)}


register_target(ACCESS_TARGET, access_text)
