"""Audit action codes of the issuance app (activation codes and mobile e-IDs)."""

from django.utils.translation import gettext_lazy as _

from apps.audit.registry import register

ACTIVATION_CODE_ISSUED = register("activation_code.issued", _("Activation code issued"))
ACTIVATION_CODE_ENDED = register(
    "activation_code.ended", _("Activation code ended (replaced by a newer code)")
)
# Shown with "(failed)" after the label.
ACTIVATION_CODE_REDEEM_FAILED = register(
    "activation_code.redeem_failed", _("Activation code redemption")
)
EID_ACTIVATED = register("eid.activated", _("Mobile e-ID activated"))
EID_REVOKED = register("eid.revoked", _("Mobile e-ID revoked"))
EID_NOTIFIED = register("eid.notified", _("Person notified by e-mail about a mobile e-ID"))
CRL_PUBLISHED = register("crl.published", _("Certificate revocation list published"))
