"""How login methods are shown: the RFC 8176 names a session records (`UserSession.methods`,
the `amr` claim), as words in the reader's language."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

#: How each login method (RFC 8176 names, as the session records them) is shown.
METHOD_LABELS = {
    "pwd": _("password"),
    "otp": _("code from an authenticator app"),
    "saml": _("e-ID"),
    "mobile_eid": _("mobile e-ID"),
    "hwk": _("passkey"),
    "user": _("fingerprint, face or PIN"),
}


def method_label(methods: list[str]) -> str:
    """The login methods as words, e.g. "password + code from an authenticator app"."""
    return " + ".join(str(METHOD_LABELS.get(method, method)) for method in methods)
