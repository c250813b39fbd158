"""Worker processes started and stopped from Python: used by the demo and by the tests.

A worker is ``python -m streams worker ...`` in its own process group, configured only through
``FRAUD_*`` variables (exactly as in a container), its output captured to a log file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from streams.settings import Settings

__all__ = ["WorkerProcess", "settings_env"]


def settings_env(settings: Settings) -> dict[str, str]:
    """The ``FRAUD_*`` variables that reproduce ``settings`` in another process."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, tuple | list):
            text = ",".join(str(item) for item in value)
        elif hasattr(value, "get_secret_value"):
            text = value.get_secret_value()
        else:
            text = str(value)
        env[f"FRAUD_{name.upper()}"] = text
    return env


@dataclass
class WorkerProcess:
    """One worker subprocess; ``start`` returns at once, ``stop`` waits for a clean shutdown."""

    settings: Settings
    role: str
    log_path: Path
    partner: str | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def group_id(self) -> str:
        """The consumer group (and Faust app id) of this worker."""
        suffix = f"-{self.partner}" if self.partner else ""
        return f"{self.settings.app_id}-{self.role}{suffix}"

    def start(self) -> None:
        """Spawn the worker in its own process group (once)."""
        if self._process is not None:
            msg = "this worker was already started; make a new WorkerProcess"
            raise RuntimeError(msg)
        command = [sys.executable, "-m", "streams", "worker", "--role", self.role]
        if self.partner:
            command += ["--partner", self.partner]
        # The child inherits PATH and the like, and takes its configuration from FRAUD_*.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("FRAUD_")}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(  # noqa: S603
            command,
            env={**inherited, **settings_env(self.settings)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def returncode(self) -> int | None:
        """None while running."""
        return None if self._process is None else self._process.poll()

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait for a clean shutdown, SIGKILL after ``timeout``; return the exit code."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._log is not None:
            self._log.close()
        return process.returncode

    def kill(self) -> None:
        """SIGKILL the worker at once, as a crash would (for recovery tests)."""
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        if self._log is not None:
            self._log.close()

    def log_text(self) -> str:
        """Everything the worker wrote so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
