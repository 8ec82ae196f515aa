"""Block requests: the patient asks, staff at the information owner confirm (registering the block)
or decline; who may, every refusal, the database checks and the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_list_for_person
from apps.blocks import selectors, services
from apps.blocks.models import Block, BlockRequest
from apps.commissions.models import Commission
from apps.core.actors import SYSTEM
from apps.core.errors import Forbidden, NotFound, ValidationFailed
from apps.identities import services as identities
from apps.identities.models import User
from tests.conftest import make_staff, next_person_number

INNER, OUTER = Block.Type.INNER, Block.Type.OUTER
State = BlockRequest.State


@pytest.fixture
def staff(nurse):
    """The nurse at Cardiology (Region Demo) and the commission she acts under."""
    user, employee = nurse
    return user, Commission.objects.get(employee=employee)


@pytest.fixture
def other_staff(tree):
    """A nurse at Other Care AB, another care provider."""
    user, employee = make_staff(tree["other_unit"], "Olle", "Other", care=True)
    return user, Commission.objects.get(employee=employee)


def ask(patient, tree, block_type=INNER, **kw):
    kw.setdefault("care_provider", tree["region"])
    if block_type == INNER:
        kw.setdefault("care_unit", tree["cardio"])
    return services.block_request_submit(actor=kw.pop("actor", patient), patient=patient.person,
                                         block_type=block_type, **kw)


def confirm(staff, request, patient_met=True):
    return services.block_request_confirm(actor=staff[0], commission=staff[1], request=request,
                                          patient_met=patient_met)


def decline(staff, request, reason="Please come to the unit with an identity document."):
    return services.block_request_decline(actor=staff[0], commission=staff[1], request=request,
                                          reason=reason)


# --- the patient asks --------------------------------------------------------------------------

def test_the_patient_asks_for_an_inner_block(patient, tree, assert_audited):
    start = timezone.now() - timedelta(days=100)
    request = ask(patient, tree, period_start=start, period_end=start + timedelta(days=10),
                  excluded_types=["lak"], message="  I can come on Tuesdays.  ")
    assert request.state == State.PENDING
    assert request.message == "I can come on Tuesdays."
    assert request.excluded_types == {"lak"}
    assert request.block is None
    assert not Block.objects.exists()
    event = assert_audited("block_request.submitted", target=request, subject=patient.person)
    assert event.organisation_hsa_id == tree["cardio"].hsa_id
    assert event in audit_list_for_person(patient.person.pk)
    assert list(selectors.block_request_list_pending_for_provider(tree["region"])) == [request]
    assert not selectors.block_request_list_pending_for_provider(tree["other"]).exists()


def test_the_patient_asks_for_an_outer_block_of_a_care_provider(patient, tree):
    request = ask(patient, tree, OUTER, care_provider=tree["other"])
    assert request.care_unit is None
    assert request.care_provider == tree["other"]


@pytest.mark.parametrize("kw, field, code", [
    ({"block_type": "sideways"}, "block_type", "block.unknown_type"),
    ({"care_unit": None}, "care_unit", "block.inner_without_unit"),
    ({"care_unit": "other_unit"}, "care_unit", "block.unit_not_at_provider"),
    ({"care_provider": "cardio"}, "care_provider", "block.not_care_provider"),
    ({"excluded_types": ["lak", "dia"]}, "excluded_types", "block.type_not_excludable"),
    ({"message": "x" * 501}, "message", "block_request.message_too_long"),
])
def test_a_malformed_request_is_refused(patient, tree, kw, field, code):
    kw = {k: tree[v] if isinstance(v, str) and v in tree else v for k, v in kw.items()}
    block_type = kw.pop("block_type", INNER)
    with pytest.raises(ValidationFailed) as exc:
        ask(patient, tree, block_type, **kw)
    assert (exc.value.field, exc.value.code) == (field, code)
    assert not BlockRequest.objects.exists()


def test_a_message_of_500_characters_is_accepted(patient, tree):
    assert len(ask(patient, tree, message="å" * 500).message) == 500


def test_the_period_end_must_follow_its_start(patient, tree):
    now = timezone.now()
    with pytest.raises(ValidationFailed) as exc:
        ask(patient, tree, period_start=now, period_end=now - timedelta(days=1))
    assert exc.value.field == "period_end"


def test_at_most_five_pending_requests(patient, tree, staff):
    requests = [ask(patient, tree) for _ in range(5)]
    with pytest.raises(ValidationFailed) as exc:
        ask(patient, tree)
    assert exc.value.code == "block_request.too_many_pending"
    assert "5 requests waiting" in str(exc.value.message)
    assert BlockRequest.objects.count() == 5
    services.block_request_withdraw(actor=patient, request=requests[0])
    decline(staff, requests[1])
    ask(patient, tree)
    ask(patient, tree)
    assert BlockRequest.objects.filter(state=State.PENDING).count() == 5


def test_only_the_patient_themself_asks(patient, tree, staff):
    other_person = identities.person_create(actor=SYSTEM, given_name="Greta", family_name="Guardian",
                                            person_number=next_person_number())
    guardian = identities.user_create(actor=SYSTEM, person=other_person, username="greta",
                                      kind=User.Kind.PATIENT)
    for actor in (guardian, staff[0], SYSTEM):
        with pytest.raises(Forbidden) as exc:
            ask(patient, tree, actor=actor)
        assert exc.value.code == "block_request.not_patient"
    assert not BlockRequest.objects.exists()


# --- the patient withdraws --------------------------------------------------------------------

def test_the_patient_withdraws_a_pending_request(patient, tree, assert_audited):
    request = ask(patient, tree)
    withdrawn = services.block_request_withdraw(actor=patient, request=request)
    assert withdrawn.state == State.WITHDRAWN
    assert withdrawn.decided_by_id == patient.pk
    assert withdrawn.decided_at is not None
    assert_audited("block_request.withdrawn", target=request, subject=patient.person)
    with pytest.raises(ValidationFailed) as exc:
        services.block_request_withdraw(actor=patient, request=request)
    assert exc.value.code == "block_request.not_pending"


def test_another_patient_cannot_withdraw_it(patient, tree, staff):
    request = ask(patient, tree)
    person = identities.person_create(actor=SYSTEM, given_name="Ulla", family_name="Other",
                                      person_number=next_person_number())
    other = identities.user_create(actor=SYSTEM, person=person, username="ulla",
                                   kind=User.Kind.PATIENT)
    with pytest.raises(NotFound):
        services.block_request_withdraw(actor=other, request=request)
    with pytest.raises(Forbidden):
        services.block_request_withdraw(actor=staff[0], request=request)
    with pytest.raises(NotFound):
        selectors.block_request_get_for_patient(person, request.pk)
    assert BlockRequest.objects.get().state == State.PENDING


def test_a_confirmed_request_cannot_be_withdrawn(patient, tree, staff):
    request = confirm(staff, ask(patient, tree))
    with pytest.raises(ValidationFailed) as exc:
        services.block_request_withdraw(actor=patient, request=request)
    assert exc.value.code == "block_request.not_pending"
    assert Block.objects.get().status == Block.Status.ACTIVE


# --- staff confirm ----------------------------------------------------------------------------

def test_staff_at_the_owner_confirm_and_the_block_is_registered(patient, tree, staff,
                                                                 assert_audited):
    start = timezone.now() - timedelta(days=30)
    request = ask(patient, tree, period_start=start, excluded_types=["lak", "upp"])
    confirmed = confirm(staff, request)
    assert confirmed.state == State.CONFIRMED
    assert confirmed.patient_met is True
    assert confirmed.decided_by_id == staff[0].pk
    block = confirmed.block
    assert block is not None
    assert (block.block_type, block.care_provider, block.care_unit, block.period_start,
            block.period_end, block.excluded_types) == (
        INNER, tree["region"], tree["cardio"], start, None, {"lak", "upp"})
    assert block.registered_by_id == staff[0].pk
    assert list(Block.objects.in_force_at(timezone.now()).filter(patient=patient.person)) == [block]
    assert_audited("block.registered", target=block, subject=patient.person)
    event = assert_audited("block_request.confirmed", target=request, subject=patient.person)
    assert event.changes["block"] == [None, str(block.pk)]
    assert not selectors.block_request_list_pending_for_provider(tree["region"]).exists()


def test_an_outer_block_is_confirmed_by_staff_of_that_provider(patient, tree, other_staff):
    confirmed = confirm(other_staff, ask(patient, tree, OUTER, care_provider=tree["other"]))
    assert confirmed.block.block_type == OUTER
    assert confirmed.block.care_unit is None


def test_confirming_needs_the_patient_met(patient, tree, staff):
    request = ask(patient, tree)
    with pytest.raises(ValidationFailed) as exc:
        confirm(staff, request, patient_met=False)
    assert (exc.value.field, exc.value.code) == ("patient_met", "block_request.patient_not_met")
    assert not Block.objects.exists()
    assert BlockRequest.objects.get().state == State.PENDING


def test_a_request_is_answered_once(patient, tree, staff):
    request = ask(patient, tree)
    confirm(staff, request)
    for answer in (lambda: confirm(staff, request), lambda: decline(staff, request)):
        with pytest.raises(ValidationFailed) as exc:
            answer()
        assert exc.value.code == "block_request.not_pending"
    assert Block.objects.count() == 1
    assert AuditEvent.objects.filter(action="block_request.confirmed").count() == 1


def test_a_withdrawn_request_cannot_be_confirmed(patient, tree, staff):
    request = ask(patient, tree)
    services.block_request_withdraw(actor=patient, request=request)
    with pytest.raises(ValidationFailed) as exc:
        confirm(staff, request)
    assert exc.value.code == "block_request.not_pending"
    assert not Block.objects.exists()


def test_another_care_providers_staff_do_not_find_the_request(patient, tree, other_staff):
    request = ask(patient, tree)
    with pytest.raises(NotFound):
        confirm(other_staff, request)
    with pytest.raises(NotFound):
        decline(other_staff, request)
    with pytest.raises(NotFound):
        selectors.block_request_get_for_provider(tree["other"], request.pk)
    assert BlockRequest.objects.get().state == State.PENDING


def test_nobody_answers_under_someone_elses_or_no_commission(patient, tree, staff):
    request = ask(patient, tree)
    colleague, _ = make_staff(tree["cardio"], "Carl", "Colleague", care=True)
    with pytest.raises(NotFound):
        services.block_request_confirm(actor=colleague, commission=staff[1], request=request,
                                       patient_met=True)
    with pytest.raises(NotFound):
        services.block_request_confirm(actor=staff[0], commission=None, request=request,
                                       patient_met=True)
    with pytest.raises(NotFound):
        services.block_request_confirm(actor=patient, commission=None, request=request,
                                       patient_met=True)


def test_an_ended_commission_is_refused(patient, tree, staff):
    request = ask(patient, tree)
    Commission.objects.filter(pk=staff[1].pk).update(valid_until=timezone.now())
    staff[1].refresh_from_db()
    with pytest.raises(Forbidden) as exc:
        confirm(staff, request)
    assert exc.value.code == "commission.not_valid"


def test_a_commission_of_another_purpose_is_refused(patient, tree, staff):
    request = ask(patient, tree)
    Commission.objects.filter(pk=staff[1].pk).update(purpose="Administration")
    staff[1].refresh_from_db()
    with pytest.raises(Forbidden) as exc:
        decline(staff, request)
    assert exc.value.code == "block.not_care_commission"


def test_nobody_confirms_their_own_request_as_staff(tree, staff):
    nurse_user, commission = staff
    own = identities.user_create(actor=SYSTEM, person=nurse_user.person, username="nina.patient",
                                 kind=User.Kind.PATIENT)
    request = ask(own, tree)
    with pytest.raises(Forbidden) as exc:
        confirm(staff, request)
    assert exc.value.code == "block.self"


# --- staff decline ----------------------------------------------------------------------------

def test_staff_decline_with_a_reason_the_patient_sees(patient, tree, staff, assert_audited):
    request = ask(patient, tree)
    declined = decline(staff, request, "  Come to the unit with your passport.  ")
    assert declined.state == State.DECLINED
    assert declined.decline_reason == "Come to the unit with your passport."
    assert declined.block is None
    assert not Block.objects.exists()
    event = assert_audited("block_request.declined", target=request, subject=patient.person)
    assert event.reason == "Come to the unit with your passport."
    assert selectors.block_request_get_for_patient(patient.person, request.pk).state == State.DECLINED


def test_declining_needs_a_reason(patient, tree, staff):
    request = ask(patient, tree)
    with pytest.raises(ValidationFailed) as exc:
        decline(staff, request, "   ")
    assert exc.value.field == "reason"
    assert BlockRequest.objects.get().state == State.PENDING


# --- the database ------------------------------------------------------------------------------

@pytest.mark.parametrize("changes", [
    {"state": "confirmed"},  # no block, no decision
    {"state": "declined", "decided_at": "now", "decided_by_label": "x"},  # no reason
    {"state": "withdrawn"},  # no decision
    {"state": "pending", "decline_reason": "why"},
    {"state": "lost", "decided_at": "now", "decided_by_label": "x"},
    {"block_type": "outer", "care_unit": None, "period_start": "now", "period_end": "now"},
])
def test_the_database_refuses_inconsistent_states(patient, tree, changes):
    request = ask(patient, tree)
    now = timezone.now()
    changes = {k: now if v == "now" else v for k, v in changes.items()}
    with pytest.raises(IntegrityError), transaction.atomic():
        BlockRequest.objects.filter(pk=request.pk).update(**changes)


def test_the_database_refuses_an_inner_request_without_a_unit(patient, tree):
    request = ask(patient, tree)
    with pytest.raises(IntegrityError), transaction.atomic():
        BlockRequest.objects.filter(pk=request.pk).update(care_unit=None)
