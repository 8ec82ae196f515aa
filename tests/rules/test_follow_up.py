"""Emergency access follow-up: a local administrator sees the emergency openings made in their
scope (the ones to follow up first, oldest first), opens one and marks it followed up once with a
comment; another administrator's openings answer 404. A page costs the same number of queries
however many openings it lists."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.administration import emergency as pages
from apps.audit.models import AuditEvent
from apps.commissions import services as commissions
from apps.commissions.models import Role
from apps.core.actors import SYSTEM
from apps.core.errors import Forbidden, NotFound, ValidationFailed
from apps.identities.models import User
from apps.rules import services
from apps.rules.models import EmergencyOpening
from tests.conftest import login_session, make_staff
from tests.rules.support import care_commission, decide, open_emergency

LIST = reverse("administration:emergency_list")


def _detail(opening: EmergencyOpening) -> str:
    return reverse("administration:emergency_detail", kwargs={"opening_id": opening.pk})


def _text(response: Any) -> str:
    """The page's text without tags, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


@pytest.fixture
def world(tree: dict[str, Any], hospital_admin: Any, patient: Any) -> dict[str, Any]:
    """Nina at Cardiology (Demo Hospital) and Olga at Other Clinic (another care provider) each
    open the patient's records at the other's care provider with emergency access; Pia at
    Primary Care Centre North (the region, outside Demo Hospital) too. Oscar administers the other
    care provider."""
    _nina, nina = make_staff(tree["cardio"], "Nina", "Nurse")
    _olga, olga = make_staff(tree["other_unit"], "Olga", "Other")
    _pia, pia = make_staff(tree["primary"], "Pia", "Primary")
    oscar, _ = make_staff(tree["other"], "Oscar", "Admin")
    commissions.role_grant(actor=SYSTEM, person=oscar.person, role=Role.LOCAL_ADMIN,
                           organisation=tree["other"], valid_from=timezone.now(),
                           valid_until=None)
    rights = ["Läsa;alla;VE", "Läsa;alla;SJF"]
    nina_c = care_commission(nina, tree["cardio"], rights)
    olga_c = care_commission(olga, tree["other_unit"], rights)
    pia_c = care_commission(pia, tree["primary"], rights)
    return {
        "admin": hospital_admin, "oscar": oscar, "patient": patient.person, "nina": nina_c,
        "cardio_opening": open_emergency(nina_c, patient.person, tree["other_unit"]),
        "other_opening": open_emergency(olga_c, patient.person, tree["cardio"],
                                        reason="Olga's reason"),
        "primary_opening": open_emergency(pia_c, patient.person, tree["other_unit"],
                                          reason="Pia's reason"),
    }


def test_the_list_shows_the_openings_in_scope_with_who_whom_where_and_why(client, world):
    login_session(client, world["admin"])
    response = client.get(LIST)
    assert response.status_code == 200
    text = _text(response)
    nina = world["nina"].employee
    assert f"Nina Nurse HSA-id {nina.hsa_id}" in text
    assert "Tolvan Tolvansson 19121212-1212" in text
    assert "Cardiology" in text and "Other Clinic Other Care AB" in text
    assert "Read: all information" in text
    assert "Unconscious on arrival; the medication list is needed." in text
    # Other Care AB's and primary care's openings are outside Demo Hospital.
    assert "Olga" not in text and "Olga's reason" not in text
    assert "Pia" not in text and "Pia's reason" not in text


def test_the_other_administrator_sees_only_their_own(client, world):
    login_session(client, world["oscar"])
    text = _text(client.get(LIST))
    assert "Olga Other" in text and "Olga's reason" in text
    assert "Nina Nurse" not in text and "Pia" not in text


def test_an_opening_of_another_scope_is_not_found_and_cannot_be_followed_up(client, world):
    login_session(client, world["admin"])
    other = world["other_opening"]
    assert client.get(_detail(other)).status_code == 404
    assert client.post(_detail(other), {"comment": "Looks fine"}).status_code == 404
    assert client.get(reverse("administration:emergency_detail",
                              kwargs={"opening_id": "00000000-0000-0000-0000-000000000000"})
                      ).status_code == 404
    assert EmergencyOpening.objects.get(pk=other.pk).reviewed_at is None
    with pytest.raises(NotFound):
        services.emergency_review(actor=world["admin"], opening=other, comment="Fine")


