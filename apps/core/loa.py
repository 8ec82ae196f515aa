"""Levels of assurance (tillitsnivå) of the Swedish framework, and the aliases federations use.

A level is carried as the framework's URI (`http://id.elegnamnden.se/loa/1.0/loa2|loa3|loa4`,
Digg's "Tillitsramverk för Svensk e-legitimation"); Sambi's `http://id.sambi.se/loa/loa2|loa3`
name the same levels and are mapped to them on the way in (`canonical`). Pages and services compare
levels as numbers (`level`): an unknown or missing URI is level 0, so it satisfies nothing.
"""

from __future__ import annotations

LOA2 = "http://id.elegnamnden.se/loa/1.0/loa2"
LOA3 = "http://id.elegnamnden.se/loa/1.0/loa3"
LOA4 = "http://id.elegnamnden.se/loa/1.0/loa4"

#: Every URI the portal understands, mapped to the framework's own.
ALIASES: dict[str, str] = {
    LOA2: LOA2,
    LOA3: LOA3,
    LOA4: LOA4,
    "http://id.sambi.se/loa/loa2": LOA2,
    "http://id.sambi.se/loa/loa3": LOA3,
}
_LEVELS = {LOA2: 2, LOA3: 3, LOA4: 4}


def canonical(uri: str | None) -> str | None:
    """The framework URI for `uri` (itself or an alias), or None when the portal does not know it."""
    return ALIASES.get((uri or "").strip())


def level(uri: str | None) -> int:
    """2, 3 or 4 for a known level (or alias), 0 for anything else."""
    found = canonical(uri)
    return _LEVELS[found] if found else 0


def satisfies(uri: str | None, required: str) -> bool:
    """True when `uri` is at least as strong as the level `required` (a framework URI)."""
    return level(uri) >= _LEVELS[required]
