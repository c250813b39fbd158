"""Secure aggregation: the aggregator learns the sum of the members' vectors and nothing else.

Pairwise masking after Bonawitz et al. ("Practical Secure Aggregation for Privacy-Preserving
Machine Learning", CCS 2017), without their secret sharing of masks:

- Each member has an X25519 masking key for the session and publishes its public half, signed
  with its Ed25519 member key (:func:`masking_key_message`): the aggregator relays the keys but
  cannot swap one in (it could then remove that pair's mask).
- For a round over a roster of members, each pair (a, b) derives a shared secret by X25519, then
  a mask by HKDF-SHA256 (salted with the round's id and the pair) and the ChaCha20 keystream.
  Member a sends ``x_a + Σ_{b > a} m_ab - Σ_{b < a} m_ab (mod 2^32)``: each mask is added once and
  subtracted once, so the sum over the whole roster is ``Σ x`` and each masked vector on its own
  is uniformly random to anyone without one of its pair secrets.
- **A missing member reveals nothing partial**: without its vector the masks of its pairs do not
  cancel and the partial sum is noise. The round can be retried (the same roster, the same round
  id: a member re-sends the very same masked vector) or skipped; it is never re-run over a
  smaller roster, because the difference of two sums over rosters that differ by one member is
  that member's vector. Each member keeps a :class:`Ledger` of the roster it answered for each
  round id and refuses any other (Bonawitz et al. recover drop-outs by secret sharing instead;
  skipping keeps this module small, and a skipped round costs only that round's sums).
- A roster of one is refused (its "sum" is the vector itself).

Values are unsigned 32-bit counts; sums wrap modulo 2^32 (the caller keeps them far below).
SecAgg+ (Bell et al., CCS 2020) masks over a sparse graph of pairs to scale to thousands of
members; a consortium of banks has a handful, so every pair is masked here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from models.errors import FederationError
from models.federation.wire import MASKED, MASKING_KEY, Envelope, MemberKey, Members

__all__ = [
    "Counts",
    "Ledger",
    "MaskingKey",
    "Roster",
    "masked_message",
    "masking_key_message",
    "sum_masked",
    "unmasked_sum",
]

Counts = npt.NDArray[np.uint32]
_MASK_INFO = b"fraudstream secure sum mask v1"


class MaskingKey:
    """A member's X25519 key for a session of secure sums."""

    def __init__(self, key: X25519PrivateKey | None = None) -> None:
        """Wrap ``key``, or make a fresh one."""
        self._key = key or X25519PrivateKey.generate()
        self.public_key = self._key.public_key().public_bytes_raw()

    @classmethod
    def load_or_create(cls, path: Path) -> MaskingKey:
        """The key saved at ``path`` (32 raw bytes), made and saved (mode 0600) if missing: a
        restarted member keeps its masking key, so it can re-send a round's very vector."""
        if path.exists():
            raw = path.read_bytes()
            if len(raw) != 32:
                msg = f"{path} is not a 32-byte X25519 private key"
                raise FederationError(msg)
            return cls(X25519PrivateKey.from_private_bytes(raw))
        key = X25519PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(key.private_bytes_raw())
        return cls(key)

    def secret_with(self, peer_public: bytes) -> bytes:
        """The X25519 secret shared with the holder of ``peer_public``."""
        try:
            return self._key.exchange(X25519PublicKey.from_public_bytes(peer_public))
        except ValueError as exc:
            msg = f"a roster's masking key is not an X25519 public key: {exc}"
            raise FederationError(msg) from exc


def masking_key_message(member: MemberKey, masking: MaskingKey, run: str) -> bytes:
    """The signed message that publishes ``member``'s masking key for ``run``."""
    message = Envelope(MASKING_KEY, member.name, run, "keys", payload=masking.public_key)
    return message.encode(member)


@dataclass(frozen=True)
class Roster:
    """The members of one round and their masking keys, in a fixed order."""

    keys: Mapping[str, bytes]

    @classmethod
    def from_messages(cls, frames: Iterable[bytes], members: Members, run: str) -> Roster:
        """The roster of the signed masking-key messages ``frames`` (each checked)."""
        keys: dict[str, bytes] = {}
        for frame in frames:
            message = Envelope.decode(frame, members)
            if message.kind != MASKING_KEY or message.run != run or len(message.payload) != 32:
                msg = f"{message.sender!r} sent a {message.kind!r} for run {message.run!r} where "
                msg += f"a masking key for run {run!r} was expected"
                raise FederationError(msg)
            keys[message.sender] = message.payload
        return cls(keys)

    @property
    def names(self) -> tuple[str, ...]:
        """The members, sorted: the order of the masks' signs."""
        return tuple(sorted(self.keys))

    @property
    def digest(self) -> str:
        """SHA-256 of the sorted (member, key) pairs: what a member promises to answer once."""
        pairs = [[name, self.keys[name].hex()] for name in self.names]
        return hashlib.sha256(json.dumps(pairs).encode()).hexdigest()

    def only(self, names: Iterable[str]) -> Roster:
        """The roster of ``names`` (each must be in this one)."""
        return Roster({name: self.keys[name] for name in names})


