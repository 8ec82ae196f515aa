"""Administration pages of downstream systems (docs/provisioning.md, "Administering downstream
systems", "Status page"): an organisation's local administrators register and change the systems
that receive its people over SCIM 2.0, see each system's jobs by state, retry or skip a job,
pause and enable the system and start a reconciliation.

Every page needs a staff login at the administration level and a local administrator role; a
system outside the actor's scope is answered with 404, like a missing one, and the services
check the scope again. Credentials are never shown: the forms leave the token and the client
secret empty. Every change is a POST form that redirects back to the status page with a message
(POST, redirect, GET), so nothing needs JavaScript.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from apps.authn.decorators import acting_user, loa_required, staff_required
from apps.core.errors import Forbidden, NotFound, PortalError
from apps.core.forms import add_portal_error
from apps.organisations.selectors import organisation_list_in_subtrees
from apps.provisioning import policies, selectors, services
from apps.provisioning.models import DownstreamSystem, ProvisioningJob

from .forms import DownstreamSystemForm, JobSkipForm

#: Seconds between reloads of a status page whose reader asked to follow a running
#: reconciliation (`?watch=1`); off unless asked for (WCAG 2.1 SC 2.2.1, failure F41).
WATCH_REFRESH_SECONDS = 10


@staff_required
@loa_required("administration")
def system_list(request: HttpRequest) -> HttpResponse:
    """The downstream systems of the actor's scope, with how many changes are failed and
    pending in each (capped counts); 404 for anyone who is not a local administrator."""
    actor = acting_user(request)
    policies.require_administer_systems(actor)
    rows = [{"system": system, "counts": selectors.job_counts(
        system, (ProvisioningJob.State.FAILED, ProvisioningJob.State.PENDING))}
        for system in selectors.system_list_for_actor(actor)]
    return render(request, "administration/provisioning/system_list.html", {"rows": rows})


@staff_required
@loa_required("administration")
def system_register(request: HttpRequest) -> HttpResponse:
    """Register a downstream system (`services.downstream_system_register`) for an organisation
    of the actor's scope."""
    actor = acting_user(request)
    roots = policies.require_administer_systems(actor)
    form = DownstreamSystemForm(request.POST or None, organisations=organisation_list_in_subtrees(roots),
                                roots=roots, editing=False)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            system = services.downstream_system_register(
                actor=actor, organisation=data["organisation"], name=data["name"],
                base_url=data["base_url"], auth_method=data["auth_method"],
                credentials_given=form.credentials(), scope=data["scope"],
                attributes=data["attributes"])
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            messages.success(request, _("The downstream system was registered. Changes of the "
                                        "people it receives are pushed to it from now on."))
            return redirect("administration:system_status", system_id=system.pk)
    return render(request, "administration/provisioning/system_form.html",
                  {"form": form, "system": None})


