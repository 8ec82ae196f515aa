"""How long out-of-band login requests are kept (docs/decisions.md, "Out-of-band login with the
mobile e-ID").

An `OutOfBandRequest` is protocol state, like the SAML login state `apps.federation.flow` prunes:
it is useless once it has expired (`expires_at`, 120 s after the start) and has no history of its
own. What happened to it is in the audit log (`mobile_eid_login.*`), whose rows name the request
by id and label, not by a foreign key, and the person by a snapshot, so deleting a request
changes neither the log nor the person's log extract (`apps.audit.selectors`). Requests are kept
`rules.OOB_KEEP_SECONDS` (a day) after they expired: longer than every limit that counts them
(`OOB_APPROVAL_WINDOW_SECONDS`, 10 minutes), and long enough to look at a recent one in the
database.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from apps.issuance import rules
from apps.issuance.models import OutOfBandRequest


def oob_requests_prune(now: dt.datetime | None = None) -> int:
    """Delete out-of-band login requests that expired `rules.OOB_KEEP_SECONDS` or more before
    `now` (UTC, default the current time), whatever their status. Returns how many went."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=rules.OOB_KEEP_SECONDS)
    gone, _ = OutOfBandRequest.objects.filter(expires_at__lte=cutoff).delete()
    return gone
