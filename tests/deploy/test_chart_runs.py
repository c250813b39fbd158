"""The chart's pods, run as processes on this machine against a real authenticated broker
(`fraudstream kafka up --secure`: SASL_SSL, SCRAM-SHA-512, the ACLs of streams/core/access.py):
the topic Job as the admin, the partner's init containers deriving its keys from seed files, then
the scorer and the gateway, each as its own user, with exactly the environment their ConfigMaps
and env lists give them (paths mapped to local folders, Secrets to the broker's users, the web
port to a free loopback port). A transaction sent to the partner comes back scored under the key
id of its seed, and the broker refused none of their requests: the chart's commands, settings and
credentials make a working pipeline under the roles' grants."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from models.data.handbook import read_transactions
from models.fhe.client.seed import KeySeed
from streams.broker.local_kafka import LocalKafka
from streams.broker.ports import free_port
from streams.core.topics import TopicNames
from streams.qa.data_feed import by_partner, send_records, transaction_record
from streams.qa.testing import consume_records
from streams.scorer.signing_key import ScorerKey
from tests.deploy.tools import VALUES_FILES, pod_specs, render
from tests.support.commands import fraudstream
from tests.support.models import TinyModel

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MINIMAL = next(p for p in VALUES_FILES if p.stem == "minimal-values")
#: The image's entry point, `fraudstream`, as the tests run it.
FRAUDSTREAM = [sys.executable, "-m", "streams"]
#: The Kafka users of the minimal values' Secrets on the secure broker (access.Principals).
USERS = {"fraud-admin-kafka": "admin", "fraud-scorer-kafka": "scorer", "fraud-alpha-kafka": "alpha"}


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[tuple[LocalKafka, str]]:
    """`fraudstream kafka up --secure` with the users and ACLs of a topic root and app id of its
    own (partner alpha), and that root; `kafka down` at the end."""
    root = f"chart{uuid.uuid4().hex[:8]}"
    state = tmp_path / "kafka"
    broker = LocalKafka(state, port=free_port(), controller_port=free_port(), secure=True)
    where = ["--state-dir", str(state), "--port", str(broker.port)]
    where += ["--controller-port", str(broker.controller_port)]
    scope = {"FRAUD_TOPIC_ROOT": root, "FRAUD_APP_ID": root, "FRAUD_PARTNERS": "alpha"}
    try:
        up = fraudstream("kafka", "up", "--secure", *where, env=scope)
        assert up.returncode == 0, up.stdout + up.stderr
        yield broker, root
    finally:
        fraudstream("kafka", "down", *where)


class Localizer:
    """Maps the container's paths to folders of this test, and its web port to a free one."""

    def __init__(self, work: Path, model: Path, broker: LocalKafka) -> None:
        self.prefixes = {
            "/app/model": str(model),
            "/etc/fraudstream/key-seeds": str(work / "seeds"),
            "/var/run/fraudstream/keys": str(work / "keys"),
            "/etc/fraudstream/scorer-key": str(work / "scorer-key"),
            "/etc/fraudstream/kafka-ca": str(broker.security.tls.directory),
        }
        self.work = work
        passwords = broker.security.passwords()
        #: The Secrets the pods read their Kafka user from: (Secret, key) -> value.
        self.secrets = {
            (secret, key): value
            for secret, user in USERS.items()
            for key, value in (("username", user), ("password", passwords[user]))
        }

    def __call__(self, text: str) -> str:
        for prefix, local in self.prefixes.items():
            text = text.replace(prefix, local)
        return text

    def env(self, name: str, container: dict[str, Any], maps: dict[str, dict[str, str]]) -> dict:
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            env.update(maps[source["configMapRef"]["name"]])
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = item["value"]
            elif ref := item["valueFrom"].get("secretKeyRef"):  # its Kafka user
                env[item["name"]] = self.secrets[(ref["name"], ref["key"])]
            else:  # the thread counts, from the CPU limit
                assert item["valueFrom"]["resourceFieldRef"]["resource"] == "limits.cpu"
                env[item["name"]] = "2"
        env = {key: self(value) for key, value in env.items()}
        if "FRAUD_DATA_DIR" in env:
            env["FRAUD_DATA_DIR"] = str(self.work / "state" / name)
        if "FRAUD_WEB_PORT" in env:
            env["FRAUD_WEB_HOST"], env["FRAUD_WEB_PORT"] = "127.0.0.1", str(free_port())
        # What a container has besides its spec: a PATH, a HOME (here: this machine's, for the
        # interpreter), nothing else of the test process.
        inherited = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
        return {**inherited, **env}


