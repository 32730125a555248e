#!/usr/bin/env bash
# Install the test needs and run the whole suite: lint, type check, Python tests (unit, integration and
# end to end), JS tests, the database tests again on PostgreSQL, and the product from a venv holding its
# runtime dependencies only. With arguments, pytest runs just those and the PostgreSQL pass and the runtime
# check are skipped.
#   scripts/test.sh --fast   lint + type check + unit tests + JS tests (under a minute; no servers, no browser)
# The type check is mypy with the configuration in pyproject.toml (strict for the pure modules).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--fast" ]; then
  [ -x .venv/bin/pytest ] && [ -x .venv/bin/mypy ] || bash scripts/setup.sh test
  .venv/bin/ruff check jiseki tests bench scripts
  .venv/bin/mypy
  .venv/bin/python -m pytest -q tests/unit
  node --test tests/js/
  exit 0
fi
bash scripts/setup.sh test
.venv/bin/ruff check jiseki tests bench scripts
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
if [ "$#" -eq 0 ]; then
  # The database-backed integration tests again, on a throwaway PostgreSQL server.
  JISEKI_TEST_DB=postgresql .venv/bin/python -m pytest -q tests/integration
  bash scripts/check-runtime-install.sh
fi
node --test tests/js/
