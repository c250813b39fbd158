#!/usr/bin/env bash
# The deployment checks' tools, cached outside the repository (the test command runs this first):
#   helm, built from the Go module proxy;
#   Prometheus' promtool, built from the Go module proxy (it checks and tests the chart's alert
#   rules);
#   the Compose specification's JSON schema (Go module compose-go);
#   the CRDs of KEDA (ScaledObject) and of the Prometheus operator (ServiceMonitor), whose
#   schemas validate the chart's custom resources (Kubernetes' own schemas come from the
#   kubernetes-validate package in the lock file);
#   the CRDs of Strimzi (KafkaUser, KafkaTopic), from Strimzi's own io.strimzi:api test jar on
#   Maven Central (the generated CRDs it tests its API against, Apache-2.0), checked by SHA-256.
# Writes their paths to .fraudstream/tools.env for the tests. Re-running is instant once cached.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION="v3.22.0"
# Prometheus' Go module version (Prometheus 3.x tags its module v0.3xx.y).
PROMETHEUS_VERSION="v0.316.0"
COMPOSE_GO_VERSION="v2.16.2"
KEDA_VERSION="v2.21.0"
PROMETHEUS_OPERATOR_VERSION="v0.85.0"
# The last Strimzi release whose CRDs serve kafka.strimzi.io/v1beta2 (next to v1); 1.x serves v1
# only. Its test jar holds crds/v1beta2/*.yaml (every served version) and crds/v1/*.yaml.
STRIMZI_VERSION="0.51.0"
STRIMZI_TESTS_JAR_SHA256="b99f69303dc507ca505b74345d93f5260621bb084b8b79447f726e54b6e66a1d"
CACHE="${FRAUDSTREAM_CACHE_DIR:-$HOME/.cache/fraudstream}"
BIN="$CACHE/tools/bin"
export GOMODCACHE="$CACHE/gomod" GOFLAGS=-modcacherw GOPATH="$CACHE/gopath"

say() { printf '\033[1m[tools]\033[0m %s\n' "$*"; }
command -v go >/dev/null 2>&1 || { echo "go is required to build helm (Go 1.22+)" >&2; exit 1; }

if [ ! -x "$BIN/helm-$HELM_VERSION" ]; then
  say "building helm $HELM_VERSION from the Go module proxy (once, about 3 minutes)"
  mkdir -p "$BIN"
  GOBIN="$BIN" CGO_ENABLED=0 go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$BIN/helm" "$BIN/helm-$HELM_VERSION"
fi
ln -sf "helm-$HELM_VERSION" "$BIN/helm"

if [ ! -x "$BIN/promtool-$PROMETHEUS_VERSION" ]; then
  say "building promtool ($PROMETHEUS_VERSION) from the Go module proxy (once, about 10 minutes)"
  mkdir -p "$BIN"
  # remove_all_sd leaves out the service-discovery plugins (cloud SDKs): rules need none.
  GOBIN="$BIN" CGO_ENABLED=0 go install -tags remove_all_sd \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION"
  mv "$BIN/promtool" "$BIN/promtool-$PROMETHEUS_VERSION"
fi

module_dir() {  # the unpacked folder of a Go module version (downloaded once)
  go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)",/\1/p'
}
COMPOSE_DIR="$(module_dir "github.com/compose-spec/compose-go/v2@$COMPOSE_GO_VERSION")"
KEDA_DIR="$(module_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")"
PROM_DIR="$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")"

STRIMZI_DIR="$CACHE/strimzi/$STRIMZI_VERSION"
if [ ! -f "$STRIMZI_DIR/.complete" ]; then
  command -v mvn >/dev/null 2>&1 || { echo "mvn is required to fetch the Strimzi CRDs" >&2; exit 1; }
  say "fetching the Strimzi $STRIMZI_VERSION CRDs (io.strimzi:api:tests) from Maven Central (once)"
  rm -rf "$STRIMZI_DIR" && mkdir -p "$STRIMZI_DIR"
  mvn -q -B dependency:copy "-Dartifact=io.strimzi:api:$STRIMZI_VERSION:jar:tests" \
    "-DoutputDirectory=$STRIMZI_DIR"
  JAR="$STRIMZI_DIR/api-$STRIMZI_VERSION-tests.jar"
  echo "$STRIMZI_TESTS_JAR_SHA256  $JAR" | sha256sum --check --quiet
  (cd "$STRIMZI_DIR" && jar xf "$JAR" crds)
  touch "$STRIMZI_DIR/.complete"
fi

mkdir -p .fraudstream
cat > .fraudstream/tools.env <<ENV
HELM=$BIN/helm-$HELM_VERSION
PROMTOOL=$BIN/promtool-$PROMETHEUS_VERSION
COMPOSE_SCHEMA=$COMPOSE_DIR/schema/compose-spec.json
KEDA_CRDS=$KEDA_DIR/config/crd/bases
PROMETHEUS_CRDS=$PROM_DIR/example/prometheus-operator-crd
STRIMZI_CRDS=$STRIMZI_DIR/crds/v1beta2
ENV
while IFS='=' read -r name path; do
  [ -e "$path" ] || { echo "$name: $path is missing" >&2; exit 1; }
done < .fraudstream/tools.env
say "helm $("$BIN/helm" version --short), promtool $PROMETHEUS_VERSION, Compose schema $COMPOSE_GO_VERSION, KEDA $KEDA_VERSION, Prometheus operator $PROMETHEUS_OPERATOR_VERSION and Strimzi $STRIMZI_VERSION CRDs (.fraudstream/tools.env)"
