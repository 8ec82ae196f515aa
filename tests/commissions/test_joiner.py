"""Joiners: a local administrator registers a new staff member (docs/journey-joiner.md)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.authn import invitations
from apps.authn.models import LoginObligation
from apps.commissions import services
from apps.commissions.models import Employee, Enrolment
from apps.core.actors import SYSTEM
from apps.core.errors import Forbidden, NotFound, ValidationFailed
from apps.identities import services as identities
from apps.identities.documents import IdentityDocument
from apps.identities.identifiers import RESERVE_ID_ALPHABET, username_from_names
from apps.identities.models import IdentityNumber, Person, User
from apps.issuance import selectors as issuance_selectors
from apps.issuance.services import activation_code_issue
from apps.outbox.delivery import deliver_pending
from tests.conftest import invitation_path, make_staff
from tests.issuance.support import use_temporary_ca


def register(admin, unit, *, number="19750302-2381", given="Åsa", family="Öberg",
             email="asa.oberg@example.invalid", channel="email", reserve=False, title=""):
    return services.joiner_register(
        actor=admin, identity_number=number, reserve=reserve, given_name=given,
        family_name=family, email=email, organisation=unit, title=title, channel=channel)


def invitation_link() -> str:
    """Deliver the outbox and return the token of the newest invitation e-mail's link."""
    deliver_pending()
    return invitation_path().split("/")[2]


def test_a_new_person_gets_number_hsa_id_account_and_invitation(tree, hospital_admin,
                                                                 assert_audited):
    result = register(hospital_admin, tree["cardio"], number="７５０３０２２３８１",
                      title="Sjuksköterska")

    person = result.person
    assert result.person_created and result.account_created
    assert (person.given_name, person.family_name) == ("Åsa", "Öberg")
    assert person.identity_numbers.get().extension == "197503022381"
    employee = result.employee
    assert re.fullmatch(r"SE2321000016-E[A-Z0-9]{8}", employee.hsa_id)
    assert employee.organisation == tree["cardio"] and employee.title == "Sjuksköterska"
    user = result.user
    assert user.username == "asa.oberg" and user.kind == User.Kind.STAFF
    assert not user.has_usable_password()
    enrolment = result.enrolment
    assert enrolment.channel == Enrolment.Channel.EMAIL and enrolment.token_hash == ""
    # One correlation id for the whole registration.
    events = AuditEvent.objects.filter(subject_person_id=person.pk)
    assert {e.action for e in events} == {"person.created", "employee.created", "user.created",
                                          "enrolment.created"}
    assert len({e.request_id for e in events}) == 1
    assert {e.actor_id for e in events} == {hospital_admin.pk}


def test_the_invitation_is_mailed_with_a_token_stored_only_as_its_hash(tree, hospital_admin):
    result = register(hospital_admin, tree["cardio"])
    assert not mail.outbox  # nothing before the outbox delivers
    token = invitation_link()
    message = mail.outbox[-1]
    assert message.to == ["asa.oberg@example.invalid"] and "asa.oberg" in message.body
    enrolment = Enrolment.objects.get(pk=result.enrolment.pk)
    assert enrolment.token_hash == Enrolment.token_digest(token) and token not in str(
        list(AuditEvent.objects.values_list("changes", flat=True)))
    assert enrolment.expires_at and enrolment.sent_at
    assert enrolment.expires_at - enrolment.sent_at == timedelta(hours=72)


def test_the_invitation_sets_the_password_and_obliges_an_authenticator(tree, hospital_admin,
                                                                        assert_audited):
    result = register(hospital_admin, tree["cardio"])
    token = invitation_link()

    user = invitations.invitation_accept(actor=result.user, token=token,
                                         password="sommar i skogen")

    user.refresh_from_db()
    assert user.check_password("sommar i skogen")
    assert LoginObligation.objects.filter(user=user, kind="enrol_totp").exists()
    event = assert_audited("invitation.accepted", subject=user.person)
    assert event.actor_id == user.pk
    with pytest.raises(NotFound):  # single use
        invitations.invitation_accept(actor=result.user, token=token, password="another one 123")


