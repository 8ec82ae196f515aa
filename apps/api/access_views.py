"""The rules service's OpenID AuthZEN Authorization API 1.0 (`/access/v1/evaluation`,
`/access/v1/evaluations`) and its PDP metadata (`/.well-known/authzen-configuration`).

A registered system (an OAuth2 client of the portal's identity provider) asks with a client
credentials access token holding the `access.evaluate` scope (RFC 6750 bearer). Each evaluation
is one decision of `apps.rules.services.access_decide`: one audit row, allow or deny. Requests,
mapping, answers and errors: docs/authzen.md; shapes: `apps.api.authzen`.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from oauth2_provider.settings import oauth2_settings
from rest_framework import exceptions
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api import authzen
from apps.api.authentication import TokenApi, TokenHolder
from apps.api.problems import PROBLEM_CONTENT_TYPE
from apps.api.serializers import Problem
from apps.federation import selectors as federation
from apps.rules import services as rules
from apps.rules.facts import AccessActor, acting_staff

#: The OAuth2 scope a token needs to ask for decisions (settings.OAUTH2_PROVIDER["SCOPES"]).
EVALUATE_SCOPE = "access.evaluate"


class InsufficientScope(exceptions.PermissionDenied):
    """RFC 6750 3.1 `insufficient_scope` (403), with its `WWW-Authenticate` challenge naming
    the scope needed."""

    default_detail = _("The access token lacks the scope access.evaluate.")
    default_code = "insufficient_scope"
    auth_header = f'Bearer realm="portal", error="insufficient_scope", scope="{EVALUATE_SCOPE}"'


class SystemTokenRequired(exceptions.PermissionDenied):
    """A token issued to a user login (authorization code) asks: only a system's own token may
    (403)."""

    default_detail = _("Only a system's own access token (client credentials grant) may ask for "
                       "access decisions.")
    default_code = "client_credentials_required"


class MayEvaluate(BasePermission):
    """A valid access token (else 401 with a `Bearer` challenge) of the client credentials grant
    (its `sub` is its `client_id` and it names no login, RFC 9068 2.2; else 403
    `client_credentials_required`) holding `access.evaluate` (else 403 `insufficient_scope`)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        holder = request.user
        if not isinstance(holder, TokenHolder):
            raise exceptions.NotAuthenticated()
        claims = holder.claims
        if EVALUATE_SCOPE not in str(claims.get("scope", "")).split():
            raise InsufficientScope()
        if claims.get("sub") != claims.get("client_id") or "auth_time" in claims:
            raise SystemTokenRequired()
        return True


#: The refusals of both endpoints, by HTTP status, with their problem `code`s.
REFUSALS = {
    400: "`invalid` (a member missing, of the wrong type, outside its vocabulary, or unknown; "
         "`errors` names each), `parse_error` (not JSON), `too_deep`.",
    401: "`not_authenticated` (no bearer token) or `authentication_failed` (a bad, expired or "
         "revoked token), with a `WWW-Authenticate: Bearer` challenge.",
    403: "`insufficient_scope` (the token lacks `access.evaluate`; RFC 6750 3.1), "
         "`client_credentials_required` (a token of a user's login).",
    405: "`method_not_allowed`: only POST.",
    413: "`body_too_large`: the body is larger than 64 KiB.",
    415: "`unsupported_media_type`: the body is not `application/json`.",
}

_SUBJECT = {"type": "user", "id": "SE2321990000-E4K9T2QX",
            "properties": {"commission": "SE2321990000-USARAAKUT"}}
_RESOURCE = {"type": "patient_record", "id": "19121212-1212",
             "properties": {"care_provider": "SE2321990000-0001",
                            "care_unit": "SE2321990000-0101", "information_type": "lak"}}
_READ = {"name": "read"}
_CARE = {"care_relationship": True}
EXAMPLE_ALLOW = {"decision": True, "context": {
    "id": "0f6c2b1e-6a47-4a43-9d7e-2d1c8f0b5a11", "rule": "allow.care_provider",
    "source": "PDL 2008:355 4 kap. 1 §",
    "reason_admin": {"en": "Allowed: the care provider's own information, for the care of the "
                           "patient."},
    "reason_user": {"en": "Allowed: the care provider's own information, for the care of the "
                          "patient."},
    "obligations": []}}
