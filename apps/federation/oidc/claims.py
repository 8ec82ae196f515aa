"""The claims the OpenID Connect provider releases about a user, in the ID token and at the
userinfo endpoint (docs/identity-provider.md, "Claims").

A claim is released only when three things allow it: a granted scope names it (`SCOPE_CLAIMS`),
the client's registration lists it (`Client.allowed_claims`), and the login or the person has a
value for it. `sub` is the exception: OIDC Core 2 requires it in every ID token and 5.3.2 in every
userinfo answer.

Sources: OpenID Connect Core 1.0 sections 2 (`auth_time`, `acr`, `amr`) and 5.1/5.4 (`profile`);
RFC 8176 (`amr` values); "Claims and Scopes Specification for the Swedish OpenID Connect
Profile" 1.0 (section 2.1: claims `https://id.oidc.se/claim/personalIdentityNumber` and
`.../coordinationNumber`, 12 digits without a hyphen, never both; section 3.2: scope
`https://id.oidc.se/scope/naturalPersonNumber`, delivered in the ID token and at userinfo);
Sambi's attribute names (`http://sambi.se/attributes/1/...`) for the employee and the chosen
commission, as the portal's SAML side speaks them (`apps.federation.attributes`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.commissions.models import Commission, ValidityStatus
from apps.federation.models import Client, Grant
from apps.identities.identifiers import OID_PERSONNUMMER, OID_SAMORDNINGSNUMMER
from apps.identities.models import User

SAMBI = "http://sambi.se/attributes/1/"
PERSONAL_IDENTITY_NUMBER = "https://id.oidc.se/claim/personalIdentityNumber"
COORDINATION_NUMBER = "https://id.oidc.se/claim/coordinationNumber"
#: The Swedish OIDC framework's scope for the person's identity number.
NATURAL_PERSON_NUMBER_SCOPE = "https://id.oidc.se/scope/naturalPersonNumber"
#: The portal's scope for the employee HSA-id and the commission chosen at login (Sambi names).
COMMISSION_SCOPE = "commission"

#: Which claims each scope may release (OIDC Core 5.4 for `profile`).
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub", "auth_time", "acr", "amr"),
    "profile": ("name", "given_name", "family_name"),
    NATURAL_PERSON_NUMBER_SCOPE: (PERSONAL_IDENTITY_NUMBER, COORDINATION_NUMBER),
    COMMISSION_SCOPE: tuple(SAMBI + name for name in (
        "employeeHsaId", "commissionHsaId", "commissionName", "commissionPurpose",
        "commissionRight", "healthCareUnitHsaId", "healthCareUnitName",
        "healthCareProviderHsaId", "healthCareProviderName")),
}

#: What each claim tells the e-service, for the consent screen (in the user's language).
CLAIM_LABELS: dict[str, Any] = {
    "sub": _("an identifier of you, the same at every login"),
    "auth_time": _("when you logged in"),
    "acr": _("how strongly you logged in (level of assurance)"),
    "amr": _("how you logged in"),
    "name": _("your name"),
    "given_name": _("your given name"),
    "family_name": _("your family name"),
    PERSONAL_IDENTITY_NUMBER: _("your personal identity number"),
    COORDINATION_NUMBER: _("your coordination number"),
    SAMBI + "employeeHsaId": _("your employee HSA-id"),
    SAMBI + "commissionHsaId": _("the HSA-id of the commission you act under"),
    SAMBI + "commissionName": _("the name of the commission you act under"),
    SAMBI + "commissionPurpose": _("the purpose of the commission"),
    SAMBI + "commissionRight": _("the rights of the commission"),
    SAMBI + "healthCareUnitHsaId": _("the HSA-id of the commission's care unit"),
    SAMBI + "healthCareUnitName": _("the name of the commission's care unit"),
    SAMBI + "healthCareProviderHsaId": _("the HSA-id of the commission's care provider"),
    SAMBI + "healthCareProviderName": _("the name of the commission's care provider"),
}

#: The values of RFC 8176's registry ("Authentication Method Reference Values", section 2). A
#: session method outside it (a federated or mobile e-ID login, whose strength `acr` states) is
#: not released in `amr`.
RFC8176_AMR = frozenset({"face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin",
                         "pop", "pwd", "rba", "retina", "sc", "sms", "swk", "tel", "user", "vbm",
                         "wia"})

#: The identity number claim of each identifier root (the person's number type).
NUMBER_CLAIMS = {OID_PERSONNUMMER: PERSONAL_IDENTITY_NUMBER,
                 OID_SAMORDNINGSNUMMER: COORDINATION_NUMBER}


def login_claims(grant: Grant | None) -> dict[str, Any]:
    """`auth_time` (seconds since the epoch, UTC), `acr` (the level's framework URI) and `amr`
    (the session's methods that RFC 8176 registers, `RFC8176_AMR`) of the login the
    authorization code `grant` was issued in; {} without one (a client credentials token), and
    no claim whose value the login did not record."""
    if grant is None:
        return {}
    facts: dict[str, Any] = {"acr": grant.acr,
                             "amr": [name for name in grant.amr or [] if name in RFC8176_AMR]}
    if isinstance(grant.auth_time, datetime):
        facts["auth_time"] = int(grant.auth_time.timestamp())
    return {name: value for name, value in facts.items() if value}


def person_claims(user: User) -> dict[str, Any]:
    """The person's names (OIDC Core 5.1) and identity number under the claim of its type."""
    person = user.person
    found: dict[str, Any] = {"given_name": person.given_name, "family_name": person.family_name,
                             "name": f"{person.given_name} {person.family_name}".strip()}
    for number in person.identity_numbers.all():
        claim = NUMBER_CLAIMS.get(number.root)
        if claim and claim not in found:
            found[claim] = number.extension
    return found


def commission_claims(commission: Commission | None) -> dict[str, Any]:
    """The employee HSA-id and the chosen commission under Sambi's names; {} without one, and
    {} for a commission that is not active now (ended by its own end date without anyone
    ending it: its claims are not released, the portal's rule that entitlement is checked when
    used). `commissionRight` is a list of `activity;information class;scope` strings (Sambi:
    multi-valued)."""
    if commission is None or commission.status(timezone.now()) != ValidityStatus.ACTIVE:
        return {}
    found: dict[str, Any] = {
        "employeeHsaId": commission.employee.hsa_id,
        "commissionHsaId": commission.hsa_id,
        "commissionName": commission.name,
        "commissionPurpose": commission.purpose,
        "commissionRight": [str(right) for right in commission.rights.all()],
        "healthCareProviderHsaId": commission.care_provider.hsa_id,
        "healthCareProviderName": commission.care_provider.name,
    }
    if commission.care_unit is not None:
        found["healthCareUnitHsaId"] = commission.care_unit.hsa_id
        found["healthCareUnitName"] = commission.care_unit.name
    return {SAMBI + name: value for name, value in found.items()}


def releasable(client: Client, scopes: list[str]) -> list[str]:
    """The claim names `client` may receive with `scopes` (in `SCOPE_CLAIMS` order), `sub`
    first: what the consent screen lists (a claim the person has no value for is left out
    later, by `released`)."""
    allowed = set(client.allowed_claims)
    names = [claim for scope in SCOPE_CLAIMS if scope in scopes
             for claim in SCOPE_CLAIMS[scope] if claim in allowed and claim != "sub"]
    return ["sub", *names]


def released(*, client: Client, scopes: list[str], user: User, grant: Grant | None,
             commission: Commission | None) -> dict[str, Any]:
    """The claims for `client` about `user`: `sub` always (the person, OIDC Core 5.7), the others
    only when a granted scope names them and the client's registration allows them."""
    allowed = set(client.allowed_claims)
    wanted = {claim for scope in scopes for claim in SCOPE_CLAIMS.get(scope, ())} & allowed
    available = {**login_claims(grant), **person_claims(user), **commission_claims(commission)}
    found = {name: value for name, value in available.items() if name in wanted}
    return {"sub": str(user.person_id), **found}


def carried(request: Any) -> tuple[Grant | None, Commission | None]:
    """The authorization code and commission behind an oauthlib request: from the code or
    refresh token being exchanged (`portal_carried`, set by the validator) or from the access
    token presented at userinfo."""
    ids = getattr(request, "portal_carried", None)
    if ids is None:
        token = getattr(request, "access_token", None)
        ids = {"grant_id": getattr(token, "grant_id", None),
               "commission_id": getattr(token, "commission_id", None)}
    grant = Grant.objects.filter(pk=ids.get("grant_id")).first() if ids.get("grant_id") else None
    commission = (Commission.objects.select_related("employee", "care_provider", "care_unit")
                  .filter(pk=ids["commission_id"]).first() if ids.get("commission_id") else None)
    return grant, commission


def for_request(request: Any) -> dict[str, Any]:
    """`released` for the client, scopes and user of an oauthlib request."""
    grant, commission = carried(request)
    return released(client=request.client, scopes=list(request.scopes or []), user=request.user,
                    grant=grant, commission=commission)
