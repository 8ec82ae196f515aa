"""`prompt`, `max_age` and `acr_values` at the authorization endpoint (OIDC Core 3.1.2.1 and
3.1.2.6), over real HTTP to the live server with Authlib building the requests: a silent request
without a login or with a login too old or too weak is answered with an error, an interactive one
is sent to the portal's step-up, and a code is never issued for a weaker or older login."""

from __future__ import annotations

import re
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from django.conf import settings

from apps.core.loa import LOA2, LOA3
from apps.federation.models import Grant
from tests.conftest import totp_now
from tests.federation.oidc_support import (
    REDIRECT_URI,
    RelyingParty,
    browser,
    continued_to,
    register,
    use_provider,
)

pytestmark = pytest.mark.django_db(transaction=True)
LOA4 = "http://id.elegnamnden.se/loa/1.0/loa4"


@pytest.fixture
def portal(live_server: Any, settings: Any, tree: Any) -> str:
    use_provider(settings, live_server.url)
    return str(live_server.url)


@pytest.fixture
def rp(portal: str, tree: Any) -> RelyingParty:
    return RelyingParty(portal, register(tree["cardio"], claims=("sub", "acr", "auth_time")))


def age_login(session: requests.Session, seconds: int) -> None:
    """Make the browser session's login `seconds` older."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(
        session.cookies[settings.SESSION_COOKIE_NAME])
    facts = store["authn"]
    facts["at"] -= seconds
    store["authn"] = facts
    store.save()


def step_up_of(location: str) -> dict[str, list[str]]:
    parts = urlsplit(location)
    assert parts.path == "/login/step-up/"
    return parse_qs(parts.query)


def test_prompt_none_without_a_login_answers_login_required(portal: str, rp: RelyingParty) -> None:
    query = rp.authorize(requests.Session(), prompt="none")
    assert query["error"] == ["login_required"] and query["state"] == [rp.state]
    assert query["iss"] == [portal]
    assert not Grant.objects.exists()


def test_prompt_none_never_redirects_to_an_unregistered_uri(portal: str, tree: Any) -> None:
    rp = RelyingParty(portal, register(tree["cardio"]), redirect_uri=REDIRECT_URI + "/")
    assert rp.authorize(requests.Session(), prompt="none") == {"status": ["400"]}


def test_without_prompt_a_visitor_goes_to_the_login_page(portal: str, rp: RelyingParty) -> None:
    url, _ = rp.session.create_authorization_url(rp.discovery["authorization_endpoint"],
                                                 code_verifier="v" * 48, nonce="n")
    answer = requests.get(url, allow_redirects=False, timeout=30)
    assert answer.status_code == 302
    assert urlsplit(answer.headers["Location"]).path == "/saml/"


def test_prompt_login_steps_up_and_comes_back_without_prompt(
        portal: str, rp: RelyingParty, nurse: Any) -> None:
    session = browser(portal, nurse[0])
    url, _ = rp.session.create_authorization_url(rp.discovery["authorization_endpoint"],
                                                 code_verifier="v" * 48, nonce="n",
                                                 prompt="login", max_age="0")
    answer = session.get(url, allow_redirects=False, timeout=30)
    step_up = step_up_of(answer.headers["Location"])
    assert step_up["purpose"] == ["e_service_loa3"]
    back = parse_qs(urlsplit(step_up["next"][0]).query)
    assert "prompt" not in back and "max_age" not in back
    assert back["client_id"] == [rp.registered.client_id]
    assert not Grant.objects.exists()


def test_prompt_none_with_prompt_login_together_is_invalid(
        portal: str, rp: RelyingParty, nurse: Any) -> None:
    query = rp.authorize(browser(portal, nurse[0]), prompt="none login")
    assert query["error"] == ["invalid_request"]


def test_a_fresh_login_after_prompt_login_gives_a_code_with_its_auth_time(
        portal: str, rp: RelyingParty, nurse: Any) -> None:
    user = nurse[0]
    session = browser(portal, user, loa=LOA2, methods=("pwd", "otp"), idp=None)
    age_login(session, 3600)
    rp.verifier = "v" * 48
    rp.nonce = "n" * 16
    url, rp.state = rp.session.create_authorization_url(
        rp.discovery["authorization_endpoint"], code_verifier=rp.verifier, nonce=rp.nonce,
        prompt="login")
    step_up = session.get(url, allow_redirects=False, timeout=30).headers["Location"]
    assert step_up_of(step_up)["purpose"] == ["e_service_loa2"]
    page = session.get(urljoin(portal, step_up), timeout=30)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert csrf
    confirmed = session.post(urljoin(portal, step_up), data={
        "csrfmiddlewaretoken": csrf.group(1), "token": totp_now(offset_steps=1)},
        headers={"Referer": urljoin(portal, step_up)}, allow_redirects=False, timeout=30)
    # The step-up form's answer continues to the e-service by a page (CSP 3 form-action).
    assert confirmed.status_code == 200
    answer = session.get(urljoin(portal, continued_to(confirmed.text)),
                         allow_redirects=False, timeout=30)
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    id_token = rp.verify_id_token(rp.redeem(query["code"][0])["id_token"])
    assert id_token["acr"] == LOA2
    grant = Grant.objects.get()
    assert grant.auth_time is not None and id_token["auth_time"] == int(grant.auth_time.timestamp())
    assert grant.amr == ["pwd", "otp"]  # the step-up's method is already among the login's


@pytest.mark.parametrize(("max_age", "silent", "outcome"), [
    ("7200", False, "code"),
    ("60", False, "step_up"),
    ("60", True, "login_required"),
])
def test_max_age(portal: str, rp: RelyingParty, nurse: Any, max_age: str, silent: bool,
                 outcome: str) -> None:
    session = browser(portal, nurse[0])
    age_login(session, 600)
    extra = {"max_age": max_age, **({"prompt": "none"} if silent else {})}
    url, _ = rp.session.create_authorization_url(rp.discovery["authorization_endpoint"],
                                                 code_verifier="v" * 48, nonce="n", **extra)
    location = session.get(url, allow_redirects=False, timeout=30).headers["Location"]
    if outcome == "step_up":
        assert step_up_of(location)["purpose"] == ["e_service_loa3"]
    elif outcome == "code":
        assert "code" in parse_qs(urlsplit(location).query)
    else:
        answered = parse_qs(urlsplit(location).query)
        assert answered["error"] == [outcome] and answered["iss"] == [portal]
    assert Grant.objects.exists() == (outcome == "code")


@pytest.mark.parametrize("max_age", ["-1", "soon", "1" * 11])
def test_a_malformed_max_age_is_invalid_request(
        portal: str, rp: RelyingParty, nurse: Any, max_age: str) -> None:
    query = rp.authorize(browser(portal, nurse[0]), max_age=max_age)
    assert query["error"] == ["invalid_request"]
    assert not Grant.objects.exists()


@pytest.mark.parametrize(("acr_values", "silent", "outcome"), [
    (LOA2, False, "code"),
    (f"{LOA4} {LOA3}", False, "code"),
    ("http://id.sambi.se/loa/loa3", False, "code"),
    ("urn:unknown", False, "code"),
    (LOA4, False, "e_service_loa4"),
    (LOA4, True, "interaction_required"),
])
def test_acr_values(portal: str, rp: RelyingParty, nurse: Any, acr_values: str, silent: bool,
                    outcome: str) -> None:
    extra = {"acr_values": acr_values, **({"prompt": "none"} if silent else {})}
    url, _ = rp.session.create_authorization_url(rp.discovery["authorization_endpoint"],
                                                 code_verifier="v" * 48, nonce="n", **extra)
    location = browser(portal, nurse[0]).get(url, allow_redirects=False,
                                             timeout=30).headers["Location"]
    if outcome == "code":
        assert "code" in parse_qs(urlsplit(location).query)
        assert Grant.objects.get().acr == LOA3
    elif outcome.startswith("e_service"):
        assert step_up_of(location)["purpose"] == [outcome]
    else:
        answered = parse_qs(urlsplit(location).query)
        assert answered["error"] == [outcome] and answered["iss"] == [portal]
    assert Grant.objects.exists() == (outcome == "code")


def test_a_level_2_session_is_stepped_up_for_level_3(
        portal: str, rp: RelyingParty, nurse: Any) -> None:
    session = browser(portal, nurse[0], loa=LOA2, methods=("pwd", "otp"), idp=None)
    query = rp.authorize(session, acr_values=LOA3, prompt="none")
    assert query["error"] == ["interaction_required"]
    url, _ = rp.session.create_authorization_url(rp.discovery["authorization_endpoint"],
                                                 code_verifier="v" * 48, nonce="n",
                                                 acr_values=LOA3)
    location = session.get(url, allow_redirects=False, timeout=30).headers["Location"]
    assert step_up_of(location)["purpose"] == ["e_service_loa3"]
    page = session.get(urljoin(portal, location), timeout=30)
    assert "An e-service asks you to log in again, at level 3" in page.text
    assert not Grant.objects.exists()


def test_a_consent_form_posted_without_the_page_is_checked_too(
        client: Any, settings: Any, tree: Any, nurse: Any) -> None:
    from tests.conftest import login_session
    from tests.federation.test_oidc_endpoints import authorize_query

    use_provider(settings, "http://testserver")
    registered = register(tree["cardio"], first_party=False)
    login_session(client, nurse[0])
    url = "/oauth2/authorize/?" + authorize_query(registered.client_id, acr_values=LOA4)
    fields = {"client_id": registered.client_id, "redirect_uri": REDIRECT_URI, "scope": "openid",
              "state": "st", "response_type": "code", "allow": "Authorize"}
    answer = client.post(url, fields)
    assert step_up_of(answer["Location"])["purpose"] == ["e_service_loa4"]
    assert not Grant.objects.exists()


def test_a_consent_form_must_answer_the_request_of_its_url(
        client: Any, settings: Any, tree: Any, nurse: Any) -> None:
    """Posted to the bare endpoint (whose query holds no `acr_values`), to another client's
    request, or naming an unknown client: the error page, never a code and never a 500."""
    from tests.conftest import login_session
    from tests.federation.test_oidc_endpoints import authorize_query

    use_provider(settings, "http://testserver")
    registered = register(tree["cardio"], first_party=False)
    other = register(tree["cardio"], first_party=False)
    login_session(client, nurse[0])
    fields = {"client_id": registered.client_id, "redirect_uri": REDIRECT_URI, "scope": "openid",
              "state": "st", "response_type": "code", "allow": "Authorize"}
    for url in ("/oauth2/authorize/",
                "/oauth2/authorize/?" + authorize_query(other.client_id)):
        answer = client.post(url, fields)
        assert answer.status_code == 400 and "refused" in answer.content.decode()
    unknown = {**fields, "client_id": "nope"}
    answer = client.post("/oauth2/authorize/?" + authorize_query("nope"), unknown)
    assert answer.status_code == 400
    assert not Grant.objects.exists()


@pytest.mark.parametrize("repeated", [
    "prompt=login&prompt=consent", "max_age=0&max_age=99999",
    f"acr_values={LOA4}&acr_values=unknown", "scope=openid&scope=profile"])
def test_a_parameter_given_twice_is_refused(client: Any, settings: Any, tree: Any, nurse: Any,
                                            repeated: str) -> None:
    """RFC 6749 3.1: a parameter MUST NOT be included more than once (the last value winning
    could drop a requirement)."""
    from tests.conftest import login_session
    from tests.federation.test_oidc_endpoints import authorize_query

    use_provider(settings, "http://testserver")
    registered = register(tree["cardio"])
    login_session(client, nurse[0])
    name = repeated.split("=")[0]
    query = authorize_query(registered.client_id).replace(f"{name}=", "x_ignored=")
    answer = client.get(f"/oauth2/authorize/?{query}&{repeated}")
    assert answer.status_code == 400 and not Grant.objects.exists()
