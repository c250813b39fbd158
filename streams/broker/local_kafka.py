"""A real single-node Apache Kafka broker (KRaft, loopback only), started from Maven Central jars.

The broker's jars are resolved once by ``mvn dependency:copy-dependencies`` on the pinned POM in
``deploy/kafka/pom.xml`` and cached outside the repository (``$XDG_CACHE_HOME/fraudstream/kafka``).
A broker lives in a state directory holding its ``server.properties``, KRaft metadata, logs and
pid file, so ``up``, ``status`` and ``down`` can run from different processes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.broker.secure import SecureSetup, add_users
from streams.core.errors import BrokerError

__all__ = [
    "KAFKA_VERSION",
    "BrokerStatus",
    "LocalKafka",
    "default_cache_dir",
    "deploy_dir",
    "fetch_jars",
]

#: The pinned broker version; deploy/kafka/pom.xml takes it as ``-Dkafka.version``.
KAFKA_VERSION = "4.4.0"
#: The JVM's options. ``TieredStopAtLevel=1``: the quick C1 compiler only, no C2. A fresh broker's
#: C2 compiles for minutes (much of its CPU in a bench's first minutes, taken from the scorer
#: beside it); this broker's load is light, so C1's slower code costs less than C2's compiling
#: (docs/kafka.md; measured in docs/benchmarks.md).
_JAVA_OPTS = ("-Xms256m", "-Xmx768m", "-XX:+UseG1GC", "-XX:TieredStopAtLevel=1",
              "-Djava.awt.headless=true")  # fmt: skip


#: What the local broker's errors advise when it cannot run here.
_ELSEWHERE = (
    " (the local broker is a development and test tool: in the container image, or anywhere "
    "a cluster exists, set FRAUD_BROKER to its brokers)"
)


def deploy_dir() -> Path:
    """The ``deploy/kafka`` folder of this checkout (POM and Log4j2 configuration)."""
    here = Path(__file__).resolve().parents[2] / "deploy" / "kafka"
    if not (here / "pom.xml").is_file():
        msg = (
            f"{here}/pom.xml not found: the local broker runs from a source checkout "
            f"(pip install -e .), not from an installed wheel or the container image{_ELSEWHERE}"
        )
        raise BrokerError(msg)
    return here


def default_cache_dir() -> Path:
    """``~/.cache/fraudstream``: outside the repository, shared by every clone on the machine."""
    return Path.home() / ".cache" / "fraudstream"


def fetch_jars(
    version: str = KAFKA_VERSION,
    cache_dir: Path | None = None,
    say: Callable[[str], None] = print,
) -> Path:
    """Resolve the broker and its runtime closure into the cache; return the folder of jars."""
    libs = (cache_dir or default_cache_dir()) / "kafka" / version / "libs"
    done = libs.parent / ".complete"
    if done.is_file():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        msg = "Maven (mvn) is needed once to fetch the Kafka jars from Maven Central; install it"
        raise BrokerError(msg)
    say(f"fetching Apache Kafka {version} jars from Maven Central into {libs} (once)")
    if libs.exists():
        shutil.rmtree(libs)
    command = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(deploy_dir() / "pom.xml"),
        "dependency:copy-dependencies",
        f"-Dkafka.version={version}",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={libs}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0 or not any(libs.glob("kafka_2.13-*.jar")):
        tail = (result.stdout + result.stderr).strip()[-2000:]
        msg = f"mvn could not resolve org.apache.kafka:kafka_2.13:{version}:\n{tail}"
        raise BrokerError(msg)
    done.write_text(version)
    return libs


@dataclass(frozen=True)
class BrokerStatus:
    """What ``status`` reports: is a broker process alive, and does it answer."""

    running: bool
    ready: bool
    pid: int | None
    bootstrap: str
    state_dir: Path


@dataclass(frozen=True)
class LocalKafka:
    """One broker+controller node bound to 127.0.0.1, with its state in ``state_dir``.

    With ``secure``, clients authenticate (SASL_SSL, SCRAM-SHA-512) as the admin or one of
    ``users``, and the broker authorizes every request by ACLs (:mod:`streams.broker.secure`).
    """

    state_dir: Path
    port: int = 9092
    controller_port: int = 9093
    version: str = KAFKA_VERSION
    cache_dir: Path | None = None
    max_message_bytes: int = 16 * 1024 * 1024
    secure: bool = False
    users: tuple[str, ...] = ()
    #: More ``server.properties`` entries, over the defaults (a bench that pauses its broker
    #: gives it a longer ``broker.session.timeout.ms``).
    extra_properties: tuple[tuple[str, str], ...] = ()

    @property
    def security(self) -> SecureSetup:
        """The secure broker's certificates and credentials (in ``state_dir``)."""
        return SecureSetup(self.state_dir)

    def client_config(self, user: str = "admin") -> dict[str, Any]:
        """kafka-python keyword arguments to reach this broker (as ``user`` when secure)."""
        if not self.secure:
            return {"bootstrap_servers": self.bootstrap}
        return self.security.client_config(self.bootstrap, user)

    @property
    def bootstrap(self) -> str:
        """The ``host:port`` clients connect to."""
        return f"127.0.0.1:{self.port}"

    @property
    def _pid_file(self) -> Path:
        return self.state_dir / "broker.pid"

    @property
    def log_file(self) -> Path:
        """The broker's own log (Log4j2), for when something goes wrong."""
        return self.state_dir / "logs" / "server.log"

    def _properties(self) -> str:
        data = self.state_dir / "data"
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(data),
            "num.partitions": "4",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Encrypted verdicts are hundreds of KB; the default 1 MB cap is too tight.
            "message.max.bytes": str(self.max_message_bytes),
            "replica.fetch.max.bytes": str(self.max_message_bytes),
            "socket.request.max.bytes": str(max(self.max_message_bytes * 2, 104857600)),
            "log.retention.hours": "168",
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        if self.secure:
            lines.update(self.security.properties(self.port, self.controller_port))
        lines.update(self.extra_properties)
        return "".join(f"{key}={value}\n" for key, value in lines.items())

    def _java(self) -> str:
        java = shutil.which("java")
        if not java:
            msg = (
                "Java 17 or newer is needed to run the local Kafka broker; none was found on "
                f"PATH{_ELSEWHERE}"
            )
            raise BrokerError(msg)
        return java

    def _classpath(self, libs: Path) -> str:
        return os.pathsep.join(str(jar) for jar in sorted(libs.glob("*.jar")))

    def _run_tool(self, java: str, libs: Path, *args: str) -> str:
        command = [java, "-cp", self._classpath(libs), "kafka.tools.StorageTool", *args]
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            msg = f"kafka StorageTool {args[0]} failed: {(result.stdout + result.stderr)[-2000:]}"
            raise BrokerError(msg)
        return result.stdout.strip()

    def _read_pid(self) -> int | None:
        """The broker's pid, if the pid file names a live Kafka broker of this state dir."""
        try:
            pid = int(self._pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None  # gone (or not ours to see): a stale pid file
        ours = str(self.state_dir / "server.properties").encode()
        if b"kafka.Kafka" not in command or ours not in command:
            return None  # the pid was reused by another process: never signal it
        return pid

    def is_ready(self, timeout: float = 2.0) -> bool:
        """True when the broker answers a metadata request (not only accepts TCP)."""
        from kafka import KafkaAdminClient  # noqa: PLC0415  (kept out of import time)
        from kafka.errors import KafkaError  # noqa: PLC0415

        if self._port_free(self.port):
            return False  # nothing listens yet: skip the client and its connection-error logs
        try:
            admin = KafkaAdminClient(
                **self.client_config(),
                request_timeout_ms=int(timeout * 1000),
                client_id="fraudstream-probe",
            )
        except (KafkaError, OSError, ValueError):
            return False
        try:
            admin.describe_cluster()
        except (KafkaError, OSError):
            return False
        finally:
            admin.close()
        return True

    def _port_free(self, port: int) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            return sock.connect_ex(("127.0.0.1", port)) != 0

    def start(self, timeout: float = 90.0, say: Callable[[str], None] = print) -> None:
        """Fetch the jars if needed, format KRaft storage once, start and wait until ready."""
        self.security.check_mode(self.secure)
        if self._read_pid() is not None:
            if self.is_ready():
                say(f"broker already running at {self.bootstrap}")
                self._add_users(self.security.prepare(self.users) if self.secure else [])
                return
            msg = f"a broker process is running from {self.state_dir} but does not answer"
            raise BrokerError(msg)
        for port in (self.port, self.controller_port):
            if not self._port_free(port):
                msg = f"port {port} on 127.0.0.1 is already in use; choose another (--port)"
                raise BrokerError(msg)
        # What the local broker needs, before anything is fetched or written.
        deploy_dir()
        java = self._java()
        libs = fetch_jars(self.version, self.cache_dir, say)
        late_users = self._prepare_storage(java, libs)
        process = self._launch(java, libs)
        say(f"starting Kafka {self.version} (KRaft) at {self.bootstrap}, pid {process.pid}")
        self._wait_ready(process, timeout)
        self._add_users(late_users)

    def _add_users(self, users: list[str]) -> None:
        """Create ``users`` on the running broker (users added after its storage was formatted:
        a partner added later)."""
        if users:
            passwords = self.security.passwords()
            add_users(self.client_config(), {user: passwords[user] for user in users})

    def _prepare_storage(self, java: str, libs: Path) -> list[str]:
        """Write the configuration, format the storage once (with the users, when secure);
        return the users that exist only in the credentials file so far (added after start)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "logs").mkdir(exist_ok=True)
        new_users = self.security.prepare(self.users) if self.secure else []
        properties = self.state_dir / "server.properties"
        properties.unlink(missing_ok=True)
        # 0600: when secure it holds the admin's password (the broker's inter-broker login).
        descriptor = os.open(properties, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(self._properties())
        if (self.state_dir / "data" / "meta.properties").is_file():
            return new_users
        cluster_id = self._run_tool(java, libs, "random-uuid")
        users = self.security.format_arguments() if self.secure else []
        self._run_tool(java, libs, "format", "-t", cluster_id, "-c", str(properties), *users)
        return []

    def _launch(self, java: str, libs: Path) -> subprocess.Popen[bytes]:
        command = [
            java,
            *_JAVA_OPTS,
            f"-Dkafka.logs.dir={self.state_dir / 'logs'}",
            f"-Dlog4j2.configurationFile={deploy_dir() / 'log4j2.properties'}",
            "-cp",
            self._classpath(libs),
            "kafka.Kafka",
            str(self.state_dir / "server.properties"),
        ]
        stdout = (self.state_dir / "logs" / "stdout.log").open("ab")
        process = subprocess.Popen(  # noqa: S603
            command,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        stdout.close()
        self._pid_file.write_text(str(process.pid))
        return process

    def _wait_ready(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self._pid_file.unlink(missing_ok=True)
                msg = (
                    f"the broker exited with code {process.returncode}; "
                    f"see {self.state_dir / 'logs'}"
                )
                raise BrokerError(msg)
            if self.is_ready(timeout=1.0):
                return
            time.sleep(0.5)
        self.stop()
        msg = f"the broker did not become ready within {timeout:.0f} s; see {self.log_file}"
        raise BrokerError(msg)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the broker (SIGTERM, then SIGKILL after ``timeout``). False if none was running."""
        pid = self._read_pid()
        if pid is None:
            self._pid_file.unlink(missing_ok=True)
            return False
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            self._pid_file.unlink(missing_ok=True)
            return False
        except PermissionError as exc:
            msg = f"not allowed to stop the broker (pid {pid}): {exc}"
            raise BrokerError(msg) from exc
        with contextlib.suppress(ProcessLookupError):  # it may be gone already
            os.kill(pid, signal.SIGCONT)  # a stopped broker (bench in blocks) acts on SIGTERM
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        self._pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> BrokerStatus:
        """Whether a broker runs from this state directory and answers requests."""
        pid = self._read_pid()
        ready = pid is not None and self.is_ready()
        return BrokerStatus(pid is not None, ready, pid, self.bootstrap, self.state_dir)


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie; reaps it if it is our child."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        reaped = 0
    if reaped == pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
