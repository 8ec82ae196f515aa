"""`/my/sessions/`: the logged-in user's (staff or patient) active login sessions, with "end" per
session and "log out everywhere" (docs/sessions.md). Ending the session in use logs out here too.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.authn import selectors, services, session
from apps.authn.decorators import acting_user, user_required
from apps.authn.methods import method_label
from apps.authn.models import UserSession
from apps.core import loa as levels
from apps.core.errors import PortalError


@user_required
@never_cache
def my_sessions(request: HttpRequest) -> HttpResponse:
    """The list: started, last seen, address, method, level; "this session" marked. Below it,
    the sessions ended in the last 7 days and why (`UserSession.EndReason`)."""
    user = acting_user(request)
    current = session.current_key_hash(request)
    rows = [{"session": row, "this": row.key_hash == current, "method": method_label(row.methods),
             "level": levels.level(row.loa)}
            for row in selectors.sessions_list_for_person(user.person)]
    rows.sort(key=lambda item: not item["this"])  # this session first, then newest first
    ended = [{"session": row, "method": method_label(row.methods)}
             for row in selectors.sessions_recently_ended_for_person(user.person)]
    return render(request, "selfservice/sessions.html", {"rows": rows, "ended": ended})


@user_required
@require_POST
def my_session_end(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    """End one session of the user's own (NotFound for anyone else's or one already ended)."""
    user = acting_user(request)
    row = selectors.session_get_for_actor(user, session_id)
    this = row.key_hash == session.current_key_hash(request)
    try:
        services.session_end(actor=user, user_session=row, reason=UserSession.EndReason.ENDED)
    except PortalError as exc:
        messages.error(request, str(exc.message))
        return redirect("selfservice:my_sessions")
    if this:
        logout(request)
        messages.success(request, _("You are logged out."))
        return redirect("home")
    messages.success(request, _("The session is ended. That browser is no longer logged in."))
    return redirect("selfservice:my_sessions")


@user_required
@require_POST
def my_sessions_end_all(request: HttpRequest) -> HttpResponse:
    """Log out everywhere: every session of the user's person, this one included."""
    user = acting_user(request)
    try:
        services.sessions_end_all(actor=user, person=user.person)
    except PortalError as exc:
        messages.error(request, str(exc.message))
        return redirect("selfservice:my_sessions")
    logout(request)
    messages.success(request, _("You are logged out everywhere."))
    return redirect("home")


urlpatterns = [
    path("my/sessions/", my_sessions, name="my_sessions"),
    path("my/sessions/<uuid:session_id>/end/", my_session_end, name="my_session_end"),
    path("my/sessions/end-all/", my_sessions_end_all, name="my_sessions_end_all"),
]
