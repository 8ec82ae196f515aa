"""Bearer access tokens of the portal's OpenID Connect provider (RFC 6750; RFC 9068 JWTs) for the
API endpoints that e-services call on a user's behalf."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from oauth2_provider.settings import oauth2_settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.federation.oidc import access_tokens


@dataclass(frozen=True)
class TokenHolder:
    """Who presented a valid access token: its claims (`sub`, `client_id`, `scope`, ...)."""

    claims: dict[str, Any] = field(default_factory=dict)
    is_authenticated: bool = True


class AccessTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <access token>` (RFC 6750 2.1), verified by
    `access_tokens.authenticate`. A missing header is no authentication (401 with a `Bearer`
    challenge); a bad or revoked token is `invalid_token` (RFC 6750 3.1)."""

    def authenticate(self, request: Request) -> tuple[TokenHolder, dict[str, Any]] | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            claims = access_tokens.authenticate(token.strip(),
                                                issuer=oauth2_settings.oidc_issuer(request._request))
        except access_tokens.InvalidAccessToken:
            raise exceptions.AuthenticationFailed(code="invalid_token") from None
        return TokenHolder(claims), claims

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="portal"'


class TokenApi(APIView):
    """An endpoint for bearer access tokens (`AccessTokenAuthentication`) that answers 405 for a
    method it does not take before the token is looked at (RFC 9110 15.5.6), so a wrong method is
    never mistaken for a missing token. Subclasses set `http_method_names`."""

    authentication_classes = [AccessTokenAuthentication]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if (request.method or "").lower() not in self.http_method_names:
            raise exceptions.MethodNotAllowed(request.method or "")
        super().initial(request, *args, **kwargs)
