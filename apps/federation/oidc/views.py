"""The OpenID Connect provider's endpoints (docs/identity-provider.md, "Endpoints"): DOT's views
with the portal's login in front of the authorization endpoint, the token endpoint in one
transaction, and discovery and the JWKS naming the portal's algorithms and keys.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView
from oauth2_provider import views as dot
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.common import Request as OauthlibRequest
from oauthlib.common import add_params_to_uri
from oauthlib.oauth2.rfc6749.errors import CustomOAuth2Error

from apps.authn import commission as choice
from apps.authn import selectors as authn_selectors
from apps.authn import session
from apps.authn.decorators import is_patient_session, is_staff_session, login_redirect
from apps.federation import selectors, services_tokens
from apps.federation.models import AccessToken, Client
from apps.federation.oidc import access_tokens, claims, keys, logout, prompt
from apps.federation.oidc.vocabulary import SigningAlgorithm
from apps.identities.models import User

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
    `auth_time`; `prompt.current_login`): the `UserSession` row, the chosen commission, the level
    (framework URI or ""), the method names and the time of the latest authentication (UTC)."""
    record = authn_selectors.session_get_by_key_hash(session.current_key_hash(request))
    chosen = choice.chosen(request)
    login = prompt.current_login(request)
    return {
        "session_id": record.pk if record else None,
        "commission_id": chosen.pk if chosen else None,
        "acr": login.acr,
        "amr": login.amr,
        "auth_time": datetime.fromtimestamp(login.auth_time, tz=UTC) if login.auth_time else None,
    }


