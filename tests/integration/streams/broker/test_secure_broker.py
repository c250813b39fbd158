"""The roles' ACLs (streams/core/access.py) on a real authenticated broker (`kafka up --secure`).

One secure broker for the module (SASL_SSL, SCRAM-SHA-512, StandardAuthorizer), its ACLs made
from access.py for one topic root, its topics created by the admin. Refusals are tried with
single Fetch and Produce requests (tests/support/kafka_requests.py: the broker's own answer to the
read or write, not a client library's metadata check) and with the clients the workers use. Then
a real partner worker and a real scorer run end to end, each as its own principal.
"""

from __future__ import annotations

import shlex
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed
from aiokafka.errors import TopicAuthorizationFailedError as ConsumerTopicAuthorizationFailedError
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import GroupAuthorizationFailedError, NoError, TopicAuthorizationFailedError
from pydantic import SecretStr

from models.data.handbook import HandbookTransaction, read_transactions
from models.fhe.client.keys import PartnerKeys
from streams.broker.acls import described_grants
from streams.broker.local_kafka import LocalKafka
from streams.broker.ports import free_port
from streams.core.access import all_grants, partner_grants
from streams.core.settings import KafkaSettings, Settings
from streams.core.topics import SCORING_SCOPE, TopicNames, faust_app_id
from streams.qa.data_feed import by_partner, send_records, transaction_record
from streams.qa.supervisor import WorkerProcess, running_pipeline, wait_ready
from streams.qa.testing import consume_records
from streams.runtime.connection import ssl_context
from tests.support.commands import fraudstream
from tests.support.kafka_requests import (
    connect_error,
    fetch_error,
    produce_error,
    subscribe_error,
    tls_connect_error,
)
from tests.support.models import TinyModel

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTNERS = ("alpha", "bravo")
#: A partner's plaintext topics: the scorer may touch none of them.
PLAINTEXT = ("transactions", "labels", "validated", "pending", "scores", "alerts", "deadletter")


@dataclass(frozen=True)
class Secure:
    """The module's secure broker, the admin's settings and the topic names of its ACLs."""

    broker: LocalKafka
    settings: Settings
    names: TopicNames
    #: The options that name the broker to `fraudstream kafka ...`.
    where: list[str]
    #: What `fraudstream kafka up --secure` printed.
    up: str

    def client(self, user: str) -> dict[str, Any]:
        """kafka-python arguments to connect as ``user``."""
        return self.broker.client_config(user)

    def env(self, user: str) -> dict[str, str]:
        """``user``'s FRAUD_* settings as `fraudstream kafka env` prints them, with the module's
        topic root, app id and partners."""
        printed = fraudstream("kafka", "env", "--user", user, *self.where)
        assert printed.returncode == 0, printed.stdout + printed.stderr
        return {**exported(printed.stdout), **scope(self.names.root)}

    def login(self, user: str) -> dict[str, Any]:
        """The settings that make a worker connect as ``user``."""
        password = self.broker.security.passwords()[user]
        return {"sasl_username": user, "sasl_password": SecretStr(password)}

    def topic(self, partner: str, entity: str) -> str:
        """``partner``'s topic of ``entity`` (a TopicNames method name)."""
        name: str = getattr(self.names, entity)(partner)
        return name


def exported(output: str) -> dict[str, str]:
    """The variables of `export NAME=value` lines."""
    pairs = (line.removeprefix("export ").split("=", 1) for line in output.splitlines())
    return {name: shlex.split(value)[0] for name, value in pairs}


