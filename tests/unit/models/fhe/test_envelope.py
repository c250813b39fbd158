"""The ciphertext envelope: metadata checked before the FHE library sees anything."""

from __future__ import annotations

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


SEALED = seal("input", "m1", "k1", PAYLOAD)


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A sealed envelope truncated, extended or with bytes overwritten, or any bytes at all."""
    how = draw(st.sampled_from(["truncate", "extend", "overwrite", "anything"]))
    if how == "anything":
        return draw(st.binary(max_size=300))
    if how == "truncate":
        return SEALED[: draw(st.integers(0, len(SEALED) - 1))]
    if how == "extend":
        return SEALED + draw(st.binary(min_size=1, max_size=20))
    at = draw(st.integers(0, len(SEALED) - 1))
    patch = draw(st.binary(min_size=1, max_size=8))
    return SEALED[:at] + patch + SEALED[at + len(patch) :]


@given(damaged())
def test_damaged_bytes_are_refused_or_open_to_exactly_what_was_sealed(data: bytes) -> None:
    """Opening bytes either raises CiphertextError or gives back exactly the sealed kind,
    model, key and payload (a change that kept the bytes as they were): never anything else."""
    try:
        opened = open_envelope(data, "input")
    except CiphertextError as exc:
        reason = str(exc)
    else:
        reason = ""
    if reason:
        return
    assert data == SEALED
    assert (opened.kind, opened.model_version, opened.key_id, opened.payload) == (
        "input",
        "m1",
        "k1",
        PAYLOAD,
    )


def test_non_bytes_are_refused() -> None:
    """None or text is not an envelope."""
    with pytest.raises(CiphertextError):
        open_envelope(None, "input")


def test_a_changed_header_field_or_an_envelope_of_the_first_layout_is_refused() -> None:
    """The digest covers the kind, model and key as well as the payload: a key id edited in
    the header (length kept) is refused; an FSE1 envelope (payload digest only) is refused by
    name."""
    edited = SEALED.replace(b'"key":"k1"', b'"key":"k2"')
    assert edited != SEALED
    with pytest.raises(CiphertextError, match="digest mismatch"):
        open_envelope(edited, "input")
    with pytest.raises(CiphertextError, match="earlier release"):
        open_envelope(b"FSE1" + SEALED[4:], "input")
