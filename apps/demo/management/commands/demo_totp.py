"""`manage.py demo_totp USERNAME`: print a demo account's current TOTP code and otpauth URI, one
a line, on standard output (README.md, "make totp")."""

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
        device = TOTPDevice.objects.filter(user__username=fold_username(username),
                                           confirmed=True).first()
        if device is None:
            raise CommandError(f"No second factor for {username!r}. Is the demo data loaded?")
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
        # What README.md says `make totp` prints: the code, then the otpauth:// URI for a real
        # authenticator app, both on standard output.
        self.stdout.write(f"{code:0{device.digits}d}")
        self.stdout.write(device.config_url)
