"""Where things are, whatever folder a test lives in."""

from __future__ import annotations

from pathlib import Path

#: The repository's root.
ROOT = Path(__file__).resolve().parents[2]
#: The folder the privacy test puts on the scorer's PYTHONPATH (its ``sitecustomize`` records
#: what the process opens and imports).
AUDIT_HOOK_DIR = ROOT / "tests" / "support" / "audit"
#: Recordings and other fixtures the tests replay.
FIXTURES = ROOT / "tests" / "fixtures"