def scope(root: str) -> dict[str, str]:
    """The FRAUD_* settings that give the module its own topics and consumer groups."""
    partners = ",".join(PARTNERS)
    return {"FRAUD_TOPIC_ROOT": root, "FRAUD_APP_ID": root, "FRAUD_PARTNERS": partners}


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secure]:
    """`fraudstream kafka up --secure` (a user per role, the ACLs of access.py) on free ports,
    then `fraudstream topics create` as the admin; `kafka down` at the end."""
    root = f"t{uuid.uuid4().hex[:10]}"
    state = tmp_path_factory.mktemp("secure-kafka")
    broker = LocalKafka(state, port=free_port(), controller_port=free_port(), secure=True)
    where = ["--state-dir", str(state), "--port", str(broker.port)]
    where += ["--controller-port", str(broker.controller_port)]
    try:
        up = fraudstream("kafka", "up", "--secure", *where, env=scope(root))
        assert up.returncode == 0, up.stdout + up.stderr
        secure = Secure(broker, Settings(), TopicNames(root), where, up.stdout)
        admin = secure.env("admin")
        created = fraudstream("topics", "create", env={**admin, "FRAUD_TOPIC_PARTITIONS": "2"})
        assert created.returncode == 0, created.stdout + created.stderr
        values = {k.removeprefix("FRAUD_").lower(): v for k, v in admin.items()}
        settings = Settings(**values, topic_partitions=2, data_dir=state / "workers")
        yield Secure(broker, settings, secure.names, where, up.stdout)
    finally:
        fraudstream("kafka", "down", *where)


def test_kafka_up_secure_makes_users_and_acls_and_prints_no_password(secure: Secure) -> None:
    """`kafka up --secure` names its users and where their passwords are (a file only its owner
    reads), and prints none of them."""
    said = " ".join(secure.up.split())
    assert "users admin, scorer, federation, alpha, bravo" in said
    assert f"passwords in {secure.broker.security.credentials_file}" in said
    assert stat.S_IMODE(secure.broker.security.credentials_file.stat().st_mode) == 0o600
    for password in secure.broker.security.passwords().values():
        assert password not in secure.up
    status = fraudstream("kafka", "status", *secure.where)
    assert "running and ready" in status.stdout, status.stdout


def test_a_role_cannot_create_topics(secure: Secure) -> None:
    """`topics create` as a partner fails with the broker's refusal (only the admin creates
    topics: the fixture's did)."""
    result = fraudstream(
        "topics", "create", env={**secure.env("alpha"), "FRAUD_PARTNERS": "alpha,carol"}
    )
    assert result.returncode == 1, result.stdout + result.stderr
    said = " ".join(result.stdout.split())
    assert "does not let alpha create or describe these topics (TopicAuthorizationFailed" in said
    assert "topics are created by an admin" in said


def test_the_broker_enforces_exactly_the_grants_of_access_py(secure: Secure) -> None:
    """The broker holds exactly the ACLs access.py lists for its partners' users: no other
    grant, no wildcard."""
    users = secure.broker.security.passwords()
    partners = [user for user in users if user not in ("admin", "scorer", "federation")]
    expected = set(all_grants(secure.names, secure.settings.app_id, partners))
    assert described_grants(secure.client("admin")) == expected


