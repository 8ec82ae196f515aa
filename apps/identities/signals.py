"""Signals of the identities app, for the apps above it (no layer imports upward).

`sessions_ended` is sent inside the transaction that ended login sessions by a new
`User.session_epoch` (Django then refuses those sessions at their next request): `person` is
whose, `user` the one account concerned or None for every account of the person. The caller has
locked the person first (docs/architecture.md, "Lock order"); receivers (apps.authn) mark their
session records ended in the same transaction.
"""

from django.dispatch import Signal

sessions_ended = Signal()
