"""HSA vocabularies for commissions (medarbetaruppdrag).

Source: HSA's authorisation contracts and the Sambi attribute specification (commissionPurpose,
commissionRight = `activity;information class;scope`). Stored values are the vocabulary's own
Swedish codes; labels are English for the UI and translated to Swedish.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Purpose(models.TextChoices):
    """Ändamål: why information is processed. Clinical e-services accept only CARE."""

    CARE = "Vård och behandling", _("Care and treatment")
    ADMINISTRATION = "Administration", _("Administration")
    QUALITY = "Kvalitetssäkring", _("Quality assurance")
    STATISTICS = "Statistik", _("Statistics")
    OTHER_DOCUMENTATION = "Annan dokumentation enligt lag", _("Other documentation required by law")
    QUALITY_REGISTER = "Kvalitetsregister", _("Quality register")


class Activity(models.TextChoices):
    """The activity part of a right."""

    READ = "Läsa", _("Read")
    WRITE = "Skriva", _("Write")
    SIGN = "Signera", _("Sign")
    PRINT = "Utskrift", _("Print")
    CERTIFY = "Vidimera", _("Certify")


class InformationClass(models.TextChoices):
    """The information-class part of a right."""

    ALL = "alla", _("all information")
    MEDICATION = "lak", _("medication")
    RESULTS = "und", _("examination results")
    ALERTS = "upp", _("alert information")
    CARE_REQUESTS = "vbe", _("care requests")
    DIAGNOSES = "dia", _("diagnoses")


class Scope(models.TextChoices):
    """The scope part of a right: own unit, own provider, or coherent record keeping."""

    CARE_UNIT = "VE", _("own care unit")
    CARE_PROVIDER = "VG", _("own care provider")
    COHERENT = "SJF", _("other care providers (coherent record keeping)")


def parse_right(value: str) -> tuple[str, str, str]:
    """Split `activity;information class;scope` and check each part against its vocabulary.

    Raises ValueError naming the unknown part.
    """
    parts = [p.strip() for p in value.split(";")]
    if len(parts) != 3:
        raise ValueError("a right has three parts: activity;information class;scope")
    activity, info, scope = parts
    if activity not in Activity.values:
        raise ValueError(f"unknown activity {activity!r}")
    if info not in InformationClass.values:
        raise ValueError(f"unknown information class {info!r}")
    if scope not in Scope.values:
        raise ValueError(f"unknown scope {scope!r}")
    return activity, info, scope

