"""Helpers for the concurrency suite: real HTTP to the live server from many threads at once."""

from __future__ import annotations

import http.client
import json
import re
import secrets
import string
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY, devices_for_user

from apps.core.assurance import mint_step_up
from apps.core.loa import LOA2, LOA3
from apps.identities.models import User

T = TypeVar("T")
#: A CSRF secret sent as both the cookie and the form field (Django accepts the unmasked secret).
CSRF = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
QR_PAYLOAD = re.compile(r"EIDACT1\.[0-9a-f]{32}\.[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes
    location: str = ""

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def request(base_url: str, method: str, path: str, *, body: bytes = b"",
            content_type: str = "", cookies: dict[str, str] | None = None) -> Answer:
    """One HTTP request, redirects not followed, English answers."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "localhost", parts.port, timeout=60)
    headers = {"Accept-Language": "en"}
    if content_type:
        headers["Content-Type"] = content_type
    if cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return Answer(response.status, response.getheader("Content-Type", ""), response.read(),
                      response.getheader("Location", ""))
    finally:
        connection.close()


def post_json(base_url: str, path: str, payload: dict[str, Any]) -> Answer:
    return request(base_url, "POST", path, body=json.dumps(payload).encode(),
                   content_type="application/json")


def post_form(base_url: str, path: str, fields: dict[str, str],
              cookies: dict[str, str] | None = None) -> Answer:
    """A page form POST with a valid CSRF token."""
    return request(base_url, "POST", path, body=urlencode(
        {**fields, "csrfmiddlewaretoken": CSRF}).encode(),
        content_type="application/x-www-form-urlencoded",
        cookies={"csrftoken": CSRF, **(cookies or {})})


def at_once(calls: Sequence[Callable[[], T]], *, timeout: float = 120) -> list[T]:
    """Run `calls` in one thread each, released together by a barrier; their results in order.
    Fails when a call raised or did not finish within `timeout` seconds."""
    start = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], T]) -> None:
        start.wait()
        try:
            results[index] = call()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "a request did not finish in time"
    assert not errors, errors
    return results


class StaffSession:
    """A staff member logged in with password and second factor, as the login pages leave the
    session, for pages reached over HTTP. `step_up()` records a fresh step-up proof, as a
    re-entered second factor would (minted by the authentication code's own function)."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.client = Client()
        self.client.force_login(user)
        session = self.client.session
        session[DEVICE_ID_SESSION_KEY] = next(iter(devices_for_user(user))).persistent_id
        session["authn"] = {"loa": LOA2, "methods": ["pwd", "otp"], "at": int(time.time()),
                            "step_up": None}
        session.save()

    @property
    def cookies(self) -> dict[str, str]:
        return {"sessionid": self.client.session.session_key or ""}

    def step_up(self) -> None:
        session = self.client.session
        authn = dict(session["authn"])
        authn["step_up"] = mint_step_up(self.user.pk, "saml", loa=LOA3).as_session()
        session["authn"] = authn
        session.save()
