"""The federation app's system actor."""

from django.utils.translation import gettext_lazy as _

from apps.core.actors import SystemActor

#: The portal's SAML2 service provider acting on an assertion it verified: it links a federated
#: identity to its person, registers a patient on their first login and refreshes IdP metadata.
SAML_SP = SystemActor("system:saml-sp", _("Federated login"))
