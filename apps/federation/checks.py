"""System checks of federated login (the SP's key and certificate, xmlsec1, and each configured
IdP's metadata source) and of the OpenID Connect provider (signing keys, issuer)."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from apps.core import loa as levels


@register()
def saml_configuration(app_configs: Any, **kwargs: Any) -> list[Error]:
    """Step-ups can reach the levels issuing needs; xmlsec1 runnable; with debug off, the SP key
    and certificate readable and every IdP fetched by URL verified by a configured certificate
    (unsigned metadata over the network could be anyone's)."""
    errors: list[Error] = []
    step_up = levels.level(settings.SAML_STEP_UP_LOA)
    for purpose in ("self_issuance", "issue_for_others"):
        if levels.level(settings.PORTAL_LOA_REQUIRED[purpose]) > step_up:
            errors.append(Error(
                f"PORTAL_LOA_{purpose.upper()} asks for more than SAML_STEP_UP_LOA gives: a "
                "step-up could never satisfy it.", hint="Raise SAML_STEP_UP_LOA or lower the "
                "purpose's level.", id="federation.E004"))
    if not os.access(settings.SAML_XMLSEC_BINARY, os.X_OK):
        errors.append(Error(f"xmlsec1 not found at {settings.SAML_XMLSEC_BINARY}.",
                            hint="Install it: sudo apt-get install xmlsec1 (or set "
                                 "SAML_XMLSEC_BINARY).", id="federation.E001"))
    if settings.DEBUG:
        return errors
    for path in (settings.SAML_SP_KEY_FILE, settings.SAML_SP_CERT_FILE):
        if not os.access(path, os.R_OK):
            errors.append(Error(f"SAML SP key or certificate not readable: {path}",
                                hint="Set SAML_SP_KEY_FILE and SAML_SP_CERT_FILE.",
                                id="federation.E002"))
    for entry in settings.SAML_IDPS:
        if entry.get("metadata_url") and not entry.get("metadata_cert"):
            errors.append(Error(f"IdP {entry['entity_id']}: metadata by URL needs metadata_cert.",
                                id="federation.E003"))
    return errors


@register()
def oidc_configuration(app_configs: Any, **kwargs: Any) -> list[Error]:
    """With debug off, both ID token signing keys are readable (a client of either algorithm
    could otherwise get no ID token) and the issuer is an https address (OIDC Discovery 1.0
    section 3: the issuer uses the https scheme)."""
    from apps.federation.oidc import keys

    if settings.DEBUG:
        return []
    errors: list[Error] = []
    for name in keys.FILES.values():
        path = os.path.join(settings.OIDC_KEY_DIR, name)
        if not os.access(path, os.R_OK):
            errors.append(Error(f"OIDC signing key not readable: {path}",
                                hint="Run `manage.py oidc_keys_init` or set PORTAL_OIDC_KEY_DIR.",
                                id="federation.E005"))
    if not settings.OIDC_ISSUER.startswith("https://"):
        errors.append(Error(f"PORTAL_OIDC_ISSUER {settings.OIDC_ISSUER} is not an https address.",
                            id="federation.E006"))
    return errors
