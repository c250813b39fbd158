"""The coordinator: it runs a federated training in rounds and never receives a row.

1. **join**: every member is asked to join; it answers with its rows and frauds (for the model
   card) and its masking key. Those who answer make the run's roster.
2. **binning** (secure sum): the members' feature histograms are summed; the coordinator reads
   only the sum and fits the shared cut points (:mod:`models.federation.histograms`).
3. **trees**, round by round: *bagging* asks every member each round to boost a tree on top of
   the current ensemble (the last round asks only as many as trees are left, in turn); *cyclic*
   asks one member per round, in turn. The trees of every answer are appended
   (:mod:`models.federation.trees`); a member that does not answer before the round's deadline
   is left out of that round and the round's log says so.
4. **threshold** (secure sum): the members' score histograms of the assembled model are summed;
   the best-F1 edge is the alert threshold.

A secure sum that misses a member is asked again of the same roster (the members re-send the
same masked vector); past its deadline (members refuse to answer later) it is run again over the
members that answered, as a new round. The transport is anything that delivers each member its
task and returns the answers that came back in time (:class:`Transport`): Kafka topics in
``streams/federation``, direct calls in the tests.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from models.errors import FederationError
from models.federation.histograms import binning_from_histogram, threshold_from_histogram
from models.federation.secure_sum import Roster, sum_masked
from models.federation.trees import TreeParams, append_trees, count_trees, to_concrete
from models.federation.wire import (
    BOOST,
    JOIN,
    MASKING_KEY,
    SUM,
    TREES,
    Envelope,
    MemberKey,
    Members,
)
from models.fhe.binning import Binning

__all__ = ["FederatedModel", "FederationPlan", "RoundLog", "Transport", "run_federation"]

Strategy = Literal["bagging", "cyclic"]


class Transport(Protocol):
    """Delivers each member its task; returns the answers that arrived within ``timeout``."""

    def exchange(self, tasks: Mapping[str, bytes], timeout: float) -> dict[str, bytes]:
        """Send ``tasks`` (member → signed frame), collect answers (member → signed frame)."""
        ...


@dataclass(frozen=True)
class FederationPlan:
    """What the run trains and how."""

    run: str
    spec_digest: str
    n_features: int
    strategy: Strategy = "bagging"
    trees: int = 10
    n_bits: int = 3
    params: TreeParams = field(default_factory=TreeParams)
    #: Seconds a member has to answer a task.
    timeout: float = 600.0
    #: Times a secure sum is asked again of the same roster before it is re-run without the
    #: members that did not answer.
    retries: int = 1


@dataclass
class RoundLog:
    """One round: who was asked, who answered, what it added, what it cost."""

    round: str
    kind: str
    asked: list[str]
    answered: list[str]
    trees_added: int = 0
    seconds: float = 0.0
    #: Bytes each member sent in this round.
    bytes_sent: dict[str, int] = field(default_factory=dict)

    @property
    def left_out(self) -> list[str]:
        """Members asked that did not answer."""
        return [name for name in self.asked if name not in self.answered]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready (for the model card)."""
        return {**asdict(self), "left_out": self.left_out}


@dataclass
class FederatedModel:
    """What a run produced: the trees, the shared binning and threshold, and its log."""

    plan: FederationPlan
    model_json: bytes
    binning: Binning
    threshold: float
    participants: dict[str, dict[str, int]]
    rounds: list[RoundLog]

    def concrete_model(self) -> Any:
        """The ensemble as a Concrete-ML model (to compile)."""
        return to_concrete(self.model_json, self.binning, self.plan.n_bits, self.plan.params.depth)

    def card(self) -> dict[str, Any]:
        """The federation section of the model card: members, rounds, rows and frauds per
        member (counts each member reported; never a row)."""
        sent: dict[str, int] = {}
        for log in self.rounds:
            for name, size in log.bytes_sent.items():
                sent[name] = sent.get(name, 0) + size
        return {
            "run": self.plan.run,
            "strategy": self.plan.strategy,
            "trees": count_trees(self.model_json),
            "participants": self.participants,
            "bytes_sent": sent,
            "rounds": [log.to_json() for log in self.rounds],
            "left_out": sorted({name for log in self.rounds for name in log.left_out}),
        }


