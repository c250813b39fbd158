"""The Helm chart, checked with the real helm binary (built from the Go module proxy by
scripts/tools.sh) and validated offline against Kubernetes' JSON schemas and the CRDs of KEDA, the
Prometheus operator and Strimzi. Its Kafka security (a user per role, Strimzi's ACLs) has its own
module, test_chart_kafka.py."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from streams.core.settings import PartnerSettings, ScorerSettings, Settings
from streams.core.topics import TopicNames
from tests.deploy.tools import (
    CHART,
    CRD_FILES,
    KUBE_VERSION,
    RELEASE_NAMESPACE,
    SETTINGS,
    VALUES_FILES,
    check_command,
    containers,
    custom_resource_schema,
    helm,
    pod_specs,
    render,
)
from tests.deploy.values_reference import DOCS, current_section, table

CI = CHART / "ci"
MINIMAL = CI / "minimal-values.yaml"
PRODUCTION = CI / "production-values.yaml"
values_files = pytest.mark.parametrize("values", VALUES_FILES, ids=lambda p: p.stem)


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Every CI values file, rendered once."""
    return {path.stem: render([path]) for path in VALUES_FILES}


def test_there_are_the_nine_kinds_of_values_files() -> None:
    assert {p.stem for p in VALUES_FILES} == {
        "minimal-values",
        "local-values",
        "production-values",
        "keda-values",
        "tls-sasl-values",
        "mtls-values",
        "strimzi-values",
        "scorer-only-values",
        "partner-only-values",
    }


def runs_topic_job(config: dict[str, Any]) -> bool:
    """Whether a values file's release has the topic Job (the scorer's, unless told not to)."""
    scorer = config.get("scorer", {}).get("enabled", True)
    return bool(scorer and config.get("topics", {}).get("create", True))


