"""What a fuzz run found (:mod:`streams.qa.fuzz`), and damaged recordings checked in-process.

A run is good when every bad input was refused with a reason of this project (a dead letter
whose error class is one of its errors, or a logged refusal), no worker crashed, no consumer
group was left behind, and the good transaction sent after the bad ones got exactly the features
and score the batch computation gives.
"""

from __future__ import annotations

import gzip
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from streams.core.errors import FraudStreamError, RecordingError
from streams.qa.recording_file import RecordedMessage, RecordingHeader, read_recording
from streams.qa.recording_file import write_recording as _write

__all__ = ["FuzzReport", "damaged_recordings", "project_error_names"]


def project_error_names() -> frozenset[str]:
    """The class names of every error of this project (a dead letter's ``error_class``)."""
    found: set[str] = set()
    todo: list[type[BaseException]] = [FraudStreamError]
    while todo:
        kind = todo.pop()
        found.add(kind.__name__)
        todo += kind.__subclasses__()
    return frozenset(found)


@dataclass
class FuzzReport:
    """Counts by family and kind, and what went wrong (nothing, in a good run)."""

    seed: int
    model: str = ""
    sent: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    error_classes: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    good_features_diff: float | None = None
    good_score_diff: float | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Everything refused with a reason, nothing crashed or stuck, the good one exact."""
        return (
            self.sent == self.refused
            and not self.unexpected
            and not self.crashed
            and not self.stuck
            and self.good_features_diff is not None
            and self.good_features_diff <= 1e-9
            and self.good_score_diff is not None
            and self.good_score_diff <= 1e-9
        )

    def markdown(self) -> str:
        """The report as Markdown (what docs/threat-model.md shows)."""
        rows = ["| family | sent | refused with a reason |", "|---|---:|---:|"]
        rows += [f"| {f} | {n} | {self.refused[f]} |" for f, n in sorted(self.sent.items())]
        rows.append(f"| **all** | **{self.sent.total()}** | **{self.refused.total()}** |")
        classes = ", ".join(f"{name} {n}" for name, n in self.error_classes.most_common())
        lines = [
            f"Model {self.model}, seed {self.seed}, {len(self.kinds)} kinds of bad input, "
            f"{self.seconds:.0f} s.",
            "",
            *rows,
            "",
            f"- error classes of the dead letters: {classes}",
            f"- refused without a reason of this project: {len(self.unexpected)}",
            f"- workers crashed: {len(self.crashed)}; consumer groups left behind: "
            f"{len(self.stuck)}",
            f"- the good transaction after them, on the same card: features within "
            f"{_diff(self.good_features_diff)} of the batch computation, score within "
            f"{_diff(self.good_score_diff)} of the bare FHE evaluation of those features",
            f"- verdict: {'PASS' if self.ok else 'FAIL'}",
        ]
        return "\n".join(lines)


def _diff(value: float | None) -> str:
    return "(not scored)" if value is None else f"{value:.1e}"


def damaged_recordings(folder: Path, count: int, rng: random.Random, report: FuzzReport) -> None:
    """Write ``count`` damaged recordings, read each back; count the refusals in ``report``."""
    folder.mkdir(parents=True, exist_ok=True)
    good = folder / "good.rec.gz"
    message = RecordedMessage("fraud.alpha.transactions.v1", 0, 0, 1, b"1", b"{}")
    _write(good, RecordingHeader(source="fuzz", topics=(message.topic,)), [message] * 3)
    whole = good.read_bytes()
    damages = {
        "not_gzip": lambda: rng.randbytes(rng.randint(1, 300)),
        "truncated": lambda: whole[: len(whole) - rng.randint(1, 8)],
        "junk_line": lambda: whole + gzip.compress(b"{not json\n"),
        "unterminated_line": lambda: whole + gzip.compress(b'{"topic": "x"}'),
        "other_version": lambda: gzip.compress(orjson.dumps({"recording": 99}) + b"\n"),
        "not_an_object": lambda: gzip.compress(b"[1, 2, 3]\n"),
    }
    for index in range(count):
        kind = rng.choice(sorted(damages))
        path = folder / f"bad-{index}.rec.gz"
        path.write_bytes(damages[kind]())
        report.sent["recordings"] += 1
        report.kinds[f"recording/{kind}"] += 1
        try:
            list(read_recording(path))
        except RecordingError:
            report.refused["recordings"] += 1
        except Exception as exc:  # noqa: BLE001  (the point: anything else is a finding)
            report.unexpected.append(f"recording/{kind}: {type(exc).__name__}")
        else:
            report.unexpected.append(f"recording/{kind}: accepted")