def test_the_invitation_refuses_a_short_or_common_password_and_stays_usable(tree, hospital_admin):
    result = register(hospital_admin, tree["cardio"])
    token = invitation_link()
    with pytest.raises(ValidationFailed) as short:
        invitations.invitation_accept(actor=result.user, token=token, password="kort")
    assert short.value.field == "password" and "at least 8" in str(short.value.message)
    with pytest.raises(ValidationFailed):
        invitations.invitation_accept(actor=result.user, token=token, password="password123")
    assert not LoginObligation.objects.filter(user=result.user).exists()
    invitations.invitation_accept(actor=result.user, token=token, password="åtta tecken")


def test_an_expired_invitation_is_refused(tree, hospital_admin):
    result = register(hospital_admin, tree["cardio"])
    token = invitation_link()
    Enrolment.objects.filter(pk=result.enrolment.pk).update(expires_at=timezone.now())
    with pytest.raises(NotFound):
        invitations.invitation_accept(actor=result.user, token=token, password="sommar i skogen")


def test_a_token_works_only_for_its_own_account(tree, hospital_admin, nurse):
    register(hospital_admin, tree["cardio"])
    token = invitation_link()
    with pytest.raises(NotFound):
        invitations.invitation_accept(actor=nurse[0], token=token, password="sommar i skogen")


def test_a_redelivery_sends_a_new_link_and_the_old_one_stops_working(tree, hospital_admin):
    result = register(hospital_admin, tree["cardio"])
    first = invitation_link()
    services.enrolment_invitation_send(actor=SYSTEM, enrolment_id=str(result.enrolment.pk),
                                       notification_id="again")
    second = invitation_path().split("/")[2]
    assert first != second
    with pytest.raises(NotFound):
        invitations.invitation_accept(actor=result.user, token=first, password="sommar i skogen")
    invitations.invitation_accept(actor=result.user, token=second, password="sommar i skogen")


def test_a_new_invitation_ends_the_earlier_one(tree, hospital_admin, assert_audited):
    result = register(hospital_admin, tree["cardio"])
    first = invitation_link()
    new = services.enrolment_invitation_resend(actor=hospital_admin, user=result.user)
    second = invitation_link()
    assert Enrolment.objects.get(pk=result.enrolment.pk).ended_at is not None
    assert new.email == "asa.oberg@example.invalid"
    assert_audited("enrolment.ended", target=result.enrolment)
    with pytest.raises(NotFound):
        invitations.invitation_accept(actor=result.user, token=first, password="sommar i skogen")
    invitations.invitation_accept(actor=result.user, token=second, password="sommar i skogen")
    with pytest.raises(ValidationFailed) as done:  # enrolled: nothing to send again
        services.enrolment_invitation_resend(actor=hospital_admin, user=result.user)
    assert done.value.code == "enrolment.none"


def test_resending_is_refused_outside_the_scope_and_for_oneself(tree, hospital_admin):
    result = register(hospital_admin, tree["cardio"])
    other_admin, _ = make_staff(tree["primary"], "Olle", "Other")
    services.role_grant(actor=SYSTEM, person=other_admin.person, role="local_admin",
                        organisation=tree["primary"], valid_from=timezone.now(), valid_until=None)
    with pytest.raises(NotFound):
        services.enrolment_invitation_resend(actor=other_admin, user=result.user)


def test_deactivating_the_account_ends_the_invitation(tree, hospital_admin):
    result = register(hospital_admin, tree["cardio"])
    token = invitation_link()
    services.account_deactivate(actor=hospital_admin, user=result.user, reason="Never started")
    assert Enrolment.objects.get(pk=result.enrolment.pk).ended_at is not None
    with pytest.raises((NotFound, Forbidden)):
        invitations.invitation_accept(actor=result.user, token=token, password="sommar i skogen")


def test_a_leaver_ends_the_invitation(tree, hospital_admin):
    result = register(hospital_admin, tree["cardio"])
    services.commission_grant(
        actor=hospital_admin, employee=result.employee, care_unit=tree["cardio"],
        purpose="Vård och behandling", rights=["Läsa;alla;VE"],
        valid_from=timezone.now() - timedelta(days=1), valid_until=None)
    services.person_leave(actor=hospital_admin, person=result.person, reason="Changed their mind")
    assert Enrolment.objects.get(pk=result.enrolment.pk).ended_at is not None
    deliver_pending()
    assert not mail.outbox  # an ended invitation is never sent


