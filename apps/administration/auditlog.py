"""The audit search of administration: a local administrator searches the audit log of their
subtrees by person, actor, action, unit and time, page by page, and exports the result as CSV.

This is the care provider's systematic log follow-up (PDL 2008:355 4 kap. 3 §, HSLF-FS 2016:40
4 kap. 9 §); a patient's log extract (loggutdrag) stays the patient's own view. Pages are keyset
paginated with no count, so they cost the same at tens of millions of rows
(docs/journey-audit-search.md). The selector and the export service check the policy and the
scope; the views only shape input and output.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from apps.audit import registry
from apps.authn.decorators import acting_user, loa_required, staff_required
from apps.commissions import policies, selectors, services
from apps.commissions.selectors import AuditPosition
from apps.core.forms import STOCKHOLM
from apps.organisations.selectors import organisation_list_in_subtrees

from .forms import AuditSearchForm

if TYPE_CHECKING:
    from apps.organisations.models import Organisation

PAGE_SIZE = 50

#: A cell starting with one of these is read as a formula by spreadsheet programs; it gets a
#: leading apostrophe (OWASP, "CSV Injection"; a line feed too, which some programs skip before
#: reading the rest as a formula).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value: object) -> str:
    """`value` as text, safe to open in a spreadsheet (OWASP "CSV Injection": prefix `'`)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _form(request: HttpRequest, data: Any) -> tuple[AuditSearchForm, list[Organisation]]:
    roots = policies.require_search_audit_log(acting_user(request))
    return AuditSearchForm(data, organisations=organisation_list_in_subtrees(roots),
                           roots=roots), roots


@staff_required
@loa_required("administration")
def audit_search(request: HttpRequest) -> HttpResponse:
    """The search page (`?person=&actor=&action=&unit=&since=&until=&after=<position>`): the
    newest PAGE_SIZE events in scope that match, and a link to the next page. A position that is
    not one the page wrote shows the first page and says so. 404 for a non-administrator."""
    form, roots = _form(request, request.GET or None)
    events: list[Any] = []
    next_position = None
    after = None
    if not form.is_bound or form.is_valid():
        filters = form.filters() if form.is_bound else selectors.AuditFilter()
        if request.GET.get("after"):
            try:
                after = AuditPosition.decode(request.GET["after"])
            except ValueError:
                messages.warning(request, _("The page link was not valid, so the first page is "
                                            "shown."))
        found = selectors.audit_search_in_scope(actor=acting_user(request), filters=filters)
        events, next_position = selectors.audit_page(found, after, PAGE_SIZE)
    query = request.GET.copy()
    query.pop("after", None)
    return _render(request, form, roots, events=events, first_page=after is None,
                   query=query.urlencode(), next_position=next_position)


def _render(request: HttpRequest, form: AuditSearchForm, roots: list[Organisation], *,
            events: list[Any], first_page: bool = True, query: str = "",
            next_position: AuditPosition | None = None) -> HttpResponse:
    return render(request, "administration/audit_search.html", {
        "form": form, "roots": roots, "rows": [(event, registry.label(event.action))
                                               for event in events],
        "first_page": first_page, "page_size": PAGE_SIZE, "query": query,
        "next_position": next_position.encode() if next_position else "",
        "export_max_rows": number_format(services.EXPORT_MAX_ROWS, force_grouping=True),
    })


#: The stored outcome and kind of actor (`AuditEvent.outcome`, `actor_kind`) in the export's
#: language, like its headers; a value not listed is written as stored.
_OUTCOMES = {"success": gettext_lazy("succeeded"), "failure": gettext_lazy("failed")}
_ACTOR_KINDS = {"user": gettext_lazy("person with an account"), "system": gettext_lazy("system"),
                "device": gettext_lazy("device"), "anonymous": gettext_lazy("not logged in"),
                "client": gettext_lazy("registered system")}


def _header() -> list[str]:
    return [_("Time (Swedish time)"), _("Action code"), _("Action"), _("Outcome"), _("Done by"),
            _("Username"), _("Kind of actor"), _("Commission HSA-id"), _("Unit HSA-id"),
            _("Unit"), _("Person the event is about"), _("Target type"), _("Target"),
            _("Reason"), _("Changes"), _("IP address"), _("Request id"), _("Level of assurance")]


def _csv_lines(export: services.AuditExport) -> Iterator[str]:
    """The export as CSV lines (RFC 4180, every cell quoted and formula-safe), a UTF-8 byte
    order mark first so that spreadsheet programs read the Swedish letters right."""
    line = _Line()
    writer = csv.writer(line, quoting=csv.QUOTE_ALL)
    yield "\ufeff" + writer.writerow(_header())
    for event in export.events:
        yield writer.writerow([csv_cell(value) for value in (
            timezone.localtime(event.occurred_at, STOCKHOLM).isoformat(), event.action,
            registry.label(event.action), _OUTCOMES.get(event.outcome, event.outcome),
            event.actor_label, event.actor_identifier,
            _ACTOR_KINDS.get(event.actor_kind, event.actor_kind), event.commission_hsa_id,
            event.organisation_hsa_id, event.organisation_label, event.subject_label,
            event.target_type, registry.target_text(event.target_type, event.target_label),
            registry.reason_text(event.reason), _json(event.changes), event.ip,
            event.request_id, event.loa)])


def _json(changes: dict[str, Any]) -> str:
    return json.dumps(changes, ensure_ascii=False, sort_keys=True) if changes else ""


class _Line:
    """A file-like object whose `write` returns the line, for csv.writer in a streamed response
    (Django docs, "Streaming large CSV files")."""

    def write(self, value: str) -> str:
        return value


@require_POST
@staff_required
@loa_required("administration")
def audit_export(request: HttpRequest) -> HttpResponse:
    """Export the search (the same fields, posted) as a streamed CSV file of at most
    EXPORT_MAX_ROWS events, newest first; the export is audited before the first row is sent
    (`services.audit_log_export`). Invalid filters show the search page with the errors."""
    form, roots = _form(request, request.POST)
    if not form.is_valid():
        return _render(request, form, roots, events=[])
    export = services.audit_log_export(actor=acting_user(request), filters=form.filters())
    name = f"audit-log-{timezone.localtime(timezone.now(), STOCKHOLM):%Y%m%d-%H%M%S}.csv"
    # The login decorators type views as returning HttpResponse; Django serves a streamed one alike.
    return cast(HttpResponse, StreamingHttpResponse(
        _csv_lines(export), content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'}))
