"""The chart's Kafka security: every role (the scorer, each partner, the topic Job's admin)
authenticates as its own user, with SASL (SCRAM) or SSL (a client certificate); the insecure
protocols only when asked for. On Strimzi, a KafkaUser per role (the federation service's too)
whose ACLs are exactly the grants of streams/core/access.py and a KafkaTopic per topic of
declared_topics, validated against Strimzi's own CRDs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema
import pytest
import yaml

from streams.core.access import Principals, all_grants
from streams.core.settings import WorkerSettings
from streams.core.topics import TopicNames, declared_topics
from tests.deploy.tools import (
    CHART,
    KUBE_VERSION,
    RELEASE_NAMESPACE,
    VALUES_FILES,
    custom_resource_schema,
    helm,
    pod_specs,
    render,
)

CI = CHART / "ci"
MINIMAL = CI / "minimal-values.yaml"
MTLS = CI / "mtls-values.yaml"
STRIMZI = CI / "strimzi-values.yaml"
#: Every values file whose pods authenticate (all but the local cluster's).
AUTHENTICATED = [p for p in VALUES_FILES if p.stem != "local-values"]
#: A Kubernetes object name (a DNS subdomain).
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def refusal(values: list[Path], extra: str, tmp_path: Path) -> str:
    """What `helm template` says when it refuses ``values`` with the YAML ``extra`` on top."""
    (tmp_path / "extra.yaml").write_text(extra + "\n")
    args = ["template", "fraud", str(CHART), "-n", RELEASE_NAMESPACE, "--kube-version"]
    args.append(KUBE_VERSION)
    for path in [*values, tmp_path / "extra.yaml"]:
        args += ["-f", str(path)]
    result = helm(*args)
    assert result.returncode != 0, "rendered, but should have been refused"
    return result.stderr


REFUSED = {
    "PLAINTEXT": (
        [MINIMAL],
        "kafka: {securityProtocol: PLAINTEXT}",
        "kafka.securityProtocol PLAINTEXT is refused: it sends every record",
    ),
    "SASL_PLAINTEXT": (
        [MINIMAL],
        "kafka: {securityProtocol: SASL_PLAINTEXT}",
        "kafka.securityProtocol SASL_PLAINTEXT is refused",
    ),
    "SASL: a partner without its own user": (
        [MINIMAL],
        "partners: [{name: alpha, namespace: fraud-alpha, keySeedSecret: alpha-key-seed}]",
        "partner alpha has no Kafka user of its own: set partners[0].kafkaSasl.existingSecret",
    ),
    "SASL: the scorer without its own user": (
        [MINIMAL],
        "scorer: {kafkaSasl: {existingSecret: ''}}",
        "the scorer has no Kafka user of its own: set scorer.kafkaSasl.existingSecret",
    ),
    "SASL: the topic Job without the admin's Secret": (
        [MINIMAL],
        "topics: {adminSasl: {existingSecret: ''}}",
        "the topic Job (the admin, who creates topics) has no Kafka user of its own: set "
        "topics.adminSasl.existingSecret",
    ),
    "SASL: the admin's Secret is the scorer's": (
        [MINIMAL],
        "topics: {adminSasl: {existingSecret: fraud-scorer-kafka}}",
        "topics.adminSasl.existingSecret is the scorer's Secret fraud-scorer-kafka too",
    ),
    "SSL: a partner without its own certificate": (
        [MTLS],
        "partners:\n"
        "  - {name: alpha, namespace: fraud-alpha, keySeedSecret: s, kafkaClientCertSecret: a}\n"
        "  - {name: bravo, namespace: fraud-bravo, keySeedSecret: s,"
        " kafkaSasl: {existingSecret: bravo-kafka}}",
        "partner bravo has no client certificate of its own: set partners[1].kafkaClientCertSecret",
    ),
    "SSL: the scorer without its own certificate": (
        [MTLS],
        "scorer: {kafkaClientCertSecret: ''}",
        "the scorer has no client certificate of its own: set scorer.kafkaClientCertSecret",
    ),
    "SSL: the topic Job without the admin's certificate": (
        [MTLS],
        "topics: {adminClientCertSecret: ''}",
        "the topic Job (the admin, who creates topics) has no client certificate of its own",
    ),
    "SSL: the admin's certificate is the scorer's": (
        [MTLS],
        "topics: {adminClientCertSecret: fraud-scorer-kafka-tls}",
        "topics.adminClientCertSecret is the scorer's certificate fraud-scorer-kafka-tls too",
    ),
    "Strimzi: with the topic Job": (
        [STRIMZI],
        "topics: {create: true}",
        "strimzi.enabled declares every topic as a KafkaTopic",
    ),
    "Strimzi: in a partner's release": (
        [STRIMZI],
        "scorer: {enabled: false}",
        "strimzi.enabled belongs to the scorer's release",
    ),
    "Strimzi: another SCRAM mechanism": (
        [STRIMZI],
        "kafka: {sasl: {mechanism: SCRAM-SHA-256}}",
        "Strimzi's KafkaUsers authenticate with SCRAM-SHA-512",
    ),
    "Strimzi: no authentication": (
        [STRIMZI],
        "kafka: {securityProtocol: PLAINTEXT, allowInsecure: true}",
        "a KafkaUser needs an authenticated listener",
    ),
    "Strimzi: no cluster name": (
        [STRIMZI],
        "strimzi: {clusterName: ''}",
        "at '/strimzi/clusterName': minLength",
    ),
}


@pytest.mark.parametrize(("values", "extra", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_the_chart_refuses_a_role_without_its_own_user(
    values: list[Path], extra: str, message: str, tmp_path: Path
) -> None:
    """Insecure protocols, a role without credentials of its own, the admin sharing the
    scorer's, and Strimzi settings that cannot give each role its user: refused, saying why and
    what to set."""
    said = refusal(values, extra, tmp_path)
    assert message in " ".join(said.split()), said


def test_insecure_protocols_render_with_allow_insecure(tmp_path: Path) -> None:
    """kafka.allowInsecure lets a local cluster use PLAINTEXT (no credentials at all) and
    SASL_PLAINTEXT (still a user per role)."""
    objects = render([CI / "local-values.yaml"])
    for _, pod in pod_specs(objects):
        for container in pod["containers"]:
            assert not [e for e in container.get("env", []) if "SASL" in e["name"]]
    (tmp_path / "sasl.yaml").write_text(
        "kafka: {securityProtocol: SASL_PLAINTEXT, allowInsecure: true}\n"
    )
    objects = render([MINIMAL, tmp_path / "sasl.yaml"])
    (config,) = [
        o for o in objects if o["kind"] == "ConfigMap" and "scorer" in o["metadata"]["name"]
    ]
    assert config["data"]["FRAUD_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert role_secrets(objects)["scorer"]["sasl"] == "fraud-scorer-kafka"


def role_of(workload: dict[str, Any]) -> str:
    """``scorer``, ``admin`` (the topic Job) or ``partner:<namespace>``."""
    kind = workload["kind"]
    if kind == "Deployment":
        return "scorer"
    if kind == "Job":
        return "admin"
    return f"partner:{workload['metadata']['namespace']}"


def role_secrets(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """For each role's main container: the Secret and keys of its SASL user and password, and
    the Secret of its client certificate, as rendered."""
    found: dict[str, dict[str, Any]] = {}
    for workload, pod in pod_specs(objects):
        (main,) = pod["containers"]
        env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in main["env"]}
        user, password = env.get("FRAUD_SASL_USERNAME"), env.get("FRAUD_SASL_PASSWORD")
        if user and password:
            assert user["name"] == password["name"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        cert = volumes.get("kafka-client", {}).get("secret", {}).get("secretName")
        if cert:
            mounts = {m["name"]: m["mountPath"] for m in main["volumeMounts"]}
            assert mounts["kafka-client"] == "/etc/fraudstream/kafka-client"
        found[role_of(workload)] = {
            "sasl": user and user["name"],
            "keys": user and (user["key"], password["key"]),
            "cert": cert,
        }
    return found


def expected_secrets(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What each role's credentials must be, read from the values file alone."""
    kafka = config["kafka"]
    protocol = kafka.get("securityProtocol", "SASL_SSL")
    sasl_keys = kafka.get("sasl", {})
    defaults = (sasl_keys.get("usernameKey", "username"), sasl_keys.get("passwordKey", "password"))
    own = {
        "scorer": (config.get("scorer", {}).get("kafkaSasl"),
                   config.get("scorer", {}).get("kafkaClientCertSecret")),
        "admin": (config.get("topics", {}).get("adminSasl"),
                  config.get("topics", {}).get("adminClientCertSecret")),
    }  # fmt: skip
    for partner in config["partners"]:
        own[f"partner:{partner['namespace']}"] = (
            partner.get("kafkaSasl"),
            partner.get("kafkaClientCertSecret"),
        )
    expected = {}
    for role, (own_sasl, cert) in own.items():
        sasl = own_sasl or {}
        expected[role] = {
            "sasl": sasl.get("existingSecret") if protocol.startswith("SASL_") else None,
            "keys": (
                (sasl.get("usernameKey", defaults[0]), sasl.get("passwordKey", defaults[1]))
                if protocol.startswith("SASL_")
                else None
            ),
            "cert": cert if protocol.endswith("SSL") else None,
        }
    return expected


