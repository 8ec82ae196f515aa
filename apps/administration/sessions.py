"""Administration of a person's login sessions: a local administrator ends one session or all
of them, with a reason the person sees on their own sessions page (docs/journey-sessions-admin.md).

The person is found in the administrator's scope first and the session among that person's
staff sessions, so a person outside the scope, a patient account's session and a session id of
another person in the URL of a person in scope are all answered 404. The service checks the
scope again (`apps.authn.policies.require_manage_sessions`). Each page confirms first and says
what will happen; the administrator's own current session is never offered and is refused.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.authn import selectors, services, session
from apps.authn.decorators import acting_user, loa_required, staff_required
from apps.authn.models import UserSession
from apps.core.errors import PortalError
from apps.core.forms import add_portal_error

from .forms import SessionEndForm
from .views import _person_in_scope, session_rows

OWN_SESSION = _("This is the session you are using now. To end it, log out.")
OWN_SESSIONS = _("These are your own sessions. End them on your page My sessions, where you can "
                 "keep the one you are using.")


@staff_required
@loa_required("administration")
def session_end(request: HttpRequest, person_id: uuid.UUID, session_id: uuid.UUID) -> HttpResponse:
    """Confirm, then end one active session of the person's staff accounts with a reason
    (`authn.services.session_end`, reason `admin`). The administrator's own current session is
    refused (log out instead)."""
    _roots, person = _person_in_scope(request, person_id)
    row = selectors.session_get_for_staff_person(person, session_id)
    own = row.key_hash == session.current_key_hash(request)
    form = SessionEndForm(request.POST or None)
    if request.method == "POST" and not own and form.is_valid():
        try:
            services.session_end(actor=acting_user(request), user_session=row,
                                 reason=UserSession.EndReason.ADMIN,
                                 note=form.cleaned_data["note"])
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            messages.success(request, str(_(
                "The session was ended. That browser is logged out at its next request.")))
            return redirect("administration:person_detail", person_id=person.pk)
    return render(request, "administration/session_end.html", {
        "person": person, "form": form, "own": own, "refusal": OWN_SESSION if own else "",
        "sessions": session_rows([row], request),
    }, status=409 if own and request.method == "POST" else 200)


@staff_required
@loa_required("administration")
def sessions_end_all(request: HttpRequest, person_id: uuid.UUID) -> HttpResponse:
    """Confirm, then end every active session of the person's staff accounts with a reason
    (`authn.services.sessions_end_all`, reason `admin`). Refused on the administrator's own
    person: that would end the session in use (My sessions can keep it)."""
    _roots, person = _person_in_scope(request, person_id)
    own = person.pk == acting_user(request).person_id
    rows = session_rows(selectors.sessions_list_for_person(person, staff_only=True), request)
    form = SessionEndForm(request.POST or None)
    if request.method == "POST" and not own and form.is_valid():
        try:
            count = services.sessions_end_all(actor=acting_user(request), person=person,
                                              reason=UserSession.EndReason.ADMIN,
                                              note=form.cleaned_data["note"])
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            messages.success(request, ngettext(
                "%(count)d session was ended. That browser is logged out at its next request.",
                "%(count)d sessions were ended. Those browsers are logged out at their next "
                "request.", count) % {"count": count})
            return redirect("administration:person_detail", person_id=person.pk)
    return render(request, "administration/session_end.html", {
        "person": person, "form": form, "own": own, "refusal": OWN_SESSIONS if own else "",
        "sessions": rows, "all": True,
    }, status=409 if own and request.method == "POST" else 200)
