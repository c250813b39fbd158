"""What the live alerts page shows: the latest scores and alerts, and a histogram of the scores.

Pure: the page's Kafka reader (:mod:`streams.partner.alerts_page`) adds records a batch at a
time, and the page sends what :class:`AlertsWindow` returns as JSON. Rows hold the cells
``fraudstream alerts`` prints (:func:`streams.partner.alert_follower.alert_row`), so the page and
the table agree. Adding a record costs O(log n) in the window's size n: the histogram's bins and
the newest score are kept as records come and go, never recounted.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import math
from collections.abc import Iterable
from typing import Any, Literal

from streams.core.outputs import Score
from streams.partner.alert_follower import ALERT_COLUMNS, alert_row

__all__ = [
    "HISTOGRAM_BINS",
    "AlertsWindow",
    "Kind",
    "histogram",
    "histogram_bin",
    "host_allowed",
    "page_row",
    "shown",
]

#: Bars of the score histogram: equal bins over [0, 1].
HISTOGRAM_BINS = 20

#: Which topic a record came from: the scores topic or the alerts topic.
Kind = Literal["score", "alert"]

#: A kept record: (scored_at_ms, arrival, row); the arrival number makes every key unique.
_Entry = tuple[float, int, dict[str, Any]]


def histogram_bin(score: float, bins: int = HISTOGRAM_BINS) -> int:
    """The bin of ``score`` among ``bins`` equal bins over [0, 1]: a bin holds its lower edge,
    the last one 1 too; a score outside [0, 1] counts in the first or the last."""
    return min(bins - 1, int(min(1.0, max(0.0, score)) * bins))


def histogram(scores: Iterable[float], bins: int = HISTOGRAM_BINS) -> list[int]:
    """How many of ``scores`` fall in each of ``bins`` equal bins over [0, 1]
    (:func:`histogram_bin`)."""
    counts = [0] * bins
    for score in scores:
        counts[histogram_bin(score, bins)] += 1
    return counts


def shown(score: Score) -> bool:
    """Whether the page can show ``score``: its score, threshold and time are finite numbers
    (the record type takes ``inf`` and ``nan``, which no bin, sort or scale can place)."""
    return all(math.isfinite(x) for x in (score.score, score.threshold, score.scored_at_ms))


def page_row(score: Score) -> dict[str, Any]:
    """One record as the page shows it: the table's cells, and what the page sorts and marks by."""
    return {
        "cells": alert_row(score),
        "score": score.score,
        "threshold": score.threshold,
        "alert": score.alert,
        "scored_at_ms": score.scored_at_ms,
    }