@pytest.mark.parametrize("values", AUTHENTICATED, ids=lambda p: p.stem)
def test_each_pod_authenticates_as_its_own_user(values: Path) -> None:
    """Each pod reads its SASL user and password from its own role's Secret, and mounts its own
    role's client certificate (FRAUD_SSL_CERTFILE): the scorer its own, each partner its own,
    the topic Job the admin's; none of them another role's."""
    config = yaml.safe_load(values.read_text())
    objects = render([values])
    rendered = role_secrets(objects)
    expected = expected_secrets(config)
    assert rendered, "no pod rendered"
    for role, secrets in rendered.items():
        assert secrets == expected[role], role
        assert secrets["sasl"] or secrets["cert"], f"{role} does not authenticate"
    sasl_users = [(role.split(":")[-1], s["sasl"]) for role, s in rendered.items() if s["sasl"]]
    assert len(set(sasl_users)) == len(sasl_users)
    scorer_side = [s for role, s in rendered.items() if role in {"scorer", "admin"}]
    if len(scorer_side) == 2:  # the same namespace: the names must differ
        assert scorer_side[0]["sasl"] != scorer_side[1]["sasl"] or not scorer_side[0]["sasl"]
        assert scorer_side[0]["cert"] != scorer_side[1]["cert"] or not scorer_side[0]["cert"]
    settings = {
        (o["metadata"]["namespace"], o["metadata"]["name"]): o["data"]
        for o in objects
        if o["kind"] == "ConfigMap"
    }
    for workload, pod in pod_specs(objects):
        if workload["kind"] == "Job":
            env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        else:
            ref = pod["containers"][0]["envFrom"][0]["configMapRef"]["name"]
            env = settings[(workload["metadata"]["namespace"], ref)]
        has_cert = rendered[role_of(workload)]["cert"]
        assert ("FRAUD_SSL_CERTFILE" in env) == bool(has_cert), workload["metadata"]["name"]
        if has_cert:
            assert env["FRAUD_SSL_KEYFILE"] == "/etc/fraudstream/kafka-client/tls.key"


