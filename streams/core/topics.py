"""Topic names and declarations: ``<root>.<scope>.<entity>.v<N>``.

``scope`` is a partner id for everything that lives inside a partner's trust boundary and
``scoring`` for the shared service. Dead letters are kept per scope: a partner's malformed
plaintext event must never land on a topic the scorer reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.core.settings import WorkerSettings

__all__ = [
    "PARTNER_TABLES",
    "SCORING_SCOPE",
    "TopicNames",
    "TopicSpec",
    "declared_topics",
    "faust_app_id",
    "federation_topic_specs",
    "topic_specs",
]

#: The shared service's scope; reserved, it can never be a partner id.
SCORING_SCOPE = "scoring"
#: The federation's shared scope (the coordinator's answers topic); reserved like the above.
FEDERATION_SCOPE = "federation"
#: The Faust tables of a partner worker (their changelog topics are declared with the others).
PARTNER_TABLES = ("entity_state", "verdict_join")


def faust_app_id(app_id: str, role: str, partner: str | None = None) -> str:
    """The Faust app id of a worker, which is also its consumer group:
    ``<app_id>-partner-<partner>`` or ``<app_id>-scorer``."""
    return f"{app_id}-{role}" + (f"-{partner}" if partner else "")


@dataclass(frozen=True)
class TopicNames:
    """Every topic name of the system, derived from one root."""

    root: str = "fraud"

    def _name(self, scope: str, entity: str, version: int = 1) -> str:
        return f"{self.root}.{scope}.{entity}.v{version}"

    # --- inside a partner -------------------------------------------------------------------
    def transactions(self, partner: str) -> str:
        """Plaintext transaction events a partner feeds in."""
        return self._name(partner, "transactions")

    def labels(self, partner: str) -> str:
        """Confirmed frauds, arriving late (the terminal risk features count them)."""
        return self._name(partner, "labels")

    def validated(self, partner: str) -> str:
        """Valid transactions on their way through their entities' states, and labels, keyed
        by the state key of the entity each visits (``terminal_id=42``)."""
        return self._name(partner, "validated")

    def pending(self, partner: str) -> str:
        """Plaintext details of requests waiting for their verdict, keyed by request id."""
        return self._name(partner, "pending")

    def verdicts(self, partner: str) -> str:
        """Encrypted verdicts routed back to the partner, keyed by request id."""
        return self._name(partner, "verdicts")

    def scores(self, partner: str) -> str:
        """Every decrypted score, with the transaction it belongs to."""
        return self._name(partner, "scores")

    def alerts(self, partner: str) -> str:
        """Scores at or over the partner's threshold, for its fraud team."""
        return self._name(partner, "alerts")

    def shadow_scores(self, partner: str) -> str:
        """Scores of a candidate model on the partner's live traffic (shadow scoring), for
        comparing with ``scores`` before switching; they never raise an alert."""
        return self._name(partner, "shadow-scores")

    def deadletter(self, scope: str) -> str:
        """Records of ``scope`` that could not be processed, with the reason in headers."""
        return self._name(scope, "deadletter")

    # --- the shared scoring service ---------------------------------------------------------
    def scoring_requests(self) -> str:
        """Encrypted scoring requests from every partner, keyed by request id."""
        return self._name(SCORING_SCOPE, "requests")

    def evaluation_keys(self, partner: str) -> str:
        """The partner's evaluation keys, chunked and compacted: the partner alone writes here
        (a Kafka ACL can say so), every scorer reads it."""
        return self._name(partner, "keys")

    # --- federation (docs/federation.md) ----------------------------------------------------
    def federation_tasks(self, partner: str) -> str:
        """The coordinator's signed tasks for one partner's trainer (join, sums, trees)."""
        return self._name(partner, "federation-tasks")

    def federation_answers(self) -> str:
        """Every trainer's signed answers to the coordinator: trees, masked vectors, counts of
        rows; never a row."""
        return self._name(FEDERATION_SCOPE, "answers")

    def masking_keys(self) -> str:
        """Every partner's signed masking key for the secure sums (compacted, key partner)."""
        return self._name(FEDERATION_SCOPE, "masking-keys")

    def contributions(self) -> str:
        """Every partner's masked vectors of its own counts, one per round; only the
        aggregator reads them (and learns nothing from one)."""
        return self._name(FEDERATION_SCOPE, "contributions")

    def shared_counts(self) -> str:
        """The aggregator's signed sums, one record per round (compacted, key round id): every
        partner's gateway reads them."""
        return self._name(FEDERATION_SCOPE, "shared-counts")

    @staticmethod
    def changelog(app_id: str, partner: str, table: str) -> str:
        """Faust's changelog topic of a partner worker's table (Faust's naming)."""
        return f"{faust_app_id(app_id, 'partner', partner)}-{table}-changelog"

    @staticmethod
    def assignor_leader(faust_id: str) -> str:
        """The topic Faust's leader assignor declares and subscribes to, one per Faust app id
        (``faust.assignor.leader_assignor``); the app creates it at start."""
        return f"{faust_id}-__assignor-__leader"


