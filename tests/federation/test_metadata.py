"""IdP metadata (SAML 2.0 metadata, saml-metadata-2.0-os): the test IdP's real signed metadata,
served by a real HTTP server in a thread (and from a file), refreshed by the services and the beat
task; every copy that is not signed by the configured key, was changed after signing, is past its
validUntil, names another entity or carries a DTD is refused and the last good copy kept.
Also the IdP state page for the platform's administrators."""

from __future__ import annotations

import datetime as dt
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.commissions import services as commissions
from apps.commissions.models import Employee, Role
from apps.core.actors import SYSTEM
from apps.federation import services, tasks
from apps.federation.actors import SAML_SP
from apps.federation.models import AcceptedAssertion, AuthnRequestState, IdentityProvider
from apps.identities.models import User
from apps.organisations.models import Organisation
from apps.testidp.idp import TestIdP
from tests.conftest import login_session, make_staff

pytestmark = pytest.mark.django_db


class MetadataServer:
    """A real HTTP server in a thread answering GET with `body` (bytes) and `status`."""

    def __init__(self) -> None:
        self.body, self.status, self.gets = b"", 200, 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                owner.gets += 1
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/samlmetadata+xml")
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/metadata"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[MetadataServer]:
    found = MetadataServer()
    yield found
    found.close()


@pytest.fixture
def idp(settings: Any) -> TestIdP:
    return TestIdP("staff", key_dir=settings.TESTIDP_KEY_DIR)


@pytest.fixture
def cert_file(idp: TestIdP, tmp_path: Path) -> Path:
    path = tmp_path / "metadata-cert.pem"
    path.write_text(idp.metadata_cert_pem)
    return path


def _configure(settings: Any, idp: TestIdP, cert: Path | None, **source: str) -> IdentityProvider:
    settings.SAML_IDPS = [{"entity_id": source.pop("entity_id", idp.entity_id),
                           "name": "Region e-ID", "accounts": "staff",
                           **({"metadata_cert_file": str(cert)} if cert else {}), **source}]
    (row,) = services.idps_configure(actor=SAML_SP)
    return row


def _refresh(row: IdentityProvider) -> IdentityProvider:
    return services.idp_metadata_refresh(actor=SAML_SP, idp=row)


def _strip(xml: str) -> str:
    return re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", xml)


def test_a_good_signed_copy_by_url_is_stored_with_its_valid_until(
        settings: Any, server: MetadataServer, idp: TestIdP, cert_file: Path) -> None:
    until = (timezone.now() + dt.timedelta(days=3)).replace(microsecond=0)
    server.body = idp.metadata_xml(valid_until=until).encode()
    row = _refresh(_configure(settings, idp, cert_file, metadata_url=server.url))
    assert server.gets == 1
    assert row.metadata_state == IdentityProvider.State.OK and row.metadata_error == ""
    assert row.metadata_valid_until == until
    assert idp.entity_id in row.metadata_xml and row.metadata_fetched_at is not None
    assert AuditEvent.objects.filter(action="idp_metadata.refreshed", target_id=str(row.pk),
                                     changes__state=["missing", "ok"]).exists()


