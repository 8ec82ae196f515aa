"""Consent and emergency access: who may, validity rules, withdrawal vs deletion, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.selectors import audit_list_for_person
from apps.consents import selectors, services
from apps.consents.models import ConsentAssertion
from apps.core.actors import SYSTEM
from apps.core.errors import Forbidden, NotFound, ValidationFailed
from apps.identities import services as identities
from apps.identities.models import User
from tests.conftest import make_staff

Status = ConsentAssertion.Status


@pytest.fixture
def other_patient(db):
    person = identities.person_create(actor=SYSTEM, given_name="Elva", family_name="Elvasson",
                                      person_number="19500303-1233")
    return identities.user_create(actor=SYSTEM, person=person, username="elva",
                                  kind=User.Kind.PATIENT)


def give(actor, patient_user, unit, **kw):
    kw.setdefault("valid_from", timezone.now())
    return services.consent_give(actor=actor, patient=patient_user.person, care_unit=unit, **kw)


def test_patient_gives_consent_to_all_staff_at_unit(tree, patient, assert_audited):
    consent = give(patient, patient, tree["cardio"], valid_until=timezone.now() + timedelta(days=30))
    assert consent.care_provider == tree["region"]
    assert consent.employee is None
    assert consent.status(timezone.now()) == Status.ACTIVE
    assert consent.registered_by_id == patient.pk
    event = assert_audited("consent.given", target=consent, subject=patient.person)
    assert event.organisation_hsa_id == tree["cardio"].hsa_id
    assert event in audit_list_for_person(patient.person.pk)


def test_patient_gives_consent_to_one_named_staff_member(tree, patient, nurse):
    _, employee = nurse
    consent = give(patient, patient, tree["cardio"], employee=employee)
    now = timezone.now()
    assert selectors.consent_is_valid(patient=patient.person, care_unit=tree["cardio"],
                                      employee=employee, when=now)
    _, colleague = make_staff(tree["cardio"], "Carl", "Colleague")
    assert not selectors.consent_is_valid(patient=patient.person, care_unit=tree["cardio"],
                                          employee=colleague, when=now)
    assert consent.employee == employee


def test_an_all_staff_consent_needs_a_commission_at_the_unit(tree, patient, nurse):
    """All staff means all staff with a commission at that unit."""
    _, employee = nurse
    give(patient, patient, tree["cardio"])
    now = timezone.now()
    assert selectors.consent_is_valid(patient=patient.person, care_unit=tree["cardio"],
                                      employee=employee, when=now)
    _, outsider = make_staff(tree["ortho"], "Otto", "Ortho")
    assert not selectors.consent_is_valid(patient=patient.person, care_unit=tree["cardio"],
                                          employee=outsider, when=now)


def test_named_staff_member_must_work_at_the_unit(tree, patient, nurse):
    _, employee = nurse
    with pytest.raises(ValidationFailed) as exc:
        give(patient, patient, tree["ortho"], employee=employee)
    assert exc.value.field == "employee"
    assert not ConsentAssertion.objects.exists()


def test_patient_cannot_give_consent_for_someone_else(tree, patient, other_patient):
    with pytest.raises(NotFound):
        services.consent_give(actor=other_patient, patient=patient.person, care_unit=tree["cardio"],
                              valid_from=timezone.now())
    assert not ConsentAssertion.objects.exists()


def test_staff_registers_consent_only_at_own_unit_with_patient_present(tree, patient, nurse,
                                                                       assert_audited):
    user, _ = nurse
    with pytest.raises(Forbidden):
        give(user, patient, tree["ortho"], patient_present=True)
    with pytest.raises(ValidationFailed) as exc:
        give(user, patient, tree["cardio"])
    assert exc.value.field == "patient_present"
    consent = give(user, patient, tree["cardio"], patient_present=True)
    assert consent.registered_by_label == str(user)
    assert_audited("consent.given", target=consent, subject=patient.person)


def test_staff_without_care_commission_is_forbidden(tree, patient, hospital_admin):
    with pytest.raises(Forbidden):
        give(hospital_admin, patient, tree["cardio"], patient_present=True)


@pytest.mark.parametrize(
    ("kw", "field", "code"),
    [
        ({"valid_until": "-1d"}, "valid_until", "validity.end_before_start"),
        ({"valid_from": "-1d"}, "valid_from", "consent.start_in_past"),
    ],
)
def test_invalid_periods_are_refused(tree, patient, kw, field, code):
    now = timezone.now()
    values = {k: now - timedelta(days=1) for k in kw}
    with pytest.raises(ValidationFailed) as exc:
        give(patient, patient, tree["cardio"], **values)
    assert (exc.value.field, exc.value.code) == (field, code)
    assert not ConsentAssertion.objects.exists()


def test_not_a_care_unit_is_refused(tree, patient):
    with pytest.raises(ValidationFailed) as exc:
        give(patient, patient, tree["hospital"])
    assert exc.value.field == "care_unit"


def test_duplicate_consent_is_refused_but_a_longer_one_is_not(tree, patient):
    now = timezone.now()
    give(patient, patient, tree["cardio"], valid_until=now + timedelta(days=10))
    with pytest.raises(ValidationFailed) as exc:
        give(patient, patient, tree["cardio"], valid_from=now + timedelta(days=1),
             valid_until=now + timedelta(days=5))
    assert exc.value.code == "consent.duplicate"
    give(patient, patient, tree["cardio"], valid_until=now + timedelta(days=20))
    assert ConsentAssertion.objects.count() == 2


def test_upcoming_and_expired_status(tree, patient):
    now = timezone.now()
    upcoming = give(patient, patient, tree["cardio"], valid_from=now + timedelta(days=2))
    assert upcoming.status(now) == Status.UPCOMING
    old = give(SYSTEM, patient, tree["ortho"], valid_from=now - timedelta(days=30),
               valid_until=now - timedelta(days=1))
    assert old.status(now) == Status.EXPIRED
    assert not ConsentAssertion.objects.valid_at(now).exists()


def test_withdrawal_keeps_history_and_is_audited(tree, patient, nurse, assert_audited):
    consent = give(patient, patient, tree["cardio"])
    user, _ = nurse
    with pytest.raises(NotFound):
        services.consent_withdraw(actor=user, consent=consent)
    withdrawn = services.consent_withdraw(actor=patient, consent=consent)
    assert withdrawn.status(timezone.now()) == Status.WITHDRAWN
    assert withdrawn.cancelled_by_label == str(patient)
    assert ConsentAssertion.objects.filter(pk=consent.pk).exists()
    assert not ConsentAssertion.objects.valid_at(timezone.now()).exists()
    assert_audited("consent.withdrawn", target=consent, subject=patient.person)
    with pytest.raises(ValidationFailed) as exc:
        services.consent_withdraw(actor=patient, consent=withdrawn)
    assert exc.value.code == "consent.not_active"


def test_other_patient_cannot_withdraw(tree, patient, other_patient):
    consent = give(patient, patient, tree["cardio"])
    with pytest.raises(NotFound):
        services.consent_withdraw(actor=other_patient, consent=consent)


def test_deletion_by_staff_keeps_history_and_needs_reason(tree, patient, nurse, assert_audited):
    user, _ = nurse
    consent = give(user, patient, tree["cardio"], patient_present=True)
    with pytest.raises(ValidationFailed) as exc:
        services.consent_delete(actor=user, consent=consent, reason="  ")
    assert exc.value.field == "reason"
    with pytest.raises(ValidationFailed):
        services.consent_delete(actor=patient, consent=consent, reason="oops")
    deleted = services.consent_delete(actor=user, consent=consent, reason="Wrong patient")
    assert deleted.status(timezone.now()) == Status.DELETED
    assert deleted.delete_reason == "Wrong patient"
    event = assert_audited("consent.deleted", target=consent, subject=patient.person)
    assert event.reason == "Wrong patient"
    assert ConsentAssertion.objects.filter(pk=consent.pk).exists()


def test_staff_at_another_unit_cannot_delete(tree, patient):
    consent = give(patient, patient, tree["cardio"])
    other, employee = make_staff(tree["ortho"], "Olle", "Ortoped")
    from apps.commissions import services as commissions

    commissions.commission_grant(actor=SYSTEM, employee=employee, care_unit=tree["ortho"],
                                 purpose="Vård och behandling", rights=["Läsa;alla;VE"],
                                 valid_from=timezone.now() - timedelta(hours=1), valid_until=None)
    with pytest.raises(Forbidden):
        services.consent_delete(actor=other, consent=consent, reason="x")


def test_emergency_access(tree, patient, nurse, assert_audited):
    user, employee = nurse
    access = services.emergency_access_register(actor=user, patient=patient.person,
                                                care_unit=tree["cardio"], reason="Unconscious")
    now = timezone.now()
    assert access.is_emergency and access.employee == employee
    assert access.valid_until is not None
    assert timedelta(hours=23) < access.valid_until - now <= timedelta(hours=24)
    assert access.status(now) == Status.ACTIVE
    event = assert_audited("emergency_access.registered", target=access, subject=patient.person)
    assert event.reason == "Unconscious"
    with pytest.raises(ValidationFailed):
        services.consent_withdraw(actor=patient, consent=access)
    with pytest.raises(ValidationFailed):
        services.consent_delete(actor=user, consent=access, reason="x")


@pytest.mark.parametrize(
    ("reason", "until", "field"),
    [("", None, "reason"), ("ok", timedelta(days=8), "valid_until"),
     ("ok", timedelta(hours=-1), "valid_until")],
)
def test_emergency_access_refusals(tree, patient, nurse, reason, until, field):
    user, _ = nurse
    with pytest.raises(ValidationFailed) as exc:
        services.emergency_access_register(
            actor=user, patient=patient.person, care_unit=tree["cardio"], reason=reason,
            valid_until=timezone.now() + until if until is not None else None,
        )
    assert exc.value.field == field
    assert not ConsentAssertion.objects.exists()


def test_emergency_access_needs_commission(tree, patient, hospital_admin):
    with pytest.raises(Forbidden):
        services.emergency_access_register(actor=hospital_admin, patient=patient.person,
                                           care_unit=tree["cardio"], reason="x")
    from apps.core.errors import PortalError

    with pytest.raises(PortalError):
        services.emergency_access_register(actor=patient, patient=patient.person,
                                           care_unit=tree["cardio"], reason="x")


def test_database_refuses_emergency_without_reason(tree, patient, nurse):
    _, employee = nurse
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentAssertion.objects.create(
            assertion_type="emergency", patient=patient.person, care_provider=tree["region"],
            care_unit=tree["cardio"], employee=employee, valid_from=now, registered_at=now,
            registered_by_label="x",
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentAssertion.objects.create(
            assertion_type="consent", patient=patient.person, care_provider=tree["region"],
            care_unit=tree["cardio"], valid_from=now, valid_until=now, registered_at=now,
            registered_by_label="x",
        )


def test_staff_cannot_remove_what_the_patient_did(tree, patient, nurse):
    """Deleting a withdrawn consent hid the withdrawal, and staff could
    delete a consent the patient gave themself."""
    user, _ = nurse
    own = give(patient, patient, tree["cardio"])
    with pytest.raises(ValidationFailed) as exc:
        services.consent_delete(actor=user, consent=own, reason="wrong")
    assert exc.value.code == "consent.given_by_patient"
    registered = services.consent_give(actor=user, patient=patient.person, care_unit=tree["cardio"],
                                       valid_from=timezone.now(), patient_present=True,
                                       employee=nurse[1])
    services.consent_withdraw(actor=patient, consent=registered)
    with pytest.raises(ValidationFailed) as exc:
        services.consent_delete(actor=user, consent=registered, reason="wrong")
    assert exc.value.code == "consent.already_withdrawn"


def test_staff_cannot_register_for_their_own_records(tree, nurse):
    user, _ = nurse
    with pytest.raises(Forbidden):
        services.emergency_access_register(actor=user, patient=user.person, care_unit=tree["cardio"],
                                           reason="I need my records")
