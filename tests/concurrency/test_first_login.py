"""Two first logins of one patient at once (two browsers, two IdP answers) register the person
and link the federated identity once (apps.federation.services.federated_login: an advisory lock
named by the identity number)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.federation.models import AuthnRequestState, FederatedIdentity
from apps.identities.models import Person, User
from tests.concurrency.support import at_once, post_form

TOLVAN = {"personalIdentityNumber": "19121212-1212", "givenName": "Tolvan", "sn": "Tolvansson"}


@pytest.mark.django_db(transaction=True)
def test_parallel_first_logins_register_one_person(live_server: Any, federation: Any) -> None:
    browsers = [Client() for _ in range(4)]
    answers = []
    for browser in browsers:
        request = federation.start(browser, "citizen")
        answers.append(federation.idps["citizen"].response(request, TOLVAN))
    def post(answer: Any) -> Any:
        return lambda: post_form(live_server.url, "/saml/acs/", answer.post_data())

    results = at_once([post(answer) for answer in answers])
    assert [result.status for result in results] == [303] * len(answers)
    assert Person.objects.count() == 1 and User.objects.count() == 1
    assert FederatedIdentity.objects.count() == 1
    assert AuthnRequestState.objects.filter(status="answered").count() == len(answers)
    assert AuditEvent.objects.filter(action="person.created").count() == 1
    for browser in browsers:  # each browser completes its own login, as the same patient
        assert browser.get("/saml/complete/").status_code == 302
        assert browser.session["_auth_user_id"] == str(User.objects.get().pk)