def test_staff_who_administer_nothing_find_no_page(client, world, tree):
    user, _ = make_staff(tree["cardio"], "Nils", "Nobody")
    login_session(client, user)
    assert client.get(LIST).status_code == 404
    assert client.get(_detail(world["cardio_opening"])).status_code == 404


def test_follow_up_once_with_a_comment_and_an_audit_row(client, world):
    login_session(client, world["admin"])
    opening = world["cardio_opening"]
    page = _text(client.get(_detail(opening)))
    assert "Mark as followed up" in page and "Nina Nurse" in page
    response = client.post(_detail(opening), {"comment": " Checked with the ward: justified. "})
    assert response.status_code == 302 and response["Location"] == LIST
    stored = EmergencyOpening.objects.get(pk=opening.pk)
    assert stored.reviewed_at is not None
    assert stored.review_comment == "Checked with the ward: justified."
    assert stored.reviewed_by_label == "Astrid Admin (astrid.admin)"
    events = AuditEvent.objects.filter(action="emergency_access.reviewed",
                                       target_id=str(opening.pk))
    assert events.count() == 1
    event = events.get()
    assert event.actor_id == world["admin"].pk
    assert event.subject_person_id == world["patient"].pk
    assert event.reason == "Checked with the ward: justified."
    assert event.organisation_hsa_id == "SE2321000016-0101"

    # It moved from "to follow up" to "followed up".
    assert "Nina Nurse" not in _text(client.get(LIST))
    followed = _text(client.get(LIST, {"state": "reviewed"}))
    assert "Nina Nurse" in followed and "Astrid Admin" in followed

    # A second time is refused, on the page and in the service.
    again = client.post(_detail(opening), {"comment": "Again"})
    assert again.status_code == 409
    assert "This emergency access has already been followed up." in _text(again)
    with pytest.raises(ValidationFailed) as refused:
        services.emergency_review(actor=world["admin"], opening=opening, comment="Again")
    assert refused.value.code == "emergency.already_reviewed"
    assert events.count() == 1
    assert EmergencyOpening.objects.get(pk=opening.pk).review_comment == (
        "Checked with the ward: justified.")


@pytest.mark.parametrize("comment, error", [
    ("", "This field is required."),
    ("   ", "This field is required."),
    ("x" * (services.COMMENT_MAX + 1), "Ensure this value has at most 2000 characters"),
])
def test_an_empty_or_too_long_comment_is_refused_on_the_form(client, world, comment, error):
    login_session(client, world["admin"])
    opening = world["cardio_opening"]
    response = client.post(_detail(opening), {"comment": comment})
    assert response.status_code == 200
    assert error in _text(response)
    assert EmergencyOpening.objects.get(pk=opening.pk).reviewed_at is None
    assert not AuditEvent.objects.filter(action="emergency_access.reviewed").exists()


@pytest.mark.parametrize("comment, code", [
    ("  \n ", "emergency.comment"),
    ("x" * (services.COMMENT_MAX + 1), "emergency.comment_too_long"),
])
def test_the_service_refuses_an_empty_or_too_long_comment(world, comment, code):
    with pytest.raises(ValidationFailed) as refused:
        services.emergency_review(actor=world["admin"], opening=world["cardio_opening"],
                                  comment=comment)
    assert refused.value.code == code and refused.value.field == "comment"


def test_to_follow_up_is_oldest_first_and_followed_up_newest_first(client, world, tree):
    first = world["cardio_opening"]
    second = open_emergency(world["nina"], world["patient"], tree["other_unit"],
                            reason="Second opening")
    EmergencyOpening.objects.filter(pk=first.pk).update(
        opened_at=timezone.now() - timedelta(hours=2))
    login_session(client, world["admin"])
    text = _text(client.get(LIST))
    assert text.index("Unconscious on arrival") < text.index("Second opening")
    for opening in (first, second):
        services.emergency_review(actor=world["admin"], opening=opening, comment="Justified")
    text = _text(client.get(LIST, {"state": "reviewed"}))
    assert text.index("Second opening") < text.index("Unconscious on arrival")


