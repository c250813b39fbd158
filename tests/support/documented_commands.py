"""Every command line that README.md and docs/*.md show, and the test that runs it.

``tests/unit/test_documented_commands.py`` extracts the command lines of the fenced code blocks
of those documents (``fraudstream …``, ``.venv/bin/fraudstream …``, ``$ fraudstream …``, with
their ``FRAUD_*=…`` prefixes, and ``make …``) and fails when one is not a key of
:data:`DOCUMENTED`, or when a key is no longer documented, or names a test that does not exist.

A key is the command line as documented, normalised: no ``$`` prompt, no ``.venv/bin/``, no
comment, single spaces. Its :class:`Covered` names the test that runs it and, when that test
does not run it exactly as written, how it runs it and why. Tests may substitute sizes, ports
and paths (through ``FRAUD_*`` variables or the command's documented options); the command and
its documented options are the documented ones.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["DOCUMENTED", "Covered"]


class Covered(NamedTuple):
    """The test (pytest node id) that runs a documented command, and how if not as written."""

    test: str
    how: str = ""


_DEMO = (
    "tests/e2e/test_demo.py::test_demo_scores_every_replayed_transaction_and_dead_letters_the_bad"
)
_KAFKA = "tests/integration/streams/cli/test_cli_kafka.py::test_kafka_up_status_down"
_TOPICS = "tests/integration/streams/cli/test_cli_kafka.py::test_topics_create_is_idempotent"
_TRAIN = "tests/integration/streams/cli/test_cli_model.py::test_train_then_keys_generate_and_export"
_SEED = "tests/integration/streams/cli/test_cli_model.py::test_keys_seed_then_generate_from_it"
_ASSESS = (
    "tests/integration/streams/cli/test_cli_model.py"
    "::test_assess_compares_fhe_with_clear_and_baselines"
)
_WORKERS = (
    "tests/integration/streams/test_pipeline.py::test_every_worker_answers_its_probes_and_metrics"
)
_REPLAY_DOC = "tests/e2e/test_replay_doc.py::test_the_replay_workflow_runs_as_documented"
_DOCUMENTED = "tests/integration/streams/cli/test_cli_documented.py"
_SECURE = "tests/integration/streams/broker/test_secure_broker.py"
_DATA_EXAMPLE = "tests/e2e/test_data_example.py::test_the_worked_example_runs_as_documented"
_EXAMPLE_DATA = "--data example/transactions.csv.gz --labels example/labels.csv"

_SIZES = "with a tiny model's sizes through the documented knobs (--n-bits, --depth, --trees, "
_SIZES += "--fhe-sample, --no-simulate) and a temporary working folder"
_SEED_HOW = "with the tiny model (--model) and a temporary folder for the seed and keys"
_WORKER_HOW = (
    "streams.qa.supervisor.running_pipeline (the `running` fixture) starts `python -m streams "
    "worker` "
    "with this role, FRAUD_KEY_DIR at the partner's keys, the scorer's key file and its "
    "public key (streams.qa.supervisor.with_scorer_key), FRAUD_WEB_PORT at a free port and "
    "the other settings as FRAUD_* variables; the test checks every worker's /ready, /live, "
    "/metrics"
)

_FEDERATE = "tests/integration/streams/cli/test_cli_federate.py"
_SUMS = "tests/integration/streams/cli/test_cli_federate_sums.py"

DOCUMENTED: dict[str, Covered] = {
    # --- federation (README.md, docs/federation.md) ---------------------------------------------
    "fraudstream federate run": Covered(
        f"{_FEDERATE}::test_federate_run_saves_a_federated_version",
        "with the session broker (--broker), a temporary --out and --strategy cyclic",
    ),
    "fraudstream federate assess --doc docs/federation.md": Covered(
        f"{_FEDERATE}::test_federate_assess_writes_the_table",
        "in its short form: --partners 2 --strategy bagging --clear --fhe-sample 2 and a "
        "temporary doc (the full run takes about an hour; its output is docs/federation.md)",
    ),
    "fraudstream federate aggregate --members members.json --key aggregator.key": Covered(
        f"{_SUMS}::test_aggregate_and_contribute_publish_the_sums_of_every_final_hour",
        "with the session broker (FRAUD_BROKER), a temporary members file and keys, and --spec "
        "a copy of handbook-shared.toml with 256 terminal buckets (small vectors)",
    ),
    "fraudstream federate contribute --partner alpha --members members.json --key alpha.key": (
        Covered(
            f"{_SUMS}::test_aggregate_and_contribute_publish_the_sums_of_every_final_hour",
            "for alpha and bravo, as the aggregate line says",
        )
    ),
    "fraudstream bench faults --model ../soak-model/latest --doc docs/reliability.md": Covered(
        "tests/e2e/test_bench_faults.py::test_a_short_fault_run_loses_nothing_and_scores_nothing_twice",
        "in its short form: --partners alpha,bravo --per-partner 12, every fault kind once, "
        "--span 120 --pause 8, the tiny model, a temporary doc and --json (the long run takes "
        "about 25 min; its output is docs/reliability.md)",
    ),
    "fraudstream bench pipeline --model ../soak-model/latest --doc docs/reliability.md": Covered(
        "tests/e2e/test_bench.py::test_bench_pipeline_prints_the_result_and_no_log_line",
        "--transactions 2 --warmup 1 with the tiny model, and a temporary doc",
    ),
    "fraudstream bench pipeline --model ../soak-model/latest --guarantee exactly_once "
    "--wait 120 --doc docs/reliability.md": Covered(
        "tests/e2e/test_bench.py::test_bench_pipeline_prints_the_result_and_no_log_line",
        "--transactions 2 --warmup 1 --wait 10 with the tiny model, and a temporary doc",
    ),
    "fraudstream model train --partners alpha,bravo,charlie --trees 3 --depth 2 --n-bits 2 "
    "--fhe-sample 10 --no-simulate --out ../soak-model": Covered(
        _TRAIN,
        f"{_SIZES} (docs/reliability.md's small model for the soak: the same knobs, two trees "
        "instead of three, two partners)",
    ),
    "fraudstream bench soak --model ../soak-model/latest --minutes 62 --png docs/soak_rss.png "
    "--doc docs/reliability.md": Covered(
        "tests/e2e/test_bench_soak.py::test_a_short_soak_samples_every_process_and_loses_nothing",
        "in its short form: --partners alpha,bravo --minutes 0.5 --sample 3 --start 2018-06-19 "
        "--history-days 1 --drain 120, the tiny model (FRAUD_MODEL_DIR), a temporary --png and "
        "doc, and --json (the real run takes about 90 minutes; its output is "
        "docs/reliability.md)",
    ),
    # --- README.md: the two commands ------------------------------------------------------------
    "make run": Covered(
        _DEMO,
        "`make run` is `scripts/setup.sh` (the test environment itself) then `fraudstream demo` "
        "(checked by tests/unit/test_documented_commands.py); the test runs the demo with the "
        "tiny model (FRAUD_MODEL_DIR: training the default model takes minutes) and one card of "
        "each kind (--fraud-cards 1 --legit-cards 1)",
    ),
    "make test": Covered(
        "tests/unit/test_docs.py::test_readme_starts_with_what_it_is_and_the_two_commands",
        "`make test` is the test suite itself (`scripts/test.sh`); CI's .ci/run runs exactly "
        "`make test`, which this test checks",
    ),
    # --- README.md: using it --------------------------------------------------------------------
    "fraudstream --help": Covered(f"{_DOCUMENTED}::test_help_lists_every_command"),
    "fraudstream kafka up": Covered(
        _KAFKA, "with a temporary --state-dir and free --port and --controller-port"
    ),
    "fraudstream kafka down": Covered(
        _KAFKA, "with the --state-dir and ports of the broker it started"
    ),
    "fraudstream topics create": Covered(_TOPICS, "FRAUD_* at the session broker"),
    "fraudstream keys generate --partner alpha --key-dir keys/alpha": Covered(
        _TRAIN, "as written, in a folder where `model train` just wrote artifacts/latest"
    ),
    "fraudstream bench fuzz --count 10000 --seed 1 --doc docs/threat-model.md": Covered(
        "tests/integration/streams/qa/test_fuzz.py"
        "::test_a_short_fuzz_refuses_every_bad_input_and_keeps_scoring",
        "streams.qa.fuzz.run_fuzz, which the command runs, with 400 inputs on the tiny model; "
        "the full count's output is the block that follows the command in docs/threat-model.md",
    ),
    "fraudstream keys revoke --seed alpha-seed.json": Covered(
        "tests/integration/streams/test_pipeline.py"
        "::test_a_new_key_is_picked_up_and_the_old_one_still_served",
        "with --key-dir of a rotated key (the folder's seed.json), FRAUD_BROKER and "
        "FRAUD_TOPIC_ROOT of the test's broker and topics",
    ),
    "fraudstream keys scorer keys/scorer.key": Covered(
        "tests/integration/streams/cli/test_cli_model.py::test_keys_scorer_makes_a_key_and_shows_it",
        "with a temporary folder for the key file",
    ),
    "FRAUD_KEY_DIR=keys/alpha FRAUD_SCORER_PUBLIC_KEYS=<public-key> fraudstream worker --role "
    "partner --partner alpha": Covered(_WORKERS, _WORKER_HOW),
    "FRAUD_SCORER_KEY_FILE=keys/scorer.key FRAUD_WEB_PORT=6067 fraudstream worker --role "
    "scorer": Covered(_WORKERS, _WORKER_HOW),
    "fraudstream alerts --partner alpha --follow": Covered(
        f"{_DOCUMENTED}::test_alerts_follow_shows_new_alerts_until_ctrl_c",
        "FRAUD_BROKER and FRAUD_TOPIC_ROOT at the session broker; ended by SIGINT (Ctrl-C)",
    ),
    "fraudstream alerts --partner alpha --serve 8080": Covered(
        "tests/integration/streams/partner/test_alerts_page.py"
        "::test_a_browser_shows_the_page_and_a_new_alert_without_a_reload",
        "with --serve 127.0.0.1:<a free port>, FRAUD_BROKER and FRAUD_TOPIC_ROOT at the session "
        "broker; opened in headless chromium, ended by SIGINT (Ctrl-C)",
    ),
    "fraudstream alerts --partner alpha --scores --json": Covered(
        "tests/integration/streams/test_pipeline.py::test_alerts_command_shows_the_partners_scores",
        "FRAUD_BROKER, FRAUD_TOPIC_ROOT and FRAUD_PARTNERS at the test's pipeline",
    ),
    "fraudstream deadletters list --scope alpha": Covered(
        "tests/integration/streams/partner/test_partner_worker.py::"
        "test_deadletters_lists_and_resends_what_the_worker_refused",
        "FRAUD_BROKER, FRAUD_TOPIC_ROOT and FRAUD_PARTNERS at the test's worker; with --json",
    ),
    "fraudstream recording show golden.rec.gz": Covered(
        "tests/unit/streams/qa/test_kcat_format.py::test_import_then_show_and_export_round_trip",
        "on a recording imported from a kcat capture, with --limit 1",
    ),
    "fraudstream schemas --check": Covered(
        "tests/unit/streams/core/test_outputs.py::test_schemas_check_passes_on_this_checkout"
    ),
    "fraudstream bench pipeline --transactions 40": Covered(
        "tests/e2e/test_bench.py::test_bench_pipeline_prints_the_result_and_no_log_line",
        "--transactions 2 --warmup 1 with the tiny model (FRAUD_MODEL_DIR), default FRAUD_PARTNERS",
    ),
    "fraudstream bench memory --keys 1,4,16": Covered(
        "tests/e2e/test_bench.py::test_bench_memory_reports_the_evaluation_process_by_key_sets_held",
        "--keys 2,1 with the tiny model (--model), and --json (its table is checked in the doc)",
    ),
    "fraudstream bench pool --processes 1,2": Covered(
        "tests/e2e/test_bench.py::test_bench_pool_measures_every_combination_of_processes_and_threads",
        "--threads 1 --evaluations 3 with the tiny model (--model)",
    ),
    "fraudstream model compile-options": Covered(
        "tests/integration/streams/cli/test_cli_model.py::"
        "test_compile_options_measures_each_option_set_asked",
        "a tiny XGBoost (--trees 2 --depth 2 --n-bits 2) on one training and one test day, "
        "two option sets, one evaluation each",
    ),
    "fraudstream model train --partners alpha,bravo": Covered(_TRAIN, _SIZES),
    "fraudstream model assess --model artifacts/latest": Covered(
        _ASSESS,
        "the command is a thin wrapper (load the protocol's data, print the table) around "
        "models.training.assessment.assess_version, which the test runs on the tiny model "
        "with the protocol's first test day: the command's only size option is --fhe-sample, "
        "and the whole test week (three plaintext baselines, FHE simulation of every "
        "transaction, real FHE of the first day's frauds) takes minutes on 2 cores",
    ),
    "fraudstream model sweep": Covered(
        f"{_DOCUMENTED}::test_model_sweep_from_json_redraws_the_frontier",
        "with its documented --from-json, on copies of docs/model.md and the results the last "
        "sweep streamed (docs/model_sweep.json): measuring the grid takes about an hour, one "
        "grid point minutes (fit, compile, FHE simulation of the test week, real FHE)",
    ),
    "fraudstream keys export --key-dir keys/alpha --out alpha.evk": Covered(
        _TRAIN, "as written, after the `keys generate` above"
    ),
    "fraudstream replay --data-from 2018-08-08 --partner alpha --fraud-cards 3 "
    "--legit-cards 7 --speed 3600": Covered(_REPLAY_DOC, "as written (docs/replay.md)"),
    "fraudstream record input.rec.gz -t alpha.transactions -t alpha.labels": Covered(
        _REPLAY_DOC, "as written (docs/replay.md)"
    ),
    "fraudstream verify input.rec.gz --expected golden.rec.gz": Covered(
        _REPLAY_DOC,
        "as docs/replay.md's `verify tests/fixtures/alpha-2018-08-08.rec.gz --expected "
        "golden.rec.gz --save-scores replayed.rec.gz`: the same input (the test asserts the "
        "fixture holds what input.rec.gz holds), --save-scores only adds a file",
    ),
    # --- docs/benchmarks.md: partner key derivation --------------------------------------------
    "fraudstream keys seed --model artifacts/latest --partner alpha --out seed.json": Covered(
        _SEED, _SEED_HOW
    ),
    "fraudstream keys generate --model artifacts/latest --seed seed.json --key-dir keys "
    "--replace": Covered(_SEED, _SEED_HOW),
    "fraudstream keys export --model artifacts/latest --key-dir keys --out alpha.evk": Covered(
        _TRAIN,
        "as the README's `keys export --key-dir keys/alpha --out alpha.evk`: --model "
        "artifacts/latest is the default, the key folder a path",
    ),
    # --- docs/deploy.md ---------------------------------------------------------------------
    "fraudstream model train": Covered(
        _TRAIN,
        f"{_SIZES}: the defaults train the 10-tree 3-bit model, simulate the test week and run "
        "10 transactions in real FHE, minutes on 2 cores",
    ),
    "fraudstream keys seed --model artifacts/latest --partner alpha --out alpha-seed.json": (
        Covered(_SEED, _SEED_HOW)
    ),
    # --- docs/kafka.md: the authenticated broker --------------------------------------------
    "fraudstream kafka up --secure": Covered(
        f"{_SECURE}::test_kafka_up_secure_makes_users_and_acls_and_prints_no_password",
        "the module's fixture runs it with a temporary --state-dir, free --port and "
        "--controller-port, and FRAUD_TOPIC_ROOT/FRAUD_APP_ID of its own; it then runs "
        "`kafka env --user admin` and `topics create` with the printed settings (the `eval` "
        "lines), and every test of the module uses that broker",
    ),
    "fraudstream kafka up --secure --partners alpha,bravo,carol": Covered(
        f"{_SECURE}::test_a_partner_added_later_gets_a_user_and_its_grants",
        "as written, on the module's running secure broker (its --state-dir and ports)",
    ),
    # --- docs/replay.md (every `$ fraudstream` line, in order) --------------------------------
    "fraudstream record golden.rec.gz -t alpha.scores --follow --count 38 --idle-timeout 300": (
        Covered(_REPLAY_DOC, "as written")
    ),
    "fraudstream verify tests/fixtures/alpha-2018-08-08.rec.gz --expected golden.rec.gz "
    "--save-scores replayed.rec.gz": Covered(_REPLAY_DOC, "as written"),
    "fraudstream verify input.rec.gz --expected golden.rec.gz --model artifacts/candidate": (
        Covered(_REPLAY_DOC, "as written (artifacts/candidate: the tiny model, lower threshold)")
    ),
    "fraudstream verify input.rec.gz --compare-model artifacts/candidate --save-scores "
    "again.rec.gz": Covered(_REPLAY_DOC, "as written"),
    "fraudstream replay tests/fixtures/alpha-2018-08-08.rec.gz --speed 60 --dry-run": Covered(
        _REPLAY_DOC, "as written"
    ),
    # --- docs/data.md (the worked example, every `$ fraudstream` line, in order) -----------
    "fraudstream data example example": Covered(
        _DATA_EXAMPLE, "with --sample 0.05 (a twentieth of the cards)"
    ),
    f"fraudstream data check {_EXAMPLE_DATA} --spec example/merchants.toml": Covered(
        _DATA_EXAMPLE, "as written"
    ),
    f"fraudstream model train {_EXAMPLE_DATA} --spec example/merchants.toml --train-start "
    "2018-07-04 --out example/artifacts": Covered(_DATA_EXAMPLE, _SIZES),
    f"fraudstream model assess --model example/artifacts/latest {_EXAMPLE_DATA} --train-start "
    "2018-07-04": Covered(_DATA_EXAMPLE, "with --fhe-sample 2 and --json (its JSON lines read)"),
    f"fraudstream replay {_EXAMPLE_DATA} --spec example/merchants.toml --data-from 2018-07-18 "
    "--partner alpha --fraud-cards 2 --legit-cards 4 --save example/input.rec.gz": Covered(
        _DATA_EXAMPLE, "as written"
    ),
    "fraudstream verify example/input.rec.gz --model example/artifacts/latest --batch "
    "--local-broker": Covered(_DATA_EXAMPLE, "with --json (its JSON lines read)"),
}
