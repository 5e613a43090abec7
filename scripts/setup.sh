#!/usr/bin/env bash
# Install what provenance needs on a Debian/Ubuntu machine, idempotently:
#   ffmpeg (OS package) and a virtual environment in .venv with the package (and, with --test, its test tools).
# Sourced by samples/demo.sh and tests/run.sh; safe to run again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EXTRA=""
[ "${1:-}" = "--test" ] && EXTRA="[test]"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
    if command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing $* from the OS packages" >&2
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    else
        echo "setup: please install $* with your system's package manager" >&2
        exit 3
    fi
}

command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || apt_install ffmpeg
if [ -n "$EXTRA" ]; then
    # the tests render HTML reports in headless Chromium and make RFC 3161 tokens with OpenSSL
    command -v chromium >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 || apt_install chromium openssl
fi
PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null 2>&1 || apt_install python3
if [ ! -x "$ROOT/.venv/bin/python" ]; then
    # Debian splits venv and ensurepip out of python3; bring them in when the first try fails
    "$PY" -m venv "$ROOT/.venv" 2>/dev/null || { rm -rf "$ROOT/.venv"; apt_install python3-venv; "$PY" -m venv "$ROOT/.venv"; }
fi
"$ROOT/.venv/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT$EXTRA"