def test_pages_follow_on_and_a_bad_page_link_shows_the_first(client, world, tree, monkeypatch):
    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    for i in range(3):
        open_emergency(world["nina"], world["patient"], tree["other_unit"], reason=f"Extra {i}")
    login_session(client, world["admin"])
    first = client.get(LIST).content.decode()
    link = re.search(r'href="\?state=open&amp;after=([^"#]+)#results" rel="next"', first)
    assert link is not None
    second = _text(client.get(LIST, {"state": "open", "after": link.group(1).replace(
        "%5F", "_")}))
    assert "Extra 1" in second and "Extra 2" in second
    bad = client.get(LIST, {"after": "not-a-position"}, follow=True)
    assert bad.status_code == 200
    assert "The page link was not valid, so the first page is shown." in _text(bad)
    assert client.get(LIST, {"state": "<script>"}).status_code == 200


def test_a_page_costs_the_same_queries_for_many_openings(client, world, tree,
                                                         django_assert_max_num_queries):
    login_session(client, world["admin"])
    client.get(LIST)
    with django_assert_max_num_queries(12) as few:
        client.get(LIST)
    for i in range(15):
        open_emergency(world["nina"], world["patient"], tree["other_unit"], reason=f"Many {i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        text = _text(client.get(LIST))
    assert "Many 14" in text


def test_the_decision_audit_row_names_the_staff_member_and_the_unit(world, tree):
    event = AuditEvent.objects.get(id=world["cardio_opening"].decision_id)
    nina = world["nina"]
    assert (event.actor_kind, event.actor_label, event.actor_identifier) == (
        "staff", "Nina Nurse", nina.employee.hsa_id)
    assert event.commission_hsa_id == nina.hsa_id
    assert (event.organisation_hsa_id, event.organisation_label) == (
        "SE2321000016-0101", "Cardiology")
    assert event.reason == "Unconscious on arrival; the medication list is needed."
    assert event.changes["emergency"] is True and event.changes["activity"] == "Läsa"
    denied = decide(nina, world["patient"], tree["other_unit"])
    assert not denied.allowed
    row = AuditEvent.objects.get(id=denied.id)
    assert row.outcome == "failure" and row.reason == ""


def test_the_acting_units_name_costs_no_extra_statement(world, django_assert_num_queries):
    """`facts.acting_staff` reads the commission, its rights, the person and the unit's and care
    provider's names and HSA-ids in its one statement."""
    from apps.rules import facts

    nina = world["nina"]
    with django_assert_num_queries(1):
        actor = facts.acting_staff(client_id="journal", client_label="Journal",
                                   client_care_provider_id=nina.care_provider_id,
                                   employee_hsa_id=nina.employee.hsa_id,
                                   commission_hsa_id=nina.hsa_id)
    assert actor.commission is not None
    assert (actor.commission.acting_hsa_id, actor.commission.acting_name) == (
        "SE2321000016-0101", "Cardiology")
    assert actor.commission.care_provider_name == "Region Demo"


def test_an_administrator_does_not_follow_up_their_own_emergency_access(
        tree: Any, patient: User) -> None:
    """Astrid is a local administrator over Demo Hospital and also works at Cardiology with a
    right to other providers' information. She opens Tolvan's records at Other Care AB as an
    emergency, then marks her own opening "followed up" herself. The follow-up that PDL 4 kap.
    3 § and HSLF-FS 2016:40 4 kap. 9 § require exists to check the staff member: the one who made
    the access must not close it (as nobody answers their own block request)."""
    astrid, employee = make_staff(tree["cardio"], "Astrid", "Admin")
    commissions.role_grant(actor=SYSTEM, person=astrid.person, role=Role.LOCAL_ADMIN,
                           organisation=tree["hospital"], valid_from=timezone.now(),
                           valid_until=None)
    commission = care_commission(employee, tree["cardio"], ["Läsa;alla;SJF"])
    opening = open_emergency(commission, patient.person, tree["other_unit"])
    with pytest.raises(Forbidden):
        services.emergency_review(actor=astrid, opening=opening, comment="All fine.")
    assert EmergencyOpening.objects.get(pk=opening.pk).reviewed_at is None
