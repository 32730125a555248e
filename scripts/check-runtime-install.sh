#!/usr/bin/env bash
# CI check: the runtime dependencies alone run the product. The test extras can hide a missing one
# (Playwright brought greenlet, which SQLAlchemy's asyncio needs, so the tests passed while
# `jiseki demo` crashed on a clean machine). A fresh venv gets `pip install .[agent]` (an office PC: the
# agent's commands must work), then `.[agent,gateway]` (no test extras), then
# scripts/runtime_smoke.py starts `jiseki demo` from it, logs in over HTTPS and waits for a screen update.
# Needs the apt packages of `scripts/setup.sh run` (Xvfb, openbox, xterm).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=build/runtime-venv

fail() { echo "check-runtime-install: FAILED: $*" >&2; exit 1; }

install() {
  if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check "$1" 2>&1 | { grep -v "^WARNING: Location" || true; }
  then
    fail "pip install $1 did not work"
  fi
  "$venv/bin/python" -m pip check >/dev/null || fail "$("$venv/bin/python" -m pip check)"
}

rm -rf "$venv"
python3 -m venv "$venv" || fail "could not create $venv"
# An office PC: the agent's dependencies only. Its commands must work without the gateway's.
install ".[agent]"
for absent in sqlalchemy alembic jinja2 argon2-cffi; do
  if "$venv/bin/python" -m pip show -q "$absent" >/dev/null 2>&1; then fail "$absent is in jiseki[agent]"; fi
done
"$venv/bin/jiseki" agent --help >/dev/null || fail "jiseki agent --help fails with jiseki[agent] alone"
"$venv/bin/jiseki" agent selftest --help >/dev/null || fail "jiseki agent selftest --help fails with jiseki[agent] alone"
"$venv/bin/python" -c "import jiseki.agent.runner, jiseki.agent.backends, jiseki.agent.enroll" \
  || fail "the agent does not import with jiseki[agent] alone"
# The demo machine: both.
install ".[agent,gateway]"
# Imported by nothing but the test extras: must not be here, or the check proves nothing.
for extra in playwright pytest hypothesis; do
  if "$venv/bin/python" -m pip show -q "$extra" >/dev/null 2>&1; then fail "$extra is in the runtime venv"; fi
done
# PYTHONTZPATH="": no system time zone files, so zoneinfo must find Asia/Tokyo in the tzdata package.
PYTHONTZPATH="" "$venv/bin/python" scripts/runtime_smoke.py || fail "the product does not run from $venv (output above)"
