"""Single-use and limited things of the mobile e-ID under parallel HTTP requests, on PostgreSQL.

Each request runs in its own thread against the live server, with its own database connection,
so the row locks in the lock order of docs/architecture.md are what decide: a code is redeemed
once, issuing a new code while the current one is redeemed never deadlocks, and a person never
holds more than 3 active e-IDs.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.commissions.models import Employee
from apps.core.actors import SYSTEM
from apps.identities.models import Person, User
from apps.issuance import rules, selectors, services
from apps.issuance.ca import IssuingCA
from apps.issuance.models import ActivationCode, MobileEID
from tests.concurrency.support import QR_PAYLOAD, Answer, StaffSession, at_once, post_form, post_json
from tests.issuance.support import device_csr, issue, redeem_qr

API = "/api/v1/eid/activations"
PARALLEL = 8


def _refusals(person: Person, error: str) -> int:
    return sum(1 for event in AuditEvent.objects.filter(
        action="activation_code.redeem_failed", subject_person_id=person.pk)
        if event.changes.get("error") == [None, error])


def _lost_lock_races(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The transactions that lost a deadlock and were run again (apps.core.db logs each one)."""
    return [r.getMessage() for r in caplog.records if r.name == "apps.core.db"]


@pytest.mark.django_db(transaction=True)
def test_parallel_redemptions_of_one_code_exactly_one_wins(
    live_server: Any, nurse: tuple[User, Employee], issuing_ca: IssuingCA
) -> None:
    person = nurse[0].person
    issued = issue(person)
    bodies = [{"csr": device_csr(f"Phone {i}")[1], "qr_payload": issued.qr_payload,
               "device_name": f"Phone {i}"} for i in range(PARALLEL)]
    answers = at_once([partial(post_json, live_server.url, API, body) for body in bodies])

    assert sorted(a.status for a in answers) == [201] + [409] * (PARALLEL - 1), answers
    assert {a.json()["code"] for a in answers if a.status == 409} == {"code_used"}
    assert all(a.content_type == "application/problem+json" for a in answers if a.status == 409)
    assert MobileEID.objects.filter(person=person).count() == 1
    assert ActivationCode.objects.get(pk=issued.code.pk).used_at is not None
    # Every refusal is audited against the code, in the person's history.
    assert _refusals(person, "code_used") == PARALLEL - 1
    assert AuditEvent.objects.filter(action="eid.activated", subject_person_id=person.pk).count() == 1


ROUNDS = 12


