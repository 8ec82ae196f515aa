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



class CommissionChoiceForm(forms.Form):
    """The commission to act under (its id; the page lists the valid ones as radio buttons)."""

    commission = forms.UUIDField(
        label=_("Choose the commission to act under"),
        error_messages={"required": _("Choose a commission."),
                        "invalid": _("Choose one of your valid commissions.")},
    )
