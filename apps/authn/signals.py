"""Signals of the authn app, for the apps above it (no layer imports upward).

`session_ended` is sent inside the transaction that ended one login session (`services.session_end`:
logout, "end session" on the sessions page): `actor` who ended it, `user_session` the ended
`UserSession` row, `reason` its end reason. Receivers (apps.federation) end what the session
carried in the same transaction. Sessions ended by a new session epoch are announced by
`apps.identities.signals.sessions_ended` instead.
"""

from django.dispatch import Signal

session_ended = Signal()
