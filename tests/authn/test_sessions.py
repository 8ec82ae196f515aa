"""Login sessions: each login is recorded and rotates the session key; sessions end after their
level's idle and overall limits (NIST SP 800-63B rev. 4, sections 2.2.3 and 2.3.3); a person lists
and ends their own sessions; pages gated by level of assurance explain the level they need.

Time passes by editing the session's own clock values (`authn["at"]`, `session.SEEN_KEY`), never
by sleeping.
"""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.authn import session as authn_session
from apps.authn.models import UserSession
from apps.commissions import services as commissions
from apps.commissions.models import RoleAssignment
from apps.core.actors import SYSTEM
from apps.core.loa import LOA2, LOA3, LOA4
from portal.settings.base import loa_required, session_limits
from tests.conftest import PASSWORD, login_session, make_staff, patient_login, totp_now

pytestmark = pytest.mark.django_db

MY_SESSIONS = reverse("selfservice:my_sessions")
MY_EIDS = reverse("selfservice:my_eids")
ADMIN = reverse("administration:person_list")


def password_login(client: Client, user: Any, offset_steps: int = 0) -> Client:
    """The real two-step staff login (LoA 2), pages in English."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.defaults["HTTP_USER_AGENT"] = "Firefox/999 test"
    response = client.post(reverse("authn:login"), {"username": user.username,
                                                    "password": PASSWORD})
    assert response.status_code == 302
    response = client.post(reverse("authn:otp"), {"token": totp_now(offset_steps=offset_steps)})
    assert response.status_code == 302, response.content.decode()
    return client


def federated(client: Client, user: Any, loa: str = LOA3) -> Client:
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return login_session(client, user, loa=loa)


def key(client: Client) -> str:
    return client.cookies["sessionid"].value


def travel(client: Client, *, since_login: float | None = None,
           since_activity: float | None = None) -> None:
    """Move the session's clock: the login `since_login` seconds ago, the last activity
    `since_activity` seconds ago."""
    stored = client.session
    now = int(time.time())
    if since_login is not None:
        authn = dict(stored["authn"])
        authn["at"] = now - int(since_login)
        stored["authn"] = authn
    if since_activity is not None:
        stored[authn_session.SEEN_KEY] = now - int(since_activity)
    stored.save()


def record_of(client: Client) -> UserSession:
    return UserSession.objects.get(key_hash=hashlib.sha256(key(client).encode()).hexdigest())


# --- recording and rotation ------------------------------------------------------------------


def test_login_rotates_the_key_and_records_the_session_by_hash(client, nurse):
    user = nurse[0]
    client.post(reverse("authn:login"), {"username": user.username, "password": PASSWORD})
    before = key(client)
    client.post(reverse("authn:otp"), {"token": totp_now()}, HTTP_USER_AGENT="Firefox/999 test")
    after = key(client)
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    row = UserSession.objects.get(user=user)
    assert row.key_hash == hashlib.sha256(after.encode()).hexdigest()
    assert after not in repr(list(UserSession.objects.values()))  # the key itself is not stored
    assert (row.methods, row.loa, row.idp, row.ip) == (["pwd", "otp"], LOA2, "", "127.0.0.1")
    assert row.user_agent == "Firefox/999 test" and row.ended_at is None
    assert AuditEvent.objects.filter(action="session.started", target_id=str(row.pk)).exists()


def test_set_login_stores_the_idp(client, nurse):
    federated(client, nurse[0], loa=LOA4)
    assert client.session["authn"]["idp"] == "https://idp.test/"
    row = record_of(client)
    assert (row.methods, row.loa, row.idp) == (["saml"], LOA4, "https://idp.test/")


def test_step_up_rotates_the_key_and_the_record_follows(client, nurse):
    password_login(client, nurse[0])
    before = key(client)
    row = record_of(client)
    assert client.post(reverse("authn:step_up"),
                       {"token": totp_now(offset_steps=1)}).status_code == 302
    assert key(client) != before
    assert record_of(client).pk == row.pk
    assert client.get(MY_EIDS).status_code == 200  # still logged in, under the new key
    assert client.session["authn"]["step_up"] is not None


def test_a_user_agent_is_cut_to_its_column(client, nurse):
    client.defaults["HTTP_USER_AGENT"] = "x" * 2000
    client.post(reverse("authn:login"), {"username": nurse[0].username, "password": PASSWORD})
    client.post(reverse("authn:otp"), {"token": totp_now()}, HTTP_USER_AGENT="x" * 2000)
    assert len(record_of(client).user_agent) == UserSession.USER_AGENT_MAX_LENGTH


def test_logout_ends_the_record(client, nurse):
    password_login(client, nurse[0])
    row = record_of(client)
    client.post(reverse("authn:logout"))
    row.refresh_from_db()
    assert row.ended_at is not None and row.end_reason == "logout"


# --- timeouts by level -------------------------------------------------------------------------


@pytest.mark.parametrize(("loa", "idle_minutes"), [(LOA2, 60), (LOA3, 15), (LOA4, 15)])
def test_idle_limit_by_level(client, nurse, loa, idle_minutes):
    if loa == LOA2:
        password_login(client, nurse[0])
    else:
        federated(client, nurse[0], loa=loa)
    row = record_of(client)
    travel(client, since_activity=idle_minutes * 60 - 30)
    assert client.get(MY_EIDS).status_code == 200  # just inside the limit
    travel(client, since_activity=idle_minutes * 60 + 1)
    response = client.get(MY_EIDS)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("federation:discovery") + "?for=staff&next=")
    page = client.get(response["Location"]).content.decode()
    assert f"You were logged out after {idle_minutes} minutes without activity." in page
    row.refresh_from_db()
    assert row.end_reason == "idle" and row.ended_at is not None
    assert AuditEvent.objects.filter(action="session.ended", target_id=str(row.pk),
                                     actor_label="system:portal").exists()
    assert client.get(MY_EIDS).status_code == 302  # logged out for good


@pytest.mark.parametrize(("loa", "hours"), [(LOA2, 24), (LOA3, 12)])
def test_overall_limit_by_level_even_when_active(client, nurse, loa, hours):
    if loa == LOA2:
        password_login(client, nurse[0])
    else:
        federated(client, nurse[0], loa=loa)
    travel(client, since_login=hours * 3600 - 60, since_activity=0)
    assert client.get(MY_EIDS).status_code == 200
    travel(client, since_login=hours * 3600 + 1, since_activity=0)
    response = client.get(MY_EIDS, follow=True)
    assert (f"You were logged out because {hours} hours have passed since you logged in."
            in response.content.decode())
    assert UserSession.objects.get(user=nurse[0]).end_reason == "absolute"


def test_limits_follow_the_settings(client, nurse, settings):
    settings.PORTAL_SESSION_LIMITS = {"aal2": {"max_age": 3600, "idle": 120},
                                      "aal3": {"max_age": 600, "idle": 60}}
    password_login(client, nurse[0])
    travel(client, since_activity=121)
    response = client.get(MY_EIDS, follow=True)
    assert "You were logged out after 2 minutes without activity." in response.content.decode()


def test_the_cookie_lives_as_long_as_the_longest_limit(settings):
    assert settings.SESSION_COOKIE_AGE == 24 * 3600


def test_activity_is_written_at_most_once_a_minute(client, nurse):
    password_login(client, nurse[0])
    row = record_of(client)
    UserSession.objects.filter(pk=row.pk).update(last_seen_at=row.started_at - timedelta(hours=1))
    client.get(MY_EIDS)
    assert record_of(client).last_seen_at < row.started_at  # written at login, not again yet
    seen = client.session[authn_session.SEEN_KEY]
    travel(client, since_activity=61)
    client.get(MY_EIDS)
    assert record_of(client).last_seen_at >= row.started_at
    assert client.session[authn_session.SEEN_KEY] > seen - 61


# --- listing and ending ------------------------------------------------------------------------


def test_the_page_lists_ones_own_active_sessions_and_marks_this_one(client, nurse, hospital_admin):
    password_login(client, nurse[0])
    other = federated(Client(), nurse[0])
    federated(Client(), hospital_admin)  # someone else's
    page = client.get(MY_SESSIONS).content.decode()
    assert page.count("This session") == 1
    assert page.count("/end/") == 2
    assert "password + code from an authenticator app" in page
    assert "e-ID" in page
    assert "LoA 2" in page and "LoA 3" in page
    assert "Firefox/999 test" in page
    assert str(record_of(other).pk) in page
    assert 'href="/my/sessions/"' in page  # in the header


def test_a_patient_sees_their_sessions_too(client, patient):
    patient_login(client, patient)
    page = client.get(MY_SESSIONS).content.decode()
    assert "e-ID" in page and "This session" in page


def test_ending_another_session_logs_that_browser_out(client, nurse):
    password_login(client, nurse[0])
    other = federated(Client(), nurse[0])
    assert other.get(MY_EIDS).status_code == 200
    row = record_of(other)
    response = client.post(reverse("selfservice:my_session_end", args=[row.pk]), follow=True)
    assert "The session is ended." in response.content.decode()
    assert other.get(MY_EIDS).status_code == 302  # the cookie no longer logs in
    assert not Session.objects.filter(session_key=key(other)).exists()
    row.refresh_from_db()
    assert row.end_reason == "ended"
    assert client.get(MY_EIDS).status_code == 200  # this one goes on
    assert AuditEvent.objects.filter(action="session.ended", target_id=str(row.pk),
                                     actor_id=nurse[0].pk).exists()


def test_ending_this_session_logs_out_here(client, nurse):
    password_login(client, nurse[0])
    row = record_of(client)
    response = client.post(reverse("selfservice:my_session_end", args=[row.pk]), follow=True)
    assert "You are logged out." in response.content.decode()
    assert client.get(MY_EIDS).status_code == 302


def test_someone_elses_session_cannot_be_ended(client, nurse, hospital_admin):
    password_login(client, nurse[0])
    theirs = federated(Client(), hospital_admin)
    row = record_of(theirs)
    assert client.post(reverse("selfservice:my_session_end", args=[row.pk])).status_code == 404
    assert theirs.get(MY_EIDS).status_code == 200
    assert client.post(reverse("selfservice:my_session_end", args=[row.pk]),
                       HTTP_ACCEPT_LANGUAGE="en").status_code == 404


def test_logging_out_everywhere_ends_every_session(client, nurse):
    password_login(client, nurse[0])
    other = federated(Client(), nurse[0])
    response = client.post(reverse("selfservice:my_sessions_end_all"), follow=True)
    assert "You are logged out everywhere." in response.content.decode()
    assert client.get(MY_EIDS).status_code == 302
    assert other.get(MY_EIDS).status_code == 302
    assert set(UserSession.objects.values_list("end_reason", flat=True)) == {"everywhere"}
    event = AuditEvent.objects.get(action="sessions.ended")
    assert event.changes["sessions_ended"] == [None, 2]


def test_ending_a_session_twice_is_refused_clearly(nurse):
    from apps.authn import services
    from apps.core.errors import ValidationFailed

    row = record_of(federated(Client(), nurse[0]))
    services.session_end(actor=nurse[0], user_session=row, reason="ended")
    with pytest.raises(ValidationFailed) as refused:
        services.session_end(actor=nurse[0], user_session=row, reason="ended")
    assert refused.value.code == "session.ended"


def test_the_end_of_entitlement_ends_the_records_too(client, tree, hospital_admin):
    """Ending a person's last role gives their accounts a new session epoch; their session
    records end in the same transaction (reason `account`)."""
    user, _ = make_staff(tree["cardio"], "Rolf", "Roll")
    commissions.role_grant(actor=SYSTEM, person=user.person, role="issuer",
                           organisation=tree["cardio"], valid_from=timezone.now(),
                           valid_until=None)
    their = federated(Client(), user)
    assignment = RoleAssignment.objects.get(person=user.person)
    commissions.role_end(actor=hospital_admin, assignment=assignment, reason="Left")
    assert UserSession.objects.get(user=user).end_reason == "account"
    assert their.get(MY_EIDS).status_code == 302


def test_deactivating_an_account_ends_its_records(tree, hospital_admin):
    user, _ = make_staff(tree["cardio"], "Dag", "Deaktiv")
    federated(Client(), user)
    commissions.account_deactivate(actor=hospital_admin, user=user, reason="Left")
    assert UserSession.objects.get(user=user).end_reason == "account"


# --- who is logged in, and level gating ----------------------------------------------------------


def test_a_password_totp_session_is_refused_administration_with_an_explanation(client,
                                                                                hospital_admin):
    password_login(client, hospital_admin)
    response = client.get(ADMIN)
    page = response.content.decode()
    assert response.status_code == 403
    assert "A higher level of assurance is needed" in page
    assert "This page needs a login at level of assurance 3 or higher." in page
    assert "You are logged in at level of assurance 2." in page
    assert "Log in with your organisation's e-ID" in page
    assert 'href="/saml/?for=staff&amp;next=%2Fadministration%2F"' in page


def test_a_loa3_session_opens_administration(client, hospital_admin):
    federated(client, hospital_admin)
    assert client.get(ADMIN).status_code == 200


def test_a_deployment_may_allow_loa2_for_administration(client, hospital_admin, settings):
    settings.PORTAL_LOA_REQUIRED = {**settings.PORTAL_LOA_REQUIRED, "administration": LOA2}
    password_login(client, hospital_admin)
    assert client.get(ADMIN).status_code == 200


def test_issuing_for_others_needs_loa3(client, issuer):
    password_login(client, issuer)
    assert client.get(reverse("selfservice:issuer_search")).status_code == 403
    federated(client, issuer)
    assert client.get(reverse("selfservice:issuer_search")).status_code == 200


def test_staff_required_accepts_a_saml_session_without_an_otp_device(client, tree):
    user, _ = make_staff(tree["cardio"], "Sam", "Saml", totp=False)
    federated(client, user)
    assert client.get(MY_EIDS).status_code == 200


def test_a_session_without_a_completed_login_is_refused(client, nurse, patient):
    client.force_login(nurse[0])  # no set_login: no level, no methods
    assert client.get(MY_EIDS).status_code == 302
    assert client.get(MY_SESSIONS).status_code == 302
    other = Client()
    other.force_login(patient)
    assert other.get(reverse("selfservice:patient_consents")).status_code == 302


def test_a_staff_session_below_loa2_is_refused(client, nurse):
    login_session(client, nurse[0], loa=None, methods=("demo",))
    assert client.get(MY_EIDS).status_code == 302


def test_loa_settings_take_short_names_and_refuse_anything_else():
    assert loa_required({"administration": "LoA4"}) == {"administration": LOA4}
    with pytest.raises(ImproperlyConfigured, match="PORTAL_LOA_ADMINISTRATION='loa5'"):
        loa_required({"administration": "loa5"})


def test_session_limit_settings_refuse_nonsense():
    with pytest.raises(ImproperlyConfigured, match="longer than"):
        session_limits(3600, 7200, 43200, 900)
    with pytest.raises(ImproperlyConfigured, match="12 hours"):
        session_limits(86400, 3600, 86400, 900)
    with pytest.raises(ImproperlyConfigured, match="positive"):
        session_limits(0, 3600, 43200, 900)


def test_a_mobile_e_id_login_is_named_in_words(client, nurse):
    login_session(client, nurse[0], methods=("mobile_eid",), idp=None)
    page = client.get(MY_SESSIONS).content.decode()
    assert "mobile e-ID" in page and "mobile_eid" not in page
