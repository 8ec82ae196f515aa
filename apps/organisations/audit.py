"""Audit action codes of the organisations app."""

from django.utils.translation import gettext_lazy as _

from apps.audit.registry import register

ORGANISATION_CREATED = register("organisation.created", _("Organisation registered"))