class AlertsWindow:
    """The latest ``max_scores`` scores and ``max_alerts`` alerts, by the time they were
    written (records come partition by partition, not in time order), with running counts."""

    def __init__(self, max_scores: int, max_alerts: int) -> None:
        self.limits: dict[Kind, int] = {"score": max_scores, "alert": max_alerts}
        # Min-heaps by (scored_at_ms, arrival): the oldest record is the one dropped.
        self._kept: dict[Kind, list[_Entry]] = {"score": [], "alert": []}
        self._arrival = itertools.count()
        # The histogram of the scores kept and the newest of them, kept as scores come and go.
        self._bins = [0] * HISTOGRAM_BINS
        self._newest: _Entry | None = None
        self.seen: dict[Kind, int] = {"score": 0, "alert": 0}
        self.skipped = 0

    def add(self, kind: Kind, score: Score) -> dict[str, Any] | None:
        """Keep ``score`` (read from the ``kind`` topic); its row, or None when it is not kept:
        older than every one kept in a full window (counted, not shown), or not :func:`shown`
        (counted as skipped). O(log n) in the window's size."""
        entry = self._keep(kind, score)
        return None if entry is None else entry[2]

    def add_batch(self, records: Iterable[tuple[Kind, Score | None]]) -> dict[str, Any]:
        """Add the records one poll read (None: a record that is not a score, skipped); the
        one update to send the page: the rows kept, newest first, the histogram and counts."""
        added: dict[Kind, list[_Entry]] = {"score": [], "alert": []}
        for kind, score in records:
            if score is None:
                self.skipped += 1
            elif (entry := self._keep(kind, score)) is not None:
                added[kind].append(entry)
        # A row a later one of the batch pushed out is not sent: it is older than the oldest kept.
        rows = {
            kind: [
                row for ms, n, row in sorted(entries, reverse=True) if self._kept_now(kind, ms, n)
            ]
            for kind, entries in added.items()
        }
        return {
            "type": "records",
            "alerts": rows["alert"],
            "scores": rows["score"],
            **self._summary(),
        }

    def rows(self, kind: Kind) -> list[dict[str, Any]]:
        """The rows kept of ``kind``, newest first."""
        return [row for *_, row in sorted(self._kept[kind], reverse=True)]

    def histogram(self) -> list[int]:
        """The histogram of the scores kept (a copy of the running counts)."""
        return list(self._bins)

    def snapshot(self) -> dict[str, Any]:
        """Everything the page shows (``/recent.json``, and the first event of ``/events``)."""
        return {
            "type": "snapshot",
            "columns": [title for title, _ in ALERT_COLUMNS],
            "limits": dict(self.limits),
            "alerts": self.rows("alert"),
            "scores": self.rows("score"),
            **self._summary(),
        }

    def _keep(self, kind: Kind, score: Score) -> _Entry | None:
        """Push ``score`` into its heap (replacing the oldest when full); the entry, or None."""
        if not shown(score):
            self.skipped += 1
            return None
        self.seen[kind] += 1
        kept = self._kept[kind]
        key = (score.scored_at_ms, next(self._arrival))
        full = len(kept) >= self.limits[kind]
        if full and (not kept or key <= kept[0][:2]):
            return None
        entry = (*key, page_row(score))
        if full:
            dropped = heapq.heapreplace(kept, entry)
            if kind == "score":
                self._bins[histogram_bin(dropped[2]["score"])] -= 1
        else:
            heapq.heappush(kept, entry)
        if kind == "score":
            self._bins[histogram_bin(score.score)] += 1
            # The oldest is dropped, so the newest goes only when a newer one replaces it.
            if self._newest is None or key > self._newest[:2]:
                self._newest = entry
        return entry

    def _kept_now(self, kind: Kind, scored_at_ms: float, arrival: int) -> bool:
        """Whether the entry of key (``scored_at_ms``, ``arrival``), once kept, still is."""
        kept = self._kept[kind]
        return len(kept) < self.limits[kind] or (scored_at_ms, arrival) >= kept[0][:2]

    def _summary(self) -> dict[str, Any]:
        """The histogram of the scores kept (with the newest one's threshold) and the counts."""
        newest = self._newest
        return {
            "histogram": {
                "counts": self.histogram(),
                "threshold": None if newest is None else newest[2]["threshold"],
            },
            "counts": {
                "scores": self.seen["score"],
                "alerts": self.seen["alert"],
                "skipped": self.skipped,
            },
        }


def host_allowed(host: str | None) -> bool:
    """Whether a request's ``Host`` header may reach the page: an IP address, ``localhost``, a
    one-label name or a cluster name (``….svc``, ``….cluster.local``). A public name is refused:
    it is what a DNS-rebinding attack sends (a web page the analyst visits whose name its
    owner re-points at 127.0.0.1 to read the page through the analyst's browser)."""
    if not host:
        return False
    if host.startswith("["):  # [IPv6]:port
        name = host[1 : host.find("]")]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.rstrip(".").lower()
    if not name:
        return False
    try:
        ipaddress.ip_address(name)
    except ValueError:
        pass
    else:
        return True
    return "." not in name or name.endswith((".localhost", ".svc", ".cluster.local"))