def test_keda_reads_the_lag_as_the_scorer() -> None:
    """KEDA's TriggerAuthentication uses the scorer's own user, not the admin's."""
    objects = render([CI / "keda-values.yaml"])
    (auth,) = [o for o in objects if o["kind"] == "TriggerAuthentication"]
    assert {r["name"] for r in auth["spec"]["secretTargetRef"]} == {"fraud-scorer-kafka"}


class Release(NamedTuple):
    """What a Strimzi release is rendered with: its partners, its externalPartners, its topic
    root and app id."""

    partners: list[str]
    external: list[str]
    root: str
    app_id: str

    @property
    def every(self) -> list[str]:
        """Every partner id the scorer serves."""
        return [*self.partners, *self.external]


#: Partner ids share prefixes (a PREFIXED grant of one would reach the other); the second root and
#: app id are not valid Kubernetes names as they are (upper case, an underscore).
RELEASES = {
    "alpha and alpha-x here, bravo elsewhere": Release(
        ["alpha", "alpha-x"], ["bravo"], "fraud", "fs"
    ),
    "carol here, alpha, alpha-x, alpha-x-y elsewhere": Release(
        ["carol"], ["alpha", "alpha-x", "alpha-x-y"], "Acme", "acme_fraud"
    ),
}
releases = pytest.mark.parametrize("release", RELEASES.values(), ids=RELEASES.keys())


