"""Audit action codes of the authn app."""

from django.utils.translation import gettext_lazy as _

from apps.audit.registry import register

LOGIN_SUCCEEDED = register("login.succeeded", _("Logged in"))
LOGIN_FAILED = register("login.failed", _("Login attempt"))  # shown with "(failed)"
