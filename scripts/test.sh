#!/usr/bin/env bash
# The whole test suite: static checks, then unit, integration (real Kafka broker started by the
# tests themselves) and end-to-end tests. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
echo "== ruff";         "$bin/ruff" check streams models tests
echo "== ruff format";  "$bin/ruff" format --check streams models tests
echo "== mypy";         "$bin/mypy"
echo "== import-linter"; "$bin/lint-imports"
echo "== pytest";       "$bin/pytest" "$@"
