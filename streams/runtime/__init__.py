"""Faust plumbing both roles use: the app, agents' loop, delivery, dead letters, web, logs.

Nothing here holds a key or knows a role's work; :mod:`streams.partner` and
:mod:`streams.scorer` build on it.
"""

__all__ = [
    "agents",
    "app",
    "codec",
    "connection",
    "dead_letters",
    "delivery",
    "faust_fixes",
    "logs",
    "web",
]
