"""Page middleware: the portal's own "not found" page, also in development (debug on)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.conftest import login_session

NOT_FOUND_TEXT = "The page or item does not exist, or you may not see it."


@pytest.fixture(params=[True, False], ids=["debug", "production"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.mark.django_db
def test_an_unknown_address_shows_the_portal_page(client, debug):
    """Found: the README's walkthrough expects the portal's "not found" page, but with
    debug on (make run) Django's technical 404 page came instead."""
    response = client.get("/no/such/page/", HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert response.status_code == 404
    assert NOT_FOUND_TEXT in page and 'class="site-header"' in page
    assert "URLconf" not in page and "DEBUG = True" not in page


def test_a_page_outside_ones_scope_shows_the_portal_page(client, debug, hospital_admin, tree):
    """An administrator opening a person outside their scope: NotFound from a selector."""
    from tests.conftest import make_staff

    outsider, _ = make_staff(tree["primary"], "Pia", "Primär")
    login_session(client, hospital_admin)  # administration needs LoA 3
    response = client.get(reverse("administration:person_detail", args=[outsider.person.pk]),
                          HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert response.status_code == 404
    assert NOT_FOUND_TEXT in page and "Pia" not in page
    assert "Traceback" not in page and "URLconf" not in page


@pytest.mark.django_db
def test_the_api_still_answers_problem_json(client, debug):
    response = client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"
