"""The soak run's feed (wrapped data, labels at their time) and its memory arithmetic."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from pathlib import Path

import pytest

from streams.qa.data_feed import label_time
from streams.qa.memory_samples import Sample, fit_slope, summarize
from streams.qa.soak_feed import soak_feed

_HEADER = "TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_FRAUD\n"


def _rows(path: Path) -> Path:
    """Three days, two transactions a day, the first one a fraud."""
    lines = [
        f"{i},2018-06-{18 + i // 2:02d} {10 + i % 2}:00:00,{i % 3},{i},12.5,{int(i == 0)}\n"
        for i in range(6)
    ]
    path.write_text(_HEADER + "".join(lines))
    return path


def test_the_feed_wraps_with_later_times_and_new_ids(tmp_path: Path) -> None:
    """Past the end of the data, the days from the start come again, shifted by the cycle's
    length, with ids past every earlier one; time never goes back; each card keeps its partner."""
    data = _rows(tmp_path / "tx.csv")
    items = list(itertools.islice(soak_feed(("a", "b"), date(2018, 6, 19), path=data), 12))
    txs = [item.transaction for item in items if not item.is_label]
    assert [tx.transaction_id for tx in txs[:8]] == [2, 3, 4, 5, 8, 9, 10, 11]
    assert txs[4].timestamp - txs[0].timestamp == timedelta(days=2)
    assert all(a.timestamp <= b.timestamp for a, b in itertools.pairwise(txs))
    assert len({tx.transaction_id for tx in txs}) == len(txs)
    partners = {(item.transaction.card_id, item.partner) for item in items}
    assert len(partners) == len({card for card, _ in partners})


def test_a_fraud_label_comes_once_its_label_time_is_reached(tmp_path: Path) -> None:
    """A fraud's label comes before the first transaction at or after its label time, not
    sooner (the fraud of 2018-06-18 is known on 2018-06-25, in the wrapped data)."""
    data = _rows(tmp_path / "tx.csv")
    items = list(itertools.islice(soak_feed(("a",), date(2018, 6, 18), path=data), 20))
    (index,) = [i for i, item in enumerate(items) if item.is_label]
    label = items[index]
    assert label.transaction.transaction_id == 0
    due = label_time(label.transaction)
    assert items[index - 1].transaction.timestamp < due <= items[index + 1].transaction.timestamp


def test_the_slope_is_in_mb_per_hour_and_needs_three_points() -> None:
    """Two MB more every half hour is +4 MB/h; fewer than three samples give no slope."""
    assert fit_slope([0, 1800, 3600], [100, 102, 104]) == pytest.approx(4.0)
    assert fit_slope([0, 3600], [100, 104]) is None


def test_a_summary_leaves_out_the_warm_up() -> None:
    """The warm-up's samples are not in the first value, the maximum or the slope."""
    samples = [Sample(t, "live", "w", 1, 1, mb) for t, mb in [(0, 500), (60, 90), (120, 100),
                                                               (180, 110)]]  # fmt: skip
    (summary,) = summarize(samples, after_s=60)
    assert (summary.samples, summary.start_mb, summary.end_mb, summary.max_mb) == (3, 90, 110, 110)
    assert summary.slope_mb_per_h == pytest.approx(600.0)
