#!/usr/bin/env bash
# Install the test needs and run the whole suite: lint, Python tests (unit and end to end), JS tests,
# and the product from a venv holding its runtime dependencies only. With arguments, pytest runs just those
# and the PostgreSQL pass and the runtime check are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
.venv/bin/ruff check jiseki tests bench scripts
.venv/bin/python -m pytest -q "$@"
if [ "$#" -eq 0 ]; then
  # The database-backed integration tests again, on a throwaway PostgreSQL server.
  JISEKI_TEST_DB=postgresql .venv/bin/python -m pytest -q tests/integration
  bash scripts/check-runtime-install.sh
fi
node --test tests/js/
