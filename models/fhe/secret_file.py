"""Writing a secret file: created with mode 0600, never over an existing one.

Key seeds (:mod:`models.fhe.client.seed`) and the scorer's signing key
(:mod:`streams.scorer.signing_key`) are written this way; each says in its own words what to do
when the file exists.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["create_secret_file"]


def create_secret_file(path: Path, text: str) -> None:
    """Create ``path`` (mode 0600 from the first byte) holding ``text``; raise
    :class:`FileExistsError` if it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