class AuthorizationView(dot.AuthorizationView):
    """The authorization endpoint (RFC 6749 3.1; OIDC Core 3.1.2), mounted behind the portal's
    login (`authorize_view`). First-party clients skip the consent screen."""

    template_name = "federation/oidc_authorize.html"

    def refused(self, request: HttpRequest, error: str = "invalid_request") -> HttpResponse:
        """The error page (400): the redirect URI cannot be trusted, so nothing goes to it
        (RFC 6749 4.1.2.1)."""
        return render(request, self.template_name, {"error": {"error": error}}, status=400)

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Refused on the page before DOT sees them: a NUL anywhere; a parameter given twice
        (RFC 6749 3.1: "MUST NOT be included more than once"; otherwise the last `prompt`,
        `max_age` or `acr_values` would win and could drop a requirement); a `resource`
        (one audience: `access_tokens.audience`, RFC 8707 2)."""
        if has_nul(request) or any(len(request.GET.getlist(name)) > 1 for name in request.GET):
            return self.refused(request)
        if "resource" in request.GET:
            return self.refused(request, "invalid_target")
        response: HttpResponse = super().dispatch(request, *args, **kwargs)
        return response

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """DOT's page once the login is good enough for the request's `prompt`, `max_age` and
        `acr_values` (`login_requirement`); a consent form may also be sent on to the client's
        redirect URI (CSP 3 `form-action` covers the redirect that answers the form, so its
        origin is allowed on this page only)."""
        answer = self.login_requirement(request) or self.consented_before(request)
        if answer is not None:
            return answer
        response: HttpResponse = super().get(request, *args, **kwargs)
        redirect_uri = self.oauth2_data.get("redirect_uri")
        if response.status_code == 200 and redirect_uri:
            parts = urlsplit(redirect_uri)
            response._csp_update = {  # type: ignore[attr-defined]
                "form-action": [f"{parts.scheme}://{parts.netloc}"]}
        return response

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """The consent form's answer (posted to the authorization request's own URL), checked
        against the request's `prompt`, `max_age` and `acr_values` again (`login_requirement`),
        so that a form posted without the page issues no code for a weaker login. The form must
        answer the authorization request of the URL it is posted to (the same client and
        redirect URI) and that request must be valid; otherwise the error page, never a code."""
        client_id, redirect_uri = (request.POST.get("client_id"), request.POST.get("redirect_uri"))
        if client_id != request.GET.get("client_id") or redirect_uri != request.GET.get(
                "redirect_uri"):
            return self.refused(request)
        # A usable client with that redirect URI (DOT's form handling assumes one exists).
        client = Client.objects.filter(client_id=client_id or "").first()
        if client is None or not client.is_usable(request) or not client.redirect_uri_allowed(
                redirect_uri or ""):
            return self.refused(request)
        answer = self.login_requirement(request)
        if answer is not None:
            return answer
        response: HttpResponse = super().post(request, *args, **kwargs)
        return response

    def consented_before(self, request: HttpRequest) -> HttpResponse | None:
        """The code, without the consent page, for a client that is not first party when the
        person's earlier consent to it still stands and covers the requested scopes
        (`selectors.authorisation_covers`; OIDC Core 3.1.2.4: the provider may use a stored
        consent); None to go on to DOT's page (first party, `prompt=consent`, which always asks
        (OIDC Core 3.1.2.1), no such consent, or an invalid request, which DOT answers). The
        consent is not audited again: `oauth_consent.given` records the answers on the page."""
        user = request.user
        client = Client.objects.filter(client_id=request.GET.get("client_id", "")).first()
        if (client is None or client.first_party or not isinstance(user, User)
                or "consent" in request.GET.get("prompt", "").split()):
            return None
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError:
            return None
        if not selectors.authorisation_covers(user.person_id, client, scopes):
            return None
        if isinstance(credentials.get("ui_locales"), list):  # as DOT's get() hands it to oauthlib
            credentials["ui_locales"] = " ".join(credentials["ui_locales"])
        try:
            uri, _headers, _body, _status = self.create_authorization_response(
                request=request, scopes=" ".join(scopes), credentials=credentials, allow=True)
        except OAuthToolkitError as error:
            response: HttpResponse = self.error_response(error, client)
            return response
        answer: HttpResponse = self.redirect(uri, client)
        return answer

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        """DOT's consent page context, with the claims the e-service would receive, described in
        the user's language (`claims.CLAIM_LABELS`)."""
        context: dict[str, Any] = super().get_context_data(**kwargs)
        client, scopes = kwargs.get("application"), kwargs.get("scopes") or []
        if isinstance(client, Client):
            context["claims_released"] = [claims.CLAIM_LABELS[name]
                                          for name in claims.releasable(client, scopes)]
        return context

    def login_requirement(self, request: HttpRequest) -> HttpResponse | None:
        """None when this session's login satisfies the request (`prompt.decide`), else the
        step-up redirect or the OIDC Core 3.1.2.6 error sent to the client's redirect URI (only
        once the client and redirect URI are validated: an invalid request is left to DOT's
        answer). A malformed `max_age` is `invalid_request`."""
        try:
            decision = prompt.decide(request)
        except ValueError as exc:
            decision = prompt.Decision(error="invalid_request", description=str(exc))
        if decision.error:
            return self.error_to_client(request, decision)
        if decision.step_up:
            return HttpResponseRedirect(decision.step_up)
        return None

    def error_to_client(self, request: HttpRequest, decision: prompt.Decision) -> HttpResponse | None:
        """The error of `decision` sent to the client's redirect URI with `state` and `iss`
        (OIDC Core 3.1.2.6; RFC 9207), once the client and the redirect URI are validated; None
        for a request DOT must answer itself (its error page: never a redirect to an unverified
        address, RFC 6749 4.1.2.1)."""
        try:
            _scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError:
            return None
        error = CustomOAuth2Error(error=decision.error, state=credentials.get("state"),
                                  description=decision.description or None)
        response: HttpResponse = self.redirect(
            error.in_uri(credentials["redirect_uri"]),
            Client.objects.get(client_id=credentials["client_id"]))
        return response

    def redirect(self, redirect_to: str, application: Any) -> HttpResponse:
        """Every authorization response sent to the client's redirect URI, success or error,
        carries `iss` (RFC 9207 section 2: "in all authorization responses", errors included;
        DOT adds it to successful ones only)."""
        if "iss" not in parse_qs(urlsplit(redirect_to).query):
            redirect_to = add_params_to_uri(redirect_to,
                                            [("iss", oauth2_settings.oidc_issuer(self.request))])
        response: HttpResponse = super().redirect(redirect_to, application)
        return response

    def handle_no_permission(self) -> HttpResponse:
        """A visitor without a completed login: `prompt=none` is answered `login_required` to
        the client's redirect URI (OIDC Core 3.1.2.6); anyone else goes to the portal's login
        page for everyone (the e-ID choice for staff and patients, with the password login for
        staff: an e-service serves either), which comes back here."""
        if "none" in self.request.GET.get("prompt", "").split():
            answer = self.error_to_client(self.request, prompt.Decision(error="login_required"))
            if answer is not None:
                return answer
            response: HttpResponse = super().get(self.request)  # DOT's error page
            return response
        return login_redirect(self.request, "federation:discovery")

    def create_authorization_response(self, request: HttpRequest, scopes: str,
                                      credentials: dict[str, Any], allow: bool) -> Any:
        """DOT's answer with the login the code records (`login_facts`); consent given on the
        consent screen (a POST that allows) is audited (`services_tokens.consent_given`) in the
        transaction that writes the code, so a code never exists without its consent's record."""
        with transaction.atomic():
            answer = super().create_authorization_response(
                request, scopes, {**credentials, "portal_login": login_facts(request)}, allow)
            if allow and request.method == "POST" and isinstance(request.user, User):
                client = Client.objects.get(client_id=credentials["client_id"])
                services_tokens.consent_given(actor=request.user, client=client,
                                              scopes=scopes.split())
        return answer


def authorize_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """The authorization endpoint for staff and patients with a completed login
    (`apps.authn.decorators.user_required`); a visitor without one goes to the login page and
    comes back here (`next`, `apps.authn.redirects.safe_next`), or, with `prompt=none`, is
    answered `login_required` (`AuthorizationView.handle_no_permission`)."""
    view = AuthorizationView.as_view()
    if has_nul(request) or is_staff_session(request) or is_patient_session(request):
        response: HttpResponse = view(request, *args, **kwargs)
        return response
    page = AuthorizationView()
    page.setup(request, *args, **kwargs)
    return page.handle_no_permission()


