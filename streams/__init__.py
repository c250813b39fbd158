"""The runtime: the Faust app, settings, topics, records, agents, dead letters, CLI, local broker.

Import the modules you need (``streams.core.settings``, ``streams.core.topics`` …): importing the
package itself loads nothing heavy.
"""

__all__: list[str] = []
