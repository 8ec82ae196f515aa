"""Audit action codes of the issuance app (activation codes and mobile e-IDs)."""

from django.utils.translation import gettext_lazy as _

from apps.audit.registry import register, register_reason

ACTIVATION_CODE_ISSUED = register("activation_code.issued", _("Activation code issued"))
# Why is the event's reason: `CODE_REPLACED` or one of `CODE_ENDED_CAUSES`.
ACTIVATION_CODE_ENDED = register("activation_code.ended", _("Activation code ended"))
# Shown with "(failed)" after the label.
ACTIVATION_CODE_REDEEM_FAILED = register(
    "activation_code.redeem_failed", _("Activation code redemption")
)
EID_ACTIVATED = register("eid.activated", _("Mobile e-ID activated"))
EID_REVOKED = register("eid.revoked", _("Mobile e-ID revoked"))
EID_NOTIFIED = register("eid.notified", _("Person notified by e-mail about a mobile e-ID"))
CRL_PUBLISHED = register("crl.published", _("Certificate revocation list published"))

# Reasons the portal gives by itself, stored as codes in audit rows and shown translated.
CODE_REPLACED = register_reason("activation_code.replaced",
                                _("Replaced by a newer activation code."))
# What else ends a code, by `apps.commissions.signals` cause: the person's entitlement ended.
CODE_ENDED_CAUSES = {
    cause: register_reason(f"activation_code.{cause}", label) for cause, label in [
        ("entitlement_ended", _("The person's staff entitlement ended (no active commission or "
                                "role left).")),
        ("account_deactivated", _("The person's login account was deactivated.")),
        ("leaver", _("The person was made a leaver.")),
    ]
}
# Why a redemption was refused: `redeem.<error code>` for a try of a located code, as answered
# (apps.issuance.errors); the others for a request that reached no code.
# A redemption of an ended code, by what ended it (`ActivationCode.end_cause`).
REDEEM_ENDED = {
    cause: register_reason(f"redeem.code_ended.{cause}", label) for cause, label in [
        ("entitlement_ended", _("The activation code had been cancelled when the person's staff "
                                "entitlement ended.")),
        ("account_deactivated", _("The activation code had been cancelled when the person's login "
                                  "account was deactivated.")),
        ("leaver", _("The activation code had been cancelled when the person was made a leaver.")),
    ]
}
REDEEM_REFUSED = {
    code: register_reason(f"redeem.{code}", label) for code, label in [
        ("invalid", _("The request was incomplete or malformed.")),
        ("code_invalid", _("Wrong or unknown activation code.")),
        ("code_expired", _("The activation code had expired.")),
        ("code_ended", _("The activation code had been replaced by a newer code.")),
        ("code_used", _("The activation code had already been used.")),
        ("code_dead", _("The activation code had had too many failed tries.")),
        ("not_entitled", _("The person was no longer entitled to a mobile e-ID; the code was "
                           "cancelled.")),
        ("too_many_eids", _("The person already had the most active mobile e-IDs allowed.")),
        ("csr_invalid", _("The certificate request was not acceptable.")),
        ("ca_unavailable", _("The issuing CA was not available.")),
        ("busy", _("The service was busy; the request was not carried out.")),
    ]
}
REDEEM_DEVICE_NAME = register_reason("redeem.device_name",
                                     _("The device name was too long or not printable."))
REDEEM_NO_CSR = register_reason("redeem.no_csr", _("No certificate request was sent."))
REDEEM_QR_MALFORMED = register_reason("redeem.qr_malformed", _("The QR code's text was malformed."))
REDEEM_NO_SUCH_CODE = register_reason("redeem.no_such_code", _("No such activation code."))
REDEEM_NO_SUCH_PERSON = register_reason("redeem.no_such_person",
                                        _("No person has this identity number."))
REDEEM_NO_CODE = register_reason("redeem.no_code_for_person",
                                 _("The person has no activation code."))
REDEEM_NEITHER_OR_BOTH = register_reason(
    "redeem.neither_or_both",
    _("Neither or both ways of giving the code (QR text, or identity number and code)."))

# Out-of-band login with the mobile e-ID (apps.issuance.services.authenticate).
MOBILE_EID_LOGIN_STARTED = register("mobile_eid_login.started", _("Login with mobile e-ID started"))
MOBILE_EID_LOGIN_APPROVED = register("mobile_eid_login.approved",
                                     _("Login with mobile e-ID approved in the app"))
MOBILE_EID_LOGIN_DENIED = register("mobile_eid_login.denied",
                                   _("Login with mobile e-ID denied in the app"))
MOBILE_EID_LOGIN_COMPLETED = register("mobile_eid_login.completed",
                                      _("Login with mobile e-ID completed"))
# Shown with "(failed)" after the label.
MOBILE_EID_LOGIN_REFUSED = register("mobile_eid_login.refused",
                                    _("Approval of a login with mobile e-ID"))
OOB_REFUSED = {
    code: register_reason(f"mobile_eid_login.{code}", label) for code, label in [
        ("auth.number", _("The number typed in the app was wrong.")),
        ("auth.eid", _("The e-ID was unknown, not active, or not issued by the portal.")),
        ("auth.signature", _("The answer (approval or denial) was not signed with the "
                             "e-ID's key.")),
        ("auth.too_many", _("The person had approved too many requests in ten minutes.")),
        ("auth.other_person", _("The e-ID belongs to someone other than the person confirming "
                                "it is them.")),
        ("auth.not_entitled", _("When the browser completed the login, the e-ID or its owner "
                                "could no longer log in (revoked, expired, left or "
                                "deactivated since the approval).")),
    ]
}
EID_RENAMED = register("eid.renamed", _("Mobile e-ID device renamed by its owner"))
