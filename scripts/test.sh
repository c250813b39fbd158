#!/usr/bin/env bash
# The whole test suite: static checks, then unit, integration (real Kafka broker started by the
# tests themselves) and end-to-end tests. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
echo "== tools";        bash scripts/tools.sh
echo "== ruff";         "$bin/ruff" check streams models tests
echo "== ruff format";  "$bin/ruff" format --check streams models tests
echo "== mypy";         "$bin/mypy"
echo "== import-linter"; "$bin/lint-imports"
echo "== pytest"
# Two workers (pytest-xdist), each with its own broker, models and keys (session fixtures): most
# tests wait on a broker, a consumer group or a subprocess, so two of them share two cores well
# (measured: 26 minutes against 46 for one worker). FRAUDSTREAM_TEST_WORKERS sets another count
# (1: no workers, as plain pytest).
workers="${FRAUDSTREAM_TEST_WORKERS:-2}"
parallel=()
if [ "$workers" -gt 1 ]; then parallel=(-n "$workers"); fi
# The verdict comes from pytest's exit code and, as a second check, from its JUnit report: a
# process that exits 0 at interpreter shutdown (a library's atexit) must not hide a failure.
report=.fraudstream/pytest-report.xml
mkdir -p .fraudstream
rm -f "$report"
status=0
"$bin/pytest" "${parallel[@]}" --junitxml="$report" "$@" || status=$?
"$bin/python" - "$report" <<'PY' || { [ "$status" -ne 0 ] || status=1; }
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
if bad:
    print(f"pytest report: {bad} failed or errored tests")
sys.exit(1 if bad else 0)
PY
exit "$status"
