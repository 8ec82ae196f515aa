"""The OpenID AuthZEN Authorization API 1.0 over the rules service: request shapes (also the
OpenAPI schema), how their members map to an `AccessRequest`, and how a `Decision` is answered.

Mapping (docs/authzen.md has the table and examples):

- `subject`: `type` "user", `id` the employee HSA-id, `properties.commission` the commission
  HSA-id acted under (the system vouches for its user, AuthZEN 1.0 section 5.1);
- `resource`: `type` "patient_record", `id` the patient's personnummer, samordningsnummer or the
  portal's reserve id; `properties`: `care_provider` (HSA-id), `care_unit` (HSA-id, optional),
  `information_type` (`lak`, `und`, `upp`, `vbe`, `dia`, `alla`), `information_from` and
  `information_until` (ISO 8601 date or date-time with offset, optional);
- `action.name`: `read`, `write`, `sign`, `print`, `certify` (the activities Läsa, Skriva,
  Signera, Utskrift, Vidimera of HSA's rights and Inera's Logg contract);
- `context`: `purpose` (default "Vård och behandling"), `care_relationship` (boolean, default
  false), `emergency` (`{"reason": ...}`; present means emergency access is asked).

Every object is closed: an unknown member is refused (400 `invalid`), so a misspelt member never
widens or narrows a question silently. Types and vocabularies are checked here (400); a
well-formed value that names nothing known (patient, HSA-id, commission) is a deny with its
rule, decided and logged by `apps.rules.services.access_decide`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import translation
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from apps.api.serializers import ClosedRequest, Text
from apps.commissions.vocabularies import Activity, InformationClass, Purpose
from apps.rules.decision import AccessRequest
from apps.rules.requests import access_request
from apps.rules.services import Decision

#: AuthZEN `action.name` → the activity of HSA's rights (Activity).
ACTIONS: dict[str, str] = {
    "read": Activity.READ.value,
    "write": Activity.WRITE.value,
    "sign": Activity.SIGN.value,
    "print": Activity.PRINT.value,
    "certify": Activity.CERTIFY.value,
}
SUBJECT_TYPE = "user"
RESOURCE_TYPE = "patient_record"
#: The most evaluations one batch request may hold (docs/authzen.md, "Batches").
MAX_EVALUATIONS = 50
#: AuthZEN 1.0 section 7.1.2.1: how a batch is run; `execute_all` is the default.
SEMANTICS = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")
#: Longest identifier member (an HSA-id has at most 31 characters; a personnummer with
#: separators 13): room for spaces and other forms, bounded.
ID_MAX = 64
#: Longest emergency reason kept (characters; as an emergency opening's audit reason).
REASON_MAX = 2000
#: Longest date or date-time member (characters).
INSTANT_MAX = 40
#: Dates without a time are days in Sweden (docs/authzen.md).
SWEDEN = ZoneInfo("Europe/Stockholm")


class StrictBoolean(serializers.BooleanField):
    """A JSON boolean only: `"true"`, `1` and the like are refused (400 `invalid`)."""

    default_error_messages = {"invalid": _("Must be true or false (a JSON boolean).")}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class Choice(serializers.ChoiceField):
    """A JSON string from a fixed list (`enum` in the schema); any other value or type is
    refused (400 `invalid_choice`)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class Instant(Text):
    """An ISO 8601 date (`2026-01-31`, a whole day in Europe/Stockholm) or an RFC 3339 date-time
    with its offset (`2026-01-31T08:00:00Z`). With `end`, a date means the end of that day (the
    next midnight), else its start. Returns an aware datetime in UTC."""

    default_error_messages = {
        "instant": _("Give a date (YYYY-MM-DD) or a date and time with its offset, e.g. "
                     "2026-01-31T08:00:00+01:00."),
    }

    def __init__(self, *, end: bool = False, **kwargs: Any) -> None:
        self.end = end
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dt.datetime:  # type: ignore[override]
        text = super().to_internal_value(data).strip()
        if len(text) > INSTANT_MAX:
            self.fail("instant")
        try:
            day = parse_date(text)
            if day is not None:
                start = dt.datetime.combine(day + dt.timedelta(days=1) if self.end else day,
                                            dt.time(), tzinfo=SWEDEN)
                return start.astimezone(dt.UTC)
            moment = parse_datetime(text)
            if moment is not None and moment.tzinfo is not None:
                return moment.astimezone(dt.UTC)
        except (ValueError, OverflowError):  # 2026-02-30; beyond year 9999 in UTC
            pass
        self.fail("instant")


