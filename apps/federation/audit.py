"""Audit action codes of the federation app."""

from django.utils.translation import gettext_lazy as _

from apps.audit.registry import register

#: The first login with an e-ID at an e-ID provider links it to the account (the patient reads it
#: in their log extract, so the label is plain words; docs/decisions.md, "Federated login").
IDENTITY_LINKED = register("federated_identity.linked",
                           _("First login with this e-ID (linked to the account)"))
RESPONSE_REFUSED = register("saml_response.refused", _("Login answer from an e-ID provider"))
METADATA_REFRESHED = register("idp_metadata.refreshed", _("e-ID provider metadata refreshed"))
METADATA_REFUSED = register("idp_metadata.refused", _("e-ID provider metadata refresh"))
CLIENT_REGISTERED = register("oauth_client.registered", _("E-service client registered"))
CLIENT_APPROVED = register("oauth_client.approved", _("E-service client approved"))
CLIENT_SUSPENDED = register("oauth_client.suspended", _("E-service client suspended"))
CLIENT_UPDATED = register("oauth_client.updated", _("E-service client changed"))
CLIENT_SECRET_ROTATED = register("oauth_client.secret_rotated",
                                 _("E-service client secret replaced"))
CLIENT_AUTH_FAILED = register("oauth_client.authentication_failed",
                              _("E-service client authentication"))
TOKENS_REVOKED = register("oauth_tokens.revoked",
                          _("E-service tokens ended with what they carried"))
TOKEN_ISSUED = register("oauth_token.issued", _("E-service token issued"), names_target=True)
TOKEN_REFRESHED = register("oauth_token.refreshed", _("E-service token refreshed"), names_target=True)
TOKEN_REVOKED = register("oauth_token.revoked", _("E-service token revoked by the e-service"),
                         names_target=True)
CONSENT_GIVEN = register("oauth_consent.given", _("Consent given to an e-service"), names_target=True)
AUTHORISATION_REVOKED = register("oauth_authorisation.revoked",
                                 _("E-service authorisation withdrawn by the user"),
                                 names_target=True)