@pytest.mark.django_db(transaction=True)
def test_issuing_a_new_code_while_the_current_one_is_redeemed(
    live_server: Any, nurse: tuple[User, Employee], issuing_ca: IssuingCA,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Found: a new code issued at the moment the app redeemed the current one deadlocked
    (`DeadlockDetected`: HTTP 500 text/html, no audit row) in about half of the tries.

    Each round the staff member asks for a new code on the page (`/my/eids/new/`) while the app
    redeems the current one. Whichever gets the person's lock first wins: the redemption (201,
    then the page ends nothing open and shows a new code) or the page (the code it replaced
    answers 410 `code_ended`). Never a 500 and never a deadlock (no transaction had to be run
    again); in the end one open code, and as many e-IDs as redemptions succeeded."""
    user = nurse[0]
    person = user.person
    session = StaffSession(user)
    payload = issue(person).qr_payload
    outcomes: list[int] = []
    for round_ in range(ROUNDS):
        session.step_up()
        body = {"csr": device_csr()[1], "qr_payload": payload, "device_name": f"Phone {round_}"}
        page, app = at_once([
            partial(post_form, live_server.url, "/my/eids/new/", {}, cookies=session.cookies),
            partial(post_json, live_server.url, API, body),
        ])
        assert page.status == 200 and page.content_type.startswith("text/html"), page
        assert app.status in (201, 410), app
        if app.status == 410:
            assert app.json()["code"] == "code_ended" and app.content_type == "application/problem+json"
        outcomes.append(app.status)
        match = QR_PAYLOAD.search(page.text)
        assert match, page.text[:500]
        payload = match.group()
        open_codes = ActivationCode.objects.filter(person=person, used_at__isnull=True,
                                                   ended_at__isnull=True)
        assert list(open_codes.values_list("pk", flat=True)) == [
            ActivationCode.objects.filter(person=person).latest("created_at").pk]
        for eid in MobileEID.objects.filter(person=person, status=MobileEID.Status.ACTIVE):
            services.eid_revoke(actor=SYSTEM, eid=eid, reason="Kept under the limit by the test.")

    won = outcomes.count(201)
    assert MobileEID.objects.filter(person=person).count() == won
    assert AuditEvent.objects.filter(action="eid.activated", subject_person_id=person.pk).count() == won
    assert _refusals(person, "code_ended") == ROUNDS - won
    assert AuditEvent.objects.filter(action="activation_code.issued",
                                     subject_person_id=person.pk).count() == ROUNDS + 1
    assert _lost_lock_races(caplog) == []


@pytest.mark.django_db(transaction=True)
def test_redemptions_and_new_codes_at_the_limit_never_exceed_three_eids(
    live_server: Any, nurse: tuple[User, Employee], issuing_ca: IssuingCA,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With 2 active e-IDs and an open code, three devices redeem the code while the staff
    member asks for a new one, many times over. At most one redemption wins a round; the page
    then refuses a new code (the limit is reached) or, when it came first, ends the code so every
    redemption answers 410. The person never holds more than 3 active e-IDs."""
    user = nurse[0]
    person = user.person
    session = StaffSession(user)
    for device in ("First phone", "Second phone"):
        redeem_qr(issue(person), device=device)
    payload = issue(person).qr_payload
    won = 0
    for round_ in range(6):
        session.step_up()
        bodies = [{"csr": device_csr()[1], "qr_payload": payload, "device_name": f"Phone {n}"}
                  for n in range(3)]
        answers: list[Answer] = at_once(
            [partial(post_form, live_server.url, "/my/eids/new/", {}, cookies=session.cookies)]
            + [partial(post_json, live_server.url, API, body) for body in bodies])
        page, redemptions = answers[0], sorted(a.status for a in answers[1:])
        active = selectors.eid_count_active(person, timezone.now())
        assert active <= rules.MAX_ACTIVE_EIDS, round_
        if redemptions == [201, 409, 409]:
            won += 1
            assert active == rules.MAX_ACTIVE_EIDS
            # The page came second: it refused (redirect with the message), no code is open.
            assert page.status == 302, page
            assert not ActivationCode.objects.filter(person=person, used_at__isnull=True,
                                                     ended_at__isnull=True).exists()
            services.eid_revoke(actor=SYSTEM, eid=MobileEID.objects.filter(
                person=person, status=MobileEID.Status.ACTIVE).latest("created_at"),
                reason="Back under the limit for the next round.")
            payload = issue(person).qr_payload
        else:
            # The page came first: it replaced the code the devices tried.
            assert redemptions == [410, 410, 410], answers
            assert page.status == 200 and QR_PAYLOAD.search(page.text), page
            payload = QR_PAYLOAD.search(page.text).group()  # type: ignore[union-attr]
    assert MobileEID.objects.filter(person=person).count() == 2 + won
    assert _refusals(person, "code_used") == 2 * won
    assert _lost_lock_races(caplog) == []


@pytest.mark.django_db(transaction=True)
def test_one_step_up_sent_many_times_at_once_issues_one_code(
    live_server: Any, nurse: tuple[User, Employee],
) -> None:
    """Found: one step-up, the page sent 8 times at once in the same session, issued 8 codes (each
    request read the fresh proof from the session before any had spent it)."""
    user = nurse[0]
    session = StaffSession(user)
    session.step_up()
    pages = at_once([partial(post_form, live_server.url, "/my/eids/new/", {},
                             cookies=session.cookies)] * 8)
    assert all(page.status < 500 for page in pages), pages
    assert sum(bool(QR_PAYLOAD.search(page.text)) for page in pages) == 1
    assert ActivationCode.objects.filter(person=user.person).count() == 1