def strimzi_release(
    tmp_path: Path, release: Release, protocol: str = "SASL_SSL", *sets: str
) -> list[dict[str, Any]]:
    """The Strimzi values file with ``release``'s partners, topic root and app id, ``protocol``
    (each role with a SASL user and a client certificate) and --set items."""
    config = yaml.safe_load(STRIMZI.read_text())
    config["kafka"]["securityProtocol"] = protocol
    config["topics"].update(root=release.root, partitions=6, maxMessageBytes=4194304)
    config["appId"] = release.app_id
    config["scorer"]["kafkaClientCertSecret"] = "fraud-scorer-kafka-tls"
    config["partners"] = [
        {
            "name": p,
            "namespace": f"fraud-{p}",
            "keySeedSecret": f"{p}-key-seed",
            "kafkaSasl": {"existingSecret": f"fraud-{p}-kafka"},
            "kafkaClientCertSecret": f"fraud-{p}-kafka-tls",
        }
        for p in release.partners
    ]
    config["externalPartners"] = release.external
    (tmp_path / "strimzi.yaml").write_text(yaml.safe_dump(config))
    return render([tmp_path / "strimzi.yaml"], *sets)


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


@pytest.mark.parametrize("protocol", ["SASL_SSL", "SSL"])
@releases
def test_strimzi_users_have_exactly_the_grants_of_access_py(
    release: Release, protocol: str, tmp_path: Path
) -> None:
    """The KafkaUsers' ACLs (the scorer's, the federation service's, each partner's), as the
    principals Strimzi gives them (the user name with SCRAM, CN=<name> with TLS), are exactly
    access.all_grants for the release's root, app id and every partner: no grant more, none
    less, each LITERAL from any host."""
    objects = strimzi_release(tmp_path, release, protocol)
    users = {u["metadata"]["name"]: u for u in of_kind(objects, "KafkaUser")}
    every = release.every
    assert set(users) == {
        "fraud-scorer",
        "fraud-federation",
        *(f"fraud-partner-{p}" for p in every),
    }
    principal = (lambda name: f"CN={name}") if protocol == "SSL" else (lambda name: name)
    principals = Principals(
        admin="admin",
        scorer=principal("fraud-scorer"),
        federation=principal("fraud-federation"),
        partners={p: principal(f"fraud-partner-{p}") for p in every},
    )
    expected = {
        (
            g.principal,
            g.resource_type.value,
            g.resource_name,
            g.pattern_type.value,
            g.operation.value,
        )
        for g in all_grants(TopicNames(release.root), release.app_id, every, principals)
    }
    rendered = []
    for name, user in users.items():
        assert user["metadata"]["namespace"] == "kafka"
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == "fraud-kafka"
        kind = "tls" if protocol == "SSL" else "scram-sha-512"
        assert user["spec"]["authentication"] == {"type": kind}
        assert user["spec"]["authorization"]["type"] == "simple"
        for acl in user["spec"]["authorization"]["acls"]:
            assert (acl["type"], acl["host"]) == ("allow", "*")
            resource = acl["resource"]
            rendered += [
                (f"User:{principal(name)}", resource["type"].upper(), resource["name"],
                 resource["patternType"].upper(), operation.upper())
                for operation in acl["operations"]
            ]  # fmt: skip
    assert len(rendered) == len(set(rendered)), "a grant is rendered twice"
    assert set(rendered) == expected