EXAMPLE_DENY = {"decision": False, "context": {
    "id": "5b7d9c3a-0e2f-4b6a-8c1d-9f3e2a4b6c8d", "rule": "block.inner",
    "source": "PDL 2008:355 4 kap. 4 §; Inera CheckBlocks",
    "reason_admin": {"en": "The patient has blocked this care unit's information."},
    "reason_user": {"sv": "Patienten har spärrat vårdenhetens information."},
    "obligations": []}}
EXAMPLE_EMERGENCY = {"decision": True, "context": {
    "id": "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d", "rule": "allow.emergency",
    "source": "PDL 2008:355 6 kap. 4 §",
    "reason_admin": {"en": "Allowed as emergency access: it is logged and followed up."},
    "reason_user": {"en": "Allowed as emergency access: it is logged and followed up."},
    "obligations": [{"id": "log_activity", "value": "Nödöppning"},
                    {"id": "emergency_follow_up", "value": ""}]}}


def _actor(request: Request, evaluation: dict[str, Any],
           names: dict[str, tuple[str, uuid.UUID | None]]) -> AccessActor:
    """The staff member the calling system acts for, under the named commission (the system's
    name and care provider read once per request)."""
    holder = request.user
    assert isinstance(holder, TokenHolder)
    client_id = str(holder.claims["client_id"])
    if client_id not in names:
        names[client_id] = federation.client_system(client_id)
    label, care_provider_id = names[client_id]
    subject = evaluation["subject"]
    return acting_staff(client_id=client_id, client_label=label,
                        client_care_provider_id=care_provider_id,
                        employee_hsa_id=subject["id"],
                        commission_hsa_id=subject["properties"]["commission"])


def _decide(request: Request, evaluation: dict[str, Any],
            names: dict[str, tuple[str, uuid.UUID | None]]) -> rules.Decision:
    return rules.access_decide(
        actor=_actor(request, evaluation, names),
        request=authzen.to_access_request(evaluation, when=timezone.now()))


class AccessApi(TokenApi):
    """What both evaluation endpoints share: bearer token authentication, the evaluation scope,
    POST only (405 before the token is looked at, RFC 9110 15.5.6)."""

    permission_classes = [MayEvaluate]
    http_method_names = ["post"]


