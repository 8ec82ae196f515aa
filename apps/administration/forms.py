"""Forms of the administration pages. They only collect and shape input; the rules (scope, validity,
duplicates, vocabularies) are checked by the commissions services, whose errors the views put next to
the field they name."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from apps.audit import registry
from apps.authn.models import UserSession
from apps.commissions.models import Commission, Employee, Enrolment, Role
from apps.commissions.selectors import NUMBER_LIKE, AuditFilter
from apps.commissions.services import NO_NUMBER, NUMBER_AND_RESERVE
from apps.commissions.vocabularies import Activity, InformationClass, Purpose, Scope
from apps.core.forms import DateField, DayRangeForm, end_of_last_day, start_of_day
from apps.federation.oidc.vocabulary import CLAIMS, ClientType, GrantType, SigningAlgorithm
from apps.identities.identifiers import (
    IdentifierError,
    nfkc,
    normalise_text,
    parse_person_number,
)
from apps.organisations.models import Organisation
from apps.organisations.selectors import group_by_tree
from apps.provisioning.models import DownstreamSystem
from apps.rules.services import COMMENT_MAX


def _label_with_code(label: Any, value: str) -> str:
    text = str(label)
    return text if text == value else f"{text} ({value})"  # Swedish labels are often the code itself


def _coded(choices: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Choices labelled `label (code)`, so administrators see the HSA vocabulary code too; just
    `code` when the label, in the active language, is the code (Swedish "Läsa", not "Läsa (Läsa)")."""
    return [(value, lazy(_label_with_code, str)(label, value)) for value, label in choices]


class TreeIterator(forms.models.ModelChoiceIterator):
    """The organisations as a tree (`group_by_tree`): one group per top of the tree (the
    administrator's scope root, or the care provider), options in tree order with each label
    indented by its depth below the top ("— " per level), so that units with like names in
    different places stay apart and the hierarchy shows without colour or layout."""

    def __iter__(self) -> Iterator[Any]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for label, members in group_by_tree(self.queryset, within=getattr(self.field, "roots", None)):
            yield (label, [(value, f"{TREE_INDENT * depth}{text}")
                           for (value, text), depth in ((self.choice(organisation), depth)
                                                        for organisation, depth in members)])


#: The prefix of an option one level further down the tree (`TreeIterator`).
TREE_INDENT = "— "


def _not_a_choice(field: forms.ChoiceField, value: object,
                  exc: forms.ValidationError) -> forms.ValidationError:
    """A value that is no id at all (not a UUID) is refused like any other value not offered:
    Django's own message ("is not a valid UUID") names the storage, not the person's mistake
    (docs/decisions.md, "Pages and errors")."""
    if getattr(exc, "code", None) in ("invalid_choice", "invalid_list", "required"):
        return exc
    return forms.ValidationError(field.error_messages["invalid_choice"], code="invalid_choice",
                                 params={"value": value})


class StoredTextMixin:
    """A text field whose cleaned value is the stored form (`identifiers.normalise_text`: NFKC,
    stripped), with its `max_length` checked after normalising, the way the services check it
    (NFKC can make a text longer: ``ﬀ`` becomes ``ff``)."""

    max_length: int | None

    def to_python(self, value: Any) -> str:
        text: str = super().to_python(value)  # type: ignore[misc]
        if text in self.empty_values or self.max_length is None:  # type: ignore[attr-defined]
            return text
        try:
            return normalise_text(text, self.max_length)
        except IdentifierError as exc:
            raise forms.ValidationError(str(exc.message), code=exc.code) from exc


class StoredTextField(StoredTextMixin, forms.CharField):
    """A name or title as stored (`StoredTextMixin`)."""


class StoredEmailField(StoredTextMixin, forms.EmailField):
    """An e-mail address as stored (`StoredTextMixin`), then checked as Django's EmailField."""


class IdChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    """A model choice whose malformed id is "not one of the choices" (`_not_a_choice`)."""

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except forms.ValidationError as exc:
            raise _not_a_choice(self, value, exc) from exc


