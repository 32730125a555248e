#!/usr/bin/env bash
# Install what jiseki needs on Debian 12: apt packages, then a Python venv in .venv.
# Usage: scripts/setup.sh run   (what `jiseki demo` needs)
#        scripts/setup.sh test  (plus Chromium, xdotool, Node.js, the VNC peer for benchmarks and a real
#                                Japanese IME, fcitx5 + mozc, for the keyboard tests)
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

pkgs=(xvfb openbox xterm less fonts-noto-cjk fonts-dejavu-core x11-xkb-utils ca-certificates libnss3-tools xclip xinput)
pkgs+=(wixl msitools)  # `jiseki agent package --windows` builds the office PCs' MSI (docs/windows.md)
if [ "$mode" = "test" ]; then
  pkgs+=(chromium xdotool x11-utils x11vnc novnc websockify xclip i3lock xinput postgresql)
  pkgs+=(slapd ldap-utils)  # a real directory server for the directory login and sync tests
  pkgs+=(samba samba-ad-provision samba-dsdb-modules samba-vfs-modules)  # a real AD domain controller (tests/samba_dc.py); provision loads vfs/acl_xattr.so
  pkgs+=(wine64 wine)  # Windows CPython for the Windows agent's tests (scripts/wine-python.sh)
  pkgs+=(fcitx5 fcitx5-mozc fcitx5-frontend-gtk3 dbus x11-xserver-utils)  # a real IME; xrandr
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
fi
command -v python3 >/dev/null 2>&1 || pkgs+=(python3)
python3 -m venv --help >/dev/null 2>&1 || pkgs+=(python3-venv)
python3 -m ensurepip --version >/dev/null 2>&1 || pkgs+=(python3-venv python3-pip)
if [ "$mode" = "test" ]; then pkgs+=(tigervnc-standalone-server); fi # second peer of bench/display_bench.py

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
extra=""
if [ "$mode" = "test" ]; then extra="[test]"; fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extra}" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import jiseki" # fail here, clearly, if the install did not work
