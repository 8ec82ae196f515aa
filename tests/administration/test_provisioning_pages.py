"""Downstream systems through their administration pages: a local administrator registers a
system (its token never shown again), sees its status page with the jobs by state, retries and
skips jobs, pauses it and starts a reconciliation; other organisations' administrators get 404;
refusals are shown in the reader's language."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.commissions import services as commissions
from apps.commissions.models import Role
from apps.core.actors import SYSTEM
from apps.provisioning import credentials
from apps.provisioning.models import DownstreamSystem, ProvisioningJob, ReconciliationRun
from tests.conftest import login_session, make_staff
from tests.provisioning.admin_support import TOKEN, job, register

pytestmark = pytest.mark.django_db

LIST = reverse("administration:system_list")
NEW = reverse("administration:system_register")


def login(client: Any, user: Any, language: str = "en") -> Any:
    client.cookies["django_language"] = language
    return login_session(client, user)


def text(response: Any) -> str:
    """The page's visible text, tags removed and spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def form(tree: Any, **overrides: Any) -> dict[str, Any]:
    fields = {"organisation": tree["hospital"].pk, "name": "Journal system",
              "base_url": "https://scim.example.se/scim/v2", "scope": [tree["cardio"].pk],
              "attributes": ["emails"], "auth_method": "bearer", "token": TOKEN,
              "token_url": "", "client_id": "", "client_secret": "", "client_scope": ""}
    fields.update(overrides)
    return fields


def url(name: str, system: DownstreamSystem, **kwargs: Any) -> str:
    return reverse(f"administration:{name}", kwargs={"system_id": system.pk, **kwargs})


@pytest.fixture
def system(hospital_admin: Any, tree: Any) -> DownstreamSystem:
    return register(hospital_admin, tree["hospital"], scope=[tree["cardio"]])


@pytest.fixture
def person(tree: Any) -> Any:
    user, _ = make_staff(tree["cardio"], "Petra", "Person")
    return user.person


@pytest.fixture
def other_admin(tree: Any) -> Any:
    user, _ = make_staff(tree["other"], "Otto", "Other")
    commissions.role_grant(actor=SYSTEM, person=user.person, role=Role.LOCAL_ADMIN,
                           organisation=tree["other"], valid_from=timezone.now(), valid_until=None)
    return user


def test_register_then_the_token_is_never_shown_again(client: Any, hospital_admin: Any,
                                                      tree: Any) -> None:
    login(client, hospital_admin)
    assert "Downstream systems" in text(client.get(reverse("home")))
    answer = client.post(NEW, form(tree), follow=True)
    system = DownstreamSystem.objects.get()
    assert answer.redirect_chain[-1][0] == url("system_status", system)
    assert "The downstream system was registered." in text(answer)
    assert credentials.decrypt(system.credentials) == {"token": TOKEN}
    for page in (answer, client.get(url("system_edit", system)), client.get(LIST)):
        assert page.status_code == 200 and TOKEN not in page.content.decode()
    assert "Journal system" in text(client.get(LIST))
    assert AuditEvent.objects.filter(action="downstream_system.registered").count() == 1


def test_the_edit_form_keeps_a_blank_token_and_shows_the_oauth2_settings_but_not_the_secret(
        client: Any, hospital_admin: Any, tree: Any) -> None:
    system = register(hospital_admin, tree["hospital"], scope=[tree["cardio"]],
                      auth_method="client_credentials", credentials_given={
                          "token_url": "https://idp.example.se/token", "client_id": "portal-client",
                          "client_secret": "Very-Secret-1", "scope": "scim"})
    login(client, hospital_admin)
    page = client.get(url("system_edit", system)).content.decode()
    assert "https://idp.example.se/token" in page and "portal-client" in page
    assert "Very-Secret-1" not in page and "Leave blank to keep the stored one." in page
    answer = client.post(url("system_edit", system), form(
        tree, name="Journal 2", auth_method="client_credentials", token="",
        token_url="https://idp.example.se/token", client_id="portal-client", client_scope="scim"),
        follow=True)
    assert "The downstream system was saved." in text(answer)
    assert credentials.decrypt(DownstreamSystem.objects.get().credentials)["client_secret"] == (
        "Very-Secret-1")


def test_form_errors_are_shown_in_swedish(client: Any, hospital_admin: Any, tree: Any) -> None:
    login(client, hospital_admin, "sv")
    answer = client.post(NEW, form(tree, base_url="http://user:pw@scim.example.se/v2", token=""))
    body = text(answer)
    assert answer.status_code == 200 and "Något behöver rättas" in body
    assert "Adressen får inte innehålla användarnamn eller lösenord" in body
    answer = client.post(NEW, form(tree, base_url="http://scim.example.se/v2"))
    assert "Adressen måste använda https" in text(answer)
    answer = client.post(NEW, form(tree, token=""))
    assert "Ange bärartoken." in text(answer)
    answer = client.post(NEW, form(tree, scope=[tree["primary"].pk]))
    assert "Välj bland alternativen" in text(answer) or "Välj ett giltigt alternativ" in text(answer)
    assert not DownstreamSystem.objects.exists()


