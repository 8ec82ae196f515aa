"""API views. Errors are application/problem+json through `apps.api.problems`; the OpenAPI 3.1
schema (drf-spectacular) is served at `/api/v1/schema`."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from apps.api.authentication import TokenApi, TokenHolder
from apps.api.problems import PROBLEM_CONTENT_TYPE
from apps.api.serializers import (
    EIDActivation,
    EIDActivationRequest,
    EIDAuthAnswer,
    EIDAuthApprovalRequest,
    EIDAuthDenialRequest,
    EIDAuthRequest,
    Problem,
)
from apps.core.actors import MOBILE_APP
from apps.core.errors import ValidationFailed
from apps.issuance import selectors
from apps.issuance import services as issuance

#: The refusals of an activation, by HTTP status, with their problem `code`s.
ACTIVATION_REFUSALS = {
    400: "The request or the code is not acceptable: `invalid` (members missing or malformed; "
         "neither or both ways of giving the code), `parse_error` (not JSON), `too_deep` (nested "
         "deeper than 32 levels), `code_invalid` (wrong, unknown or dead typed code), "
         "`csr_invalid`.",
    403: "`code_dead` (QR form: too many failed tries), `not_entitled` (the person is no longer "
         "entitled to a mobile e-ID; the code is ended).",
    409: "`code_used` (already redeemed), `too_many_eids` (the person has 3 active e-IDs).",
    410: "`code_expired`, `code_ended` (replaced by a newer code, or cancelled: the message says why).",
    413: "`body_too_large`: the body is larger than 64 KiB.",
    415: "`unsupported_media_type`: the body is not `application/json`.",
    503: "`ca_unavailable` (the issuing CA is not set up), `busy` (try again in a moment).",
}

#: What a certificate request looks like (the schema's examples; shortened, not a valid CSR).
CSR_EXAMPLE = ("-----BEGIN CERTIFICATE REQUEST-----\nMIHgMIGIAgEAMCYxJDAiBgNVBAMMG1NhcmFz"
               "IHRlbGVmb24...\n-----END CERTIFICATE REQUEST-----\n")


def _refused_members(detail: Any) -> str:
    """The request members a refusal names, for the audit reason: the documented ones by name,
    others as "unknown members" (their names are the client's own text), else "body"."""
    named = set(detail) if isinstance(detail, dict) else set()
    declared = set(EIDActivationRequest().fields)
    unknown = named - declared - {api_settings.NON_FIELD_ERRORS_KEY}
    return ", ".join(sorted(named & declared) + (["unknown members"] if unknown else [])) or "body"


@extend_schema(exclude=True)
class NotFoundApi(APIView):
    """Any method on an unknown `/api/v1/...` path: 404 problem+json with `code` `not_found`.

    The last route of `apps.api.urls`, so API clients never get Django's HTML 404 page.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        raise exceptions.NotFound()


class EIDActivationApi(APIView):
    """`POST /api/v1/eid/activations`: redeem an activation code for a new mobile e-ID.

    Called by the mobile app (the reference client: `clients/mobile_app/eid_app.py`), without a
    login or CSRF token: the activation code is the credential. Request JSON (`application/json`
    only, at most 64 KiB, apps.api.parsers): `csr` (PKCS#10 PEM, EC P-256), `device_name` (0-64
    chars; empty or left out: shown as "Mobile e-ID" in the reader's language), and either
    `qr_payload` or `person_number` (12 digits) + `code` (`XXXX-XXXX`). Answer `201` JSON: `eid_id`
    (UUID), `serial` (lowercase hex), `certificate` (PEM), `chain` (PEM: certificate then CA),
    `not_after` (ISO 8601 UTC, `Z`).

    Errors (problem+json, RFC 9457, `code` member): `ACTIVATION_REFUSALS`. Every refused POST is
    audited (`activation_code.redeem_failed`), also one whose body is not JSON, too large, too
    deep or has malformed members (then without a subject person).
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    http_method_names = ["post"]

    @extend_schema(
        operation_id="eid_activation_create",
        summary="Redeem an activation code for a new mobile e-ID",
        description=(
            "The mobile app sends a certificate request for its key with the activation code, "
            "either as the QR code's text (`qr_payload`) or typed (`person_number` and `code`). "
            "No login: the code is the credential; it works once, for 10 minutes. The body is "
            "`application/json`, at most 64 KiB. Every refusal is an `application/problem+json` "
            "document (RFC 9457) whose `code` member says why, and is recorded in the audit log."),
        request=EIDActivationRequest,
        examples=[
            OpenApiExample("QR code", request_only=True, value={
                "csr": CSR_EXAMPLE, "device_name": "Saras telefon",
                "qr_payload": "EIDACT1.3f2c8f4e6d0b4a7e9c1a2b5d7e9f0a13.q8Zr3mTn5VwX1yB7cD9eFg"}),
            OpenApiExample("Typed code", request_only=True, value={
                "csr": CSR_EXAMPLE, "device_name": "Saras telefon",
                "person_number": "19121212-1212", "code": "K7QM-4TXP"}),
        ],
        responses={
            201: OpenApiResponse(EIDActivation, description="The new mobile e-ID."),
            **{(code, PROBLEM_CONTENT_TYPE): OpenApiResponse(Problem, description=text)
               for code, text in ACTIVATION_REFUSALS.items()},
        },
    )
    def post(self, request: Request) -> Response:
        # The actor is the fixed MOBILE_APP: the device name is the client's own text and must not
        # read as "who" in a person's log extract; it is kept in the audit row's `changes` instead.
        try:
            data = EIDActivationRequest(data=request.data)
            data.is_valid(raise_exception=True)
        except exceptions.APIException as exc:  # not JSON, too large or deep, or malformed members
            code = "invalid" if isinstance(exc, exceptions.ValidationError) else str(exc.default_code)
            issuance.activation_code_redeem_refused(
                actor=MOBILE_APP, error=code,
                reason=f"Request refused ({code}): {_refused_members(exc.detail)}.")
            raise
        values = data.validated_data
        activation = issuance.activation_code_redeem(
            actor=MOBILE_APP,
            csr_pem=values["csr"],
            device_name=values["device_name"],
            qr_payload=values.get("qr_payload"),
            person_number=values.get("person_number"),
            short_code=values.get("code"),
        )
        eid = activation.eid
        body = {
            "eid_id": str(eid.pk),
            "serial": eid.serial,
            "certificate": activation.certificate,
            "chain": activation.chain,
            "not_after": eid.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        return Response(body, status=status.HTTP_201_CREATED)


#: The refusals of the login-request endpoints, by HTTP status, with their problem `code`s.
AUTH_REFUSALS = {
    400: "`invalid` (members missing or malformed, unknown members), `parse_error` (not JSON).",
    403: "`auth.number` (wrong number, signed; the third cancels the request), `auth.signature` "
         "(not signed with that e-ID's key), `auth.eid` (the e-ID is unknown, revoked, expired, or "
         "not issued by the portal's CA), `auth.other_person` (a request to confirm it is someone "
         "else: only their own e-ID may approve it), `auth.too_many` (the person gave 5 approvals in "
         "the last 10 minutes).",
    404: "`not_found`: unknown, expired, completed or cancelled (one answer for all).",
    409: "`auth.not_pending`: already approved or denied.",
    415: "`unsupported_media_type`: the body is not `application/json`.",
    503: "`busy` (try again in a moment).",
}


#: The refusals of a denial: those of an approval but the number and the approvals' limit.
DENIAL_REFUSALS = {
    **AUTH_REFUSALS,
    403: "`auth.signature` (not signed with that e-ID's key over the denial challenge), "
         "`auth.eid` (the e-ID is unknown, revoked, expired, or not issued by the portal's CA), "
         "`auth.other_person` (a request to confirm it is someone else: only their own e-ID may "
         "deny it).",
}


def _rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EIDAuthRequestApi(APIView):
    """`GET /api/v1/eid/auth-requests/<reference>`: what the app shows before the person
    approves a login in the browser (out-of-band login, NIST SP 800-63B 5.1.3). Never the
    number: the person reads it in the browser and types it in the app."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    http_method_names = ["get"]

    @extend_schema(
        operation_id="eid_auth_request_retrieve",
        summary="A login request to approve with the mobile e-ID",
        responses={
            200: OpenApiResponse(EIDAuthRequest, description="The request."),
            (404, PROBLEM_CONTENT_TYPE): OpenApiResponse(Problem, description=AUTH_REFUSALS[404]),
        },
    )
    def get(self, request: Request, reference: str) -> Response:
        req = selectors.oob_request_open(reference, timezone.now())
        return Response({
            "reference": req.reference,
            "service": gettext("IAM portal"),
            "origin": settings.PORTAL_BASE_URL,
            "nonce": req.nonce,
            "created_at": _rfc3339(req.created_at),
            "expires_at": _rfc3339(req.expires_at),
        })


def _signature(text: str) -> bytes:
    """The octets of a base64 signature member (RFC 4648 section 4). Raises ValidationFailed."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed(gettext("The signature is not base64."), field="signature",
                               code="invalid") from None


class EIDAuthApprovalApi(APIView):
    """`POST /api/v1/eid/auth-requests/<reference>/approval`: the app approves with the e-ID's
    signature over the challenge (apps.issuance.challenge). No login or CSRF token: the
    signature is the credential. Answer `200 {"status": "approved"}`; errors `AUTH_REFUSALS`,
    each refusal audited (`mobile_eid_login.refused`)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    http_method_names = ["post"]

    @extend_schema(
        operation_id="eid_auth_request_approve",
        summary="Approve a login with the mobile e-ID",
        request=EIDAuthApprovalRequest,
        responses={
            200: OpenApiResponse(EIDAuthAnswer, description="Approved."),
            **{(code, PROBLEM_CONTENT_TYPE): OpenApiResponse(Problem, description=text)
               for code, text in AUTH_REFUSALS.items()},
        },
    )
    def post(self, request: Request, reference: str) -> Response:
        data = EIDAuthApprovalRequest(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        issuance.mobile_eid_login_approve(actor=MOBILE_APP, reference=reference,
                                          serial=values["serial"], number=values["number"],
                                          signature=_signature(values["signature"]))
        return Response({"status": "approved"})


class EIDAuthDenialApi(APIView):
    """`POST /api/v1/eid/auth-requests/<reference>/denial` with `{serial, signature}`: the
    person said no, signed with the e-ID's key over the denial challenge
    (apps.issuance.challenge), so knowing the reference is not enough to deny a login. Answer
    `200 {"status": "denied"}`; errors `DENIAL_REFUSALS`, each refusal audited."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    http_method_names = ["post"]

    @extend_schema(
        operation_id="eid_auth_request_deny",
        summary="Deny a login in the mobile e-ID app",
        request=EIDAuthDenialRequest,
        responses={
            200: OpenApiResponse(EIDAuthAnswer, description="Denied."),
            **{(code, PROBLEM_CONTENT_TYPE): OpenApiResponse(Problem, description=text)
               for code, text in DENIAL_REFUSALS.items()},
        },
    )
    def post(self, request: Request, reference: str) -> Response:
        data = EIDAuthDenialRequest(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        issuance.mobile_eid_login_deny(actor=MOBILE_APP, reference=reference,
                                       serial=values["serial"],
                                       signature=_signature(values["signature"]))
        return Response({"status": "denied"})


class OidcDemoMeApi(TokenApi):
    """`GET /api/v1/oidc-demo/me`: a protected resource for e-services (the demo e-service calls
    it): with a valid access token of the portal's OpenID Connect provider (RFC 6750 bearer; an
    RFC 9068 JWT whose audience is the portal's APIs) it answers who the token speaks for, which
    client holds it, its scopes and the login's level. 401 problem+json with a `Bearer`
    challenge without one, or for a bad, expired or revoked token."""

    http_method_names = ["get"]

    @extend_schema(
        operation_id="oidc_demo_me",
        summary="Who an access token speaks for",
        responses={
            200: inline_serializer("OidcDemoMe", {
                "sub": serializers.CharField(),
                "client_id": serializers.CharField(),
                "scope": serializers.CharField(),
                "acr": serializers.CharField(required=False),
                "auth_time": serializers.IntegerField(required=False),
                "exp": serializers.IntegerField(),
            }),
            (401, PROBLEM_CONTENT_TYPE): OpenApiResponse(
                Problem, description="No access token, or a bad, expired or revoked one."),
        },
    )
    def get(self, request: Request) -> Response:
        holder = request.user
        if not isinstance(holder, TokenHolder):  # IsAuthenticated let only a token holder in
            raise exceptions.NotAuthenticated()
        claims = holder.claims
        return Response({name: claims[name] for name in
                         ("sub", "client_id", "scope", "acr", "auth_time", "exp")
                         if name in claims})
