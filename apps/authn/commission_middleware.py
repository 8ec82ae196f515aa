"""Re-validates the chosen commission on every request and puts it into the audit context.

A commission is checked when it is used, not only when it was chosen: one that has ended, was
ended by an administrator, or whose validity passed is dropped from the session at the next
request, and the person is told so (a translated message) and sent to the choice page, which also
tells them when they have no other. The valid one is `request.commission`, and the audit request
context (`apps.audit.context`) carries its HSA-id and its care unit's (or, without a unit, its care
provider's) HSA-id, so every audit row written during the request names the commission acted under
(HSLF-FS 2016:40 4 kap. 9 §: the user's commission and unit). One query per request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.audit import context
from apps.authn import commission as choice
from apps.commissions import selectors
from apps.commissions.models import ValidityStatus
from apps.identities.models import User


class CommissionMiddleware:
    """After authentication and the audit context (settings.MIDDLEWARE): validate the session's
    chosen commission, set `request.commission` (a Commission or None) and the audit context's
    `commission_hsa_id` and `organisation_hsa_id`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.commission = None  # type: ignore[attr-defined]
        session = getattr(request, "session", None)
        stored = session.get(choice.SESSION_KEY) if session is not None else None
        if stored is None:
            return self.get_response(request)
        user = getattr(request, "user", None)
        if not (isinstance(user, User) and user.kind == User.Kind.STAFF):
            choice.forget(request)  # logged out, or not staff: nothing to tell
            return self.get_response(request)
        commission = selectors.commission_get_acting(user.person_id, stored)
        if commission is not None and commission.status(timezone.now()) == ValidityStatus.ACTIVE:
            request.commission = commission  # type: ignore[attr-defined]
            unit = commission.care_unit or commission.care_provider
            acting = replace(context.current(), commission_hsa_id=commission.hsa_id,
                             organisation_hsa_id=unit.hsa_id)
            with context.using(acting):
                return self.get_response(request)
        choice.forget(request)
        if commission is None:
            messages.warning(request, _("The commission you acted under is no longer yours. "
                                        "You no longer act under it."))
        else:
            messages.warning(request, _(
                "Your commission %(commission)s has ended, so you no longer act under it."
            ) % {"commission": choice.describe(commission)})
        if not self._redirects(request):
            return self.get_response(request)
        back = request.get_full_path() if request.method in ("GET", "HEAD") else request.path
        return HttpResponseRedirect(choice.choice_url(back))

    @staticmethod
    def _redirects(request: HttpRequest) -> bool:
        """Pages go to the choice page; the choice page itself, logging out and the API (which
        answers JSON, never a page) go on without the commission."""
        exempt = (reverse("authn:commission"), reverse("authn:logout"))
        return request.path not in exempt and not request.path.startswith("/api/")
