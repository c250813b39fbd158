#!/usr/bin/env bash
# Re-resolve requirements.lock from pyproject.toml (run after changing dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
"${FRAUDSTREAM_CACHE_DIR:-$HOME/.cache/fraudstream}/tools/bin/uv" pip compile pyproject.toml \
  --extra dev --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
  --output-file requirements.lock "$@"
