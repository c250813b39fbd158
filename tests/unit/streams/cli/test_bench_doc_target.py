"""Which docs block a ``bench pipeline`` run goes to, and the command written above it: one
block per design, one beside it for each priority that is not the bench's own."""

from __future__ import annotations

from pathlib import Path

from streams.cli.bench import _doc_target
from streams.qa.bench import OTHERS_NICE

_MODEL = Path("/m")


def test_the_default_priority_goes_to_the_design_s_own_block() -> None:
    command, block = _doc_target(_MODEL, 80, 20, 5, 4, None, "at_least_once", OTHERS_NICE, False)
    assert block == "pipeline-blocks"
    assert command == (
        "fraudstream bench pipeline --model /m --transactions 80 --warmup 20 --runs 5 --blocks 4"
    )


def test_another_nice_and_the_idle_class_each_name_a_block_beside_it() -> None:
    assert _doc_target(_MODEL, 40, 20, 1, 1, None, "at_least_once", 0, False) == (
        "fraudstream bench pipeline --model /m --transactions 40 --warmup 20 --others-nice 0",
        "pipeline-nice-0",
    )
    command, block = _doc_target(_MODEL, 80, 20, 3, 4, None, "at_least_once", OTHERS_NICE, True)
    assert block == "pipeline-blocks-idle"
    assert command.endswith("--runs 3 --blocks 4 --others-idle")
