"""A local administrator sees a person's login accounts, mobile e-IDs and sessions, and ends one
session or all of them with a reason (docs/journey-sessions-admin.md): only inside their
subtree, refused outside it like "not found" (also for a session id of another person in the URL
of a person in scope), never their own current session; the person is logged out at their next
request and sees why on their page My sessions.

The administrator is `hospital_admin` (local administrator over Demo Hospital: Cardiology,
Orthopaedics), logged in at LoA 3 (`tests.conftest.login_session`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.authn import services
from apps.authn.models import UserSession
from apps.core.actors import SYSTEM
from apps.core.errors import NotFound, ValidationFailed
from apps.identities import services as identities
from apps.identities.models import User
from apps.issuance.models import ActivationCode, MobileEID
from tests.conftest import login_session, make_staff

pytestmark = pytest.mark.django_db

ADMIN = UserSession.EndReason.ADMIN
MY_SESSIONS = reverse("selfservice:my_sessions")


def login(user: Any) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en", HTTP_USER_AGENT="Firefox/999 test")
    client.cookies["django_language"] = "en"
    return login_session(client, user)


def text(response: Any) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def record_of(client: Client) -> UserSession:
    key = client.cookies["sessionid"].value
    return UserSession.objects.get(key_hash=hashlib.sha256(key.encode()).hexdigest())


def logged_in(client: Client) -> bool:
    return client.get(MY_SESSIONS).status_code == 200


def person_url(person: Any) -> str:
    return reverse("administration:person_detail", kwargs={"person_id": person.pk})


def end_url(person: Any, row: UserSession) -> str:
    return reverse("administration:session_end",
                   kwargs={"person_id": person.pk, "session_id": row.pk})


def end_all_url(person: Any) -> str:
    return reverse("administration:sessions_end_all", kwargs={"person_id": person.pk})


def make_eid(person: Any, *, device: str, revoked: str = "", expired: bool = False) -> MobileEID:
    """A mobile e-ID row as issuance leaves it (no certificate needed by these pages)."""
    now = timezone.now()
    with transaction.atomic():
        code = ActivationCode.objects.create(
            person=person, created_by_label="test", secret_hash=secrets.token_hex(32),
            short_hash=secrets.token_hex(32), expires_at=now + timedelta(minutes=10), ended_at=now)
        return MobileEID.objects.create(
            person=person, activation_code=code, serial=secrets.token_hex(16),
            fingerprint_sha256=secrets.token_hex(32), certificate_pem="-",
            not_before=now - timedelta(days=400 if expired else 1),
            not_after=now - timedelta(days=1) if expired else now + timedelta(days=700),
            device_name=device, status="revoked" if revoked else "active",
            revoked_at=now if revoked else None, revocation_reason=revoked)


@pytest.fixture
def olle(tree: Any) -> User:
    """A staff member at Orthopaedics (in the administrator's scope)."""
    user, _ = make_staff(tree["ortho"], "Olle", "Ortoped")
    return user


@pytest.fixture
def pia(tree: Any) -> User:
    """A staff member at primary care (outside the administrator's scope)."""
    user, _ = make_staff(tree["primary"], "Pia", "Primär")
    return user


# --- services and policy ------------------------------------------------------------------------

def test_an_administrator_in_scope_ends_one_session_and_the_browser_is_logged_out(
        hospital_admin: User, olle: User) -> None:
    browser, other = login(olle), login(olle)
    row = record_of(browser)
    services.session_end(actor=hospital_admin, user_session=row, reason=ADMIN,
                         note="  Phone reported stolen ")
    assert not logged_in(browser)
    assert logged_in(other)
    row.refresh_from_db()
    assert (row.end_reason, row.end_note) == (ADMIN, "Phone reported stolen")
    event = AuditEvent.objects.get(action="session.ended", target_id=str(row.pk))
    assert event.actor_id == hospital_admin.pk and event.reason == "Phone reported stolen"
    assert event.subject_person_id == olle.person_id


def test_an_administrator_ends_all_staff_sessions_in_one_audit_event(
        hospital_admin: User, olle: User) -> None:
    browsers = [login(olle), login(olle)]
    assert services.sessions_end_all(actor=hospital_admin, person=olle.person, reason=ADMIN,
                                      note="Left the job") == 2
    assert not any(logged_in(b) for b in browsers)
    assert set(UserSession.objects.filter(user=olle).values_list("end_reason", "end_note")) == {
        (ADMIN, "Left the job")}
    events = AuditEvent.objects.filter(action="sessions.ended", subject_person_id=olle.person_id)
    assert [(e.actor_id, e.reason) for e in events] == [(hospital_admin.pk, "Left the job")]


def test_a_patient_account_of_the_person_is_not_the_administrators(
        hospital_admin: User, olle: User) -> None:
    account = identities.user_create(actor=SYSTEM, person=olle.person, username="olle.patient",
                                     kind=User.Kind.PATIENT)
    patient_browser = login(account)
    staff_browser = login(olle)
    with pytest.raises(NotFound):
        services.session_end(actor=hospital_admin, user_session=record_of(patient_browser),
                             reason=ADMIN, note="x")
    assert services.sessions_end_all(actor=hospital_admin, person=olle.person, reason=ADMIN,
                                     note="x") == 1
    assert logged_in(patient_browser) and not logged_in(staff_browser)


def test_outside_the_subtree_and_for_non_administrators_it_is_not_found(
        hospital_admin: User, olle: User, pia: User, nurse: Any) -> None:
    pia_row, olle_row = record_of(login(pia)), record_of(login(olle))
    with pytest.raises(NotFound):
        services.session_end(actor=hospital_admin, user_session=pia_row, reason=ADMIN, note="x")
    with pytest.raises(NotFound):
        services.sessions_end_all(actor=hospital_admin, person=pia.person, reason=ADMIN, note="x")
    for reason in (ADMIN, UserSession.EndReason.ENDED):
        with pytest.raises(NotFound):
            services.session_end(actor=nurse[0], user_session=olle_row, reason=reason, note="x")
    assert not UserSession.objects.filter(ended_at__isnull=False).exists()


def test_an_administrator_gives_a_reason_and_only_the_administrators_kind(
        hospital_admin: User, olle: User) -> None:
    row = record_of(login(olle))
    with pytest.raises(ValidationFailed) as empty:
        services.session_end(actor=hospital_admin, user_session=row, reason=ADMIN, note="  ")
    assert empty.value.code == "no_reason"
    with pytest.raises(ValidationFailed) as kind:
        services.session_end(actor=hospital_admin, user_session=row,
                             reason=UserSession.EndReason.ENDED, note="x")
    assert kind.value.code == "session.reason"
    with pytest.raises(ValidationFailed) as self_kind:
        services.session_end(actor=olle, user_session=row, reason=ADMIN, note="x")
    assert self_kind.value.code == "session.reason"
    row.refresh_from_db()
    assert row.ended_at is None


# --- pages -----------------------------------------------------------------------------------

def test_the_person_page_shows_accounts_eids_and_sessions(
        hospital_admin: User, olle: User) -> None:
    login_session(Client(), olle, methods=("pwd", "otp"), loa=None)
    make_eid(olle.person, device="Olle phone")
    make_eid(olle.person, device="Old phone", revoked="Phone lost")
    make_eid(olle.person, device="Older phone", expired=True)
    page = text(login(hospital_admin).get(person_url(olle.person)))
    assert "olle@example.invalid" in page
    assert "olle.ortoped Active" in page
    assert "password + code from an authenticator app" in page
    assert "Authenticator app (TOTP)" in page and "0 passkeys" in page
    assert "Olle phone" in page and "Phone lost" in page and "Expired" in page
    assert "Active sessions" in page and "End all sessions" in page


def test_the_administrator_ends_a_session_on_a_confirmation_and_the_person_sees_why(
        hospital_admin: User, olle: User) -> None:
    admin, browser = login(hospital_admin), login(olle)
    row = record_of(browser)
    confirm = admin.get(end_url(olle.person, row))
    assert "logged out in that browser at its next request" in text(confirm)
    refused = admin.post(end_url(olle.person, row), {"note": ""})
    assert "Reason: This field is required." in text(refused)
    done = admin.post(end_url(olle.person, row), {"note": "Lost badge"}, follow=True)
    assert "The session was ended." in text(done)
    assert not logged_in(browser)
    mine = login(olle).get(MY_SESSIONS)
    assert "ended by an administrator: Lost badge" in text(mine)


def test_a_session_id_of_another_person_is_not_found_in_the_url_of_a_person_in_scope(
        hospital_admin: User, olle: User, pia: User) -> None:
    admin, pia_browser = login(hospital_admin), login(pia)
    pia_row = record_of(pia_browser)
    assert admin.get(end_url(olle.person, pia_row)).status_code == 404
    assert admin.post(end_url(olle.person, pia_row), {"note": "x"}).status_code == 404
    assert admin.get(end_url(pia.person, pia_row)).status_code == 404
    assert admin.post(end_all_url(pia.person), {"note": "x"}).status_code == 404
    assert logged_in(pia_browser)


def test_the_administrators_own_current_session_cannot_be_ended_here(
        hospital_admin: User) -> None:
    admin = login(hospital_admin)
    row = record_of(admin)
    page = admin.get(person_url(hospital_admin.person))
    assert "Your current session" in text(page)
    assert end_url(hospital_admin.person, row) not in page.content.decode()
    refused = admin.post(end_url(hospital_admin.person, row), {"note": "oops"})
    assert refused.status_code == 409 and "To end it, log out." in text(refused)
    all_refused = admin.post(end_all_url(hospital_admin.person), {"note": "oops"})
    assert all_refused.status_code == 409 and "My sessions" in text(all_refused)
    assert logged_in(admin)


def test_a_staff_member_who_is_not_an_administrator_gets_not_found(
        nurse: Any, olle: User) -> None:
    row = record_of(login(olle))
    browser = login(nurse[0])
    assert browser.get(end_url(olle.person, row)).status_code == 404
    assert browser.post(end_all_url(olle.person), {"note": "x"}).status_code == 404


def test_the_person_page_costs_a_constant_number_of_queries(
        hospital_admin: User, olle: User, django_assert_max_num_queries: Any) -> None:
    admin = login(hospital_admin)
    login(olle)
    make_eid(olle.person, device="One")
    with CaptureQueriesContext(connection) as few:
        assert admin.get(person_url(olle.person)).status_code == 200
    for i in range(6):
        login(olle)
        make_eid(olle.person, device=f"Phone {i}", revoked="lost" if i % 2 else "")
    identities.user_create(actor=SYSTEM, person=olle.person, username="olle.second", kind=User.Kind.STAFF)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin.get(person_url(olle.person))
    assert len(response.context["sessions"]) == 7 and len(response.context["eids"]) == 7


def test_the_person_page_history_leaves_out_the_patient_accounts_logins(
        client, hospital_admin, nurse, tree):
    """Found: the History table showed "Session started" of the nurse's own patient account."""
    patient_account = identities.user_create(actor=SYSTEM, person=nurse[0].person,
                                             username="nina.patient", kind=User.Kind.PATIENT)
    login_session(Client(), patient_account)
    login_session(client, hospital_admin)
    page = client.get(reverse("administration:person_detail",
                              args=[nurse[0].person_id])).content.decode()
    assert patient_account.username not in page
