"""`manage.py demo_mail`: print the e-mails the development file backend wrote, decoded."""

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

SEPARATOR = b"\n" + b"-" * 79 + b"\n"  # written by django.core.mail.backends.filebased after each message


class Command(BaseCommand):
    help = "Print the development e-mails (EMAIL_FILE_PATH), oldest first, with readable headers."

    def handle(self, *args: Any, **options: Any) -> None:
        files = sorted(Path(settings.EMAIL_FILE_PATH).glob("*.log"))
        if not files:
            self.stdout.write("No e-mail yet.")
        for path in files:
            for raw in path.read_bytes().split(SEPARATOR):
                if not raw.strip():
                    continue
                message = message_from_bytes(raw, policy=policy.default)
                assert isinstance(message, EmailMessage)
                body = message.get_body(preferencelist=("plain",))
                self.stdout.write(f"Date: {message['Date']}\nTo: {message['To']}\n"
                                  f"Subject: {message['Subject']}\n\n"
                                  f"{body.get_content() if body else ''}\n{'=' * 72}")
