"""The OpenID Connect provider's endpoints (docs/identity-provider.md, "Endpoints"): DOT's views
with the portal's login in front of the authorization endpoint, the token endpoint in one
transaction, and discovery and the JWKS naming the portal's algorithms and keys.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views import View
from oauth2_provider import views as dot

from apps.authn import commission as choice
from apps.authn import selectors as authn_selectors
from apps.authn import session
from apps.authn.decorators import user_required
from apps.federation.oidc import keys
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
        with transaction.atomic():
            return self.authorization_flow_token_response(request, *args, **kwargs)


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
