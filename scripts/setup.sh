#!/usr/bin/env bash
# Set up everything the project needs on a fresh machine, reusing caches outside the repository:
#   - uv (pinned) in ~/.cache/fraudstream/tools, from PyPI;
#   - .venv (Python 3.11) synced to requirements.lock; skipped when the lock's hash is unchanged,
#     and fast otherwise because uv's wheel cache (~/.cache/uv) survives between clones;
#   - the Apache Kafka broker's jars from Maven Central, in ~/.cache/fraudstream/kafka;
#   - Debian's headless Chromium (apt-get, as root), which the web page tests drive.
# Idempotent: run it as often as you like.
set -euo pipefail

cd "$(dirname "$0")/.."
UV_VERSION="0.13.9"
CACHE="${FRAUDSTREAM_CACHE_DIR:-$HOME/.cache/fraudstream}"
TOOLS="$CACHE/tools"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

find_python() {
  for candidate in python3.11 "$HOME/.pyenv/versions/3.11"*/bin/python3.11 /usr/bin/python3.11; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

PYTHON="$(find_python)" || {
  echo "Python 3.11 is required (concrete-ml 1.9.0 supports < 3.13 and pins torch 2.3.1)." >&2
  echo "Install it (e.g. apt-get install python3.11 python3.11-venv, or pyenv) and retry." >&2
  exit 1
}
for tool in java mvn; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "$tool is required to fetch and run the local Kafka broker (Java 17+ and Maven)." >&2
    exit 1
  }
done

# The web page tests drive Debian's headless Chromium (tests/support/browser.py) through
# Playwright, which never downloads a browser of its own.
CHROMIUM=/usr/bin/chromium-headless-shell
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing chromium-headless-shell (Debian's headless Chromium, for the page tests)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      chromium-headless-shell >/dev/null
  else
    echo "$CHROMIUM is missing: the live alerts page's tests need it. Install it as root:" >&2
    echo "  apt-get install --no-install-recommends chromium-headless-shell" >&2
  fi
fi

if [ ! -x "$TOOLS/bin/uv" ] || [ "$("$TOOLS/bin/uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  say "installing uv $UV_VERSION into $TOOLS"
  "$PYTHON" -m venv --clear "$TOOLS"
  "$TOOLS/bin/pip" install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
UV="$TOOLS/bin/uv"

LOCK_HASH="$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)"
if [ "$(cat .venv/.lock-hash 2>/dev/null || true)" != "$LOCK_HASH" ]; then
  say "creating .venv from requirements.lock (first time: ~3 GB of wheels, a few minutes)"
  "$UV" venv --quiet --clear --python "$PYTHON" .venv
  VIRTUAL_ENV="$PWD/.venv" "$UV" pip sync --quiet requirements.lock
  VIRTUAL_ENV="$PWD/.venv" "$UV" pip install --quiet --no-deps -e .
  echo "$LOCK_HASH" > .venv/.lock-hash
else
  say ".venv is up to date with requirements.lock"
fi

.venv/bin/fraudstream kafka fetch --cache-dir "$CACHE" >/dev/null
say "ready: Python $(.venv/bin/python -c 'import platform; print(platform.python_version())'), Kafka jars cached in $CACHE/kafka"
