"""Audit action codes of the authn app."""

from django.utils.translation import gettext_lazy as _

from apps.audit.registry import register

LOGIN_SUCCEEDED = register("login.succeeded", _("Logged in"))
# Failures are shown with "(failed)" after the label.
LOGIN_FAILED = register("login.failed", _("Login attempt"))
STEP_UP_SUCCEEDED = register("step_up.succeeded", _("Step-up: identity confirmed again"))
STEP_UP_FAILED = register("step_up.failed", _("Step-up: identity confirmation"))
OTP_DEVICE_CREATED = register("otp_device.created", _("Second factor (TOTP) enrolled"))
OTP_DEVICE_REKEYED = register("otp_device.rekeyed",
                              _("Second factor (TOTP) key encrypted with the current key"))
SESSION_STARTED = register("session.started", _("Session started"))
SESSION_ENDED = register("session.ended", _("Session ended"))
SESSIONS_ENDED = register("sessions.ended", _("All sessions ended"))
EID_SESSIONS_ENDED = register("eid_sessions.ended", _("Sessions of a revoked e-ID ended"))
PASSKEY_CREATED = register("passkey.created", _("Passkey registered"))
PASSKEY_REMOVED = register("passkey.removed", _("Passkey removed"))
PASSKEY_USED = register("passkey.used", _("Logged in with a passkey"))
PASSWORD_CHANGED = register("password.changed", _("Password changed"))
OTP_DEVICE_STARTED = register("otp_device.started", _("New authenticator set up, not yet confirmed"))
OTP_DEVICE_REPLACED = register("otp_device.replaced", _("Authenticator (TOTP) replaced"))
ACCOUNT_NOTIFIED = register("account.notified",
                            _("Person notified by e-mail about a password or authenticator change"))
EMAIL_CHANGED = register("contact.email_changed", _("Own e-mail address changed"))
SECOND_FACTOR_RESET = register("second_factor.reset",
                               _("Authenticator removed by an issuer (identity document checked)"))
PASSWORD_RESET = register("password.reset",
                          _("One-time password set by an issuer (identity document checked)"))
# A joiner chose their password through an e-mailed enrolment invitation (the token proved
# possession; the account is the actor).
INVITATION_ACCEPTED = register("invitation.accepted",
                               _("Enrolment invitation used: password chosen"))
