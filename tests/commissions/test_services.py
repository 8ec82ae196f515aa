"""Granting and ending commissions and roles: scope, validation, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.commissions import services
from apps.commissions.models import Commission, Employee, Role
from apps.core.actors import SYSTEM
from apps.core.errors import Forbidden, NotFound, ValidationFailed
from tests.conftest import make_staff

CARE = "Vård och behandling"


def grant(admin, employee, unit, **overrides):
    kwargs = dict(actor=admin, employee=employee, care_unit=unit, purpose=CARE,
                  rights=["Läsa;alla;VE"], valid_from=timezone.now(),
                  valid_until=timezone.now() + timedelta(days=30))
    kwargs.update(overrides)
    return services.commission_grant(**kwargs)


def test_admin_grants_commission_in_scope(tree, hospital_admin, assert_audited):
    _, employee = make_staff(tree["ortho"], "Olle", "Ortoped")
    commission = grant(hospital_admin, employee, tree["ortho"],
                       rights=["Läsa;alla;VE", "Skriva;dia;VE"])
    assert commission.care_provider == tree["region"]
    assert sorted(commission.rights_display()) == ["Läsa;alla;VE", "Skriva;dia;VE"]
    event = assert_audited("commission.granted", target=commission, subject=employee.person)
    assert event.actor_id == hospital_admin.pk
    assert (event.actor_label, event.actor_identifier) == ("Astrid Admin", "astrid.admin")
    assert event.organisation_hsa_id == tree["ortho"].hsa_id


def test_unit_outside_scope_is_not_found_and_nothing_saved(tree, hospital_admin):
    _, employee = make_staff(tree["ortho"], "Olle", "Ortoped")
    with pytest.raises(NotFound):
        grant(hospital_admin, employee, tree["primary"])
    with pytest.raises(NotFound):
        grant(hospital_admin, employee, tree["other_unit"])
    assert not Commission.objects.filter(employee=employee).exists()


def test_person_outside_scope_is_not_found(tree, hospital_admin):
    _, outsider = make_staff(tree["primary"], "Pia", "Primär")
    with pytest.raises(NotFound):
        grant(hospital_admin, outsider, tree["ortho"])


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"valid_until": timezone.now() - timedelta(days=1)}, "validity.end_before_start"),
        ({"rights": ["Läsa;alla;XX"]}, "commission.right"),
        ({"rights": ["Dansa;alla;VE"]}, "commission.right"),
        ({"rights": []}, "commission.no_rights"),
        ({"purpose": "Nöje"}, "commission.purpose"),
    ],
)
def test_invalid_input_is_refused(tree, hospital_admin, overrides, code):
    _, employee = make_staff(tree["ortho"], "Olle", "Ortoped")
    with pytest.raises(ValidationFailed) as exc:
        grant(hospital_admin, employee, tree["ortho"], **overrides)
    assert exc.value.code == code
    assert not Commission.objects.filter(employee=employee).exists()


def test_duplicate_active_commission_is_refused(tree, hospital_admin):
    _, employee = make_staff(tree["ortho"], "Olle", "Ortoped")
    grant(hospital_admin, employee, tree["ortho"])
    with pytest.raises(ValidationFailed) as exc:
        grant(hospital_admin, employee, tree["ortho"],
              valid_from=timezone.now() + timedelta(days=5), valid_until=None)
    assert exc.value.code == "commission.duplicate"
    # A later, non-overlapping period is fine.
    grant(hospital_admin, employee, tree["ortho"], valid_from=timezone.now() + timedelta(days=31),
          valid_until=timezone.now() + timedelta(days=60))


def test_end_commission_early_with_reason(tree, hospital_admin, assert_audited):
    _, employee = make_staff(tree["ortho"], "Olle", "Ortoped")
    commission = grant(hospital_admin, employee, tree["ortho"])
    with pytest.raises(ValidationFailed):
        services.commission_end(actor=hospital_admin, commission=commission, reason="  ")
    ended = services.commission_end(actor=hospital_admin, commission=commission,
                                    reason="Moved to another unit")
    assert ended.ended_at is not None
    assert not Commission.objects.active_at(timezone.now()).filter(pk=commission.pk).exists()
    event = assert_audited("commission.ended", target=commission)
    assert event.reason == "Moved to another unit"
    with pytest.raises(ValidationFailed):
        services.commission_end(actor=hospital_admin, commission=ended, reason="again")


def test_role_grant_and_end(tree, hospital_admin, assert_audited):
    user, _ = make_staff(tree["cardio"], "Ida", "Issuer")
    assignment = services.role_grant(actor=hospital_admin, person=user.person, role=Role.ISSUER,
                                     organisation=tree["cardio"], valid_from=timezone.now(),
                                     valid_until=None)
    assert_audited("role.granted", target=assignment, subject=user.person)
    with pytest.raises(ValidationFailed):
        services.role_grant(actor=hospital_admin, person=user.person, role=Role.ISSUER,
                            organisation=tree["cardio"], valid_from=timezone.now(),
                            valid_until=None)
    with pytest.raises(NotFound):
        services.role_grant(actor=hospital_admin, person=user.person, role=Role.ISSUER,
                            organisation=tree["primary"], valid_from=timezone.now(),
                            valid_until=None)
    services.role_end(actor=hospital_admin, assignment=assignment, reason="Left the role")
    assert_audited("role.ended", target=assignment)


def test_expired_role_gives_no_scope(tree):
    user, employee = make_staff(tree["hospital"], "Exa", "Expired")
    services.role_grant(actor=SYSTEM, person=user.person, role=Role.LOCAL_ADMIN,
                        organisation=tree["hospital"],
                        valid_from=timezone.now() - timedelta(days=10),
                        valid_until=timezone.now() - timedelta(days=1))
    with pytest.raises(NotFound):
        grant(user, employee, tree["ortho"])


def test_administrators_cannot_change_their_own_roles_or_commissions(tree, hospital_admin):
    """Separation of duties: an administrator who could make herself an issuer could
    bind an e-ID in a colleague's name; one who could give herself a care commission could open
    patients' records."""
    own = hospital_admin.person.employees.get()
    with pytest.raises(Forbidden):
        services.role_grant(actor=hospital_admin, person=hospital_admin.person, role=Role.ISSUER,
                            organisation=tree["hospital"], valid_from=timezone.now(),
                            valid_until=None)
    with pytest.raises(Forbidden):
        grant(hospital_admin, own, tree["cardio"], rights=["Läsa;alla;SJF"])
    assignment = hospital_admin.person.role_assignments.get()
    with pytest.raises(Forbidden):
        services.role_end(actor=hospital_admin, assignment=assignment, reason="bye")
    assert hospital_admin.person.role_assignments.count() == 1
    assert not Commission.objects.filter(employee=own).exists()


