"""API views. Errors are application/problem+json through `apps.api.problems`."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.actors import MOBILE_APP
from apps.issuance import services as issuance


class EIDActivationRequest(serializers.Serializer):  # type: ignore[type-arg]
    """`{csr, device_name, qr_payload}` or `{csr, device_name, person_number, code}`."""

    csr = serializers.CharField(max_length=16 * 1024, trim_whitespace=False)
    # No name given: stored empty and shown as "Mobile e-ID" in the reader's language.
    device_name = serializers.CharField(max_length=64, required=False, default="", allow_blank=True)
    qr_payload = serializers.CharField(max_length=200, required=False)
    person_number = serializers.CharField(max_length=20, required=False)
    code = serializers.CharField(max_length=20, required=False)


class EIDActivationApi(APIView):
    """`POST /api/v1/eid/activations`: redeem an activation code for a new mobile e-ID.

    Called by the mobile app (the reference client: `clients/mobile_app/eid_app.py`), without a
    login or CSRF token: the activation code is the credential. Request JSON: `csr` (PKCS#10 PEM,
    EC P-256), `device_name` (0-64 chars), and either `qr_payload` or `person_number` (12 digits) +
    `code` (`XXXX-XXXX`). Answer `201` JSON: `eid_id` (UUID), `serial` (lowercase hex), `certificate`
    (PEM), `chain` (PEM: certificate then CA), `not_after` (ISO 8601 UTC, `Z`).

    Errors (problem+json, RFC 9457, `code` member): 400 `invalid`, `code_invalid`, `csr_invalid`;
    403 `code_dead` (QR form; the typed form answers `code_invalid`); 409 `code_used`,
    `too_many_eids`; 410 `code_expired`, `code_ended`; 503 `ca_unavailable`. Every refused request
    is audited (`activation_code.redeem_failed`), also one that is not JSON or whose fields are
    malformed (then without a subject person).
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        # The actor is the fixed MOBILE_APP: the device name is the client's own text and must not
        # read as "who" in a person's log extract; it is kept in the audit row's `changes` instead.
        try:
            data = EIDActivationRequest(data=request.data)
            data.is_valid(raise_exception=True)
        except exceptions.APIException as exc:  # not JSON, or fields of the wrong shape
            code = "invalid" if isinstance(exc, exceptions.ValidationError) else str(exc.default_code)
            fields = sorted(exc.detail) if isinstance(exc.detail, dict) else []
            issuance.activation_code_redeem_refused(
                actor=MOBILE_APP, error=code,
                reason=f"Request refused ({code}): {', '.join(fields) or 'body'}.")
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


class NotFoundApi(APIView):
    """Any method on an unknown `/api/v1/...` path: 404 problem+json with `code` `not_found`.

    The last route of `apps.api.urls`, so API clients never get Django's HTML 404 page.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        raise exceptions.NotFound()
