"""The inbound SCIM 2.0 server (`/scim/v2/`, docs/scim-inbound.md): an HR system of Demo Hospital,
with a real client credentials token of the portal's identity provider, feeds and reads its staff
and roles; everything outside its organisation is 404; each write is audited with the system as
actor."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings
from django.test import Client as DjangoClient

from apps.audit.models import AuditEvent
from apps.commissions.models import Employee, RoleAssignment
from apps.identities.models import User
from tests.api.scim_support import (
    HSA,
    SCIM,
    Scim,
    client_token,
    hr_system,
    new_user,
)
from tests.conftest import login_session, make_staff
from tests.federation.oidc_support import REDIRECT_URI, register, s256, use_provider

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def provider(settings: Any) -> None:
    use_provider(settings, "http://testserver")


@pytest.fixture
def system(tree: Any) -> Any:
    return hr_system(tree["hospital"])


@pytest.fixture
def scim(system: Any) -> Scim:
    return Scim(client_token(system))


def created(scim: Scim, user_name: str, **extra: Any) -> dict[str, Any]:
    answer = scim.post("Users", new_user(user_name, **extra))
    assert answer.status_code == 201, answer.content
    return dict(answer.json())


def test_without_a_token_it_is_401_with_a_bearer_challenge(tree: Any) -> None:
    answer = Scim(None).get("Users")
    assert answer.status_code == 401
    assert answer["Content-Type"].startswith(SCIM)
    assert answer["WWW-Authenticate"].startswith("Bearer")
    assert answer.json()["status"] == "401"


def test_a_bad_token_is_401(tree: Any) -> None:
    assert Scim("not-a-token").get("Users").status_code == 401


def test_a_token_without_the_scim_scope_is_403(tree: Any) -> None:
    other = hr_system(tree["hospital"], scopes=("access.evaluate",))
    answer = Scim(client_token(other, scope="access.evaluate")).get("Users")
    assert answer.status_code == 403
    assert "insufficient_scope" in answer.json()["detail"]
    assert 'error="insufficient_scope"' in answer["WWW-Authenticate"]


def test_a_token_of_a_persons_login_is_403_even_with_the_scope(tree: Any, nurse: Any) -> None:
    """A token from the authorization code flow speaks for a person, not for a system."""
    verifier = "e" * 64
    app = register(tree["hospital"], scopes=("openid", "scim"))
    browser = login_session(DjangoClient(), nurse[0])
    answer = browser.get("/oauth2/authorize/?" + urlencode({
        "response_type": "code", "client_id": app.client_id, "redirect_uri": REDIRECT_URI,
        "scope": "openid scim", "state": "st", "code_challenge": s256(verifier),
        "code_challenge_method": "S256"}))
    code = parse_qs(urlsplit(answer["Location"]).query)["code"][0]
    pair = f"{app.client_id}:{app.secret}".encode()
    tokens = DjangoClient().post("/oauth2/token/", {
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier}, HTTP_AUTHORIZATION="Basic " + base64.b64encode(pair).decode())
    assert "scim" in tokens.json()["scope"].split()
    answer = Scim(tokens.json()["access_token"]).get("Users")
    assert answer.status_code == 403
    assert "client credentials" in answer.json()["detail"]


def test_the_service_provider_config_is_public_and_says_what_is_supported(tree: Any) -> None:
    answer = Scim(None).get("ServiceProviderConfig")
    assert answer.status_code == 200
    config = answer.json()
    assert config["patch"]["supported"] and config["filter"]["supported"]
    assert config["sort"]["supported"] and config["etag"]["supported"]
    assert not config["bulk"]["supported"]
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"


def test_schemas_publish_the_hsa_extension_and_resource_types_name_it(scim: Scim) -> None:
    ids = {schema["id"] for schema in scim.get("Schemas").json()["Resources"]}
    assert HSA in ids
    assert scim.get(f"Schemas/{HSA}").status_code == 200
    [user_type] = [t for t in scim.get("ResourceTypes").json()["Resources"] if t["id"] == "User"]
    assert {e["schema"] for e in user_type["schemaExtensions"]} >= {HSA}


def test_the_user_schema_publishes_what_the_portal_stores(scim: Scim) -> None:
    schema = scim.get("Schemas/urn:ietf:params:scim:schemas:core:2.0:User").json()
    attributes = {a["name"]: a for a in schema["attributes"]}
    assert set(attributes) == {"userName", "name", "displayName", "title", "emails", "active"}
    assert attributes["userName"]["mutability"] == "immutable"
    assert attributes["name"]["required"] is True
    assert attributes["displayName"]["mutability"] == "readOnly"
    hsa = scim.get(f"Schemas/{HSA}").json()
    assert {a["mutability"] for a in hsa["attributes"]} == {"readOnly"}


def test_a_posted_user_is_a_staff_member_of_the_hospital_audited_as_the_system(
        scim: Scim, system: Any, tree: Any) -> None:
    body = created(scim, "hanna.hr")
    assert body["userName"] == "hanna.hr"
    assert body["name"]["givenName"] == "Hanna" and body["active"] is True
    [employment] = body[HSA]["employments"]
    employee = Employee.objects.get(hsa_id=employment["hsaId"])
    assert employee.organisation == tree["hospital"]
    assert User.objects.get(username="hanna.hr").person_id == employee.person_id
    events = AuditEvent.objects.filter(subject_person_id=employee.person_id)
    assert events.exists()
    assert {(e.actor_label, e.actor_identifier, e.actor_kind) for e in events} == {
        ("Journal e-service", system.client_id, "client")}
    assert scim.get(f"Users/{body['id']}").json()["userName"] == "hanna.hr"


def test_a_taken_username_is_409_uniqueness(scim: Scim) -> None:
    created(scim, "hanna.hr")
    answer = scim.post("Users", new_user("Hanna.HR", given="Other"))
    assert answer.status_code == 409
    assert answer.json()["scimType"] == "uniqueness"


def test_people_of_another_organisation_are_404_and_never_listed(scim: Scim, tree: Any) -> None:
    outsider, _ = make_staff(tree["other_unit"], "Otto", "Other")
    primary, _ = make_staff(tree["primary"], "Pia", "Primar")
    insider, _ = make_staff(tree["cardio"], "Carl", "Cardio")
    for person in (outsider.person, primary.person):
        assert scim.get(f"Users/{person.pk}").status_code == 404
        assert scim.patch(f"Users/{person.pk}", [
            {"op": "replace", "path": "active", "value": False}]).status_code == 404
        assert scim.delete(f"Users/{person.pk}").status_code == 404
    listed = scim.get("Users").json()
    assert [r["userName"] for r in listed["Resources"]] == ["carl.cardio"]
    assert scim.get("Users/not-a-uuid").status_code == 404
    assert User.objects.get(pk=outsider.pk).is_active


def test_filter_sort_and_pagination(scim: Scim) -> None:
    for name in ("cecilia.c", "anna.a", "bertil.b"):
        created(scim, name, given=name.split(".")[0].title(), family="Staff")
    page = scim.get("Users?sortBy=userName&startIndex=2&count=1").json()
    assert page["totalResults"] == 3 and page["startIndex"] == 2 and page["itemsPerPage"] == 1
    assert [r["userName"] for r in page["Resources"]] == ["bertil.b"]
    down = scim.get("Users?sortBy=userName&sortOrder=descending").json()
    assert [r["userName"] for r in down["Resources"]] == ["cecilia.c", "bertil.b", "anna.a"]
    found = scim.get('Users?filter=userName eq "anna.a"').json()
    assert [r["userName"] for r in found["Resources"]] == ["anna.a"]
    starts = scim.get('Users?filter=name.givenName sw "Be" or userName co "cilia"').json()
    assert sorted(r["userName"] for r in starts["Resources"]) == ["bertil.b", "cecilia.c"]
    bad = scim.get('Users?filter=userName eq')
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidFilter"


def test_patch_name_and_active_with_etags(scim: Scim, system: Any) -> None:
    body = created(scim, "hanna.hr")
    version = body["meta"]["version"]
    answer = scim.patch(f"Users/{body['id']}", [
        {"op": "replace", "path": "name.familyName", "value": "Hansson"},
        {"op": "replace", "path": "active", "value": False}], If_Match=version)
    assert answer.status_code in (200, 204), answer.content
    now = scim.get(f"Users/{body['id']}").json()
    assert now["name"]["familyName"] == "Hansson" and now["active"] is False
    assert now["meta"]["version"] != version
    assert not User.objects.get(username="hanna.hr").is_active
    stale = scim.patch(f"Users/{body['id']}", [
        {"op": "replace", "path": "active", "value": True}], If_Match=version)
    assert stale.status_code == 412
    actions = list(AuditEvent.objects.filter(actor_identifier=system.client_id,
                                             action__in=["person.renamed",
                                                         "account.deactivated"])
                   .values_list("action", flat=True))
    assert sorted(actions) == ["account.deactivated", "person.renamed"]


def test_an_invalid_path_is_400_invalid_path(scim: Scim) -> None:
    body = created(scim, "hanna.hr")
    bad = scim.patch(f"Users/{body['id']}", [
        {"op": "replace", "path": "nosuchattribute", "value": "x"}])
    assert bad.status_code == 400
    assert bad.json()["scimType"] in ("invalidPath", "noTarget")


def test_the_username_does_not_change(scim: Scim) -> None:
    body = created(scim, "hanna.hr")
    answer = scim.patch(f"Users/{body['id']}", [
        {"op": "replace", "path": "userName", "value": "other.name"}])
    assert answer.status_code == 400 and answer.json()["scimType"] == "mutability"


def test_delete_makes_a_leaver(scim: Scim, system: Any) -> None:
    """DELETE ends what the person holds under the client's organisation and deactivates their
    account; the person stays readable, inactive (docs/scim-inbound.md, "Deletion")."""
    body = created(scim, "hanna.hr")
    assert scim.delete(f"Users/{body['id']}").status_code == 204
    assert not User.objects.get(username="hanna.hr").is_active
    assert AuditEvent.objects.filter(action="person.left",
                                     actor_identifier=system.client_id).count() == 1
    assert scim.get(f"Users/{body['id']}").json()["active"] is False
    # A leaver already: nothing more to end, nothing more audited.
    assert scim.delete(f"Users/{body['id']}").status_code == 204
    assert AuditEvent.objects.filter(actor_identifier=system.client_id,
                                     action="account.deactivated").count() == 1


def test_group_membership_grants_and_ends_a_role(scim: Scim, system: Any, tree: Any) -> None:
    body = created(scim, "hanna.hr")
    groups = scim.get("Groups").json()
    assert {g["id"] for g in groups["Resources"]} >= {"local_admin", "issuer"}
    answer = scim.patch("Groups/issuer", [
        {"op": "add", "path": "members", "value": [{"value": body["id"]}]}])
    assert answer.status_code in (200, 204), answer.content
    assignment = RoleAssignment.objects.get(person_id=body["id"], role="issuer")
    assert assignment.organisation == tree["hospital"]
    members = scim.get("Groups/issuer").json()["members"]
    assert [m["value"] for m in members] == [body["id"]]
    answer = scim.patch("Groups/issuer", [
        {"op": "remove", "path": f'members[value eq "{body["id"]}"]'}])
    assert answer.status_code in (200, 204), answer.content
    assignment.refresh_from_db()
    assert assignment.ended_at is not None
    assert set(AuditEvent.objects.filter(target_id=str(assignment.pk))
               .values_list("action", "actor_identifier")) == {
        ("role.granted", system.client_id), ("role.ended", system.client_id)}
    assert scim.get("Groups/no_such_role").status_code == 404


def test_a_member_outside_the_organisation_is_refused_without_saying_who(scim: Scim,
                                                                        tree: Any) -> None:
    outsider, _ = make_staff(tree["other_unit"], "Otto", "Other")
    for member in (str(outsider.person.pk), "not-a-uuid"):
        answer = scim.patch("Groups/local_admin", [
            {"op": "add", "path": "members", "value": [{"value": member}]}])
        assert answer.status_code == 400
        assert answer.json()["detail"] == "Unknown member"
    assert not RoleAssignment.objects.filter(person=outsider.person).exists()


def test_malformed_requests_are_scim_errors_never_500(scim: Scim) -> None:
    body = created(scim, "hanna.hr")
    answers = [
        scim.http.post("/scim/v2/Users", "{not json", content_type=SCIM,
                       headers={"Authorization": f"Bearer {scim.token}"}),
        scim.http.post("/scim/v2/Users", "a=b", content_type="text/plain",
                       headers={"Authorization": f"Bearer {scim.token}"}),
        scim.patch(f"Users/{body['id']}", [{"op": "explode", "path": "active"}]),
        scim.post("Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                            "userName": "bad name!", "name": {"givenName": "A",
                                                              "familyName": "B"}}),
        scim.get("Nowhere"),
        scim.post("Bulk", {}),
        scim.post("Users", {"userName": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}),
    ]
    statuses = [a.status_code for a in answers]
    assert all(400 <= s < 500 or s == 501 for s in statuses), statuses
    assert statuses[:2] == [400, 415] and statuses[-1] == 413
    assert all(a["Content-Type"].startswith(SCIM) for a in answers)
    assert all(a.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
               for a in answers)


def test_a_name_or_title_with_a_control_character_is_400_invalid_value(scim: Scim,
                                                                     tree: Any) -> None:
    """PostgreSQL refuses NUL in text: the shared text clean-up refuses it (and every other
    control character) first, so the HR system reads a SCIM error, not a 500."""
    carl, _ = make_staff(tree["cardio"], "Carl", "Cardio")
    answers = [
        scim.patch(f"Users/{carl.person_id}", [
            {"op": "replace", "path": "name.givenName", "value": "Ca\x00rl"}]),
        scim.post("Users", new_user("nul.given", given="Ha\x00nna")),
        scim.post("Users", new_user("nul.title", title="Sjuk\x00sköterska")),
        scim.post("Users", new_user("bell.given", given="Ha\x07nna")),
    ]
    assert [(a.status_code, a.json()["scimType"]) for a in answers] == [
        (400, "invalidValue")] * 4, [a.content for a in answers]
    carl.person.refresh_from_db()
    assert carl.person.given_name == "Carl"
    assert not User.objects.filter(username__in=["nul.given", "nul.title", "bell.given"]).exists()


def test_a_member_id_in_capitals_is_the_same_person(scim: Scim, tree: Any) -> None:
    """`GET /Users/<ID IN CAPITALS>` finds the person, so a Group's member in capitals is that
    person too: repeating the current members in capitals changes nothing."""
    carl, _ = make_staff(tree["cardio"], "Carl", "Cardio")
    pid = str(carl.person_id)
    assert scim.patch("Groups/issuer", [{"op": "add", "path": "members",
                                         "value": [{"value": pid}]}]).status_code in (200, 204)
    before = list(RoleAssignment.objects.filter(person_id=pid).values_list("pk", "ended_at"))
    answer = scim.put("Groups/issuer", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "issuer",
        "displayName": "e-ID issuer", "members": [{"value": pid.upper()}]})
    assert answer.status_code == 200, answer.content
    assert [m["value"] for m in answer.json()["members"]] == [pid]
    assert list(RoleAssignment.objects.filter(person_id=pid).values_list(
        "pk", "ended_at")) == before


@pytest.mark.parametrize("role", ["federation_operator", "local_admin"])
def test_an_hr_system_cannot_make_an_administrator(scim: Scim, tree: Any, role: str) -> None:
    """docs/decisions.md, "What an HR system may grant": only `issuer`."""
    carl, _ = make_staff(tree["cardio"], "Carl", "Cardio")
    answer = scim.patch(f"Groups/{role}", [{"op": "add", "path": "members",
                                            "value": [{"value": str(carl.person_id)}]}])
    assert answer.status_code == 403, answer.content
    assert "role.not_grantable" in answer.json()["detail"]
    assert not RoleAssignment.objects.filter(person=carl.person, role=role).exists()


@pytest.mark.parametrize("value", ["yes", "true", 1, "on"])
def test_active_must_be_a_json_boolean(scim: Scim, value: Any) -> None:
    """RFC 7643 §2.3.2: `"yes"` is not read as true; the account stays as it was."""
    body = created(scim, "hanna.hr", active=False)
    answer = scim.patch(f"Users/{body['id']}", [
        {"op": "replace", "path": "active", "value": value}])
    assert answer.status_code == 400, answer.content
    assert answer.json()["scimType"] == "invalidValue"
    assert not User.objects.get(username="hanna.hr").is_active


def test_a_client_named_like_a_system_actor_is_shown_by_its_name(scim: Scim,
                                                                 system: Any) -> None:
    """An audit row's label reads as "The portal" only on a row the portal wrote; and a client
    cannot be registered under such a name in the first place."""
    from django.template.loader import render_to_string
    from django.utils import translation

    from apps.core.actors import SYSTEM
    from apps.core.errors import ValidationFailed
    from apps.federation import services_oidc

    created(scim, "hanna.hr")
    event = AuditEvent.objects.filter(actor_kind="client").latest("pk")
    event.actor_label = "system:portal"  # a client registered before the name was refused
    with translation.override("en"):
        shown = render_to_string("_actor.html", {"event": event})
        patient_view = render_to_string("selfservice/patient/_log_actor.html", {"event": event})
        portal_row = AuditEvent(actor_label="system:portal", actor_kind="system")
        assert "The portal" in render_to_string("_actor.html", {"event": portal_row})
    assert "The portal" not in shown and "system:portal" in shown
    assert "The portal" not in patient_view
    for name in ("system:portal", " SYSTEM:worker", "ｓｙｓｔｅｍ:portal"):
        with pytest.raises(ValidationFailed) as refused:
            services_oidc.client_register(
                actor=SYSTEM, organisation=system.client.organisation, name=name,
                contact_name="Ella Example", contact_email="ella@example.invalid",
                client_type="confidential", grant_type="client-credentials", redirect_uris=[],
                post_logout_redirect_uris=[], allowed_scopes=["scim"], allowed_claims=[],
                algorithm="ES256", first_party=True)
        assert refused.value.field == "name"
    from apps.core.actors import ClientSystem
    legacy = ClientSystem(client_id=system.client_id, name="system:portal", organisation_id=None)
    assert legacy.audit_label == system.client_id  # one registered before: named by its id


@pytest.mark.parametrize("kind", ["filter", "patch", "body"])
def test_a_request_too_costly_to_serve_is_refused_before_any_work(scim: Scim, tree: Any,
                                                                 kind: str) -> None:
    """A flat filter of thousands of terms or a PATCH of thousands of operations holds a
    worker for seconds: 400 `tooMany` (RFC 7644 §3.12), and a body over 256 kB is 413;
    nothing is changed."""
    carl, _ = make_staff(tree["cardio"], "Carl", "Cardio")
    if kind == "filter":
        answer = scim.post("Users/.search", {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": " or ".join(['userName co "zz"'] * 2000)})
    elif kind == "patch":
        answer = scim.patch(f"Users/{carl.person_id}", [
            {"op": "replace", "path": "name.givenName", "value": "X"}] * 2000)
    else:
        answer = scim.post("Users", new_user("big.body", title="x" * (300 * 1024)))
    expected = (413, None) if kind == "body" else (400, "tooMany")
    assert (answer.status_code, answer.json().get("scimType")) == expected, answer.content
    carl.person.refresh_from_db()
    assert carl.person.given_name == "Carl"
    small = scim.get('Users?filter=' + " or ".join(['userName eq "or eq"'] * 200))
    assert small.status_code == 200, small.content
