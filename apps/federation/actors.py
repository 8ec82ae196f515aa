"""The federation app's system actor."""

from django.utils.translation import gettext_lazy as _

from apps.core.actors import SystemActor

#: The portal's SAML2 service provider acting on an assertion it verified: it links a federated
#: identity to its person, registers a patient on their first login and refreshes IdP metadata.
SAML_SP = SystemActor("system:saml-sp", _("Login with e-ID"))

#: The portal's OpenID Connect provider acting on a request at its token endpoint (a client that
#: failed to authenticate has no identity of its own to act as).
OIDC_PROVIDER = SystemActor("system:oidc-provider", _("OpenID Connect provider"))
