"""Development commands: the demo e-mail reader and the demo TOTP printer."""

from __future__ import annotations

import re
from base64 import b32encode
from binascii import unhexlify
from io import StringIO

import pytest
from django.core.mail import send_mail
from django.core.management import CommandError, call_command

from tests.conftest import TOTP_KEY, totp_now


def test_demo_mail_prints_readable_headers_and_body(settings, tmp_path) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path
    send_mail("En mobil e-legitimation har aktiverats för dig", "Hej Sara, spärra den.",
              "portal@example.invalid", ["sara@example.invalid"])
    out = StringIO()
    call_command("demo_mail", stdout=out)
    assert "Subject: En mobil e-legitimation har aktiverats för dig" in out.getvalue()
    assert "Hej Sara, spärra den." in out.getvalue()


def test_demo_mail_shows_a_joiners_invitation_with_its_link(settings, tmp_path, tree,
                                                             hospital_admin, client) -> None:
    """A newcomer follows the link `make mail` prints to the page that chooses the password."""
    from apps.commissions import services
    from apps.outbox.delivery import deliver_pending

    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path
    services.joiner_register(
        actor=hospital_admin, identity_number="19750302-2381", reserve=False, given_name="Åsa",
        family_name="Öberg", email="asa.oberg@example.invalid", organisation=tree["cardio"],
        channel="email")
    deliver_pending()
    out = StringIO()
    call_command("demo_mail", stdout=out)
    printed = out.getvalue()
    assert "Subject: Your login to the IAM portal" in printed and "asa.oberg" in printed
    link = re.search(r"https?://\S+(/invitation/[A-Za-z0-9_-]+/)", printed)
    assert link is not None
    assert "Choose your password" in client.get(link.group(1)).content.decode()


def test_demo_totp_needs_debug(settings) -> None:
    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("demo_totp", "anna.admin")


def test_demo_totp_prints_the_current_code_and_the_otpauth_uri(settings, hospital_admin,
                                                               otp_clock) -> None:
    """`make totp` still works with the key stored encrypted."""
    settings.DEBUG = True
    out, err = StringIO(), StringIO()
    call_command("demo_totp", hospital_admin.username, stdout=out, stderr=err)
    code, uri = out.getvalue().splitlines()
    assert code == totp_now()
    secret = b32encode(unhexlify(TOTP_KEY)).decode()
    assert uri.startswith(f"otpauth://totp/{hospital_admin.username}?secret={secret}")
    assert err.getvalue() == ""  # README.md: `make totp` prints the code and the URI, nothing else



def test_demo_totp_prints_the_code_of_the_app_being_set_up(settings, hospital_admin,
                                                          otp_clock) -> None:
    """Found: `make totp ACCOUNT=<joiner>` before the first login's enrolment said "No second
    factor ... Is the demo data loaded?"; the set-up page's device has a code to type."""
    from apps.authn.models import TOTPDevice

    settings.DEBUG = True
    TOTPDevice.objects.filter(user=hospital_admin).update(confirmed=False)
    out, err = StringIO(), StringIO()
    call_command("demo_totp", hospital_admin.username, stdout=out, stderr=err)
    code, uri = out.getvalue().splitlines()
    assert code == totp_now() and uri.startswith("otpauth://totp/")
    assert "Not confirmed yet" in err.getvalue()