class Closed(serializers.Serializer):  # type: ignore[type-arg]
    """A nested JSON object with only the members it declares: an unknown member is refused,
    named in `errors` (`additionalProperties: false` in the schema, apps.api.schema)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(name) for name in set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [_("Unknown member.")]
                                                   for name in unknown})
        return super().to_internal_value(data)


class SubjectProperties(Closed):
    commission = Text(max_length=ID_MAX,
                      help_text="The HSA-id of the commission (medarbetaruppdrag) acted under.")


class Subject(Closed):
    """AuthZEN 1.0 section 5.1: the staff member the calling system acts for."""

    type = Choice(choices=[SUBJECT_TYPE], help_text="Always `user`: a staff member.")
    id = Text(max_length=ID_MAX, help_text="The staff member's employee HSA-id.")
    properties = SubjectProperties(help_text="`commission`: the commission HSA-id.")


class ResourceProperties(Closed):
    care_provider = Text(max_length=ID_MAX,
                         help_text="HSA-id of the care provider that owns the information.")
    care_unit = Text(max_length=ID_MAX, required=False,
                     help_text="HSA-id of the care unit that owns it (optional: any unit of "
                               "the care provider).")
    information_type = Choice(
        choices=InformationClass.values,
        help_text="`lak` medication, `und` results, `upp` alert information, `vbe` care "
                  "requests, `dia` diagnoses, `alla` all information.")
    information_from = Instant(required=False,
                               help_text="The information was recorded at or after this date "
                                         "(YYYY-MM-DD, a day in Sweden) or date-time (with "
                                         "offset). Optional.")
    information_until = Instant(end=True, required=False,
                                help_text="... and at or before this date (its whole day) or "
                                          "date-time. Optional.")


class Resource(Closed):
    """AuthZEN 1.0 section 5.2: the patient's record, owned by a care provider (and unit)."""

    type = Choice(choices=[RESOURCE_TYPE], help_text="Always `patient_record`.")
    id = Text(max_length=ID_MAX,
              help_text="The patient's personnummer or samordningsnummer (12 or 10 digits, "
                        "with or without separator) or the portal's reserve id.")
    properties = ResourceProperties()


class ActionProperties(Closed):
    """No properties are defined; an empty object is accepted."""


class Action(Closed):
    """AuthZEN 1.0 section 5.3."""

    name = Choice(choices=list(ACTIONS),
                  help_text="`read`, `write`, `sign`, `print` or `certify` (Läsa, Skriva, "
                            "Signera, Utskrift, Vidimera).")
    properties = ActionProperties(required=False)


class Emergency(Closed):
    reason = Text(max_length=REASON_MAX, required=False, default="", allow_blank=True,
                  help_text="Why emergency access is needed (PDL 2008:355 6 kap. 4 §); "
                            "required for an emergency opening.")


class Context(Closed):
    """AuthZEN 1.0 section 5.4: the circumstances the caller states."""

    purpose = Choice(choices=Purpose.values, required=False, default=Purpose.CARE.value,
                     help_text="The purpose (ändamål), HSA's Swedish code; default `Vård och "
                               "behandling`, the only one that can be allowed.")
    care_relationship = StrictBoolean(
        required=False, default=False,
        help_text="The staff member has a current care relationship with the patient (the "
                  "record system knows it). Default false, which denies.")
    emergency = Emergency(required=False,
                          help_text="Present: emergency access is asked, with its `reason`.")


class EvaluationRequest(ClosedRequest):
    """AuthZEN 1.0 section 6.1: `{subject, resource, action, context?}`."""

    subject = Subject()
    resource = Resource()
    action = Action()
    context = Context(required=False)  # type: ignore[assignment]  # a member, not Field's attribute


class EvaluationItem(Closed):
    """One entry of `evaluations`: any member given replaces the request's top-level default
    wholesale (AuthZEN 1.0 section 7.1.1)."""

    subject = Subject(required=False)
    resource = Resource(required=False)
    action = Action(required=False)
    context = Context(required=False)  # type: ignore[assignment]  # a member, not Field's attribute


class Options(Closed):
    evaluations_semantic = Choice(choices=list(SEMANTICS), required=False,
                                  default=SEMANTICS[0],
                                  help_text="`execute_all` (default), `deny_on_first_deny` or "
                                            "`permit_on_first_permit`.")


class EvaluationsRequest(ClosedRequest):
    """AuthZEN 1.0 section 7.1: defaults at the top level, `evaluations` (1 to 50; absent or
    empty: one evaluation of the defaults) and `options`."""

    subject = Subject(required=False)
    resource = Resource(required=False)
    action = Action(required=False)
    context = Context(required=False)  # type: ignore[assignment]  # a member, not Field's attribute
    evaluations = serializers.ListField(
        child=EvaluationItem(), required=False, max_length=MAX_EVALUATIONS,
        error_messages={"max_length": _("At most {max_length} evaluations in one request.")})
    options = Options(required=False)


REQUIRED = ("subject", "resource", "action")
#: DRF's own message for a missing member (and its translation), as for the other members.
REQUIRED_MESSAGE = serializers.Field.default_error_messages["required"]


