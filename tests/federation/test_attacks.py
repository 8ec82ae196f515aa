"""Attacks on federated login with real signed (or deliberately unsigned) messages from the test
IdP: forged single logout, step-ups the IdP answered from an old login, NameIDs longer than the
portal keeps, and what a careless link does to the login page."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import saml2
from django.conf import settings
from django.test import Client
from django.urls import reverse
from saml2.saml import name_id_from_string

from apps.audit.models import AuditEvent
from apps.authn.models import UserSession
from apps.commissions import services as commissions
from apps.commissions.models import Employee, Role
from apps.core.actors import SYSTEM
from apps.core.loa import LOA3
from apps.federation.models import FederatedIdentity
from apps.identities.models import User
from apps.testidp.idp import TestIdP
from tests.conftest import make_staff
from tests.federation.support import person_attributes

pytestmark = pytest.mark.django_db


@pytest.fixture
def nina(nurse: tuple[User, Employee]) -> User:
    return nurse[0]


def _logout_request(idp: TestIdP, name_id_xml: str, *, sign: bool) -> str:
    """The path and query of an IdP-initiated LogoutRequest (HTTP-Redirect) naming `name_id_xml`,
    with the binding's signature by the IdP's key when `sign`."""
    server = idp.server()
    destination = settings.PORTAL_BASE_URL + reverse("federation:ls")
    _id, request = server.create_logout_request(
        destination, idp.sp_entity_id, name_id=name_id_from_string(name_id_xml), sign=False)
    info = server.apply_binding(saml2.BINDING_HTTP_REDIRECT, str(request), destination, "",
                                sign=sign, sigalg=saml2.xmldsig.SIG_RSA_SHA256 if sign else None)
    location = urlsplit(dict(info["headers"])["Location"])
    return f"{location.path}?{location.query}"


def _other_name_id(name_id_xml: str) -> str:
    return re.sub(r">([0-9a-f]+)<", ">" + "0" * 64 + "<", name_id_xml)


@pytest.mark.parametrize(("sign", "same_person"), [(False, True), (False, False), (True, False)],
                         ids=["unsigned", "unsigned-other-nameid", "signed-other-nameid"])
def test_a_forged_or_foreign_idp_logout_request_logs_nobody_out(
        client: Client, federation: Any, nina: User, sign: bool, same_person: bool) -> None:
    federation.login(client, nina.person)
    name_id = client.session["saml"]["name_id"]
    path = _logout_request(federation.idps["staff"],
                           name_id if same_person else _other_name_id(name_id), sign=sign)
    client.get(path)
    assert client.session.get("_auth_user_id") == str(nina.pk)
    assert client.get(reverse("selfservice:my_sessions")).status_code == 200
    assert UserSession.objects.get().ended_at is None


def test_a_signed_idp_logout_request_ends_the_session_and_its_record(
        client: Client, federation: Any, nina: User) -> None:
    federation.login(client, nina.person)
    path = _logout_request(federation.idps["staff"], client.session["saml"]["name_id"], sign=True)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(federation.idps["staff"].slo_url)
    assert "_auth_user_id" not in client.session
    record = UserSession.objects.get()
    assert record.ended_at is not None and record.end_reason == "logout"


def test_a_step_up_answered_from_an_older_idp_login_is_refused(
        client: Client, federation: Any, nina: User) -> None:
    """ForceAuthn asks the IdP for a new authentication; an AuthnInstant from before the request
    means it reused an earlier one, which proves nothing now."""
    federation.login(client, nina.person)
    request = federation.start(client, "staff", step_up=True)
    answer = federation.idps["staff"].response(
        request, person_attributes(nina.person),
        now=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3))
    page = federation.post(client, answer)
    assert page.status_code == 403
    assert client.session["authn"]["step_up"] is None
    assert AuditEvent.objects.filter(action="saml_response.refused",
                                     changes__reason=[None, "saml.not_fresh"]).exists()


def test_a_login_answered_from_an_earlier_idp_session_is_fine(
        client: Client, federation: Any, nina: User) -> None:
    """Without ForceAuthn the IdP may use its single sign-on session (SAML 2.0 core 3.4.1)."""
    request = federation.start(client, "staff")
    answer = federation.idps["staff"].response(
        request, person_attributes(nina.person),
        now=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3))
    assert federation.post(client, answer).status_code == 302
    assert client.session["_auth_user_id"] == str(nina.pk)


def test_a_name_id_longer_than_the_portal_keeps_is_refused(
        client: Client, federation: Any, patient: User) -> None:
    """Cut to its column, two long NameIDs sharing a prefix would be one identity."""
    idp = federation.idps["citizen"]
    idp.name_id = lambda number: "x" * 1100 + number  # type: ignore[method-assign]
    request = federation.start(client, "citizen")
    answer = idp.response(request, person_attributes(patient.person, personality="citizen"))
    page = federation.post(client, answer)
    assert page.status_code == 403
    assert "_auth_user_id" not in client.session
    assert not FederatedIdentity.objects.exists()
    assert AuditEvent.objects.filter(action="saml_response.refused",
                                     changes__reason=[None, "saml.name_id"]).exists()


def test_next_survives_a_refused_idp_choice_whole(client: Client, federation: Any) -> None:
    row = federation.rows["staff"]
    row.enabled = False
    row.save()
    response = client.get(reverse("federation:login", args=[row.pk]),
                          {"next": "/administration/?q=a&for=patient#x"})
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query == {"next": ["/administration/?q=a&for=patient#x"]}


@pytest.fixture
def platform_admin(tree: dict[str, Any]) -> User:
    """A local administrator over the region: a root of the organisation tree."""
    user, _ = make_staff(tree["region"], "Pia", "Plattform")
    from django.utils import timezone
    commissions.role_grant(actor=SYSTEM, person=user.person, role=Role.LOCAL_ADMIN,
                           organisation=tree["region"], valid_from=timezone.now(),
                           valid_until=None)
    return user


def test_the_idp_state_page_needs_the_administration_level(
        client: Client, federation: Any, platform_admin: User) -> None:
    from tests.authn.test_sessions import password_login
    password_login(client, platform_admin)
    page = client.get(reverse("federation:idp_list"))
    assert page.status_code == 403
    assert "A higher level of assurance is needed" in page.content.decode()
    federation.login(client, platform_admin.person, loa=LOA3)
    assert client.get(reverse("federation:idp_list")).status_code == 200


def test_the_idp_state_page_is_not_found_for_a_unit_administrator(
        client: Client, federation: Any, hospital_admin: User) -> None:
    federation.login(client, hospital_admin.person)
    assert client.get(reverse("federation:idp_list")).status_code == 404


def test_the_idp_state_page_is_not_found_for_a_unit_administrator_at_any_level(
        client: Client, federation: Any, hospital_admin: User) -> None:
    from tests.authn.test_sessions import password_login
    password_login(client, hospital_admin)
    assert client.get(reverse("federation:idp_list")).status_code == 404
