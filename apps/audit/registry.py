"""The audit action registry: every action code is registered once, by the app that owns it.

Codes are `<entity>.<past_verb>` (e.g. `commission.granted`). Registering a code twice raises at
start-up, so two apps can never mean different things by one code.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise


@dataclass(frozen=True)
class Action:
    """An audit action: stable `code` and a translatable `label` shown in audit histories.

    `patient_data` marks events about a person's care (consent, emergency access): they belong in
    the patient's own log extract, never in an administrator's view of a colleague.
    """

    code: str
    label: str | Promise
    patient_data: bool = False


_ACTIONS: dict[str, Action] = {}


class DuplicateAction(Exception):
    """An action code was registered twice."""


def register(code: str, label: str | Promise, *, patient_data: bool = False) -> Action:
    """Register `code` with its `label`; raises DuplicateAction if the code is already taken."""
    if code in _ACTIONS:
        raise DuplicateAction(f"audit action {code!r} is registered twice")
    action = Action(code, label, patient_data)
    _ACTIONS[code] = action
    return action


def get(code: str) -> Action:
    """Return the registered action; KeyError for an unknown code."""
    return _ACTIONS[code]


def label(code: str) -> str:
    """The translated label of action `code` in the active language; the code itself when it is
    not registered (an action of a removed feature still shows something)."""
    action = _ACTIONS.get(code)
    return str(action.label) if action else code


def patient_data_codes() -> list[str]:
    """Codes of the actions registered with `patient_data=True`."""
    return [code for code, action in _ACTIONS.items() if action.patient_data]
