"""What the live alerts page shows: the latest scores and alerts, and a histogram of the scores.

Pure: the page's Kafka reader (:mod:`streams.partner.alerts_page`) adds records, and the page
sends what :class:`AlertsWindow` returns as JSON. Rows hold the cells ``fraudstream alerts``
prints (:func:`streams.partner.alert_follower.alert_row`), so the page and the table agree.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
from typing import Any, Literal

from streams.core.outputs import Score
from streams.partner.alert_follower import ALERT_COLUMNS, alert_row

__all__ = ["HISTOGRAM_BINS", "AlertsWindow", "Kind", "histogram", "host_allowed", "page_row"]

#: Bars of the score histogram: equal bins over [0, 1].
HISTOGRAM_BINS = 20

#: Which topic a record came from: the scores topic or the alerts topic.
Kind = Literal["score", "alert"]


def histogram(scores: list[float], bins: int = HISTOGRAM_BINS) -> list[int]:
    """How many of ``scores`` fall in each of ``bins`` equal bins over [0, 1]: a bin holds its
    lower edge, the last one 1 too; scores outside [0, 1] count in the first or the last."""
    counts = [0] * bins
    for score in scores:
        counts[min(bins - 1, max(0, int(score * bins)))] += 1
    return counts


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
        self._kept: dict[Kind, list[tuple[float, int, dict[str, Any]]]] = {
            "score": [],
            "alert": [],
        }
        self._arrival = itertools.count()
        self.seen: dict[Kind, int] = {"score": 0, "alert": 0}
        self.skipped = 0

    def add(self, kind: Kind, score: Score) -> dict[str, Any] | None:
        """Keep ``score`` (read from the ``kind`` topic); the update to send the page, or None
        when the record is older than every one kept in a full window (counted, not shown)."""
        self.seen[kind] += 1
        kept = self._kept[kind]
        row = page_row(score)
        entry = (score.scored_at_ms, next(self._arrival), row)
        if len(kept) < self.limits[kind]:
            heapq.heappush(kept, entry)
        elif entry[:2] > kept[0][:2]:
            heapq.heapreplace(kept, entry)
        else:
            return None
        return {"type": kind, "row": row, **self._summary()}

    def skip(self) -> dict[str, Any]:
        """Count a record that is not a score; the update to send the page."""
        self.skipped += 1
        return {"type": "skipped", **self._summary()}

    def rows(self, kind: Kind) -> list[dict[str, Any]]:
        """The rows kept of ``kind``, newest first."""
        return [row for *_, row in sorted(self._kept[kind], reverse=True)]

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

    def _summary(self) -> dict[str, Any]:
        """The histogram of the scores kept (with the newest one's threshold) and the counts."""
        scores = self._kept["score"]
        newest = max(scores)[2] if scores else None
        return {
            "histogram": {
                "counts": histogram([row["score"] for *_, row in scores]),
                "threshold": None if newest is None else newest["threshold"],
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
