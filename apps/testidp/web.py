"""The test IdP's web pages: a small WSGI application (served by `manage.py testidp`).

Routes (`<p>` is a personality, "staff" or "citizen"):

- `GET /` lists the personalities.
- `GET /<p>/metadata`: the signed metadata (`application/samlmetadata+xml`).
- `GET|POST /<p>/sso`: an AuthnRequest by HTTP-Redirect (query) or HTTP-POST (form), SAML 2.0
  bindings §3.4 and §3.5; answers a page to pick a demo person, optionally "at level 2".
- `POST /<p>/login`: the choice; answers a page that POSTs SAMLResponse and RelayState to the SP's
  ACS (a script submits it; a visible button does without JavaScript). The request travels in the
  form and is parsed again: the IdP keeps no session, so ForceAuthn is honoured trivially.
- `GET /<p>/slo`: a LogoutRequest by HTTP-Redirect; redirects to the SP's SingleLogoutService with
  a signed LogoutResponse.
- `GET /static/testidp.css|testidp.js`.

Pages are translated like the portal's (its `django_language` cookie, else Accept-Language), have
no inline style or script, and send their own Content-Security-Policy. Bad input answers 400 with
a message, a portal that is not up yet 503; no input yields a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core.handlers.wsgi import WSGIRequest
from django.db import close_old_connections, connections
from django.http import HttpResponse, HttpResponseBase
from django.template import Context, Engine
from django.utils import translation
from django.utils.translation import gettext as _

from apps.testidp import people
from apps.testidp.idp import LOA2, LOA3, BadRequest, SPMetadataUnavailable, TestIdP

logger = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
ENGINE = Engine(dirs=[str(HERE / "templates")], libraries={"i18n": "django.templatetags.i18n"},
                autoescape=True)
STATIC = {"testidp.css": "text/css; charset=utf-8", "testidp.js": "text/javascript; charset=utf-8"}
People = Callable[[str], list[people.Choice]]
Attributes = Callable[[str, str], "dict[str, str] | None"]


def _csp(form_action: str = "") -> str:
    return ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
            f"form-action 'self'{' ' + form_action if form_action else ''}; "
            "frame-ancestors 'none'; base-uri 'none'")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else ""


class TestIdPApp:
    """The WSGI application. `idps` maps each personality to its `TestIdP`; `choices` and
    `attributes` default to the portal's database (`people`). `own_connections`: close this
    thread's database connections after each request (the server's threads; not in tests, whose
    transaction lives on the test's connection)."""

    __test__ = False

    def __init__(self, idps: Mapping[str, TestIdP], *, choices: People = people.choices,
                 attributes: Attributes = people.attributes, own_connections: bool = False) -> None:
        self.idps = dict(idps)
        self.own_connections = own_connections
        self.choices = choices
        self.attributes = attributes

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.own_connections:
            close_old_connections()
        try:
            request = WSGIRequest(environ)
            language = translation.get_language_from_request(request)
            with translation.override(language):
                try:
                    response = self.dispatch(request)
                except BadRequest as exc:
                    response = self.error(400, _("This is not a request the test IdP can answer."), str(exc))
                except SPMetadataUnavailable as exc:
                    response = self.error(503, _("The portal is not answering yet. Start it, then "
                                                 "reload this page."), str(exc))
                except Exception:  # no input yields a 500 page without a message
                    logger.exception("The test IdP failed")
                    response = self.error(500, _("The test IdP failed; see its log."), "")
        finally:
            if self.own_connections:
                connections.close_all()
        response.setdefault("X-Content-Type-Options", "nosniff")
        response.setdefault("Referrer-Policy", "no-referrer")
        response.setdefault("Cache-Control", "no-store")
        status = f"{response.status_code} {response.reason_phrase}"
        headers = [*response.items(),
                   *(("Set-Cookie", cookie.output(header="")) for cookie in response.cookies.values())]
        start_response(status, headers)
        return response

    # Pages -----------------------------------------------------------------------------------

    def render(self, template: str, context: dict[str, Any], *, status: int = 200,
               form_action: str = "") -> HttpResponse:
        context = {"LANG": translation.get_language(), **context}
        html = ENGINE.get_template(template).render(Context(context))
        response = HttpResponse(html, status=status, content_type="text/html; charset=utf-8")
        response["Content-Security-Policy"] = _csp(form_action)
        return response

    def error(self, status: int, message: str, detail: str) -> HttpResponse:
        return self.render("testidp/error.html", {"message": message, "detail": detail}, status=status)

    def dispatch(self, request: WSGIRequest) -> HttpResponseBase:
        parts = [part for part in request.path_info.split("/") if part]
        method = request.method or "GET"
        if not parts:
            return self.render("testidp/index.html", {"idps": self.idps.values()})
        if len(parts) == 2 and parts[0] == "static" and parts[1] in STATIC:
            response = HttpResponse((HERE / "static" / parts[1]).read_bytes(),
                                    content_type=STATIC[parts[1]])
            response["Cache-Control"] = "max-age=3600"
            return response
        if len(parts) != 2 or parts[0] not in self.idps:
            return self.error(404, _("There is no such page."), request.path_info[:200])
        idp, action = self.idps[parts[0]], parts[1]
        allowed = {"metadata": ("GET", "HEAD"), "sso": ("GET", "POST"), "login": ("POST",),
                   "slo": ("GET",)}
        if action not in allowed:
            return self.error(404, _("There is no such page."), request.path_info[:200])
        if method not in allowed[action]:
            response = self.error(405, _("This page does not take that kind of request."), method)
            response["Allow"] = ", ".join(allowed[action])
            return response
        return getattr(self, action)(request, idp)

    def metadata(self, request: WSGIRequest, idp: TestIdP) -> HttpResponse:
        return HttpResponse(idp.metadata_xml(), content_type="application/samlmetadata+xml")

    def _saml_request(self, request: WSGIRequest) -> tuple[str, str, str]:
        """(SAMLRequest, binding, RelayState) from the query (HTTP-Redirect) or the form."""
        if request.method == "GET":
            data, binding = request.GET, "redirect"
        else:
            data = request.POST
            binding = data.get("binding", "post")
            binding = binding if binding in ("redirect", "post") else "post"
        saml_request = data.get("SAMLRequest", "")
        if not saml_request:
            raise BadRequest("SAMLRequest is missing.")
        return saml_request, binding, data.get("RelayState", "")[:1000]

    def sso(self, request: WSGIRequest, idp: TestIdP, *, error: str = "", status: int = 200) -> HttpResponse:
        saml_request, binding, relay_state = self._saml_request(request)
        info = idp.parse_authn_request(saml_request, binding)
        return self.render("testidp/login.html", {
            "idp": idp, "choices": self.choices(idp.personality), "info": info,
            "saml_request": saml_request, "binding": binding, "relay_state": relay_state,
            "error": error, "requested": ", ".join(info.requested_loas) or "—",
        }, status=status)

    def login(self, request: WSGIRequest, idp: TestIdP) -> HttpResponse:
        saml_request, binding, relay_state = self._saml_request(request)
        info = idp.parse_authn_request(saml_request, binding)
        attributes = self.attributes(idp.personality, request.POST.get("person", ""))
        if attributes is None:
            return self.sso(request, idp, error=_("Choose the person to log in as."), status=400)
        if idp.personality != "staff":
            attributes.pop("employeeHsaId", None)
        loa = LOA2 if request.POST.get("level") == "2" else LOA3
        answer = idp.response(info, attributes, loa=loa)
        return self.render("testidp/post.html", {
            "acs_url": answer.acs_url, "saml_response": answer.saml_response, "relay_state": relay_state,
        }, form_action=_origin(answer.acs_url))

    def slo(self, request: WSGIRequest, idp: TestIdP) -> HttpResponse:
        saml_request = request.GET.get("SAMLRequest", "")
        if not saml_request:
            raise BadRequest("SAMLRequest is missing.")
        location = idp.logout_response(saml_request, request.GET.get("RelayState", "")[:1000],
                                       sig_alg=request.GET.get("SigAlg"),
                                       signature=request.GET.get("Signature"))
        response = HttpResponse(status=303)
        response["Location"] = location
        return response

