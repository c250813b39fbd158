"""The fault plan of FRAUD_FAULT_POINTS."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.runtime.faults import POINTS, parse_plan


def test_a_plan_names_points_and_hits() -> None:
    """Points of the code with a hit count from 1; empty means no fault."""
    assert parse_plan("") == {}
    assert parse_plan("gateway.before_request=3, decryptor.before_output=1") == {
        "gateway.before_request": 3,
        "decryptor.before_output": 1,
    }
    assert set(POINTS) == {
        "gateway.before_request",
        "scorer.during_evaluation",
        "decryptor.before_output",
        "decryptor.after_output",
    }
    # Each is a place in the code.
    code = "".join(path.read_text() for path in Path("streams").rglob("*.py"))
    assert all(f'fault_point("{point}")' in code for point in POINTS)


@pytest.mark.parametrize("text", ["gateway.typo=1", "scorer.during_evaluation=0", "x", "a=b"])
def test_a_plan_naming_no_point_or_no_count_is_refused(text: str) -> None:
    """A misspelt point would silently never fire: refused."""
    with pytest.raises(ValueError, match="FRAUD_FAULT_POINTS"):
        parse_plan(text)
