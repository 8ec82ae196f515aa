"""The rules service's OpenID AuthZEN API (`/access/v1/evaluation`, `/access/v1/evaluations`):
a system with a real client credentials token from the portal's token endpoint asks, for its
staff member, whether an action on a patient's information is allowed (docs/authzen.md)."""

from __future__ import annotations

import base64
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client as DjangoClient
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.blocks import services as blocks
from apps.commissions import services as commissions
from apps.commissions.models import Commission
from apps.core.actors import SYSTEM
from apps.identities.identifiers import make_person_number
from tests.conftest import login_session, patient_login
from tests.federation.oidc_support import REDIRECT_URI, Registered, register, s256, use_provider

pytestmark = pytest.mark.django_db
EVALUATE = "access.evaluate"
TOLVAN = "19121212-1212"


@pytest.fixture(autouse=True)
def provider(settings: Any) -> None:
    use_provider(settings, "http://testserver")


def client_token(registered: Registered, scope: str | None = EVALUATE) -> str:
    """A client credentials access token from the portal's token endpoint (RFC 6749 4.4)."""
    pair = f"{registered.client_id}:{registered.secret}".encode()
    body = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    answer = DjangoClient().post("/oauth2/token/", body,
                                 HTTP_AUTHORIZATION="Basic " + base64.b64encode(pair).decode())
    assert answer.status_code == 200, answer.content
    return str(answer.json()["access_token"])


@pytest.fixture
def system(tree: Any) -> Registered:
    """A record system of the region, registered for the rules service."""
    return register(tree["region"], grant_type="client-credentials", scopes=(EVALUATE,),
                    claims=())


@pytest.fixture
def token(system: Registered) -> str:
    return client_token(system)


@pytest.fixture
def nina(nurse: Any, patient: Any) -> dict[str, str]:
    """Nina's employee and commission HSA-ids (a Cardiology commission: read and write at her
    own unit); Tolvan exists as a patient."""
    commission = Commission.objects.get(employee=nurse[1])
    return {"employee": nurse[1].hsa_id, "commission": commission.hsa_id}


def question(nina: dict[str, str], *, patient: str = TOLVAN, unit: str = "SE2321000016-0101",
             action: str = "read", care_relationship: Any = True, **context: Any
             ) -> dict[str, Any]:
    return {
        "subject": {"type": "user", "id": nina["employee"],
                    "properties": {"commission": nina["commission"]}},
        "resource": {"type": "patient_record", "id": patient,
                     "properties": {"care_provider": "SE2321000016-0001", "care_unit": unit,
                                    "information_type": "lak"}},
        "action": {"name": action},
        "context": {"care_relationship": care_relationship, **context},
    }


def ask(token: str | None, body: Any, path: str = "evaluation", **headers: Any) -> Any:
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return DjangoClient().post(f"/access/v1/{path}", body, content_type="application/json",
                               **auth, **headers)


def decisions() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="access.decided").order_by("occurred_at"))


