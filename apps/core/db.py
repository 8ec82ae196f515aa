"""Running a transaction that may lose a lock race: bounded retries, then a clear refusal.

PostgreSQL aborts one of two transactions that wait for each other's locks (deadlock_detected,
SQLSTATE 40P01) or that cannot be serialised (serialization_failure, 40001); running the losing
transaction again is the documented remedy (PostgreSQL manual, 13.2 and Appendix A). With the one
lock order of docs/architecture.md deadlocks should not happen; this keeps the answer clear if
one does.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, transaction
from django.utils.translation import gettext_lazy as _

from apps.core.errors import PortalError

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: How often a transaction runs at most before the request is refused.
ATTEMPTS = 3
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


class Busy(PortalError):
    """The transaction lost a lock race `ATTEMPTS` times (HTTP 503): try again."""

    status = 503
    default_code = "busy"


def is_lock_conflict(exc: BaseException) -> bool:
    """True for PostgreSQL's deadlock and serialisation failures (and SQLite's busy database)."""
    cause = exc.__cause__ or exc
    if getattr(cause, "pgcode", None) in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(exc)


def atomic_with_retry(fn: Callable[[], T], *, attempts: int = ATTEMPTS) -> T:
    """Run `fn` in `transaction.atomic()`; when it loses a lock race, wait a few random
    milliseconds and run it again, at most `attempts` times in all. Then raise `Busy`.

    Only the outermost transaction can be retried (after a deadlock PostgreSQL has aborted the
    whole transaction, not just a savepoint): inside another atomic block `fn` runs once, in a
    savepoint, and a lost race propagates to the outer transaction's owner.
    """
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return fn()
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic():
                return fn()
        except OperationalError as exc:
            if not is_lock_conflict(exc):
                raise
            logger.warning("transaction lost a lock race (attempt %d of %d): %s",
                           attempt, attempts, exc)
            time.sleep(random.uniform(0.005, 0.05) * attempt)
    raise Busy(_("The service is busy. Try again in a moment."))


def lock_names(*names: str) -> None:
    """Serialise, until the caller's transaction ends, every transaction that locks one of `names`
    (PostgreSQL transaction-level advisory locks, taken in the order given: callers pass them in
    one fixed order, so two never wait for each other in a circle). SQLite runs one writing
    transaction at a time anyway (`transaction_mode` IMMEDIATE). Raises RuntimeError outside a
    transaction.

    For counters kept in rows that may not exist yet (the login failure counters of an unknown
    username): a row lock cannot serialise the first writers of a row that is not there.
    """
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("lock_names() must run inside transaction.atomic()")
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name in names:
            key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big",
                                 signed=True)
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