class _Run:
    def __init__(
        self,
        plan: FederationPlan,
        key: MemberKey,
        members: Members,
        transport: Transport,
        say: Callable[[str], None],
    ) -> None:
        self.plan, self.key, self.members = plan, key, members
        self.transport, self.say = transport, say
        self.rounds: list[RoundLog] = []

    def ask(self, kind: str, round_id: str, names: list[str], body: dict[str, Any]) -> RoundLog:
        body = {**body, "spec": self.plan.spec_digest, "deadline": time.time() + self.plan.timeout}
        frame = Envelope(kind, self.key.name, self.plan.run, round_id, body).encode(self.key)
        started = time.perf_counter()
        answers = self.transport.exchange(dict.fromkeys(names, frame), self.plan.timeout)
        log = RoundLog(round_id, kind, list(names), [], seconds=0.0)
        self.answers: dict[str, Envelope] = {}
        self.frames: dict[str, bytes] = {}
        for name, answer in answers.items():
            try:
                message = Envelope.decode(answer, self.members)
            except FederationError as exc:
                self.say(f"{round_id}: an answer for {name} was refused: {exc}")
                continue
            if message.sender != name or message.run != self.plan.run or message.round != round_id:
                self.say(f"{round_id}: {name} answered another round or run: ignored")
                continue
            self.answers[name] = message
            self.frames[name] = answer
            log.answered.append(name)
            log.bytes_sent[name] = len(answer)
        log.seconds = time.perf_counter() - started
        self.rounds.append(log)
        if log.left_out:
            self.say(f"{round_id}: {', '.join(log.left_out)} did not answer: left out")
        return log

    def secure_sum(
        self, name: str, roster: Roster, frames: dict[str, bytes], body: dict[str, Any]
    ) -> np.ndarray[Any, Any]:
        attempt = 0
        while True:
            round_id = f"{name}-{attempt}"
            body["roster"] = [base64.b64encode(frames[m]).decode() for m in roster.names]
            for retry in range(self.plan.retries + 1):
                log = self.ask(SUM, round_id, list(roster.names), body)
                if not log.left_out:
                    return sum_masked(self.frames.values(), self.members, roster, round_id)
                self.say(f"{round_id}: sum incomplete (try {retry + 1})")
            survivors = log.answered
            if len(survivors) < 2:
                msg = f"the {name} sum lost all members but {survivors}: the run cannot go on"
                raise FederationError(msg)
            roster = roster.only(survivors)
            attempt += 1


def _join(
    run: _Run, names: list[str]
) -> tuple[Roster, dict[str, bytes], dict[str, dict[str, int]]]:
    log = run.ask(JOIN, "join", names, {})
    joined = {n: m for n, m in run.answers.items() if m.kind == MASKING_KEY}
    if len(joined) < 2:
        who = ", ".join(sorted(joined)) or "no member"
        msg = f"{who} joined (of {', '.join(names)}): federation needs at least two members"
        raise FederationError(msg)
    frames = {name: run.frames[name] for name in joined}
    roster = Roster.from_messages(frames.values(), run.members, run.plan.run)
    participants = {
        name: {"rows": int(m.body["rows"]), "frauds": int(m.body["frauds"])}
        for name, m in joined.items()
    }
    summary = ", ".join(
        f"{name} ({counts['rows']:,} rows, {counts['frauds']} frauds)"
        for name, counts in participants.items()
    )
    left = f"; {', '.join(log.left_out)} did not answer" if log.left_out else ""
    run.say(f"joined: {summary}{left}")
    return roster, frames, participants


def _tree_rounds(run: _Run, names: list[str], binning: Binning) -> bytes:
    plan = run.plan
    model: bytes | None = None
    turn = 0
    for index in range(plan.trees * 3):  # every member may miss a few rounds, not forever
        left = plan.trees - (0 if model is None else count_trees(model))
        if left <= 0:
            break
        width = 1 if plan.strategy == "cyclic" else min(left, len(names))
        asked = [names[(turn + k) % len(names)] for k in range(width)]
        turn += width
        body = {
            "binning": binning.to_json(),
            "params": plan.params.to_json(),
            "trees": 1,
            "model": None if model is None else model.decode(),
        }
        log = run.ask(BOOST, f"trees-{index}", asked, body)
        for name in log.answered:
            message = run.answers[name]
            if message.kind == TREES:
                model = append_trees(model, message.payload)
                log.trees_added += 1
        run.say(
            f"round {index}: {log.trees_added} tree(s) from {', '.join(log.answered) or 'nobody'}"
            f", ensemble {0 if model is None else count_trees(model)}/{plan.trees} "
            f"({log.seconds:.1f} s)"
        )
    if model is None or count_trees(model) < plan.trees:
        msg = f"the members answered too few rounds to grow {plan.trees} trees"
        raise FederationError(msg)
    return model


def run_federation(
    plan: FederationPlan,
    *,
    key: MemberKey,
    members: Members,
    names: list[str],
    transport: Transport,
    say: Callable[[str], None] = print,
) -> FederatedModel:
    """Run the rounds of ``plan`` with the members ``names``; the coordinator signs with ``key``."""
    run = _Run(plan, key, members, transport, say)
    roster, frames, participants = _join(run, names)
    histogram = run.secure_sum("binning", roster, frames, {"of": "features"})
    binning = binning_from_histogram(histogram, plan.n_features, 2**plan.n_bits)
    say(f"binning: cut points from the summed histograms of {len(roster.names)} members")
    joined = [name for name in names if name in participants]
    model = _tree_rounds(run, joined, binning)
    body = {
        "of": "scores",
        "model": model.decode(),
        "binning": binning.to_json(),
        "n_bits": plan.n_bits,
        "depth": plan.params.depth,
    }
    scores = run.secure_sum("threshold", roster, frames, body)
    threshold = threshold_from_histogram(scores)
    say(f"threshold: {threshold:.4f} (best F1 on the summed score histograms)")
    return FederatedModel(plan, model, binning, threshold, participants, run.rounds)
