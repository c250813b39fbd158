#!/usr/bin/env bash
# Deployment check tools, cached outside the repository (issue 6, first step):
#   helm, built from the Go module proxy, and the Compose specification's JSON schema (from the
#   compose-go module). Prints where they are. Re-running is instant once cached.
set -euo pipefail

HELM_VERSION="v3.22.0"
COMPOSE_GO_VERSION="v2.16.2"
CACHE="${FRAUDSTREAM_CACHE_DIR:-$HOME/.cache/fraudstream}"
BIN="$CACHE/tools/bin"
export GOMODCACHE="$CACHE/gomod" GOFLAGS=-modcacherw GOPATH="$CACHE/gopath"

say() { printf '\033[1m[tools]\033[0m %s\n' "$*"; }
command -v go >/dev/null 2>&1 || { echo "go is required to build helm (Go 1.22+)" >&2; exit 1; }

if [ ! -x "$BIN/helm-$HELM_VERSION" ]; then
  say "building helm $HELM_VERSION from the Go module proxy (once, a few minutes)"
  mkdir -p "$BIN"
  GOBIN="$BIN" CGO_ENABLED=0 go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  mv "$BIN/helm" "$BIN/helm-$HELM_VERSION"
fi
ln -sf "helm-$HELM_VERSION" "$BIN/helm"

SCHEMA_DIR="$(go mod download -json "github.com/compose-spec/compose-go/v2@$COMPOSE_GO_VERSION" \
  | sed -n 's/.*"Dir": "\(.*\)",/\1/p')"
say "helm: $("$BIN/helm" version --short) in $BIN"
say "compose schema: $SCHEMA_DIR/schema/compose-spec.json"
