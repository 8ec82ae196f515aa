"""The words of the portal's OpenID Connect provider: client states, grant types, signing
algorithms and the claims a client's registration may allow (docs/identity-provider.md).

Claim names follow OpenID Connect Core 1.0 section 5.1, RFC 8176 (`amr`), the Swedish OIDC
framework (`https://id.oidc.se/claim/...`) and the Sambi attribute names (`http://sambi.se/
attributes/1/...`) the portal's SAML side already speaks (docs/glossary.md).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ClientState(models.TextChoices):
    """A client is usable only when approved (checked at every authorization and token request)."""

    PENDING = "pending", _("waiting for approval")
    APPROVED = "approved", _("approved")
    SUSPENDED = "suspended", _("suspended")


class GrantType(models.TextChoices):
    """The grants a client may register (RFC 9700 2.1.2 and 2.4: no implicit, no password grant).
    A code client also refreshes its tokens (RFC 6749 section 6)."""

    AUTHORIZATION_CODE = "authorization-code", _("Authorization code with PKCE (users log in)")
    CLIENT_CREDENTIALS = "client-credentials", _("Client credentials (a system, no user)")


class ClientType(models.TextChoices):
    """RFC 6749 section 2.1: a confidential client keeps a secret, a public one (a native app)
    cannot."""

    CONFIDENTIAL = "confidential", _("Confidential (a server that keeps a secret)")
    PUBLIC = "public", _("Public (a native app, no secret)")


class SigningAlgorithm(models.TextChoices):
    """ID token signature algorithms (RFC 7518 section 3.1): ES256 by default, RS256 for clients
    that need it. HS256 is not offered: it would make the client secret a signing key."""

    ES256 = "ES256", _("ES256 (ECDSA P-256 with SHA-256)")
    RS256 = "RS256", _("RS256 (RSA with SHA-256)")


#: Claims a registration may allow, with what each one says.
CLAIMS: dict[str, str] = {
    "sub": "OIDC Core 5.1: the person, stable per person",
    "auth_time": "OIDC Core 2: when the person logged in",
    "acr": "OIDC Core 2: level of assurance (framework URI)",
    "amr": "RFC 8176: authentication methods",
    "name": "OIDC Core 5.1",
    "given_name": "OIDC Core 5.1",
    "family_name": "OIDC Core 5.1",
    "https://id.oidc.se/claim/personalIdentityNumber": "Swedish OIDC framework",
    "https://id.oidc.se/claim/coordinationNumber": "Swedish OIDC framework",
    "http://sambi.se/attributes/1/employeeHsaId": "Sambi: the employee's HSA-id",
    "http://sambi.se/attributes/1/commissionHsaId": "Sambi: the chosen commission's HSA-id",
    "http://sambi.se/attributes/1/commissionName": "Sambi: the chosen commission's name",
    "http://sambi.se/attributes/1/commissionPurpose": "Sambi: the commission's purpose",
    "http://sambi.se/attributes/1/commissionRight": "Sambi: the commission's rights",
    "http://sambi.se/attributes/1/healthCareUnitHsaId": "Sambi: the commission's care unit",
    "http://sambi.se/attributes/1/healthCareUnitName": "Sambi: the care unit's name",
    "http://sambi.se/attributes/1/healthCareProviderHsaId": "Sambi: the care provider",
    "http://sambi.se/attributes/1/healthCareProviderName": "Sambi: the care provider's name",
}