def test_a_partner_added_later_gets_a_user_and_its_grants(secure: Secure) -> None:
    """`kafka up --secure --partners ...,carol` on the running broker adds carol's user and
    ACLs: carol authenticates, and is refused alpha's transactions like any other partner."""
    partners = "alpha,bravo,carol"
    env = {**scope(secure.names.root), "FRAUD_PARTNERS": partners}
    result = fraudstream("kafka", "up", "--secure", "--partners", partners, *secure.where, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "already running" in result.stdout
    assert connect_error(secure.client("carol")) is None
    alpha_transactions = secure.topic("alpha", "transactions")
    assert fetch_error(secure.client("carol"), alpha_transactions) is TopicAuthorizationFailedError
    carol = partner_grants(secure.names, secure.settings.app_id, "carol")
    assert set(carol) <= described_grants(secure.client("admin"))


def test_each_principal_is_answered_on_its_own_topics(secure: Secure) -> None:
    """The probes work: the same single requests that are refused below succeed where the
    principal has the grant (so a refusal is the ACL, not a broken request)."""
    assert fetch_error(secure.client("alpha"), secure.topic("alpha", "scores")) is NoError
    assert produce_error(secure.client("alpha"), secure.topic("alpha", "deadletter")) is NoError
    assert fetch_error(secure.client("scorer"), secure.names.scoring_requests()) is NoError
    scoring_dead = secure.names.deadletter(SCORING_SCOPE)
    assert produce_error(secure.client("scorer"), scoring_dead) is NoError


@pytest.mark.parametrize("entity", ["transactions", "scores", "alerts", "verdicts"])
def test_a_partner_cannot_read_another_partners_topic(secure: Secure, entity: str) -> None:
    """alpha's Fetch of bravo's topic is refused by the broker, and so is alpha's consumer."""
    topic = secure.topic("bravo", entity)
    assert fetch_error(secure.client("alpha"), topic) is TopicAuthorizationFailedError
    error = subscribe_error(secure.client("alpha"), topic)
    assert isinstance(error, ConsumerTopicAuthorizationFailedError), error


@pytest.mark.parametrize("entity", ["evaluation_keys", "labels", "transactions"])
def test_a_partner_cannot_write_another_partners_topic(secure: Secure, entity: str) -> None:
    """alpha's Produce to bravo's topic is refused by the broker, and so is alpha's producer."""
    topic = secure.topic("bravo", entity)
    assert produce_error(secure.client("alpha"), topic) is TopicAuthorizationFailedError
    producer = KafkaProducer(**secure.client("alpha"), max_block_ms=10_000)
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send(topic, key=b"x", value=b"forged").get(timeout=15)
    finally:
        producer.close()


def test_a_partner_cannot_join_another_partners_consumer_group(secure: Secure) -> None:
    """alpha consuming its own topic in bravo's worker group is refused (the group's ACL)."""
    group = faust_app_id(secure.settings.app_id, "partner", "bravo")
    consumer = KafkaConsumer(
        secure.topic("alpha", "scores"), **secure.client("alpha"), group_id=group
    )
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            consumer.poll(timeout_ms=5000)
    finally:
        consumer.close()


@pytest.mark.parametrize("entity", PLAINTEXT)
def test_the_scorer_cannot_read_a_partners_plaintext_topic(secure: Secure, entity: str) -> None:
    """The scorer's Fetch of each plaintext topic of a partner is refused by the broker."""
    topic = (
        secure.names.deadletter("alpha")
        if entity == "deadletter"
        else secure.topic("alpha", entity)
    )
    assert fetch_error(secure.client("scorer"), topic) is TopicAuthorizationFailedError


@pytest.mark.parametrize("entity", [*PLAINTEXT, "evaluation_keys"])
def test_the_federation_service_cannot_read_a_partners_own_topic(
    secure: Secure, entity: str
) -> None:
    """The coordinator's and aggregator's principal reads no topic of a partner's own."""
    topic = (
        secure.names.deadletter("alpha")
        if entity == "deadletter"
        else secure.topic("alpha", entity)
    )
    assert fetch_error(secure.client("federation"), topic) is TopicAuthorizationFailedError


def test_federation_topics_are_written_and_read_by_their_roles_only(secure: Secure) -> None:
    """Masked vectors and answers: partners write, only the federation service reads; the sums:
    only the federation service writes, partners read; a partner's tasks: only it reads."""
    names, alpha, service = secure.names, secure.client("alpha"), secure.client("federation")
    refused = TopicAuthorizationFailedError
    for topic in (names.contributions(), names.federation_answers()):
        assert produce_error(alpha, topic) is NoError
        assert fetch_error(alpha, topic) is refused
        assert fetch_error(service, topic) is NoError
    assert produce_error(service, names.shared_counts()) is NoError
    assert produce_error(alpha, names.shared_counts()) is refused
    assert fetch_error(alpha, names.shared_counts()) is NoError
    assert produce_error(service, names.federation_tasks("bravo")) is NoError
    assert fetch_error(alpha, names.federation_tasks("bravo")) is refused
    assert fetch_error(alpha, names.federation_tasks("alpha")) is NoError


def test_the_scorer_cannot_read_a_partners_table_changelog(secure: Secure) -> None:
    """The scorer's Fetch of a partner's table changelog (card and terminal history) is refused."""
    topic = TopicNames.changelog(secure.settings.app_id, "alpha", "entity_state")
    assert fetch_error(secure.client("scorer"), topic) is TopicAuthorizationFailedError


def test_a_wrong_password_is_refused(secure: Secure) -> None:
    """SCRAM with a wrong password fails authentication."""
    error = connect_error({**secure.client("alpha"), "sasl_plain_password": "not-it"})
    assert isinstance(error, SaslAuthenticationFailed), error


def test_an_unknown_user_is_refused(secure: Secure) -> None:
    """SCRAM as a user the broker does not know fails authentication."""
    error = connect_error({**secure.client("alpha"), "sasl_plain_username": "mallory"})
    assert isinstance(error, SaslAuthenticationFailed), error


@pytest.mark.parametrize("protocol", ["SSL", "PLAINTEXT"])
def test_an_unauthenticated_client_is_refused(secure: Secure, protocol: str) -> None:
    """Without SASL (TLS only, or plaintext) the client port answers no request."""
    config = {"bootstrap_servers": secure.broker.bootstrap, "security_protocol": protocol}
    config["ssl_cafile"] = secure.client("admin")["ssl_cafile"]
    error = connect_error(config)
    assert isinstance(error, KafkaConnectionError | ConnectionError), error


def test_the_controller_listener_requires_the_brokers_own_certificate(secure: Secure) -> None:
    """The KRaft controller port refuses a TLS client without a certificate, and answers one
    that presents the broker's certificate through FRAUD_SSL_CERTFILE (the clients' mutual-TLS
    setting, on a real listener that requires it)."""
    tls = secure.broker.security.tls
    port = secure.broker.controller_port
    without = KafkaSettings(security_protocol="SSL", ssl_cafile=tls.ca_file)
    refused = tls_connect_error(port, ssl_context(without))
    assert isinstance(refused, KafkaConnectionError | ConnectionError | OSError), refused
    mutual = without.model_copy(update={"ssl_certfile": tls.keystore_file})
    assert tls_connect_error(port, ssl_context(mutual)) is None


def _scores(secure: Secure, transactions: list[HandbookTransaction]) -> set[int]:
    """Feed ``transactions`` as alpha and return the ids scored on alpha's scores topic, read as
    alpha (every score there, so far)."""
    alpha = secure.client("alpha")
    send_records(alpha, [transaction_record(secure.names, tx, "alpha") for tx in transactions])
    wanted = {tx.transaction_id for tx in transactions}
    scored: set[int] = set()
    for record in consume_records(alpha, [secure.topic("alpha", "scores")], expected=10**6):
        scored.add(orjson.loads(record.value)["transaction_id"])
        if wanted <= scored:
            break
    return scored


def _refused(secure: Secure, since: int) -> list[str]:
    """The broker's log lines since byte ``since`` that record a refused request of a role."""
    with secure.broker.log_file.open("rb") as log:
        log.seek(since)
        lines = log.read().decode(errors="replace").splitlines()
    return [line for line in lines if "is Denied operation" in line and "User:admin" not in line]


def test_each_role_works_with_exactly_its_grants(
    secure: Secure,
    tmp_path: Path,
    tiny_model: TinyModel,
    partner_keys: dict[str, PartnerKeys],
) -> None:
    """A partner worker (as alpha) and a scorer (as scorer), real FHE on the tiny model: the
    transactions alpha feeds get their scores on alpha's scores topic, read by alpha; after a
    restart (keys already published, tables recovered from their changelogs) too; the broker
    refused the roles nothing meanwhile."""
    settings = secure.settings.model_copy(update={"model_dir": tiny_model.directory})
    day = by_partner(read_transactions(start=date(2018, 8, 8), end=date(2018, 8, 8)), PARTNERS)
    first, later = day["alpha"][:3], day["alpha"][3:4]
    since = secure.broker.log_file.stat().st_size

    def login(role: str, partner: str | None) -> dict[str, Any]:
        return secure.login(partner or "scorer")

    keys = {"alpha": partner_keys["alpha"].key_dir}
    with running_pipeline(settings, keys, tmp_path / "logs", role_settings=login) as pipeline:
        scored = _scores(secure, first)
        assert scored == {tx.transaction_id for tx in first}, pipeline.logs()
        gateway = pipeline.partners["alpha"]
        assert gateway.stop() == 0, gateway.log_text()[-3000:]
        again = WorkerProcess(gateway.settings, "partner", tmp_path / "again.log", partner="alpha")
        pipeline.partners["alpha"] = again
        again.start()
        wait_ready(again, timeout=120)
        assert later[0].transaction_id in _scores(secure, later), pipeline.logs()
        logs = pipeline.logs(tail=10**6)
    assert '"newly_published":false' in again.log_text()
    assert "AuthorizationFailed" not in logs, logs[-3000:]
    assert _refused(secure, since) == []
    for password in secure.broker.security.passwords().values():
        assert password not in logs  # the workers had theirs in FRAUD_SASL_PASSWORD
