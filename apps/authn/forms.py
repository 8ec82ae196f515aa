"""Login forms. Errors are translated and shown next to the field."""

from django import forms
from django.utils.translation import gettext_lazy as _


class PasswordForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150,
                               widget=forms.TextInput(attrs={"autocomplete": "username"}))
    password = forms.CharField(label=_("Password"),
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class OTPForm(forms.Form):
    token = forms.RegexField(
        label=_("Code from your authenticator app"), regex=r"^\s*\d{6}\s*$",
        error_messages={"invalid": _("Enter the 6 digits shown in your authenticator app.")},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class InvitationPasswordForm(forms.Form):
    """A joiner's first password, typed twice (the rules are the service's: `invitations`)."""

    password = forms.CharField(
        label=_("New password"), strip=False, max_length=1000,
        help_text=_("At least 8 characters. A few words you can remember make a good password."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password_again = forms.CharField(
        label=_("New password again"), strip=False, max_length=1000,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("password") and data.get("password_again") and (
                data["password"] != data["password_again"]):
            self.add_error("password_again", _("The two passwords are not the same."))
        return data


class CommissionChoiceForm(forms.Form):
    """The commission to act under (its id; the page lists the valid ones as radio buttons)."""

    commission = forms.UUIDField(
        label=_("Choose the commission to act under"),
        error_messages={"required": _("Choose a commission."),
                        "invalid": _("Choose one of your valid commissions.")},
    )
