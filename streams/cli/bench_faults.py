"""``fraudstream bench faults``: the fault run (streams/qa/fault_run.py)."""

from __future__ import annotations

from pathlib import Path

import click

from streams.cli._bench_records import fault_records
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
from streams.qa.fault_run import FAULT_KINDS, run_faults

__all__ = ["bench_faults"]

_DEFAULT_FAULTS = "gateway=5,decryptor=5,scorer=5,broker-kill=5,broker-pause=5,slow-partner=5"


def _counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, count = part.partition("=")
        if kind not in FAULT_KINDS or not count.isdigit():
            msg = f"{part!r}: each fault is <kind>=<count>, kinds {', '.join(FAULT_KINDS)}"
            raise click.BadParameter(msg, param_hint="--faults")
        counts[kind] = int(count)
    return counts


@click.command("faults", cls=Command, owns_processes=True)
@model_option
@click.option("--partners", default="alpha,bravo,charlie", show_default=True, help="Partner ids.")
@click.option(
    "--per-partner",
    type=click.IntRange(2, 5000),
    default=100,
    show_default=True,
    help="Transactions of 2018-08-08 sent per partner.",
)
@click.option(
    "--faults",
    default=_DEFAULT_FAULTS,
    show_default=True,
    help=f"How many of each fault: kinds {', '.join(FAULT_KINDS)}.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Repeat a run by its seed.")
@click.option(
    "--span",
    type=click.FloatRange(30),
    default=900.0,
    show_default=True,
    help="Seconds over which transactions are sent and faults injected.",
)
@click.option(
    "--pause",
    type=click.FloatRange(1),
    default=30.0,
    show_default=True,
    help="Seconds a broker or a slow partner is paused (SIGSTOP).",
)
@click.option(
    "--doc",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the report into this Markdown file's faults block (docs/reliability.md).",
)
@json_option("kind of fault injected")
def bench_faults(
    model_dir: Path,
    partners: str,
    per_partner: int,
    faults: str,
    seed: int,
    span: float,
    pause: float,
    doc: Path | None,
    as_json: bool,
) -> None:
    """Send a day's transactions of several partners through a real pipeline on its own broker
    while workers are killed at exact points of their work and the broker is killed, restarted
    and paused on a seeded schedule (printed); then count what was lost, scored twice, alerted
    twice or scored differently from the batch computation, and how long each fault took to
    recover from. Exit code 1 when anything was lost, doubled or different."""
    counts = _counts(faults)
    ids = tuple(p.strip() for p in partners.split(",") if p.strip())
    settings = load_settings(partners=",".join(ids))
    with json_lines(as_json) as emit:
        report = run_faults(
            settings, require_model(model_dir), partners=ids, per_partner=per_partner,
            seed=seed, counts=counts, span_s=span, pause_s=pause, say=say,
        )  # fmt: skip
        show_result(emit, report.markdown(), fault_records(report))
        if doc is not None:
            command = (
                f"fraudstream bench faults --model {model_dir} --partners {','.join(ids)} "
                f"--per-partner {per_partner} "
                f"--faults {faults} --seed {seed} --span {span:g} --pause {pause:g}"
            )
            write_measured(doc, "faults", command, report.markdown())
    if not report.ok:
        raise SystemExit(1)
