#!/usr/bin/env bash
# CI check: the runtime dependencies alone run the product. The test extras can hide a missing one
# (Playwright brought greenlet, which SQLAlchemy's asyncio needs, so the tests passed while
# `jiseki demo` crashed on a clean machine). A fresh venv gets the agent alone (`pip install --no-deps .`
# plus requirements/common.txt and agent.txt: an office PC, whose agent commands must work), then
# `pip install .` (the whole product, no test extras), then
# scripts/runtime_smoke.py starts `jiseki demo` from it, logs in over HTTPS and waits for a screen update.
# Needs the apt packages of `scripts/setup.sh run` (Xvfb, openbox, xterm).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=build/runtime-venv

fail() { echo "check-runtime-install: FAILED: $*" >&2; exit 1; }

install() {
  if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" 2>&1 | { grep -v "^WARNING: Location" || true; }
  then
    fail "pip install $* did not work"
  fi
}

rm -rf "$venv"
python3 -m venv "$venv" || fail "could not create $venv"
# An office PC: the agent's dependencies only. Its commands must work without the gateway's.
install --no-deps .
install --no-warn-conflicts -r requirements/common.txt -r requirements/agent.txt  # jiseki itself wants more: expected here
for absent in sqlalchemy alembic jinja2 argon2-cffi; do
  if "$venv/bin/python" -m pip show -q "$absent" >/dev/null 2>&1; then fail "$absent is among the agent's requirements"; fi
done
"$venv/bin/jiseki" agent --help >/dev/null || fail "jiseki agent --help fails with the agent's requirements alone"
"$venv/bin/jiseki" agent selftest --help >/dev/null \
  || fail "jiseki agent selftest --help fails with the agent's requirements alone"
"$venv/bin/python" -c "import jiseki.agent.runner, jiseki.agent.backends, jiseki.agent.enroll" \
  || fail "the agent does not import with its requirements alone"
# The README's machine: `pip install .`, the whole product.
install .
"$venv/bin/python" -m pip check >/dev/null || fail "$("$venv/bin/python" -m pip check)"
# Imported by nothing but the test extras: must not be here, or the check proves nothing.
for extra in playwright pytest hypothesis; do
  if "$venv/bin/python" -m pip show -q "$extra" >/dev/null 2>&1; then fail "$extra is in the runtime venv"; fi
done
# PYTHONTZPATH="": no system time zone files, so zoneinfo must find Asia/Tokyo in the tzdata package.
PYTHONTZPATH="" "$venv/bin/python" scripts/runtime_smoke.py || fail "the product does not run from $venv (output above)"
