"""Federated training with every role on this machine: one trainer process per partner (each on
its own cards of the bundled data) and the coordinator, talking over the broker's topics.

What the demo runs when it has no model, and ``fraudstream federate run``. Member keys and the
members file are kept in ``<out>/.federation/`` (the pinned keys of this local federation).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from models.federation.wire import MemberKey, Members
from streams.broker.admin import ensure_topics
from streams.broker.connection import kafka_python_config
from streams.core.errors import FraudStreamError
from streams.core.settings import Settings
from streams.core.topics import TopicNames, federation_topic_specs
from streams.qa.supervisor import settings_env

__all__ = ["federate_locally"]

COORDINATOR = "coordinator"


def federate_locally(
    settings: Settings,
    out: Path,
    *,
    options: tuple[str, ...] = (),
    say: Callable[[str], None] = print,
) -> Path:
    """Train a model federated across ``settings.partners`` into ``out``; its folder.

    ``options`` go to ``federate train`` (e.g. ``--strategy cyclic``). The trainers' logs are
    ``<out>/.federation/<partner>.log``.
    """
    work = out / ".federation"
    work.mkdir(parents=True, exist_ok=True)
    names = list(settings.partners)
    members_file = _members_file(work, names)
    # The topics exist before any trainer subscribes: the coordinator would create them too,
    # but a trainer should not start on a topic that does not exist yet.
    ensure_topics(
        kafka_python_config(settings),
        federation_topic_specs(TopicNames(settings.topic_root), names, settings.max_message_bytes),
    )
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("FRAUD_")}
    env = {**inherited, **settings_env(settings)}
    base = [sys.executable, "-m", "streams", "federate"]
    trainers = []
    for name in names:
        log = (work / f"{name}.log").open("ab")
        command = [
            *base, "trainer", "--partner", name, "--members", str(members_file),
            "--key", str(work / f"{name}.key"), "--split-partners", ",".join(names),
        ]  # fmt: skip
        trainers.append(
            subprocess.Popen(  # noqa: S603  (our own CLI)
                command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        )
        say(f"trainer of {name} started (log: {work / f'{name}.log'})")
    try:
        command = [
            *base, "train", "--members", str(members_file),
            "--key", str(work / f"{COORDINATOR}.key"), "--out", str(out), *options,
        ]  # fmt: skip
        done = subprocess.run(command, env=env, check=False)  # noqa: S603  (our own CLI)
        if done.returncode != 0:
            msg = (
                f"federated training failed (the coordinator's output is above; the trainers' "
                f"logs are in {work})"
            )
            raise FraudStreamError(msg)
    finally:
        for process in trainers:
            process.terminate()
        for process in trainers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    return (out / "latest").resolve()


def _members_file(work: Path, names: list[str]) -> Path:
    """The members file of this local federation (its member keys kept in ``work``)."""
    keys = {name: MemberKey.load_or_create(name, work / f"{name}.key") for name in names}
    keys[COORDINATOR] = MemberKey.load_or_create(COORDINATOR, work / f"{COORDINATOR}.key")
    members_file = work / "members.json"
    members_file.write_text(json.dumps(Members.of(*keys.values()).to_json(), indent=2) + "\n")
    return members_file
