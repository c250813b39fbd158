"""``fraudstream bench soak``: the soak run (streams/qa/soak_run.py)."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

import click

from streams.cli._bench_records import soak_records
from streams.cli._common import (
    Command,
    json_lines,
    json_option,
    load_settings,
    model_option,
    require_model,
    say,
    show_result,
    write_measured,
)
from streams.qa.soak_report import SoakPlan
from streams.qa.soak_run import run_soak

__all__ = ["bench_soak"]

_DEFAULT_PNG = Path(".fraudstream/soak/soak_rss.png")


@click.command("soak", cls=Command, owns_processes=True)
@model_option
@click.option("--partners", default="alpha,bravo,charlie", show_default=True, help="Partner ids.")
@click.option(
    "--minutes",
    type=click.FloatRange(0.5),
    default=60.0,
    show_default=True,
    help="Wall-clock minutes of live scoring (the history and the drain come on top).",
)
@click.option(
    "--sample",
    type=click.FloatRange(1),
    default=30.0,
    show_default=True,
    help="Seconds between two RSS samples of every process.",
)
@click.option(
    "--in-flight",
    type=click.IntRange(1, 10_000),
    default=16,
    show_default=True,
    help="Most transactions sent and not scored yet: the pace is the pipeline's own.",
)
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d"]),
    default="2018-07-26",
    show_default=True,
    help="First live day of the bundled data (2018-06-18..2018-08-14; wrapped around, shifted, "
    "when it runs out).",
)
@click.option(
    "--history-days",
    type=click.IntRange(0, 60),
    default=38,
    show_default=True,
    help="Days before --start sent first as unscored history (38: every card's and terminal's "
    "state as full as its windows and lateness allow).",
)
@click.option(
    "--drain",
    type=click.FloatRange(10),
    default=300.0,
    show_default=True,
    help="Seconds without a new score after which missing scores count as lost.",
)
@click.option(
    "--ttl",
    type=click.FloatRange(60),
    default=600.0,
    show_default=True,
    help="Seconds of the run's FRAUD_JOIN_TTL and FRAUD_REQUEST_MAX_AGE (a day each by default): "
    "short, so that the join table and the scorer's nonces reach their bound within the run.",
)
@click.option(
    "--png",
    type=click.Path(path_type=Path, dir_okay=False),
    default=_DEFAULT_PNG,
    show_default=True,
    help="Where to draw the RSS curves (docs/soak_rss.png for the doc).",
)
@click.option(
    "--doc",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the report into this Markdown file's soak block (docs/reliability.md), "
    "with the curve's image.",
)
@json_option("process sampled")
def bench_soak(
    model_dir: Path,
    partners: str,
    minutes: float,
    sample: float,
    in_flight: int,
    start: datetime,
    history_days: int,
    drain: float,
    ttl: float,
    png: Path,
    doc: Path | None,
    as_json: bool,
) -> None:
    """Run a pipeline on its own broker for --minutes of fast live scoring, after a month of
    history that fills the feature state, while the RSS of every worker, of its child processes
    (the scorer's FHE pool) and of the broker is sampled; report each one's RSS after the
    warm-up, at the end, its maximum and its slope in MB per hour, draw the curves to --png,
    and count the transactions sent, scored and lost. Exit code 1 when a transaction was lost
    or a worker exited. Not part of the tests (an hour or more); use a small model."""
    ids = tuple(p.strip() for p in partners.split(",") if p.strip())
    settings = load_settings(partners=",".join(ids))
    plan = SoakPlan(ids, minutes, sample, in_flight, date.fromordinal(start.toordinal()),
                    history_days, drain, ttl)  # fmt: skip
    with json_lines(as_json) as emit:
        report = run_soak(settings, require_model(model_dir), plan, png=png, say=say)
        show_result(emit, report.markdown(), soak_records(report))
        if doc is not None:
            command = (
                f"fraudstream bench soak --model {model_dir} --partners {','.join(ids)} "
                f"--minutes {minutes:g} --sample {sample:g} --in-flight {in_flight} "
                f"--start {plan.start} --history-days {history_days} --drain {drain:g} "
                f"--ttl {ttl:g} --png {png}"
            )
            image = os.path.relpath(png.resolve(), doc.resolve().parent)
            write_measured(doc, "soak", command, report.markdown(image))
    if not report.ok:
        raise SystemExit(1)
