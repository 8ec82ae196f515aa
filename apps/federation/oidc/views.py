"""The OpenID Connect provider's endpoints (docs/identity-provider.md, "Endpoints"): DOT's views
with the portal's login in front of the authorization endpoint, the token endpoint in one
transaction, and discovery and the JWKS naming the portal's algorithms and keys.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as dot
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.common import Request as OauthlibRequest

from apps.authn import commission as choice
from apps.authn import selectors as authn_selectors
from apps.authn import session
from apps.authn.decorators import user_required
from apps.federation.models import AccessToken, Client
from apps.federation.oidc import access_tokens, keys
from apps.federation.oidc.vocabulary import SigningAlgorithm

#: How long a relying party may cache the JWKS (seconds). Short, so that a new key is picked up
#: well within a token's lifetime.
JWKS_MAX_AGE_SECONDS = 300


def has_nul(request: HttpRequest) -> bool:
    """True when a parameter or the Authorization header holds a NUL character, which no OAuth
    value contains (RFC 6749 appendix A: visible ASCII) and PostgreSQL cannot store or compare."""
    values = [*request.GET.values(), *request.POST.values(),
              request.headers.get("Authorization", "")]
    return any("\x00" in value for value in values)


def login_facts(request: HttpRequest) -> dict[str, Any]:
    """What the authorization code records of this session's login (OIDC Core 2: `acr`, `amr`,
    `auth_time`): the `UserSession` row, the chosen commission, the level (framework URI or ""),
    the RFC 8176 method names and the login time (UTC)."""
    facts = session.get(request)
    record = authn_selectors.session_get_by_key_hash(session.current_key_hash(request))
    chosen = choice.chosen(request)
    at = facts.get("at")
    return {
        "session_id": record.pk if record else None,
        "commission_id": chosen.pk if chosen else None,
        "acr": session.loa(request) or "",
        "amr": list(facts.get("methods") or []),
        "auth_time": datetime.fromtimestamp(at, tz=UTC) if at else None,
    }


class AuthorizationView(dot.AuthorizationView):
    """The authorization endpoint (RFC 6749 3.1; OIDC Core 3.1.2), mounted behind the portal's
    login (`authorize_view`). First-party clients skip the consent screen."""

    template_name = "federation/oidc_authorize.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if has_nul(request):  # answered on the page: the redirect URI cannot be trusted
            return render(request, self.template_name,
                          {"error": {"error": "invalid_request"}}, status=400)
        if "resource" in request.GET:  # one audience (access_tokens.audience; RFC 8707 2)
            return render(request, self.template_name,
                          {"error": {"error": "invalid_target"}}, status=400)
        response: HttpResponse = super().dispatch(request, *args, **kwargs)
        return response

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """DOT's page; a consent form may also be sent on to the client's redirect URI (CSP 3
        `form-action` covers the redirect that answers the form, so its origin is allowed on this
        page only)."""
        response: HttpResponse = super().get(request, *args, **kwargs)
        redirect_uri = self.oauth2_data.get("redirect_uri")
        if response.status_code == 200 and redirect_uri:
            parts = urlsplit(redirect_uri)
            response._csp_update = {  # type: ignore[attr-defined]
                "form-action": [f"{parts.scheme}://{parts.netloc}"]}
        return response

    def create_authorization_response(self, request: HttpRequest, scopes: str,
                                      credentials: dict[str, Any], allow: bool) -> Any:
        return super().create_authorization_response(
            request, scopes, {**credentials, "portal_login": login_facts(request)}, allow)


#: A visitor without a completed login goes to the login page and comes back here (`next`,
#: `apps.authn.redirects.safe_next`), staff and patients alike.
authorize_view = user_required(AuthorizationView.as_view())


class TokenView(dot.TokenView):
    """The token endpoint (RFC 6749 3.2) in one transaction, so an authorization code's lock is
    held until its tokens are written (`validator.PortalValidator.validate_code`). DOT's device
    flow branch is left out: every grant goes through oauthlib and the validator, which refuses
    all but the portal's three."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if has_nul(request):
            return JsonResponse({"error": "invalid_request",
                                 "error_description": "A parameter holds a NUL character."},
                                status=400)
        if "resource" in request.POST:
            # One audience for every access token (access_tokens.audience; docs/decisions.md).
            return JsonResponse({"error": "invalid_target",
                                 "error_description": "Resource indicators are not supported."},
                                status=400)
        with transaction.atomic():
            return self.authorization_flow_token_response(request, *args, **kwargs)


