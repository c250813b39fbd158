"""The one error hierarchy of the runtime.

Every error the project raises derives from :class:`FraudStreamError`. Each boundary has its own
subclass so that callers can tell a bad event (dead-letter it, move on) from a broken set-up (stop
and say what to do).
"""

from __future__ import annotations

from models.errors import FraudStreamError

__all__ = [
    "BrokerError",
    "ConfigError",
    "EventError",
    "FraudStreamError",
    "MalformedEventError",
    "OversizedEventError",
    "SchemaError",
]


class ConfigError(FraudStreamError):
    """The configuration is invalid or incomplete."""


class BrokerError(FraudStreamError):
    """The Kafka broker could not be fetched, started, reached or stopped."""


class EventError(FraudStreamError):
    """A record on a topic cannot be processed; it goes to the dead-letter topic."""


class OversizedEventError(EventError):
    """The record is larger than an event of its kind may be."""


class MalformedEventError(EventError):
    """The record is not valid JSON, or not a JSON object."""


class SchemaError(EventError):
    """The record is JSON but does not satisfy the event schema."""
