"""The choice of commission (uppdragsval): which medarbetaruppdrag a staff member acts under.

After any completed login (password + TOTP, SAML) the login view calls `after_login`: a staff
member with one valid commission acts under it at once, one with several chooses on the choice
page (`authn:commission`), and one with none continues without (self-service works; pages that act
at a care unit say that they need a commission). The choice is kept as
`request.session["commission"]` = the commission's id (str UUID); `CommissionMiddleware`
re-validates it on every request and puts it on `request.commission`. Choosing, automatically or
by hand, goes through `apps.commissions.services.commission_choose` (audited `commission.chosen`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from apps.authn import redirects
from apps.commissions import selectors as commission_selectors
from apps.commissions import services as commission_services
from apps.core.errors import PortalError
from apps.identities.models import User

if TYPE_CHECKING:
    from apps.commissions.models import Commission

#: The session key of the chosen commission's id (a shared contract: str UUID, or absent).
SESSION_KEY = "commission"


def safe_next(request: HttpRequest, candidate: str | None = None) -> str:
    """`candidate` (default: `next` from the POST or the query string) when
    `apps.authn.redirects.safe_next` lets it through, else "/"."""
    return redirects.safe_next(candidate if candidate is not None else (
        request.POST.get("next") or request.GET.get("next")))


def choice_url(next_url: str) -> str:
    """The choice page, coming back to `next_url` after the choice."""
    return f"{reverse('authn:commission')}?{urlencode({'next': next_url})}"


def chosen(request: HttpRequest) -> Commission | None:
    """The commission the request acts under, as `CommissionMiddleware` validated it, or None."""
    return getattr(request, "commission", None)


def remember(request: HttpRequest, commission: Commission) -> None:
    """Act under `commission` from now on (it was chosen through `commission_choose`)."""
    request.session[SESSION_KEY] = str(commission.pk)
    request.commission = commission  # type: ignore[attr-defined]


def forget(request: HttpRequest) -> None:
    """Act under no commission."""
    request.session.pop(SESSION_KEY, None)
    request.commission = None  # type: ignore[attr-defined]


def after_login(request: HttpRequest, user: User, next_url: str | None = None) -> HttpResponse:
    """The answer that ends a completed login of `user` (call after `session.set_login`).

    Any earlier choice is dropped. A staff member with exactly one valid commission acts under it
    (chosen automatically, audited `commission.chosen` with `automatic`); with two or more, the
    answer is a redirect to the choice page, which comes back to `next_url`; with none (and for
    patients), a redirect to `next_url`. `next_url` defaults to the request's `next` parameter;
    either way only a URL on this host is followed, else "/".
    """
    forget(request)
    target = safe_next(request, next_url)
    if user.kind != User.Kind.STAFF:
        return HttpResponseRedirect(target)
    valid = commission_selectors.commission_list_valid_for_person(user.person_id, timezone.now())
    if len(valid) >= 2:
        return HttpResponseRedirect(choice_url(target))
    if len(valid) == 1:
        try:
            commission = commission_services.commission_choose(
                actor=user, commission_id=valid[0].pk, automatic=True)
        except PortalError:  # it ended in between: continue without one
            pass
        else:
            remember(request, commission)
    return HttpResponseRedirect(target)


def describe(commission: Commission) -> str:
    """`purpose, unit` in the reader's language, e.g. "Care and treatment, Cardiology" (the care
    provider when the commission sits directly under it)."""
    unit = commission.care_unit or commission.care_provider
    return f"{commission.get_purpose_display()}, {unit.name}"
