"""The runtime: the Faust app, settings, topics, records, agents, dead letters, CLI, local broker.

Import the modules you need (``streams.settings``, ``streams.topics`` …): importing the package
itself loads nothing heavy.
"""

__all__: list[str] = []
