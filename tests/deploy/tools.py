"""What the deployment checks share: the tools of scripts/tools.sh, the chart rendered by the real
helm binary, schemas for offline validation, and a check that a command line is one the CLI
accepts."""

from __future__ import annotations

import copy
import functools
import json
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import click
import yaml

from streams.cli import full_cli
from streams.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "fraudstream"
VALUES_FILES = sorted((CHART / "ci").glob("*-values.yaml"))
#: The Kubernetes version the chart is rendered and validated for.
KUBE_VERSION = "1.34.0"
RELEASE_NAMESPACE = "fraud-scoring"
#: Every FRAUD_* variable the code reads: one per Settings field.
SETTINGS = frozenset(f"FRAUD_{name.upper()}" for name in Settings.model_fields)


@functools.cache
def tool(name: str) -> Path:
    """A path written by scripts/tools.sh (the test command runs it first)."""
    env = ROOT / ".fraudstream" / "tools.env"
    if not env.exists():
        msg = f"{env} is missing: run `bash scripts/tools.sh` (make test does)"
        raise RuntimeError(msg)
    found = dict(line.split("=", 1) for line in env.read_text().splitlines() if "=" in line)
    return Path(found[name])


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the project's helm binary."""
    return subprocess.run(
        [str(tool("HELM")), *args], capture_output=True, text=True, check=False, timeout=120
    )


def render(values: Sequence[Path] = (), *sets: str) -> list[dict[str, Any]]:
    """`helm template` of the chart with ``values`` files and ``--set`` items, as objects."""
    args = ["template", "fraud", str(CHART), "-n", RELEASE_NAMESPACE, "--kube-version"]
    args.append(KUBE_VERSION)
    for path in values:
        args += ["-f", str(path)]
    for item in sets:
        args += ["--set", item]
    result = helm(*args)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def pod_specs(objects: Iterable[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, pod spec) of every Deployment, StatefulSet and Job."""
    return [
        (obj, obj["spec"]["template"]["spec"])
        for obj in objects
        if obj["kind"] in {"Deployment", "StatefulSet", "Job"}
    ]


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """Init and main containers of a pod spec."""
    return [*pod.get("initContainers", []), *pod["containers"]]


class _CrdLoader(yaml.SafeLoader):
    """PyYAML reads a bare ``=`` (an enum value in KEDA's CRD) as YAML 1.1's value tag."""


_CrdLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: node.value)


#: Where each API group's CRDs are (a tools.env entry) and how their files are named.
CRD_FILES = {
    "keda.sh": ("KEDA_CRDS", "keda.sh_*.yaml"),
    "monitoring.coreos.com": ("PROMETHEUS_CRDS", "monitoring.coreos.com_*.yaml"),
    "kafka.strimzi.io": ("STRIMZI_CRDS", "*-Crd-*.yaml"),
}


@functools.cache
def _crd(path: Path) -> dict[str, Any]:
    """A CRD file, read once (do not modify it)."""
    crd: dict[str, Any] = yaml.load(path.read_text(), Loader=_CrdLoader)  # noqa: S506  (safe)
    return crd


def custom_resource_schema(api_version: str, kind: str) -> dict[str, Any]:
    """The strict JSON schema of a custom resource, from its CRD (KEDA, Prometheus operator,
    Strimzi)."""
    group, version = api_version.split("/")
    folder, pattern = CRD_FILES[group]
    # The files named after the kind first: PyYAML's pure-Python loader reads a CRD slowly, and
    # Strimzi's Kafka CRD alone is 600 kB.
    paths = sorted(tool(folder).glob(pattern), key=lambda p: (kind.lower() not in p.name, p.name))
    for path in paths:
        crd = _crd(path)
        if crd["spec"]["names"]["kind"] != kind:
            continue
        for served in crd["spec"]["versions"]:
            if served["name"] == version:
                return _strict(copy.deepcopy(served["schema"]["openAPIV3Schema"]))
    msg = f"no CRD for {api_version} {kind} under {tool(folder)}"
    raise LookupError(msg)


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """Unknown fields are errors (as the API server's strict field validation makes them)."""
    if isinstance(schema, dict):
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        for value in schema.values():
            if isinstance(value, dict):
                _strict(value)
            elif isinstance(value, list):
                for item in value:
                    _strict(item)
    return schema


def check_command(args: Sequence[str]) -> str:
    """Parse ``args`` as `fraudstream ARGS` the way the CLI would; return the command's path.

    Unknown commands, options and choices fail; a path that must exist is accepted (it exists in
    the container, not here).
    """
    command: click.Command = full_cli()
    path = ["fraudstream"]
    rest = list(args)
    while isinstance(command, click.Group):
        assert rest, f"{' '.join(path)} needs a subcommand"
        sub = command.get_command(click.Context(command), rest[0])
        assert sub is not None, f"{' '.join(path)} has no command {rest[0]!r}"
        path.append(rest.pop(0))
        command = sub
    try:
        command.make_context(" ".join(path), rest)
    except click.BadParameter as exc:
        if not isinstance(exc.param and exc.param.type, click.Path):
            raise
    return " ".join(path)


def schema_of_values() -> dict[str, Any]:
    """The chart's values schema."""
    loaded: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return loaded
