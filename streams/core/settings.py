"""Configuration: frozen pydantic-settings classes, every field one ``FRAUD_*`` variable.

Split by role, so that a role's settings type holds only what that role may have:

- :class:`KafkaSettings`: how to reach the broker (every process that talks to Kafka);
- :class:`WorkerSettings`: topics, partners, the model folder, the worker's web server and state
  (both roles, and the tools that drive a pipeline);
- :class:`PartnerSettings`: the partner's own: its key folders, threshold and event limits;
- :class:`ScorerSettings`: the shared scorer's: its FHE pool and how long it waits for keys. No
  key folder exists on this type at all.
- :class:`Settings`: every field, for the tools that run both roles on one machine (demo, verify,
  bench) and for the reference in docs/configuration.md.

Only the entry points (the CLI, the workers' start-up) build settings; everything else takes
plain values as arguments.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = [
    "GUARANTEES",
    "GUARANTEE_SWITCH",
    "PARTNER_ID_PATTERN",
    "KafkaSettings",
    "PartnerSettings",
    "ScorerSettings",
    "Settings",
    "WorkerSettings",
    "settings_reference",
]

#: A measurement switch (an environment variable), not a setting: ``fraudstream bench pipeline
#: --guarantee exactly_once`` runs its workers with Faust's Kafka transactions to measure what
#: they cost. They are not offered for production: faust-streaming's exactly_once does not make
#: a partner's outputs and its offsets one atomic step (docs/reliability.md, "Exactly once").
GUARANTEE_SWITCH = "FRAUD_BENCH_PROCESSING_GUARANTEE"
GUARANTEES = ("at_least_once", "exactly_once")

#: Partner ids appear in topic names, so they use a topic-safe alphabet.
PARTNER_ID_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"
_TOPIC_ROOT_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$"
_CONFIG = SettingsConfigDict(env_prefix="FRAUD_", frozen=True, extra="ignore")


class KafkaSettings(BaseSettings):
    """How to reach the broker. Read from ``FRAUD_<NAME>`` environment variables."""

    model_config = _CONFIG

    broker: str = Field(
        default="127.0.0.1:9092",
        description="Bootstrap servers, comma separated host:port.",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How clients talk to the broker."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="SCRAM-SHA-512",
        description="SASL mechanism of the SASL_* protocols (PLAIN, which sends the password "
        "itself, only when set explicitly).",
    )
    sasl_username: str | None = Field(
        default=None,
        validate_default=True,
        description="SASL user name (required with the SASL_* protocols).",
    )
    sasl_password: SecretStr | None = Field(
        default=None,
        validate_default=True,
        description="SASL password (required with the SASL_* protocols; never logged or shown).",
    )
    ssl_cafile: Path | None = Field(
        default=None,
        description="CA bundle to verify the broker (SSL, SASL_SSL; the system CAs when unset).",
    )
    ssl_certfile: Path | None = Field(
        default=None,
        description="Client certificate (PEM) for brokers that require mutual TLS (SSL, SASL_SSL).",
    )
    ssl_keyfile: Path | None = Field(
        default=None,
        description="Private key (PEM) of FRAUD_SSL_CERTFILE, unless that file holds it too.",
    )
    connect_timeout_s: float = Field(
        default=3.0,
        gt=0,
        le=300,
        description="Seconds a Kafka client waits to reach the broker before it stops with an "
        "error; workers wait at least 30 s (a broker may still be starting).",
    )

    @field_validator("sasl_username", "sasl_password", mode="after")
    @classmethod
    def _sasl_needs_credentials(cls, value: object, info: ValidationInfo) -> object:
        protocol = str(info.data.get("security_protocol", ""))
        if value is None and protocol.startswith("SASL_"):
            msg = f"required with FRAUD_SECURITY_PROTOCOL={protocol}"
            raise ValueError(msg)
        return value

    @field_validator("ssl_cafile", "ssl_certfile", "ssl_keyfile", mode="after")
    @classmethod
    def _tls_files_need_tls(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        protocol = str(info.data.get("security_protocol", ""))
        if value is not None and protocol not in ("SSL", "SASL_SSL"):
            msg = (
                f"only used with FRAUD_SECURITY_PROTOCOL=SSL or SASL_SSL, not {protocol}: set "
                "the protocol (or unset this file)"
            )
            raise ValueError(msg)
        if info.field_name == "ssl_keyfile" and value and info.data.get("ssl_certfile") is None:
            msg = "a key without FRAUD_SSL_CERTFILE: set the client certificate too"
            raise ValueError(msg)
        return value

    @property
    def bootstrap_servers(self) -> list[str]:
        """The broker list as kafka-python and aiokafka want it."""
        return [server.strip() for server in self.broker.split(",") if server.strip()]


class WorkerSettings(KafkaSettings):
    """What both roles (and the tools that drive a pipeline) share: topics, partners, the model
    folder, the worker's state and web server."""

    # --- Topics and partners ----------------------------------------------------------------
    topic_root: str = Field(
        default="fraud",
        pattern=_TOPIC_ROOT_PATTERN,
        description="First component of every topic name: <root>.<scope>.<entity>.v<N>.",
    )
    topic_partitions: int = Field(
        default=4, ge=1, le=256, description="Partitions of each topic created."
    )
    topic_replication: int = Field(
        default=1, ge=1, le=5, description="Replication factor of each topic created."
    )
    partners: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("alpha", "bravo"),
        description="Known partner ids; events from any other partner are dead-lettered.",
    )

    max_message_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024 * 1024,
        description="Topic max.message.bytes; encrypted verdicts are hundreds of KB.",
    )

    # --- Worker -----------------------------------------------------------------------------
    app_id: str = Field(
        default="fraudstream",
        pattern=_TOPIC_ROOT_PATTERN,
        description="Prefix of consumer groups: <app_id>-<role>[-<partner>].",
    )
    data_dir: Path = Field(
        default=Path(".fraudstream/data"),
        description="Worker state folder (Faust datadir; tables live in memory, from changelogs).",
    )
    session_timeout: float = Field(
        default=10.0,
        ge=6.0,
        le=300.0,
        description="Seconds before a silent worker's partitions move to another (crash takeover).",
    )
    stuck_after: float = Field(
        default=600.0,
        ge=10.0,
        description="Seconds an agent may spend on one record before /ready reports it stuck "
        "(and the worker not ready); /metrics shows each agent's current record age.",
    )
    web_host: str = Field(
        default="127.0.0.1",
        description="Bind address of the worker's web server (probes, /metrics).",
    )
    web_port: int = Field(default=6066, ge=1, le=65535, description="Worker's web server port.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Lowest level logged (JSON lines on stdout)."
    )

    # --- Model -----------------------------------------------------------------------------
    model_dir: Path = Field(
        default=Path("artifacts/latest"),
        description="Model artifacts (`fraudstream model train`): partners use its client part, "
        "scorers its server part.",
    )
    other_model_dirs: Annotated[tuple[Path, ...], NoDecode] = Field(
        default=(),
        description="More model versions, comma separated, for a model change under load: a "
        "scorer serves them beside FRAUD_MODEL_DIR (each request is evaluated by the model it "
        "was made for); a partner decrypts with them the verdicts made under its previous key "
        "folders' models and shadow-scores with its FRAUD_SHADOW_KEY_DIR's (docs/reliability.md).",
    )

    @field_validator("partners", mode="before")
    @classmethod
    def _split_partners(cls, value: object) -> object:
        """Accept ``alpha,bravo`` from the environment as well as a JSON list."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("other_model_dirs", mode="before")
    @classmethod
    def _split_model_dirs(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(Path(part.strip()) for part in value.split(",") if part.strip())
        return value

    @field_validator("partners")
    @classmethod
    def _check_partners(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            msg = "at least one partner id is required (FRAUD_PARTNERS=alpha,bravo)"
            raise ValueError(msg)
        bad = [p for p in value if not re.fullmatch(PARTNER_ID_PATTERN, p)]
        if bad:
            msg = f"partner ids must match {PARTNER_ID_PATTERN}: {bad}"
            raise ValueError(msg)
        for reserved in ("scoring", "federation"):
            if reserved in value:
                msg = f"{reserved!r} is a shared service's topic scope and cannot be a partner id"
                raise ValueError(msg)
        if len(set(value)) != len(value):
            msg = "partner ids must be unique"
            raise ValueError(msg)
        return value


class PartnerSettings(WorkerSettings):
    """A partner's worker: its own key folders, alert threshold and event limits."""

    # --- Validation limits ------------------------------------------------------------------
    max_event_bytes: int = Field(default=4096, ge=256, description="Largest plaintext event.")
    max_amount: float = Field(default=100_000.0, gt=0, description="Largest plausible amount.")
    max_clock_skew: float = Field(
        default=300.0,
        ge=0.0,
        le=86_400.0,
        description="Seconds an event's timestamp may be ahead of the gateway's clock; a later "
        "one is dead-lettered (it would shift its card's and terminal's windows).",
    )
    # --- Keys and alerts -------------------------------------------------------------------
    key_dir: Path | None = Field(
        default=None,
        description="Partner role: the partner's key folder (`fraudstream keys generate`); it "
        "encrypts, and its evaluation keys are published once.",
    )
    previous_key_dirs: Annotated[tuple[Path, ...], NoDecode] = Field(
        default=(),
        description="Partner role: older key folders, comma separated, kept to decrypt verdicts "
        "of requests sent before a key rotation.",
    )
    shadow_key_dir: Path | None = Field(
        default=None,
        description="Partner role: a key folder made for a candidate model (its folder in "
        "FRAUD_OTHER_MODEL_DIRS): every transaction is also scored by the candidate, to the "
        "shadow-scores topic, never alerted (`fraudstream shadow` compares).",
    )
    threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Partner role: fraud score from which a transaction is alerted (the model's "
        "own threshold when unset).",
    )
    scorer_public_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Partner role: the scorer's verdict-signing public keys (hex, comma "
        "separated; two during a rotation; `fraudstream keys scorer --show`). Verdicts signed by "
        "no pinned key are refused; required to run a partner.",
    )
    join_ttl: float = Field(
        default=86_400.0,
        ge=60.0,
        description="Partner role: seconds a request's details wait for its verdict (and a "
        "joined request id is remembered, to drop duplicates) before they expire.",
    )
    federation_members: Path | None = Field(
        default=None,
        description="Partner role: the federation's members file (member name → pinned "
        "Ed25519 public key, the aggregator's included). With a model whose spec has "
        "[shared_counts], the gateway reads the aggregator's sums; unset, those label windows "
        "count the partner's own transactions only (docs/federation.md).",
    )
    aggregator: str = Field(
        default="aggregator",
        min_length=1,
        description="Partner role: the member name whose signed sums the gateway accepts.",
    )
    # --- The live alerts page (docs/alerts.md) ----------------------------------------------
    alerts_page_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Partner role: port of the fraud team's live alerts page, on "
        "FRAUD_ALERTS_PAGE_HOST (never the web port, which monitoring reaches); unset, no page.",
    )
    alerts_page_host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="Partner role: address the alerts page listens on: loopback by default "
        "(reached through `kubectl port-forward` only); 0.0.0.0 lets the network reach it.",
    )
    alerts_page_scores: int = Field(
        default=500, ge=1, le=10_000, description="Latest scores the alerts page shows."
    )
    alerts_page_alerts: int = Field(
        default=200, ge=1, le=10_000, description="Latest alerts the alerts page shows."
    )

    @field_validator("scorer_public_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("previous_key_dirs", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(Path(part.strip()) for part in value.split(",") if part.strip())
        return value


class ScorerSettings(WorkerSettings):
    """The shared scorer: its FHE pool and key wait. It has no key folder setting at all."""

    key_wait: float = Field(
        default=10.0,
        ge=0.0,
        le=600.0,
        description="Scorer role: most seconds a request waits for the evaluation keys of a key "
        "id not seen yet; it is dead-lettered sooner, as soon as the keys topics are read to "
        "their end without them.",
    )
    fhe_timeout: float = Field(
        default=120.0,
        ge=1.0,
        le=3600.0,
        description="Scorer role: seconds an FHE evaluation may take (a fresh process loading "
        "the circuit and keys included); past it the process is killed and replaced and the "
        "request tried once more, then dead-lettered with the reason.",
    )
    scorer_processes: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Scorer role: processes of the FHE pool, and so requests evaluated at once "
        "(their verdicts still leave in the requests' order). See docs/deploy.md's sizing rule.",
    )
    scorer_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description="Scorer role: OpenMP threads each FHE pool process's evaluation uses; 0 "
        "leaves Concrete's default (every core the process sees).",
    )
    scorer_key_file: Path | None = Field(
        default=None,
        description="Scorer role: the scorer's verdict-signing key file (`fraudstream keys "
        "scorer`, mode 0600); required to run a scorer.",
    )
    request_max_age: float = Field(
        default=86_400.0,
        ge=60.0,
        description="Scorer role: seconds after its signing time a request is still evaluated "
        "(older ones are dead-lettered; nonces are remembered this long to refuse replays).",
    )


class Settings(PartnerSettings, ScorerSettings):
    """Every setting: for tools that run both roles on one machine, and the docs' reference."""


def settings_reference() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting: the source of docs/configuration.md."""
    rows = []
    for name, field in Settings.model_fields.items():  # every role's fields, once
        default = field.default
        if isinstance(default, tuple):
            shown = ",".join(str(item) for item in default) or "(none)"
        elif default is None:
            shown = "(unset)"
        else:
            shown = str(default)
        rows.append((f"FRAUD_{name.upper()}", shown, field.description or ""))
    return rows
