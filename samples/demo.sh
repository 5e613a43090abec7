#!/usr/bin/env bash
# The main job, end to end: set up, build the sample archive from samples/media, and check a
# re-shared clip against it. Usage: bash samples/demo.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
PROV="$ROOT/.venv/bin/provenance"
MEDIA="$ROOT/samples/media"
"$ROOT/.venv/bin/python" "$ROOT/samples/make_samples.py" >/dev/null
ARCHIVE="$(mktemp -d)/sample-archive.sqlite"
"$PROV" archive add --archive "$ARCHIVE" "$MEDIA/incident_2020.mp4" >/dev/null
"$PROV" archive add --archive "$ARCHIVE" --platform telegram --first-seen 2022-06-14 \
    --source-url "https://t.me/example_channel/4411" "$MEDIA/market_2022.mp4" >/dev/null
"$PROV" archive add --archive "$ARCHIVE" --label "photo from the 2021 report" "$MEDIA/spiral_still.jpg" >/dev/null
echo "sample archive: $ARCHIVE ($("$PROV" archive list --archive "$ARCHIVE" | tail -n 1))"
echo
"$PROV" check --archive "$ARCHIVE" "$MEDIA/reshared_2024.mp4"
