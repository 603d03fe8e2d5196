#!/usr/bin/env bash
# Install what Remote Madoguchi needs on a Debian/Ubuntu machine, only what is missing:
# Debian packages (PortAudio, Qt's runtime libraries, a Japanese font, SANE, Xvfb, Chromium, coturn,
# PulseAudio, Redis, PostgreSQL, haproxy), the virtualenv at .venv and the pinned Python packages. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  libportaudio2 pulseaudio libasound2-plugins            # sounddevice, and a paced virtual audio device
  fonts-noto-cjk                                         # Japanese glyphs on screen and on receipts
  libsane1 libsane-dev sane-utils                        # scanners (python-sane builds against libsane-dev)
  libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libdbus-1-3 libfontconfig1
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0
  libxcb-render-util0 libxcb-image0                      # Qt's xcb platform plugin
  xvfb xauth                                             # windows without a display (screenshots, CI)
  chromium                                               # browser tests of the web pages
  coturn                                                 # TURN relay tests
  iproute2 nftables                                      # network namespaces and packet loss (chaos test)
  redis-server postgresql haproxy                        # several server nodes: tests start real engines
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv with $($PYTHON --version)" >&2
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing Python packages (pinned by constraints.txt)" >&2
  log=$(mktemp)
  if ! { .venv/bin/python -m pip install -q --upgrade pip &&
         .venv/bin/python -m pip install -q -c constraints.txt -e ".[test,aec,cluster]"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "bootstrap: pip install failed (output above)" >&2
    exit 1
  fi
  rm -f "$log" .venv/.installed-*
  touch "$stamp"
fi