@values_files
def test_helm_lint_passes(values: Path) -> None:
    result = helm("lint", str(CHART), "--strict", "-f", str(values), "--kube-version", KUBE_VERSION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@values_files
def test_manifests_match_the_kubernetes_and_crd_schemas(
    values: Path, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    """Strict validation: a misspelt or misplaced field is an error, as the API server's strict
    field validation makes it."""
    objects = rendered[values.stem]
    kinds = set()
    for obj in objects:
        kinds.add(obj["kind"])
        if obj["apiVersion"].split("/")[0] in CRD_FILES:
            schema = custom_resource_schema(obj["apiVersion"], obj["kind"])
            jsonschema.Draft7Validator(schema).validate(obj)
        else:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        assert obj["metadata"]["namespace"], obj["metadata"]["name"]
    expected = {"ConfigMap", "Service", "NetworkPolicy", "ServiceAccount"}
    config = yaml.safe_load(values.read_text())
    if config.get("scorer", {}).get("enabled", True):
        expected |= {"Deployment"}
    if runs_topic_job(config):
        expected |= {"Job"}
    if config["partners"]:
        expected |= {"StatefulSet"}
    if config.get("strimzi", {}).get("enabled"):
        expected |= {"KafkaUser", "KafkaTopic"}
    assert expected <= kinds


def test_a_wrong_manifest_is_caught_by_the_validation() -> None:
    """The validation itself: a misplaced field and a custom resource's typo are found."""
    objects = render([MINIMAL])
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["probe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)
    keda = render([CI / "keda-values.yaml"])
    scaled = next(o for o in keda if o["kind"] == "ScaledObject")
    scaled["spec"]["maxReplicas"] = 3
    with pytest.raises(jsonschema.ValidationError, match="maxReplicas"):
        jsonschema.Draft7Validator(
            custom_resource_schema(scaled["apiVersion"], "ScaledObject")
        ).validate(scaled)


@values_files
def test_scorer_pods_cannot_mount_a_partner_key(
    values: Path, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    """Partners live in namespaces of their own (a pod mounts Secrets of its namespace only);
    the scorer's pods reference no Secret but its own Kafka ones and its own signing key, the
    topic Job none but the admin's Kafka ones, no pod has an API token, and no partner seed is
    named in the scorer's namespace."""
    objects = rendered[values.stem]
    config = yaml.safe_load(values.read_text())
    seeds = {
        name
        for p in config["partners"]
        for name in [p["keySeedSecret"], *p.get("previousKeySeedSecrets", [])]
    }
    ca = config["kafka"].get("tls", {}).get("caSecret")
    scorer = config.get("scorer", {})
    topics = config.get("topics", {})
    scorer_secrets = {
        ca,
        scorer.get("kafkaSasl", {}).get("existingSecret"),
        scorer.get("kafkaClientCertSecret"),
        scorer.get("signingKey", {}).get("existingSecret"),
    }
    admin_secrets = {
        ca,
        topics.get("adminSasl", {}).get("existingSecret"),
        topics.get("adminClientCertSecret"),
    }
    partner_namespaces = {p["namespace"] for p in config["partners"]}
    scorer_namespace = scorer.get("namespace") or RELEASE_NAMESPACE
    if scorer.get("enabled", True):
        assert scorer_namespace not in partner_namespaces
    assert len(partner_namespaces) == len(config["partners"])
    for obj in objects:
        if obj["metadata"]["namespace"] == scorer_namespace:
            assert not any(seed in yaml.safe_dump(obj) for seed in seeds), obj["metadata"]["name"]
    for workload, pod in pod_specs(objects):
        assert pod["automountServiceAccountToken"] is False
        names = secret_names(pod)
        if workload["metadata"]["namespace"] == scorer_namespace:
            allowed = admin_secrets if workload["kind"] == "Job" else scorer_secrets
            assert names <= allowed, (workload["metadata"]["name"], names)
            assert all(c["args"][:2] != ["keys", "generate"] for c in containers(pod))
        else:
            assert workload["kind"] == "StatefulSet"
            partner = next(
                p for p in config["partners"] if p["namespace"] == workload["metadata"]["namespace"]
            )
            own = {partner["keySeedSecret"], *partner.get("previousKeySeedSecrets", [])}
            assert own <= names, "the partner's seeds are mounted"
            assert not (names & (seeds - own)), "another partner's seed is mounted"


def secret_names(pod: dict[str, Any]) -> set[str]:
    """Every Secret a pod spec mounts or reads into its environment."""
    names = {v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
    for container in containers(pod):
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                names.add(ref["name"])
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                names.add(source["secretRef"]["name"])
    return names


@values_files
def test_workers_have_probes_resources_and_a_locked_down_context(
    values: Path, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    for workload, pod in pod_specs(rendered[values.stem]):
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in containers(pod):
            assert container["resources"]["requests"], container["name"]
            assert container["resources"]["limits"], container["name"]
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]
        if workload["kind"] == "Job":
            continue
        (main,) = pod["containers"]
        port = next(p for p in main["ports"] if p["name"] == "web")
        assert port["containerPort"] == 6066
        assert main["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "web"}
        assert main["livenessProbe"]["httpGet"] == {"path": "/live", "port": "web"}
        assert main["startupProbe"]["httpGet"] == {"path": "/live", "port": "web"}


def chart_settings(objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """FRAUD_* variables each container gets (ConfigMaps it loads, its env), by container."""
    maps = {
        (o["metadata"]["namespace"], o["metadata"]["name"]): o["data"]
        for o in objects
        if o["kind"] == "ConfigMap"
    }
    found: dict[str, dict[str, str]] = {}
    for workload, pod in pod_specs(objects):
        namespace = workload["metadata"]["namespace"]
        for container in containers(pod):
            env: dict[str, str] = {}
            for source in container.get("envFrom", []):
                env.update(maps[(namespace, source["configMapRef"]["name"])])
            for item in container.get("env", []):
                env[item["name"]] = item.get("value", "<from a Secret>")
            found[f"{workload['metadata']['name']}/{container['name']}"] = env
    return found


def variables(
    settings_type: type[Settings] | type[ScorerSettings] | type[PartnerSettings],
) -> set[str]:
    """The FRAUD_* variables a settings type reads."""
    return {f"FRAUD_{name.upper()}" for name in settings_type.model_fields}


@values_files
def test_the_chart_sets_only_settings_the_code_reads(
    values: Path, rendered: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every FRAUD_* variable of every container is a field of Settings, and its value is one
    Settings accepts (the ConfigMap is what the workers parse at start)."""
    for name, env in chart_settings(rendered[values.stem]).items():
        fraud = {k: v for k, v in env.items() if k.startswith("FRAUD_")}
        assert set(fraud) <= SETTINGS, (name, set(fraud) - SETTINGS)
        for key in SETTINGS:
            monkeypatch.delenv(key, raising=False)
        for key, value in fraud.items():
            monkeypatch.setenv(key, "secret" if value == "<from a Secret>" else value)
        Settings()


def test_the_production_values_set_every_setting_the_code_reads(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """Across the scorer and a partner, the chart sets every FRAUD_* setting; each role gets
    only its own settings type's (the scorer none of the key folders, threshold or limits)."""
    settings = chart_settings(rendered["production-values"])
    scorer = settings["fraud-scorer/scorer"]
    gateway = settings["fraud-partner-alpha/gateway"]
    fraud = {k for k in (*scorer, *gateway) if k.startswith("FRAUD_")}
    assert fraud == SETTINGS
    assert {k for k in scorer if k.startswith("FRAUD_")} <= variables(ScorerSettings)
    assert {k for k in gateway if k.startswith("FRAUD_")} <= variables(PartnerSettings)
    assert "FRAUD_KEY_DIR" not in scorer
    assert gateway["FRAUD_PREVIOUS_KEY_DIRS"] == "/var/run/fraudstream/keys/previous-0"
    assert gateway["FRAUD_SHADOW_KEY_DIR"] == "/var/run/fraudstream/keys/shadow"
    assert scorer["FRAUD_OTHER_MODEL_DIRS"] == "/app/models/candidate"
    assert gateway["FRAUD_THRESHOLD"] == "0.45"
    assert gateway["FRAUD_FEDERATION_MEMBERS"] == "/etc/fraudstream/federation/members.json"
    assert gateway["FRAUD_AGGREGATOR"] == "consortium-aggregator"
    assert gateway["FRAUD_ALERTS_PAGE_PORT"] == "8443"
    assert (gateway["FRAUD_ALERTS_PAGE_SCORES"], gateway["FRAUD_ALERTS_PAGE_ALERTS"]) == (
        "1000",
        "300",
    )
    assert scorer["FRAUD_SASL_PASSWORD"] == "<from a Secret>"  # noqa: S105


@values_files
def test_container_commands_are_commands_of_the_cli(
    values: Path, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    seen = set()
    for _, pod in pod_specs(rendered[values.stem]):
        for container in containers(pod):
            seen.add(check_command(container["args"]))
    config = yaml.safe_load(values.read_text())
    expected = set()
    if config.get("scorer", {}).get("enabled", True):
        expected |= {"fraudstream worker"}
    if runs_topic_job(config):
        expected |= {"fraudstream topics create"}
    if config["partners"]:
        expected |= {"fraudstream worker", "fraudstream keys generate"}
    assert seen == expected


def test_the_command_check_refuses_what_the_cli_would() -> None:
    with pytest.raises(AssertionError, match="no command 'scores'"):
        check_command(["scores"])
    with pytest.raises(Exception, match="No such option"):
        check_command(["worker", "--role", "scorer", "--threads", "2"])
    with pytest.raises(Exception, match="'judge' is not one of"):
        check_command(["worker", "--role", "judge"])


def test_keda_scales_on_the_scorer_group_and_is_capped_at_the_partitions(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """The ScaledObject watches the consumer group and topic the scorer really uses, and asks
    for no more scorers than the request topic has partitions (16 asked, 6 partitions)."""
    objects = rendered["keda-values"]
    (scaled,) = [o for o in objects if o["kind"] == "ScaledObject"]
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["metadata"]["consumerGroup"] == "fraudstream-scorer"
    assert trigger["metadata"]["topic"] == TopicNames("fraud").scoring_requests()
    assert scaled["spec"]["maxReplicaCount"] == 6
    assert not [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    assert "replicas" not in deployment["spec"]  # the autoscaler owns it

    tls = rendered["tls-sasl-values"]
    (scaled,) = [o for o in tls if o["kind"] == "ScaledObject"]
    assert scaled["spec"]["triggers"][0]["metadata"]["sasl"] == "scram_sha256"
    (auth,) = [o for o in tls if o["kind"] == "TriggerAuthentication"]
    assert {(r["parameter"], r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]} == {
        ("username", "fraud-scorer-kafka", "user"),
        ("password", "fraud-scorer-kafka", "pass"),
        ("ca", "kafka-ca", "ca.pem"),
    }


def test_the_cpu_autoscaler_is_capped_at_the_partitions(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    (hpa,) = [o for o in rendered["production-values"] if o["kind"] == "HorizontalPodAutoscaler"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 12)
    fixed = render([MINIMAL], "scorer.replicas=9", "topics.partitions=3")
    assert next(o for o in fixed if o["kind"] == "Deployment")["spec"]["replicas"] == 3


def test_production_values_have_a_pdb_service_monitors_and_network_policies(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    objects = rendered["production-values"]
    namespaces = {"fraud-scoring", "fraud-alpha", "fraud-bravo"}
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    (pdb,) = by_kind["PodDisruptionBudget"]
    assert pdb["spec"]["maxUnavailable"] == 1
    assert {m["metadata"]["namespace"] for m in by_kind["ServiceMonitor"]} == namespaces
    for monitor in by_kind["ServiceMonitor"]:
        assert monitor["spec"]["endpoints"] == [
            {"port": "web", "path": "/metrics", "interval": "30s"}
        ]
        assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert {p["metadata"]["namespace"] for p in by_kind["NetworkPolicy"]} == namespaces
    for policy in by_kind["NetworkPolicy"]:
        dns, kafka, *helm_test = policy["spec"]["egress"]
        # Only in the scorer's namespace: the `helm test` pod may ask the scorer's web port.
        scorer_ns = policy["metadata"]["namespace"] == "fraud-scoring"
        assert len(helm_test) == int(scorer_ns)
        # A partner's namespace lets alertsPage.allowFrom reach its alerts page.
        assert len(policy["spec"]["ingress"]) == 2
        assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
        assert kafka["to"] == [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kafka"}}}
        ]
        assert kafka["ports"] == [{"protocol": "TCP", "port": 9093}]
    (job,) = by_kind["Job"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    statefulsets = by_kind["StatefulSet"]
    assert {s["metadata"]["namespace"] for s in statefulsets} == {"fraud-alpha", "fraud-bravo"}
    alpha = next(s for s in statefulsets if s["metadata"]["namespace"] == "fraud-alpha")
    pod = alpha["spec"]["template"]["spec"]
    inits = pod["initContainers"]
    assert [c["name"] for c in inits] == ["keys-current", "keys-previous-0", "keys-shadow"]
    # A previous or a candidate model's seed is derived with that model (otherModelDirs).
    assert all(c["args"][-2:] == ["--other-model", "/app/models/candidate"] for c in inits)
    keys = next(v for v in pod["volumes"] if v["name"] == "keys")
    assert keys["emptyDir"]["medium"] == "Memory"  # derived keys never touch a disk
    claim = alpha["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["storageClassName"] == "fast-ssd"


WRONG = {
    "replicas as text": (
        "scorer: {replicas: two}",
        "at '/scorer/replicas': got string, want integer",
    ),
    "no seed Secret": (
        "partners: [{name: alpha, namespace: fraud-alpha}]",
        "at '/partners/0': missing property 'keySeedSecret'",
    ),
    "no brokers": ('kafka: {bootstrapServers: ""}', "at '/kafka/bootstrapServers'"),
    "partner id with a space": (
        "partners: [{name: Alpha Bank, namespace: fraud-alpha, keySeedSecret: s}]",
        "at '/partners/0/name'",
    ),
    "partner in the scorer's namespace": (
        "partners: [{name: alpha, namespace: fraud-scoring, keySeedSecret: s}]",
        "a pod can mount any Secret of its namespace",
    ),
    "two autoscalers": (
        "scorer: {autoscaling: {enabled: true}, keda: {enabled: true}}",
        "choose one",
    ),
    "no partitions": ("topics: {partitions: 0}", "at '/topics/partitions'"),
    "a misspelt value": ("scorer: {replicaCount: 3}", "additional properties 'replicaCount'"),
    "NetworkPolicy without the brokers' address": (
        "networkPolicy: {kafkaPeers: []}",
        "at '/networkPolicy/kafkaPeers': minItems: got 0, want 1",
    ),
    "nothing to deploy": ("scorer: {enabled: false}\npartners: []", "nothing to deploy"),
    "alerts page on the web port": (
        "alertsPage: {enabled: true, port: 6066}",
        "alertsPage.port is webPort",
    ),
    "no partner at all": ("partners: []", "no partner at all"),
}


LAYOUT_RULES = {
    "a pod can mount any Secret of its namespace",
    "alertsPage.port is webPort",
    "choose one",
    "nothing to deploy",
    "no partner at all",
}


@pytest.mark.parametrize(("extra", "message"), WRONG.values(), ids=WRONG.keys())
def test_a_wrong_value_fails_template_and_lint_with_a_clear_message(
    extra: str, message: str, tmp_path: Path
) -> None:
    (tmp_path / "wrong.yaml").write_text(extra + "\n")
    base = ["-f", str(MINIMAL), "-f", str(tmp_path / "wrong.yaml"), "--kube-version", KUBE_VERSION]
    template = helm("template", "fraud", str(CHART), "-n", RELEASE_NAMESPACE, *base)
    assert template.returncode != 0
    assert message in template.stderr, template.stderr
    lint = helm("lint", str(CHART), "--strict", "--namespace", RELEASE_NAMESPACE, *base)
    assert message in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    if message not in LAYOUT_RULES:
        assert lint.returncode != 0
    # else: the rule is the template's `fail` (it compares values with the release namespace,
    # which a schema cannot); helm lint runs templates in lint mode, where it only logs `fail`.


def test_two_partners_cannot_share_a_namespace() -> None:
    keda = str(CI / "keda-values.yaml")
    result = helm(
        "template", "fraud", str(CHART), "-n", RELEASE_NAMESPACE, "-f", keda,
        "--set", "partners[1].namespace=fraud-alpha", "--kube-version", KUBE_VERSION,
    )  # fmt: skip
    assert result.returncode != 0
    assert "partners alpha and bravo share the namespace fraud-alpha" in result.stderr


def test_a_scorer_release_and_partner_releases_can_be_separate(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """The scoring operator's release renders no pod in a partner namespace; a partner's own
    release renders its gateway only (no scorer, no topic Job); both list every partner."""
    scorer_only = rendered["scorer-only-values"]
    assert {o["metadata"]["namespace"] for o in scorer_only} == {"fraud-scoring"}
    assert not [o for o in scorer_only if o["kind"] == "StatefulSet"]
    (config,) = [o for o in scorer_only if o["kind"] == "ConfigMap"]
    assert config["data"]["FRAUD_PARTNERS"] == "alpha,bravo"
    (job,) = [o for o in scorer_only if o["kind"] == "Job"]
    assert {"name": "FRAUD_PARTNERS", "value": "alpha,bravo"} in job["spec"]["template"]["spec"][
        "containers"
    ][0]["env"]

    partner_only = rendered["partner-only-values"]
    assert {o["metadata"]["namespace"] for o in partner_only} == {"fraud-alpha"}
    assert {o["kind"] for o in partner_only} >= {"StatefulSet", "ConfigMap", "NetworkPolicy"}
    assert not [o for o in partner_only if o["kind"] in {"Deployment", "Job"}]
    (config,) = [o for o in partner_only if o["kind"] == "ConfigMap"]
    assert config["data"]["FRAUD_PARTNERS"] == "alpha,bravo"


def test_workers_use_as_many_threads_as_their_cpu_limit(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """OpenMP (the FHE runtime) would size its pool from the node's cores, not the limit."""
    for _, pod in pod_specs(rendered["production-values"]):
        for container in pod["containers"]:
            if container["args"][0] != "worker":
                continue
            env = {e["name"]: e for e in container["env"]}
            ref = env["OMP_NUM_THREADS"]["valueFrom"]["resourceFieldRef"]
            assert ref == {"resource": "limits.cpu", "divisor": "1"}


def test_the_values_reference_in_the_docs_is_current() -> None:
    """docs/deploy.md's table and the chart README's are the schema's: regenerate with
    `python -m tests.deploy.values_reference --write`."""
    for document in DOCS:
        assert current_section(document) == table(), document
    assert "|  |\n" not in table(), "every value has a description in values.schema.json"


def test_image_digest_names_overrides_pod_metadata_and_extra_env() -> None:
    """image.digest pins every container by content (the tag ignored); nameOverride and
    fullnameOverride name the resources; podAnnotations and podLabels reach every pod (the
    chart's own labels win); extraEnv reaches the workers' main containers."""
    digest = "sha256:" + "ab" * 32
    objects = render(
        [PRODUCTION],
        f"image.digest={digest}",
        "image.tag=ignored",
        "nameOverride=fs",
        "podAnnotations.example\\.com/owner=fraud-team",
        "podLabels.team=fraud",
        "podLabels.app\\.kubernetes\\.io/component=mine",
        "extraEnv[0].name=HTTPS_PROXY",
        "extraEnv[0].value=http://proxy:3128",
    )
    repository = yaml.safe_load(PRODUCTION.read_text())["image"]["repository"]
    workloads = pod_specs(objects)
    for workload, pod in workloads:
        assert workload["metadata"]["name"].startswith("fraud-fs-"), workload["metadata"]["name"]
        meta = workload["spec"]["template"]["metadata"]
        assert meta["labels"]["team"] == "fraud"
        assert meta["labels"]["app.kubernetes.io/name"] == "fs"
        assert meta["labels"]["app.kubernetes.io/component"] != "mine"
        assert meta["annotations"]["example.com/owner"] == "fraud-team"
        for container in containers(pod):
            assert container["image"] == f"{repository}@{digest}"
        if workload["kind"] != "Job":
            (main,) = pod["containers"]
            assert {"name": "HTTPS_PROXY", "value": "http://proxy:3128"} in main["env"]
    full = render([MINIMAL], "fullnameOverride=bank-scoring")
    assert {w["metadata"]["name"] for w, _ in pod_specs(full)} >= {"bank-scoring-scorer"}


def test_a_digest_that_is_not_one_is_refused(tmp_path: Path) -> None:
    extra = tmp_path / "digest.yaml"
    extra.write_text("image: {digest: latest}\n")
    result = helm(
        "template", "fraud", str(CHART), "--kube-version", KUBE_VERSION,
        "-f", str(MINIMAL), "-f", str(extra),
    )  # fmt: skip
    assert result.returncode != 0
    assert "/image/digest" in result.stderr


def test_helm_test_asks_the_scorers_readiness_and_holds_nothing() -> None:
    """`helm test` runs one pod in the scorer's namespace that asks the scorer's Service for
    /ready; it mounts no Secret and no volume, has no token and runs locked down."""
    objects = render([PRODUCTION])
    (pod,) = [o for o in objects if o["kind"] == "Pod"]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["metadata"]["namespace"] == RELEASE_NAMESPACE
    spec = pod["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert "volumes" not in spec
    assert secret_names(spec) == set()
    (container,) = spec["containers"]
    assert f"http://fraud-scorer.{RELEASE_NAMESPACE}.svc:6066/ready" in container["args"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert not [o for o in render([CI / "partner-only-values.yaml"]) if o["kind"] == "Pod"]


def page_ingress(objects: list[dict[str, Any]], port: int) -> dict[str, list[dict[str, Any]]]:
    """The NetworkPolicy ingress rules to ``port``, by namespace."""
    return {
        o["metadata"]["namespace"]: [
            rule for rule in o["spec"]["ingress"] if any(p["port"] == port for p in rule["ports"])
        ]
        for o in objects
        if o["kind"] == "NetworkPolicy"
    }


def test_the_alerts_page_is_off_unless_enabled_and_then_on_its_own_port() -> None:
    """Off by default: no page setting, port or network rule. Enabled: each partner's gateway
    gets FRAUD_ALERTS_PAGE_PORT and an `alerts-page` container port (the scorer neither), and
    no NetworkPolicy lets anyone reach it (only a port-forward does) until allowFrom names
    peers, which then reach that port only, in the partners' namespaces only."""
    keda = CI / "keda-values.yaml"  # two partners, network policies on
    off = render([keda])
    for env in chart_settings(off).values():
        assert not [k for k in env if k.startswith("FRAUD_ALERTS_PAGE")]
    for _, pod in pod_specs(off):
        ports = [p["name"] for c in containers(pod) for p in c.get("ports", [])]
        assert "alerts-page" not in ports
    assert not any(page_ingress(off, 8080).values())

    on = render([keda], "alertsPage.enabled=true", "alertsPage.port=8443")
    for name, env in chart_settings(on).items():
        page = {k: v for k, v in env.items() if k.startswith("FRAUD_ALERTS_PAGE")}
        if name.endswith("/gateway"):
            assert page == {
                "FRAUD_ALERTS_PAGE_PORT": "8443",
                "FRAUD_ALERTS_PAGE_HOST": "127.0.0.1",  # the pod's loopback: port-forward only
                "FRAUD_ALERTS_PAGE_SCORES": "500",
                "FRAUD_ALERTS_PAGE_ALERTS": "200",
            }
        else:
            assert not page, name
    for workload, pod in pod_specs(on):
        ports = {
            p["name"]: p["containerPort"] for c in pod["containers"] for p in c.get("ports", [])
        }
        if workload["kind"] == "StatefulSet":
            assert ports == {"web": 6066, "alerts-page": 8443}
        else:
            assert "alerts-page" not in ports
    assert not any(page_ingress(on, 8443).values())

    proxy = {"podSelector": {"matchLabels": {"app": "fraud-desk-proxy"}}}
    allowed = render(
        [keda],
        "alertsPage.enabled=true",
        "alertsPage.port=8443",
        "alertsPage.allowFrom[0].podSelector.matchLabels.app=fraud-desk-proxy",
    )
    partner_namespaces = {w["metadata"]["namespace"] for w, _ in pod_specs(allowed)} - {
        RELEASE_NAMESPACE
    }
    for namespace, rules in page_ingress(allowed, 8443).items():
        if namespace in partner_namespaces:
            assert rules == [{"from": [proxy], "ports": [{"protocol": "TCP", "port": 8443}]}]
        else:
            assert rules == [], namespace
    assert len(partner_namespaces) == 2
    hosts = {
        env["FRAUD_ALERTS_PAGE_HOST"]
        for name, env in chart_settings(allowed).items()
        if name.endswith("/gateway")
    }
    assert hosts == {"0.0.0.0"}  # noqa: S104  (reachable by the allowed peers, behind the policy)
    # Peers without a NetworkPolicy would be every pod of the cluster: refused.
    args = ["template", "fraud", str(CHART), "-f", str(keda), "--kube-version", KUBE_VERSION]
    for item in ("alertsPage.enabled=true", "networkPolicy.enabled=false"):
        args += ["--set", item]
    args += ["--set", "alertsPage.allowFrom[0].podSelector.matchLabels.app=fraud-desk-proxy"]
    refused = helm(*args)
    assert refused.returncode != 0
    assert "alertsPage.allowFrom needs networkPolicy.enabled" in refused.stderr


def notes(tmp_path: Path, *sets: str) -> str:
    """The chart's NOTES.txt as `helm install` prints it (helm template leaves it out: a copy
    of the chart renders it as a plain template)."""
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    text = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "_notes_shown.tpl").write_text(
        '{{- define "notes.shown" -}}\n' + text + "{{- end -}}\n"
    )
    (chart / "templates" / "notes-shown.yaml").write_text(
        'notes: |\n{{ include "notes.shown" . | indent 2 }}\n'
    )
    args = ["template", "fraud", str(chart), "-n", RELEASE_NAMESPACE, "-f", str(PRODUCTION)]
    args += ["--kube-version", KUBE_VERSION, "--show-only", "templates/notes-shown.yaml"]
    for item in sets:
        args += ["--set", item]
    result = helm(*args)
    assert result.returncode == 0, result.stderr
    shown: str = yaml.safe_load(result.stdout)["notes"]
    return shown


def test_the_notes_point_the_fraud_team_to_the_page_not_into_the_key_holding_pod(
    tmp_path: Path,
) -> None:
    """NOTES.txt never says to exec into a partner's pod (it holds the secret key): it shows
    each partner's alerts page through a port-forward when the page is on, and `fraudstream
    alerts` from the fraud team's own machine either way."""
    shown = notes(tmp_path)  # the production values: page on, port 8443
    assert " exec " not in shown
    for partner in ("alpha", "bravo"):
        assert (
            f"kubectl -n fraud-{partner} port-forward statefulset/fraud-partner-{partner} 8080:8443"
        ) in shown
        assert f"fraudstream alerts --partner {partner} --follow" in shown
    assert shown.count("then open http://localhost:8080/") == 2

    off = notes(tmp_path / "off", "alertsPage.enabled=false")
    assert " exec " not in off
    assert "port-forward" not in off
    assert "fraudstream alerts --partner alpha --follow" in off
    assert "alertsPage.enabled" in off