def ready(env: dict[str, str]) -> bool:
    url = f"http://{env['FRAUD_WEB_HOST']}:{env['FRAUD_WEB_PORT']}/ready"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def test_the_charts_pods_make_a_working_pipeline(
    secure_broker: tuple[LocalKafka, str], tiny_model: TinyModel, tmp_path: Path
) -> None:
    broker, root = secure_broker
    # The scorer's signing key, as its Secret would hold it, and its public key in the values.
    signing = ScorerKey.generate(tmp_path / "scorer-key" / "signing.key")
    objects = render(
        [MINIMAL],
        f"kafka.bootstrapServers={broker.bootstrap}",
        "kafka.tls.caSecret=kafka-ca",
        f"kafka.tls.caKey={broker.security.tls.ca_file.name}",
        f"topics.root={root}",
        f"appId={root}",
        "topics.replication=1",
        "topics.partitions=2",
        "partners[0].previousKeySeedSecrets[0]=alpha-key-seed-old",
        f"scorer.publicKeys[0]={signing.public_key.hex()}",
    )
    local = Localizer(tmp_path, tiny_model.directory, broker)
    maps = {o["metadata"]["name"]: o["data"] for o in objects if o["kind"] == "ConfigMap"}
    pods = {w["kind"]: pod for w, pod in pod_specs(objects)}

    (job,) = pods["Job"]["containers"]
    made = subprocess.run(
        [*FRAUDSTREAM, *job["args"]], env=local.env("topics", job, maps), check=False,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr

    seeds = {}
    for folder in ("current", "previous-0"):
        (tmp_path / "seeds" / folder).mkdir(parents=True)
        seed_file = tmp_path / "seeds" / folder / "seed.json"
        result = fraudstream("keys", "seed", "--model", str(tiny_model.directory),
                             "--partner", "alpha", "--out", str(seed_file))  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        seeds[folder] = KeySeed.read(seed_file)
    gateway_pod = pods["StatefulSet"]
    for init in gateway_pod["initContainers"]:
        args = [local(arg) for arg in init["args"]]
        folder = Path(args[args.index("--key-dir") + 1])
        for _attempt in range(2):  # an init container may run twice: the same key again
            result = fraudstream(*args, timeout=300)
            assert result.returncode == 0, result.stdout + result.stderr
            meta = json.loads((folder / "keys.json").read_text())
            assert meta["key_id"] == seeds[folder.name].key_id

    workers = {
        "scorer": (pods["Deployment"]["containers"][0], "scorer"),
        "gateway": (gateway_pod["containers"][0], "partner-alpha"),
    }
    running: dict[str, tuple[subprocess.Popen[bytes], dict[str, str], Path]] = {}
    try:
        for name, (container, state) in workers.items():
            env = local.env(state, container, maps)
            log = tmp_path / f"{name}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [*FRAUDSTREAM, *container["args"]], env=env, stdout=out, stderr=out
                )
            running[name] = (process, env, log)
        deadline = time.monotonic() + 300
        while not all(ready(env) for _, env, _ in running.values()):
            for name, (process, _, log) in running.items():
                assert process.poll() is None, f"{name} exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "workers not ready"
            time.sleep(2)

        names = TopicNames(root)
        day = date(2018, 8, 8)
        txs = by_partner(read_transactions(start=day, end=day), ("alpha", "bravo"))["alpha"][:2]
        client = broker.client_config("alpha")  # the bank feeds its gateway as the partner
        send_records(client, [transaction_record(names, tx, "alpha") for tx in txs])
        scores = [
            json.loads(record.value)
            for record in consume_records(client, [names.scores("alpha")], expected=2, timeout=180)
        ]
        logs = "\n".join(log.read_text()[-2000:] for _, _, log in running.values())
        assert sorted(s["transaction_id"] for s in scores) == sorted(
            tx.transaction_id for tx in txs
        ), logs
        assert {s["key_id"] for s in scores} == {seeds["current"].key_id}
        refused = [line for line in broker.log_file.read_text().splitlines() if "is Denied" in line]
        assert refused == [], "\n".join(refused[:5])
    finally:
        for process, _, _ in running.values():
            process.terminate()
        for process, _, _ in running.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
