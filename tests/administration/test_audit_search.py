"""The audit search page and its CSV export, as an administrator sees them: the filters, the
pages ("Showing 50 events"), hostile query strings answered with a clear error or the first page,
the CSV's content and formula-safe cells, and the export's own audit event.

Logged in at LoA 3 as `hospital_admin`, the local administrator over Demo Hospital (Cardiology,
Orthopaedics), not over Primary Care Centre North or Other Care AB.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.commissions.selectors import AuditPosition
from tests.conftest import login_session, make_staff

URL = reverse("administration:audit_search")
EXPORT = reverse("administration:audit_export")
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # 13:00 Swedish time (CET)


def text(response):
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def event(unit, *, at=T0, action="commission.granted", **fields):
    fields.setdefault("actor_label", "system:portal")
    fields.setdefault("actor_kind", "system")
    return AuditEvent.objects.create(
        occurred_at=at, action=action, organisation_hsa_id=unit.hsa_id,
        organisation_label=unit.name, target_type="tests.thing", target_id="1", **fields)


@pytest.fixture
def as_admin(client, hospital_admin):
    client.cookies["django_language"] = "en"
    return login_session(client, hospital_admin)


def test_the_page_shows_the_newest_events_of_the_subtree(as_admin, tree):
    event(tree["cardio"], subject_label="Olle Ortoped", reason="Moved to another unit")
    event(tree["primary"], subject_label="Pia Primär")
    body = text(as_admin.get(URL, {"until": "2026-04-01"}))
    assert "Showing 1 event, newest first (Swedish time). There are no older events." in body
    assert "2026-03-10 13:00:00 Commission granted" in body
    assert "Olle Ortoped Cardiology Moved to another unit" in body
    assert "Pia" not in body
    assert "at most 100,000 events" in body


def test_next_page_and_back_to_the_first(as_admin, tree):
    for i in range(53):
        event(tree["ortho"], at=T0 - timedelta(minutes=i), subject_label=f"Person {i:02}")
    first = as_admin.get(URL, {"until": "2026-03-10"})
    body = text(first)
    assert "Showing 50 events, newest first (Swedish time). Older events are on the next page." in body
    assert "Person 49" in body and "Person 50" not in body
    after = first.context["next_position"]
    second = text(as_admin.get(URL, {"until": "2026-03-10", "after": after}))
    assert "Showing 3 events" in second and "There are no older events." in second
    assert "Person 50" in second and "Person 52" in second and "Person 49" not in second
    assert "First page" in second and "Next page" not in second


@pytest.mark.parametrize("after", ["garbage", "20260310T120000.000000Z_nothex", "%00", "_",
                                   "99999999T999999.999999Z_" + "0" * 32])
def test_a_tampered_page_link_shows_the_first_page_and_says_so(as_admin, tree, after):
    event(tree["cardio"], subject_label="Olle Ortoped")
    response = as_admin.get(URL, {"until": "2026-04-01", "after": after})
    assert response.status_code == 200
    body = text(response)
    assert "The page link was not valid, so the first page is shown." in body
    assert "Olle Ortoped" in body


def test_a_position_aimed_at_another_organisations_event_shows_nothing_of_it(as_admin, tree):
    outside = event(tree["primary"], subject_label="Pia Primär")
    crafted = AuditPosition(T0 + timedelta(seconds=1), outside.id).encode()
    body = text(as_admin.get(URL, {"until": "2026-04-01", "after": crafted}))
    assert "Pia" not in body and "No older events match." in body


def test_bad_input_is_shown_all_at_once_and_kept(as_admin, tree):
    response = as_admin.get(URL, {"person": "19121212-1213", "action": "no.such_action",
                                  "unit": str(tree["primary"].pk), "since": "2026-13-01",
                                  "until": "yesterday", "actor": "x" * 151})
    assert response.status_code == 200
    body = text(response)
    assert "There is a problem" in body
    errors = response.context["form"].errors
    assert set(errors) == {"person", "action", "unit", "since", "until", "actor"}
    assert 'value="19121212-1213"' in response.content.decode()  # what was typed is kept
    assert "Showing" not in body and "Export as CSV" not in body


@pytest.mark.parametrize("query", [{"unit": "not-a-uuid"}, {"since": "0000-01-01"},
                                   {"since": "9999-12-31"}, {"person": "\x00"},
                                   {"until": "2026-01-01", "since": "2026-02-01"},
                                   {"action": ["commission.granted", "x"]}])
def test_hostile_query_strings_are_answered_not_crashed(as_admin, tree, query):
    response = as_admin.get(URL, query)
    assert response.status_code in (200, 400)


def test_the_filters_narrow_the_page(as_admin, tree, hospital_admin):
    _, employee = make_staff(tree["ortho"], "Olle", "Ortoped")
    olle = employee.person
    event(tree["ortho"], subject_person_id=olle.pk, subject_label="Olle Ortoped",
          action="commission.ended")
    event(tree["cardio"], subject_person_id=olle.pk, subject_label="Olle Ortoped")
    event(tree["ortho"], subject_label="Someone Else", actor_id=hospital_admin.pk,
          actor_label="Astrid Admin", actor_kind="user", actor_identifier="astrid.admin",
          at=T0 + timedelta(days=1))
    number = olle.person_number.replace("-", "")[2:]  # the 10-digit form
    body = text(as_admin.get(URL, {"person": number, "unit": str(tree["ortho"].pk),
                                   "until": "2026-04-01"}))
    assert "Showing 1 event" in body and "Commission ended" in body
    body = text(as_admin.get(URL, {"actor": "astrid.admin", "since": "2026-03-11",
                                   "until": "2026-03-11"}))
    assert "Showing 1 event" in body and "Someone Else" in body
    body = text(as_admin.get(URL, {"action": "commission.granted", "until": "2026-03-10"}))
    assert "Showing 1 event" in body and "Cardiology" in body


def test_the_days_are_swedish_days(as_admin, tree):
    event(tree["cardio"], at=datetime(2026, 3, 9, 23, 30, tzinfo=UTC), subject_label="Early")
    body = text(as_admin.get(URL, {"since": "2026-03-10", "until": "2026-03-10"}))
    assert "Early" in body  # 00:30 on 10 March in Sweden
    body = text(as_admin.get(URL, {"since": "2026-03-09", "until": "2026-03-09"}))
    assert "Early" not in body


def test_someone_who_is_not_an_administrator_gets_not_found(client, nurse):
    client.cookies["django_language"] = "en"
    login_session(client, nurse[0])
    assert client.get(URL).status_code == 404
    assert client.post(EXPORT).status_code == 404


def test_each_page_costs_a_constant_number_of_queries(as_admin, tree,
                                                      django_assert_max_num_queries):
    for i in range(3):
        event(tree["cardio"], at=T0 - timedelta(minutes=i))
    with CaptureQueriesContext(connection) as few:
        response = as_admin.get(URL, {"until": "2026-04-01"})
    assert len(response.context["rows"]) == 3
    for i in range(120):
        event(tree["ortho"], at=T0 - timedelta(hours=1, minutes=i))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = as_admin.get(URL, {"until": "2026-04-01"})
    assert len(response.context["rows"]) == 50
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = as_admin.get(URL, {"until": "2026-04-01",
                                      "after": response.context["next_position"]})
    assert len(response.context["rows"]) == 50


def read_csv(response):
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-')
    content = b"".join(response.streaming_content).decode("utf-8")
    assert content.startswith("\ufeff")
    return list(csv.reader(io.StringIO(content[1:])))


def test_the_export_is_a_formula_safe_csv_and_is_audited(as_admin, tree, hospital_admin):
    event(tree["cardio"], subject_label="=HYPERLINK(\"http://evil\")", reason="+1",
          actor_label="@SUM(A1)", request_id="-2", at=T0)
    event(tree["cardio"], subject_label="Plain Person", reason="\tTab", at=T0 - timedelta(hours=1))
    event(tree["primary"], subject_label="Pia Primär")
    response = as_admin.post(EXPORT, {"unit": str(tree["cardio"].pk), "since": "2026-03-01",
                                      "until": "2026-03-31"})
    rows = read_csv(response)
    header, first, second = rows[0], rows[1], rows[2]
    assert len(rows) == 3
    assert header[:3] == ["Time (Swedish time)", "Action code", "Action"]
    cell = dict(zip(header, first, strict=True))
    assert cell["Time (Swedish time)"] == "2026-03-10T13:00:00+01:00"
    assert cell["Action"] == "Commission granted"
    assert cell["Person the event is about"] == "'=HYPERLINK(\"http://evil\")"
    assert cell["Reason"] == "'+1"
    assert cell["Done by"] == "'@SUM(A1)"
    assert cell["Request id"] == "'-2"
    # Values under translated headers are translated too, not the stored codes.
    assert (cell["Outcome"], cell["Kind of actor"]) == ("succeeded", "system")
    assert dict(zip(header, second, strict=True))["Reason"] == "'\tTab"
    audited = AuditEvent.objects.get(action="audit_log.exported")
    assert audited.actor_id == hospital_admin.pk
    assert audited.changes["rows"] == [None, 2]
    assert audited.changes["unit"] == [None, tree["cardio"].hsa_id]
    assert audited.organisation_hsa_id == tree["cardio"].hsa_id


def test_an_export_with_bad_filters_shows_the_errors_and_exports_nothing(as_admin, tree):
    response = as_admin.post(EXPORT, {"unit": str(tree["other_unit"].pk), "since": "x"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"unit", "since"}
    assert not AuditEvent.objects.filter(action="audit_log.exported").exists()
    assert as_admin.get(EXPORT).status_code == 405  # an export is a POST (it is audited)


def test_the_page_speaks_swedish(client, hospital_admin, tree):
    client.cookies["django_language"] = "sv"
    login_session(client, hospital_admin)
    body = text(client.get(URL))
    assert "Loggsökning" in body and "Exportera som CSV" in body
    assert "högst 100 000 händelser" in body  # Swedish digit grouping


@pytest.mark.parametrize("after", ["00010101T000000.000000Z_" + "f" * 32,
                                   "21991231T235959.999999Z_" + "0" * 32])
def test_a_well_formed_position_at_the_ends_of_time_is_answered(as_admin, tree, after):
    event(tree["cardio"], subject_label="Olle Ortoped")
    response = as_admin.get(URL, {"until": "2026-04-01", "after": after})
    assert response.status_code == 200
    assert ("Olle Ortoped" in text(response)) == after.startswith("2199")


def test_a_cell_starting_with_a_line_feed_is_made_safe_too():
    """Found: "\n=1+1" was exported as it was."""
    from apps.administration.auditlog import csv_cell

    assert csv_cell("\n=1+1") == "'\n=1+1"
    assert csv_cell("=1+1") == "'=1+1" and csv_cell("Anna") == "Anna"


def test_an_enrolment_target_names_its_channel_in_the_readers_language(client, hospital_admin,
                                                                       tree):
    """Found: the log showed "Åsa Öberg (email)" and "Bo Ek (issuer)", stored values."""
    for label in ("Åsa Öberg (email)", "Bo Ek (issuer)"):
        AuditEvent.objects.create(
            occurred_at=T0, action="enrolment.created", organisation_hsa_id=tree["cardio"].hsa_id,
            organisation_label="Cardiology", actor_label="system:portal", actor_kind="system",
            target_type="commissions.enrolment", target_id="1", target_label=label)
    client.cookies["django_language"] = "sv"
    login_session(client, hospital_admin)
    body = text(client.get(URL, {"until": "2026-04-01"}))
    assert "Åsa Öberg (inbjudan med e-post)" in body
    assert "Bo Ek (mobil e-legitimation från en ID-administratör)" in body
    assert "(email)" not in body and "(issuer)" not in body
    rows = read_csv(client.post(EXPORT, {"until": "2026-04-01"}))
    assert {row[3] for row in rows[1:]} == {"lyckades"}
    assert {row[6] for row in rows[1:]} == {"system"}
