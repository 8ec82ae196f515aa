"""`manage.py demo_totp USERNAME`: print a demo account's current TOTP code and otpauth URI, one
a line, on standard output (README.md, "make totp"). For an account setting up its first (or a
new) authenticator app, with no confirmed device yet, the device being set up: the same two lines,
and on standard error that it is not confirmed yet."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp

from apps.authn.models import TOTPDevice
from apps.identities.identifiers import fold_username


class Command(BaseCommand):
    help = "Print the current second-factor (TOTP) code of a demo account (development only)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username", nargs="?", default="")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("Only for development: set DJANGO_DEBUG=true.")
        if not username:
            raise CommandError("Name the account: make totp ACCOUNT=anna.admin")
        devices = TOTPDevice.objects.filter(user__username=fold_username(username))
        device = devices.filter(confirmed=True).first() or devices.order_by("-pk").first()
        if device is None:
            raise CommandError(
                f"No second factor for {username!r}, not even one being set up. Is the demo data "
                "loaded? A joiner's authenticator app exists once the set-up page has shown it.")
        if not device.confirmed:
            self.stderr.write(f"Not confirmed yet: this is the authenticator app {username!r} is "
                              "setting up; entering this code on the set-up page confirms it.")
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
        # What README.md says `make totp` prints: the code, then the otpauth:// URI for a real
        # authenticator app, both on standard output.
        self.stdout.write(f"{code:0{device.digits}d}")
        self.stdout.write(device.config_url)
