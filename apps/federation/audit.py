"""Audit action codes of the federation app."""

from django.utils.translation import gettext_lazy as _

from apps.audit.registry import register

IDENTITY_LINKED = register("federated_identity.linked",
                           _("Federated identity linked to an account"))
RESPONSE_REFUSED = register("saml_response.refused", _("Login answer from an e-ID provider"))
METADATA_REFRESHED = register("idp_metadata.refreshed", _("e-ID provider metadata refreshed"))
METADATA_REFUSED = register("idp_metadata.refused", _("e-ID provider metadata refresh"))
