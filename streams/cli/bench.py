"""``fraudstream bench``: benchmarks that measure and print, never assert a speed."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from streams.cli._bench_records import (
    data_records,
    fuzz_records,
    memory_records,
    pipeline_records,
    pool_records,
)
from streams.cli._common import (
    Group,
    console,
    json_lines,
    json_option,
    load_settings,
    model_option,
    require_model,
    say,
    show_result,
    write_measured,
)
from streams.cli.bench_faults import bench_faults
from streams.cli.bench_soak import bench_soak
from streams.core.settings import GUARANTEES
from streams.qa.bench import OTHERS_NICE, BenchRuns, run_pipeline_bench
from streams.qa.data_bench import run_data_bench
from streams.qa.fuzz import run_fuzz
from streams.qa.key_memory import measure_key_memory
from streams.qa.pool_bench import measure_pool

__all__ = ["bench"]


@click.group(cls=Group)
def bench() -> None:
    """Benchmarks that print ratios (they measure; they never assert a speed)."""


@bench.command("pipeline", owns_processes=True)
@model_option
@click.option(
    "--transactions",
    type=click.IntRange(2, 10_000),
    default=40,
    show_default=True,
    help="Timed transactions, after the warm-up.",
)
@click.option(
    "--warmup",
    type=click.IntRange(1, 100),
    default=20,
    show_default=True,
    help="Untimed first ones: they warm up the fresh broker's JIT compiler and the workers "
    "(docs/benchmarks.md).",
)
@click.option(
    "--doc",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the result into this Markdown file's pipeline block (docs/benchmarks.md; "
    "--rate, --guarantee, --blocks and --others-nice say which).",
)
@click.option(
    "--guarantee",
    type=click.Choice(GUARANTEES),
    default="at_least_once",
    show_default=True,
    help="Faust's processing guarantee for the pipeline's workers. exactly_once (Kafka "
    "transactions) is here to measure its cost only; docs/reliability.md says why the workers "
    "do not use it. Its result goes to the --doc's pipeline-exactly-once block.",
)
@click.option(
    "--wait",
    type=click.FloatRange(10),
    default=600.0,
    show_default=True,
    help="Seconds to wait for the scores of each phase (warm-up, timed) before giving up.",
)
@click.option(
    "--runs",
    type=click.IntRange(1, 20),
    default=1,
    show_default=True,
    help="Independent runs (each its own broker, pipeline and bare loop); every run's ratio is "
    "printed on one line.",
)
@click.option(
    "--rate",
    type=click.FloatRange(0.001, min_open=False),
    default=None,
    help="Send (b)'s timed transactions at this many per second (open loop: the latency a "
    "fraud team plans with, at e.g. 50 % or 80 % of (a)'s throughput) instead of all at once.",
)
@click.option(
    "--blocks",
    type=click.IntRange(1, 100),
    default=1,
    show_default=True,
    help="Alternate (a) and (b) in this many blocks of the timed transactions, (a) (b) (a) ... "
    "(a), every process of (b) stopped while (a) runs, so that a slow spell of the machine falls "
    "on both (docs/benchmarks.md); each block of (b) starts 1 s after (b) is continued. 1: (a) "
    "once before (b) and once after. Must divide --transactions. Its result goes to the --doc's "
    "pipeline-blocks block.",
)
@click.option(
    "--others-nice",
    type=click.IntRange(0, 19),
    default=OTHERS_NICE,
    show_default=True,
    help="CPU priority (nice) of (b)'s broker and partner worker, which a deployment runs on "
    "other machines: at 19 they take the cycles the scorer leaves; 0 gives them the scorer's "
    "priority, so that on a shared machine they take its circuit threads' turns "
    "(docs/benchmarks.md).",
)
@click.option(
    "--others-idle",
    is_flag=True,
    help="Put (b)'s broker and partner worker in the kernel's idle scheduling class (SCHED_IDLE) "
    "as well: any other thread that wakes on their core takes it at once, where a nice value "
    "only weighs their share. Its result goes to a block of its own (docs/benchmarks.md).",
)
@json_option("run")
def bench_pipeline(
    model_dir: Path,
    transactions: int,
    warmup: int,
    doc: Path | None,
    guarantee: str,
    wait: float,
    runs: int,
    rate: float | None,
    blocks: int,
    others_nice: int,
    others_idle: bool,
    as_json: bool,
) -> None:
    """Throughput of (a) a bare loop of FHE evaluations and (b) the whole pipeline through a
    local broker, over the same transactions, their ratio, and the pipeline's latencies.

    (a) runs before and after (b) and the ratio uses their mean, so the machine's drift
    between them cancels; with --blocks, (a) and (b) alternate in blocks, (b) stopped while (a)
    runs, so that a slow spell of the machine falls on both. Starts its own broker on free
    loopback ports, one scorer and one partner gateway; about (warmup + transactions) x 3 FHE
    evaluations per run (in blocks, one warm-up fewer and transactions / blocks more).
    """
    if runs > 1 and rate is not None:
        msg = "--runs repeats the ratio of a backlog; with --rate, run the command once per rate"
        raise click.BadParameter(msg, param_hint="--runs")
    _check_blocks(blocks, transactions, rate, guarantee)
    settings = load_settings()
    with json_lines(as_json) as emit:
        results = []
        for run in range(1, runs + 1):
            if runs > 1:
                say(f"run {run} of {runs}")
            results.append(
                run_pipeline_bench(
                    settings, require_model(model_dir), transactions=transactions,
                    warmup=warmup, say=say, guarantee=guarantee, wait_s=wait, rate=rate,
                    blocks=blocks, others_nice=others_nice, others_idle=others_idle,
                )
            )  # fmt: skip
        result = BenchRuns(tuple(results))
        show_result(emit, result.markdown(), pipeline_records(result))
        if emit is None and runs == 1 and rate is None:  # several: the line is in the table
            console.print(result.ratio_line(), highlight=False, soft_wrap=True)
        if doc is not None:
            command, block = _doc_target(
                model_dir, transactions, warmup, runs, blocks, rate, guarantee,
                others_nice, others_idle,
            )  # fmt: skip
            write_measured(doc, block, command, result.markdown())


def _doc_target(  # the options that name the block
    model_dir: Path, transactions: int, warmup: int, runs: int, blocks: int, rate: float | None,
    guarantee: str, others_nice: int, others_idle: bool,
) -> tuple[str, str]:  # fmt: skip
    """The command that repeats a measurement and the docs block it goes to: one block per
    design (blocks, rate, guarantee), and one beside each for a priority not the default."""
    command = (
        f"fraudstream bench pipeline --model {model_dir} --transactions {transactions} "
        f"--warmup {warmup}" + (f" --runs {runs}" if runs > 1 else "")
    ) + (f" --blocks {blocks}" if blocks > 1 else "")
    block = "pipeline-blocks" if blocks > 1 else "pipeline"
    if rate is not None:
        command += f" --rate {rate:g}"
        block = f"pipeline-rate-{rate:g}"
    if guarantee != "at_least_once":
        command += f" --guarantee {guarantee}"
        block = "pipeline-exactly-once"
    if others_nice != OTHERS_NICE:
        command += f" --others-nice {others_nice}"
        block += f"-nice-{others_nice}"
    if others_idle:
        command += " --others-idle"
        block += "-idle"
    return command, block


def _check_blocks(blocks: int, transactions: int, rate: float | None, guarantee: str) -> None:
    """Blocks of an at-least-once backlog only, equal ones."""
    if blocks == 1:
        return
    if guarantee != "at_least_once":
        msg = "--blocks pauses (b); Kafka transactions (exactly_once) are measured at once only"
        raise click.BadParameter(msg, param_hint="--blocks")
    if rate is not None:
        msg = "--blocks alternates (a) with backlogs of (b); with --rate, (b) runs without pause"
        raise click.BadParameter(msg, param_hint="--blocks")
    if transactions % blocks:
        msg = f"--transactions {transactions} do not make {blocks} equal blocks"
        raise click.BadParameter(msg, param_hint="--blocks")


@bench.command("fuzz", owns_processes=True)
@model_option
@click.option(
    "--count",
    type=click.IntRange(10, 1_000_000),
    default=10_000,
    show_default=True,
    help="Bad inputs to send (damaged recordings come on top: one per hundred).",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Repeat a run by its seed.")
@click.option(
    "--doc",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the report into this Markdown file's fuzz block (docs/threat-model.md).",
)
@json_option("family of bad inputs")
def bench_fuzz(model_dir: Path, count: int, seed: int, doc: Path | None, as_json: bool) -> None:
    """Send COUNT generated bad inputs through the real agents (malformed, out-of-range,
    mis-dated events and labels; unsigned, forged, stale, replayed requests and broken
    envelopes; forged or altered verdicts; bad key-registry records) and check that every one
    is refused with a reason, no worker crashes, no partition is left behind, and a good
    transaction on the same card afterwards is scored exactly as the batch computation says.

    Starts its own broker on free loopback ports, a scorer and two gateways (alpha, bravo) with
    fresh keys. Exit code 1 when the run finds anything.
    """
    settings = load_settings()
    with json_lines(as_json) as emit:
        report = run_fuzz(settings, require_model(model_dir), count=count, seed=seed, say=say)
        show_result(emit, report.markdown(), fuzz_records(report))
        if doc is not None:
            command = f"fraudstream bench fuzz --count {count} --seed {seed}"
            write_measured(doc, "fuzz", command, report.markdown())
    if not report.ok:
        raise SystemExit(1)


@bench.command("data")
@click.option(
    "--rows",
    type=click.IntRange(555_712),
    default=1_300_000,
    show_default=True,
    help="Rows of the larger file (copies of the bundled transactions, the last cut short).",
)
@click.option(
    "--repeats",
    type=click.IntRange(1, 20),
    default=3,
    show_default=True,
    help="Times each read is repeated (the median is reported).",
)
@click.option(
    "--doc",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the result into this Markdown file's data block (docs/benchmarks.md).",
)
@json_option("file read")
def bench_data(rows: int, repeats: int, doc: Path | None, as_json: bool) -> None:
    """Reading transactions and computing their features: the bundled file against a larger
    one made from it, per row."""
    with json_lines(as_json) as emit:
        with tempfile.TemporaryDirectory(prefix="bench-data-") as work:
            result = run_data_bench(Path(work), rows=rows, repeats=repeats, say=say)
        show_result(emit, result.markdown(), data_records(result))
        if doc is not None:
            command = f"fraudstream bench data --rows {rows} --repeats {repeats}"
            write_measured(doc, "data", command, result.markdown())


@bench.command("memory", owns_processes=True)
@model_option
@click.option(
    "--keys",
    "counts",
    default="1,4,16",
    show_default=True,
    metavar="N,N,…",
    help="Numbers of partners' key sets to measure the evaluation process with.",
)
@click.option(
    "--doc",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the result into this Markdown file's memory block (docs/benchmarks.md).",
)
@json_option("number of key sets held")
def bench_memory(model_dir: Path, counts: str, doc: Path | None, as_json: bool) -> None:
    """Resident memory of one FHE evaluation process (a scorer pool process) holding the
    evaluation keys of 1, 4 and 16 partners (--keys): keys are made for the largest count,
    then a fresh process loads the circuit and the key sets one by one, evaluating one request
    under each. The scorer's main process keeps keys as files; its memory does not grow with
    partners."""
    wanted = sorted(_numbers("--keys", counts, 1, 64))
    with json_lines(as_json) as emit:
        result = measure_key_memory(require_model(model_dir), wanted, say)
        show_result(emit, result.markdown(), memory_records(result))
        if doc is not None:
            listed = ",".join(map(str, wanted))
            command = f"fraudstream bench memory --model {model_dir} --keys {listed}"
            write_measured(doc, "memory", command, result.markdown())


def _numbers(option: str, text: str, low: int, high: int) -> list[int]:
    """``text``'s comma-separated numbers, each in ``low..high``; a clear error otherwise."""
    try:
        numbers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        numbers = []
    if not numbers or not all(low <= n <= high for n in numbers):
        msg = f"{option} takes numbers {low}..{high} separated by commas, not {text!r}"
        raise click.BadParameter(msg)
    return list(dict.fromkeys(numbers))


