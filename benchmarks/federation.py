"""Figures for federated login: building a signed AuthnRequest, and a whole SAML login through
the test client (the AuthnRequest, the test IdP's signed response, the assertion consumer's
checks with xmlsec1, the completing page). Prints, never asserts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.federation import metadata, saml
from apps.federation.management.commands.saml_sp_init import write_key_pair
from apps.federation.models import IdentityProvider
from apps.identities.models import User
from apps.testidp.idp import TestIdP


def main(measure: Callable[..., None], tmp: Path) -> None:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # the test client's host
    settings.SAML_SP_KEY_FILE, settings.SAML_SP_CERT_FILE = tmp / "sp-key.pem", tmp / "sp-cert.pem"
    write_key_pair(settings.SAML_SP_KEY_FILE, settings.SAML_SP_CERT_FILE, "bench SP")
    sp_metadata = Client().get(reverse("federation:metadata")).content.decode()
    idp = TestIdP("staff", key_dir=tmp / "testidp", sp_metadata=sp_metadata)
    good = metadata.check(idp.metadata_xml().encode(), entity_id=idp.entity_id,
                          cert_pem=idp.metadata_cert_pem, now=timezone.now())
    row = IdentityProvider.objects.create(
        entity_id=idp.entity_id, name="bench IdP", accounts="staff", metadata_xml=good.xml,
        metadata_cert=idp.metadata_cert_pem, metadata_valid_until=good.valid_until,
        metadata_state=IdentityProvider.State.OK)
    person = User.objects.get(username="sara.staff").person
    employee = person.employees.get()
    attributes = {"personalIdentityNumber": person.person_number, "givenName": person.given_name,
                  "sn": person.family_name, "employeeHsaId": employee.hsa_id}

    measure("SAML: signed AuthnRequest (HTTP-Redirect)",
            lambda: saml.authn_request(row.metadata_xml, row.entity_id, force_authn=False,
                                       requested_loa=None), repeat=50, queries=False)

    def login() -> Any:
        client = Client()
        start = client.get(reverse("federation:login", args=[row.pk]))
        query = parse_qs(urlsplit(start["Location"]).query)
        request = idp.parse_authn_request(query["SAMLRequest"][0], "redirect")
        answer = idp.response(request, attributes)
        done = client.post(reverse("federation:acs"), answer.post_data())
        return client.get(done["Location"])

    measure("SAML: whole login (request, IdP, ACS, complete)", login, repeat=20, queries=False)
