"""Journey 1 through its pages: a local administrator finds staff, grants and ends commissions and
roles, and sees the audit history; everything outside the administrator's subtree is a 404 or refused.

Logged in at LoA 3 (a federated login, `tests.conftest.login_session`) as
`hospital_admin`, the local administrator over Demo
Hospital (Cardiology, Orthopaedics), not over Primary Care Centre North or Other Care AB.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.commissions import services
from apps.commissions.models import Commission, Role, RoleAssignment
from apps.core.actors import SYSTEM
from tests.conftest import login_session, make_staff

CARE = "Vård och behandling"
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def login(client, user):
    """A federated login at LoA 3, which administration needs (settings.PORTAL_LOA_REQUIRED);
    pages in English. The password+TOTP login (LoA 2) is refused here: tests/authn/test_sessions.py."""
    client.cookies["django_language"] = "en"
    return login_session(client, user)


@pytest.fixture
def as_admin(client, hospital_admin):
    return login(client, hospital_admin)


@pytest.fixture
def olle(tree):
    """A staff member at Orthopaedics (inside the admin's scope)."""
    _, employee = make_staff(tree["ortho"], "Olle", "Ortoped")
    return employee


@pytest.fixture
def outsider(tree):
    """A staff member at primary care (outside the admin's scope)."""
    _, employee = make_staff(tree["primary"], "Pia", "Primär")
    return employee


def person_url(person):
    return reverse("administration:person_detail", kwargs={"person_id": person.pk})


def grant_url(person):
    return reverse("administration:commission_grant", kwargs={"person_id": person.pk})


def text(response):
    """The page's visible text, tags stripped and whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def grant_data(employee, unit, **overrides):
    data = {
        "employee": str(employee.pk), "care_unit": str(unit.pk), "purpose": CARE,
        "activities": ["Läsa", "Skriva"], "information_classes": ["alla"], "scopes": ["VE", "VG"],
        "valid_from": timezone.localdate().isoformat(), "valid_until": "",
    }
    data.update(overrides)
    return data


# --- Access ----------------------------------------------------------------------------------------


def test_pages_need_a_staff_login(client, olle):
    for url in [reverse("administration:person_list"), person_url(olle.person), grant_url(olle.person)]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("authn:login"))


def test_staff_without_admin_role_is_told_and_sees_nobody(client, tree, olle):
    user, _ = make_staff(tree["cardio"], "Carl", "Kardiolog")
    login(client, user)
    response = client.get(reverse("administration:person_list"))
    assert response.status_code == 200
    assert "You do not administer any part of the organisation" in text(response)
    assert "Ortoped" not in text(response)
    assert client.get(person_url(olle.person)).status_code == 404
    assert client.get(grant_url(olle.person)).status_code == 404


def test_person_outside_scope_is_not_found(as_admin, outsider, olle):
    assert as_admin.get(person_url(outsider.person)).status_code == 404
    assert as_admin.get(grant_url(outsider.person)).status_code == 404
    assert as_admin.get(
        reverse("administration:role_grant", kwargs={"person_id": outsider.person.pk})
    ).status_code == 404
    response = as_admin.post(grant_url(outsider.person), grant_data(outsider, olle.organisation))
    assert response.status_code == 404
    assert not Commission.objects.filter(employee=outsider).exists()
    # A person that does not exist at all gets the very same answer.
    missing = reverse("administration:person_detail",
                      kwargs={"person_id": "00000000-0000-0000-0000-000000000000"})
    assert as_admin.get(missing).status_code == 404


# --- Person list -----------------------------------------------------------------------------------


def test_list_shows_people_in_scope_only(as_admin, olle, outsider):
    response = as_admin.get(reverse("administration:person_list"))
    page = text(response)
    assert "Ortoped, Olle" in page
    assert olle.hsa_id in page
    assert olle.person.person_number in page
    assert "Primär" not in page
    assert "Demo Hospital" in page  # what the administrator administers


@pytest.mark.parametrize("how", ["family name", "given name", "hsa id", "hsa id lower", "personnummer",
                                 "personnummer 10 digits"])
def test_search(as_admin, tree, olle, how):
    make_staff(tree["cardio"], "Karin", "Kardiolog")
    pnr = olle.person.person_number  # YYYYMMDD-NNNN
    query = {
        "family name": "ortoped", "given name": "Olle", "hsa id": olle.hsa_id,
        "hsa id lower": olle.hsa_id.lower(), "personnummer": pnr,
        "personnummer 10 digits": pnr[2:],
    }[how]
    response = as_admin.get(reverse("administration:person_list"), {"q": query})
    page = text(response)
    assert "Ortoped, Olle" in page
    assert "Kardiolog" not in page


def test_search_does_not_find_people_outside_scope(as_admin, outsider):
    for query in ["Primär", outsider.hsa_id, outsider.person.person_number]:
        response = as_admin.get(reverse("administration:person_list"), {"q": query})
        assert "Primär" not in text(response).replace(f"“{query}”", "")
        assert "Nobody in your part of the organisation matches" in text(response)


def test_list_is_paginated_and_pages_keep_the_query(as_admin, tree):
    """Keyset pages: "Next page" and "Previous page" links carry the query and a position, and
    the caption says how many match (docs/search-and-lists.md)."""
    for i in range(30):
        make_staff(tree["cardio"], f"Test{i:02d}", "Sjuksköterska")
    make_staff(tree["ortho"], "Olle", "Ortoped")
    url = reverse("administration:person_list")
    first = as_admin.get(url, {"q": "Sjuksköterska"})
    assert first.context["count"].count == 30
    assert len(first.context["page"].rows) == 25
    assert "30 people match" in text(first)
    assert "Previous page" not in text(first)
    after = first.context["page"].next
    assert f"?q=Sjuksk%C3%B6terska&amp;after={after}" in first.content.decode()
    second = as_admin.get(url, {"q": "Sjuksköterska", "after": after})
    assert [p.given_name for p in second.context["page"].rows] == [
        f"Test{i:02d}" for i in range(25, 30)]
    assert "Ortoped" not in text(second)
    assert "Next page" not in text(second) and "Previous page" in text(second)
    before = second.context["page"].previous
    back = as_admin.get(url, {"q": "Sjuksköterska", "before": before})
    assert [p.given_name for p in back.context["page"].rows] == [
        f"Test{i:02d}" for i in range(25)]
    assert "Next page" in text(back)


def test_list_costs_a_constant_number_of_queries(as_admin, tree, django_assert_max_num_queries):
    url = reverse("administration:person_list")
    for i in range(4):  # with the admin herself: 5 people
        make_staff(tree["cardio"], f"Few{i}", "Person")
    with CaptureQueriesContext(connection) as few:
        response = as_admin.get(url)
    assert response.context["count"].count == 5
    for i in range(25):
        make_staff(tree["ortho" if i % 2 else "cardio"], f"Many{i}", "Person")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = as_admin.get(url)
    assert len(response.context["page"].rows) == 25
    assert response.context["count"].count == 30
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = as_admin.get(url, {"after": response.context["page"].next})
    assert len(response.context["page"].rows) == 5


# --- Person page -----------------------------------------------------------------------------------


def test_person_page_shows_commissions_roles_and_their_status(as_admin, tree, olle):
    now = timezone.now()
    services.commission_grant(actor=SYSTEM, employee=olle, care_unit=tree["ortho"], purpose=CARE,
                              rights=["Läsa;alla;VE"], valid_from=now - timedelta(days=1),
                              valid_until=None)
    services.commission_grant(actor=SYSTEM, employee=olle, care_unit=tree["cardio"],
                              purpose="Kvalitetssäkring", rights=["Läsa;dia;VG"],
                              valid_from=now + timedelta(days=10), valid_until=None)
    ended = services.commission_grant(actor=SYSTEM, employee=olle, care_unit=tree["cardio"],
                                      purpose="Statistik", rights=["Läsa;alla;VE"],
                                      valid_from=now - timedelta(days=5), valid_until=None)
    services.commission_end(actor=SYSTEM, commission=ended, reason="Moved to another team")
    services.commission_grant(actor=SYSTEM, employee=olle, care_unit=tree["primary"], purpose=CARE,
                              rights=["Läsa;alla;VE"], valid_from=now, valid_until=None)
    services.role_grant(actor=SYSTEM, person=olle.person, role=Role.ISSUER,
                        organisation=tree["ortho"], valid_from=now, valid_until=None)
    response = as_admin.get(person_url(olle.person))
    assert response.status_code == 200
    page = text(response)
    statuses = {c.care_unit.name + "/" + c.purpose: c.current_status
                for c in response.context["commissions"]}
    assert statuses == {"Orthopaedics/Vård och behandling": "active",
                        "Cardiology/Kvalitetssäkring": "upcoming", "Cardiology/Statistik": "ended"}
    assert "Active" in page and "Upcoming" in page and "Ended" in page
    assert "Moved to another team" in page
    assert "Läsa;dia;VG" in page
    # The commission at primary care lies outside the administrator's subtree: not shown at all.
    assert "Primary Care Centre North" not in page
    assert "e-ID issuer" in page and "Orthopaedics (SE2321000016-0102)" in page


def test_expired_commission_is_shown_as_expired(as_admin, tree, olle):
    now = timezone.now()
    services.commission_grant(actor=SYSTEM, employee=olle, care_unit=tree["ortho"], purpose=CARE,
                              rights=["Läsa;alla;VE"], valid_from=now - timedelta(days=10),
                              valid_until=now - timedelta(days=1))
    response = as_admin.get(person_url(olle.person))
    assert [c.current_status for c in response.context["commissions"]] == ["expired"]
    assert "Expired" in text(response)
    assert "End commission" not in text(response)


# --- Grant commission ------------------------------------------------------------------------------


def test_grant_form_offers_units_in_scope_and_preselects_the_only_employee(as_admin, olle):
    response = as_admin.get(grant_url(olle.person))
    html = response.content.decode()
    assert "Cardiology (SE2321000016-0101)" in html
    assert "Orthopaedics (SE2321000016-0102)" in html
    assert "Primary Care Centre North" not in html
    assert "Other Clinic" not in html
    assert re.search(rf'<option value="{olle.pk}" selected>', html)
    assert f'value="{timezone.localdate().isoformat()}"' in html  # valid from defaults to today


def test_grant_commission(as_admin, tree, olle, hospital_admin):
    response = as_admin.post(grant_url(olle.person), grant_data(
        olle, tree["ortho"], valid_from="2030-01-01", valid_until="2030-07-01"))
    assert response.status_code == 302
    assert response["Location"] == person_url(olle.person)
    commission = Commission.objects.get(employee=olle)
    assert commission.care_unit == tree["ortho"]
    assert sorted(commission.rights_display()) == [
        "Läsa;alla;VE", "Läsa;alla;VG", "Skriva;alla;VE", "Skriva;alla;VG"]
    # Days are Swedish calendar days, both included, stored as [start, end) in UTC.
    assert commission.valid_from == datetime(2030, 1, 1, tzinfo=STOCKHOLM)
    assert commission.valid_from.astimezone(ZoneInfo("UTC")).hour == 23
    assert commission.valid_until == datetime(2030, 7, 2, tzinfo=STOCKHOLM)
    assert commission.last_day == date(2030, 7, 1)
    assert commission.assigned_by_id == hospital_admin.pk

    page = as_admin.get(response["Location"])
    body = text(page)
    assert "The commission was granted." in body
    assert "Commission granted" in body  # the audit history, with the registry's label
    assert "Astrid Admin username astrid.admin" in body  # who, with their immutable username
    event = AuditEvent.objects.get(action="commission.granted", target_id=str(commission.pk))
    shown = event.occurred_at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M:%S")
    assert shown in body


def _refused(as_admin, olle, data, message, field):
    commissions_before = Commission.objects.count()
    events_before = AuditEvent.objects.count()
    response = as_admin.post(grant_url(olle.person), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert any(message in error for error in form.errors[field]), form.errors
    assert message in text(response)
    assert Commission.objects.count() == commissions_before
    assert AuditEvent.objects.count() == events_before
    return response


def test_end_before_start_is_refused(as_admin, tree, olle):
    _refused(as_admin, olle, grant_data(olle, tree["ortho"], valid_from="2030-06-01",
                                            valid_until="2030-05-01"),
             "The last day cannot be before the first day.", "valid_until")
    _refused(as_admin, olle, grant_data(olle, tree["ortho"], valid_from="2030-06-01",
                                            valid_until="2030-05-31"),
             "The last day cannot be before the first day.", "valid_until")


def test_a_one_day_commission_is_valid_that_whole_day(as_admin, tree, olle):
    """First day and last day are both included, as on the consent pages."""
    as_admin.post(grant_url(olle.person), grant_data(olle, tree["ortho"], valid_from="2030-06-01",
                                                     valid_until="2030-06-01"))
    commission = Commission.objects.get(employee=olle)
    assert commission.valid_from == datetime(2030, 6, 1, tzinfo=STOCKHOLM)
    assert commission.valid_until == datetime(2030, 6, 2, tzinfo=STOCKHOLM)


@pytest.mark.parametrize("unit", ["primary", "other_unit", "hospital"])
def test_unit_outside_scope_or_not_a_care_unit_is_refused(as_admin, tree, olle, unit):
    _refused(as_admin, olle, grant_data(olle, tree[unit]), "Select a valid choice", "care_unit")


@pytest.mark.parametrize(("field", "value"), [("activities", "Dansa"), ("information_classes", "xyz"),
                                              ("scopes", "XX")])
def test_unknown_right_is_refused(as_admin, tree, olle, field, value):
    _refused(as_admin, olle, grant_data(olle, tree["ortho"], **{field: ["Läsa", value]}
                                            if field == "activities" else {field: [value]}),
             "Select a valid choice", field)


def test_missing_rights_are_refused(as_admin, tree, olle):
    _refused(as_admin, olle, grant_data(olle, tree["ortho"], scopes=[]),
             "Choose at least one scope.", "scopes")


def test_duplicate_active_commission_is_refused(as_admin, tree, olle):
    assert as_admin.post(grant_url(olle.person), grant_data(olle, tree["ortho"])).status_code == 302
    _refused(as_admin, olle, grant_data(olle, tree["ortho"], activities=["Läsa"]),
             "already has a commission with this purpose at this unit", "care_unit")


def test_employee_of_someone_else_is_refused(as_admin, tree, olle):
    _, other = make_staff(tree["cardio"], "Karin", "Kardiolog")
    _refused(as_admin, olle, grant_data(other, tree["ortho"]), "Select a valid choice", "employee")


# --- End commission --------------------------------------------------------------------------------


def test_end_commission_with_reason(as_admin, tree, olle, hospital_admin):
    commission = services.commission_grant(
        actor=SYSTEM, employee=olle, care_unit=tree["ortho"], purpose=CARE, rights=["Läsa;alla;VE"],
        valid_from=timezone.now() - timedelta(days=1), valid_until=None)
    url = reverse("administration:commission_end",
                  kwargs={"person_id": olle.person.pk, "commission_id": commission.pk})
    assert url in as_admin.get(person_url(olle.person)).content.decode()

    response = as_admin.post(url, {"reason": "  "})
    assert response.status_code == 200
    assert "This field is required." in text(response)
    commission.refresh_from_db()
    assert commission.ended_at is None

    response = as_admin.post(url, {"reason": "Left the clinic"})
    assert response.status_code == 302
    commission.refresh_from_db()
    assert commission.ended_at is not None and commission.end_reason == "Left the clinic"
    body = text(as_admin.get(response["Location"]))
    assert "The commission was ended." in body
    assert "Commission ended" in body and "Left the clinic" in body
    event = AuditEvent.objects.get(action="commission.ended", target_id=str(commission.pk))
    assert event.actor_id == hospital_admin.pk and event.reason == "Left the clinic"

    again = as_admin.post(url, {"reason": "Twice"})
    assert "already ended" in text(again)


def test_commission_outside_scope_cannot_be_ended(as_admin, tree, olle):
    commission = services.commission_grant(
        actor=SYSTEM, employee=olle, care_unit=tree["primary"], purpose=CARE, rights=["Läsa;alla;VE"],
        valid_from=timezone.now(), valid_until=None)
    url = reverse("administration:commission_end",
                  kwargs={"person_id": olle.person.pk, "commission_id": commission.pk})
    assert as_admin.get(url).status_code == 404
    assert as_admin.post(url, {"reason": "No"}).status_code == 404
    commission.refresh_from_db()
    assert commission.ended_at is None


# --- Roles -----------------------------------------------------------------------------------------


def test_grant_and_end_role(as_admin, tree, olle, hospital_admin):
    url = reverse("administration:role_grant", kwargs={"person_id": olle.person.pk})
    form_html = as_admin.get(url).content.decode()
    assert "Demo Hospital (SE2321000016-0100)" in form_html
    assert "Region Demo" not in form_html and "Primary Care Centre North" not in form_html

    today = timezone.localdate()
    response = as_admin.post(url, {"role": Role.ISSUER, "organisation": str(tree["ortho"].pk),
                                       "valid_from": today.isoformat(),
                                       "valid_until": (today + timedelta(days=365)).isoformat()})
    assert response.status_code == 302
    assignment = RoleAssignment.objects.get(person=olle.person)
    assert assignment.role == Role.ISSUER and assignment.organisation == tree["ortho"]
    body = text(as_admin.get(response["Location"]))
    assert "The role was granted." in body and "System role granted" in body

    end_url = reverse("administration:role_end",
                      kwargs={"person_id": olle.person.pk, "assignment_id": assignment.pk})
    response = as_admin.post(end_url, {"reason": "No longer issues e-IDs"})
    assert response.status_code == 302
    assignment.refresh_from_db()
    assert assignment.ended_at is not None
    body = text(as_admin.get(response["Location"]))
    assert "The role was ended." in body
    assert "System role ended" in body and "No longer issues e-IDs" in body
    assert AuditEvent.objects.filter(action="role.ended", actor_id=hospital_admin.pk,
                                     subject_person_id=olle.person.pk).count() == 1


def test_role_refused_outside_scope_or_invalid(as_admin, tree, olle):
    url = reverse("administration:role_grant", kwargs={"person_id": olle.person.pk})
    base = {"role": Role.LOCAL_ADMIN, "organisation": str(tree["cardio"].pk),
            "valid_from": "2030-01-01", "valid_until": ""}
    cases = [
        ({"organisation": str(tree["primary"].pk)}, "organisation", "Select a valid choice"),
        ({"organisation": str(tree["region"].pk)}, "organisation", "Select a valid choice"),
        ({"role": "superuser"}, "role", "Select a valid choice"),
        ({"valid_until": "2029-12-31"}, "valid_until", "The last day cannot be before the first day."),
    ]
    for overrides, field, message in cases:
        response = as_admin.post(url, {**base, **overrides})
        assert response.status_code == 200
        assert any(message in e for e in response.context["form"].errors[field])
    assert not RoleAssignment.objects.filter(person=olle.person).exists()

    assert as_admin.post(url, base).status_code == 302
    response = as_admin.post(url, base)
    assert "already has this role here" in text(response)
    assert RoleAssignment.objects.filter(person=olle.person).count() == 1


def test_role_outside_scope_cannot_be_ended(as_admin, tree, olle):
    assignment = services.role_grant(actor=SYSTEM, person=olle.person, role=Role.ISSUER,
                                     organisation=tree["region"], valid_from=timezone.now(),
                                     valid_until=None)
    assert "e-ID issuer" not in text(as_admin.get(person_url(olle.person)))
    url = reverse("administration:role_end",
                  kwargs={"person_id": olle.person.pk, "assignment_id": assignment.pk})
    assert as_admin.post(url, {"reason": "No"}).status_code == 404
    assignment.refresh_from_db()
    assert assignment.ended_at is None


def test_history_leaves_out_events_at_organisations_outside_scope(as_admin, tree, olle):
    services.commission_grant(actor=SYSTEM, employee=olle, care_unit=tree["primary"], purpose=CARE,
                              rights=["Läsa;alla;VE"], valid_from=timezone.now(), valid_until=None)
    response = as_admin.get(person_url(olle.person))
    actions = [row.event.action for row in response.context["history_rows"]]
    assert "commission.granted" not in actions
    assert "employee.created" in actions


def test_start_of_day_conversion_across_daylight_saving():
    from apps.core.forms import end_of_last_day, start_of_day

    assert start_of_day(date(2030, 1, 15)) == datetime(2030, 1, 14, 23, tzinfo=ZoneInfo("UTC"))
    assert start_of_day(date(2030, 7, 15)) == datetime(2030, 7, 14, 22, tzinfo=ZoneInfo("UTC"))
    # The day summer time starts has 23 hours; the period still ends at the next midnight.
    assert end_of_last_day(date(2030, 3, 31)) == datetime(2030, 3, 31, 22, tzinfo=ZoneInfo("UTC"))


def test_person_with_two_employee_hsa_ids_must_choose_one(as_admin, tree, olle):
    second = services.employee_create(actor=SYSTEM, person=olle.person, organisation=tree["cardio"])
    html = as_admin.get(grant_url(olle.person)).content.decode()
    assert "Choose an employee HSA-id" in html
    assert olle.hsa_id in html and second.hsa_id in html
    _refused(as_admin, olle, {**grant_data(olle, tree["ortho"]), "employee": ""},
             "This field is required.", "employee")
    response = as_admin.post(grant_url(olle.person), grant_data(second, tree["cardio"]))
    assert response.status_code == 302
    assert Commission.objects.get(employee__person=olle.person).employee == second


def test_ended_admin_role_gives_no_scope(as_admin, hospital_admin, olle):
    assignment = RoleAssignment.objects.get(person=hospital_admin.person, role=Role.LOCAL_ADMIN)
    services.commission_grant(
        actor=SYSTEM, employee=hospital_admin.person.employees.get(), care_unit=olle.organisation,
        purpose="Vård och behandling", rights=["Läsa;alla;VE"], valid_from=timezone.now(),
        valid_until=None)
    services.role_end(actor=SYSTEM, assignment=assignment, reason="Changed jobs")
    response = as_admin.get(reverse("administration:person_list"))
    assert "You do not administer any part of the organisation" in text(response)
    assert as_admin.get(person_url(olle.person)).status_code == 404


def test_ending_the_last_role_ends_the_sessions(as_admin, hospital_admin, assert_audited):
    """Entitlement ends what it entitled: with nothing left, the logged-in administrator is out."""
    assignment = RoleAssignment.objects.get(person=hospital_admin.person, role=Role.LOCAL_ADMIN)
    services.role_end(actor=SYSTEM, assignment=assignment, reason="Left the region")
    response = as_admin.get(reverse("administration:person_list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("authn:login"))
    event = assert_audited("role.ended", target=assignment)
    assert event.changes["staff_entitlement"] == ["active", "ended"]


def test_an_administrator_cannot_make_herself_an_issuer(as_admin, tree, hospital_admin):
    """The page answers 403 with the reason, and nothing is saved."""
    url = reverse("administration:role_grant", kwargs={"person_id": hospital_admin.person.pk})
    response = as_admin.post(url, {"role": Role.ISSUER, "organisation": str(tree["hospital"].pk),
                                   "valid_from": timezone.localdate().isoformat()})
    assert response.status_code == 403
    assert "You cannot change your own commissions or roles." in text(response)
    assert not RoleAssignment.objects.filter(person=hospital_admin.person, role=Role.ISSUER).exists()


def test_history_leaves_out_a_colleagues_own_care(as_admin, tree, olle, patient):
    """A staff member who is also a patient; the administrator's history of them shows
    no consent or emergency access (patient data), only administrative events."""
    from apps.consents import services as consents

    consents.consent_give(actor=SYSTEM, patient=olle.person, care_unit=tree["ortho"],
                          valid_from=timezone.now(), valid_until=None)
    body = text(as_admin.get(person_url(olle.person)))
    assert "Employee HSA-id registered" in body
    assert "Consent given" not in body


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_date_out_of_range_is_a_form_error_not_a_crash(as_admin, tree, olle, day):
    """Year 1 or 9999 overflowed when converted to a time (HTTP 500)."""
    url = reverse("administration:role_grant", kwargs={"person_id": olle.person.pk})
    response = as_admin.post(url, {"role": Role.ISSUER, "organisation": str(tree["ortho"].pk),
                                   "valid_from": day})
    assert response.status_code == 200
    assert "Enter a date between 1900 and 2199." in text(response)
    assert not RoleAssignment.objects.filter(person=olle.person).exists()


def test_history_does_not_tell_that_a_colleague_is_a_patient(as_admin, olle):
    """A patient account is patient data: an administrator never learns a colleague is a patient."""
    from apps.identities import services as identities
    from apps.identities.models import User

    identities.user_create(actor=SYSTEM, person=olle.person, username="patient-olle",
                           kind=User.Kind.PATIENT)
    assert "patient-olle" not in text(as_admin.get(person_url(olle.person)))


def test_a_commission_of_an_employee_hsa_id_outside_the_scope_is_not_listed(as_admin, tree, olle):
    """It was listed with an "End commission" link that answered 404."""
    outside = services.employee_create(actor=SYSTEM, person=olle.person,
                                       organisation=tree["primary"])
    commission = services.commission_grant(
        actor=SYSTEM, employee=outside, care_unit=tree["cardio"], purpose=CARE,
        rights=["Läsa;alla;VE"], valid_from=timezone.now(), valid_until=None)
    body = text(as_admin.get(person_url(olle.person)))
    assert commission.hsa_id not in body and outside.hsa_id not in body


def test_own_page_offers_no_grant_or_end(as_admin, hospital_admin):
    body = text(as_admin.get(person_url(hospital_admin.person)))
    assert "You cannot change your own commissions or roles." in body
    assert "Grant role" not in body and "End role" not in body


# --- Entitlement, accounts, dates ------------------------------------------------------------------


def test_a_commission_wholly_in_the_past_is_refused(as_admin, tree, olle):
    """A mistyped year (2052 for 2025, or the last day already gone) was granted silently."""
    response = as_admin.post(reverse("administration:commission_grant", args=[olle.person.pk]), {
        "employee": olle.pk, "care_unit": tree["ortho"].pk, "purpose": CARE,
        "activities": ["Läsa"], "information_classes": ["alla"], "scopes": ["VE"],
        "valid_from": "2020-01-01", "valid_until": "2020-12-31"})
    assert response.status_code == 200
    assert "The last day has already passed" in text(response)
    assert not Commission.objects.filter(employee=olle).exists()


def test_the_end_page_of_an_ended_commission_shows_no_form(as_admin, tree, olle):
    commission = services.commission_grant(
        actor=SYSTEM, employee=olle, care_unit=tree["ortho"], purpose=CARE,
        rights=["Läsa;alla;VE"], valid_from=timezone.now(), valid_until=None)
    services.commission_end(actor=SYSTEM, commission=commission, reason="Wrong unit")
    url = reverse("administration:commission_end", args=[olle.person.pk, commission.pk])
    page = text(as_admin.get(url))
    assert "already ended" in page and "<form" not in as_admin.get(url).content.decode().split(
        "<main", 1)[1]


def test_administrator_deactivates_and_reactivates_an_account(as_admin, tree, assert_audited,
                                                               issuing_ca):
    from apps.identities.models import User
    from apps.issuance.models import ActivationCode, MobileEID
    from tests.issuance.support import issue, redeem_qr

    user, employee = make_staff(tree["ortho"], "Dora", "Deactivated", care=True)
    eid = redeem_qr(issue(user.person)).eid
    open_code = issue(user.person).code
    colleague = Client()
    colleague.force_login(user)
    url = reverse("administration:account_deactivate", args=[user.person.pk, user.pk])
    page = text(as_admin.get(url))
    assert "1 active mobile e-ID is revoked" in page
    response = as_admin.post(url, {"reason": "Left the region"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    assert MobileEID.objects.get(pk=eid.pk).status == "revoked"
    assert ActivationCode.objects.get(pk=open_code.pk).ended_at is not None
    assert colleague.get(reverse("selfservice:my_eids")).status_code == 302  # session ended
    assert_audited("account.deactivated", target=user, subject=user.person)
    assert_audited("eid.revoked", target=eid)
    # Reactivation never revives the old session or code.
    url = reverse("administration:account_reactivate", args=[user.person.pk, user.pk])
    assert as_admin.post(url, {"reason": "Came back"}).status_code == 302
    user.refresh_from_db()
    assert user.is_active
    assert colleague.get(reverse("selfservice:my_eids")).status_code == 302
    assert ActivationCode.objects.get(pk=open_code.pk).ended_at is not None
    assert User.objects.get(pk=user.pk).is_active


def test_accounts_outside_scope_or_patient_accounts_are_not_found(as_admin, tree, olle):
    from apps.identities import services as identities

    patient_account = identities.user_create(actor=SYSTEM, person=olle.person, username="pat-olle",
                                             kind="patient")
    url = reverse("administration:account_deactivate", args=[olle.person.pk, patient_account.pk])
    assert as_admin.get(url).status_code == 404
    outsider, _ = make_staff(tree["primary"], "Pia", "Primär")
    url = reverse("administration:account_deactivate", args=[outsider.person.pk, outsider.pk])
    assert as_admin.post(url, {"reason": "x"}).status_code == 404
    outsider.refresh_from_db()
    assert outsider.is_active


def test_grant_forms_group_units_by_their_branch_within_the_scope(as_admin, olle):
    """Found: the care units were one flat list where the tree matters."""
    url = reverse("administration:commission_grant", kwargs={"person_id": olle.person.pk})
    html = as_admin.get(url).content.decode()
    assert '<optgroup label="Demo Hospital">' in html  # the branch, from the scope's root down
    assert "Region Demo" not in html  # nothing above the administrator's scope is named


def test_administrator_makes_a_leaver_after_seeing_each_change(as_admin, tree, issuing_ca):
    from apps.identities.models import User
    from apps.issuance.models import MobileEID
    from tests.issuance.support import issue, redeem_qr

    user, employee = make_staff(tree["ortho"], "Lena", "Leaver", care=True)
    eid = redeem_qr(issue(user.person)).eid
    detail = text(as_admin.get(reverse("administration:person_detail", args=[user.person.pk])))
    assert "Make a leaver" in detail
    url = reverse("administration:person_leave", args=[user.person.pk])
    page = text(as_admin.get(url))
    commission = Commission.objects.get(employee=employee)
    assert f"The commission {commission.name} ({commission.hsa_id}) ends." in page
    assert "The login account lena.leaver is deactivated." in page
    assert "1 active mobile e-ID is revoked" in page
    assert Commission.objects.get(pk=commission.pk).ended_at is None  # nothing happened yet
    blank = as_admin.post(url, {"now-reason": ""})
    assert blank.status_code == 200 and "This field is required." in text(blank)
    assert as_admin.post(url, {"now-reason": "Left the region"}).status_code == 302
    assert not User.objects.get(pk=user.pk).is_active
    assert MobileEID.objects.get(pk=eid.pk).status == "revoked"
    assert "There is nothing left to end for this person here." in text(as_admin.get(url))


def test_leaver_page_refuses_outsiders_and_oneself(as_admin, tree, hospital_admin):
    outsider, _ = make_staff(tree["primary"], "Pia", "Primär", care=True)
    assert as_admin.get(reverse("administration:person_leave",
                                args=[outsider.person.pk])).status_code == 404
    own = as_admin.get(reverse("administration:person_leave", args=[hospital_admin.person.pk]))
    assert "You cannot change your own commissions or roles." in text(own)
    assert "<form" not in own.content.decode().split("<main", 1)[1]


def test_administrator_plans_a_last_working_day(as_admin, tree):
    from apps.commissions.models import PlannedLeave
    from apps.identities.models import User

    user, _ = make_staff(tree["ortho"], "Lena", "Leaver", care=True)
    url = reverse("administration:person_leave", args=[user.person.pk])
    past = as_admin.post(url, {"when": "later", "later-last_day": "2000-01-31",
                               "later-reason": "Retires"})
    assert "The last working day has already passed." in text(past)
    day = (timezone.localtime() + timedelta(days=30)).date()
    response = as_admin.post(url, {"when": "later", "later-last_day": day.isoformat(),
                                   "later-reason": "Retires"})
    assert response.status_code == 302
    assert PlannedLeave.objects.get(person=user.person).last_day == day
    assert f"Planned: everything listed ends after {day.isoformat()}." in text(as_admin.get(url))
    assert User.objects.get(pk=user.pk).is_active


def test_administrator_moves_an_employee_hsa_id_and_chooses_what_ends(as_admin, tree):
    user, employee = make_staff(tree["cardio"], "Maja", "Mover", care=True)
    old = Commission.objects.get(employee=employee)
    detail = as_admin.get(reverse("administration:person_detail", args=[user.person.pk]))
    url = reverse("administration:employee_move", args=[user.person.pk, employee.pk])
    assert url in detail.content.decode()
    page = as_admin.get(url)
    assert f'value="{old.pk}"' in page.content.decode()  # listed to end or keep
    outside = as_admin.post(url, {"organisation": tree["primary"].pk, "reason": "x"})
    assert outside.status_code == 200  # a unit outside the scope is not a choice
    response = as_admin.post(url, {"organisation": tree["ortho"].pk, "end": [old.pk],
                                   "reason": "New post"})
    assert response.status_code == 302
    employee.refresh_from_db()
    assert employee.organisation == tree["ortho"]
    assert Commission.objects.get(pk=old.pk).ended_at is not None
