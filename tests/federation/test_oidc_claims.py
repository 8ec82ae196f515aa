"""The claims the OpenID Connect provider releases, in the ID token and at userinfo, seen by an
independent relying party (Authlib) over real HTTP: what the login, the person and the chosen
commission give, and that a claim the client's registration or the granted scopes do not allow is
never released."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.core.actors import SYSTEM
from apps.core.errors import ValidationFailed
from apps.core.loa import LOA2, LOA3
from apps.federation.models import Grant
from apps.federation.oidc.claims import COMMISSION_SCOPE, NATURAL_PERSON_NUMBER_SCOPE, SAMBI
from apps.federation.oidc.vocabulary import CLAIMS
from apps.identities import services as identities
from apps.identities.models import User
from tests.federation.oidc_support import RelyingParty, browser, register, use_provider

pytestmark = pytest.mark.django_db(transaction=True)

PIN = "https://id.oidc.se/claim/personalIdentityNumber"
COORDINATION = "https://id.oidc.se/claim/coordinationNumber"
ALL_SCOPES = ("openid", "profile", NATURAL_PERSON_NUMBER_SCOPE, COMMISSION_SCOPE)


@pytest.fixture
def portal(live_server: Any, settings: Any, tree: Any) -> str:
    use_provider(settings, live_server.url)
    return str(live_server.url)


def released(rp: RelyingParty, session: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ID token's claims and the userinfo answer of one login."""
    token = rp.login(session)
    userinfo = rp.session.get(rp.discovery["userinfo_endpoint"], timeout=30).json()
    return rp.verify_id_token(token["id_token"]), userinfo


def test_staff_get_login_identity_number_and_commission_claims(
        portal: str, tree: Any, nurse: Any) -> None:
    user, employee = nurse
    User.objects.filter(pk=user.pk).update(last_login=timezone.now() - timedelta(days=30))
    rp = RelyingParty(portal, register(tree["cardio"], scopes=ALL_SCOPES, claims=tuple(CLAIMS)),
                      scope=" ".join(ALL_SCOPES))
    id_token, userinfo = released(rp, browser(portal, user))
    login = Grant.objects.get()
    # OIDC Core 2: the time of this login, not the account's last login.
    assert id_token["auth_time"] == int(login.auth_time.timestamp())
    assert abs(id_token["auth_time"] - timezone.now().timestamp()) < 600
    assert id_token["acr"] == LOA3
    assert "amr" not in id_token  # a federated login has no RFC 8176 method
    commission = employee.commissions.get()
    for claims in (id_token, userinfo):
        assert claims["sub"] == str(user.person_id)
        assert claims["given_name"] == "Nina" and claims["name"] == "Nina Nurse"
        assert claims[PIN] == user.person.identity_numbers.get().extension
        assert len(claims[PIN]) == 12 and claims[PIN].isdigit()
        assert COORDINATION not in claims
        assert claims[SAMBI + "employeeHsaId"] == employee.hsa_id
        assert claims[SAMBI + "commissionHsaId"] == commission.hsa_id
        assert claims[SAMBI + "commissionPurpose"] == "Vård och behandling"
        assert sorted(claims[SAMBI + "commissionRight"]) == ["Läsa;alla;VE", "Skriva;alla;VE"]
        assert claims[SAMBI + "healthCareUnitHsaId"] == tree["cardio"].hsa_id
        assert claims[SAMBI + "healthCareUnitName"] == tree["cardio"].name
        assert claims[SAMBI + "healthCareProviderHsaId"] == commission.care_provider.hsa_id


def test_amr_names_the_rfc_8176_methods_of_the_login(portal: str, tree: Any, nurse: Any) -> None:
    rp = RelyingParty(portal, register(tree["cardio"], claims=("sub", "acr", "amr")))
    id_token, userinfo = released(
        rp, browser(portal, nurse[0], loa=LOA2, methods=("pwd", "otp"), idp=None))
    assert id_token["acr"] == LOA2 and id_token["amr"] == ["pwd", "otp"]
    assert userinfo["amr"] == ["pwd", "otp"]


def test_a_claim_the_registration_does_not_allow_is_never_released(
        portal: str, tree: Any, nurse: Any) -> None:
    allowed = ("sub", "given_name", "family_name")
    rp = RelyingParty(portal, register(tree["cardio"], scopes=ALL_SCOPES, claims=allowed),
                      scope=" ".join(ALL_SCOPES))
    id_token, userinfo = released(rp, browser(portal, nurse[0]))
    for claims in (id_token, userinfo):
        assert claims["given_name"] == "Nina"
        for refused in set(CLAIMS) - set(allowed):
            assert refused not in claims
    # Neither `auth_time`, which DOT would otherwise add from the account's last login.
    assert "auth_time" not in id_token and "acr" not in id_token


def test_a_claim_is_released_only_with_its_scope(portal: str, tree: Any, nurse: Any) -> None:
    rp = RelyingParty(portal, register(tree["cardio"], scopes=ALL_SCOPES, claims=tuple(CLAIMS)),
                      scope="openid")
    id_token, userinfo = released(rp, browser(portal, nurse[0]))
    for claims in (id_token, userinfo):
        assert not {"name", "given_name", PIN, SAMBI + "commissionHsaId"} & set(claims)
    assert id_token["acr"] == LOA3


def test_a_coordination_number_goes_in_its_own_claim(portal: str, tree: Any) -> None:
    person = identities.person_create(actor=SYSTEM, given_name="Sam", family_name="Ordning",
                                      person_number="19701063-2391")
    user = identities.user_create(actor=SYSTEM, person=person, username="sam.ordning",
                                  kind=User.Kind.PATIENT)
    rp = RelyingParty(portal, register(tree["cardio"], scopes=ALL_SCOPES, claims=tuple(CLAIMS)),
                      scope=" ".join(ALL_SCOPES))
    id_token, userinfo = released(rp, browser(portal, user))
    for claims in (id_token, userinfo):
        assert claims[COORDINATION] == "197010632391" and PIN not in claims
        assert not any(name.startswith(SAMBI) for name in claims)  # a patient has no commission


def test_a_client_credentials_client_cannot_be_registered_with_a_user_scope(tree: Any) -> None:
    for scope in ("openid", "profile", COMMISSION_SCOPE):
        with pytest.raises(ValidationFailed) as refused:
            register(tree["cardio"], grant_type="client-credentials", scopes=(scope,))
        assert refused.value.field == "allowed_scopes"
