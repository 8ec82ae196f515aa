"""Password rules of NIST SP 800-63B revision 4, section 3.1.1.2 ("Password Verifiers").

One set of rules, Django's password validation framework (`settings.AUTH_PASSWORD_VALIDATORS`):
`SecondFactorLengthValidator` (length by the account's authenticators), Django's
`CommonPasswordValidator` (its bundled list of 20,000 common passwords, the blocklist of
3.1.1.2 item 6) and `MaximumLengthValidator` below (at least 64 characters are allowed, item 4).
No composition rules (item 5) and no expiry by time (item 7): nothing here asks for either.
Passwords are normalised to Unicode NFKC before they are hashed or compared (item 8 says a
verifier SHOULD apply NFKC or NFKD), by `normalise`, which every service that sets or checks a
password calls.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.core.errors import ValidationFailed

#: 3.1.1.2 item 2: at least 15 characters when the password is the only factor.
MIN_LENGTH_SINGLE_FACTOR = 15
#: 3.1.1.2 item 3: at least 8 characters when the password is one factor of several.
MIN_LENGTH_WITH_SECOND_FACTOR = 8
#: 3.1.1.2 item 4: verifiers SHOULD permit at least 64 characters. The cap only bounds the work
#: of hashing an absurd input.
MAX_LENGTH = 256


def normalise(password: str) -> str:
    """`password` in Unicode normalisation form NFKC (SP 800-63B rev. 4, 3.1.1.2 item 8): a
    password typed with a different keyboard or input method matches the same hash."""
    return unicodedata.normalize("NFKC", password)


def checked(password: str, user: Any, *, field: str) -> str:
    """`password` normalised (`normalise`), once every rule of `AUTH_PASSWORD_VALIDATORS` accepts
    it for `user` (an `identities.User`). Raises ValidationFailed (`password.invalid` on `field`,
    every rule's message at once)."""
    password = normalise(password)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), code="password.invalid",
                               field=field) from exc
    return password


def has_second_factor(user: Any) -> bool:
    """True when `user` (an `identities.User`) has a confirmed TOTP device or a passkey: the
    staff login asks for one of them after the password (`apps.authn.views.otp_view`); or must
    enrol an authenticator app at the next login before anything else
    (`LoginObligation.Kind.ENROL_TOTP`), so the password is never the only factor either."""
    from apps.authn.models import LoginObligation, Passkey, TOTPDevice

    if user is None or getattr(user, "pk", None) is None:
        return False
    return (TOTPDevice.objects.filter(user=user, confirmed=True).exists()
            or Passkey.objects.filter(user=user).exists()
            or LoginObligation.objects.filter(user=user,
                                              kind=LoginObligation.Kind.ENROL_TOTP).exists())


class SecondFactorLengthValidator:
    """At least `MIN_LENGTH_WITH_SECOND_FACTOR` characters for an account with a second factor,
    `MIN_LENGTH_SINGLE_FACTOR` for one without (SP 800-63B rev. 4, 3.1.1.2 items 2 and 3).
    Without a user the longer rule applies. Counted after NFKC normalisation."""

    def validate(self, password: str, user: Any = None) -> None:
        minimum = (MIN_LENGTH_WITH_SECOND_FACTOR if has_second_factor(user)
                   else MIN_LENGTH_SINGLE_FACTOR)
        if len(normalise(password)) < minimum:
            raise ValidationError(
                ngettext("The password must be at least %(min_length)d character long.",
                         "The password must be at least %(min_length)d characters long.",
                         minimum),
                code="password_too_short", params={"min_length": minimum})

    def get_help_text(self) -> str:
        return _("At least %(with)d characters (%(without)d for an account without a second "
                 "factor). Any characters, spaces too; no rules about digits or symbols.") % {
            "with": MIN_LENGTH_WITH_SECOND_FACTOR, "without": MIN_LENGTH_SINGLE_FACTOR}


class MaximumLengthValidator:
    """At most `MAX_LENGTH` characters (more than the 64 SP 800-63B rev. 4, 3.1.1.2 item 4 asks
    verifiers to permit)."""

    def validate(self, password: str, user: Any = None) -> None:
        if len(normalise(password)) > MAX_LENGTH:
            raise ValidationError(
                _("The password can be at most %(max_length)d characters long."),
                code="password_too_long", params={"max_length": MAX_LENGTH})

    def get_help_text(self) -> str:
        return _("At most %(max_length)d characters.") % {"max_length": MAX_LENGTH}
