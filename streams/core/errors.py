"""The runtime's errors: one module, one hierarchy under the project's root error.

Every error the project raises derives from :class:`FraudStreamError` (defined in
:mod:`models.errors`, the lower layer, because ``models/`` may not import ``streams/``; the model
side's own errors live there). The runtime's errors all live here, whichever folder raises them,
so that a caller tells a bad record (dead-letter it, move on) from a broken set-up (stop and say
what to do) by one ``except`` and finds every kind in one place. One module rather than an
``exceptions.py`` per folder: the runtime has a dozen errors, and the CLI's error handler, the
dead-letter code and the tests want them all.

::

    FraudStreamError
    ├── ConfigError                   settings or set-up are invalid: stop, say what to fix
    ├── BrokerError                   the broker cannot be fetched, started, reached or stopped
    ├── EventError                    a record cannot be processed: dead-letter it
    │   ├── OversizedEventError
    │   ├── MalformedEventError
    │   └── SchemaError
    ├── KeyRegistryError              a keys-topic record is malformed, unsigned or inconsistent
    ├── KeyRegistryUnavailableError   the scorer cannot read the keys topics at all
    ├── EvaluationError               an FHE evaluation hung or its process died, twice
    ├── RecordingError                a recording file cannot be read
    ├── ReplayError                   a replay could not send everything
    └── VerifyError                   a verification could not run to its end
"""

from __future__ import annotations

from models.errors import FraudStreamError

__all__ = [
    "BrokerError",
    "ConfigError",
    "EvaluationError",
    "EventError",
    "FraudStreamError",
    "KeyRegistryError",
    "KeyRegistryUnavailableError",
    "MalformedEventError",
    "OversizedEventError",
    "RecordingError",
    "ReplayError",
    "SchemaError",
    "SignatureError",
    "VerifyError",
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


class SignatureError(EventError):
    """A scoring request or a verdict is unsigned, signed by someone else, bound to another
    request or key, too old, or a replay."""


class KeyRegistryError(FraudStreamError):
    """A keys-topic record is malformed, or a reassembled key set does not match its key id."""


class KeyRegistryUnavailableError(FraudStreamError):
    """The scorer cannot read the keys topics (its follower thread failed)."""


class EvaluationError(FraudStreamError):
    """An FHE evaluation did not finish within its time limit, or its process died, on both
    tries: the request is dead-lettered with the reason (its process was replaced)."""


class RecordingError(FraudStreamError):
    """A recording cannot be read: the message names the file and the line."""


class ReplayError(FraudStreamError):
    """A replay could not send everything; the message says how much was sent."""


class VerifyError(FraudStreamError):
    """A verification could not run to its end (not: verdicts differ)."""
