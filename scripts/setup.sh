#!/usr/bin/env bash
# Install what provenance needs on a Debian/Ubuntu machine, idempotently:
#   ffmpeg (OS package) and a virtual environment in .venv with the package (and, with --test, its test tools).
# Run by samples/demo.sh and tests/run.sh; run again, it installs nothing (and needs no network) unless
# pyproject.toml, the Python or the extra changed. Ends by saying how to put `provenance` on PATH.
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
# fpcalc: the soundtrack fingerprint where ffmpeg lacks its chromaprint muxer (and the tests of that fallback)
command -v fpcalc >/dev/null 2>&1 || apt_install libchromaprint-tools
if [ -n "$EXTRA" ]; then
    # the tests render HTML reports in headless Chromium and make RFC 3161 tokens with OpenSSL
    command -v chromium >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 || apt_install chromium openssl
    # the team-archive tests start a throwaway PostgreSQL server (tests/postgres_server.py); Debian keeps
    # initdb and pg_ctl in /usr/lib/postgresql/VERSION/bin, off PATH
    { command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; } ||
        apt_install postgresql
fi
PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null 2>&1 || apt_install python3
if [ ! -x "$ROOT/.venv/bin/python" ]; then
    # Debian splits venv and ensurepip out of python3; bring them in when the first try fails
    "$PY" -m venv "$ROOT/.venv" >/dev/null 2>&1 ||
        { rm -rf "$ROOT/.venv"; apt_install python3-venv; "$PY" -m venv "$ROOT/.venv"; }
fi

# pip runs only when what is installed may differ from what pyproject.toml asks for, so that a second
# run needs no network. The stamp, written after a successful install, names pyproject.toml's SHA-256,
# the extra and the venv's Python; the install is editable, so code changes need no reinstall.
STAMP="$ROOT/.venv/.provenance-setup"
stamp_for() {
    printf 'pyproject %s\nextra %s\npython %s\n' "$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)" "$1" \
        "$("$ROOT/.venv/bin/python" -c 'import sys; print(sys.version.split()[0])')"
}
# Cheaper than `pip check`: this checkout's package is the one imported, and every distribution it
# requires (with the extra's) is installed.
installed() {
    "$ROOT/.venv/bin/python" - "$ROOT" "$1" <<'PYCHECK' 2>/dev/null
import importlib.metadata as md
import importlib.util
import re
import sys

root, extra = sys.argv[1], sys.argv[2].strip("[]")
spec = importlib.util.find_spec("provenance")
if spec is None or not (spec.origin or "").startswith(f"{root}/provenance/"):
    sys.exit(1)
for requirement in md.requires("provenance") or []:
    name, _, marker = requirement.partition(";")
    if "extra" in marker and not (extra and f'"{extra}"' in marker):
        continue
    md.version(re.split(r"[\s<>=!~\[(;]", name.strip(), maxsplit=1)[0])
PYCHECK
}
up_to_date() {
    [ -f "$STAMP" ] && [ -x "$ROOT/.venv/bin/provenance" ] || return 1
    # a stamp with the test extra also serves a plain set-up
    { [ "$(cat "$STAMP")" = "$(stamp_for "$EXTRA")" ] || [ "$(cat "$STAMP")" = "$(stamp_for "[test]")" ]; } &&
        installed "$EXTRA"
}
if up_to_date; then
    echo "setup: .venv is up to date with pyproject.toml (no pip run)" >&2
else
    rm -f "$STAMP"
    "$ROOT/.venv/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT$EXTRA"
    stamp_for "$EXTRA" >"$STAMP"
fi

if [ "$(command -v provenance 2>/dev/null)" != "$ROOT/.venv/bin/provenance" ]; then
    echo "setup: done. To run \`provenance\` from your shell: source $ROOT/.venv/bin/activate" \
        "(or: export PATH=\"$ROOT/.venv/bin:\$PATH\")" >&2
fi
