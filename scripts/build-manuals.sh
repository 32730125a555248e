#!/usr/bin/env bash
# Build the staff manual and the operations manual as A4 PDFs (build/manual/staff-manual.pdf,
# build/manual/operations-manual.pdf) from docs/manuals/*.ja.md. The screenshots in them are taken from
# the real pages: the end-to-end test starts the demo stack (gateway, agent, Xvfb desktop), walks the
# flows in Debian's Chromium, saves build/manual/shots/*.png, then prints the manuals with Chromium.
# Needs Xvfb, /usr/bin/chromium and fonts-noto-cjk (scripts/setup.sh); about 30 s.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/pytest ] || bash scripts/setup.sh test
.venv/bin/python -m pytest -q -p no:cacheprovider tests/e2e/test_manual_screenshots.py "$@"
ls -l build/manual/*.pdf