def test_the_pages_speak_swedish(client: Any, hospital_admin: Any, system: DownstreamSystem,
                                 person: Any) -> None:
    job(system, person)
    login(client, hospital_admin, "sv")
    body = text(client.get(url("system_status", system)))
    assert "Försök igen nu" in body and "Starta avstämning" in body
    assert "Mottagande system" in text(client.get(LIST))


def test_other_organisations_get_404_everywhere(client: Any, other_admin: Any,
                                                system: DownstreamSystem, person: Any) -> None:
    failed = job(system, person)
    login(client, other_admin)
    assert "Journal system" not in text(client.get(LIST))
    for path in (url("system_status", system), url("system_edit", system)):
        assert client.get(path).status_code == 404
    for path in (url("system_pause", system), url("reconciliation_start", system),
                 url("system_push_now", system), url("job_retry", system, job_id=failed.pk),
                 url("job_skip", system, job_id=failed.pk)):
        assert client.post(path, {"reason": "Mine now"}).status_code == 404
    assert ProvisioningJob.objects.get(pk=failed.pk).state == "failed"
    assert not ReconciliationRun.objects.exists()
    assert DownstreamSystem.objects.get().state == "enabled"


def test_staff_who_are_not_administrators_get_404(client: Any, tree: Any) -> None:
    nurse, _ = make_staff(tree["cardio"], "Nina", "Nurse", care=True)
    login(client, nurse)
    assert client.get(LIST).status_code == 404 and client.get(NEW).status_code == 404


def test_the_status_page_shows_failed_jobs_with_their_error_and_buttons(
        client: Any, hospital_admin: Any, system: DownstreamSystem, person: Any) -> None:
    failed = job(system, person)
    job(system, person, "pending")
    job(system, person, "done")
    login(client, hospital_admin)
    answer = client.get(url("system_status", system))
    body = text(answer)
    assert "Commission granted" in body and "Petra Person" in body
    assert "400 invalidValue: userName is required" in body
    page = answer.content.decode()
    assert url("job_retry", system, job_id=failed.pk) in page
    assert url("job_skip", system, job_id=failed.pk) in page
    counts = {state: int(number) for state, number in
              re.findall(r'\?state=(\w+)#jobs">[^<]+</a></th>\s*<td>(\d+)', page)}
    assert counts == {"failed": 1, "pending": 1, "in_progress": 0, "done": 1, "skipped": 0}
    assert "The oldest pending change has waited" in body


def test_retry_and_skip_through_the_page_are_audited(client: Any, hospital_admin: Any,
                                                     system: DownstreamSystem, person: Any) -> None:
    first, second = job(system, person), job(system, person)
    login(client, hospital_admin)
    answer = client.post(url("job_retry", system, job_id=first.pk), follow=True)
    assert "The change will be pushed again in a moment." in text(answer)
    assert ProvisioningJob.objects.get(pk=first.pk).state == "pending"
    answer = client.post(url("job_retry", system, job_id=first.pk), follow=True)
    assert "This change is no longer failed, so it was not retried" in text(answer)
    answer = client.post(url("job_skip", system, job_id=second.pk), {"reason": ""}, follow=True)
    assert "Give a reason" in text(answer)
    assert ProvisioningJob.objects.get(pk=second.pk).state == "failed"
    answer = client.post(url("job_skip", system, job_id=second.pk),
                         {"reason": "The person was never in the target"}, follow=True)
    assert "The change was skipped" in text(answer)
    assert ProvisioningJob.objects.get(pk=second.pk).state == "skipped"
    retried = AuditEvent.objects.get(action="provisioning_job.retried")
    skipped = AuditEvent.objects.get(action="provisioning_job.skipped")
    assert retried.actor_id == skipped.actor_id == hospital_admin.pk
    assert skipped.reason == "The person was never in the target"
    assert retried.subject_person_id == skipped.subject_person_id == person.pk


def test_starting_a_reconciliation_twice_is_refused_clearly(
        client: Any, hospital_admin: Any, system: DownstreamSystem) -> None:
    login(client, hospital_admin)
    answer = client.post(url("reconciliation_start", system), follow=True)
    assert "The reconciliation has started." in text(answer)
    assert "Start reconciliation" not in text(answer)  # no button while it runs
    answer = client.post(url("reconciliation_start", system), follow=True)
    assert "A reconciliation of this system is already running." in text(answer)
    assert ReconciliationRun.objects.count() == 1
    assert AuditEvent.objects.filter(action="reconciliation.started").count() == 1


