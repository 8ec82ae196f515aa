"""The audit search and its export (selectors.audit_search_in_scope, services.audit_log_export):
each filter, the scope (also through a crafted unit or position), keyset pages with equal times,
and the export's own audit event.

`hospital_admin` administers Demo Hospital (Cardiology, Orthopaedics), not Primary Care Centre
North nor Other Care AB (tests/conftest.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.commissions import selectors, services
from apps.commissions.selectors import AuditFilter, AuditPosition
from apps.core.actors import SYSTEM
from apps.core.errors import NotFound
from apps.identities.identifiers import make_person_number
from tests.conftest import make_staff

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
#: The end of the searched time: the fixtures' own events (now) are left out.
UNTIL = T0 + timedelta(days=30)


def event(unit, *, action="commission.granted", at=T0, actor=None, subject=None, **fields):
    """One audit row written as the writer would, at `unit` (None: no organisation)."""
    return AuditEvent.objects.create(
        occurred_at=at, action=action, actor_id=actor.pk if actor else None,
        actor_label=actor.audit_label if actor else "system:portal",
        actor_kind="user" if actor else "system",
        organisation_hsa_id=unit.hsa_id if unit else "", organisation_label=str(unit or ""),
        subject_person_id=subject.pk if subject else None, subject_label=str(subject or ""),
        **({"target_type": "tests.thing", "target_id": "1"} | fields))


def search(who, **filters):
    filters.setdefault("until", UNTIL)
    return list(selectors.audit_search_in_scope(actor=who, filters=AuditFilter(**filters)))


@pytest.fixture
def olle(tree):
    user, _ = make_staff(tree["ortho"], "Olle", "Ortoped")
    return user


def test_only_events_at_organisations_in_the_subtree_are_found(tree, hospital_admin):
    inside = [event(tree[name]) for name in ("hospital", "cardio", "ortho")]
    for name in ("region", "primary", "other", "other_unit"):
        event(tree[name])
    event(None)  # concerns no organisation: in no subtree's log
    assert set(search(hospital_admin)) == set(inside)


def test_patient_data_is_left_for_the_patients_log_extract(tree, hospital_admin):
    kept = event(tree["cardio"])
    event(tree["cardio"], action="emergency_access.registered")
    event(tree["cardio"], action="consent.given")
    assert search(hospital_admin) == [kept]


def test_someone_without_an_administrator_role_finds_nothing(tree, nurse, issuer):
    event(tree["cardio"])
    for actor in (nurse[0], issuer):  # an issuer over the whole region is no log reviewer
        with pytest.raises(NotFound):
            search(actor)


def test_the_unit_filter_takes_the_units_subtree(tree, hospital_admin):
    cardio = event(tree["cardio"])
    event(tree["ortho"])
    assert search(hospital_admin, unit=tree["cardio"]) == [cardio]
    assert len(search(hospital_admin, unit=tree["hospital"])) == 2


@pytest.mark.parametrize("unit", ["primary", "region", "other_unit"])
def test_a_crafted_unit_outside_the_scope_is_not_found(tree, hospital_admin, unit):
    event(tree[unit])
    with pytest.raises(NotFound):
        search(hospital_admin, unit=tree[unit])


@pytest.mark.parametrize("typed", ["{n12}", "{n10}", "{n8}-{n4}", "{n6}-{n4}", "  {n12} "])
def test_the_person_is_found_by_any_form_of_their_number(tree, hospital_admin, olle, typed):
    number = olle.person.person_number.replace("-", "")
    about_olle = event(tree["ortho"], subject=olle.person)
    event(tree["ortho"], subject=hospital_admin.person)
    text = typed.format(n12=number, n10=number[2:], n8=number[:8], n6=number[2:8], n4=number[8:])
    assert search(hospital_admin, person=text) == [about_olle]


def test_the_person_is_found_by_every_word_of_their_name(tree, hospital_admin, olle):
    about_olle = event(tree["ortho"], subject=olle.person)
    event(tree["ortho"], subject=hospital_admin.person)
    assert search(hospital_admin, person="olle ORTO") == [about_olle]
    assert search(hospital_admin, person="Olle Admin") == []
    assert search(hospital_admin, person="19121212-1213") == []  # not a valid number: nobody


def test_the_actor_is_found_by_username_name_or_number(tree, hospital_admin, olle):
    by_olle = event(tree["ortho"], actor=olle)
    event(tree["ortho"], actor=hospital_admin)
    event(tree["ortho"])  # the portal itself
    for typed in ("olle.ortoped", "OLLE.ortoped", "Ortoped", olle.person.person_number):
        assert search(hospital_admin, actor=typed) == [by_olle], typed


def test_the_action_and_the_time_range(tree, hospital_admin):
    granted = event(tree["cardio"], at=T0)
    ended = event(tree["cardio"], action="commission.ended", at=T0 + timedelta(hours=1))
    later = event(tree["cardio"], at=T0 + timedelta(days=1))
    assert search(hospital_admin, action="commission.ended") == [ended]
    assert search(hospital_admin, since=T0 + timedelta(minutes=1)) == [later, ended]
    assert search(hospital_admin, until=T0 + timedelta(hours=1)) == [granted]  # exclusive end
    assert search(hospital_admin, since=T0, until=T0 + timedelta(days=1)) == [ended, granted]


def test_pages_with_equal_times_hold_every_event_once_in_order(tree, hospital_admin):
    same = [event(tree["cardio"], at=T0) for _ in range(7)]
    older = event(tree["ortho"], at=T0 - timedelta(microseconds=1))
    newer = event(tree["ortho"], at=T0 + timedelta(microseconds=1))
    found = selectors.audit_search_in_scope(actor=hospital_admin, filters=AuditFilter(until=UNTIL))
    seen, position, pages = [], None, 0
    while True:
        page, position = selectors.audit_page(found, position, 3)
        seen += page
        pages += 1
        if position is None:
            break
    assert pages == 3
    assert seen == [newer, *sorted(same, key=lambda e: e.id, reverse=True), older]


def test_a_crafted_position_shows_nothing_outside_the_scope(tree, hospital_admin):
    outside = event(tree["primary"], at=T0)
    inside = event(tree["cardio"], at=T0 - timedelta(hours=1))
    found = selectors.audit_search_in_scope(actor=hospital_admin, filters=AuditFilter(until=UNTIL))
    crafted = AuditPosition(T0 + timedelta(seconds=1), outside.id)
    assert selectors.audit_page(found, crafted, 50) == ([inside], None)
    far_future = AuditPosition(datetime(2199, 1, 1, tzinfo=UTC), uuid.uuid4())
    assert selectors.audit_page(found, far_future, 50) == ([inside], None)


def test_a_position_reads_back_what_it_wrote_and_refuses_anything_else():
    position = AuditPosition(T0 + timedelta(microseconds=5), uuid.uuid4())
    assert AuditPosition.decode(position.encode()) == position
    for garbage in ("", "x", "20260310T120000.000005Z", "20260310T120000Z_" + uuid.uuid4().hex,
                    "20261310T120000.000000Z_" + uuid.uuid4().hex, "20260310T120000.000000Z_zz",
                    "../../etc_passwd", "\x00_\x00"):
        with pytest.raises(ValueError):
            AuditPosition.decode(garbage)


def test_the_export_holds_the_search_and_is_audited_with_its_filters(tree, hospital_admin, olle):
    for _ in range(3):
        event(tree["ortho"], subject=olle.person)
    event(tree["ortho"], subject=hospital_admin.person)
    event(tree["primary"], subject=olle.person)
    export = services.audit_log_export(
        actor=hospital_admin, filters=AuditFilter(person="Olle", unit=tree["ortho"], since=T0, until=UNTIL))
    rows = list(export.events)
    assert (export.rows, export.capped, len(rows)) == (3, False, 3)
    audited = AuditEvent.objects.get(action="audit_log.exported")
    assert audited.actor_id == hospital_admin.pk
    assert audited.organisation_hsa_id == tree["ortho"].hsa_id
    assert audited.changes["person"] == [None, "Olle"]
    assert audited.changes["unit"] == [None, tree["ortho"].hsa_id]
    assert audited.changes["since"] == [None, T0.isoformat()]
    assert audited.changes["rows"] == [None, 3]
    assert audited.changes["capped"] == [None, False]
    assert "action" not in audited.changes  # filters not used are not listed
    assert audited not in rows  # the export's own event came after it began


def test_the_export_holds_at_most_the_cap_newest_first(tree, hospital_admin, monkeypatch):
    monkeypatch.setattr(services, "EXPORT_MAX_ROWS", 2)
    events = [event(tree["cardio"], at=T0 + timedelta(minutes=i)) for i in range(4)]
    export = services.audit_log_export(actor=hospital_admin, filters=AuditFilter(until=UNTIL))
    assert list(export.events) == [events[3], events[2]]
    assert (export.rows, export.capped) == (2, True)
    audited = AuditEvent.objects.get(action="audit_log.exported")
    assert audited.changes["rows"] == [None, 2] and audited.changes["capped"] == [None, True]


def test_only_an_administrator_exports_and_only_their_subtree(tree, nurse, hospital_admin):
    with pytest.raises(NotFound):
        services.audit_log_export(actor=nurse[0], filters=AuditFilter())
    with pytest.raises(NotFound):
        services.audit_log_export(actor=hospital_admin, filters=AuditFilter(unit=tree["primary"]))
    assert not AuditEvent.objects.filter(action="audit_log.exported").exists()


def test_the_operator_may_search_everything(tree):
    event(tree["other_unit"], at=timezone.now())
    assert len(search(SYSTEM, until=None)) >= 1


# --- Events that concern no organisation: found through the person they are about ---------------


@pytest.mark.parametrize("action", ["person.left", "session.ended", "second_factor.reset",
                                    "password.reset", "password.changed", "otp_device.replaced"])
def test_an_event_without_organisation_about_someone_in_scope_is_found(tree, hospital_admin,
                                                                       olle, action):
    """Found: a leaver, an ended session, an issuer's reset or a person's own password change
    carried no organisation and was in nobody's search."""
    found = event(None, action=action, subject=olle.person, actor=olle)
    assert search(hospital_admin) == [found]
    assert search(hospital_admin, action=action) == [found]
    assert search(hospital_admin, unit=tree["ortho"]) == [found]  # Olle's home unit
    assert search(hospital_admin, unit=tree["cardio"]) == []