class TokenView(dot.TokenView):
    """The token endpoint (RFC 6749 3.2) in one transaction, so an authorization code's lock is
    held until its tokens are written (`validator.PortalValidator.validate_code`). DOT's device
    flow branch is left out: every grant goes through oauthlib and the validator, which refuses
    all but the portal's three."""

    @method_decorator(sensitive_post_parameters("client_secret", "code", "code_verifier",
                                                "refresh_token"))
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
            _, headers, body, status = self.create_token_response(request)
        # DOT's authorization_flow_token_response without its app_authorized signal, which no
        # part of the portal receives and which costs a read of the token just written.
        response = HttpResponse(content=body, status=status)
        for name, value in headers.items():
            response[name] = value
        return response


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


#: The parameters of a logout request (OIDC RP-Initiated Logout 1.0 section 2) the portal reads;
#: `logout_hint` and `ui_locales` are ignored (the page follows the user's language setting).
LOGOUT_PARAMETERS = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state")


@method_decorator(never_cache, name="dispatch")
class LogoutView(dot.RPInitiatedLogoutView):
    """The end-session endpoint (OIDC RP-Initiated Logout 1.0; docs/identity-provider.md,
    "Logout"): DOT's view and confirmation form, with the portal's rules (`logout.read`).

    - GET and POST carry the request alike (section 2: the OP MUST support both), so the
      endpoint is exempt from the CSRF check (`urls`): an e-service's form posts here from its
      own origin. Neither logs out without proof: only a valid `id_token_hint` of the
      logged-in person logs out at once; any other logged-in visitor is asked first (section 2:
      the OP MUST ask without such a hint, against logout CSRF) by a form posted, with the CSRF
      token, to `LogoutConfirmView`.
    - The logout is the portal's one logout (`apps.authn.session.log_out`): the `UserSession`
      ends, audited `session.ended`, and its tokens are revoked in the same transaction
      (`authn.signals.session_ended`).
    - Then the browser goes to the client's exactly registered post-logout redirect URI with
      `state` (section 3), without SAML single logout (docs/decisions.md); otherwise to the
      portal's own logged-out page, as after the portal's logout
      (`session.log_out_to_portal`, SAML single logout included).
    - A visitor who is not logged in is sent on the same way ("You were not logged in.").
    """

    template_name = "federation/oidc_logout.html"
    http_method_names = ["get", "post"]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if has_nul(request):  # no parameter of the spec holds one; answered on the page
            return render(request, self.template_name, {"refused": True}, status=400)
        response: HttpResponse = super().dispatch(request, *args, **kwargs)
        return response

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.answer({name: request.GET.get(name, "") for name in LOGOUT_PARAMETERS},
                           confirmed=False)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.answer({name: request.POST.get(name, "") for name in LOGOUT_PARAMETERS},
                           confirmed=False)

    def answer(self, parameters: dict[str, str], *, confirmed: bool) -> HttpResponse:
        """Log out and send the browser on (to `return_to`, else the portal's page), or ask
        first: a logged-in user is asked unless `confirmed` or the hint names their person
        (section 2). The confirmation form is unbound, its hidden fields the request's
        parameters, whether they came by GET or POST."""
        request = self.request
        wanted = logout.read(**parameters, issuer=oauth2_settings.oidc_issuer(request))
        user = request.user
        if (isinstance(user, User) and not confirmed
                and wanted.person_id != str(user.person_id)):
            self.oidc_data = parameters
            response = self.render_to_response(self.get_context_data(
                form=self.form_class(initial=self.get_initial()), application=wanted.client))
            if wanted.return_to:  # CSP 3 form-action also covers the redirect answering the form
                parts = urlsplit(wanted.return_to)
                response._csp_update = {  # type: ignore[attr-defined]
                    "form-action": [f"{parts.scheme}://{parts.netloc}"]}
            return response
        if wanted.return_to is None:
            return session.log_out_to_portal(request)
        session.log_out(request)
        return HttpResponseRedirect(wanted.return_to)


class LogoutConfirmView(LogoutView):
    """The answer to the confirmation page of `LogoutView` (POST only, CSRF-protected): "Log
    out" logs out, and the request is read again from the posted fields, so the redirect rules
    hold for them too; anything else keeps the login."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = FormView.post(self, request, *args, **kwargs)
        return response

    def form_valid(self, form: Any) -> HttpResponse:
        if not form.cleaned_data.get("allow"):
            messages.info(self.request, _("You are still logged in."))
            return redirect("home")
        return self.answer({name: form.cleaned_data.get(name) or ""
                            for name in LOGOUT_PARAMETERS}, confirmed=True)


class JwksView(View):
    """The JWK Set (RFC 7517 section 5) of the ID token signing keys (`keys.jwks`)."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = JsonResponse(keys.jwks())
        response["Access-Control-Allow-Origin"] = "*"
        response["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
        return response
