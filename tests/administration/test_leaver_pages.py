"""The person page and the leaver pages as an administrator sees them: a planned leaver (last
working day, reason, who planned it) and cancelling it, each employee HSA-id's home unit, "Make a
leaver" only while something is left to end, and a leave page that says what each button does.

Logged in at LoA 3 as `hospital_admin`, the local administrator over Demo Hospital (Cardiology,
Orthopaedics), not over Primary Care Centre North.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.commissions import services
from apps.commissions.models import PlannedLeave, Role
from apps.core.actors import SYSTEM
from apps.identities.models import User
from tests.conftest import login_session, make_staff


def text(response):
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


@pytest.fixture
def as_admin(client, hospital_admin):
    client.cookies["django_language"] = "en"
    return login_session(client, hospital_admin)


@pytest.fixture
def lena(tree):
    user, _ = make_staff(tree["ortho"], "Lena", "Leaver", care=True)
    return user


def detail(client, user):
    return text(client.get(reverse("administration:person_detail", args=[user.person.pk])))


def in_a_month():
    return (timezone.localtime(timezone.now(), services.SWEDEN) + timedelta(days=30)).date()


def test_the_person_page_shows_a_planned_leaver_and_it_can_be_cancelled(as_admin, lena,
                                                                        hospital_admin):
    day = in_a_month()
    planned = services.planned_leave_set(actor=hospital_admin, person=lena.person, last_day=day,
                                         reason="Retires")
    page = detail(as_admin, lena)
    assert (f"Planned leaver Last working day {day.isoformat()} Reason Retires Planned by "
            f"{hospital_admin.person}") in page
    url = reverse("administration:planned_leave_cancel", args=[lena.person.pk, planned.pk])
    assert f"Cancel planned leaver {day.isoformat()}" in page
    form = text(as_admin.get(url))
    assert "Nothing ends after the last working day." in form
    blank = as_admin.post(url, {"reason": ""})
    assert blank.status_code == 200 and "This field is required." in text(blank)
    done = as_admin.post(url, {"reason": "Stays on"}, follow=True)
    assert "The planned leaver was cancelled." in text(done)
    assert "Planned leaver" not in detail(as_admin, lena).replace("Planned leaver cancelled", "")
    assert not PlannedLeave.objects.filter(pk=planned.pk).exists()
    assert AuditEvent.objects.filter(action="planned_leave.cancelled", reason="Stays on").exists()


def test_an_applied_plan_shows_that_and_no_form(as_admin, lena, hospital_admin):
    planned = services.planned_leave_set(actor=hospital_admin, person=lena.person,
                                         last_day=in_a_month(), reason="Retires")
    url = reverse("administration:planned_leave_cancel", args=[lena.person.pk, planned.pk])
    PlannedLeave.objects.filter(pk=planned.pk).update(last_day=planned.last_day.replace(year=2020))
    services.planned_leaves_apply(actor=SYSTEM)
    page = as_admin.get(url)
    assert "has already been applied, so it cannot be cancelled" in text(page)
    assert "<form" not in page.content.decode().split("<main", 1)[1]
    refused = as_admin.post(url, {"reason": "Oops"})
    assert refused.status_code == 200
    assert not User.objects.get(pk=lena.pk).is_active


def test_a_plan_of_someone_outside_the_scope_is_not_found(as_admin, tree, lena, hospital_admin):
    region_admin, _ = make_staff(tree["region"], "Rut", "Region")
    services.role_grant(actor=SYSTEM, person=region_admin.person, role=Role.LOCAL_ADMIN,
                        organisation=tree["region"], valid_from=timezone.now(), valid_until=None)
    outsider, _ = make_staff(tree["primary"], "Pia", "Primär", care=True)
    planned = services.planned_leave_set(actor=region_admin, person=outsider.person,
                                         last_day=in_a_month(), reason="Retires")
    for person in (outsider.person, lena.person):
        url = reverse("administration:planned_leave_cancel", args=[person.pk, planned.pk])
        assert as_admin.post(url, {"reason": "x"}).status_code == 404
    assert PlannedLeave.objects.filter(pk=planned.pk).exists()


def test_the_person_page_shows_the_home_unit_also_after_a_move(as_admin, tree, hospital_admin):
    user, employee = make_staff(tree["cardio"], "Maja", "Mover", care=True)
    assert f"Home unit: Cardiology ({tree['cardio'].hsa_id})" in detail(as_admin, user)
    services.employee_move(actor=hospital_admin, employee=employee, organisation=tree["ortho"],
                           end=[], reason="New post")
    page = detail(as_admin, user)
    assert f"Home unit: Orthopaedics ({tree['ortho'].hsa_id})" in page
    assert "Home unit: Cardiology" not in page


def test_make_a_leaver_is_not_offered_when_nothing_is_left_to_end(as_admin, lena, hospital_admin):
    assert "Make a leaver" in detail(as_admin, lena)
    services.person_leave(actor=hospital_admin, person=lena.person, reason="Left")
    assert "Make a leaver" not in detail(as_admin, lena)


def test_the_leave_page_says_what_each_button_does(as_admin, lena):
    page = text(as_admin.get(reverse("administration:person_leave", args=[lena.person.pk])))
    assert "Make Lena Leaver a leaver, now or after a last working day" in page
    assert "This happens at once" not in page
    assert "Everything listed ends as soon as you press the button. " in page
    assert "End everything now" in page
    assert "Nothing changes today. When the last working day is over" in page
    assert "Plan to end everything after the last working day" in page
