"""The system actor: demo-data seeding, management commands and Celery tasks act as it.

Services take `actor` first; a `SystemActor` passes policy checks (it runs only from code the
operator started), a `User` is checked against its roles. Views always pass `request.user`.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class SystemActor:
    """A non-human actor; `label` names it in audit rows."""

    label: str = "system"

    def __str__(self) -> str:
        return self.label


SYSTEM = SystemActor()
