"""Federation messages: signed by their sender, versioned, their payload bound to the header."""

from __future__ import annotations

import pytest

from models.errors import FederationError
from models.federation.wire import Envelope, MemberKey, Members


def _pair() -> tuple[MemberKey, Members]:
    alpha = MemberKey.generate("alpha")
    return alpha, Members.of(alpha, MemberKey.generate("coordinator"))


def test_a_message_round_trips() -> None:
    """What is encoded and signed decodes to the same message."""
    alpha, members = _pair()
    message = Envelope("trees", "alpha", "run-1", "trees-0", {"rows": 3}, b"\x00\x01payload")
    assert Envelope.decode(message.encode(alpha), members) == message


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda f: f[:-1] + bytes([f[-1] ^ 1]), "payload .* was altered"),
        (lambda f: f.replace(b'"rows":3', b'"rows":4'), "not signed by its key"),
        (lambda f: f.replace(b'"v":1', b'"v":2'), "format v2"),
        (lambda f: b"XXXX" + f[4:], "no FSF1 frame"),
        (lambda f: f[:20], "truncated"),
    ],
)
def test_a_tampered_message_is_refused(tamper, reason: str) -> None:
    """A changed payload, header, version or frame is refused, saying which."""
    alpha, members = _pair()
    frame = Envelope("trees", "alpha", "run-1", "trees-0", {"rows": 3}, b"payload").encode(alpha)
    with pytest.raises(FederationError, match=reason):
        Envelope.decode(tamper(frame), members)


def test_a_stranger_or_an_impostor_is_refused() -> None:
    """A sender outside the members, or one signing under another's name, is refused."""
    alpha, members = _pair()
    stranger = MemberKey.generate("mallory")
    with pytest.raises(FederationError, match="not a member"):
        Envelope.decode(Envelope("trees", "mallory", "r", "r").encode(stranger), members)
    impostor = Envelope("trees", "coordinator", "r", "r").encode(alpha)
    with pytest.raises(FederationError, match="not signed by its key"):
        Envelope.decode(impostor, members)


def test_member_keys_are_saved_private_and_reloaded(tmp_path) -> None:
    """A member key is made once (mode 0600) and the same key is loaded after."""
    path = tmp_path / "alpha.key"
    made = MemberKey.load_or_create("alpha", path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert MemberKey.load_or_create("alpha", path).public_key == made.public_key
    assert Members.from_json(Members.of(made).to_json()).keys == {"alpha": made.public_key}
