"""Administration pages for the OpenID Connect provider's e-service clients
(docs/identity-provider.md, "Clients"): an organisation's local administrators register clients
(pending), see them, change their contact and redirect URIs, suspend them and replace their
secret; a federation operator approves (or suspends) them. A new secret is shown once, in the
answer to the request that made it, and never again.

Every page needs a staff login at the administration level. Clients outside the actor's scope are
answered with 404, like missing ones; the federation services check the scope again.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from apps.authn.decorators import acting_user, loa_required, staff_required
from apps.commissions import policies as commission_policies
from apps.core.errors import Forbidden, NotFound, PortalError
from apps.core.forms import add_portal_error
from apps.federation import policies, selectors, services_oidc
from apps.federation.models import Client
from apps.organisations.selectors import organisation_list_in_subtrees

from .forms import ClientContactForm, ClientRegisterForm, EndForm


@staff_required
@loa_required("administration")
def client_list(request: HttpRequest) -> HttpResponse:
    """The clients of the organisations in scope, pending ones first; 404 for someone who is
    neither a local administrator nor a federation operator."""
    actor = acting_user(request)
    clients = selectors.client_list_for_actor(actor)
    can_register = bool(commission_policies.scope_roots(actor))
    if not can_register and not clients.exists():
        raise Http404
    return render(request, "administration/client_list.html",
                  {"clients": clients, "can_register": can_register})


@staff_required
@loa_required("administration")
def client_register(request: HttpRequest) -> HttpResponse:
    """Register a client (federation.services_oidc.client_register); its secret is shown once."""
    actor = acting_user(request)
    roots = commission_policies.scope_roots(actor)
    if not roots:
        raise Http404
    form = ClientRegisterForm(request.POST or None, organisations=organisation_list_in_subtrees(roots),
                              roots=roots)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            done = services_oidc.client_register(
                actor=actor, organisation=data["organisation"], name=data["name"],
                contact_name=data["contact_name"], contact_email=data["contact_email"],
                client_type=data["client_type"], grant_type=data["grant_type"],
                redirect_uris=form.uris(), post_logout_redirect_uris=form.post_logout_uris(),
                allowed_scopes=data["allowed_scopes"],
                allowed_claims=data["allowed_claims"], algorithm=data["algorithm"],
                first_party=data["first_party"])
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            return _show_once(request, done.client, done.secret, new=True)
    return render(request, "administration/client_register.html", {"form": form})


@staff_required
@loa_required("administration")
def client_detail(request: HttpRequest, client_id: uuid.UUID) -> HttpResponse:
    """A client's registration, with the contact and redirect URI form for its administrators
    (federation.services_oidc.client_update), which says before and after saving that a new
    address sends an approved client back for approval when the actor may not approve it."""
    actor = acting_user(request)
    client = selectors.client_get_for_actor(actor, client_id)
    can_manage = policies.can_manage_client(actor, client.organisation)
    form = ClientContactForm(request.POST or None, initial={
        "contact_name": client.contact_name, "contact_email": client.contact_email,
        "redirect_uris": "\n".join(client.redirect_uris.split()),
        "post_logout_redirect_uris": "\n".join(client.post_logout_redirect_uris.split())})
    if request.method == "POST" and form.is_valid():
        try:
            updated = services_oidc.client_update(
                actor=actor, client=client, contact_name=form.cleaned_data["contact_name"],
                contact_email=form.cleaned_data["contact_email"], redirect_uris=form.uris(),
                post_logout_redirect_uris=form.post_logout_uris())
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            messages.success(request, str(_("The client was changed.")))
            if updated.state != client.state:
                messages.warning(request, str(_(
                    "The new address needs a federation operator's approval: the client does "
                    "not work until it is approved again.")))
            return redirect("administration:client_detail", client_id=client.pk)
    return render(request, "administration/client_detail.html", {
        "client": client, "form": form, "can_manage": can_manage,
        "can_approve": policies.can_approve_client(actor, client.organisation),
        "suspend_form": EndForm()})


@staff_required
@loa_required("administration")
def client_approve(request: HttpRequest, client_id: uuid.UUID) -> HttpResponse:
    """A federation operator approves the client (POST only)."""
    actor = acting_user(request)
    client = selectors.client_get_for_actor(actor, client_id)
    if request.method == "POST":
        try:
            services_oidc.client_approve(actor=actor, client=client)
        except PortalError as exc:
            _refusal(request, exc)
        else:
            messages.success(request, str(_("The client was approved.")))
    return redirect("administration:client_detail", client_id=client.pk)


@staff_required
@loa_required("administration")
def client_suspend(request: HttpRequest, client_id: uuid.UUID) -> HttpResponse:
    """Suspend the client, with a reason (POST only)."""
    actor = acting_user(request)
    client = selectors.client_get_for_actor(actor, client_id)
    form = EndForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services_oidc.client_suspend(actor=actor, client=client,
                                         reason=form.cleaned_data["reason"])
        except PortalError as exc:
            _refusal(request, exc)
        else:
            messages.success(request, str(_("The client was suspended.")))
    elif request.method == "POST":
        messages.error(request, str(_("Give a reason for the suspension.")))
    return redirect("administration:client_detail", client_id=client.pk)


@staff_required
@loa_required("administration")
def client_secret_rotate(request: HttpRequest, client_id: uuid.UUID) -> HttpResponse:
    """Replace the client's secret (POST only); the new one is shown once."""
    actor = acting_user(request)
    client = selectors.client_get_for_actor(actor, client_id)
    if request.method != "POST":
        return redirect("administration:client_detail", client_id=client.pk)
    try:
        done = services_oidc.client_secret_rotate(actor=actor, client=client)
    except PortalError as exc:
        _refusal(request, exc)
        return redirect("administration:client_detail", client_id=client.pk)
    return _show_once(request, done.client, done.secret, new=False)


#: The session key of a client secret waiting to be shown once (`client_credentials_shown`).
SHOW_ONCE_KEY = "client_secret_once"


def _show_once(request: HttpRequest, client: Client, secret: str, *, new: bool) -> HttpResponse:
    """Keep the new credentials in the session for one view and redirect to it (POST, redirect,
    GET): reloading the page then neither registers a second client nor replaces the secret
    again."""
    request.session[SHOW_ONCE_KEY] = {"client": str(client.pk), "secret": secret, "new": new}
    return redirect("administration:client_credentials_shown", client_id=client.pk)


@staff_required
@loa_required("administration")
@never_cache
def client_credentials_shown(request: HttpRequest, client_id: uuid.UUID) -> HttpResponse:
    """The client ID and the secret just made, shown once: the session forgets the secret as
    the page is made, so a reload or a later visit goes to the client's page instead."""
    actor = acting_user(request)
    client = selectors.client_get_for_actor(actor, client_id)
    waiting = request.session.pop(SHOW_ONCE_KEY, None)
    if not isinstance(waiting, dict) or waiting.get("client") != str(client.pk):
        messages.info(request, str(_("A client secret is shown only once. If it was not copied, "
                                     "replace the secret.")))
        return redirect("administration:client_detail", client_id=client.pk)
    return render(request, "administration/client_secret.html",
                  {"client": client, "secret": waiting.get("secret"), "new": waiting.get("new")})


def _refusal(request: HttpRequest, exc: PortalError) -> None:
    """A refused action's message on the next page; NotFound and Forbidden stay answers."""
    if isinstance(exc, (NotFound, Forbidden)):
        raise exc
    messages.error(request, str(exc.message))
