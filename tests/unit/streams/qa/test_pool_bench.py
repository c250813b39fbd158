"""The pool bench's table: one row per combination, rates per core and bootstraps per core."""

from __future__ import annotations

from streams.qa.pool_bench import PoolPoint, PoolSweep


def test_the_table_has_a_row_per_combination_with_rates_per_core() -> None:
    points = (
        PoolPoint(1, 0, 10, 5.0, (0.4, 0.5, 0.6)),
        PoolPoint(2, 1, 10, 4.0, (0.7, 0.8, 0.9)),
    )
    table = PoolSweep("abc", 70, 2, points).markdown()
    assert "Model `abc` (70 programmable bootstraps per evaluation) on 2 cores." in table
    assert "| 1 x all | 2.00 | 1.00 | 0.50 | 70 |" in table
    assert "| 2 x 1 | 2.50 | 1.25 | 0.80 | 88 |" in table


def test_a_model_without_its_bootstraps_on_its_card_shows_none() -> None:
    table = PoolSweep("abc", None, 2, (PoolPoint(1, 1, 4, 2.0, (0.5,)),)).markdown()
    assert "its bootstraps are not on its card" in table
    assert table.endswith("| 1 x 1 | 2.00 | 1.00 | 0.50 | - |")
