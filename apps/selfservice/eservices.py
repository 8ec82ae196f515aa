"""`/my/e-services/`: the e-services the logged-in user (staff or patient) has authorised through
the portal's OpenID Connect provider, with "Revoke" per e-service: its tokens stop working at once
(docs/identity-provider.md, "My e-services")."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.authn.decorators import acting_user, user_required
from apps.federation import selectors, services_tokens


@user_required
@never_cache
def my_eservices(request: HttpRequest) -> HttpResponse:
    """The list: e-service, organisation, scopes, first authorised, last used."""
    user = acting_user(request)
    return render(request, "selfservice/eservices.html",
                  {"rows": selectors.authorisations_for_person(user.person_id)})


@user_required
@require_POST
def my_eservice_revoke(request: HttpRequest, client_id: uuid.UUID) -> HttpResponse:
    """Withdraw one e-service's authorisation (NotFound for one the user has not authorised)."""
    user = acting_user(request)
    client = selectors.authorised_client_get(user.person_id, client_id)
    services_tokens.authorisation_revoke(actor=user, client=client)
    messages.success(request, _("%(name)s can no longer use your login. The next time you use "
                                "it, you log in again.") % {"name": client.name})
    return redirect("selfservice:my_eservices")


urlpatterns = [
    path("my/e-services/", my_eservices, name="my_eservices"),
    path("my/e-services/<uuid:client_id>/revoke/", my_eservice_revoke, name="my_eservice_revoke"),
]