def test_an_event_without_organisation_about_someone_outside_the_scope_stays_hidden(
        tree, hospital_admin):
    outsider, _ = make_staff(tree["primary"], "Pia", "Primär")
    event(None, action="person.left", subject=outsider.person, actor=outsider)
    event(None, action="session.ended")  # about nobody
    assert search(hospital_admin) == []
    assert search(hospital_admin, person="Pia") == []


def test_an_event_of_a_colleagues_patient_account_stays_in_their_log_extract(tree, hospital_admin,
                                                                            olle):
    from apps.identities import services as identities

    as_patient = identities.user_create(actor=SYSTEM, person=olle.person, username="olle-patient",
                                        kind="patient")
    event(None, action="session.ended", subject=olle.person, actor=as_patient)
    assert search(hospital_admin) == []


def test_a_leaver_is_recorded_at_the_scope_root_it_was_done_for(tree, hospital_admin, olle):
    services.person_leave(actor=hospital_admin, person=olle.person, reason="Left")
    left = AuditEvent.objects.get(action="person.left", subject_person_id=olle.person.pk)
    assert left.organisation_hsa_id == tree["hospital"].hsa_id
    assert search(hospital_admin, action="person.left", until=None) == [left]


@pytest.mark.parametrize("unit", [None, "cardio"])
def test_an_event_on_a_colleagues_patient_account_stays_in_their_log_extract(tree, hospital_admin,
                                                                            olle, unit):
    """A citizen e-ID login links Olle's patient account (target the patient account): being a
    patient is patient data, as on the person page."""
    from apps.identities import services as identities

    as_patient = identities.user_create(actor=SYSTEM, person=olle.person, username="olle-patient",
                                        kind="patient")
    event(tree[unit] if unit else None, action="federated_identity.linked", subject=olle.person,
          target_type="identities.user", target_id=str(as_patient.pk))
    assert search(hospital_admin) == []
    export = services.audit_log_export(actor=hospital_admin,
                                       filters=AuditFilter(person="Olle", until=UNTIL))
    assert list(export.events) == []


