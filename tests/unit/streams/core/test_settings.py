"""Configuration from FRAUD_* variables: parsed, validated, frozen."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from streams.core.settings import Settings
from streams.qa.supervisor import settings_env


def test_partners_come_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    """FRAUD_PARTNERS=a,b gives two partners, in order."""
    monkeypatch.setenv("FRAUD_PARTNERS", "north, south")
    assert Settings().partners == ("north", "south")


@pytest.mark.parametrize(
    "partners", ["", "Alpha", "scoring", "federation", "a,a", "has.dot", "x" * 40]
)
def test_bad_partner_ids_are_refused(monkeypatch: pytest.MonkeyPatch, partners: str) -> None:
    """Partner ids appear in topic names: empty, reserved, duplicate or unsafe ids are refused."""
    monkeypatch.setenv("FRAUD_PARTNERS", partners)
    with pytest.raises(ValidationError):
        Settings()


def test_settings_are_frozen() -> None:
    """Settings cannot be changed after they are built."""
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.broker = "elsewhere:9092"  # type: ignore[misc]


def test_password_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """A SASL password never shows in the settings' repr."""
    monkeypatch.setenv("FRAUD_SASL_PASSWORD", "hunter2")
    assert "hunter2" not in repr(Settings())


def test_settings_env_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    """settings_env() gives the variables that rebuild the same settings in another process."""
    original = Settings(partners=("north", "south"), broker="h1:1,h2:2", sasl_password="pw")
    for name, value in settings_env(original).items():
        monkeypatch.setenv(name, value)
    assert Settings() == original
    assert Settings().bootstrap_servers == ["h1:1", "h2:2"]