def test_a_good_signed_copy_from_a_file_is_stored(
        settings: Any, idp: TestIdP, cert_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "idp.xml"
    path.write_text(idp.metadata_xml())
    row = _refresh(_configure(settings, idp, cert_file, metadata_file=str(path)))
    assert row.metadata_state == IdentityProvider.State.OK and row.metadata_valid_until


def _bad_copies(idp: TestIdP) -> dict[str, tuple[str, str]]:
    """Each refused variant: (the copy served, the refusal code recorded)."""
    signed = idp.metadata_xml()
    past = idp.metadata_xml(valid_until=timezone.now() - dt.timedelta(minutes=1))
    doctype = ('<!DOCTYPE md:EntityDescriptor [<!ENTITY sso "https://evil.example/sso">]>\n'
               + _strip(signed))
    return {
        "unsigned": (idp.metadata_xml(signed=False), "metadata.unsigned"),
        "tampered": (signed.replace(idp.sso_url, "https://evil.example/sso"),
                     "metadata.signature"),
        "expired": (past, "metadata.expired"),
        "doctype": (doctype, "metadata.malformed"),
        "not-xml": ("<html>maintenance</html", "metadata.malformed"),
        # Validly signed, but by a key that is not the configured metadata key.
        "other-key": (_signed_by(idp, idp.untrusted_keys), "metadata.signature"),
    }


@pytest.mark.parametrize("variant", ["unsigned", "tampered", "expired", "doctype", "not-xml",
                                     "other-key"])
def test_a_bad_copy_is_refused_and_the_last_good_one_kept(
        settings: Any, server: MetadataServer, idp: TestIdP, cert_file: Path,
        variant: str) -> None:
    good = idp.metadata_xml()
    server.body = good.encode()
    row = _refresh(_configure(settings, idp, cert_file, metadata_url=server.url))
    kept, until = row.metadata_xml, row.metadata_valid_until
    body, code = _bad_copies(idp)[variant]
    server.body = body.encode()
    row = _refresh(row)
    assert row.metadata_state == IdentityProvider.State.REFUSED, row.metadata_error
    assert row.metadata_error.startswith(code), row.metadata_error
    assert row.metadata_xml == kept and row.metadata_valid_until == until
    assert "evil.example" not in row.metadata_xml
    assert AuditEvent.objects.filter(action="idp_metadata.refused", outcome="failure",
                                     target_id=str(row.pk),
                                     changes__state=["ok", "refused"]).exists()


def _signed_by(idp: TestIdP, keys: Any) -> str:
    """The IdP's metadata with a valid enveloped signature by `keys` (not the configured key)."""
    from saml2.metadata import entity_descriptor
    from saml2.s_utils import sid
    from saml2.sigver import pre_signature_part
    from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

    descriptor = entity_descriptor(idp._config(None))
    descriptor.id = sid()
    descriptor.valid_until = (timezone.now() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    descriptor.signature = pre_signature_part(descriptor.id, keys.cert_base64,
                                              digest_alg=DIGEST_SHA256, sign_alg=SIG_RSA_SHA256)
    return idp._sign(str(descriptor), type(descriptor), descriptor.id, keys)


def test_metadata_naming_another_entity_is_refused(
        settings: Any, server: MetadataServer, idp: TestIdP, cert_file: Path) -> None:
    server.body = idp.metadata_xml().encode()
    row = _refresh(_configure(settings, idp, cert_file, metadata_url=server.url,
                              entity_id="https://idp.other.example/metadata"))
    assert row.metadata_state == IdentityProvider.State.REFUSED
    assert row.metadata_error.startswith("metadata.entity") and row.metadata_xml == ""


def test_an_unreadable_certificate_file_refuses_every_copy(
        settings: Any, server: MetadataServer, idp: TestIdP, tmp_path: Path) -> None:
    server.body = idp.metadata_xml().encode()
    row = _refresh(_configure(settings, idp, tmp_path / "missing.pem", metadata_url=server.url))
    assert row.metadata_xml == "" and row.metadata_error.startswith("metadata.cert_unreadable")


def test_an_unreachable_url_keeps_the_copy_and_says_so(
        settings: Any, server: MetadataServer, idp: TestIdP, cert_file: Path) -> None:
    server.body = idp.metadata_xml().encode()
    row = _refresh(_configure(settings, idp, cert_file, metadata_url=server.url))
    kept = row.metadata_xml
    server.close()
    row = _refresh(row)
    assert row.metadata_state == IdentityProvider.State.UNREACHABLE
    assert row.metadata_error.startswith("metadata.unreachable") and row.metadata_xml == kept


def test_an_http_error_is_unreachable_too(
        settings: Any, server: MetadataServer, idp: TestIdP, cert_file: Path) -> None:
    server.status, server.body = 503, b"down"
    row = _refresh(_configure(settings, idp, cert_file, metadata_url=server.url))
    assert row.metadata_state == IdentityProvider.State.UNREACHABLE and row.metadata_xml == ""


def test_an_idp_whose_copy_has_expired_is_not_offered_and_cannot_be_used(
        client: Client, federation: Any) -> None:
    staff = federation.rows["staff"]
    IdentityProvider.objects.filter(pk=staff.pk).update(
        metadata_valid_until=timezone.now() - dt.timedelta(seconds=1))
    page = client.get(reverse("federation:discovery")).content.decode()
    assert "Test IdP (staff)" not in page and "Test IdP (citizen)" in page
    response = client.get(reverse("federation:login", args=[staff.pk]), {"next": "/my/eids/"})
    assert response.status_code == 302 and response["Location"].startswith("/saml/")
    assert not AuthnRequestState.objects.exists()
    shown = client.get(response["Location"]).content.decode()
    assert "This e-ID provider cannot be used right now." in shown


def test_an_answer_arriving_after_the_copy_expired_is_refused(
        client: Client, federation: Any, nurse: tuple[User, Employee]) -> None:
    from tests.federation.support import person_attributes

    asked = federation.start(client, "staff")
    answer = federation.idps["staff"].response(asked, person_attributes(nurse[0].person))
    IdentityProvider.objects.filter(pk=federation.rows["staff"].pk).update(
        metadata_valid_until=timezone.now() - dt.timedelta(seconds=1))
    page = federation.post(client, answer)
    assert page.status_code == 403 and "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="saml_response.refused",
                                     changes__reason=[None, "saml.idp_unusable"]).exists()


# The beat task ---------------------------------------------------------------------------------

def test_the_task_configures_refreshes_what_is_due_and_retries_failures(
        settings: Any, server: MetadataServer, idp: TestIdP, cert_file: Path) -> None:
    settings.SAML_METADATA_REFRESH_SECONDS = 3600
    citizen = TestIdP("citizen", key_dir=settings.TESTIDP_KEY_DIR)
    server.body = idp.metadata_xml().encode()
    settings.SAML_IDPS = [
        {"entity_id": idp.entity_id, "name": "Staff e-ID", "accounts": "staff",
         "metadata_url": server.url, "metadata_cert_file": str(cert_file)},
        # Served the staff IdP's metadata: never this entity's, so refused at every run.
        {"entity_id": citizen.entity_id, "name": "Citizen e-ID", "accounts": "patient",
         "metadata_url": server.url, "metadata_cert_file": str(cert_file)}]
    assert tasks.idp_metadata_refresh_task() == 2
    staff, broken = (IdentityProvider.objects.get(entity_id=e)
                     for e in (idp.entity_id, citizen.entity_id))
    assert staff.metadata_state == "ok" and broken.metadata_error.startswith("metadata.entity")
    assert AuditEvent.objects.filter(action="idp_metadata.refreshed",
                                     changes__name=[None, "Staff e-ID"]).exists()
    # Not due yet: only the one without metadata is tried again.
    assert tasks.idp_metadata_refresh_task() == 1
    assert server.gets == 3
    # Due: both again.
    IdentityProvider.objects.filter(pk=staff.pk).update(
        metadata_fetched_at=timezone.now() - dt.timedelta(seconds=3601))
    assert tasks.idp_metadata_refresh_task() == 2
    # A refused copy is retried at every run, and the good copy stays until then.
    server.body = idp.metadata_xml(signed=False).encode()
    IdentityProvider.objects.filter(pk=staff.pk).update(
        metadata_fetched_at=timezone.now() - dt.timedelta(seconds=3601))
    assert tasks.idp_metadata_refresh_task() == 2
    staff.refresh_from_db()
    assert staff.metadata_state == "refused" and staff.metadata_xml
    assert tasks.idp_metadata_refresh_task() == 2
    # The same refusal again is not a change: audited once.
    assert AuditEvent.objects.filter(action="idp_metadata.refused",
                                     target_id=str(staff.pk)).count() == 1
    server.body = idp.metadata_xml().encode()
    assert tasks.idp_metadata_refresh_task() == 2
    staff.refresh_from_db()
    assert staff.metadata_state == "ok" and staff.metadata_error == ""
    assert AuditEvent.objects.filter(action="idp_metadata.refreshed", target_id=str(staff.pk),
                                     changes__state=["refused", "ok"]).exists()


def test_an_idp_removed_from_the_settings_is_disabled_not_deleted(
        settings: Any, server: MetadataServer, idp: TestIdP, cert_file: Path) -> None:
    server.body = idp.metadata_xml().encode()
    row = _refresh(_configure(settings, idp, cert_file, metadata_url=server.url))
    settings.SAML_IDPS = []
    assert tasks.idp_metadata_refresh_task() == 0
    row.refresh_from_db()
    assert not row.enabled and row.metadata_xml
    assert AuditEvent.objects.filter(action="idp_metadata.refreshed", target_id=str(row.pk),
                                     changes__enabled=[True, False]).exists()


def test_the_task_deletes_expired_login_states_and_replay_entries(
        settings: Any, federation: Any) -> None:
    settings.SAML_IDPS = []
    now = timezone.now()
    row = federation.rows["staff"]
    for name, age in (("_old", 600), ("_fresh", 10)):
        AuthnRequestState.objects.create(
            request_id=name, idp=row, binding_hash="x", created_at=now - dt.timedelta(seconds=age),
            expires_at=now - dt.timedelta(seconds=age - 300))
        AcceptedAssertion.objects.create(idp_entity_id=row.entity_id, assertion_id=name,
                                         keep_until=now - dt.timedelta(seconds=age - 300))
    tasks.idp_metadata_refresh_task()
    assert list(AuthnRequestState.objects.values_list("pk", flat=True)) == ["_fresh"]
    assert list(AcceptedAssertion.objects.values_list("assertion_id", flat=True)) == ["_fresh"]


# The IdP state page ----------------------------------------------------------------------------

@pytest.fixture
def platform_admin(tree: dict[str, Organisation]) -> User:
    """A local administrator over the whole region (a root of the organisation tree)."""
    user, _ = make_staff(tree["region"], "Rut", "Root")
    commissions.role_grant(actor=SYSTEM, person=user.person, role=Role.LOCAL_ADMIN,
                           organisation=tree["region"], valid_from=timezone.now(),
                           valid_until=None)
    return user


IDP_PAGE = "/administration/identity-providers/"


def test_the_platform_administrator_sees_each_idp_state_and_is_led_there(
        client: Client, federation: Any, platform_admin: User) -> None:
    IdentityProvider.objects.filter(pk=federation.rows["citizen"].pk).update(
        metadata_state="refused", metadata_error="metadata.signature: verification failed")
    login_session(client, platform_admin)
    home = client.get(reverse("administration:person_list")).content.decode()
    assert f'href="{IDP_PAGE}"' in home
    page = client.get(IDP_PAGE)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Test IdP (staff)" in text and "up to date" in text
    until = federation.rows["staff"].metadata_valid_until
    assert timezone.localtime(until).strftime("%Y-%m-%d %H:%M") in text
    assert "last refresh refused, previous copy kept" in text
    assert "metadata.signature: verification failed" in text


@pytest.mark.parametrize("who", ["hospital_admin", "nurse"])
def test_nobody_else_finds_the_idp_page(
        client: Client, federation: Any, who: str, request: Any) -> None:
    found = request.getfixturevalue(who)
    user = found[0] if isinstance(found, tuple) else found
    login_session(client, user)
    assert client.get(IDP_PAGE).status_code == 404
    if who == "hospital_admin":
        home = client.get(reverse("administration:person_list")).content.decode()
        assert IDP_PAGE not in home


def test_a_level_above_what_a_step_up_gives_stops_start_up(settings: Any) -> None:
    from django.core.checks import run_checks

    from apps.core.loa import LOA4
    settings.PORTAL_LOA_REQUIRED = {**settings.PORTAL_LOA_REQUIRED, "self_issuance": LOA4}
    assert "federation.E004" in [error.id for error in run_checks()]
