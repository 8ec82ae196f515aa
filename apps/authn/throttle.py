"""Login throttling: django-axes' database handler with one limit per counter.

django-axes keeps a failure counter per lockout parameter set (`AXES_LOCKOUT_PARAMETERS`) in the
database, so every web process sees the same counts, and compares the largest with a single
`AXES_FAILURE_LIMIT`. The portal allows fewer failures per username from one address than per
address (`settings.LOGIN_FAILURE_LIMITS`, docs/security.md), so this handler reports how many
counters have reached their own limit, and `AXES_FAILURE_LIMIT = 1` locks out when any has.
Source of the rule: OWASP ASVS 2.2.1 (anti-automation), NIST SP 800-63B 5.2.2 (rate limiting).
"""

from __future__ import annotations

from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest


class LoginThrottle(AxesDatabaseHandler):
    """`AXES_HANDLER`: counters in the database (django-axes' `AccessAttempt` rows), a limit each."""

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        """The number of counters for this request that reached their limit within the cool-off
        time (0 while every counter is below its limit). The counters come in the order of
        `AXES_LOCKOUT_PARAMETERS`, which is built from `LOGIN_FAILURE_LIMITS`."""
        counters = self.get_user_attempts(request, credentials)
        limits = [limit for _, limit in settings.LOGIN_FAILURE_LIMITS]
        reached = 0
        for attempts, limit in zip(counters, limits, strict=True):
            failures = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            reached += failures >= limit
        return reached
