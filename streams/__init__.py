"""The runtime, in folders by role (see docs/architecture.md for the map).

``core`` (pure) < ``runtime`` (Faust) | ``broker`` (kafka-python) < ``partner`` | ``scorer`` <
``qa`` < ``cli``: each folder imports only from those before it, and partner and scorer never
from each other. Importing the package itself loads nothing heavy.
"""

__all__ = ["broker", "cli", "core", "partner", "qa", "runtime", "scorer"]
