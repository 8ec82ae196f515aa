"""The page that carries a finished login on to the authorization endpoint ("Continuing to the
e-service"), instead of a redirect that a browser would block.

A login that began at an e-service's authorization request ends by sending the browser back to
`/oauth2/authorize/...`, which answers with a redirect to the client's redirect URI on another
origin. When that login ended with a form submission (the IdP's SAML POST to the assertion
consumer, the password and code forms, the choice of commission, the step-up form), a browser
applies the submitting page's CSP `form-action` to every redirect of that submission (CSP Level 3,
section 6.3.1 form-action), so the IdP's or the portal's own `form-action` would block the last hop
to the client. A page that moves on at once (meta refresh 0, and a link for browsers that do not
refresh) starts a new navigation, which `form-action` does not cover; no CSP is weakened. The SAML
single logout uses the same kind of page (`apps.federation.views.slo_start_view`).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

#: The redirect statuses (RFC 9110 15.4) this middleware looks at.
REDIRECTS = frozenset({301, 302, 303, 307, 308})


def continues_to_authorization(request: HttpRequest, response: HttpResponse) -> str | None:
    """The `Location` of `response` when it redirects to this host's authorization endpoint from
    any other page (a relative URL, or an absolute one naming this host); else None."""
    if response.status_code not in REDIRECTS:
        return None
    location = str(response.get("Location", ""))
    parts = urlsplit(location)
    endpoint = reverse("oauth2_provider:authorize")
    if parts.path != endpoint or request.path == endpoint:
        return None
    if (parts.scheme or parts.netloc) and parts.netloc != request.get_host():
        return None
    return location


class AuthorizationContinueMiddleware:
    """Every redirect to the authorization endpoint from another page of the portal becomes the
    page "Continuing to the e-service" (status 200, `federation/oidc_continue.html`), which moves
    on to the same URL at once. All ways to finish a login (`apps.authn.commission.after_login`,
    the choice of commission, step-up, the SAML completion) pass through it, so none of them needs
    to know."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        location = continues_to_authorization(request, response)
        if location is None:
            return response
        return render(request, "federation/oidc_continue.html", {"location": location})