class IdMultipleChoiceField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    """Several model choices keyed by UUID; a malformed id is "not one of the choices", as in
    `_not_a_choice`."""

    def _check_values(self, value: Any) -> Any:
        for one in value if isinstance(value, (list, tuple)) else ():
            try:
                uuid.UUID(str(one))
            except ValueError as exc:
                raise forms.ValidationError(self.error_messages["invalid_choice"],
                                            code="invalid_choice", params={"value": one}) from exc
        return super()._check_values(value)  # type: ignore[misc]


class LongSelect(forms.Select):
    """A select written out in Python, with the markup of Django's `select.html`: Django renders
    each option through two templates, about 40 µs an option, so a region's 745 organisations
    took most of the audit search page's time (docs/journey-audit-search.md, "How it stays
    fast"). Values, labels and attributes are escaped as the templates escape them."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None,
               renderer: Any = None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        parts: list[str] = [format_html('<select name="{}"{}>', widget["name"],
                                        flatatt(widget["attrs"]))]
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                parts.append(format_html('\n  <optgroup label="{}">', group_name))
            parts.extend(format_html('\n  <option value="{}"{}>{}</option>', option["value"],
                                     flatatt(option["attrs"]), option["label"])
                         for option in options)
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return mark_safe("".join(parts))  # every part above is escaped by format_html


class OrganisationChoiceField(IdChoiceField):
    """Organisations shown as `name (HSA-id)`, as a tree (`TreeIterator`)."""

    iterator = TreeIterator
    widget = LongSelect
    #: The administrator's scope roots: group labels name nothing above them.
    roots: list[Organisation] | None = None

    def label_from_instance(self, obj: Organisation) -> str:  # type: ignore[override]
        return f"{obj.name} ({obj.hsa_id})"


class OrganisationMultipleChoiceField(IdMultipleChoiceField):
    """Several organisations, shown as `OrganisationChoiceField` shows one."""

    iterator = TreeIterator
    #: The roots of the tree offered: group labels name nothing above them.
    roots: list[Organisation] | None = None

    def label_from_instance(self, obj: Organisation) -> str:  # type: ignore[override]
        return f"{obj.name} ({obj.hsa_id})"


def offer_units(form: forms.Form, name: str, organisations: QuerySet[Organisation],
                roots: list[Organisation]) -> None:
    """Offer `organisations` (those of the administrator's scope) in the `OrganisationChoiceField`
    `name` of `form`, as a tree under the scope's `roots`: what the form accepts is what it
    shows."""
    field = form.fields[name]
    assert isinstance(field, (OrganisationChoiceField, OrganisationMultipleChoiceField))
    field.queryset = organisations
    field.roots = roots


class EmployeeChoiceField(IdChoiceField):
    """Employee HSA-ids, with the title when there is one."""

    def label_from_instance(self, obj: Employee) -> str:  # type: ignore[override]
        return f"{obj.hsa_id} – {obj.title}" if obj.title else obj.hsa_id


class SearchForm(forms.Form):
    """The person list's search box."""

    q = forms.CharField(
        label=_("Name, username, HSA-id, or personal identity or coordination number"), required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search"}),
    )


class ValidityMixin(DayRangeForm):
    """Validity of a commission or role: [00:00 on the first day, 00:00 after the last day) in UTC."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["valid_from"].help_text = _("Starts at 00:00 on this day (Swedish time).")
        self.fields["valid_until"].help_text = _("Valid through this day (Swedish time). Leave "
                                                 "empty for no end date.")


class CommissionGrantForm(ValidityMixin):
    """A new commission: employee HSA-id, care unit in scope, purpose, rights, validity.

    The rights are the cartesian product of the chosen activities, information classes and scopes;
    a value outside the HSA vocabularies is refused by the field.
    """

    field_order = ["employee", "care_unit", "purpose", "activities", "information_classes", "scopes",
                   "valid_from", "valid_until"]

    employee = EmployeeChoiceField(label=_("Employee HSA-id"), queryset=Employee.objects.none(),
                                   empty_label=None)
    care_unit = OrganisationChoiceField(label=_("Care unit"), queryset=Organisation.objects.none(),
                                        empty_label=_("Choose a care unit"))
    purpose = forms.ChoiceField(label=_("Purpose"), choices=_coded(Purpose.choices),
                                initial=Purpose.CARE)
    activities = forms.MultipleChoiceField(
        label=_("Activities"), choices=_coded(Activity.choices), widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one activity.")},
    )
    information_classes = forms.MultipleChoiceField(
        label=_("Information classes"), choices=_coded(InformationClass.choices),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one information class.")},
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"), choices=_coded(Scope.choices), widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one scope.")},
    )

    def __init__(self, *args: Any, employees: QuerySet[Employee],
                 care_units: QuerySet[Organisation], roots: list[Organisation],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        employee_field = self.fields["employee"]
        assert isinstance(employee_field, forms.ModelChoiceField)
        employee_field.queryset = employees
        offer_units(self, "care_unit", care_units, roots)
        self.fields["valid_from"].initial = timezone.localdate
        if len(employees) > 1:
            employee_field.empty_label = _("Choose an employee HSA-id")
        else:
            employee_field.initial = employees[0] if employees else None

    def rights(self) -> list[str]:
        """`activity;information class;scope` for every combination of the chosen parts."""
        return [
            f"{a};{i};{s}"
            for a, i, s in itertools.product(self.cleaned_data["activities"],
                                             self.cleaned_data["information_classes"],
                                             self.cleaned_data["scopes"])
        ]


class RoleGrantForm(ValidityMixin):
    """A new system role over an organisation (and its subtree) in the administrator's scope."""

    field_order = ["role", "organisation", "valid_from", "valid_until"]

    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    organisation = OrganisationChoiceField(
        label=_("Organisation"), queryset=Organisation.objects.none(),
        empty_label=_("Choose an organisation"),
        help_text=_("The role covers this organisation and everything under it."),
    )

    def __init__(self, *args: Any, organisations: QuerySet[Organisation],
                 roots: list[Organisation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offer_units(self, "organisation", organisations, roots)
        self.fields["valid_from"].initial = timezone.localdate


class EmployeeMoveForm(forms.Form):
    """Moving an employee HSA-id's home: the new unit in scope, which active commissions end with
    the move (the others are kept), and a reason for the log."""

    organisation = OrganisationChoiceField(
        label=_("New home unit"), queryset=Organisation.objects.none(),
        empty_label=_("Choose an organisation"),
    )
    end = IdMultipleChoiceField(
        label=_("Commissions that end with the move"), queryset=Commission.objects.none(),
        required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("Tick those at units the person leaves. Commissions not ticked are kept."),
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=1000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Saved in the audit history."),
    )

    def __init__(self, *args: Any, organisations: QuerySet[Organisation],
                 roots: list[Organisation], commissions: QuerySet[Commission],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offer_units(self, "organisation", organisations, roots)
        end = self.fields["end"]
        assert isinstance(end, IdMultipleChoiceField)
        end.queryset = commissions


class EndForm(forms.Form):
    """Ending a commission or a role early: the reason is required and kept in the audit log."""

    reason = forms.CharField(
        label=_("Reason"), max_length=1000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why it ends now. Saved in the audit history."),
    )


class LeavePlanForm(forms.Form):
    """Planning a leaver: the last working day (Swedish calendar day) and a reason for the log."""

    last_day = DateField(label=_("Last working day"),
                         help_text=_("Everything listed above ends when this day is over."))
    reason = forms.CharField(
        label=_("Reason"), max_length=1000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Saved in the audit history."),
    )


class PlanCancelForm(forms.Form):
    """Cancelling a planned leaver: the reason is required and kept in the audit log."""

    reason = forms.CharField(
        label=_("Reason"), max_length=1000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Why the person no longer leaves on that day. Saved in the audit history."),
    )


class AccountForm(forms.Form):
    """Deactivating or reactivating a login account: the reason is required and kept in the log."""

    reason = forms.CharField(
        label=_("Reason"), max_length=1000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Saved in the audit history."),
    )


class SessionEndForm(forms.Form):
    """Ending a person's login sessions as an administrator: the reason is required; the person
    sees it on their sessions page and it is kept in the audit history."""

    note = forms.CharField(
        label=_("Reason"), max_length=UserSession.END_NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The person sees this on their sessions page. Saved in the audit history."),
    )


def _uri_lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


class ClientContactForm(forms.Form):
    """What an organisation's administrators may change on an e-service client: its contact,
    redirect URIs and post-logout redirect URIs (one per line). The rules are the client model's
    (federation services)."""

    contact_name = forms.CharField(label=_("Contact person"), max_length=200)
    contact_email = forms.EmailField(label=_("Contact e-mail"))
    redirect_uris = forms.CharField(
        label=_("Redirect URIs"), required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line, exactly as the e-service sends it: https, or http on "
                    "127.0.0.1 for an app on the user's device. No wildcards or fragments."))

    post_logout_redirect_uris = forms.CharField(
        label=_("Post-logout redirect URIs"), required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Where users may come back after logging out through the e-service (OpenID "
                    "Connect RP-initiated logout). One per line, by the same rules as redirect "
                    "URIs."))

    def uris(self) -> list[str]:
        return _uri_lines(self.cleaned_data["redirect_uris"])

    def post_logout_uris(self) -> list[str]:
        return _uri_lines(self.cleaned_data["post_logout_redirect_uris"])


class ClientRegisterForm(ClientContactForm):
    """Registering an e-service client for an organisation in the administrator's scope."""

    organisation = OrganisationChoiceField(label=_("Organisation"), queryset=Organisation.objects.none())
    name = forms.CharField(label=_("Name of the e-service"), max_length=200)
    grant_type = forms.ChoiceField(label=_("How it gets tokens"), choices=GrantType.choices,
                                   widget=forms.RadioSelect)
    client_type = forms.ChoiceField(label=_("Client type"), choices=ClientType.choices,
                                    widget=forms.RadioSelect, initial=ClientType.CONFIDENTIAL)
    allowed_scopes = forms.MultipleChoiceField(
        label=_("Scopes it may ask for"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(scope, scope) for scope in settings.OAUTH2_PROVIDER["SCOPES"]])
    allowed_claims = forms.MultipleChoiceField(
        label=_("Claims it may receive"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(claim, claim) for claim in CLAIMS])
    algorithm = forms.ChoiceField(label=_("ID token signature"), choices=SigningAlgorithm.choices,
                                  initial=SigningAlgorithm.ES256)
    first_party = forms.BooleanField(
        label=_("The region's own e-service (users see no consent screen)"), required=False)

    field_order = ["organisation", "name", "contact_name", "contact_email", "grant_type",
                   "client_type", "redirect_uris", "post_logout_redirect_uris", "allowed_scopes",
                   "allowed_claims", "algorithm", "first_party"]

    def __init__(self, *args: Any, organisations: QuerySet[Organisation],
                 roots: list[Organisation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offer_units(self, "organisation", organisations, roots)


def _action_choices() -> list[tuple[str, str]]:
    """"Every action", then the registered actions an administrator's search can find (not those
    registered as patient data), by their label in the active language."""
    actions = sorted((str(a.label), a.code) for a in registry.actions() if not a.patient_data)
    return [("", str(_("Every action"))), *((code, label) for label, code in actions)]


class AuditSearchForm(forms.Form):
    """The audit search's filters (a GET form; the export posts the same fields). Every field is
    optional; `filters()` gives them as an `AuditFilter` with the days turned into UTC instants
    (Swedish calendar days, the last one included)."""

    person = forms.CharField(
        label=_("Person the event is about"), required=False, max_length=100,
        help_text=_("Personal identity number or coordination number (any form), or name."))
    actor = forms.CharField(
        label=_("Done by"), required=False, max_length=150,
        help_text=_("Name, username or personal identity number of who did it."))
    action = forms.ChoiceField(label=_("Action"), required=False, choices=_action_choices)
    unit = OrganisationChoiceField(
        label=_("Unit"), required=False, queryset=Organisation.objects.none(),
        empty_label=_("All of your part of the organisation"),
        help_text=_("Includes the units under it."))
    since = DateField(label=_("From date"), required=False)
    until = DateField(label=_("To date (included)"), required=False)

    def __init__(self, *args: Any, organisations: QuerySet[Organisation],
                 roots: list[Organisation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offer_units(self, "unit", organisations, roots)

    def _identity_number_or_text(self, name: str) -> str:
        """The text as typed; when it looks like a number it must be a valid personnummer or
        samordningsnummer (the same parser as everywhere else, so every accepted form works)."""
        text: str = self.cleaned_data[name]
        if NUMBER_LIKE.fullmatch(nfkc(text).strip()):
            try:
                parse_person_number(text)
            except IdentifierError as exc:
                raise forms.ValidationError(str(exc.message), code=exc.code) from exc
        return text

    def clean_person(self) -> str:
        return self._identity_number_or_text("person")

    def clean_actor(self) -> str:
        return self._identity_number_or_text("actor")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", _("The last day cannot be before the first day."))
        return data

    def filters(self) -> AuditFilter:
        """The cleaned fields as an AuditFilter; only for a valid form."""
        data = self.cleaned_data
        return AuditFilter(
            person=data["person"], actor=data["actor"], action=data["action"], unit=data["unit"],
            since=start_of_day(data["since"]) if data["since"] else None,
            until=end_of_last_day(data["until"]) if data["until"] else None,
        )


class JoinerForm(forms.Form):
    """Registering a joiner (commissions.services.joiner_register): who they are, where they work
    and how they get their login. The identity number is checked here too, so that its error shows
    with every other one at once; the service checks everything again."""

    identity_number = forms.CharField(
        label=_("Personal identity number or coordination number"), required=False,
        max_length=40, help_text=_("For example 19121212-1212. 10 or 12 digits, with or without a hyphen."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}))
    reserve = forms.BooleanField(
        label=_("The person has neither: give a reserve number"), required=False)
    given_name = StoredTextField(label=_("Given name"), max_length=100)
    family_name = StoredTextField(label=_("Family name"), max_length=100)
    email = StoredEmailField(
        label=_("Work e-mail"), max_length=254,
        help_text=_("With an e-mailed invitation, the invitation to choose a password goes here."),
        widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    organisation = OrganisationChoiceField(
        label=_("Unit"), queryset=Organisation.objects.none(),
        empty_label=_("Choose a unit"),
        help_text=_("The employee HSA-id is made under this unit's organisation."))
    title = StoredTextField(label=_("Title (optional)"), max_length=100, required=False)
    channel = forms.ChoiceField(
        label=_("How the person gets their login"), choices=Enrolment.Channel.choices,
        widget=forms.RadioSelect,
        help_text=_("An invitation is e-mailed to the work e-mail: the person chooses a password "
                    "and sets up an authenticator app. Or an e-ID issuer checks their identity "
                    "document and gives them an activation code for a mobile e-ID."))

    def __init__(self, *args: Any, organisations: QuerySet[Organisation],
                 roots: list[Organisation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offer_units(self, "organisation", organisations, roots)

    def clean_identity_number(self) -> str:
        value: str = self.cleaned_data["identity_number"]
        if value.strip():
            try:
                parse_person_number(value)
            except IdentifierError as exc:
                raise forms.ValidationError(str(exc.message), code=exc.code) from None
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        number, reserve = self.data.get("identity_number", "").strip(), data.get("reserve")
        if reserve and number:
            self.add_error("identity_number", str(NUMBER_AND_RESERVE))
        elif not reserve and not number:
            self.add_error("identity_number", str(NO_NUMBER))
        return data

    def values(self) -> dict[str, Any]:
        """The cleaned values as the joiner services take them."""
        data = self.cleaned_data
        return {"identity_number": "" if data["reserve"] else data["identity_number"],
                "reserve": data["reserve"], "given_name": data["given_name"],
                "family_name": data["family_name"], "organisation": data["organisation"],
                "channel": data["channel"]}


class EmergencyReviewForm(forms.Form):
    """Following up an emergency opening: what the follow-up found (required, at most
    `apps.rules.services.COMMENT_MAX` characters; the service checks both again)."""

    comment = forms.CharField(
        label=_("What the follow-up found"), max_length=COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("For example whether the emergency access was justified, and what was done. "
                    "Saved with the emergency access and in the audit log."),
    )


def _secret_input() -> forms.PasswordInput:
    """A credential's input: never filled in again, not offered to the browser's password
    manager."""
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})


def _address_input() -> forms.URLInput:
    return forms.URLInput(attrs={"autocomplete": "off", "spellcheck": "false"})


class DownstreamSystemForm(forms.Form):
    """Registering or changing a downstream system (`apps.provisioning.services`, whose rules it
    leaves to the service). The token and the client secret are never shown again: on a change a
    blank one keeps the stored one (`editing`); the owner is chosen only when registering."""

    organisation = OrganisationChoiceField(
        label=_("Owning organisation"), queryset=Organisation.objects.none(),
        help_text=_("Its local administrators, and those above it, manage the system."))
    name = forms.CharField(label=_("Name of the system"), max_length=200)
    base_url = forms.CharField(
        label=_("SCIM base URL"), max_length=500, widget=_address_input(),
        help_text=_("Where the system's SCIM 2.0 interface answers, for example "
                    "https://scim.example.se/scim/v2."))
    scope = OrganisationMultipleChoiceField(
        label=_("It receives the people of"), queryset=Organisation.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Staff with an employee HSA-id in these organisations or under them, with "
                    "their commissions and roles. Only the owning organisation and organisations "
                    "under it."))
    attributes = forms.MultipleChoiceField(
        label=_("Besides the user name, name and whether the account is active, it receives"),
        required=False, choices=DownstreamSystem.ATTRIBUTE_CHOICES,
        widget=forms.CheckboxSelectMultiple)
    auth_method = forms.ChoiceField(
        label=_("How the portal authenticates to the system"),
        choices=DownstreamSystem.AuthMethod.choices, widget=forms.RadioSelect)
    token = forms.CharField(label=_("Bearer token"), required=False, max_length=4096,
                            widget=_secret_input(),
                            help_text=_("For a bearer token: the token the system gave you."))
    token_url = forms.CharField(
        label=_("Token URL"), required=False, max_length=500, widget=_address_input(),
        help_text=_("For OAuth2 client credentials: the authorisation server's token endpoint."))
    client_id = forms.CharField(label=_("Client ID"), required=False, max_length=200)
    client_secret = forms.CharField(label=_("Client secret"), required=False, max_length=4096,
                                    widget=_secret_input())
    client_scope = forms.CharField(
        label=_("Scope (optional)"), required=False, max_length=1000,
        help_text=_("The OAuth2 scopes to ask for, separated by spaces."))

    def __init__(self, *args: Any, organisations: QuerySet[Organisation],
                 roots: list[Organisation], editing: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["organisation"]
            keep = _("Leave blank to keep the stored one.")
            self.fields["token"].help_text = keep
            self.fields["client_secret"].help_text = keep
        else:
            offer_units(self, "organisation", organisations, roots)
        offer_units(self, "scope", organisations, roots)

    def credentials(self) -> dict[str, str]:
        """The credential fields as `services.downstream_system_register` takes them."""
        data = self.cleaned_data
        return {"token": data["token"], "token_url": data["token_url"],
                "client_id": data["client_id"], "client_secret": data["client_secret"],
                "scope": data["client_scope"]}


class JobSkipForm(forms.Form):
    """Skipping a provisioning job: the reason is required and kept in the audit history."""

    reason = forms.CharField(label=_("Reason for skipping"), max_length=1000)