def test_an_event_without_organisation_about_someone_also_working_elsewhere_stays_hidden(
        tree, hospital_admin, olle):
    """Olle also works at Primary Care Centre North (outside the hospital): his sessions, resets
    and password changes there are not the hospital's to read; what happened at Orthopaedics is."""
    from apps.commissions.services import employee_create

    employee_create(actor=SYSTEM, person=olle.person, organisation=tree["primary"])
    event(None, action="second_factor.reset", subject=olle.person)
    kept = event(tree["ortho"], subject=olle.person)
    assert search(hospital_admin) == [kept]
    assert search(hospital_admin, person="Olle") == [kept]
    assert list(selectors.audit_list_for_person_in_scope(
        olle.person, [tree["hospital"]]).filter(occurred_at__lt=UNTIL)) == [kept]
    # An administrator over both homes (the region) reads both.
    assert len(list(selectors.audit_list_for_person_in_scope(
        olle.person, [tree["region"]]).filter(occurred_at__lt=UNTIL))) == 2


def test_any_patient_account_at_a_unit_in_scope_is_left_out(tree, hospital_admin):
    """The patient account of someone with no employee HSA-id in the scope, acting or acted on at
    a unit in it, stays out as well: being a patient is patient data, whoever the patient is
    (docs/journey-audit-search.md, "What is in your scope's log")."""
    from apps.identities import services as identities

    citizen = identities.person_create(actor=SYSTEM, given_name="Pia", family_name="Patient",
                                       person_number=make_person_number(date(1950, 2, 3), 456))
    as_patient = identities.user_create(actor=SYSTEM, person=citizen, username="pia-patient",
                                        kind="patient")
    event(tree["cardio"], action="session.ended", actor=as_patient)
    event(tree["cardio"], action="federated_identity.linked", target_type="identities.user",
          target_id=str(as_patient.pk))
    assert search(hospital_admin) == []
    assert search(hospital_admin, unit=tree["cardio"]) == []


