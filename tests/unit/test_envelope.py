"""The ciphertext envelope: metadata checked before the FHE library sees anything."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.errors import CiphertextError, KeyMismatchError, ModelMismatchError
from models.fhe.envelope import open_envelope, seal

PAYLOAD = b"\x00ciphertext\xff" * 10


def test_round_trip_keeps_metadata_and_payload() -> None:
    """What is sealed opens with the same kind, model, key and bytes."""
    opened = open_envelope(
        seal("input", "m1", "k1", PAYLOAD), "input", model_version="m1", key_id="k1"
    )
    assert (opened.kind, opened.model_version, opened.key_id, opened.payload) == (
        "input",
        "m1",
        "k1",
        PAYLOAD,
    )


def test_wrong_kind_model_or_key_are_named() -> None:
    """A verdict is not an input; another model or key is a specific error."""
    sealed = seal("verdict", "m1", "k1", PAYLOAD)
    with pytest.raises(CiphertextError, match="expected an encrypted input"):
        open_envelope(sealed, "input")
    with pytest.raises(ModelMismatchError):
        open_envelope(sealed, "verdict", model_version="m2")
    with pytest.raises(KeyMismatchError):
        open_envelope(sealed, "verdict", key_id="k2")


@pytest.mark.parametrize("cut", [0, 3, 6, 20, -1])
def test_truncation_is_detected(cut: int) -> None:
    """Any truncation gives a CiphertextError."""
    with pytest.raises(CiphertextError):
        open_envelope(seal("input", "m", "k", PAYLOAD)[:cut], "input")


def test_a_flipped_payload_bit_is_detected() -> None:
    """The digest catches a change in the payload."""
    sealed = bytearray(seal("input", "m", "k", PAYLOAD))
    sealed[-5] ^= 0x01
    with pytest.raises(CiphertextError, match="digest mismatch"):
        open_envelope(bytes(sealed), "input")


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    """Whatever the bytes, opening raises CiphertextError or succeeds."""
    with contextlib.suppress(CiphertextError):
        open_envelope(data, "input")


def test_non_bytes_are_refused() -> None:
    """None or text is not an envelope."""
    with pytest.raises(CiphertextError):
        open_envelope(None, "input")