@pytest.mark.parametrize("typed", ["750302-2381", "7503022381", "19750302-2381",
                                   "197503022381", "７５０３０２－２３８１"])
def test_the_same_number_in_any_form_finds_the_person_in_scope(tree, hospital_admin, typed):
    first = register(hospital_admin, tree["cardio"])
    with pytest.raises(services.AlreadyRegistered) as again:
        register(hospital_admin, tree["ortho"], number=typed, given="Other", family="Name")
    assert again.value.person_id == first.person.pk and again.value.field == "identity_number"
    assert Person.objects.filter(given_name="Åsa").count() == 1


def test_a_person_over_100_is_found_by_the_plus_form(tree, hospital_admin):
    identities.person_create(actor=SYSTEM, given_name="Greta", family_name="Gammal",
                             person_number="19121212-1212")
    result = register(hospital_admin, tree["cardio"], number="121212+1212", given="Greta",
                      family="Gammal")
    assert not result.person_created
    assert result.person.identity_numbers.get().extension == "191212121212"


def test_an_existing_person_outside_the_scope_gets_the_hsa_id_when_the_names_match(
        tree, hospital_admin):
    other, _ = make_staff(tree["other_unit"], "Åsa", "Öberg", username="asa.elsewhere")
    number = other.person.identity_numbers.get().display

    result = register(hospital_admin, tree["cardio"], number=number, given="ÅSA ",
                      family="öberg", email="new@example.invalid")

    assert result.person == other.person and not result.person_created
    assert result.user == other and not result.account_created and result.enrolment is None
    other.person.refresh_from_db()
    assert other.person.email == "åsa@example.invalid"  # kept, not changed
    assert Employee.objects.filter(person=other.person).count() == 2
    assert not AuditEvent.objects.filter(action="person.created",
                                         subject_person_id=other.person.pk,
                                         actor_id=hospital_admin.pk).exists()


def test_no_account_is_made_for_someone_who_also_works_elsewhere(tree, hospital_admin):
    """A login account is person-wide: for a person found outside the scope whose account there
    was deactivated, the administrator's registration makes only the employee HSA-id; an
    invitation to an address the administrator typed would otherwise log in as them for their
    other employer too (docs/decisions.md, "Person-wide actions")."""
    other, _ = make_staff(tree["other_unit"], "Åsa", "Öberg", username="asa.elsewhere")
    User.objects.filter(pk=other.pk).update(is_active=False)
    number = other.person.identity_numbers.get().display

    result = register(hospital_admin, tree["cardio"], number=number,
                      email="typed.by.admin@example.invalid")

    assert result.person == other.person and result.user is None and result.enrolment is None
    assert not User.objects.filter(person=other.person, is_active=True).exists()
    assert not Enrolment.objects.filter(person=other.person).exists()
    deliver_pending()
    assert not [m for m in mail.outbox if "typed.by.admin@example.invalid" in m.to]


def test_a_registered_patient_who_works_nowhere_else_gets_an_account(tree, hospital_admin):
    """The patient's only employee HSA-id is then the administrator's: the account is theirs to
    make."""
    patient = identities.person_create(actor=SYSTEM, given_name="Åsa", family_name="Öberg",
                                       person_number="19750302-2381")

    result = register(hospital_admin, tree["cardio"])

    assert result.person == patient and result.account_created and result.enrolment is not None


def test_other_names_for_a_number_outside_the_scope_reveal_nothing(tree, hospital_admin):
    other, _ = make_staff(tree["other_unit"], "Hemlig", "Person")
    Person.objects.filter(pk=other.person.pk).update(is_protected=True)
    number = other.person.identity_numbers.get().display

    with pytest.raises(ValidationFailed) as refused:
        register(hospital_admin, tree["cardio"], number=number, given="Anna", family="Andersson")

    assert refused.value.code == "joiner.mismatch"
    text = str(refused.value.message)
    assert "Hemlig" not in text and "Person" not in text and "protected" not in text
    assert not Employee.objects.filter(person=other.person, organisation=tree["cardio"]).exists()


def test_the_unit_must_be_in_the_scope(tree, hospital_admin):
    with pytest.raises(NotFound):
        register(hospital_admin, tree["primary"])
    with pytest.raises(NotFound):
        register(hospital_admin, tree["other_unit"])
    assert not Person.objects.filter(given_name="Åsa").exists()


