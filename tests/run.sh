#!/usr/bin/env bash
# Set up (ffmpeg, .venv with the package and its test tools) and run the checks: ruff, the import layers
# (lint-imports), then pytest on every core (pytest-xdist).
# Usage: bash tests/run.sh [pytest args]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh" --test
cd "$ROOT"
.venv/bin/ruff check provenance tests samples bench cli.py
.venv/bin/lint-imports --no-cache
# the PostgreSQL tests fail rather than skip when no server can be started (setup installed PostgreSQL)
PROVENANCE_TEST_POSTGRES=required .venv/bin/python -m pytest -n auto "$@"