def test_the_progress_bar_and_the_refresh_the_reader_asks_for(
        client: Any, hospital_admin: Any, system: DownstreamSystem) -> None:
    ReconciliationRun.objects.create(system=system, total=200, compared=50, repaired=3,
                                     started_by_label="system:portal")
    login(client, hospital_admin)
    answer = client.get(url("system_status", system))
    page = answer.content.decode()
    assert re.search(r'<progress id="reconciliation-progress" max="200" value="50">', page)
    assert "50 of 200 (25 %)" in text(answer) and "Differences repaired: 3." in text(answer)
    assert "by The portal" in text(answer)
    assert 'http-equiv="refresh"' not in page and "Refresh every 10 seconds" in page
    watched = client.get(url("system_status", system), {"watch": "1"}).content.decode()
    assert '<meta http-equiv="refresh" content="10">' in watched
    assert "Stop refreshing automatically" in watched
    ReconciliationRun.objects.update(state="done", compared=200)
    finished = client.get(url("system_status", system), {"watch": "1"}).content.decode()
    assert 'http-equiv="refresh"' not in finished and "Start reconciliation" in finished


def test_pause_and_enable_through_the_page(client: Any, hospital_admin: Any,
                                           system: DownstreamSystem) -> None:
    login(client, hospital_admin)
    answer = client.post(url("system_pause", system), follow=True)
    assert "The system is paused" in text(answer) and "Enable" in text(answer)
    assert "Enable the system to reconcile it." in text(answer)
    answer = client.post(url("system_pause", system), follow=True)
    assert "The system is already paused." in text(answer)
    client.post(url("system_enable", system))
    assert DownstreamSystem.objects.get().state == "enabled"
    assert AuditEvent.objects.filter(action__in=["downstream_system.paused",
                                                 "downstream_system.enabled"]).count() == 2


def test_the_waiting_changes_are_pushed_now_from_the_page(
        client: Any, hospital_admin: Any, system: DownstreamSystem, person: Any) -> None:
    """After the target is repaired the administrator need not wait for the next attempt."""
    later = timezone.now() + timedelta(hours=1)
    waiting = job(system, person, ProvisioningJob.State.PENDING, attempts=4, available_at=later)
    login(client, hospital_admin, "sv")
    page = text(client.get(url("system_status", system)))
    assert "Skicka de väntande ändringarna nu" in page
    answer = text(client.post(url("system_push_now", system), follow=True))
    assert "De väntande ändringarna skickas nu." in answer
    assert ProvisioningJob.objects.get(pk=waiting.pk).available_at <= timezone.now()


def test_a_get_on_an_action_changes_nothing(client: Any, hospital_admin: Any,
                                            system: DownstreamSystem, person: Any) -> None:
    failed = job(system, person)
    login(client, hospital_admin)
    for path in (url("system_pause", system), url("reconciliation_start", system),
                 url("job_retry", system, job_id=failed.pk),
                 url("job_skip", system, job_id=failed.pk)):
        assert client.get(path).status_code == 302
    assert DownstreamSystem.objects.get().state == "enabled"
    assert ProvisioningJob.objects.get(pk=failed.pk).state == "failed"


def test_job_lists_are_keyset_pages(client: Any, hospital_admin: Any, system: DownstreamSystem,
                                    person: Any) -> None:
    done = [job(system, person, "done", change="role.granted") for _ in range(55)]
    login(client, hospital_admin)
    first = client.get(url("system_status", system), {"state": "done"})
    assert first.context["jobs"][0].pk == done[-1].pk and len(first.context["jobs"]) == 50
    assert "System role granted" in text(first) and "User created" in text(first)
    after = first.context["next_after"]
    second = client.get(url("system_status", system), {"state": "done", "after": after})
    assert [j.pk for j in second.context["jobs"]] == [j.pk for j in reversed(done[:5])]
    assert second.context["next_after"] is None and "First page" in text(second)


@pytest.mark.parametrize("query", [{"state": "nonsense"}, {"after": "9" * 40},
                                   {"after": "-1"}, {"after": "١٢"}, {"watch": "yes"}])
def test_odd_links_show_a_page(client: Any, hospital_admin: Any, system: DownstreamSystem,
                               query: dict[str, str]) -> None:
    login(client, hospital_admin)
    assert client.get(url("system_status", system), query).status_code == 200


def test_a_job_id_beyond_the_database_is_not_found(client: Any, hospital_admin: Any,
                                                   system: DownstreamSystem) -> None:
    login(client, hospital_admin)
    assert client.post(url("job_retry", system, job_id=10**30)).status_code == 404
    assert client.post(url("job_skip", system, job_id=2**63 - 1),
                       {"reason": "x"}).status_code == 404


def test_unreadable_credentials_still_show_the_edit_form(client: Any, hospital_admin: Any,
                                                         system: DownstreamSystem) -> None:
    DownstreamSystem.objects.filter(pk=system.pk).update(credentials="made-under-a-removed-key")
    login(client, hospital_admin)
    answer = client.get(url("system_edit", system))
    assert answer.status_code == 200 and "Leave blank to keep the stored one." in text(answer)


def test_counts_stop_at_the_cap(client: Any, hospital_admin: Any, system: DownstreamSystem,
                                person: Any, monkeypatch: Any) -> None:
    from apps.provisioning import selectors

    monkeypatch.setattr(selectors, "COUNT_CAP", 2)
    for _ in range(3):
        job(system, person)
    login(client, hospital_admin)
    assert "2 or more" in text(client.get(url("system_status", system)))
    assert "2 or more" in text(client.get(LIST))