def _pair_mask(secret: bytes, round_id: str, pair: tuple[str, str], length: int) -> Counts:
    salt = hashlib.sha256(json.dumps([round_id, *pair]).encode()).digest()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_MASK_INFO).derive(secret)
    keystream = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()
    return np.frombuffer(keystream.update(bytes(4 * length)), dtype="<u4")


def _masked(values: Counts, me: str, masking: MaskingKey, roster: Roster, round_id: str) -> Counts:
    if me not in roster.keys:
        msg = f"{me!r} is asked to mask a round whose roster leaves it out"
        raise FederationError(msg)
    if len(roster.keys) < 2:
        msg = f"a round over {len(roster.keys)} member cannot hide anyone's vector: refused"
        raise FederationError(msg)
    if masking.public_key != roster.keys[me]:
        msg = f"the roster holds another masking key for {me!r} than its own"
        raise FederationError(msg)
    masked = np.asarray(values, dtype="<u4").copy()
    for peer in roster.names:
        if peer == me:
            continue
        pair = (min(me, peer), max(me, peer))
        mask = _pair_mask(masking.secret_with(roster.keys[peer]), round_id, pair, len(masked))
        if me < peer:
            masked += mask
        else:
            masked -= mask
    return masked


class Ledger:
    """The roster a member answered for each round id; a second roster for one round is refused.

    Kept in a JSON file when given a path, so a restarted member still refuses.
    """

    def __init__(self, path: Path | None = None) -> None:
        """Start empty, or from ``path``."""
        self._path = path
        self._answered: dict[str, str] = {}
        if path is not None and path.exists():
            self._answered = json.loads(path.read_text())

    def promise(self, round_id: str, roster: Roster) -> None:
        """Record the answer, or :class:`FederationError` if another roster had this round."""
        answered = self._answered.get(round_id)
        if answered is not None and answered != roster.digest:
            msg = (
                f"round {round_id!r} was already answered for another roster: answering this one "
                "too would let the aggregator subtract the sums"
            )
            raise FederationError(msg)
        if answered is None:
            self._answered[round_id] = roster.digest
            if self._path is not None:
                self._path.write_text(json.dumps(self._answered))


def masked_message(
    values: Counts,
    *,
    member: MemberKey,
    masking: MaskingKey,
    roster: Roster,
    run: str,
    round_id: str,
    ledger: Ledger,
) -> bytes:
    """``member``'s signed, masked vector for one round (promised in ``ledger`` first)."""
    ledger.promise(round_id, roster)
    masked = _masked(values, member.name, masking, roster, round_id)
    body = {"roster": roster.digest, "length": len(masked)}
    return Envelope(MASKED, member.name, run, round_id, body, masked.tobytes()).encode(member)


def sum_masked(frames: Iterable[bytes], members: Members, roster: Roster, round_id: str) -> Counts:
    """The sum of the roster's masked vectors for ``round_id``: every member's, or an error
    (a partial sum is noise and is never computed)."""
    vectors: dict[str, Counts] = {}
    for frame in frames:
        message = Envelope.decode(frame, members)
        if message.kind != MASKED or message.round != round_id:
            continue
        if message.body.get("roster") != roster.digest or message.sender not in roster.keys:
            msg = f"{message.sender!r} masked round {round_id!r} for another roster"
            raise FederationError(msg)
        vectors[message.sender] = np.frombuffer(message.payload, dtype="<u4")
    missing = sorted(set(roster.names) - set(vectors))
    if missing:
        msg = f"round {round_id!r} misses {', '.join(missing)}: its sum cannot be unmasked"
        raise FederationError(msg)
    return unmasked_sum(vectors.values())


def unmasked_sum(vectors: Iterable[Counts]) -> Counts:
    """Σ vectors modulo 2^32 (the masks cancel when every member's vector is there)."""
    total: Counts | None = None
    for vector in vectors:
        if total is None:
            total = np.asarray(vector, dtype="<u4").copy()
        elif len(vector) != len(total):
            msg = f"masked vectors of {len(total)} and {len(vector)} values cannot be summed"
            raise FederationError(msg)
        else:
            total += vector
    if total is None:
        msg = "no masked vector to sum"
        raise FederationError(msg)
    return total
