"""Secure sums of the shared counts as a running service: the partner's contributor and the
aggregator, without the transport.

- Each partner's **contributor** (inside the partner) counts its own transactions and frauds per
  (entity, time bucket, entity bucket) as its events arrive (:class:`CountBook`). Once a time
  bucket's labels are final (its end plus the label delay is behind the partner's stream time),
  it masks the bucket's two vectors for the roster of every partner's masking key and sends
  them (:class:`Contributor`); a bucket is handed out once, every bucket from the first one seen
  on, empty ones too (an empty bucket is a zero vector: every member answers every round).
- The **aggregator** (the shared service) collects the masked vectors of each round; when every
  member of the roster has sent its own, it sums them and publishes the sums signed with its
  key (:class:`SumsAggregator`). It never sums part of a roster (:mod:`secure_sum`), so a round
  a partner misses stays pending until that partner sends its vector (a restarted contributor
  sends the very same one) and is dropped after ``max_pending`` newer rounds: the gateways
  then use their own counts for that bucket, and the features say how many buckets did.
- Every gateway reads the sums (:func:`read_sums`), checked against the aggregator's pinned
  key, into its :class:`~models.features.shared.SharedCounts`.

The session (``run``) is named by the shared-counts configuration and the label delay: every
model whose spec has the same ``[shared_counts]`` reads the same sums.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.errors import FederationError
from models.features.shared import entity_bucket
from models.features.spec import FeatureSpec, SharedCountsSpec
from models.federation.secure_sum import (
    Counts,
    Ledger,
    MaskingKey,
    Roster,
    masked_message,
    masking_key_message,
    sum_masked,
)
from models.federation.wire import MASKED, MASKING_KEY, SHARED_SUMS, Envelope, MemberKey, Members

__all__ = [
    "Contributor",
    "CountBook",
    "RosterBook",
    "SharedSums",
    "SumsAggregator",
    "bucket_round",
    "read_sums",
    "session_run",
]

_Ints = npt.NDArray[np.int64]


def bucket_round(entity: str, time_bucket: int) -> str:
    """The secure sum's round id of one entity's time bucket (one answer per partner, ever)."""
    return f"shared-counts/{entity}/{time_bucket}"


def session_run(spec: FeatureSpec) -> str:
    """The secure-sums session of ``spec``'s ``[shared_counts]`` and label delay."""
    config = _config(spec)
    described = json.dumps([config.model_dump(mode="json"), spec.label_delay_days])
    return f"shared-counts/{hashlib.sha256(described.encode()).hexdigest()[:16]}"


def _config(spec: FeatureSpec) -> SharedCountsSpec:
    if spec.shared_counts is None or spec.label_delay_days is None:
        msg = f"the feature spec {spec.name} has no [shared_counts] label windows: nothing to sum"
        raise FederationError(msg)
    return spec.shared_counts


class CountBook:
    """A partner's own counts per (entity, time bucket, entity bucket), and which time buckets
    are final: those whose end plus the label delay is at or behind the latest transaction's
    time (the stream time)."""

    def __init__(self, spec: FeatureSpec) -> None:
        """Count for ``spec``'s ``[shared_counts]``."""
        self.config = _config(spec)
        self.delay_seconds = int(spec.label_delay_days or 0) * 86_400
        self.stream_time: int | None = None
        self._open: dict[str, dict[int, dict[int, list[int]]]] = {
            e: {} for e in self.config.entities
        }
        self._first: dict[str, int | None] = dict.fromkeys(self.config.entities)
        #: The next time bucket to hand out, per entity, once one was.
        self._next: dict[str, int | None] = dict.fromkeys(self.config.entities)
        #: Events of buckets already handed out (not in the sums; in the partner's own state).
        self.late = 0

    def observe(self, values: Mapping[str, object], at: int, *, fraud: bool = False) -> None:
        """Count a transaction (or, with ``fraud``, a fraud label of a transaction) made at
        ``at`` (epoch seconds) with these entity ``values`` (the gateway's entity values)."""
        time_bucket = at // self.config.bucket_seconds
        for entity in self.config.entities:
            handed = self._next[entity]
            if handed is not None and time_bucket < handed:
                self.late += 1
                continue
            first = self._first[entity]
            if handed is None and (first is None or time_bucket < first):
                self._first[entity] = time_bucket
            bucket = entity_bucket(values[entity], self.config.buckets)
            counts = self._open[entity].setdefault(time_bucket, {}).setdefault(bucket, [0, 0])
            counts[1 if fraud else 0] += 1
        if not fraud:
            self.stream_time = at if self.stream_time is None else max(self.stream_time, at)

    def due(self, until: int | None = None) -> list[tuple[str, int]]:
        """The (entity, time bucket) pairs final at ``until`` (epoch seconds; the stream time by
        default) and not handed out yet, oldest first."""
        now = self.stream_time if until is None or self.stream_time is None else until
        if now is None:
            return []
        # A bucket is final once (bucket + 1) * size + delay <= the time.
        size = self.config.bucket_seconds
        last = (now - self.delay_seconds) // size - 1
        found = []
        for entity in self.config.entities:
            start = self._next[entity]
            start = self._first[entity] if start is None else start
            if start is not None:
                found += [(entity, t) for t in range(start, last + 1)]
        return sorted(found, key=lambda pair: (pair[1], pair[0]))

    def take(self, entity: str, time_bucket: int) -> Counts:
        """The bucket's vector (transactions then frauds per entity bucket; frauds capped at
        transactions, a label of a transaction this book never saw counting none), marked
        handed out."""
        size = self.config.buckets
        vector = np.zeros(2 * size, dtype=np.uint32)
        for bucket, (transactions, frauds) in self._open[entity].pop(time_bucket, {}).items():
            vector[bucket] = transactions
            vector[size + bucket] = min(frauds, transactions)
        self._next[entity] = time_bucket + 1
        return vector