def may_introspect(client: Client, token: AccessToken) -> bool:
    """The introspection rule (RFC 7662 section 4 leaves it to the server; docs/decisions.md): a
    client learns about a token issued to itself, and a resource server named in
    settings.OAUTH_RESOURCE_SERVER_CLIENT_IDS about any token for the portal's audience. Any
    other client gets `{"active": false}`, as for an unknown token, so it learns nothing."""
    return (token.application_id == client.pk
            or client.client_id in settings.OAUTH_RESOURCE_SERVER_CLIENT_IDS)


def introspection(client: Client, token_value: str, issuer: str) -> dict[str, Any]:
    """The RFC 7662 2.2 answer for `token_value` asked by the authenticated `client`: for an
    access token that is unexpired, not revoked, of an approved client and one `client` may
    introspect (`may_introspect`), `active: true` with `scope`, `client_id`, `token_type`,
    `exp` and `iat` (seconds since the epoch, UTC), `sub` (as in the token), `aud` and `iss`;
    otherwise only `active: false`. Refresh tokens are not introspected (`active: false`)."""
    checksum = hashlib.sha256(token_value.encode()).hexdigest()
    token = (AccessToken.objects.select_related("application")
             .filter(token_checksum=checksum).first())
    if (token is None or not token.is_valid() or token.application is None
            or not token.application.is_usable(None) or not may_introspect(client, token)):
        return {"active": False}
    return {
        "active": True, "scope": token.scope, "client_id": token.application.client_id,
        "token_type": "Bearer", "exp": int(token.expires.timestamp()),
        "iat": int(token.created.timestamp()),
        "sub": str(token.person_id) if token.person_id else token.application.client_id,
        "aud": access_tokens.audience(), "iss": issuer,
    }


@method_decorator(csrf_exempt, name="dispatch")
class IntrospectView(OAuthLibMixin, View):
    """The introspection endpoint (RFC 7662): POST with the client's own authentication (HTTP
    Basic or the body, RFC 6749 2.3.1; a failure is audited by the validator); no bearer token
    instead of it. Answers `introspection`; 401 `invalid_client` without a valid client, 400
    `invalid_request` without a `token`."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if has_nul(request):
            return JsonResponse({"error": "invalid_request"}, status=400)
        core = self.get_oauthlib_core()
        uri, method, body, headers = core._extract_params(request)
        asking = OauthlibRequest(uri, method, body, headers)
        if not core.server.request_validator.authenticate_client(asking):
            response = JsonResponse({"error": "invalid_client"}, status=401)
            response["WWW-Authenticate"] = 'Basic realm="introspection"'
            return response
        token_value = request.POST.get("token")
        if not token_value:
            return JsonResponse({"error": "invalid_request",
                                 "error_description": "The token parameter is missing."},
                                status=400)
        answer = JsonResponse(introspection(asking.client, token_value,
                                            oauth2_settings.oidc_issuer(request)))
        answer["Cache-Control"] = "no-store"
        return answer


class DiscoveryView(dot.ConnectDiscoveryInfoView):
    """OpenID Provider metadata (OIDC Discovery 1.0 section 3) at
    /.well-known/openid-configuration under the issuer (section 4), naming only what the portal
    accepts."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        data.update({
            "id_token_signing_alg_values_supported": list(SigningAlgorithm.values),
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code", "refresh_token",
                                      "client_credentials"],
            "response_modes_supported": ["query"],
            "revocation_endpoint": request.build_absolute_uri(
                reverse("oauth2_provider:revoke-token")),
            "introspection_endpoint": request.build_absolute_uri(
                reverse("oauth2_provider:introspect")),
        })
        answer = JsonResponse(data)
        answer["Access-Control-Allow-Origin"] = "*"
        return answer


class JwksView(View):
    """The JWK Set (RFC 7517 section 5) of the ID token signing keys (`keys.jwks`)."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = JsonResponse(keys.jwks())
        response["Access-Control-Allow-Origin"] = "*"
        response["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
        return response
