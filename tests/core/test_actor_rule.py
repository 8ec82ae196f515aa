"""The actor rule: every public service names its actor and checks a policy before it writes.

`record()` already refuses to write an audit row outside a service, before a policy passed, or for
another actor (tests/audit/test_audit.py). This walks every public function of every `services`
module and fails when one is not a `@service` or never calls a `require_*` policy, directly or
through a private helper of its own module.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
from pathlib import Path
from types import ModuleType

import apps
from apps.core.calls import SERVICE_MARK

#: The audit and outbox writers are what the rule protects (they refuse to run outside a checked
#: service call), not services that write domain data.
NOT_SERVICES = {"apps.audit.services", "apps.outbox.services"}


def _service_modules() -> list[ModuleType]:
    modules = []
    for app in pkgutil.iter_modules(apps.__path__):
        if f"apps.{app.name}.services" in NOT_SERVICES:
            continue
        name = f"apps.{app.name}.services"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        modules.append(module)
        if hasattr(module, "__path__"):  # a package: one module per concern
            modules += [importlib.import_module(f"{name}.{sub.name}")
                        for sub in pkgutil.iter_modules(module.__path__)]
    return modules


def _public_services(module: ModuleType) -> list[tuple[str, object]]:
    return [(name, fn) for name, fn in vars(module).items()
            if callable(fn) and not name.startswith("_") and inspect.isfunction(fn)
            and getattr(fn, "__module__", "") == module.__name__]


def _calls(source: str) -> set[str]:
    """Names of the functions a function's body calls (`f(...)` and `x.f(...)`)."""
    names = set()
    for node in ast.walk(ast.parse(textwrap.dedent(source))):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return names


def _checks_policy(module: ModuleType, fn: object, seen: frozenset[str] = frozenset()) -> bool:
    source = inspect.getsource(inspect.unwrap(fn))  # type: ignore[arg-type]
    called = _calls(source)
    if any(name.startswith("require_") for name in called):
        return True
    helpers = [name for name in called if name.startswith("_") and name not in seen
               and inspect.isfunction(getattr(module, name, None))]
    return any(_checks_policy(module, getattr(module, name), seen | {name}) for name in helpers)


def test_the_walk_finds_the_services() -> None:
    found = {f"{m.__name__}.{n}" for m in _service_modules() for n, _ in _public_services(m)}
    assert "apps.commissions.services.commission_grant" in found
    assert "apps.issuance.services.redeem.activation_code_redeem" in found
    assert len(found) >= 20


def test_every_public_service_is_a_service_and_checks_a_policy() -> None:
    unmarked, unchecked = [], []
    for module in _service_modules():
        for name, fn in _public_services(module):
            if not getattr(fn, SERVICE_MARK, False):
                unmarked.append(f"{module.__name__}.{name}")
            elif not _checks_policy(module, fn):
                unchecked.append(f"{module.__name__}.{name}")
    assert not unmarked, f"public functions of services modules that are not @service: {unmarked}"
    assert not unchecked, f"services that call no require_* policy: {unchecked}"


def test_every_require_policy_is_marked() -> None:
    """A `require_*` that is not `@policy` would not count as checked, and record() would refuse."""
    unmarked = []
    for path in Path(apps.__path__[0]).glob("*/policies.py"):
        module = importlib.import_module(f"apps.{path.parent.name}.policies")
        for name, fn in vars(module).items():
            if name.startswith("require_") and getattr(fn, "__module__", "") == module.__name__ \
                    and not hasattr(fn, "__wrapped__"):
                unmarked.append(f"{module.__name__}.{name}")
    assert not unmarked, unmarked
