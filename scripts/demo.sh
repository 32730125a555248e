#!/usr/bin/env bash
# Install everything the demo needs (first run only) and start `jiseki demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
exec .venv/bin/jiseki demo --install-certificate "$@"
