"""The limits of activation codes and mobile e-IDs, and the reads the services share.

Rule sources: the SITHS practice for mobile e-ID activation (a code bound to the person, single
use, valid at most 15 minutes, at most 3 active mobile e-IDs per person) and the portal's own
limits recorded in docs/decisions.md (10 minutes, 5 failed tries, failures carried over for 24
hours; the person is told of every binding and revocation through an independent channel).

Failure carry-over: a new code starts with `carried_failures` = the sum of the failed tries made
against the person's codes in the last `FAILURE_WINDOW_SECONDS` (24 hours), capped at 5. While
that sum is 5, no new code can be issued (neither by self-service nor by an issuer) until the
oldest failures leave the window.

Lock order (docs/architecture.md, "Lock order"): person, then activation codes, then e-IDs. Every
service that locks more than one of them takes them in this order, so two of them never deadlock.
"""

from __future__ import annotations

import datetime as dt
import re

from django.db.models import Sum
from django.utils import timezone
from django.utils.formats import date_format

from apps.identities.identifiers import OID_PERSONNUMMER, OID_SAMORDNINGSNUMMER
from apps.identities.models import Person, User
from apps.issuance import policies
from apps.issuance.models import ActivationCode

#: An activation code works for 10 minutes (SITHS allows at most 15).
CODE_VALIDITY_SECONDS = 10 * 60
#: After this many failed tries a code is dead.
MAX_FAILED_ATTEMPTS = 5
#: Failed tries on a person's codes within this window carry over to their next code.
FAILURE_WINDOW_SECONDS = 24 * 3600
#: At most this many active mobile e-IDs per person (SITHS practice).
MAX_ACTIVE_EIDS = 3
#: Longest revocation reason, in characters.
MAX_REASON_LENGTH = 500
#: Longest device name, in characters.
MAX_DEVICE_NAME = 64


def local_text(when: dt.datetime) -> str:
    """`when` as local date and time text for messages."""
    return date_format(timezone.localtime(when), "DATETIME_FORMAT")


def person_identifier(person: Person) -> str:
    """The 12-digit personnummer or samordningsnummer (no separator), or ""."""
    for number in person.identity_numbers.all():
        if number.root in (OID_PERSONNUMMER, OID_SAMORDNINGSNUMMER):
            return number.extension
    return ""


def recent_failures(person: Person, now: dt.datetime) -> int:
    """Failed tries on the person's codes whose last failure lies within the failure window."""
    since = now - dt.timedelta(seconds=FAILURE_WINDOW_SECONDS)
    total = ActivationCode.objects.filter(person=person, last_failed_at__gte=since).aggregate(
        total=Sum("failed_attempts")
    )["total"]
    return int(total or 0)


def failures_lift_at(person: Person, now: dt.datetime) -> dt.datetime:
    """When the person's recent failures drop below the limit (for the refusal message)."""
    since = now - dt.timedelta(seconds=FAILURE_WINDOW_SECONDS)
    running = 0
    for code in ActivationCode.objects.filter(
        person=person, last_failed_at__gte=since
    ).order_by("-last_failed_at"):
        running += code.failed_attempts
        if running >= MAX_FAILED_ATTEMPTS and code.last_failed_at is not None:
            return code.last_failed_at + dt.timedelta(seconds=FAILURE_WINDOW_SECONDS)
    return now


def is_entitled(person: Person) -> bool:
    """True when the person may hold a mobile e-ID now: a working staff member
    (`policies.is_staff_person`) whose staff login account, if they have one, is active (the e-ID
    is itself a credential: staff without a portal login get theirs from an issuer; a deactivated
    account means the person is leaving). Checked when a code is issued and again, under the
    person's lock, when it is redeemed."""
    accounts = User.objects.filter(person=person, kind=User.Kind.STAFF)
    return policies.is_staff_person(person) and (
        not accounts.exists() or accounts.filter(is_active=True).exists())

#: Out-of-band login with the mobile e-ID (NIST SP 800-63B 5.1.3.1: an out-of-band secret is
#: valid at most 10 minutes; the portal keeps it to 2): a request lives this many seconds.
OOB_VALIDITY_SECONDS = 120
#: Pending requests one address may hold at once (OWASP ASVS 2.2.1, anti-automation).
OOB_MAX_PENDING_PER_ADDRESS = 5
#: Approvals one person may give in `OOB_APPROVAL_WINDOW_SECONDS` (NIST SP 800-63B 5.2.2, rate
#: limiting; it also bounds "push fatigue": a person asked again and again stops being asked).
OOB_MAX_APPROVALS_PER_PERSON = 5
OOB_APPROVAL_WINDOW_SECONDS = 600
#: Requests are deleted this many seconds after they expired (apps.issuance.retention); more
#: than `OOB_APPROVAL_WINDOW_SECONDS`, which counts them.
OOB_KEEP_SECONDS = 24 * 3600
#: Wrong numbers typed in the app before the request is cancelled (NIST SP 800-63B 5.2.2).
OOB_MAX_WRONG_NUMBERS = 3
#: A request's reference: this many random octets, as 32 base64url characters (RFC 4648 section 5),
#: 192 bits, so a live reference cannot be guessed (OWASP ASVS 3.2.2 asks at least 64 bits).
OOB_REFERENCE_BYTES = 24
_OOB_REFERENCE = re.compile(r"[A-Za-z0-9_-]{32}")


def oob_reference_valid(text: object) -> bool:
    """True when `text` has the shape of a request reference (32 base64url characters, ASCII).
    Checked before every lookup, so other text (a NUL, which PostgreSQL refuses; a lookalike
    letter; a very long path) never reaches the database and gets the answer of an unknown
    reference."""
    return isinstance(text, str) and _OOB_REFERENCE.fullmatch(text) is not None


#: The first field of the challenge the app signs to approve (apps.issuance.challenge):
#: "EIDAUTH1|reference|origin|number|nonce"; also the prefix of the QR text.
OOB_CHALLENGE_PREFIX = "EIDAUTH1"
#: The first field of the challenge the app signs to deny: "EIDDENY1|reference|origin|nonce".
OOB_DENIAL_PREFIX = "EIDDENY1"
