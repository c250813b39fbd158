"""The chart's Grafana dashboard and PrometheusRule: rendered by the real helm, every query
naming only metrics the workers expose, nothing about alerts, and the rules checked (and their
alerts fired on sample series) by Prometheus' own promtool."""

from __future__ import annotations

import functools
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from streams.partner.metrics import PartnerMetrics
from streams.runtime.metrics import PREFIX
from streams.scorer.metrics import ScorerMetrics
from tests.deploy.tools import CHART, KUBE_VERSION, VALUES_FILES, helm, render, tool

_PRODUCTION = next(path for path in VALUES_FILES if path.stem == "production-values")
_METRIC = re.compile(rf"\b{PREFIX}_[a-z_]+\b")


@functools.cache
def _production() -> tuple[dict[str, Any], ...]:
    return tuple(render([_PRODUCTION]))


def _one(kind: str) -> dict[str, Any]:
    (found,) = [obj for obj in _production() if obj["kind"] == kind and "metrics" in str(obj)]
    return found


def _series(family: Metric) -> set[str]:
    """The sample names of a family as the text format writes them."""
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_count", "_sum"),
        "gauge": ("",),
    }[family.type]
    return {family.name + suffix for suffix in suffixes}


@functools.cache
def exposed() -> frozenset[str]:
    """Every series name a worker's /metrics can show: Faust's sensor under the project's
    prefix, the project's own (scorer and partner) and the agents' record ages."""
    from faust.sensors.prometheus import FaustMetrics  # noqa: PLC0415

    faust = CollectorRegistry()
    FaustMetrics.create(faust, PREFIX)
    names = {f"{PREFIX}_agent_record_age_seconds"}
    for registry in (faust, ScorerMetrics().registry, PartnerMetrics().registry):
        for family in registry.collect():
            names |= _series(family)
    return frozenset(names)


def _dashboard() -> dict[str, Any]:
    config_map = next(o for o in _production() if o["metadata"]["name"].endswith("-dashboard"))
    dashboard: dict[str, Any] = json.loads(config_map["data"]["fraudstream.json"])
    return dashboard


def test_the_dashboard_is_the_charts_file_in_a_configmap_for_grafanas_sidecar() -> None:
    config_map = next(o for o in _production() if o["metadata"]["name"].endswith("-dashboard"))
    assert config_map["kind"] == "ConfigMap"
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    on_disk = json.loads((CHART / "dashboards" / "fraudstream.json").read_text())
    assert _dashboard() == on_disk
    minimal = next(path for path in VALUES_FILES if path.stem == "minimal-values")
    assert not [o for o in render([minimal]) if o["metadata"]["name"].endswith("-dashboard")]


def test_every_dashboard_panel_queries_metrics_the_workers_expose() -> None:
    """Unique ids, no overlapping rows left empty, a data source variable, and every series a
    query names is one a worker exposes: a renamed metric fails here, not on a blank panel."""
    dashboard = _dashboard()
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert variables == {"datasource", "job"}
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["description"], panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            expr = target["expr"]
            named = set(_METRIC.findall(expr))
            assert named, (panel["title"], expr)
            assert named <= exposed(), (panel["title"], named - exposed())
            assert 'job=~"$job"' in expr, (panel["title"], expr)
            assert "alert" not in expr
    covered = {m for p in panels for t in p["targets"] for m in _METRIC.findall(t["expr"])}
    own = {
        "fraudstream_scores_total",
        "fraudstream_verdicts_total",
        "fraudstream_scoring_requests_total",
        "fraudstream_fhe_evaluation_seconds_bucket",
        "fraudstream_end_to_end_seconds_bucket",
        "fraudstream_request_wait_seconds_bucket",
        "fraudstream_dead_letters_total",
        "fraudstream_evaluation_keys_held",
        "fraudstream_evaluations_in_flight",
        "fraudstream_agent_record_age_seconds",
    }
    assert own <= covered, own - covered


def _rules() -> dict[str, Any]:
    rule = next(o for o in _production() if o["kind"] == "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    assert rule["metadata"]["namespace"] == "fraud-scoring"
    spec: dict[str, Any] = rule["spec"]
    return spec


def test_every_rule_names_metrics_the_workers_expose_and_the_values_thresholds() -> None:
    rules = [r for group in _rules()["groups"] for r in group["rules"]]
    assert {r["alert"] for r in rules} == {
        "FraudstreamWorkerDown",
        "FraudstreamAgentStuck",
        "FraudstreamDeadLetters",
        "FraudstreamFheSlow",
        "FraudstreamEndToEndSlow",
        "FraudstreamNoVerdicts",
        "FraudstreamScorerWithoutKeys",
    }
    for rule in rules:
        named = set(_METRIC.findall(rule["expr"]))
        assert named <= exposed(), (rule["alert"], named - exposed())
        assert 'job=~"fraud-(scorer|partner-.+)"' in rule["expr"], rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        assert "alerts_total" not in rule["expr"]
    by_name = {r["alert"]: r for r in rules}
    assert by_name["FraudstreamAgentStuck"]["expr"].endswith("> 900")  # production's stuckAfter
    assert by_name["FraudstreamFheSlow"]["expr"].endswith("> 5")


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool("PROMTOOL")), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=cwd,
    )


def test_promtool_accepts_the_rules_and_fires_them_on_sample_series(tmp_path: Path) -> None:
    """`promtool check rules` parses every expression; `promtool test rules` feeds series
    (tests/deploy/prometheus_rules_test.yaml) and checks which alerts fire, and when."""
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": _rules()["groups"]}))
    checked = _promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 7 rules found" in checked.stdout
    cases = Path(__file__).with_name("prometheus_rules_test.yaml")
    (tmp_path / "test.yaml").write_text(cases.read_text())
    tested = _promtool("test", "rules", "test.yaml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


@pytest.mark.parametrize("value", ["fheP99Seconds=0", "for=ten minutes", "deadLetters=0"])
def test_a_wrong_rule_value_is_refused(value: str) -> None:
    """The values schema refuses it, naming the value."""
    args = ["template", "fraud", str(CHART), "--kube-version", KUBE_VERSION, "-f", str(_PRODUCTION)]
    result = helm(*args, "--set", f"metrics.prometheusRule.{value}")
    assert result.returncode != 0
    name = value.split("=", maxsplit=1)[0]
    assert f"/metrics/prometheusRule/{name}" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("release", "alerts"),
    [
        ("scorer-only-values", {"FraudstreamFheSlow", "FraudstreamScorerWithoutKeys"}),
        ("partner-only-values", {"FraudstreamEndToEndSlow"}),
    ],
)
def test_a_release_gets_the_rules_of_the_workers_it_runs(release: str, alerts: set[str]) -> None:
    """A scorer-only release has no partner-side rule and a partner-only release no scorer-side
    one; neither has FraudstreamNoVerdicts, which needs both sides' metrics."""
    values = next(path for path in VALUES_FILES if path.stem == release)
    (rule,) = [
        o
        for o in render([values], "metrics.prometheusRule.enabled=true")
        if o["kind"] == "PrometheusRule"
    ]
    found = {r["alert"] for group in rule["spec"]["groups"] for r in group["rules"]}
    common = {"FraudstreamWorkerDown", "FraudstreamAgentStuck", "FraudstreamDeadLetters"}
    assert found == common | alerts