class RosterBook:
    """The roster of a session: every expected member's signed masking key, the latest each."""

    def __init__(self, members: Members, partners: Sequence[str], run: str) -> None:
        """Expect ``partners``' keys for ``run``, signed with their pinned keys."""
        if len(set(partners)) < 2:
            msg = f"secure sums need two members or more, not {sorted(set(partners))}"
            raise FederationError(msg)
        self.members, self.partners, self.run = members, tuple(sorted(set(partners))), run
        self._frames: dict[str, bytes] = {}
        self.roster: Roster | None = None

    def offer(self, frame: bytes) -> bool:
        """Take a masking-key message; whether the roster changed. Raises on a bad one."""
        message = Envelope.decode(frame, self.members)
        if message.kind != MASKING_KEY or message.run != self.run:
            return False
        if message.sender not in self.partners:
            msg = f"{message.sender!r} sent a masking key but is not one of {self.partners}"
            raise FederationError(msg)
        if self._frames.get(message.sender) == frame:
            return False
        self._frames[message.sender] = frame
        if len(self._frames) == len(self.partners):
            self.roster = Roster.from_messages(self._frames.values(), self.members, self.run)
            return True
        return False

    @property
    def missing(self) -> list[str]:
        """Members whose masking key has not come yet."""
        return [p for p in self.partners if p not in self._frames]


class Contributor:
    """A partner's side: its masking key message, and its masked vectors of the final buckets
    once the roster is complete."""

    def __init__(
        self,
        key: MemberKey,
        masking: MaskingKey,
        rosters: RosterBook,
        book: CountBook,
        ledger: Ledger,
    ) -> None:
        """Contribute ``book``'s buckets as ``key``'s member."""
        self.key, self.masking, self.rosters, self.book, self.ledger = (
            key,
            masking,
            rosters,
            book,
            ledger,
        )
        #: Rounds the ledger refused (answered for another roster before this one).
        self.refused: list[str] = []

    def masking_key_frame(self) -> bytes:
        """The signed message that publishes this member's masking key for the session."""
        return masking_key_message(self.key, self.masking, self.rosters.run)

    def contributions(self, until: int | None = None) -> list[tuple[str, bytes]]:
        """``(round id, masked message)`` of every bucket final at ``until`` (the stream time by
        default; none before the roster is complete, or while it holds another masking key of
        this member's)."""
        roster = self.rosters.roster
        if roster is None or roster.keys.get(self.key.name) != self.masking.public_key:
            return []
        out = []
        for entity, time_bucket in self.book.due(until):
            round_id = bucket_round(entity, time_bucket)
            try:
                frame = masked_message(
                    self.book.take(entity, time_bucket),
                    member=self.key,
                    masking=self.masking,
                    roster=roster,
                    run=self.rosters.run,
                    round_id=round_id,
                    ledger=self.ledger,
                )
            except FederationError:
                # Answered for another roster before (the ledger refuses): never answered twice.
                self.refused.append(round_id)
                continue
            out.append((round_id, frame))
        return out


@dataclass(frozen=True)
class SharedSums:
    """One round's published sums: ``entity``'s ``time_bucket``, dense vectors."""

    entity: str
    time_bucket: int
    transactions: _Ints
    frauds: _Ints
    members: tuple[str, ...]


def _round_of(round_id: str) -> tuple[str, int]:
    parts = round_id.split("/")
    if len(parts) != 3 or parts[0] != "shared-counts" or not parts[2].lstrip("-").isdigit():
        msg = f"{round_id!r} is not a shared-counts round"
        raise FederationError(msg)
    return parts[1], int(parts[2])


