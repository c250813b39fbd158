"""Resident memory of running processes over time: sampled, written to a CSV, fitted, drawn.

:class:`RssSampler` samples, every ``interval_s`` seconds in a thread of its own, the RSS of
each named process and, as a second series ``<name> (children)``, the summed RSS of all its
descendants (a scorer's FHE pool processes), and appends each sample to a CSV as it is taken.
:func:`summarize` gives per series the RSS after a warm-up, at the end, the maximum and the
least-squares slope in MB per hour; :func:`plot_rss` draws the curves to a PNG.
"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psutil

__all__ = ["RssSampler", "Sample", "SeriesSummary", "fit_slope", "plot_rss", "summarize"]

_MB = 1024 * 1024
_CSV_FIELDS = ("elapsed_s", "utc", "phase", "series", "pid", "processes", "rss_mb")


@dataclass(frozen=True)
class Sample:
    """One series' RSS at one instant (seconds since the sampler started)."""

    elapsed_s: float
    phase: str
    series: str
    pid: int
    processes: int
    rss_mb: float


@dataclass(frozen=True)
class SeriesSummary:
    """A series after the warm-up: first and last sample, maximum, slope (None: too few)."""

    series: str
    samples: int
    start_mb: float
    end_mb: float
    max_mb: float
    slope_mb_per_h: float | None


def _rss(pid: int) -> tuple[float, int, float] | None:
    """(RSS of ``pid``, how many descendants, their summed RSS) in MB; None once it is gone."""
    try:
        process = psutil.Process(pid)
        own = process.memory_info().rss / _MB
        children = process.children(recursive=True)
    except psutil.Error:
        return None
    total = 0.0
    for child in children:
        try:
            total += child.memory_info().rss / _MB
        except psutil.Error:
            continue  # it ended between the listing and the reading
    return own, len(children), total


class RssSampler:
    """Samples the processes ``targets()`` names (name → pid, None while it is not running)
    every ``interval_s`` seconds until :meth:`stop`; each sample goes to ``csv_path`` at once."""

    def __init__(
        self,
        targets: Callable[[], Mapping[str, int | None]],
        csv_path: Path,
        interval_s: float,
    ) -> None:
        self.targets, self.csv_path, self.interval_s = targets, csv_path, interval_s
        self.samples: list[Sample] = []
        #: A label written with each sample (the run's stage); set it from outside.
        self.phase = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._started = 0.0

    def start(self) -> None:
        """Take the first sample now, then one every ``interval_s`` seconds."""
        self.csv_path.parent.mkdir(parents=True, exist_ok=True)
        with self.csv_path.open("w", newline="") as handle:
            csv.writer(handle).writerow(_CSV_FIELDS)
        self._started = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        """Take a last sample and stop."""
        self._stop.set()
        self._thread.join()

    @property
    def elapsed_s(self) -> float:
        """Seconds since :meth:`start` (the samples' clock)."""
        return time.monotonic() - self._started

    def _loop(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval_s):
                self.sample()
                return

    def sample(self) -> list[Sample]:
        """Sample every target once; return (and keep, and write) the samples."""
        elapsed, phase = round(self.elapsed_s, 1), self.phase
        taken: list[Sample] = []
        for name, pid in self.targets().items():
            found = None if pid is None else _rss(pid)
            if pid is None or found is None:
                continue
            own, children, children_mb = found
            taken.append(Sample(elapsed, phase, name, pid, 1, round(own, 1)))
            if children:
                series = f"{name} (children)"
                taken.append(Sample(elapsed, phase, series, pid, children, round(children_mb, 1)))
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        with self.csv_path.open("a", newline="") as handle:
            writer = csv.writer(handle)
            for s in taken:
                writer.writerow((s.elapsed_s, stamp, s.phase, s.series, s.pid, s.processes,
                                 s.rss_mb))  # fmt: skip
        self.samples.extend(taken)
        return taken


def fit_slope(elapsed_s: Sequence[float], rss_mb: Sequence[float]) -> float | None:
    """The least-squares slope of RSS over time in MB per hour; None with fewer than 3 points
    or no time between them."""
    if len(elapsed_s) < 3 or max(elapsed_s) == min(elapsed_s):
        return None
    hours = np.asarray(elapsed_s, dtype=float) / 3600.0
    slope, _ = np.polyfit(hours, np.asarray(rss_mb, dtype=float), 1)
    return float(slope)


def summarize(samples: Sequence[Sample], after_s: float) -> list[SeriesSummary]:
    """Each series' summary over its samples taken at or after ``after_s`` (the warm-up's end),
    in the order the series first appear."""
    names = list(dict.fromkeys(s.series for s in samples))
    summaries = []
    for name in names:
        kept = [s for s in samples if s.series == name and s.elapsed_s >= after_s]
        if not kept:
            continue
        times, values = [s.elapsed_s for s in kept], [s.rss_mb for s in kept]
        summaries.append(
            SeriesSummary(
                name, len(kept), values[0], values[-1], max(values), fit_slope(times, values)
            )
        )
    return summaries


def plot_rss(samples: Sequence[Sample], path: Path, *, warmup_s: float, title: str) -> None:
    """RSS over time, one line per series, each phase but the main one shaded and named, the
    warm-up's end marked, to a PNG at ``path``."""
    import matplotlib as mpl  # noqa: PLC0415  (only the soak draws; keep the CLI's start fast)

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, axes = plt.subplots(figsize=(9, 4.5), dpi=110)
    for name in dict.fromkeys(s.series for s in samples):
        kept = [s for s in samples if s.series == name]
        axes.plot([s.elapsed_s / 60 for s in kept], [s.rss_mb for s in kept], label=name)
    for phase, (first, last) in _phase_spans(samples).items():
        if phase != "live":
            axes.axvspan(first / 60, last / 60, color="grey", alpha=0.12)
            axes.annotate(phase, ((first + last) / 120, 0.02), xycoords=("data", "axes fraction"),
                          ha="center", fontsize=7, color="grey")  # fmt: skip
    axes.axvline(warmup_s / 60, color="grey", linestyle=":", label="end of warm-up")
    axes.set_xlabel("minutes since the workers started")
    axes.set_ylabel("RSS (MB)")
    axes.set_title(title, fontsize=9)
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


def _phase_spans(samples: Sequence[Sample]) -> dict[str, tuple[float, float]]:
    """Each phase's first and last sample time."""
    spans: dict[str, tuple[float, float]] = {}
    for s in samples:
        first, _ = spans.get(s.phase, (s.elapsed_s, s.elapsed_s))
        spans[s.phase] = (first, s.elapsed_s)
    return spans