@releases
def test_strimzi_topics_are_the_declared_topics(release: Release, tmp_path: Path) -> None:
    """A KafkaTopic per topic of declared_topics (what `fraudstream topics create` makes): the
    same names, partitions and configuration, the release's replication, kept on uninstall."""
    objects = strimzi_release(tmp_path, release)
    settings = WorkerSettings(
        topic_root=release.root,
        app_id=release.app_id,
        partners=tuple(release.every),
        topic_partitions=6,
        max_message_bytes=4194304,
    )
    expected = {
        (s.name, s.partitions, tuple(sorted(s.config.items()))) for s in declared_topics(settings)
    }
    topics = of_kind(objects, "KafkaTopic")
    rendered = {
        (
            t["spec"]["topicName"],
            t["spec"]["partitions"],
            tuple(sorted(t["spec"].get("config", {}).items())),
        )
        for t in topics
    }
    assert len(topics) == len(expected)
    assert rendered == expected
    for topic in topics:
        assert topic["spec"]["replicas"] == 3
        assert topic["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "fraud-kafka"
        assert topic["metadata"]["name"] == topic["spec"]["topicName"].lower().replace("_", "-")


@pytest.mark.parametrize("api_version", ["kafka.strimzi.io/v1beta2", "kafka.strimzi.io/v1"])
@pytest.mark.parametrize("protocol", ["SASL_SSL", "SSL"])
def test_strimzi_resources_match_strimzis_crds(
    api_version: str, protocol: str, tmp_path: Path
) -> None:
    """Every KafkaUser and KafkaTopic validates against the CRD schema of Strimzi 0.51.0 for its
    API version (strict: an unknown field is an error), and its name is a Kubernetes name."""
    release = RELEASES["carol here, alpha, alpha-x, alpha-x-y elsewhere"]
    objects = strimzi_release(tmp_path, release, protocol, f"strimzi.apiVersion={api_version}")
    strimzi = [o for o in objects if o["apiVersion"].startswith("kafka.strimzi.io/")]
    assert {o["kind"] for o in strimzi} == {"KafkaUser", "KafkaTopic"}
    for obj in strimzi:
        assert obj["apiVersion"] == api_version
        schema = custom_resource_schema(api_version, obj["kind"])
        jsonschema.Draft7Validator(schema).validate(obj)
        name = obj["metadata"]["name"]
        assert DNS_SUBDOMAIN.match(name), name
        assert len(name) <= 253, name


def test_the_strimzi_schemas_catch_a_wrong_resource(tmp_path: Path) -> None:
    """The validation itself: an operation Strimzi does not know, a misplaced field and a topic
    without partitions are found."""
    objects = render([STRIMZI])
    user = of_kind(objects, "KafkaUser")[0]
    user["spec"]["authorization"]["acls"][0]["operations"] = ["Fly"]
    topic = of_kind(objects, "KafkaTopic")[0]
    topic["spec"]["replicationFactor"] = 3
    partitionless = of_kind(objects, "KafkaTopic")[1]
    partitionless["spec"]["partitions"] = 0
    for obj, field in [(user, "Fly"), (topic, "replicationFactor"), (partitionless, "0")]:
        schema = custom_resource_schema(obj["apiVersion"], obj["kind"])
        with pytest.raises(jsonschema.ValidationError, match=field):
            jsonschema.Draft7Validator(schema).validate(obj)