class SumsAggregator:
    """The aggregator: sums a round when every member of the roster sent its masked vector,
    and only then; publishes each sum once, signed."""

    def __init__(
        self, key: MemberKey, rosters: RosterBook, config: SharedCountsSpec, max_pending: int
    ) -> None:
        """Aggregate for ``rosters``' session; keep at most ``max_pending`` rounds waiting."""
        self.key, self.rosters, self.config, self.max_pending = key, rosters, config, max_pending
        self._pending: OrderedDict[str, dict[str, bytes]] = OrderedDict()
        self._done: set[str] = set()
        self.dropped: list[str] = []

    def offer(self, frame: bytes) -> list[tuple[str, bytes]]:
        """Take a masking key or a masked vector; ``(round id, sums message)`` of every round it
        completes. Raises :class:`FederationError` on a bad message (the caller logs and skips
        it)."""
        if self.rosters.offer(frame):
            return [done for r in list(self._pending) if (done := self._try(r)) is not None]
        message = Envelope.decode(frame, self.rosters.members)
        if message.kind != MASKED or message.run != self.rosters.run:
            return []
        entity, _ = _round_of(message.round)
        if entity not in self.config.entities or message.round in self._done:
            return []
        self._pending.setdefault(message.round, {})[message.sender] = frame
        while len(self._pending) > self.max_pending:
            self.dropped.append(self._pending.popitem(last=False)[0])
        done = self._try(message.round)
        return [] if done is None else [done]

    def _try(self, round_id: str) -> tuple[str, bytes] | None:
        roster = self.rosters.roster
        frames = self._pending.get(round_id, {})
        if roster is None or set(frames) < set(roster.names):
            return None
        fresh = {}
        for sender, frame in frames.items():
            if Envelope.decode(frame, self.rosters.members).body.get("roster") == roster.digest:
                fresh[sender] = frame
        if set(fresh) != set(roster.names):
            self._pending[round_id] = fresh  # vectors masked for an older roster are noise
            return None
        total = sum_masked(fresh.values(), self.rosters.members, roster, round_id)
        del self._pending[round_id]
        self._done.add(round_id)
        return round_id, self._sums_message(round_id, roster, total)

    def _sums_message(self, round_id: str, roster: Roster, total: Counts) -> bytes:
        entity, time_bucket = _round_of(round_id)
        size = self.config.buckets
        transactions, frauds = total[:size], total[size:]
        index = np.flatnonzero(transactions).astype("<u4")
        payload = b"".join(
            part.astype("<u4").tobytes() for part in (index, transactions[index], frauds[index])
        )
        body = {
            "entity": entity,
            "time_bucket": time_bucket,
            "buckets": size,
            "nonzero": len(index),
            "members": list(roster.names),
            "roster": roster.digest,
        }
        message = Envelope(SHARED_SUMS, self.key.name, self.rosters.run, round_id, body, payload)
        return message.encode(self.key)


def read_sums(frame: bytes, members: Members, aggregator: str, run: str) -> SharedSums | None:
    """The sums in ``frame`` if it is ``aggregator``'s, for ``run``; ``None`` for another
    session's; :class:`FederationError` for anything forged or malformed."""
    message = Envelope.decode(frame, members)
    if message.kind != SHARED_SUMS or message.run != run:
        return None
    if message.sender != aggregator:
        msg = f"sums signed by {message.sender!r}, not by the aggregator {aggregator!r}"
        raise FederationError(msg)
    body = message.body
    try:
        entity, time_bucket = _round_of(message.round)
        size, nonzero = int(body["buckets"]), int(body["nonzero"])
        members_of = tuple(str(m) for m in body["members"])
    except (KeyError, TypeError, ValueError) as exc:
        msg = f"sums of round {message.round!r} lack a field: {exc}"
        raise FederationError(msg) from exc
    if len(message.payload) != 12 * nonzero or body.get("entity") != entity:
        msg = f"sums of round {message.round!r} do not match their header"
        raise FederationError(msg)
    parts = np.frombuffer(message.payload, dtype="<u4").reshape(3, nonzero).astype(np.int64)
    if nonzero and int(parts[0].max()) >= size:
        msg = f"sums of round {message.round!r} name an entity bucket beyond {size}"
        raise FederationError(msg)
    transactions = np.zeros(size, dtype=np.int64)
    frauds = np.zeros(size, dtype=np.int64)
    transactions[parts[0]] = parts[1]
    frauds[parts[0]] = parts[2]
    if body.get("time_bucket") != time_bucket:
        msg = f"sums of round {message.round!r} name time bucket {body.get('time_bucket')}"
        raise FederationError(msg)
    return SharedSums(entity, time_bucket, transactions, frauds, members_of)
