"""An administrator's view of a person's login (docs/journey-sessions-admin.md), in the browser:
the administrator (federated login, LoA 3) opens a person in their subtree, sees the login
account, the mobile e-IDs and the active sessions, and ends the session of the person's browser
with a reason; that browser (a second context, logged in as the person) is logged out at its
next request, and after logging in again the person sees why on My sessions."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.administration.test_sessions_admin import make_eid
from tests.conftest import make_staff
from tests.e2e.conftest import (
    TestIdPServer,
    assert_accessible,
    assert_fits_a_phone,
    federated_login,
    screenshot,
    staff_login,
)


def test_admin_ends_a_persons_session(page: Page, browser: Browser, live_server: Any,
                                      test_idp: TestIdPServer, tree: Any,
                                      hospital_admin: Any) -> None:
    olle, _ = make_staff(tree["ortho"], "Olle", "Ortoped")
    make_eid(olle.person, device="Olle phone")
    context = browser.new_context(base_url=live_server.url, locale="en-GB",
                                  extra_http_headers={"Accept-Language": "en"})
    person = context.new_page()
    person.set_default_timeout(10_000)
    staff_login(person, olle.username)
    expect(person.get_by_text("Logged in as Olle Ortoped")).to_be_visible()

    federated_login(page, test_idp, "Astrid Admin")
    page.goto("/administration/")
    page.get_by_label("Name, username, HSA-id, or personal identity or coordination number").fill("ortoped")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Ortoped, Olle").click()
    accounts = page.get_by_role("table", name="Login accounts of this person")
    expect(accounts.get_by_role("row", name="olle.ortoped")).to_contain_text(
        "password + code from an authenticator app")
    expect(page.get_by_role("table", name="Mobile e-IDs of this person")).to_contain_text(
        "Olle phone")
    sessions = page.get_by_role("table", name="Where the person is logged in now")
    expect(sessions.get_by_role("row")).to_have_count(2)  # the header and Olle's one browser
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "admin-person-sessions")

    sessions.get_by_role("link", name="End session").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("End a session of Olle Ortoped")
    expect(page.get_by_text("logged out in that browser at its next request")).to_be_visible()
    page.get_by_role("button", name="End session").click()
    expect(page.get_by_role("alert")).to_contain_text("Reason: This field is required.")
    assert_accessible(page)
    assert_fits_a_phone(page)
    screenshot(page, "admin-session-end")
    page.get_by_label("Reason").fill("Computer left unlocked")
    page.get_by_role("button", name="End session").click()
    expect(page.get_by_text("The session was ended.")).to_be_visible()
    expect(page.get_by_text("The person is not logged in anywhere now.")).to_be_visible()

    person.goto("/my/sessions/")
    expect(person).to_have_url(re.compile(r"/saml/\?next="))  # the e-ID choice, staff or patient
    staff_login(person, olle.username, offset_steps=1)
    person.goto("/my/sessions/")
    expect(person.get_by_role("table", name="Sessions ended in the last 7 days")).to_contain_text(
        "ended by an administrator: Computer left unlocked")
    assert_accessible(person)
    context.close()