def test_scope_is_checked_for_the_person_not_only_the_unit(tree, hospital_admin, patient):
    """The service itself refuses a person or an employee HSA-id outside the scope."""
    with pytest.raises(NotFound):
        services.role_grant(actor=hospital_admin, person=patient.person, role=Role.ISSUER,
                            organisation=tree["cardio"], valid_from=timezone.now(),
                            valid_until=None)
    user, _ = make_staff(tree["ortho"], "Dubbel", "Anställd")
    outside = services.employee_create(actor=SYSTEM, person=user.person,
                                       organisation=tree["primary"])
    with pytest.raises(NotFound):
        grant(hospital_admin, outside, tree["ortho"])


# --- employee HSA-ids are one id whatever their case or width (docs/security.md) ---------------


@pytest.mark.parametrize("variant", [
    "se2321000016-eanna1",  # case: was accepted, so a search listed two people
    "SE2321000016-EAnna1",
    "\uff33\uff25\uff12\uff13\uff12\uff11\uff10\uff10\uff10\uff10\uff11\uff16-EANNA1",  # fullwidth
    " SE2321000016-EANNA1\u3000",
])
def test_an_employee_hsa_id_differing_only_in_case_or_width_is_refused(tree, variant):
    first, _ = make_staff(tree["ortho"], "Anna", "Andersson")
    services.employee_create(actor=SYSTEM, person=first.person, organisation=tree["ortho"],
                             hsa_id="SE2321000016-EANNA1")
    second, _ = make_staff(tree["ortho"], "Anna", "Andersson", username="anna.andersson2")
    with pytest.raises(ValidationFailed) as refused:
        services.employee_create(actor=SYSTEM, person=second.person, organisation=tree["ortho"],
                                 hsa_id=variant)
    assert (refused.value.code, refused.value.field) == ("employee.duplicate", "hsa_id")
    assert Employee.objects.filter(hsa_id__iexact="SE2321000016-EANNA1").count() == 1


@pytest.mark.parametrize("hsa_id", ["SE2321000016-EANNA\u0406", "SE2321000016-eannaı",
                                    "SE2321000016-EAN\u200bNA"])
def test_an_employee_hsa_id_with_look_alike_letters_is_refused(tree, hsa_id):
    user, _ = make_staff(tree["ortho"], "Anna", "Andersson")
    with pytest.raises(ValidationFailed) as refused:
        services.employee_create(actor=SYSTEM, person=user.person, organisation=tree["ortho"],
                                 hsa_id=hsa_id)
    assert refused.value.code == "hsa.format"


@pytest.mark.parametrize("model", ["employee", "commission"])
def test_the_database_refuses_a_raw_case_variant_of_an_hsa_id(tree, nurse, model):
    """Even a write that bypasses the services cannot add a second id differing only in case."""
    user, employee = nurse
    existing = employee if model == "employee" else Commission.objects.get(employee=employee)
    copy = {f.attname: getattr(existing, f.attname) for f in type(existing)._meta.concrete_fields
            if not f.primary_key}
    prefix, _, local = existing.hsa_id.partition("-")
    copy["hsa_id"] = f"{prefix}-{local.lower()}"  # still the normalised shape: only case differs
    with pytest.raises(IntegrityError), transaction.atomic():
        type(existing).objects.create(**copy)


def test_a_role_in_the_history_is_named_in_the_readers_language(tree, hospital_admin):
    """Found: the history showed "e-ID issuer @ ..." in the Swedish UI (the label was
    written in the language of the request that granted the role)."""
    from django.utils import translation

    from apps.audit.models import AuditEvent
    from apps.audit.registry import target_text

    user, _ = make_staff(tree["cardio"], "Rolf", "Roll")
    with translation.override("en"):
        services.role_grant(actor=SYSTEM, person=user.person, role=Role.ISSUER,
                               organisation=tree["hospital"], valid_from=timezone.now(),
                               valid_until=None)
    event = AuditEvent.objects.get(action="role.granted", subject_person_id=user.person.pk)
    assert event.target_label == "issuer @ Demo Hospital"
    with translation.override("sv"):
        assert target_text(event.target_type, event.target_label) == (
            "ID-administratör @ Demo Hospital")
    with translation.override("en"):
        assert target_text(event.target_type, event.target_label) == "e-ID issuer @ Demo Hospital"
    assert target_text(event.target_type, "Lokal administratör @ X") == "Lokal administratör @ X"
