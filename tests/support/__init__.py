"""Shared test support, in one place: running the CLI as a user would, the tiny model's type,
the repository's paths, the documented-command registry and the audit hook for the privacy
test. (Helpers users can use against their own broker are public: :mod:`streams.qa.testing`.)"""

__all__ = ["commands", "documented_commands", "models", "paths"]