@bench.command("pool", owns_processes=True)
@model_option
@click.option(
    "--processes",
    default="1,2",
    show_default=True,
    metavar="N,N,…",
    help="FHE pool process counts to measure (FRAUD_SCORER_PROCESSES; evaluations in flight).",
)
@click.option(
    "--threads",
    default="0,1",
    show_default=True,
    metavar="N,N,…",
    help="OpenMP threads per process to measure (FRAUD_SCORER_THREADS; 0: every core).",
)
@click.option(
    "--evaluations",
    type=click.IntRange(1, 10_000),
    default=20,
    show_default=True,
    help="Timed evaluations per combination, after one warm-up evaluation per process.",
)
@click.option(
    "--doc",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the result into this Markdown file's pool block (docs/benchmarks.md).",
)
@json_option("combination of processes and threads")
def bench_pool(
    model_dir: Path,
    processes: str,
    threads: str,
    evaluations: int,
    doc: Path | None,
    as_json: bool,
) -> None:
    """A scorer's evaluation capacity for each combination of FHE pool processes and OpenMP
    threads per process (every --processes with every --threads): the scorer's own pool
    evaluates the same encrypted requests with one in flight per process, no broker. Prints
    evaluations per second, per core, one evaluation's median time, and bootstraps per second
    per core (compare with the pipeline in `bench pipeline`)."""
    counts = _numbers("--processes", processes, 1, 64)
    per_process = _numbers("--threads", threads, 0, 256)
    combinations = [(p, t) for p in counts for t in per_process]
    with json_lines(as_json) as emit:
        result = measure_pool(require_model(model_dir), combinations, evaluations, say)
        show_result(emit, result.markdown(), pool_records(result))
        if doc is not None:
            command = (
                f"fraudstream bench pool --model {model_dir} --processes {processes} "
                f"--threads {threads} --evaluations {evaluations}"
            )
            write_measured(doc, "pool", command, result.markdown())


bench.add_command(bench_faults)
bench.add_command(bench_soak)
