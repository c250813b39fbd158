"""The partner's worker process: its keys, its evaluation keys published, gateway and decryptor.

``fraudstream worker --role partner --partner P`` runs :func:`run_partner_worker`. At start it
loads the partner's keys (``FRAUD_KEY_DIR``, plus ``FRAUD_PREVIOUS_KEY_DIRS`` after a rotation
or a model change, each with its model from ``FRAUD_OTHER_MODEL_DIRS``, and a candidate's
``FRAUD_SHADOW_KEY_DIR``), publishes their evaluation keys on its keys topic unless a key id is
there already, then runs the gateway (:mod:`streams.partner.gateway`) and the decryptor
(:mod:`streams.partner.decryptor`) in one Faust app, one consumer group per partner; with
``FRAUD_ALERTS_PAGE_PORT``, the fraud team's live alerts page too
(:mod:`streams.partner.alerts_page`), on that port of its own.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import faust

from models.errors import FederationError, KeyMaterialError
from models.features.spec import FeatureSpec
from models.federation.shared_rounds import session_run
from models.federation.wire import Members
from models.fhe.artifacts import ClientArtifact
from models.fhe.client.keys import KeyRing, PartnerKeys, key_folder_ids
from streams.broker.connection import kafka_python_config
from streams.core.errors import ConfigError
from streams.core.events import EventLimits
from streams.core.settings import PartnerSettings
from streams.core.signatures import parse_public_keys
from streams.core.topics import TopicNames
from streams.partner.alerts_page import AlertsPage, attach
from streams.partner.context import PartnerContext
from streams.partner.decryptor import Decryptor
from streams.partner.gateway import Gateway
from streams.partner.key_publisher import publish_evaluation_keys
from streams.partner.metrics import PartnerMetrics
from streams.partner.sums_follower import SumsFollower
from streams.runtime.agents import AgentSet
from streams.runtime.app import create_app, run_app, start_logging
from streams.runtime.logs import get_logger
from streams.runtime.web import add_web_pages

__all__ = ["build_partner_app", "run_partner_worker"]

_SECRET_BYTES = 32
_log = get_logger(__name__)


def build_partner_app(settings: PartnerSettings, partner: str) -> faust.App:
    """The Faust app of ``partner``'s worker, its agents attached, its keys published."""
    if partner not in settings.partners:
        msg = f"partner {partner!r} is not in FRAUD_PARTNERS ({', '.join(settings.partners)})"
        raise ConfigError(msg)
    if settings.key_dir is None:
        msg = "FRAUD_KEY_DIR is required for the partner role (`fraudstream keys generate`)"
        raise ConfigError(msg)
    scorer_keys = _scorer_keys(settings)
    client = ClientArtifact.load(settings.model_dir.resolve())
    others = [ClientArtifact.load(d.resolve()) for d in settings.other_model_dirs]
    ring, shadow = _key_ring(settings, client, others, partner)
    app = create_app(settings, role="partner", partner=partner)
    names = TopicNames(settings.topic_root)
    _publish_keys(settings, names, [ring.current] + ([shadow] if shadow is not None else []))
    context = PartnerContext(
        partner,
        ring,
        _threshold(settings, client),
        _request_secret(settings, app.conf.id),
        scorer_keys,
        _sums_feed(settings, client.spec, names),
        thresholds={other.version: _threshold(settings, other) for other in others},
        shadow=shadow,
    )
    limits = EventLimits(
        partners=frozenset(settings.partners),  # the gateway narrows them to its own partner
        max_event_bytes=settings.max_event_bytes,
        max_amount=settings.max_amount,
        max_clock_skew_s=settings.max_clock_skew,
    )
    metrics = PartnerMetrics()
    agents = AgentSet(metrics)
    gateway = Gateway(app, names, settings.topic_partitions, limits, context, metrics=metrics)
    gateway.install(app, agents)
    Decryptor(
        app,
        names,
        settings.topic_partitions,
        context,
        settings.join_ttl,
        client_config=kafka_python_config(settings),
        metrics=metrics,
    ).install(app, agents)
    add_web_pages(
        app,
        lambda: agents.readiness(
            {
                "ready": agents.started,
                "partner": partner,
                "key_id": context.key_id,
                "model": context.model_version,
                "shadow_model": None if shadow is None else shadow.client.version,
            },
            settings.stuck_after,
        ),
        private_topics=(names.scores(partner), names.alerts(partner), names.shadow_scores(partner)),
        agents=agents,
    )
    return app


def _alerts_page(settings: PartnerSettings, partner: str) -> AlertsPage | None:
    """The fraud team's live alerts page (None without ``FRAUD_ALERTS_PAGE_PORT``), on a port of
    its own: never the web port, which the monitoring namespace reaches (the page shows
    decrypted results)."""
    if settings.alerts_page_port is None:
        return None
    if settings.alerts_page_port == settings.web_port:
        msg = (
            f"FRAUD_ALERTS_PAGE_PORT={settings.alerts_page_port} is the web port: the page "
            "shows decrypted results and needs a port of its own"
        )
        raise ConfigError(msg)
    names = TopicNames(settings.topic_root)
    return AlertsPage(
        kafka_python_config(settings),
        partner,
        names.scores(partner),
        names.alerts(partner),
        host=settings.alerts_page_host,
        port=settings.alerts_page_port,
        max_scores=settings.alerts_page_scores,
        max_alerts=settings.alerts_page_alerts,
    )


