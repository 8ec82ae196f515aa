"""What an authorization request asks of the user's login, and whether this session's login gives
it: `prompt`, `max_age` and `acr_values` (OpenID Connect Core 1.0 3.1.2.1; docs/identity-provider.md,
"Login requirements").

- `prompt=login` and an exceeded `max_age` ask for a fresh authentication: the portal's step-up
  (`apps.authn` step-up page), which comes back to the authorization request through the one
  `next` rule, without `prompt=login` and `max_age` (the authentication just made satisfies them,
  and the request must not ask again for ever).
- `acr_values` names levels of assurance (framework URIs or Sambi aliases, `apps.core.loa`); the
  weakest level named is required (the client accepts any of them), and a session below it is
  stepped up to it. A value the portal does not know is ignored (OIDC Core 3.1.2.1: voluntary);
  the ID token's `acr` says what the login was.
- With `prompt=none` nothing can be shown: a login too old is `login_required`, a level too low
  `interaction_required` (OIDC Core 3.1.2.6).
A code is never issued for a weaker or older login than the request asks for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import HttpRequest, QueryDict
from django.urls import reverse

from apps.authn import session
from apps.authn.decorators import E_SERVICE_STEP_UP_PURPOSES
from apps.core import loa as levels
from apps.core.assurance import is_fresh
from apps.identities.models import User


@dataclass(frozen=True)
class Login:
    """The session's login as an ID token states it: `acr` (framework URI or ""), `amr` (method
    names), `auth_time` (epoch seconds, UTC; 0 without a login)."""

    acr: str
    amr: list[str]
    auth_time: int


@dataclass(frozen=True)
class Decision:
    """`error` (an OIDC Core 3.1.2.6 error code, with an optional `description`) or `step_up`
    (where to send the browser), or neither: the login is good enough."""

    error: str = ""
    description: str = ""
    step_up: str = ""


def current_login(request: HttpRequest) -> Login:
    """This session's login: the level and methods it holds (`apps.authn.session`), and the time
    of its latest authentication, counting a fresh step-up at least as strong as the session
    (NIST SP 800-63B rev. 4, 5.2: reauthentication)."""
    facts = session.get(request)
    acr = session.loa(request) or ""
    methods = list(facts.get("methods") or [])
    at = int(facts.get("at") or 0)
    proof = session.step_up_proof(request)
    user = request.user
    if (proof is not None and isinstance(user, User) and is_fresh(proof, user.pk)
            and levels.level(proof.loa) >= levels.level(acr) and proof.verified_at > at):
        at = proof.verified_at
        if proof.method not in methods:
            methods.append(proof.method)
    return Login(acr=acr, amr=methods, auth_time=at)


def required_level(acr_values: str) -> int:
    """The weakest known level named in `acr_values` (space-separated), 0 when none is known."""
    known = [levels.level(value) for value in acr_values.split() if levels.level(value)]
    return min(known, default=0)


def max_age_seconds(value: str | None) -> int | None:
    """`max_age` as a number of seconds, None when absent. Raises ValueError when it is not a
    non-negative integer (OIDC Core 3.1.2.1)."""
    if value is None:
        return None
    if not value.isdigit() or len(value) > 10:
        raise ValueError("max_age must be a non-negative integer number of seconds.")
    return int(value)


def decide(request: HttpRequest, *, now: float | None = None) -> Decision:
    """Whether the authorization request in `request.GET` may go on with this session's login,
    must step up first, or must answer an error. Raises ValueError for a malformed `max_age`."""
    query = request.GET
    prompt = set(query.get("prompt", "").split())
    max_age = max_age_seconds(query.get("max_age"))
    login = current_login(request)
    now = time.time() if now is None else now
    too_old = "login" in prompt or (max_age is not None and now - login.auth_time > max_age)
    required = required_level(query.get("acr_values", ""))
    too_weak = levels.level(login.acr) < required
    if not (too_old or too_weak):
        return Decision()
    if "none" in prompt:
        return Decision(error="login_required" if too_old else "interaction_required")
    level = max(required, levels.level(login.acr), 2)
    return Decision(step_up=f"{reverse('authn:step_up')}?" + urlencode({
        "purpose": E_SERVICE_STEP_UP_PURPOSES[level], "next": without_fresh_login(query)}))


def without_fresh_login(query: QueryDict) -> str:
    """The authorization request's path and query without `prompt=login` and `max_age`, where the
    step-up returns."""
    kept = query.copy()
    kept.pop("max_age", None)
    prompt = [value for value in kept.get("prompt", "").split() if value != "login"]
    kept.pop("prompt", None)
    if prompt:
        kept["prompt"] = " ".join(prompt)
    return f"{reverse('oauth2_provider:authorize')}?{kept.urlencode()}"
