"""Worker processes started and stopped from Python: used by the demo and by the tests.

A worker is ``python -m streams worker ...`` in its own process group, configured only through
``FRAUD_*`` variables (exactly as in a container), its output captured to a log file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from streams.broker.admin import wait_for_group
from streams.broker.connection import kafka_python_config
from streams.broker.ports import free_port
from streams.core.errors import BrokerError
from streams.core.settings import Settings
from streams.core.topics import faust_app_id
from streams.scorer.signing_key import ScorerKey

__all__ = [
    "Pipeline",
    "RoleSettings",
    "WorkerProcess",
    "new_log_dir",
    "running_pipeline",
    "settings_env",
    "wait_ready",
    "with_scorer_key",
]


def new_log_dir(root: Path) -> Path:
    """A new folder under ``root`` for one run's worker logs, named by its UTC start time and
    process id: the logs outlive the run's temporary broker and state (they explain a
    failure)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return (root / f"{stamp}-{os.getpid()}").resolve()


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
    extra_env: Mapping[str, str] = field(default_factory=dict)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)
    _terminated: bool = field(default=False, init=False, repr=False)

    @property
    def group_id(self) -> str:
        """The consumer group (and Faust app id) of this worker."""
        return faust_app_id(self.settings.app_id, self.role, self.partner)

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
            env={**inherited, **self.extra_env, **settings_env(self.settings)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def pid(self) -> int | None:
        """The worker's process id (its process group's too), while it runs."""
        process = self._process
        return None if process is None or process.poll() is not None else process.pid

    @property
    def returncode(self) -> int | None:
        """None while running."""
        return None if self._process is None else self._process.poll()

    def terminate(self) -> None:
        """Send SIGTERM once (a clean shutdown starts); :meth:`stop` waits for it."""
        process = self._process
        if process is not None and process.poll() is None and not self._terminated:
            os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(ProcessLookupError):  # it may be gone already
                os.killpg(process.pid, signal.SIGCONT)  # a stopped worker (bench in blocks)
            self._terminated = True

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait for a clean shutdown, SIGKILL after ``timeout``; return the exit code."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            self.terminate()
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


def wait_ready(
    worker: WorkerProcess,
    *,
    timeout: float = 120.0,
    until: Callable[[dict[str, Any]], bool] = lambda _: True,
) -> dict[str, Any]:
    """Poll the worker's ``/ready`` page until it answers 200 and ``until`` holds; return it."""
    url = f"http://{worker.settings.web_host}:{worker.settings.web_port}/ready"
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        if worker.returncode is not None:
            msg = f"the {worker.role} worker exited ({worker.returncode}) before it was ready"
            raise BrokerError(msg)
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                state = json.loads(response.read())
                if until(state):
                    return state
        except urllib.error.HTTPError as exc:
            state = json.loads(exc.read() or b"{}")
        except OSError:
            pass
        time.sleep(0.5)
    msg = f"the {worker.role} worker was not ready after {timeout:.0f} s (last state {state})"
    raise BrokerError(msg)


@dataclass
class Pipeline:
    """A scorer and one gateway per partner, as subprocesses: see :func:`running_pipeline`."""

    scorers: list[WorkerProcess]
    partners: dict[str, WorkerProcess]

    @property
    def workers(self) -> list[WorkerProcess]:
        """Every worker process."""
        return [*self.scorers, *self.partners.values()]

    def logs(self, tail: int = 3000) -> str:
        """The end of every worker's log, for error messages: workers that exited last (where a
        shortened report still shows them), each with its exit status."""
        status = [(w, w.returncode) for w in self.workers]  # one look: a worker may exit now
        return "\n".join(
            f"--- {w.log_path.name}"
            + ("" if code is None else f" (exited {code})")
            + f"\n{w.log_text()[-tail:]}"
            for w, code in sorted(status, key=lambda pair: pair[1] is not None)
        )


def _wait_until_serving(pipeline: Pipeline, client: dict[str, Any], timeout: float) -> None:

    for worker in pipeline.workers:
        wait_for_group(
            client,
            worker.group_id,
            timeout=timeout,
            alive=lambda w=worker: w.returncode is None,  # type: ignore[misc]
        )
    keys = {wait_ready(w, timeout=timeout)["key_id"] for w in pipeline.partners.values()}
    for scorer in pipeline.scorers:
        wait_ready(
            scorer, timeout=timeout, until=lambda state: keys <= set(state.get("key_ids", ()))
        )


#: Settings a worker of (role, partner) gets over the pipeline's (e.g. its own Kafka user).
RoleSettings = Callable[[str, str | None], Mapping[str, Any]]


def _scorer_worker(
    settings: Settings, log_dir: Path, index: int, env: Mapping[str, str], role: RoleSettings
) -> WorkerProcess:
    """Scorer number ``index`` (not started)."""
    return WorkerProcess(
        settings.model_copy(update={**role("scorer", None), "web_port": free_port()}),
        "scorer",
        log_dir / f"scorer-{index}.log",
        extra_env=dict(env),
    )


def _partner_workers(
    settings: Settings,
    key_dirs: Mapping[str, Path] | Callable[[], Mapping[str, Path]],
    log_dir: Path,
    role_settings: RoleSettings,
    role_env: Callable[[str, str | None], Mapping[str, str]],
) -> dict[str, WorkerProcess]:
    """One partner worker (not started) per entry of ``key_dirs`` (made now if a function)."""
    return {
        partner: WorkerProcess(
            settings.model_copy(
                update={
                    **role_settings("partner", partner),
                    "web_port": free_port(),
                    "key_dir": key_dir,
                }
            ),
            "partner",
            log_dir / f"partner-{partner}.log",
            partner=partner,
            extra_env=dict(role_env("partner", partner)),
        )
        for partner, key_dir in (key_dirs() if callable(key_dirs) else key_dirs).items()
    }


def with_scorer_key(settings: Settings, directory: Path) -> Settings:
    """``settings`` with a scorer signing key (made in ``directory`` when none is set) and its
    public key pinned for the partners (when none is): what a pipeline on one machine needs."""
    key_file = settings.scorer_key_file
    if key_file is None:
        key_file = directory / "scorer-signing.key"
        key = ScorerKey.generate(key_file) if not key_file.exists() else ScorerKey.load(key_file)
    else:
        key = ScorerKey.load(key_file)
    pinned = settings.scorer_public_keys or (key.public_key.hex(),)
    return settings.model_copy(update={"scorer_key_file": key_file, "scorer_public_keys": pinned})


@contextmanager
def running_pipeline(
    settings: Settings,
    key_dirs: Mapping[str, Path] | Callable[[], Mapping[str, Path]],
    log_dir: Path,
    *,
    scorers: int = 1,
    timeout: float = 180.0,
    scorer_env: Mapping[str, str] | None = None,
    logs_in_errors: bool = True,
    role_settings: RoleSettings = lambda role, partner: {},
    role_env: Callable[[str, str | None], Mapping[str, str]] = lambda role, partner: {},
) -> Iterator[Pipeline]:
    """Start ``scorers`` scorers and one partner worker per entry of ``key_dirs`` (the topics
    must exist); return once every consumer group is stable, every worker answers ``/ready`` and
    every scorer holds every partner's evaluation keys. Everything is stopped at the end.

    ``key_dirs`` may be a function that makes the keys: the scorers start first and load while
    it runs (key generation takes seconds, so does a worker's start). ``scorer_env`` adds
    environment variables to the scorers only (the privacy test uses it). A worker that does not
    get ready raises :class:`BrokerError` with the end of every worker's log, or, without
    ``logs_in_errors``, with the folder of the logs (for commands whose screen is not a log).
    ``role_settings(role, partner)`` gives settings a worker takes over ``settings`` (its own
    Kafka principal on an authenticated broker); the supervisor itself connects with
    ``settings``. ``role_env(role, partner)`` adds environment variables to that worker (the
    fault run's ``FRAUD_FAULT_POINTS``).
    """
    # A pipeline without a scorer key of its own gets one for its lifetime, outside the logs.
    key_home = Path(tempfile.mkdtemp(prefix="fraudstream-scorer-key-"))
    settings = with_scorer_key(settings, key_home)
    env = {**(scorer_env or {}), **role_env("scorer", None)}
    pipeline = Pipeline(
        [_scorer_worker(settings, log_dir, index, env, role_settings) for index in range(scorers)],
        {},
    )
    try:
        for worker in pipeline.scorers:
            worker.start()
        pipeline.partners.update(
            _partner_workers(settings, key_dirs, log_dir, role_settings, role_env)
        )
        for worker in pipeline.partners.values():
            worker.start()
        try:
            _wait_until_serving(pipeline, kafka_python_config(settings), timeout)
        except BrokerError as exc:
            logs = pipeline.logs() if logs_in_errors else f"(worker logs in {log_dir})"
            msg = f"{exc}\n{logs}"
            raise BrokerError(msg) from exc
        yield pipeline
    finally:
        for worker in pipeline.workers:  # every worker shuts down at once...
            worker.terminate()
        for worker in pipeline.workers:  # ...then each is waited for
            worker.stop()
        shutil.rmtree(key_home, ignore_errors=True)