def evaluations_of(values: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The evaluations of a validated `EvaluationsRequest`, each with the top-level defaults
    filled in, and whether the request was a batch (False: `evaluations` absent or empty, answered
    as one evaluation). Raises ValidationError naming each evaluation's missing member
    (`{"evaluations": {"3": {"action": [...]}}}`, or `{"action": [...]}` for a single one)."""
    defaults = {name: values[name] for name in (*REQUIRED, "context") if name in values}
    items = values.get("evaluations") or []
    if not items:
        missing = {name: [REQUIRED_MESSAGE] for name in REQUIRED
                   if name not in defaults}
        if missing:
            raise serializers.ValidationError(missing)
        return [defaults], False
    merged = [{**defaults, **item} for item in items]
    errors = {str(index): {name: [REQUIRED_MESSAGE] for name in REQUIRED
                           if name not in evaluation}
              for index, evaluation in enumerate(merged)}
    errors = {index: missing for index, missing in errors.items() if missing}
    if errors:
        raise serializers.ValidationError({"evaluations": errors})
    return merged, True


def to_access_request(evaluation: dict[str, Any], *, when: dt.datetime) -> AccessRequest:
    """The rules service's question for one validated evaluation at `when` (UTC; the server's
    clock, docs/authzen.md)."""
    resource = evaluation["resource"]
    properties = resource["properties"]
    context = evaluation.get("context") or {}
    emergency = context.get("emergency")
    return access_request(
        patient=resource["id"], care_provider=properties["care_provider"],
        care_unit=properties.get("care_unit"), information_type=properties["information_type"],
        activity=ACTIONS[evaluation["action"]["name"]],
        purpose=context.get("purpose", Purpose.CARE.value), when=when,
        care_relationship=context.get("care_relationship", False),
        emergency=emergency is not None,
        emergency_reason=(emergency or {}).get("reason", ""),
        information_from=properties.get("information_from"),
        information_until=properties.get("information_until"))


def answer(decision: Decision) -> dict[str, Any]:
    """AuthZEN 1.0 section 6.2: `{"decision": bool, "context": {...}}`: the decision's `id` (its
    audit event), the deciding `rule` and its legal `source`, `reason_admin` in English,
    `reason_user` in the request's language (`sv` or `en`) and the `obligations` of an allow."""
    verdict = decision.verdict
    rule = verdict.rule
    language = "sv" if (translation.get_language() or "").startswith("sv") else "en"
    with translation.override("en"):
        admin = str(rule.message)
    return {
        "decision": decision.allowed,
        "context": {
            "id": decision.id,
            "rule": rule.code,
            "source": rule.source,
            "reason_admin": {"en": admin},
            "reason_user": {language: str(rule.message)},
            "obligations": [{"id": o.id, "value": o.value} for o in verdict.obligations],
        },
    }


class Reason(serializers.Serializer):  # type: ignore[type-arg]
    """A message by language tag."""

    en = Text(required=False)
    sv = Text(required=False)


class Obligation(serializers.Serializer):  # type: ignore[type-arg]
    id = Text(help_text="`log_activity` (log the access with the activity in `value`) or "
                        "`emergency_follow_up` (the care provider follows it up).")
    value = Text(allow_blank=True)


class DecisionContext(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.UUIDField(help_text="The decision's id (its audit event).")
    rule = Text(help_text="The deciding rule's stable code, e.g. `allow.care_provider`, "
                          "`block.inner`.")
    source = Text(help_text="The law or contract the rule applies.")  # type: ignore[assignment]
    reason_admin = Reason(help_text="The reason, in English (`en`).")
    reason_user = Reason(help_text="The reason in the request's language (`sv` or `en`).")
    obligations = Obligation(many=True, help_text="What the caller must do with an allow.")


class DecisionAnswer(serializers.Serializer):  # type: ignore[type-arg]
    """AuthZEN 1.0 section 6.2."""

    decision = serializers.BooleanField(help_text="true: allowed; false: denied.")
    context = DecisionContext()  # type: ignore[assignment]  # a member, not Field's attribute


class EvaluationsAnswer(serializers.Serializer):  # type: ignore[type-arg]
    """AuthZEN 1.0 section 7.2: `evaluations` in the order asked (with a short-circuiting
    semantic, up to the deciding one); a request without `evaluations` is answered as one
    evaluation (`decision`, `context`)."""

    evaluations = DecisionAnswer(many=True, required=False)
    decision = serializers.BooleanField(required=False)
    context = DecisionContext(required=False)  # type: ignore[assignment]


class PdpMetadata(serializers.Serializer):  # type: ignore[type-arg]
    """AuthZEN 1.0 section 9 (Policy Decision Point metadata)."""

    policy_decision_point = serializers.URLField(help_text="The PDP's identifier: its URL.")
    access_evaluation_endpoint = serializers.URLField()
    access_evaluations_endpoint = serializers.URLField()
