"""Person-wide actions need the whole person in scope (docs/decisions.md, "Person-wide actions"):
an administrator or issuer whose scope holds only one of a person's employee HSA-ids does not
control their login account, sessions, second factor, password, activation codes or e-IDs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.authn import recovery
from apps.authn import services as authn
from apps.authn.models import UserSession
from apps.commissions import services
from apps.commissions.models import Role
from apps.core.actors import SYSTEM
from apps.core.assurance import mint_step_up
from apps.core.errors import NotFound
from apps.core.loa import LOA3
from apps.identities.documents import IdentityDocument
from apps.identities.models import User
from apps.issuance import services as issuance
from apps.issuance.models import MobileEID
from tests.conftest import PASSWORD, make_staff
from tests.issuance.support import issue, redeem_qr, use_temporary_ca


@pytest.fixture(autouse=True)
def ca(settings, tmp_path):
    return use_temporary_ca(settings, tmp_path)


def document() -> IdentityDocument:
    return IdentityDocument(type="passport", last_four="4711",
                            expires_on=timezone.localdate() + timedelta(days=400))


def join_at(admin, unit, user: User) -> None:
    """`admin` registers `user`'s person as a joiner at `unit` (only the public personnummer and
    names are needed)."""
    person = user.person
    services.joiner_register(
        actor=admin, identity_number=person.identity_numbers.get().display, reserve=False,
        given_name=person.given_name, family_name=person.family_name,
        email="someone@example.invalid", organisation=unit, channel="email")


@pytest.fixture
def olga(tree, hospital_admin) -> User:
    """Olga works at Other Care AB (another care provider, a commission there) and has been
    registered as a joiner at Cardiology: one home in the hospital, one outside it."""
    user, _ = make_staff(tree["other_unit"], "Olga", "Outside", care=True)
    join_at(hospital_admin, tree["cardio"], user)
    user.refresh_from_db()
    return user


def test_the_account_of_someone_who_also_works_elsewhere_is_not_deactivated(olga, hospital_admin):
    with pytest.raises(NotFound):
        services.account_deactivate(actor=hospital_admin, user=olga, reason="Sabotage")
    olga.refresh_from_db()
    assert olga.is_active


def test_nor_reactivated(olga, hospital_admin):
    services.account_deactivate(actor=SYSTEM, user=olga, reason="Their employer asked")
    with pytest.raises(NotFound):
        services.account_reactivate(actor=hospital_admin, user=olga, reason="Back")
    olga.refresh_from_db()
    assert not olga.is_active


def test_a_unit_administrator_cannot_deactivate_the_hospitals_administrator(tree,
                                                                          hospital_admin):
    carl, _ = make_staff(tree["cardio"], "Carl", "Cardio")
    services.role_grant(actor=SYSTEM, person=carl.person, role=Role.LOCAL_ADMIN,
                        organisation=tree["cardio"], valid_from=timezone.now(), valid_until=None)
    join_at(carl, tree["cardio"], hospital_admin)
    with pytest.raises(NotFound):
        services.account_deactivate(actor=carl, user=hospital_admin, reason="Coup")
    hospital_admin.refresh_from_db()
    assert hospital_admin.is_active


def test_an_account_wholly_in_scope_stays_manageable(tree, hospital_admin):
    user, _ = make_staff(tree["cardio"], "Hanna", "Hemma")
    services.employee_create(actor=SYSTEM, person=user.person, organisation=tree["ortho"])
    # two homes, both in the hospital
    services.account_deactivate(actor=hospital_admin, user=user, reason="Left")
    services.account_reactivate(actor=hospital_admin, user=user, reason="Back")
    user.refresh_from_db()
    assert user.is_active


def test_sessions_of_someone_who_also_works_elsewhere_are_not_ended(olga, hospital_admin):
    with pytest.raises(NotFound):
        authn.sessions_end_all(actor=hospital_admin, person=olga.person,
                               reason=UserSession.EndReason.ADMIN, note="Sabotage")


def test_an_issuer_cannot_reset_or_set_a_one_time_password_for_someone_also_elsewhere(
        olga, issuer, otp_clock):
    for change in (recovery.second_factor_reset, recovery.one_time_password_set):
        with pytest.raises(NotFound):
            change(actor=issuer, person=olga.person, identity_document=document(),
                   step_up=mint_step_up(issuer.pk, "saml", loa=LOA3))
    olga.refresh_from_db()
    assert olga.check_password(PASSWORD) and not olga.login_obligations.exists()


def test_an_issuer_cannot_issue_an_activation_code_for_someone_also_elsewhere(olga, issuer):
    with pytest.raises(NotFound):
        issuance.activation_code_issue(actor=issuer, person=olga.person,
                                       identity_document=document(),
                                       step_up=mint_step_up(issuer.pk, "saml", loa=LOA3))


def test_an_e_id_of_someone_working_elsewhere_is_not_revoked(olga, hospital_admin, issuer):
    eid = redeem_qr(issue(olga.person)).eid
    for actor in (hospital_admin, issuer):
        with pytest.raises(NotFound):
            issuance.eid_revoke(actor=actor, eid=eid, reason="Sabotage")
    eid.refresh_from_db()
    assert eid.status == MobileEID.Status.ACTIVE


def test_a_leaver_still_deactivates_when_nothing_is_left_anywhere(tree, hospital_admin):
    """Leavers (docs/decisions.md): the home outside the scope holds nothing active, so the
    account, codes and e-IDs go although the scope does not hold every home."""
    user, _ = make_staff(tree["other_unit"], "Nils", "Nolla")  # a home elsewhere, nothing active
    join_at(hospital_admin, tree["cardio"], user)
    employee = user.person.employees.get(organisation=tree["cardio"])
    services.commission_grant(
        actor=SYSTEM, employee=employee, care_unit=tree["cardio"], purpose="Vård och behandling",
        rights=["Läsa;alla;VE"], valid_from=timezone.now() - timedelta(days=1), valid_until=None)
    eid = redeem_qr(issue(user.person)).eid

    result = services.person_leave(actor=hospital_admin, person=user.person, reason="Left")

    assert (result.commissions, result.accounts) == (1, 1)
    user.refresh_from_db()
    eid.refresh_from_db()
    assert not user.is_active and eid.status == MobileEID.Status.REVOKED


def test_a_leaver_keeps_the_account_of_someone_working_elsewhere(olga, hospital_admin):
    employee = olga.person.employees.get(organisation__hsa_id="SE2321000016-0101")
    services.commission_grant(
        actor=SYSTEM, employee=employee, care_unit=employee.organisation,
        purpose="Vård och behandling", rights=["Läsa;alla;VE"],
        valid_from=timezone.now() - timedelta(days=1), valid_until=None)
    eid = redeem_qr(issue(olga.person)).eid

    result = services.person_leave(actor=hospital_admin, person=olga.person, reason="Left")

    assert (result.commissions, result.accounts) == (1, 0)
    olga.refresh_from_db()
    eid.refresh_from_db()
    assert olga.is_active and eid.status == MobileEID.Status.ACTIVE