@dataclass(frozen=True)
class TopicSpec:
    """A topic to declare: name, partition count and topic-level configuration."""

    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def topic_specs(
    names: TopicNames,
    partners: Iterable[str],
    *,
    partitions: int,
    max_message_bytes: int,
    app_id: str | None = None,
) -> list[TopicSpec]:
    """All topics of the system for these partners, with the configuration each needs.

    With ``app_id``, also the partner workers' table changelogs: declared here, before any worker
    starts, with the partition count of the topics they mirror (Faust would create them at
    start, and a worker that sees a half-created topic refuses its records as a partition-count
    mismatch).
    """
    large = {"max.message.bytes": str(max_message_bytes)}
    specs: list[TopicSpec] = []
    for partner in partners:
        specs += [
            TopicSpec(names.transactions(partner), partitions),
            TopicSpec(names.labels(partner), partitions),
            TopicSpec(names.validated(partner), partitions),
            TopicSpec(names.pending(partner), partitions),
            TopicSpec(names.verdicts(partner), partitions, large),
            TopicSpec(names.scores(partner), partitions),
            TopicSpec(names.alerts(partner), partitions),
            TopicSpec(names.shadow_scores(partner), partitions),
            # A dead letter keeps the original record, however large it was.
            TopicSpec(names.deadletter(partner), 1, large),
            TopicSpec(names.evaluation_keys(partner), 1, {**large, "cleanup.policy": "compact"}),
        ]
        if app_id is not None:
            specs += [
                TopicSpec(
                    TopicNames.changelog(app_id, partner, table),
                    partitions,
                    {**large, "cleanup.policy": "compact"},
                )
                for table in PARTNER_TABLES
            ]
    specs += [
        TopicSpec(names.scoring_requests(), partitions, large),
        TopicSpec(names.deadletter(SCORING_SCOPE), 1, large),
    ]
    return specs + federation_topic_specs(names, partners, max_message_bytes)


#: How long masked vectors of the secure sums are kept: a restarted aggregator still finds every
#: pending round's vectors, and a partner restarted within it re-sends nothing new.
CONTRIBUTIONS_RETENTION_MS = 7 * 86_400_000


def federation_topic_specs(
    names: TopicNames, partners: Iterable[str], max_message_bytes: int
) -> list[TopicSpec]:
    """The federation's topics (docs/federation.md), one partition each (a round's messages are
    few and ordered): each partner's tasks and the answers of federated training; the masking
    keys, contributions and sums of the secure sums of shared counts."""
    large = {"max.message.bytes": str(max_message_bytes)}
    specs = [TopicSpec(names.federation_tasks(partner), 1, large) for partner in partners]
    return [
        *specs,
        TopicSpec(names.federation_answers(), 1, large),
        TopicSpec(names.masking_keys(), 1, {"cleanup.policy": "compact"}),
        TopicSpec(
            names.contributions(), 1, {**large, "retention.ms": str(CONTRIBUTIONS_RETENTION_MS)}
        ),
        TopicSpec(names.shared_counts(), 1, {**large, "cleanup.policy": "compact"}),
    ]


def declared_topics(
    settings: WorkerSettings, partners: Iterable[str] | None = None
) -> list[TopicSpec]:
    """Every topic ``settings`` describe (for ``partners``, by default every partner of the
    settings), with the partner workers' table changelogs: what ``fraudstream topics create``,
    the demo, verify and the tests declare."""
    return topic_specs(
        TopicNames(settings.topic_root),
        settings.partners if partners is None else partners,
        partitions=settings.topic_partitions,
        max_message_bytes=settings.max_message_bytes,
        app_id=settings.app_id,
    )
