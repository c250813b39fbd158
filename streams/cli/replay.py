"""``fraudstream record``, ``replay`` and ``verify``: recorded streams for QA and model checks.

See ``docs/replay.md`` for the workflow.
"""

from __future__ import annotations

import signal
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

__all__ = ["record", "replay", "verify"]

_console = Console()


def _settings(**overrides: Any) -> Any:
    from streams.cli import _settings as settings  # noqa: PLC0415

    return settings(**overrides)


def _moment(value: str | None) -> int | None:
    """An ISO date or date-time (UTC unless it says otherwise) → ms since the epoch."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        msg = f"{value!r} is not an ISO date or date-time (e.g. 2026-11-29T10:00:00Z)"
        raise click.BadParameter(msg) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


# --- record ---------------------------------------------------------------------------------
@click.command()
@click.argument("out", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--topic",
    "-t",
    "topics",
    multiple=True,
    required=True,
    help="Topic to record (repeat for more); PARTNER.ENTITY is short for "
    "<root>.PARTNER.ENTITY.v1, e.g. alpha.scores.",
)
@click.option(
    "--from-offset", type=click.IntRange(0), help="Start at this offset in every partition."
)
@click.option("--from-time", help="Start at the first message written at or after this time (ISO).")
@click.option("--count", type=click.IntRange(1), help="Stop after this many messages.")
@click.option("--until-time", help="Stop at the first message written at or after this time (ISO).")
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Go on past the topics' current end, until --count, --until-time, --idle-timeout "
    "or Ctrl-C.",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(0.1),
    default=30.0,
    show_default=True,
    help="With --follow: stop after this many seconds without a new message.",
)
@click.option("--append", is_flag=True, help="Add to OUT if it is already a recording.")
@click.option("--broker", help="Bootstrap servers (default: FRAUD_BROKER).")
def record(
    out: Path,
    topics: tuple[str, ...],
    from_offset: int | None,
    from_time: str | None,
    count: int | None,
    until_time: str | None,
    follow: bool,
    idle_timeout: float,
    append: bool,
    broker: str | None,
) -> None:
    """Record topics to OUT (gzip JSON lines: a header line, then one line per message with
    topic, partition, offset, timestamp, key, headers and value; bytes in base64).

    Reads without a consumer group, from the beginning unless told otherwise, until the end the
    topics had when recording began. Times are the messages' Kafka timestamps. OUT appears only
    once recording is done (Ctrl-C ends a --follow recording and keeps what was read).
    """
    from streams.broker.connection import kafka_python_config  # noqa: PLC0415
    from streams.core.topics import TopicNames  # noqa: PLC0415
    from streams.qa.recorder import RecordPlan, expand_topic, record_to_file  # noqa: PLC0415

    if from_offset is not None and from_time is not None:
        msg = "give --from-offset or --from-time, not both"
        raise click.UsageError(msg)
    if not out.resolve().parent.is_dir():
        msg = f"{out.resolve().parent} is not a folder: cannot write {out} there"
        raise click.UsageError(msg)
    if follow:  # a service manager stops with SIGTERM: end the recording as Ctrl-C does
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    settings = _settings(broker=broker)
    names = TopicNames(settings.topic_root)
    plan = RecordPlan(
        topics=tuple(expand_topic(names, t) for t in topics),
        from_offset=from_offset,
        from_time_ms=_moment(from_time),
        count=count,
        until_time_ms=_moment(until_time),
        follow=follow,
        idle_timeout=idle_timeout,
    )
    _console.print(f"recording {', '.join(plan.topics)} {plan.describe()}", highlight=False)
    with _console.status("") as status:
        header, recorded = record_to_file(
            kafka_python_config(settings),
            plan,
            out,
            append=append,
            progress=lambda n: status.update(f"{n} messages recorded…"),
        )
    from streams.qa.replay import format_ms  # noqa: PLC0415

    span = ""
    if header.time_range and not append:
        first, last = (format_ms(ms) for ms in header.time_range)
        span = f", written {first} → {last}"
    _console.print(f"[green]recorded[/] {recorded} messages into {out}{span}", highlight=False)


# --- replay ---------------------------------------------------------------------------------
@click.command()
@click.argument(
    "recording", required=False, type=click.Path(path_type=Path, dir_okay=False, exists=True)
)
@click.option(
    "--data-from",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Instead of a recording: bundled transactions from this day (2018-06-18..2018-08-14).",
)
@click.option(
    "--data-to", type=click.DateTime(["%Y-%m-%d"]), help="Last day (default: --data-from)."
)
@click.option(
    "--partner",
    "only",
    multiple=True,
    help="With --data-from: only this partner's cards (repeat for more; default: every "
    "partner of FRAUD_PARTNERS).",
)
@click.option(
    "--fraud-cards",
    type=click.IntRange(0),
    help="With --data-from: at most this many cards per partner with a fraud in the slice.",
)
@click.option(
    "--legit-cards",
    type=click.IntRange(0),
    help="With --data-from: at most this many cards per partner without one.",
)
@click.option(
    "--history/--no-history",
    default=True,
    show_default=True,
    help="With --data-from: first send the history the features need (as fraud.backfill "
    "warm-up) and the fraud labels.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    help="Event time runs this many times faster than real time (1: real speed).",
)
@click.option("--fast", is_flag=True, help="As fast as possible (the default without --speed).")
@click.option(
    "--no-wait",
    is_flag=True,
    help="Do not wait for running partner gateways to process the warm-up before the live part.",
)
@click.option("--dry-run", is_flag=True, help="Check and count what would be sent; send nothing.")
@click.option("--broker", help="Bootstrap servers (default: FRAUD_BROKER).")
def replay(
    recording: Path | None,
    data_from: datetime | None,
    data_to: datetime | None,
    only: tuple[str, ...],
    fraud_cards: int | None,
    legit_cards: int | None,
    history: bool,
    speed: float | None,
    fast: bool,
    no_wait: bool,
    dry_run: bool,
    broker: str | None,
) -> None:
    """Send RECORDING (or, with --data-from, a slice of the bundled transactions) into topics.

    Per key, messages keep their recorded order; event time (the fraud.event_time_ms header, or
    the recorded timestamp) paces them at --speed. Warm-up history (fraud.backfill) and the
    labels known before the first live event go first, as fast as possible; running partner
    gateways are given the time to process them (--no-wait: not). Topics are renamed
    to FRAUD_TOPIC_ROOT; they must exist (`fraudstream topics create`). A recording is checked
    in full before anything is sent.
    """
    from streams.broker.connection import kafka_python_config  # noqa: PLC0415
    from streams.core.topics import TopicNames  # noqa: PLC0415
    from streams.qa.replay import send_replay, wait_for_gateways  # noqa: PLC0415
    from streams.qa.replay_plan import ReplayMessage, load_recording, plan_data_slice, split_warm_up  # noqa: PLC0415

    if (recording is None) == (data_from is None):
        msg = "give a RECORDING or --data-from (one of them)"
        raise click.UsageError(msg)
    data_options = {
        "--data-to": data_to, "--partner": only or None, "--fraud-cards": fraud_cards,
        "--legit-cards": legit_cards, "--no-history": None if history else True,
    }  # fmt: skip
    given = [name for name, value in data_options.items() if value is not None]
    if recording is not None and given:
        msg = f"{', '.join(given)} only apply with --data-from, not to a recording"
        raise click.UsageError(msg)
    if fast and speed is not None:
        msg = "give --speed or --fast, not both"
        raise click.UsageError(msg)
    settings = _settings(broker=broker)
    names = TopicNames(settings.topic_root)
    messages: list[ReplayMessage]
    if recording is not None:
        header, messages = load_recording(recording, root=settings.topic_root)
        source = f"{recording} (recorded from {header.source}, {header.created})"
    else:
        assert data_from is not None  # noqa: S101  (checked above)
        first: date = data_from.date()
        last: date = (data_to or data_from).date()
        with _console.status("reading the bundled transactions…"):
            data = plan_data_slice(
                names,
                settings.partners,
                first,
                last,
                only=only or None,
                fraud_cards=fraud_cards,
                legit_cards=legit_cards,
                history=history,
            )
        messages = data.messages
        frauds = sum(fraud for _, fraud in data.truth.values())
        source = (
            f"bundled transactions {first}..{last}: {len(data.truth)} transactions "
            f"({frauds} frauds) of {', '.join(only or settings.partners)}"
        )
    warm, live = split_warm_up(messages)
    pace = "as fast as possible" if speed is None else f"at {speed:g}x real time"
    _console.print(
        f"replaying {source}: {len(warm)} warm-up messages, then {len(live)} {pace}",
        highlight=False,
    )
    if dry_run:
        _console.print("dry run: nothing sent")
        return
    client = kafka_python_config(settings)
    _check_topics(client, {m.topic for m in messages})
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=_console,
    ) as bar:  # fmt: skip
        task = bar.add_task("sending", total=len(messages))

        def after_warm_up() -> None:
            if no_wait or not warm:
                return
            waited = wait_for_gateways(
                client,
                settings.app_id,
                names,
                {m.partner for m in warm},
                say=lambda m: bar.console.print(m, highlight=False),
                progress=lambda p, lag: bar.update(
                    task, description=f"{p}'s gateway: {lag} warm-up records to go"
                ),
            )
            bar.update(task, description="sending")
            if waited:
                bar.console.print("warm-up processed by the gateways; sending the live part")

        report = send_replay(
            client,
            warm,
            live,
            speed=speed,
            max_request_size=settings.max_message_bytes,
            after_warm_up=after_warm_up,
            progress=lambda sent, _: bar.update(task, completed=sent),
        )
    for line in report.lines():
        _console.print(line, highlight=False)


def _check_topics(client: dict[str, Any], topics: set[str]) -> None:
    from streams.broker.admin import admin_client  # noqa: PLC0415
    from streams.core.errors import BrokerError  # noqa: PLC0415

    admin = admin_client(client)
    try:
        missing = sorted(topics - set(admin.list_topics()))
    finally:
        admin.close()
    if missing:
        msg = (
            f"topic {', '.join(missing)} does not exist: nothing was sent (create the topics "
            "with `fraudstream topics create`, or set FRAUD_TOPIC_ROOT / FRAUD_PARTNERS)"
        )
        raise BrokerError(msg)


# --- verify ---------------------------------------------------------------------------------
@click.command()
@click.argument("recording", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--expected",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Golden verdicts: a recording of <root>.<partner>.scores.v1 topics.",
)
@click.option(
    "--model",
    "model_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Model folder (default: FRAUD_MODEL_DIR).",
)
@click.option(
    "--compare-model",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Also run this model on the recording and report alerts gained, lost and changed "
    "against --model.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(0),
    default=1e-9,
    show_default=True,
    help="Largest score difference that still counts as the same.",
)
@click.option(
    "--save-scores",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the scores of this run (of --model) as a recording: golden verdicts.",
)
@click.option(
    "--show", type=click.IntRange(0), default=40, show_default=True, help="Differences listed."
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    help="Replay the live part at this speed (default: as fast as possible).",
)
@click.option("--broker", help="Bootstrap servers (default: FRAUD_BROKER).")
@click.option(
    "--local-broker",
    is_flag=True,
    help="Start a throw-away local broker for the runs instead of using FRAUD_BROKER.",
)
@click.option(
    "--keep",
    type=click.Path(path_type=Path, file_okay=False),
    help="Keep the run's keys and worker logs in this folder.",
)
def verify(**options: Any) -> None:
    """Replay RECORDING through a fresh pipeline and check its verdicts.

    \b
    Starts one scorer and one gateway per partner of the recording, with new FHE keys, on
    topics under a fresh root (verify-<random>.*) so the feature state starts empty;
    sends the warm-up (history and labels), waits until it is processed, then the live
    transactions, and collects a verdict for each.
    With --expected: compares with the golden verdicts (alerts exactly, scores within
      --tolerance), prints the differences; exit code 1 when there is any.
    With --compare-model: runs the recording through both models and reports alerts gained,
      lost and scores changed (exit code 0: a report, not a check).
    With --save-scores: writes this run's scores as a recording, to use as --expected later.
    Exit codes: 0 same (or a report), 1 differences, 2 the check could not run.
    """
    from streams.core.errors import FraudStreamError  # noqa: PLC0415

    try:
        same = _verify(**options)
    except FraudStreamError as exc:
        _console.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    except click.UsageError as exc:
        exc.exit_code = 2
        raise
    if not same:
        sys.exit(1)


def _verify(
    recording: Path,
    expected: Path | None,
    model_dir: Path | None,
    compare_model: Path | None,
    tolerance: float,
    save_scores: Path | None,
    show: int,
    speed: float | None,
    broker: str | None,
    local_broker: bool,
    keep: Path | None,
) -> bool:
    """The verify command; False when the verdicts differ from the expected ones."""
    from streams.qa.score_comparison import (  # noqa: PLC0415
        compare_outcomes,
        read_outcomes,
    )
    from streams.qa.score_comparison import save_scores as save  # noqa: PLC0415
    from streams.qa.verify import broker_for, run_recording, verify_workspace  # noqa: PLC0415

    if expected is not None and compare_model is not None:
        msg = "give --expected or --compare-model, not both"
        raise click.UsageError(msg)
    settings = _settings(broker=broker)
    model_dir = (model_dir or settings.model_dir).resolve()
    if not (model_dir / "model_card.json").exists():
        msg = f"no model in {model_dir}: give --model or set FRAUD_MODEL_DIR"
        raise click.UsageError(msg)
    golden = read_outcomes(expected) if expected is not None else None  # fail before running
    say = lambda m: _console.print(f"  {m}", highlight=False)  # noqa: E731
    with verify_workspace(keep) as work, broker_for(
        settings, work, use_given=not local_broker, say=say
    ) as settings, _console.status("") as status:  # fmt: skip
        runs = []
        for index, model in enumerate([model_dir, *([compare_model] if compare_model else [])]):
            _console.print(f"run {index + 1}: {recording} through model {model}", highlight=False)
            runs.append(
                run_recording(
                    settings,
                    model.resolve(),
                    recording,
                    work / f"run-{index + 1}",
                    speed=speed,
                    say=say,
                    progress=status.update,
                )
            )
            run = runs[-1]
            _console.print(
                f"[green]✓[/] {len(run.outcomes)} verdicts, {run.dead_letters} dead-lettered, "
                f"of {run.live} live transactions (model {run.model_version})",
                highlight=False,
            )
    if save_scores is not None:
        header = save(save_scores, runs[0].scores, runs[0].model_version, str(recording))
        _console.print(f"[green]saved[/] {header.messages} scores to {save_scores}")
    if golden is None and compare_model is None:
        return True
    if compare_model is not None:
        baseline, label = runs[0].outcomes, "--model"
        comparison = compare_outcomes(baseline, runs[1].outcomes, tolerance=tolerance)
        _console.print(f"--compare-model against {label} ({runs[0].model_version}):")
    else:
        assert golden is not None  # noqa: S101
        comparison = compare_outcomes(golden, runs[0].outcomes, tolerance=tolerance)
    _print_differences(comparison, show)
    _console.print(comparison.summary(), highlight=False)
    return compare_model is not None or comparison.ok


def _print_differences(comparison: Any, show: int) -> None:
    if not comparison.differences or show == 0:
        return
    table = Table(title="differences (expected → actual)")
    for title in ("partner", "transaction", "difference", "expected", "actual"):
        table.add_column(title)
    for difference in comparison.differences[:show]:
        partner, transaction = difference.key
        table.add_row(
            partner,
            str(transaction),
            difference.kind,
            _verdict_cell(difference.expected),
            _verdict_cell(difference.actual),
        )
    _console.print(table)
    hidden = len(comparison.differences) - show
    if hidden > 0:
        _console.print(f"… and {hidden} more (--show)")


def _verdict_cell(verdict: Any) -> str:
    if verdict is None:
        return "-"
    return f"{verdict.score:.6f}{' ALERT' if verdict.alert else ''}"