def _publish_keys(settings: PartnerSettings, names: TopicNames, held: list[PartnerKeys]) -> None:
    """Publish the evaluation keys of the current (and the shadow) keys, once per key id."""
    for keys in held:
        published = publish_evaluation_keys(
            kafka_python_config(settings),
            names.evaluation_keys(keys.partner),
            partner=keys.partner,
            key_id=keys.key_id,
            model_version=keys.client.version,
            keys=keys.evaluation_keys(),
            signer=keys.signer(),
            max_message_bytes=settings.max_message_bytes,
        )
        _log.info(
            "evaluation_keys_ready",
            key_id=keys.key_id,
            model=keys.client.version,
            shadow=keys is not held[0],
            newly_published=published,
        )


def _scorer_keys(settings: PartnerSettings) -> tuple[bytes, ...]:
    """The scorer's public keys the partner pins (required)."""
    if not settings.scorer_public_keys:
        msg = (
            "FRAUD_SCORER_PUBLIC_KEYS is required for the partner role: the scorer's public key "
            "(`fraudstream keys scorer <file> --show` where the scorer's key is), so that only "
            "verdicts the scorer signed are decrypted"
        )
        raise ConfigError(msg)
    return parse_public_keys(settings.scorer_public_keys)


def _threshold(settings: PartnerSettings, client: ClientArtifact) -> float:
    """The alert threshold of ``client``'s verdicts: ``FRAUD_THRESHOLD``, or the model's own."""
    return client.threshold if settings.threshold is None else settings.threshold


def _key_ring(
    settings: PartnerSettings,
    client: ClientArtifact,
    others: list[ClientArtifact],
    partner: str,
) -> tuple[KeyRing, PartnerKeys | None]:
    """The partner's keys (``FRAUD_KEY_DIR``, older folders kept after a rotation or a model
    change, and the candidate's shadow keys, which the ring holds too: it decrypts their
    verdicts) and the shadow keys alone."""
    if settings.key_dir is None:
        msg = "FRAUD_KEY_DIR is required for the partner role (`fraudstream keys generate`)"
        raise ConfigError(msg)
    shadow_dir = settings.shadow_key_dir
    held = [*settings.previous_key_dirs, *([shadow_dir] if shadow_dir is not None else [])]
    try:
        ring = KeyRing.load(client, settings.key_dir, held, others)
    except KeyMaterialError as exc:
        raise ConfigError(str(exc)) from exc
    if ring.partner != partner:
        msg = f"the keys in {settings.key_dir} belong to partner {ring.partner}, not {partner}"
        raise ConfigError(msg)
    if shadow_dir is None:
        return ring, None
    shadow = ring.keys(key_folder_ids(shadow_dir)[0])
    if shadow.client.version == client.version:
        msg = f"FRAUD_SHADOW_KEY_DIR {shadow_dir} is for the current model {client.version}"
        raise ConfigError(msg)
    if shadow.client.spec != client.spec:
        msg = (
            f"the candidate model {shadow.client.version} computes other features than "
            f"{client.version}: shadow scoring sends both the same features (same feature spec)"
        )
        raise ConfigError(msg)
    return ring, shadow


def _sums_feed(
    settings: PartnerSettings, spec: FeatureSpec, names: TopicNames
) -> SumsFollower | None:
    """The aggregator's sums, followed, when the model shares counts and the partner is a
    member of the secure sums (``FRAUD_FEDERATION_MEMBERS``)."""
    if spec.shared_counts is None:
        return None
    if settings.federation_members is None:
        _log.warning(
            "shared_counts_own_only",
            reason="the model's spec has [shared_counts] but FRAUD_FEDERATION_MEMBERS is unset: "
            "its shared label windows count this partner's own transactions only",
        )
        return None
    try:
        members = Members.from_json(json.loads(settings.federation_members.read_text()))
    except (OSError, ValueError, FederationError) as exc:
        msg = f"FRAUD_FEDERATION_MEMBERS={settings.federation_members}: not a members file ({exc})"
        raise ConfigError(msg) from exc
    if settings.aggregator not in members.keys:
        msg = f"the members file pins no key for the aggregator {settings.aggregator!r}"
        raise ConfigError(msg)
    follower = SumsFollower(
        kafka_python_config(settings),
        names.shared_counts(),
        members=members,
        aggregator=settings.aggregator,
        run=session_run(spec),
        max_message_bytes=settings.max_message_bytes,
    )
    follower.start()
    _log.info("shared_sums_followed", aggregator=settings.aggregator, run=session_run(spec))
    return follower


def _request_secret(settings: PartnerSettings, app_id: str) -> bytes:
    """The partner's request-id secret, made once and kept in its data folder (0600)."""
    path = Path(settings.data_dir) / app_id / "request-id.secret"
    if path.exists():
        secret = path.read_bytes()
        if len(secret) != _SECRET_BYTES:
            msg = (
                f"{path} holds {len(secret)} bytes, not {_SECRET_BYTES}: it is damaged; delete it "
                "(in-flight requests then get new ids) and restart"
            )
            raise ConfigError(msg)
        return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    secret = secrets.token_bytes(_SECRET_BYTES)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(secret)
    return secret


def run_partner_worker(settings: PartnerSettings, partner: str) -> None:
    """Run ``partner``'s worker in the foreground until SIGTERM or SIGINT."""
    start_logging(settings)
    page = _alerts_page(settings, partner)  # a wrong port fails before anything starts
    app = build_partner_app(settings, partner)
    if page is not None:
        attach(app, page)  # served while the app runs
    run_app(app, settings, role="partner", partner=partner)
