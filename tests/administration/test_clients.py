"""E-service clients through their administration pages: a local administrator registers a client
(pending, its secret shown once), changes it, replaces its secret and suspends it; a federation
operator approves it; clients outside the scope are "not found"; each step is audited without
the secret."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.commissions import services as commissions
from apps.commissions.models import Role
from apps.core.actors import SYSTEM
from apps.federation.models import Client
from apps.federation.oidc import secrets
from tests.conftest import login_session, make_staff
from tests.federation.oidc_support import register, s256

pytestmark = pytest.mark.django_db

FORM = {"name": "Journal e-service", "contact_name": "Ella Example",
        "contact_email": "ella@example.invalid", "grant_type": "authorization-code",
        "client_type": "confidential", "redirect_uris": "https://journal.example/callback",
        "allowed_scopes": ["openid", "profile"], "allowed_claims": ["sub", "acr"],
        "algorithm": "ES256"}


def login(client: Any, user: Any) -> Any:
    client.cookies["django_language"] = "en"
    return login_session(client, user)


@pytest.fixture
def operator(tree: Any) -> Any:
    """A federation operator over the whole region (no local administrator role)."""
    user, _ = make_staff(tree["region"], "Fredrik", "Federation")
    commissions.role_grant(actor=SYSTEM, person=user.person, role=Role.FEDERATION_OPERATOR,
                           organisation=tree["region"], valid_from=timezone.now(),
                           valid_until=None)
    return user


def detail(client_row: Client) -> str:
    return reverse("administration:client_detail", kwargs={"client_id": client_row.pk})


def test_register_shows_the_secret_once_and_stores_only_its_hmac(
        client: Any, hospital_admin: Any, tree: Any) -> None:
    login(client, hospital_admin)
    answer = client.post(reverse("administration:client_register"),
                         {**FORM, "organisation": tree["cardio"].pk}, follow=True)
    assert answer.status_code == 200 and len(answer.redirect_chain) == 1  # POST, redirect, GET
    secret = re.search(r"Client secret</dt><dd><code>([A-Za-z0-9_-]+)</code>",
                       answer.content.decode()).group(1)  # type: ignore[union-attr]
    assert len(secret) >= 43  # at least 256 bits, base64url
    row = Client.objects.get()
    assert row.state == "pending" and row.organisation == tree["cardio"]
    assert secret not in row.client_secret and secrets.matches(secret, row.client_secret)
    assert "no-store" in answer["Cache-Control"]
    page = client.get(detail(row)).content.decode()
    assert secret not in page and "waiting for approval" in page
    # A reload of the shown-once page registers nothing and shows the secret no more.
    again = client.get(answer.redirect_chain[0][0], follow=True)
    assert again.redirect_chain[-1][0] == detail(row) and secret not in again.content.decode()
    assert "A client secret is shown only once." in again.content.decode()
    assert Client.objects.count() == 1
    event = AuditEvent.objects.get(action="oauth_client.registered")
    assert secret not in str(event.changes) and event.target_id == str(row.pk)


@pytest.mark.parametrize("uris, message", [
    ("https://*.journal.example/callback", "Wildcards are not allowed"),
    ("https://journal.example/callback#top", "cannot have a fragment"),
    ("https://user:pw@journal.example/callback", "user name or password"),
    ("http://journal.example/callback", "must use https"),
    ("http://localhost:8080/callback", "must use https"),
    ("journal.example/callback", "an absolute address"),
    ("https://journal.example/call\u200bback", "only ASCII characters"),  # zero-width space
    ("https://j\u043eurnal.example/callback", "only ASCII characters"),  # Cyrillic o
])
def test_registration_refuses_unsafe_redirect_uris(
        client: Any, hospital_admin: Any, tree: Any, uris: str, message: str) -> None:
    login(client, hospital_admin)
    answer = client.post(reverse("administration:client_register"),
                         {**FORM, "organisation": tree["cardio"].pk, "redirect_uris": uris})
    assert answer.status_code == 200 and message in answer.content.decode()
    assert not Client.objects.exists()


@pytest.mark.parametrize("uris, message", [
    ("https://journal.example/bye\nhttps://*.journal.example/bye", "Wildcards are not allowed"),
    ("https://journal.example/bye#top", "cannot have a fragment"),
    ("http://journal.example/bye", "must use https"),
])
def test_registration_refuses_unsafe_post_logout_redirect_uris(
        client: Any, hospital_admin: Any, tree: Any, uris: str, message: str) -> None:
    login(client, hospital_admin)
    answer = client.post(reverse("administration:client_register"), {
        **FORM, "organisation": tree["cardio"].pk, "post_logout_redirect_uris": uris})
    page = answer.content.decode()
    assert answer.status_code == 200 and message in page
    assert 'id="id_post_logout_redirect_uris_error"' in page  # next to its own field
    assert not Client.objects.exists()


def test_post_logout_redirect_uris_are_registered_shown_and_changed(
        client: Any, hospital_admin: Any, tree: Any) -> None:
    login(client, hospital_admin)
    client.post(reverse("administration:client_register"), {
        **FORM, "organisation": tree["cardio"].pk,
        "post_logout_redirect_uris": "https://journal.example/bye\nhttp://127.0.0.1:8002/bye"})
    row = Client.objects.get()
    assert row.post_logout_redirect_uris == "https://journal.example/bye http://127.0.0.1:8002/bye"
    assert "<code>http://127.0.0.1:8002/bye</code>" in client.get(detail(row)).content.decode()
    answer = client.post(detail(row), {
        "contact_name": "Ella Example", "contact_email": "ella@example.invalid",
        "redirect_uris": FORM["redirect_uris"],
        "post_logout_redirect_uris": "https://journal.example/goodbye"})
    assert answer.status_code == 302
    row.refresh_from_db()
    assert row.post_logout_redirect_uris == "https://journal.example/goodbye"
    event = AuditEvent.objects.get(action="oauth_client.updated")
    assert event.changes["post_logout_redirect_uris"][1] == "https://journal.example/goodbye"


@pytest.mark.parametrize("grant_type", ["implicit", "password", "openid-hybrid"])
def test_registration_refuses_the_implicit_and_password_grants(
        client: Any, hospital_admin: Any, tree: Any, grant_type: str) -> None:
    login(client, hospital_admin)
    answer = client.post(reverse("administration:client_register"),
                         {**FORM, "organisation": tree["cardio"].pk, "grant_type": grant_type})
    assert answer.status_code == 200 and "Select a valid choice" in answer.content.decode()
    assert not Client.objects.exists()


def test_a_loopback_redirect_is_allowed_for_a_native_app(
        client: Any, hospital_admin: Any, tree: Any) -> None:
    login(client, hospital_admin)
    client.post(reverse("administration:client_register"), {
        **FORM, "organisation": tree["cardio"].pk, "client_type": "public",
        "redirect_uris": "http://127.0.0.1:49152/callback\nhttp://[::1]:49152/callback"})
    assert Client.objects.get().client_secret == ""


def test_outside_the_scope_is_not_found(client: Any, hospital_admin: Any, tree: Any) -> None:
    elsewhere = register(tree["primary"]).client
    login(client, hospital_admin)
    assert client.get(detail(elsewhere)).status_code == 404
    for name in ("client_approve", "client_suspend", "client_secret_rotate"):
        url = reverse(f"administration:{name}", kwargs={"client_id": elsewhere.pk})
        assert client.post(url, {"reason": "x"}).status_code == 404
    answer = client.post(reverse("administration:client_register"),
                         {**FORM, "organisation": tree["primary"].pk})
    assert answer.status_code == 200 and Client.objects.count() == 1


def test_an_administrator_cannot_approve_but_an_operator_can(
        client: Any, hospital_admin: Any, operator: Any, tree: Any) -> None:
    pending = register(tree["cardio"], approve=False).client
    login(client, hospital_admin)
    client.post(reverse("administration:client_approve", kwargs={"client_id": pending.pk}))
    pending.refresh_from_db()
    assert pending.state == "pending"
    operator_browser = login(type(client)(), operator)
    assert "Journal e-service" in operator_browser.get(
        reverse("administration:client_list")).content.decode()
    operator_browser.post(reverse("administration:client_approve",
                                  kwargs={"client_id": pending.pk}))
    pending.refresh_from_db()
    assert pending.state == "approved"
    event = AuditEvent.objects.get(action="oauth_client.approved")
    assert event.actor_id == operator.pk and event.changes == {"state": ["pending", "approved"]}


def test_update_rotate_and_suspend(client: Any, hospital_admin: Any, tree: Any) -> None:
    registered = register(tree["cardio"])
    login(client, hospital_admin)
    answer = client.post(detail(registered.client), {
        "contact_name": "Nils New", "contact_email": "nils@example.invalid",
        "redirect_uris": "https://journal.example/a\nhttps://journal.example/b"})
    assert answer.status_code == 302
    row = Client.objects.get()
    assert row.redirect_uris == "https://journal.example/a https://journal.example/b"
    assert AuditEvent.objects.filter(action="oauth_client.updated").exists()
    rotated = client.post(reverse("administration:client_secret_rotate",
                                  kwargs={"client_id": row.pk}), follow=True).content.decode()
    secret = re.search(r"<code>([A-Za-z0-9_-]{64})</code>", rotated).group(1)  # type: ignore[union-attr]
    row.refresh_from_db()
    assert secrets.matches(secret, row.client_secret)
    assert not secrets.matches(registered.secret, row.client_secret)
    assert "The old secret no longer works." in rotated
    client.post(reverse("administration:client_suspend", kwargs={"client_id": row.pk}),
                {"reason": "Leaked secret"})
    row.refresh_from_db()
    assert row.state == "suspended"
    event = AuditEvent.objects.get(action="oauth_client.suspended")
    assert event.reason == "Leaked secret"
    for action in ("oauth_client.secret_rotated", "oauth_client.updated"):
        assert secret not in str(AuditEvent.objects.get(action=action).changes)


def test_someone_without_a_role_gets_not_found(client: Any, nurse: Any) -> None:
    login(client, nurse[0])
    assert client.get(reverse("administration:client_list")).status_code == 404
    assert client.get(reverse("administration:client_register")).status_code == 404


def test_the_client_list_reads_a_fixed_number_of_queries(
        client: Any, hospital_admin: Any, tree: Any, django_assert_max_num_queries: Any) -> None:
    for unit in ("cardio", "ortho", "hospital"):
        register(tree[unit])
    login(client, hospital_admin)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("administration:client_list")).content.decode()
    assert page.count("Journal e-service") == 3


def test_a_new_address_sends_an_approved_client_back_for_approval(
        client: Any, hospital_admin: Any, operator: Any, tree: Any) -> None:
    """The federation operator's approval covers every address the client may send users to
    (docs/decisions.md): an administrator who cannot approve it widens it only back to pending;
    narrowing and the contact keep it approved; the operator's own change keeps it too."""
    registered = register(tree["cardio"], redirect_uris=["https://journal.example/a"],
                          post_logout_redirect_uris=["https://journal.example/bye"])
    row = registered.client
    login(client, hospital_admin)
    note = "sends the client back for approval"
    assert note in client.get(detail(row)).content.decode()  # said before saving
    base = {"contact_name": "Nils New", "contact_email": "nils@example.invalid",
            "redirect_uris": "https://journal.example/a",
            "post_logout_redirect_uris": "https://journal.example/bye"}
    client.post(detail(row), base)  # the contact only
    row.refresh_from_db()
    assert row.state == "approved"

    for field, wider in [("post_logout_redirect_uris", "https://journal.example/bye\n"
                          "https://evil.example/bye"),
                         ("redirect_uris", "https://journal.example/a\nhttps://evil.example/a")]:
        answer = client.post(detail(row), {**base, field: wider}, follow=True)
        assert "needs a federation operator&#x27;s approval" in answer.content.decode()  # after
        row.refresh_from_db()
        assert row.state == "pending"
        event = AuditEvent.objects.filter(action="oauth_client.updated").latest("occurred_at")
        assert event.actor_id == hospital_admin.pk
        assert event.changes["state"] == ["approved", "pending"]
        # It stops working: an authorization request is refused on the page.
        refused = client.get("/oauth2/authorize/?" + urlencode({
            "response_type": "code", "client_id": row.client_id,
            "redirect_uri": "https://journal.example/a", "scope": "openid", "state": "st",
            "code_challenge": s256("v" * 64), "code_challenge_method": "S256"}))
        assert refused.status_code == 400
        operator_browser = login(type(client)(), operator)
        operator_browser.post(reverse("administration:client_approve",
                                      kwargs={"client_id": row.pk}))
        row.refresh_from_db()
        assert row.state == "approved"
        client.post(detail(row), base)  # narrowing back keeps it approved
        row.refresh_from_db()
        assert row.state == "approved"

    # An operator who also administers it may widen it: their approval is the one needed.
    commissions.role_grant(actor=SYSTEM, person=operator.person, role=Role.LOCAL_ADMIN,
                           organisation=tree["hospital"], valid_from=timezone.now(),
                           valid_until=None)
    operator_browser = login(type(client)(), operator)
    assert note not in operator_browser.get(detail(row)).content.decode()
    operator_browser.post(detail(row), {**base, "redirect_uris": "https://journal.example/a\n"
                                                                 "https://journal.example/c"})
    row.refresh_from_db()
    assert row.state == "approved" and "https://journal.example/c" in row.redirect_uris


@pytest.mark.parametrize("name", ["system:portal", "System:worker"])
def test_a_client_cannot_be_named_like_the_portal_itself(
        client: Any, hospital_admin: Any, tree: Any, name: str) -> None:
    """Audit pages show `system:portal` as "The portal": a client may not take such a name."""
    login(client, hospital_admin)
    answer = client.post(reverse("administration:client_register"),
                         {**FORM, "organisation": tree["cardio"].pk, "name": name})
    assert answer.status_code == 200
    assert "cannot start with “system:”" in answer.content.decode()
    assert not Client.objects.exists()
