#!/usr/bin/env bash
# Set up (ffmpeg, .venv with the package and its test tools) and run the checks: ruff, then pytest.
# Usage: bash tests/run.sh [pytest args]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh" --test
cd "$ROOT"
.venv/bin/ruff check provenance tests samples bench cli.py
.venv/bin/python -m pytest "$@"
