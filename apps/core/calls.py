"""The actor rule, made executable: every public service names its actor and checks a policy.

`@service` wraps a public service (`apps/<app>/services.py`): it takes keyword arguments only,
`actor` among them, and while it runs the current `ServiceCall` holds that actor. `@policy` wraps a
`require_*` policy: when it returns (the actor may proceed) it marks the current call as checked.
The audit writer (`apps.audit.services.record`) refuses to write unless it runs inside a service
call whose policy was checked and whose actor is the one it is given, so an audit row can never
name another actor than the one the policy let through (docs/architecture.md, "The actor rule").

Both live in the lowest app so that every domain app can use them; the calls are per thread/task
(`ContextVar`), never shared between processes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.errors import Forbidden

P = ParamSpec("P")
R = TypeVar("R")

#: Attribute set on every function wrapped by `@service` (read by the test that walks services).
SERVICE_MARK = "__portal_service__"


@dataclass
class ServiceCall:
    """One running public service: its dotted `name`, the `actor` it was given and the names of
    the policies that let that actor through so far."""

    name: str
    actor: Any
    policies: list[str] = field(default_factory=list)


_current: ContextVar[ServiceCall | None] = ContextVar("portal_service_call", default=None)


def current_call() -> ServiceCall | None:
    """The innermost running service call, or None outside any service."""
    return _current.get()


def service(fn: Callable[P, R]) -> Callable[P, R]:
    """Mark `fn` as a public service: keyword-only arguments with `actor`; sets the current call.

    Raises TypeError at import time when `fn` has no keyword-only `actor` parameter, and at call
    time when it is given positional arguments.
    """
    params = inspect.signature(fn).parameters
    if "actor" not in params or params["actor"].kind is not inspect.Parameter.KEYWORD_ONLY:
        raise TypeError(f"service {fn.__qualname__} needs a keyword-only `actor` parameter")
    name = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if args:
            raise TypeError(f"service {name} takes keyword arguments only")
        actor = kwargs["actor"]
        outer = _current.get()
        if outer is None or not same_actor(outer.actor, actor):
            require_active_account(actor)
        token = _current.set(ServiceCall(name=name, actor=actor))
        try:
            return fn(*args, **kwargs)
        finally:
            _current.reset(token)

    setattr(wrapper, SERVICE_MARK, True)
    return wrapper


def require_active_account(actor: Any) -> None:
    """A user actor's account must still be active now, read from the database: a request that
    began before the account was deactivated must not write after it (the entitlement is checked
    when it is used). System actors have no account. Raises Forbidden (`account.inactive`)."""
    if not isinstance(actor, models.Model) or not hasattr(actor, "is_active"):
        return
    if not actor._meta.model._default_manager.filter(pk=actor.pk, is_active=True).exists():
        raise Forbidden(_("Your account is deactivated."), code="account.inactive")


def policy(fn: Callable[P, R]) -> Callable[P, R]:
    """Mark `fn` as a `require_*` policy whose first argument is the actor. When it returns
    without raising, the running service call with that same actor counts as checked."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        result = fn(*args, **kwargs)
        actor = args[0] if args else kwargs.get("actor")
        call = _current.get()
        if call is not None and same_actor(call.actor, actor):
            call.policies.append(fn.__qualname__)
        return result

    return wrapper


def same_actor(a: Any, b: Any) -> bool:
    """True when `a` and `b` are the same actor: the same system actor, or users with one id."""
    if a is b:
        return True
    return type(a) is type(b) and getattr(a, "pk", a) == getattr(b, "pk", b) and a == b