class AccessEvaluationApi(AccessApi):
    """`POST /access/v1/evaluation` (AuthZEN 1.0 section 6): may this staff member, under this
    commission, take this action on this patient's information? Request `EvaluationRequest`;
    answer 200 `{"decision": bool, "context": {...}}` for an allow and a deny alike (one audit
    row each, `access.decided`). Errors (problem+json): `REFUSALS`."""

    @extend_schema(
        operation_id="access_evaluation",
        summary="Ask the rules service for one access decision (OpenID AuthZEN 1.0)",
        description=(
            "A registered system asks, for its staff member acting under a commission, whether "
            "an action on a patient's information is allowed (the PDL rules: commission, "
            "purpose, rights, care relationship, consent or emergency access, blocks). Needs a "
            "client credentials access token with the scope `access.evaluate`. The time is the "
            "server's. A well-formed request naming something unknown (patient, HSA-id, "
            "commission) is answered `decision: false` with its rule. Every decision is logged; "
            "an allowed read appears in the patient's log extract. See docs/authzen.md."),
        request=authzen.EvaluationRequest,
        examples=[
            OpenApiExample("Read medication", request_only=True, value={
                "subject": _SUBJECT, "resource": _RESOURCE, "action": _READ,
                "context": _CARE}),
            OpenApiExample("Emergency access to another care provider", request_only=True,
                           value={
                               "subject": {"type": "user", "id": "SE2321990000-E4K9T2QX",
                                           "properties": {
                                               "commission": "SE2321990000-USARAKARD"}},
                               "resource": {"type": "patient_record", "id": "191212121212",
                                            "properties": {
                                                "care_provider": "SE5566778808-0001",
                                                "information_type": "alla"}},
                               "action": _READ,
                               "context": {"care_relationship": True, "emergency": {
                                   "reason": "Medvetslös vid ankomst."}}}),
            OpenApiExample("Allowed", response_only=True, value=EXAMPLE_ALLOW),
            OpenApiExample("Denied (inner block; Accept-Language: sv)", response_only=True,
                           value=EXAMPLE_DENY),
            OpenApiExample("Allowed as emergency access", response_only=True,
                           value=EXAMPLE_EMERGENCY),
        ],
        responses={
            200: OpenApiResponse(authzen.DecisionAnswer, description="The decision."),
            **{(code, PROBLEM_CONTENT_TYPE): OpenApiResponse(Problem, description=text)
               for code, text in REFUSALS.items()},
        },
    )
    def post(self, request: Request) -> Response:
        data = authzen.EvaluationRequest(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(authzen.answer(_decide(request, dict(data.validated_data), {})))


class AccessEvaluationsApi(AccessApi):
    """`POST /access/v1/evaluations` (AuthZEN 1.0 section 7): up to 50 evaluations in one
    request, the top-level `subject`, `resource`, `action` and `context` as defaults that an
    evaluation's own member replaces. Each is its own decision and audit row, in order;
    `options.evaluations_semantic` `deny_on_first_deny` or `permit_on_first_permit` stops after
    the first deny or allow (the answer then ends with it), `execute_all` (default) runs all.
    Without `evaluations` (or with an empty list) it is one evaluation of the defaults, answered
    as `/evaluation` answers. The whole request is checked before anything is decided: a
    malformed evaluation refuses the request (400, `errors.evaluations.<index>`)."""

    @extend_schema(
        operation_id="access_evaluations",
        summary="Ask the rules service for several access decisions (OpenID AuthZEN 1.0)",
        description=(
            "Defaults at the top level, at most 50 `evaluations` (each member given replaces the "
            "default), and `options.evaluations_semantic`: `execute_all` (default), "
            "`deny_on_first_deny`, `permit_on_first_permit` (the answer stops at the first deny "
            "or allow). Each evaluation is one logged decision. See docs/authzen.md."),
        request=authzen.EvaluationsRequest,
        examples=[
            OpenApiExample("Medication and diagnoses, stop at the first deny", request_only=True,
                           value={
                               "subject": _SUBJECT, "action": _READ, "context": _CARE,
                               "evaluations": [
                                   {"resource": _RESOURCE},
                                   {"resource": {**_RESOURCE, "properties": {
                                       **_RESOURCE["properties"],  # type: ignore[dict-item]
                                       "information_type": "dia"}}}],
                               "options": {"evaluations_semantic": "deny_on_first_deny"}}),
            OpenApiExample("Answers", response_only=True,
                           value={"evaluations": [EXAMPLE_ALLOW, EXAMPLE_DENY]}),
        ],
        responses={
            200: OpenApiResponse(authzen.EvaluationsAnswer, description="The decisions."),
            **{(code, PROBLEM_CONTENT_TYPE): OpenApiResponse(Problem, description=text)
               for code, text in REFUSALS.items()},
        },
    )
    def post(self, request: Request) -> Response:
        data = authzen.EvaluationsRequest(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        evaluations, batch = authzen.evaluations_of(values)
        names: dict[str, tuple[str, uuid.UUID | None]] = {}
        if not batch:
            return Response(authzen.answer(_decide(request, evaluations[0], names)))
        semantic = (values.get("options") or {}).get("evaluations_semantic", "execute_all")
        answers = []
        for evaluation in evaluations:
            decision = _decide(request, evaluation, names)
            answers.append(authzen.answer(decision))
            if ((semantic == "deny_on_first_deny" and not decision.allowed)
                    or (semantic == "permit_on_first_permit" and decision.allowed)):
                break
        return Response({"evaluations": answers})


class AuthzenConfigurationApi(APIView):
    """`GET /.well-known/authzen-configuration`: the PDP's metadata (AuthZEN 1.0 section 9):
    its identifier (the portal's issuer URL, the `iss` of its access tokens) and the two evaluation
    endpoints. Public, like OpenID Connect discovery."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    http_method_names = ["get"]

    @extend_schema(
        operation_id="authzen_configuration",
        summary="The rules service's AuthZEN PDP metadata",
        responses={200: OpenApiResponse(authzen.PdpMetadata, description="The metadata.")},
    )
    def get(self, request: Request) -> Response:
        base = str(oauth2_settings.oidc_issuer(request._request)).rstrip("/")
        return Response({
            "policy_decision_point": base,
            "access_evaluation_endpoint": base + reverse("access:evaluation"),
            "access_evaluations_endpoint": base + reverse("access:evaluations"),
        })
