"""``fraudstream schemas``: the JSON Schemas of the score and alert records, written or checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from models.features.spec import handbook_spec
from streams.cli._common import (
    Command,
    check_partners,
    console,
    load_settings,
    read_block,
    replace_block,
)
from streams.cli.schema_registry import register, value_subject
from streams.core.outputs import SCHEMA_VERSION, published_schemas
from streams.core.topics import TopicNames

__all__ = ["schemas"]


def schema_text(schema: dict[str, object]) -> str:
    """A schema file's text: indented JSON, keys in the code's order, one final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def fields_markdown() -> str:
    """docs/alerts.md's fields block: every field of a score (and of its timings) with its JSON
    type, whether it is always there, and its meaning with the unit; then the handbook's
    feature names in their order."""
    schema = published_schemas()["score.v1.json"]
    rows = ["| field | JSON type | always there | meaning |", "|---|---|---|---|"]
    rows += _rows(schema, "")
    rows += _rows(schema["$defs"]["ScoreTimings"], "timings.")
    names = handbook_spec().feature_names
    features = ", ".join(f"{n}. `{name}`" for n, name in enumerate(names, start=1))
    return "\n".join(rows) + f"\n\nThe handbook's {len(names)} features, in order: {features}."


def _rows(schema: dict[str, Any], prefix: str) -> list[str]:
    required = set(schema.get("required", ()))
    return [
        f"| `{prefix}{name}` | {_type(spec)} | {'yes' if name in required else 'no'} | "
        f"{spec['description']} |"
        for name, spec in schema["properties"].items()
    ]


def _type(spec: dict[str, Any]) -> str:
    """A property's JSON type in words."""
    if "$ref" in spec:
        shown = "object"
    elif "anyOf" in spec:
        shown = " or ".join(_type(option) for option in spec["anyOf"])
    elif spec.get("type") == "array":
        shown = f"array of {_type(spec.get('items', {}))}"
    elif spec.get("type") == "object" and "additionalProperties" in spec:
        shown = f"object of {_type(spec['additionalProperties'])}"
    elif spec.get("format") == "date-time":
        shown = "string (RFC 3339 time)"
    else:
        shown = str(spec.get("type", "any"))
        if "const" in spec:
            shown += f" ({json.dumps(spec['const'])} only)"
    return shown


@click.command(cls=Command)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("docs/schemas"),
    show_default=True,
    help="Folder of the schema files (score.v1.json, alert.v1.json).",
)
@click.option(
    "--doc",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("docs/alerts.md"),
    show_default=True,
    help="Markdown file whose fields block lists every field (rewritten, or checked).",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing: exit 1 if a file is missing or differs from the code's schema.",
)
@click.option(
    "--register",
    "registry",
    metavar="URL",
    help="Write nothing: register the schemas with the Schema Registry at URL, as JSON Schema "
    "subjects <topic>-value of each partner's scores and alerts topics; print their ids.",
)
@click.option(
    "--partner",
    "partners",
    multiple=True,
    help="With --register: whose topics (repeatable; default: every partner of FRAUD_PARTNERS).",
)
@click.option(
    "--connect-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="With --register: seconds to wait for the registry to connect and to answer.",
)
def schemas(
    out: Path,
    doc: Path,
    check: bool,
    registry: str | None,
    partners: tuple[str, ...],
    connect_timeout: float,
) -> None:
    """Write the JSON Schemas (draft 2020-12) of the records on a partner's scores and alerts
    topics: every field with its type, unit and meaning (docs/alerts.md). A Kafka Connect
    sink or a case tool validates against them; --check tells whether the files match this
    version of the code; --register publishes them to a Schema Registry (docs/alerts.md, Kafka
    Connect sinks)."""
    if registry is not None:
        _register(registry, partners, connect_timeout)
        return
    stale = []
    for name, schema in published_schemas().items():
        path = out / name
        text = schema_text(schema)
        if check:
            if not path.is_file() or path.read_text() != text:
                stale.append(str(path))
            continue
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        console.print(f"[green]written[/] {path}", highlight=False)
    fields = fields_markdown()
    if check:
        if read_block(doc, "fields") != fields:
            stale.append(f"{doc} (fields block)")
    else:
        replace_block(doc, "fields", fields)
        console.print(f"[green]written[/] {doc} (fields block)", highlight=False)
    if stale:
        console.print(
            f"[red]out of date:[/] {', '.join(stale)} (run `fraudstream schemas`)", highlight=False
        )
        raise SystemExit(1)
    if check:
        console.print("schemas match the code", highlight=False)


def registry_subjects(names: TopicNames, partners: tuple[str, ...]) -> list[tuple[str, str]]:
    """Each subject to register and the schema file it gets: for every partner, its scores
    topic's values (``score``) and its alerts topic's values (``alert``)."""
    return [
        (value_subject(topic), f"{kind}.v{SCHEMA_VERSION}.json")
        for partner in partners
        for topic, kind in ((names.scores(partner), "score"), (names.alerts(partner), "alert"))
    ]


def _register(url: str, partners: tuple[str, ...], timeout_s: float) -> None:
    """Register the schemas of ``partners``' topics (every partner by default) at ``url``."""
    settings = load_settings()
    check_partners(settings, partners)
    published = published_schemas()
    chosen = partners or tuple(settings.partners)
    for subject, name in registry_subjects(TopicNames(settings.topic_root), chosen):
        done = register(url, subject, published[name], timeout_s)
        console.print(
            f"[green]registered[/] {subject} ({name}): schema id {done.schema_id}", highlight=False
        )
