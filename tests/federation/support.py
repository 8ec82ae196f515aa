"""Federated login driven end to end in tests: the real test IdP (apps/testidp, pysaml2 with
xmlsec1 signatures) answers the portal's real AuthnRequests, and the Django test client carries
the browser's part (redirect to the IdP, POST to the assertion consumer, the completing GET)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.core.loa import LOA3
from apps.federation import metadata
from apps.federation.management.commands.saml_sp_init import write_key_pair
from apps.federation.models import IdentityProvider
from apps.identities.models import Person
from apps.testidp.idp import AuthnRequestInfo, IdPResponse, TestIdP

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Answer


def ensure_sp_keys() -> None:
    """The SP's test key pair (settings.SAML_SP_KEY_FILE), made once per checkout."""
    key, cert = Path(settings.SAML_SP_KEY_FILE), Path(settings.SAML_SP_CERT_FILE)
    if not (key.exists() and cert.exists()):
        write_key_pair(key, cert, "IAM portal SAML SP (tests)")


def sp_metadata() -> str:
    """The portal's SP metadata (XML) as it serves it at /saml/metadata/, where an IdP fetches
    it. Its AssertionConsumerService URL comes from settings.PORTAL_BASE_URL, so set that first."""
    ensure_sp_keys()
    return Client().get(reverse("federation:metadata")).content.decode()


def trust(idps: dict[str, TestIdP]) -> dict[str, IdentityProvider]:
    """Register the test IdP's personalities (`idps`, by personality name) as trusted IdPs of
    the portal, each with its signed metadata checked as in production
    (`apps.federation.metadata.check`); returns the IdentityProvider rows by personality."""
    rows: dict[str, IdentityProvider] = {}
    names = {"staff": ("Test IdP (staff)", "Test-IdP (medarbetare)", "staff"),
             "citizen": ("Test IdP (citizen)", "Test-IdP (invånare)", "patient")}
    for position, (personality, idp) in enumerate(idps.items()):
        name, name_sv, accounts = names[personality]
        good = metadata.check(idp.metadata_xml().encode(), entity_id=idp.entity_id,
                              cert_pem=idp.metadata_cert_pem, now=timezone.now())
        rows[personality] = IdentityProvider.objects.create(
            entity_id=idp.entity_id, name=name, name_sv=name_sv, position=position,
            accounts=accounts, metadata_cert=idp.metadata_cert_pem, metadata_xml=good.xml,
            metadata_valid_until=good.valid_until, metadata_fetched_at=timezone.now(),
            metadata_state=IdentityProvider.State.OK)
    return rows


def person_attributes(person: Person, *, personality: str = "staff") -> dict[str, str]:
    """What the test IdP asserts for `person`: the 12-digit number, names and, for staff, the
    first employee HSA-id."""
    number = person.identity_numbers.first()
    attributes = {"personalIdentityNumber": number.extension if number else "",
                  "givenName": person.given_name, "sn": person.family_name}
    if personality == "staff":
        employee = person.employees.order_by("hsa_id").first()
        if employee is not None:
            attributes["employeeHsaId"] = employee.hsa_id
    return attributes


@dataclass
class Federation:
    """The two personalities of the test IdP, registered as trusted IdPs of the portal."""

    idps: dict[str, TestIdP]
    rows: dict[str, IdentityProvider] = field(default_factory=dict)

    def start(self, client: Client, personality: str = "staff", *, next_path: str = "/",
              step_up: bool = False) -> AuthnRequestInfo:
        """Ask the portal to log in at `personality` (the browser follows to the IdP, which reads
        the signed AuthnRequest)."""
        url = reverse("federation:login", args=[self.rows[personality].pk])
        query: dict[str, str] = {"next": next_path}
        if step_up:
            query["purpose"] = "step_up"
        response = client.get(url, query)
        assert response.status_code == 302, response
        location = urlsplit(response["Location"])
        saml_request = parse_qs(location.query)["SAMLRequest"][0]
        return self.idps[personality].parse_authn_request(saml_request, "redirect")

    def post(self, client: Client, answer: IdPResponse, *, follow: bool = True) -> Answer:
        """POST the IdP's response to the assertion consumer as the browser would (cross-site:
        the portal must not need its session cookie there), then follow to the completion."""
        path = urlsplit(answer.acs_url).path
        response = client.post(path, answer.post_data())
        if follow and response.status_code == 303:
            return client.get(response["Location"])
        return response

    def login(self, client: Client, person: Person, *, personality: str = "staff",
              loa: str = LOA3, next_path: str = "/", step_up: bool = False,
              **variant: Any) -> Answer:
        """The whole login (or step-up) of `person`; returns the completing page's response."""
        request = self.start(client, personality, next_path=next_path, step_up=step_up)
        answer = self.idps[personality].response(
            request, person_attributes(person, personality=personality), loa=loa, **variant)
        return self.post(client, answer)