def test_nobody_registers_themself(tree, hospital_admin):
    number = hospital_admin.person.identity_numbers.get().display
    with pytest.raises(Forbidden):
        register(hospital_admin, tree["cardio"], number=number, given="Astrid", family="Admin")


def test_staff_without_a_local_administrator_role_register_nobody(tree, nurse):
    with pytest.raises(NotFound):
        register(nurse[0], tree["cardio"])


def test_a_reserve_number_is_generated_under_the_portal_root(tree, hospital_admin, settings):
    result = register(hospital_admin, tree["cardio"], number="", reserve=True)
    number = IdentityNumber.objects.get(person=result.person)
    assert number.root == settings.PORTAL_RESERVE_ID_ROOT
    assert len(number.extension) == 12 and set(number.extension) <= set(RESERVE_ID_ALPHABET)
    assert not set(number.extension) & set("0O1I5S8B")


def test_number_and_reserve_are_refused_together_or_both_missing(tree, hospital_admin):
    with pytest.raises(ValidationFailed) as both:
        register(hospital_admin, tree["cardio"], reserve=True)
    assert both.value.code == "joiner.number_and_reserve"
    with pytest.raises(ValidationFailed) as neither:
        register(hospital_admin, tree["cardio"], number="")
    assert neither.value.code == "joiner.no_number"
    with pytest.raises(ValidationFailed) as bad:
        register(hospital_admin, tree["cardio"], number="19750302-2382")
    assert bad.value.code == "pnr.checksum"


def test_usernames_are_folded_to_ascii_and_numbered_when_taken_or_confusable(tree,
                                                                             hospital_admin):
    make_staff(tree["cardio"], "Maria", "Berg", username="rnaria.berg")
    first = register(hospital_admin, tree["cardio"], number="", reserve=True, given="Maria",
                     family="Berg", email="m@example.invalid")
    assert first.user.username == "maria.berg2"  # maria.berg looks like rnaria.berg
    second = register(hospital_admin, tree["cardio"], number="", reserve=True,
                      given="Zoë Ærø", family="von Ström-Ødegård", email="z@example.invalid")
    assert second.user.username == "zoe-aero.von-strom-odegard"
    assert username_from_names("李", "王") == "staff"


def test_an_issuer_enrolment_waits_for_the_issuer_and_the_code_marks_it_done(
        tree, hospital_admin, issuer, settings, tmp_path):
    use_temporary_ca(settings, tmp_path)
    result = register(hospital_admin, tree["cardio"], channel="issuer")
    deliver_pending()
    assert not mail.outbox
    assert issuance_selectors.staff_waiting_for_issuer(issuer) == [result.person]
    services.commission_grant(
        actor=hospital_admin, employee=result.employee, care_unit=tree["cardio"],
        purpose="Vård och behandling", rights=["Läsa;alla;VE"],
        valid_from=timezone.now() - timedelta(days=1), valid_until=None)
    activation_code_issue(actor=SYSTEM, person=result.person,
                          identity_document=IdentityDocument(
                              type="passport", last_four="1234",
                              expires_on=timezone.localdate() + timedelta(days=365)))
    assert Enrolment.objects.get(pk=result.enrolment.pk).done_at is not None
    assert issuance_selectors.staff_waiting_for_issuer(issuer) == []


@pytest.mark.parametrize("field,value", [
    ("family_name", "ﬀ" * 100), ("given_name", "ﬃ" * 100), ("title", "ﬃ" * 100),
    ("email", "a@" + ".".join(["ﬀ" * 60] * 4) + ".se"),
])
def test_a_text_longer_than_its_column_after_nfkc_is_refused(tree, hospital_admin, field, value):
    arguments = {"identity_number": "19750302-2381", "reserve": False, "given_name": "Åsa",
                 "family_name": "Öberg", "email": "asa@example.invalid",
                 "organisation": tree["cardio"], "title": "", "channel": "email", field: value}
    with pytest.raises(ValidationFailed) as refused:
        services.joiner_register(actor=hospital_admin, **arguments)
    assert (refused.value.code, refused.value.field) == ("text.too_long", field)
    assert not IdentityNumber.objects.filter(extension="197503022381").exists()
