"""Federated login pages: choosing an e-ID provider, the SAML2 endpoints of the portal's service
provider (assertion consumer, single logout, metadata) and the IdP state page for the platform's
administrators. The rules live in `saml`, `flow` and `services`; these views only route."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import saml2
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from djangosaml2.views import MetadataView
from saml2.metadata import entity_descriptor

from apps.authn import commission, session
from apps.authn import services as authn_services
from apps.authn.decorators import acting_user, loa_required, staff_required
from apps.authn.redirects import safe_next
from apps.core import loa
from apps.core.assurance import mint_step_up
from apps.core.errors import PortalError
from apps.federation import flow, saml, selectors, services
from apps.federation.actors import SAML_SP

logger = logging.getLogger(__name__)

#: The cookie remembering the e-ID provider this browser chose last (its id; a year).
CHOICE_COOKIE = "portal_idp"
CHOICE_COOKIE_AGE = 365 * 24 * 3600
SLO_KEY = session.SAML_LOGOUT_KEY
#: The ID of the LogoutRequest this browser was sent to the IdP with.
SLO_SENT_KEY = "saml_logout_sent"
GENERIC_REFUSAL = _("The login could not be completed. Start the login again; if it happens "
                    "again, contact your e-ID provider's support.")


@require_GET
def discovery_view(request: HttpRequest) -> HttpResponse:
    """Choose an e-ID provider (`?for=staff|patient`, `?next=`, `?purpose=step_up`). The one
    this browser chose last is listed first. A login (not a step-up) also offers a passkey
    (staff and patients) and, for staff, the mobile e-ID and the password."""
    accounts = request.GET.get("for") if request.GET.get("for") in ("staff", "patient") else None
    idps = selectors.idp_list_for_login(accounts)
    remembered = request.COOKIES.get(CHOICE_COOKIE, "")
    idps.sort(key=lambda idp: str(idp.pk) != remembered)
    purpose = "step_up" if request.GET.get("purpose") == "step_up" else "login"
    return render(request, "federation/discovery.html", {
        "idps": idps, "remembered": remembered, "next": safe_next(request.GET.get("next")),
        "purpose": purpose, "accounts": accounts,
        "password_login": accounts in (None, "staff") and purpose == "login",
        "passkey_level": loa.level(settings.PORTAL_PASSKEY_LOA)})


@never_cache
@require_GET
def login_view(request: HttpRequest, idp_id: str) -> HttpResponse:
    """Send the browser to the IdP with a signed AuthnRequest (HTTP-Redirect). `purpose=step_up`
    (logged in only) asks the IdP to authenticate anew (ForceAuthn) at least at LoA 3
    (`SAML_STEP_UP_LOA`); the answer must come for the person already logged in."""
    idp = selectors.idp_get_for_login(idp_id)
    next_path = safe_next(request.GET.get("next"))
    if idp is None:
        messages.error(request, _("This e-ID provider cannot be used right now. Choose another "
                                  "or try again later."))
        return redirect(f"{reverse('federation:discovery')}?{urlencode({'next': next_path})}")
    step_up = request.GET.get("purpose") == "step_up" and request.user.is_authenticated
    requested = settings.SAML_STEP_UP_LOA if step_up else settings.SAML_LOGIN_LOA
    try:
        outgoing = saml.authn_request(idp.metadata_xml, idp.entity_id, force_authn=step_up,
                                      requested_loa=requested)
    except saml.Refused:
        messages.error(request, _("This e-ID provider cannot be used right now. Choose another "
                                  "or try again later."))
        return redirect(f"{reverse('federation:discovery')}?{urlencode({'next': next_path})}")
    flow.start(request.session, idp=idp, request_id=outgoing.request_id,
               purpose="step_up" if step_up else "login", next_path=next_path,
               requested_loa=requested or "",
               step_up_user_id=request.user.pk if step_up else None)
    response = HttpResponseRedirect(outgoing.location)
    response.set_cookie(CHOICE_COOKIE, str(idp.pk), max_age=CHOICE_COOKIE_AGE, httponly=True,
                        samesite="Lax", secure=request.is_secure())
    return response


@csrf_exempt  # the IdP's cross-site POST (SAML 2.0 bindings 3.5); its signature is the check
@require_POST
def acs_view(request: HttpRequest) -> HttpResponse:
    """Assertion consumer service (HTTP-POST binding). Verifies the response and sends the browser
    on to `complete_view` (303), which finishes the login in the session that started it."""
    state = services.assertion_accept(actor=SAML_SP,
                                      saml_response=request.POST.get("SAMLResponse", ""))
    if state is None:
        return render(request, "federation/refused.html", {"message": GENERIC_REFUSAL}, status=400)
    return HttpResponseRedirect(reverse("federation:complete"), status=303)


@never_cache
@require_GET
def complete_view(request: HttpRequest) -> HttpResponse:
    """Finish the login (or step-up) that this browser session started, once."""
    outcome = flow.complete(request.session)
    state = outcome.state
    if outcome.error or state is None or state.user is None:
        message = services.REFUSALS.get(outcome.error, GENERIC_REFUSAL)
        return render(request, "federation/refused.html", {
            "message": message, "code": outcome.error,
            "idp": state.idp if state is not None else None,
            "staff_unknown": outcome.error == "staff.unknown"}, status=403)
    user, entity_id = state.user, state.idp.entity_id
    slo = {"idp": entity_id, "name_id": state.name_id, "session_index": state.session_index}
    if state.purpose == "step_up":
        if request.user.pk != user.pk:
            return render(request, "federation/refused.html",
                          {"message": services.REFUSALS["step_up.other_person"]}, status=403)
        session.raise_level(request, loa=state.loa, method="saml", idp=entity_id)
        if not session.store_step_up(request, mint_step_up(user.pk, "saml", loa=state.loa)):
            messages.info(request, session.ENDED_MESSAGE)
            return redirect("home")
        authn_services.step_up_succeeded(actor=user, method="saml", loa=state.loa)
        request.session["saml"] = slo
        return HttpResponseRedirect(state.next_path)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    session.set_login(request, loa=state.loa, methods=["saml"], idp=entity_id)
    request.session["saml"] = slo
    try:
        authn_services.login_succeeded(actor=user, loa=state.loa, methods=["saml"])
    except PortalError:
        logout(request)
        return render(request, "federation/refused.html", {"message": GENERIC_REFUSAL}, status=403)
    return commission.after_login(request, user, state.next_path)


@never_cache
@require_GET
def slo_start_view(request: HttpRequest) -> HttpResponse:
    """After the local logout (`apps.authn.views.logout_view` leaves the IdP session's NameID
    and SessionIndex under `saml_logout`), ask the IdP to end its session too (SAML 2.0 profiles
    4.4, single logout) when it offers single logout; otherwise just confirm the local logout.

    The LogoutRequest goes by a page that moves on at once (meta refresh, and a link), not by a
    redirect: this page is reached by redirects from the logout form's POST, and a browser applies
    the form page's CSP `form-action 'self'` to every redirect of a form submission (CSP Level 3,
    form-action), so a redirect to the IdP would be blocked."""
    data = request.session.pop(SLO_KEY, None)
    idp = next((i for i in selectors.idp_list_for_login()
                if isinstance(data, dict) and i.entity_id == data.get("idp")), None)
    if idp is None or not isinstance(data, dict):
        return redirect("home")
    try:
        client = saml.client_for(idp.metadata_xml)
        name_id = saml2.saml.name_id_from_string(str(data.get("name_id", "")))
        location = client.metadata.single_logout_service(
            idp.entity_id, saml2.BINDING_HTTP_REDIRECT, "idpsso")[0]["location"]
        _id, request_xml = client.create_logout_request(
            location, idp.entity_id, name_id=name_id,
            session_indexes=[data["session_index"]] if data.get("session_index") else None,
            sign=False)
        info: Any = client.apply_binding(saml2.BINDING_HTTP_REDIRECT, str(request_xml), location,
                                         sign=True, sigalg=saml2.xmldsig.SIG_RSA_SHA256)
    except Exception:  # no SLO endpoint or a broken NameID: the local logout stands
        logger.info("single logout not offered by %s", idp.entity_id, exc_info=True)
        return redirect("home")
    request.session[SLO_SENT_KEY] = str(_id)
    return render(request, "federation/slo.html",
                  {"location": dict(info["headers"])["Location"]})


@never_cache
@require_GET
def ls_view(request: HttpRequest) -> HttpResponse:
    """Single logout service (HTTP-Redirect). A LogoutResponse ends the SP-initiated logout (the
    local session ended before). A LogoutRequest from the IdP must carry a valid query-string
    signature by a key of that IdP's metadata (`saml.logout_request`); it logs out this browser's
    session only when the session's login came from that IdP for that NameID (the session's
    record ends as at a logout), and is answered with a signed LogoutResponse (Success, or
    UnknownPrincipal for another NameID). Anything else leads to the start page."""
    if "SAMLResponse" in request.GET:
        sent = request.session.pop(SLO_SENT_KEY, "")
        if sent and saml.logout_succeeded(request.GET["SAMLResponse"], str(sent)):
            messages.success(request, _("You are logged out, also at your e-ID provider."))
        return redirect("home")
    current = request.session.get("saml") if request.user.is_authenticated else None
    if not isinstance(current, dict):
        current = {}
    idp = next((i for i in selectors.idp_list_for_login()
                if i.entity_id == current.get("idp")), None)
    if idp is None:
        return redirect("home")
    relay_state = request.GET.get("RelayState", "")
    try:
        client, message = saml.logout_request(
            idp.metadata_xml, saml_request=request.GET.get("SAMLRequest", ""),
            relay_state=relay_state, sigalg=request.GET.get("SigAlg", ""),
            signature=request.GET.get("Signature", ""))
        ours = saml2.saml.name_id_from_string(str(current.get("name_id", "")))
        issuer = (message.issuer.text or "").strip() if message.issuer is not None else ""
        named = message.name_id
        same = (issuer == idp.entity_id and named is not None and ours is not None
                and (named.text or "").strip() == (ours.text or "").strip())
        location = saml.logout_answer(client, message, relay_state=relay_state, done=same)
    except Exception:  # a refused or unreadable request: the session stays
        logger.info("refused a logout request", exc_info=True)
        return redirect("home")
    if same:
        session.log_out(request)  # its record ends too, as at a logout on the portal
    return HttpResponseRedirect(location)


@staff_required
def idp_list_view(request: HttpRequest) -> HttpResponse:
    """The platform administrators' view of every configured IdP and its metadata state. Anyone
    else gets 404 before the level is looked at (the page's existence never leaks); then the level
    administration needs (`PORTAL_LOA_REQUIRED["administration"]`), as on every administration
    page."""
    return _idp_list_page(request, selectors.idp_list_for_admin(acting_user(request)))


@loa_required("administration")
def _idp_list_page(request: HttpRequest, idps: Any) -> HttpResponse:
    return render(request, "federation/idp_list.html", {"idps": idps})


class SPMetadataView(MetadataView):
    """The portal's SP metadata (SAML 2.0 metadata 2.4.4), from djangosaml2's configuration
    loader, announcing only the signature and digest algorithms the portal accepts
    (`saml.STRONG_ALGORITHMS`; pysaml2 would list every algorithm xmlsec1 knows, MD5 and SHA-1
    included)."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        descriptor = entity_descriptor(self.get_sp_config(request))
        if descriptor.extensions is not None:
            descriptor.extensions.extension_elements = [
                element for element in descriptor.extensions.extension_elements
                if getattr(element, "attributes", {}).get("Algorithm") in saml.STRONG_ALGORITHMS]
        return HttpResponse(content=str(descriptor).encode("utf-8"),
                            content_type="application/samlmetadata+xml; charset=utf-8")
