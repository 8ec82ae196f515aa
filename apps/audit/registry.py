"""The audit registries: every action code and every fixed reason code is registered once, by the
app that owns it.

Action codes are `<entity>.<past_verb>` (e.g. `commission.granted`). A reason the portal itself
gives (not one a person typed) is stored as a stable reason code (e.g. `activation_code.replaced`)
and shown as its label translated into the reader's language (`reason_text`); a target whose label
names a vocabulary value stores the value's code and registers how to show it (`target_text`). So
an audit row never holds text in the language of the request that wrote it. Registering a code
twice raises at start-up, so two apps can never mean different things by one code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Action:
    """An audit action: stable `code` and a translatable `label` shown in audit histories.

    `patient_data` marks events about a person's care (consent, emergency access): they belong in
    the patient's own log extract, never in an administrator's view of a colleague. `names_target`
    marks actions whose label needs the target's name beside it to say what happened ("E-service
    token issued: Journal e-service"; `describe`). `failures_in_extract` False keeps the action's
    failed events out of the patient's log extract: a denied access decision is no access to the
    patient's information (docs/decisions.md, "Log extract shows reads").
    """

    code: str
    label: str | Promise
    patient_data: bool = False
    names_target: bool = False
    failures_in_extract: bool = True


_ACTIONS: dict[str, Action] = {}


class DuplicateAction(Exception):
    """An action or reason code was registered twice."""


def register(code: str, label: str | Promise, *, patient_data: bool = False,
             names_target: bool = False, failures_in_extract: bool = True) -> Action:
    """Register `code` with its `label`; raises DuplicateAction if the code is already taken."""
    if code in _ACTIONS:
        raise DuplicateAction(f"audit action {code!r} is registered twice")
    action = Action(code, label, patient_data, names_target, failures_in_extract)
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


def describe(code: str, target_label: str, target_type: str = "") -> str:
    """`label(code)`, followed by ": <target>" for an action registered with `names_target` (and
    a target label to show), the target shown as registered for `target_type` (`target_text`)."""
    action = _ACTIONS.get(code)
    if action and action.names_target and target_label:
        return f"{label(code)}: {target_text(target_type, target_label)}"
    return label(code)


def actions() -> list[Action]:
    """Every registered action, in registration order."""
    return list(_ACTIONS.values())


def codes_without_failures_in_extract() -> list[str]:
    """Codes of the actions whose failed events stay out of the log extract."""
    return [code for code, action in _ACTIONS.items() if not action.failures_in_extract]


def patient_data_codes() -> list[str]:
    """Codes of the actions registered with `patient_data=True`."""
    return [code for code, action in _ACTIONS.items() if action.patient_data]


@dataclass(frozen=True)
class Reason:
    """A reason the portal gives by itself: stable `code` (stored in `AuditEvent.reason`) and a
    translatable `label` (shown)."""

    code: str
    label: str | Promise


_REASONS: dict[str, Reason] = {}


def register_reason(code: str, label: str | Promise) -> Reason:
    """Register the reason `code` with its `label`; raises DuplicateAction if the code is taken."""
    if code in _REASONS:
        raise DuplicateAction(f"audit reason {code!r} is registered twice")
    reason = Reason(code, label)
    _REASONS[code] = reason
    return reason


def reason_text(stored: str) -> str:
    """The text to show for a stored `AuditEvent.reason`: a registered reason code's label in the
    active language, else the stored text as it is (a reason a person typed)."""
    reason = _REASONS.get(stored)
    return str(reason.label) if reason else stored


_TARGETS: dict[str, Callable[[str], str]] = {}


def register_target(target_type: str, show: Callable[[str], str]) -> None:
    """Register how to show the stored target label of `target_type` (a model's
    `app_label.modelname`) in the active language; raises DuplicateAction if already registered."""
    if target_type in _TARGETS:
        raise DuplicateAction(f"audit target {target_type!r} is registered twice")
    _TARGETS[target_type] = show


def target_text(target_type: str, stored: str) -> str:
    """The text to show for a stored target label: as registered for its type, else as stored."""
    show = _TARGETS.get(target_type)
    return show(stored) if show else stored


# The audit log's own actions: a month moved out of the online log, and an archived month's table
# removed from the database once its retention ended (docs/audit-log.md, "Retention and archive").
PARTITION_ARCHIVED = register("audit_partition.archived",
                              _("Audit log month archived and detached"), names_target=True)
PARTITION_DROPPED = register("audit_partition.dropped",
                             _("Archived audit log month removed from the database"),
                             names_target=True)

# The audit log's own actions (apps.audit.integrity, docs/audit-log.md "Tamper evidence").
AUDIT_DAY_SEALED = register("audit_log.day_sealed", _("Audit log: a day sealed"))
AUDIT_VERIFIED = register("audit_log.verified", _("Audit log: integrity checked"))