def test_a_read_at_the_staff_members_own_unit_is_allowed_and_logged_for_the_patient(
        token: str, nina: dict[str, str], patient: Any, system: Registered) -> None:
    answer = ask(token, question(nina))
    assert answer.status_code == 200
    body = answer.json()
    assert body["decision"] is True
    context = body["context"]
    assert context["rule"] == "allow.care_provider"
    assert context["source"] == "PDL 2008:355 4 kap. 1 §"
    assert context["reason_user"] == {"en": "Allowed: the care provider's own information, for "
                                            "the care of the patient."}
    assert context["obligations"] == []
    [event] = decisions()
    assert str(event.id) == context["id"]
    assert event.subject_person_id == patient.person_id  # in Tolvan's log extract
    assert event.outcome == AuditEvent.Outcome.SUCCESS
    assert event.changes["system"] == system.client_id
    assert event.changes["system_label"] == "Journal e-service"
    # Tolvan sees the read in "Who read my records" (PDL 2008:355 8 kap. 3 §).
    page = patient_login(DjangoClient(), patient).get("/patient/log/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Read: medication" in text and "Nina Nurse" in text


def test_without_a_care_relationship_it_is_denied_in_swedish_when_asked_so(
        token: str, nina: dict[str, str]) -> None:
    answer = ask(token, question(nina, care_relationship=False), HTTP_ACCEPT_LANGUAGE="sv")
    assert answer.status_code == 200
    body = answer.json()
    assert body["decision"] is False
    assert body["context"]["rule"] == "care_relationship.missing"
    assert body["context"]["reason_admin"] == {
        "en": "The staff member has no care relationship with the patient."}
    assert body["context"]["reason_user"] == {
        "sv": "Medarbetaren har ingen vårdrelation med patienten."}
    [event] = decisions()
    assert event.outcome == AuditEvent.Outcome.FAILURE


def test_an_inner_block_denies_until_a_temporary_revoke_lifts_it(
        token: str, nina: dict[str, str], tree: Any, nurse: Any, patient: Any) -> None:
    """Nina, under a commission at primary care with a right for the whole care provider (VG),
    reads Orthopaedics' information; the patient blocks it (inner block), then lifts the block
    for primary care for a day (temporary revoke)."""
    at_primary = commissions.commission_grant(
        actor=SYSTEM, employee=nurse[1], care_unit=tree["primary"], purpose="Vård och behandling",
        rights=["Läsa;alla;VG"], valid_from=timezone.now() - timedelta(days=1), valid_until=None)
    who = {**nina, "commission": at_primary.hsa_id}
    assert ask(token, question(who, unit="SE2321000016-0102")).json()["decision"] is True
    block = blocks.block_register(actor=SYSTEM, commission=None, patient=patient.person,
                                  block_type="inner", care_provider=tree["region"],
                                  care_unit=tree["ortho"])
    body = ask(token, question(who, unit="SE2321000016-0102")).json()
    assert body["decision"] is False and body["context"]["rule"] == "block.inner"
    blocks.temporary_revoke_register(actor=SYSTEM, commission=None, block=block,
                                     care_unit=tree["primary"], reason="patients_consent",
                                     valid_until=timezone.now() + timedelta(days=1))
    assert ask(token, question(who, unit="SE2321000016-0102")).json()["decision"] is True


@pytest.mark.parametrize("change, rule", [
    ({"patient": make_person_number(date(1990, 1, 1), 123)}, "patient.unknown"),
    ({"patient": "not a number"}, "input.unknown"),
    ({"unit": "SE2321000016-9999"}, "owner.unknown"),
    ({"unit": "not an HSA-id"}, "owner.unknown"),
    ({"action": "sign"}, "right.missing"),
])
def test_a_well_formed_question_naming_unknown_things_is_a_logged_deny(
        token: str, nina: dict[str, str], change: dict[str, str], rule: str) -> None:
    answer = ask(token, question(nina, **change))
    assert answer.status_code == 200
    assert answer.json()["decision"] is False
    assert answer.json()["context"]["rule"] == rule
    assert len(decisions()) == 1


def test_an_unknown_commission_or_employee_is_a_deny(token: str, nina: dict[str, str]) -> None:
    for who in ({**nina, "commission": "SE2321000016-UNKNOWN1"},
                {**nina, "employee": "SE2321000016-ENOBODY"}, {**nina, "employee": "x"}):
        body = ask(token, question(who)).json()
        assert body["decision"] is False and body["context"]["rule"] == "commission.unknown"
    assert len(decisions()) == 3


def test_the_patient_may_be_named_in_any_accepted_form(token: str, nina: dict[str, str]) -> None:
    for form in ("191212121212", "121212+1212", " 19121212-1212 "):  # + from 100
        assert ask(token, question(nina, patient=form)).json()["decision"] is True


def test_another_providers_information_needs_consent_or_emergency_access_with_a_reason(
        token: str, nina: dict[str, str], tree: Any, nurse: Any) -> None:
    """Nina, under a commission at primary care with a right for coherent record keeping (SJF),
    reads the other care provider's information about Tolvan, who gave no consent."""
    sjf = commissions.commission_grant(
        actor=SYSTEM, employee=nurse[1], care_unit=tree["primary"], purpose="Vård och behandling",
        rights=["Läsa;alla;SJF"], valid_from=timezone.now() - timedelta(days=1), valid_until=None)
    who = {**nina, "commission": sjf.hsa_id}

    def read(**context: Any) -> Any:
        body = question(who, **context)
        body["resource"]["properties"] = {"care_provider": "SE5560360793-0001",
                                          "information_type": "alla"}
        return ask(token, body).json()

    assert read()["context"]["rule"] == "consent.missing"
    assert read(emergency={"reason": " "})["context"]["rule"] == "emergency.reason_missing"
    answer = read(emergency={"reason": "Unconscious on arrival."})
    assert answer["decision"] is True
    assert answer["context"]["rule"] == "allow.emergency"
    assert answer["context"]["obligations"] == [
        {"id": "log_activity", "value": "Nödöppning"}, {"id": "emergency_follow_up", "value": ""}]
    assert decisions()[-1].reason == "Unconscious on arrival."


@pytest.mark.parametrize("body, members", [
    ({}, {"subject", "resource", "action"}),
    ([], {"non_field_errors"}),
    ('"x"', {"non_field_errors"}),  # a JSON string
])
def test_a_malformed_request_is_400_problem_json_naming_the_members(
        token: str, body: Any, members: set[str]) -> None:
    answer = ask(token, body)
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/problem+json"
    assert answer.json()["code"] == "invalid"
    assert set(answer.json()["errors"]) == members
    assert decisions() == []


@pytest.mark.parametrize("path, value, member", [
    (("action", "name"), "delete", "action"),
    (("context", "care_relationship"), "true", "context"),
    (("resource", "type"), "book", "resource"),
    (("subject", "type"), "service", "subject"),
    (("resource", "properties", "information_type"), "everything", "resource"),
    (("resource", "properties", "information_from"), "yesterday", "resource"),
    (("resource", "properties", "information_until"), "2026-01-31T08:00:00", "resource"),
    (("resource", "properties", "care_unti"), "SE2321000016-0101", "resource"),
    (("context", "purpose"), "Marknadsföring", "context"),
    (("subject", "id"), 42, "subject"),
])
def test_a_member_of_the_wrong_type_or_vocabulary_is_refused(
        token: str, nina: dict[str, str], path: tuple[str, ...], value: Any,
        member: str) -> None:
    body = question(nina)
    target = body
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value
    answer = ask(token, body)
    assert answer.status_code == 400, answer.content
    assert answer["Content-Type"] == "application/problem+json"
    assert list(answer.json()["errors"]) == [member]
    assert decisions() == []


def test_the_information_period_accepts_dates_and_date_times(token: str,
                                                             nina: dict[str, str]) -> None:
    body = question(nina)
    body["resource"]["properties"] |= {"information_from": "2025-01-01",
                                       "information_until": "2026-01-31T08:00:00+01:00"}
    assert ask(token, body).json()["decision"] is True
    body["resource"]["properties"] |= {"information_from": "2026-02-01"}
    assert ask(token, body).json()["context"]["rule"] == "input.unknown"  # ends before it starts


def test_without_a_token_401_with_a_bearer_challenge(nina: dict[str, str]) -> None:
    answer = ask(None, question(nina))
    assert answer.status_code == 401
    assert answer["Content-Type"] == "application/problem+json"
    assert answer["WWW-Authenticate"].startswith("Bearer")
    assert ask("not-a-token", question(nina)).status_code == 401
    assert decisions() == []


def test_a_token_without_the_scope_is_403_insufficient_scope(tree: Any,
                                                             nina: dict[str, str]) -> None:
    other = register(tree["region"], grant_type="client-credentials", scopes=(), claims=())
    answer = ask(client_token(other, scope=None), question(nina))
    assert answer.status_code == 403
    assert answer["Content-Type"] == "application/problem+json"
    assert answer.json()["code"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in answer["WWW-Authenticate"]
    assert decisions() == []


def test_a_users_token_may_not_ask(tree: Any, nurse: Any, nina: dict[str, str]) -> None:
    """A token of a user's login, even with the scope, is not a system's: 403."""
    verifier = "e" * 64
    app = register(tree["region"], scopes=("openid", EVALUATE))
    browser = login_session(DjangoClient(), nurse[0])
    answer = browser.get("/oauth2/authorize/?" + urlencode({
        "response_type": "code", "client_id": app.client_id, "redirect_uri": REDIRECT_URI,
        "scope": f"openid {EVALUATE}", "state": "st", "code_challenge": s256(verifier),
        "code_challenge_method": "S256"}))
    code = parse_qs(urlsplit(answer["Location"]).query)["code"][0]
    pair = f"{app.client_id}:{app.secret}".encode()
    tokens = DjangoClient().post("/oauth2/token/", {
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier}, HTTP_AUTHORIZATION="Basic " + base64.b64encode(pair).decode())
    answer = ask(tokens.json()["access_token"], question(nina))
    assert answer.status_code == 403
    assert answer.json()["code"] == "client_credentials_required"
    assert decisions() == []


def test_other_methods_paths_and_media_types_are_problems(token: str,
                                                          nina: dict[str, str]) -> None:
    answer = DjangoClient().get("/access/v1/evaluation")
    assert answer.status_code == 405 and answer["Content-Type"] == "application/problem+json"
    answer = DjangoClient().post("/access/v1/evaluation", "a=b",
                                 content_type="application/x-www-form-urlencoded",
                                 HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 415 and answer["Content-Type"] == "application/problem+json"
    answer = DjangoClient().get("/access/v1/search/subject")
    assert answer.status_code == 404 and answer["Content-Type"] == "application/problem+json"
    answer = DjangoClient().post("/access/v1/evaluation", "x" * (65 * 1024),
                                 content_type="application/json",
                                 HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 413 and answer["Content-Type"] == "application/problem+json"


# --- batches -----------------------------------------------------------------------------------


def batch(nina: dict[str, str], outcomes: list[bool], semantic: str | None = None
          ) -> dict[str, Any]:
    """Defaults at the top; one evaluation per outcome (allowed: with a care relationship)."""
    base = question(nina)
    body: dict[str, Any] = {"subject": base["subject"], "resource": base["resource"],
                            "action": base["action"],
                            "evaluations": [{"context": {"care_relationship": allowed}}
                                            for allowed in outcomes]}
    if semantic:
        body["options"] = {"evaluations_semantic": semantic}
    return body


@pytest.mark.parametrize("semantic, outcomes, answered", [
    (None, [True, False, True], [True, False, True]),
    ("execute_all", [False, False], [False, False]),
    ("deny_on_first_deny", [True, False, True], [True, False]),
    ("permit_on_first_permit", [False, True, False], [False, True]),
    ("deny_on_first_deny", [True, True], [True, True]),
])
def test_a_batch_decides_each_evaluation_in_order_as_its_semantic_says(
        token: str, nina: dict[str, str], semantic: str | None, outcomes: list[bool],
        answered: list[bool]) -> None:
    answer = ask(token, batch(nina, outcomes, semantic), "evaluations")
    assert answer.status_code == 200
    got = answer.json()["evaluations"]
    assert [e["decision"] for e in got] == answered
    events = decisions()
    assert len(events) == len(answered)  # one audit row per decision, none for those not run
    assert {str(e.id) for e in events} == {e["context"]["id"] for e in got}


def test_an_evaluations_member_replaces_the_default(token: str, nina: dict[str, str]) -> None:
    body = batch(nina, [True])
    body["evaluations"].append({"action": {"name": "sign"}})  # defaults' context: none
    body["context"] = {"care_relationship": True}
    got = ask(token, body, "evaluations").json()["evaluations"]
    assert [e["context"]["rule"] for e in got] == ["allow.care_provider", "right.missing"]


def test_a_batch_without_evaluations_is_one_evaluation(token: str, nina: dict[str, str]) -> None:
    extras: list[dict[str, Any]] = [{}, {"evaluations": []}]
    for extra in extras:
        body = ask(token, {**question(nina), **extra}, "evaluations").json()
        assert body["decision"] is True and body["context"]["rule"] == "allow.care_provider"


def test_a_malformed_or_incomplete_evaluation_refuses_the_whole_batch(
        token: str, nina: dict[str, str]) -> None:
    body = batch(nina, [True, True])
    del body["action"]
    body["evaluations"][0]["action"] = {"name": "read"}
    answer = ask(token, body, "evaluations")
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"evaluations": {"1": {"action": [
        "This field is required."]}}}
    body = batch(nina, [True, True])
    body["evaluations"][1]["action"] = {"name": "delete"}
    answer = ask(token, body, "evaluations")
    assert answer.status_code == 400 and "evaluations" in answer.json()["errors"]
    assert decisions() == []


def test_at_most_50_evaluations(token: str, nina: dict[str, str]) -> None:
    answer = ask(token, batch(nina, [True] * 51), "evaluations")
    assert answer.status_code == 400
    assert list(answer.json()["errors"]) == ["evaluations"]
    assert decisions() == []
    assert len(ask(token, batch(nina, [True] * 50), "evaluations").json()["evaluations"]) == 50


def test_the_pdp_metadata_names_the_endpoints() -> None:
    answer = DjangoClient().get("/.well-known/authzen-configuration")
    assert answer.status_code == 200
    body = answer.json()
    assert body["policy_decision_point"] == "http://testserver"
    assert body["access_evaluation_endpoint"] == "http://testserver/access/v1/evaluation"
    assert body["access_evaluations_endpoint"] == "http://testserver/access/v1/evaluations"


def test_an_ended_commission_is_denied(token: str, nina: dict[str, str], nurse: Any) -> None:
    Commission.objects.filter(employee=nurse[1]).update(
        valid_until=timezone.now() - timedelta(seconds=1))
    body = ask(token, question(nina)).json()
    assert body["decision"] is False and body["context"]["rule"] == "commission.not_valid"


def test_a_system_of_another_care_provider_cannot_decide_in_the_name_of_the_regions_staff(
        tree: Any, nina: dict[str, str], patient: Any) -> None:
    """Other Care AB registers its own record system (client credentials, access.evaluate) and asks
    as Nina, a Region Demo nurse, about Region Demo's information on Tolvan. Nothing ties the
    client's organisation to the care provider of the commission in `subject`: the decision is
    allowed, and a read by "Nina Nurse at Cardiology" lands in Tolvan's log extract although no
    Region system ever asked. A system may vouch only for staff of its own organisation."""
    foreign = register(tree["other"], grant_type="client-credentials", scopes=(EVALUATE,),
                       claims=())
    answer = ask(client_token(foreign), question(nina))
    assert answer.status_code in (200, 403)
    if answer.status_code == 200:
        assert answer.json()["decision"] is False, answer.json()["context"]["rule"]
    reads = AuditEvent.objects.filter(action="access.decided", outcome="success",
                                      subject_person_id=patient.person_id)
    assert not reads.exists()
    page = patient_login(DjangoClient(), patient).get("/patient/log/").content.decode()
    assert "Nina Nurse" not in page


def test_information_until_a_day_before_a_blocks_first_day_is_not_blocked(
        tree: Any, nina: dict[str, str], patient: Any, nurse: Any) -> None:
    """Tolvan blocks Orthopaedics' information from 1 February 2026 (first day, as the staff form
    stores it: 00:00 Swedish time). A record system asks for information recorded until
    31 January 2026 (`information_until` a date: "its end", docs/authzen.md), wholly before the
    block. The API maps the date to the next midnight, which `decision._periods_overlap` then
    treats as an inclusive end (`end < period_start` is false at equality): denied as
    `block.inner`, although "what lies wholly outside it is not blocked" (docs/rules.md)."""
    from datetime import date, timedelta

    from django.utils import timezone

    from apps.blocks import services as blocks
    from apps.commissions import services as commissions
    from apps.core.actors import SYSTEM
    from apps.core.forms import start_of_day

    at_primary = commissions.commission_grant(
        actor=SYSTEM, employee=nurse[1], care_unit=tree["primary"], purpose="Vård och behandling",
        rights=["Läsa;alla;VG"], valid_from=timezone.now() - timedelta(days=1), valid_until=None)
    who = {**nina, "commission": at_primary.hsa_id}
    blocks.block_register(actor=SYSTEM, commission=None, patient=patient.person,
                          block_type="inner", care_provider=tree["region"],
                          care_unit=tree["ortho"], period_start=start_of_day(date(2026, 2, 1)))
    body = question(who, unit="SE2321000016-0102")
    body["resource"]["properties"]["information_until"] = "2026-01-31"
    token = client_token(register(tree["region"], grant_type="client-credentials",
                                  scopes=(EVALUATE,), claims=()))
    answer = ask(token, body).json()
    assert answer["decision"] is True, answer["context"]["rule"]


@pytest.mark.parametrize("change, path, english", [
    (lambda q: {**q, "context": {"care_relationship": "true"}}, "evaluation",
     "Must be a valid boolean."),
    (lambda q: {"subject": q["subject"], "action": q["action"], "context": q["context"],
                "evaluations": [{"resource": q["resource"]}] * 51}, "evaluations",
     "Ensure this field has no more than 50 elements."),
])
def test_refusals_are_in_swedish_when_asked_so(tree: Any, nina: dict[str, str], change: Any,
                                               path: str, english: str) -> None:
    """Every other refusal of the API answers in Swedish for `Accept-Language: sv` (the default):
    "Okänt fält.", "Det här fältet är obligatoriskt.", "\\"delete\\" är inte ett giltigt val.".
    A string where a boolean belongs (`StrictBoolean`) and a 51st evaluation (`ListField`
    max_length) answer in English."""
    token = client_token(register(tree["region"], grant_type="client-credentials",
                                  scopes=(EVALUATE,), claims=()))
    answer = ask(token, change(question(nina)), path, HTTP_ACCEPT_LANGUAGE="sv")
    assert answer.status_code == 400
    assert english not in answer.content.decode()