@staff_required
@loa_required("administration")
def system_edit(request: HttpRequest, system_id: uuid.UUID) -> HttpResponse:
    """Change a system (`services.downstream_system_change`); the token and the client secret
    are left blank, and blank keeps them."""
    actor = acting_user(request)
    system = selectors.system_get_for_actor(actor, system_id)
    stored = selectors.credential_settings(system)
    owner = [system.organisation]
    form = DownstreamSystemForm(request.POST or None, organisations=organisation_list_in_subtrees(owner),
                                roots=owner, editing=True, initial={
        "name": system.name, "base_url": system.base_url, "auth_method": system.auth_method,
        "scope": list(system.scope.all()), "attributes": system.attributes,
        "token_url": stored.get("token_url", ""), "client_id": stored.get("client_id", ""),
        "client_scope": stored.get("scope", "")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.downstream_system_change(
                actor=actor, system=system, name=data["name"], base_url=data["base_url"],
                auth_method=data["auth_method"], credentials_given=form.credentials(),
                scope=data["scope"], attributes=data["attributes"])
        except PortalError as exc:
            add_portal_error(form, exc)
        else:
            messages.success(request, _("The downstream system was saved."))
            return redirect("administration:system_status", system_id=system.pk)
    return render(request, "administration/provisioning/system_form.html",
                  {"form": form, "system": system})


def _state(value: str | None) -> str:
    """A job state from a query or form field; the failed list for anything else."""
    return value if value in selectors.STATES else ProvisioningJob.State.FAILED


def _status_url(system: DownstreamSystem, state: str) -> str:
    return (reverse("administration:system_status", kwargs={"system_id": system.pk})
            + "?" + urlencode({"state": state}) + "#jobs")


@staff_required
@loa_required("administration")
def system_status(request: HttpRequest, system_id: uuid.UUID) -> HttpResponse:
    """A system's status page (`?state=<job state>&after=<job id>&watch=1`): its settings, its
    jobs counted by state (capped), how long the oldest pending change has waited, one list of
    jobs by state (keyset pages of `selectors.PAGE_SIZE`), its latest reconciliation with a
    progress bar, and the buttons for what the actor may do. An `after` that is no job id shows
    the first page; `watch` reloads the page every `WATCH_REFRESH_SECONDS` while a
    reconciliation runs."""
    actor = acting_user(request)
    system = selectors.system_get_for_actor(actor, system_id)
    state = _state(request.GET.get("state"))
    after = request.GET.get("after", "")
    position = selectors.parse_job_id(after)
    jobs, next_after = selectors.job_page(system, state, after=position)
    reconciliation = selectors.latest_reconciliation(system)
    running = reconciliation is not None and reconciliation.running
    watching = running and request.GET.get("watch") == "1"
    attributes = dict(DownstreamSystem.ATTRIBUTE_CHOICES)
    return render(request, "administration/provisioning/system_status.html", {
        "system": system, "scope": system.scope.order_by("path"),
        "attributes": [attributes[code] for code in system.attributes if code in attributes],
        "counts": selectors.job_counts(system).values(),
        "oldest_pending": selectors.oldest_pending_since(system),
        "state": state, "state_label": ProvisioningJob.State(state).label, "jobs": jobs,
        "next_after": next_after, "first_page": position is None,
        "reconciliation": reconciliation, "running": running, "watching": watching,
        "refresh_seconds": WATCH_REFRESH_SECONDS if watching else None,
        "watch_seconds": WATCH_REFRESH_SECONDS,
        "cap": selectors.COUNT_CAP, "skip_reason_max": services.REASON_MAX,
    })


def _act(request: HttpRequest, done: str, call: Any, **kwargs: Any) -> None:
    """Run the service `call` as the acting user; `done` on success, the refusal's message
    otherwise (NotFound and Forbidden stay answers)."""
    try:
        call(actor=acting_user(request), **kwargs)
    except (NotFound, Forbidden):
        raise
    except PortalError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, done)


@staff_required
@loa_required("administration")
def system_pause(request: HttpRequest, system_id: uuid.UUID) -> HttpResponse:
    """Pause the system (`services.downstream_system_pause`; POST only)."""
    system = selectors.system_get_for_actor(acting_user(request), system_id)
    if request.method == "POST":
        _act(request, _("The system is paused: changes wait for it until it is enabled again."),
             services.downstream_system_pause, system=system)
    return redirect("administration:system_status", system_id=system.pk)


@staff_required
@loa_required("administration")
def system_enable(request: HttpRequest, system_id: uuid.UUID) -> HttpResponse:
    """Enable the system (`services.downstream_system_enable`; POST only)."""
    system = selectors.system_get_for_actor(acting_user(request), system_id)
    if request.method == "POST":
        _act(request, _("The system is enabled: the changes waiting for it are pushed now."),
             services.downstream_system_enable, system=system)
    return redirect("administration:system_status", system_id=system.pk)


@staff_required
@loa_required("administration")
def system_push_now(request: HttpRequest, system_id: uuid.UUID) -> HttpResponse:
    """Push the waiting changes now instead of at their next attempt
    (`services.downstream_system_push_now`; POST only)."""
    system = selectors.system_get_for_actor(acting_user(request), system_id)
    if request.method == "POST":
        _act(request, _("The waiting changes are pushed now. Refresh the page in a moment."),
             services.downstream_system_push_now, system=system)
    return redirect(_status_url(system, ProvisioningJob.State.PENDING))


@staff_required
@loa_required("administration")
def reconciliation_start(request: HttpRequest, system_id: uuid.UUID) -> HttpResponse:
    """Start a reconciliation (`services.reconciliation_start`); a refusal (one runs already,
    the system is paused) is shown on the status page (POST only)."""
    system = selectors.system_get_for_actor(acting_user(request), system_id)
    if request.method == "POST":
        _act(request, _("The reconciliation has started. Its progress is shown below."),
             services.reconciliation_start, system=system)
    return redirect(reverse("administration:system_status", kwargs={"system_id": system.pk})
                    + "#reconciliation")


@staff_required
@loa_required("administration")
def job_retry(request: HttpRequest, system_id: uuid.UUID, job_id: int) -> HttpResponse:
    """Retry a failed job now (`services.provisioning_job_retry`; POST only); back to the
    failed list."""
    system = selectors.system_get_for_actor(acting_user(request), system_id)
    job = selectors.job_get_for_system(system, job_id)
    if request.method == "POST":
        _act(request, _("The change will be pushed again in a moment."),
             services.provisioning_job_retry, job=job)
    return redirect(_status_url(system, ProvisioningJob.State.FAILED))


@staff_required
@loa_required("administration")
def job_skip(request: HttpRequest, system_id: uuid.UUID, job_id: int) -> HttpResponse:
    """Skip a pending or failed job with a reason (`services.provisioning_job_skip`); back to
    the list it was in (POST only)."""
    system = selectors.system_get_for_actor(acting_user(request), system_id)
    job = selectors.job_get_for_system(system, job_id)
    back = _status_url(system, _state(job.state))
    if request.method != "POST":
        return redirect(back)
    form = JobSkipForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason of at most 1000 characters for skipping the "
                                  "change."))
        return redirect(back)
    _act(request, _("The change was skipped: it will not be pushed."),
         services.provisioning_job_skip, job=job, reason=form.cleaned_data["reason"])
    return redirect(back)
