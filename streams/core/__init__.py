"""Pure definitions both roles and every tool share: no I/O, no Faust, no Kafka client.

- :mod:`~streams.core.settings`: settings by role (Kafka connection, worker, partner, scorer);
- :mod:`~streams.core.topics`: topic names and declarations;
- :mod:`~streams.core.access`: who may do what on Kafka (every role's ACLs);
- :mod:`~streams.core.headers`: header names on the wire;
- :mod:`~streams.core.dead_letters`: a dead letter's headers (Kafka Connect's names);
- :mod:`~streams.core.events`: input events and their validation;
- :mod:`~streams.core.messages`: the typed records that flow between the agents;
- :mod:`~streams.core.key_chunks`: the keys topics' signed chunk format;
- :mod:`~streams.core.errors`: the runtime's error hierarchy;
- :mod:`~streams.core.times`: times as people read them.
"""

__all__ = [
    "access",
    "dead_letters",
    "errors",
    "events",
    "headers",
    "key_chunks",
    "messages",
    "settings",
    "times",
    "topics",
]