def test_staff_account_targets_and_other_targets_stay_found(tree, hospital_admin, olle):
    """Only a patient account's id is compared as an account: a staff account target, and a
    target of another type whose id is no UUID, are found as before."""
    on_staff = event(tree["ortho"], action="account.deactivated", target_type="identities.user",
                     target_id=str(olle.pk))
    other = event(tree["cardio"], target_type="tests.thing", target_id="88")
    assert set(search(hospital_admin)) == {on_staff, other}


@pytest.mark.parametrize("array_max", [0, 1000])
def test_a_large_scope_reads_person_wide_events_the_same_way(tree, hospital_admin, olle,
                                                             monkeypatch, array_max):
    """A scope of many organisations checks a person's homes row by row instead of through one
    array of its people (`PEOPLE_ARRAY_MAX_ORGANISATIONS`): the same events either way."""
    from apps.commissions.services import employee_create

    monkeypatch.setattr(selectors, "PEOPLE_ARRAY_MAX_ORGANISATIONS", array_max)
    found = event(None, action="password.changed", subject=olle.person, actor=olle)
    elsewhere, _ = make_staff(tree["ortho"], "Elsa", "Annanstans")
    employee_create(actor=SYSTEM, person=elsewhere.person, organisation=tree["primary"])
    event(None, action="second_factor.reset", subject=elsewhere.person)
    outsider, _ = make_staff(tree["primary"], "Pia", "Primär")
    event(None, action="person.left", subject=outsider.person)
    assert search(hospital_admin) == [found]
    assert search(hospital_admin, unit=tree["ortho"]) == [found]
    assert search(hospital_admin, unit=tree["cardio"]) == []


def test_a_username_is_looked_up_as_a_username_only(tree, hospital_admin, olle):
    """A text holding a digit, "." or "_" is a username, never part of a name (as the people
    search reads it); a personnummer is still a number."""
    by_olle = event(tree["ortho"], actor=olle)
    assert search(hospital_admin, actor="olle.ortoped") == [by_olle]
    assert search(hospital_admin, actor="ortoped.olle") == []
    assert search(hospital_admin, actor=olle.person.person_number) == [by_olle]
