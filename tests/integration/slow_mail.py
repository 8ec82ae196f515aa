"""An e-mail backend that pauses mid-delivery, so a test can kill the worker while the outbox
handler is running.

The file backend, except that it touches `SLOW_MAIL_MARKER` and then sleeps `SLOW_MAIL_SECONDS`
(default 120) before writing the message (`SLOW_MAIL=before`, the default) or after it
(`SLOW_MAIL=after`: the message is out, the transaction not yet committed).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from django.core.mail import EmailMessage
from django.core.mail.backends import filebased


class EmailBackend(filebased.EmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        after = os.environ.get("SLOW_MAIL") == "after"
        sent = super().send_messages(email_messages) if after else 0
        Path(os.environ["SLOW_MAIL_MARKER"]).touch()
        time.sleep(float(os.environ.get("SLOW_MAIL_SECONDS", "120")))
        return sent if after else super().send_messages(email_messages)
