"""Single-use parts of federated login under parallel HTTP requests, on PostgreSQL (SAML 2.0
profiles 4.1.4.5: a bearer assertion is accepted once; apps/federation/flow.py: a request state is
answered once and consumed once).

The browser's first step (the AuthnRequest) goes through the Django test client; the IdP's
response and the completing page are then sent by many threads at once to the live server, each
request with its own database connection, so the row lock on the request state
(`SELECT ... FOR UPDATE`) and the unique accepted-assertion row are what decide.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from django.conf import settings
from django.test import Client

from apps.audit.models import AuditEvent
from apps.commissions.models import Employee
from apps.federation.models import AcceptedAssertion, AuthnRequestState, FederatedIdentity
from apps.identities.models import User
from apps.testidp.idp import IdPResponse
from tests.concurrency.support import Answer, at_once, request
from tests.federation.support import person_attributes

PARALLEL = 8


def _post_acs(base_url: str, answer: IdPResponse) -> Answer:
    """The IdP's cross-site POST: no session cookie (SameSite=Lax keeps it back)."""
    return request(base_url, "POST", urlsplit(answer.acs_url).path,
                   body=urlencode(answer.post_data()).encode(),
                   content_type="application/x-www-form-urlencoded")


def _cookies(client: Client) -> dict[str, str]:
    return {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}


def _replays() -> int:
    return AuditEvent.objects.filter(action="saml_response.refused",
                                     changes__reason=[None, "saml.replayed"]).count()


@pytest.mark.django_db(transaction=True)
def test_one_response_posted_many_times_at_once_is_accepted_once(
        live_server: Any, federation: Any, nurse: tuple[User, Employee]) -> None:
    """Each POST either finds the request already answered (400, "start again") or verifies the
    response and then waits for the row lock, finds the request answered and is audited as a
    replay; exactly one answers it, and the browser that asked logs in once."""
    user = nurse[0]
    browser = Client()
    asked = federation.start(browser, "staff", next_path="/my/eids/")
    answer = federation.idps["staff"].response(asked, person_attributes(user.person))

    answers = at_once([partial(_post_acs, live_server.url, answer)] * PARALLEL)

    assert all(a.status in (303, 400) for a in answers), answers
    assert AuthnRequestState.objects.get().status == AuthnRequestState.Status.ANSWERED
    assert AcceptedAssertion.objects.count() == 1
    accepted = sum(a.status == 303 for a in answers) - _replays()
    assert accepted == 1, answers
    assert sum(a.status == 400 for a in answers) + _replays() == PARALLEL - 1
    done = request(live_server.url, "GET", "/saml/complete/", cookies=_cookies(browser))
    assert done.status == 302 and done.location == "/my/eids/", done
    again = request(live_server.url, "GET", "/saml/complete/", cookies=_cookies(browser))
    assert again.status in (302, 403) and again.location != "/my/eids/"
    assert AuditEvent.objects.filter(action="login.succeeded", actor_id=str(user.pk)).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_completions_in_one_browser_session_log_in_once(
        live_server: Any, federation: Any, nurse: tuple[User, Employee]) -> None:
    """Two tabs (one session cookie) open the completing page at once: the request state is
    consumed under its row lock by one; the other is refused (403 "used", or 400 when its session
    was rotated away under it), never a 500, and one login is recorded."""
    user = nurse[0]
    for _round in range(3):
        browser = Client()
        asked = federation.start(browser, "staff", next_path="/my/eids/")
        answer = federation.idps["staff"].response(asked, person_attributes(user.person))
        assert _post_acs(live_server.url, answer).status == 303
        cookies = _cookies(browser)
        pages = at_once([partial(request, live_server.url, "GET", "/saml/complete/",
                                 cookies=cookies)] * 2)
        assert all(page.status < 500 for page in pages), pages
        assert sorted(page.status == 302 for page in pages) == [False, True], pages
        assert [p for p in pages if p.status == 302][0].location == "/my/eids/"
        assert [p for p in pages if p.status != 302][0].status in (400, 403)
        assert AuthnRequestState.objects.filter(
            status=AuthnRequestState.Status.CONSUMED).count() == _round + 1
    assert AuditEvent.objects.filter(action="login.succeeded", actor_id=str(user.pk)).count() == 3


@pytest.mark.django_db(transaction=True)
def test_two_different_answers_to_one_request_at_once_at_most_one_is_accepted(
        live_server: Any, federation: Any, nurse: tuple[User, Employee]) -> None:
    """Two responses (different assertion IDs, even for different people) to one request, posted
    at once: the request state's row lock lets one answer it; the other is refused as a replay.
    Repeated, so that either may win."""
    idp = federation.idps["staff"]
    for _round in range(4):
        browser = Client()
        asked = federation.start(browser, "staff")
        first = idp.response(asked, person_attributes(nurse[0].person))
        second = idp.response(asked, person_attributes(nurse[0].person))
        answers = at_once([partial(_post_acs, live_server.url, first),
                           partial(_post_acs, live_server.url, second)])
        assert all(a.status in (303, 400) for a in answers), answers
        state = AuthnRequestState.objects.get(request_id=asked.id)
        assert state.status == AuthnRequestState.Status.ANSWERED
        assert AcceptedAssertion.objects.count() == _round + 1
        refused = sum(a.status == 400 for a in answers)
        assert refused + _replays() == _round + 1, answers


@pytest.mark.django_db(transaction=True)
def test_a_new_patient_logging_in_from_two_browsers_at_once_gets_one_account(
        live_server: Any, federation: Any) -> None:
    """A citizen's first login, sent from two browsers at the same moment: both answers try to
    register the same person. One account, one person, one federated identity; each browser gets
    a page (logged in, or told to start again), never a 500."""
    idp = federation.idps["citizen"]
    citizen = {"personalIdentityNumber": "191212121212", "givenName": "Tolvan",
               "sn": "Tolvansson"}
    browsers = [Client(), Client()]
    answers = [idp.response(federation.start(b, "citizen", next_path="/patient/"), citizen)
               for b in browsers]
    posted = at_once([partial(_post_acs, live_server.url, answer) for answer in answers])
    assert all(a.status in (303, 400) for a in posted), posted
    pages = [request(live_server.url, "GET", "/saml/complete/", cookies=_cookies(b))
             for b in browsers]
    assert all(page.status < 500 for page in pages), pages
    assert any(page.status == 302 for page in pages), pages
    assert User.objects.filter(kind=User.Kind.PATIENT).count() == 1
    assert FederatedIdentity.objects.count() == 1
