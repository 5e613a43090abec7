#!/usr/bin/env python3
"""Make the sample media in ``samples/media`` from ffmpeg's lavfi sources (no outside footage).

    python3 samples/make_samples.py           # make what is missing
    python3 samples/make_samples.py --force   # make everything again

What it makes (all synthetic, so free of rights issues):
- ``incident_2020.mp4``: 20 s of the ``mandelbrot`` source, 320x240, 25 fps, with a yt-dlp style
  ``incident_2020.info.json`` saying it was uploaded to YouTube on 2020-10-05.
- ``market_2022.mp4``: 12 s of the ``life`` source (seeded, so always the same), shown at 320x240.
- ``spiral_still.jpg``: one frame of a deep ``mandelbrot`` zoom, 480x360 (a still in the archive).
- ``reshared_2024.mp4``: the "new" video an investigator is sent: seconds 5-15 of
  ``incident_2020.mp4``, shrunk, letterboxed into 480x360, re-encoded at 20 fps, with
  ``creation_time`` 2024-02-01 written into the container: old footage re-shared as new.

The archive is built from the first three by ``samples/demo.sh``; the fourth is the query.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MEDIA = HERE / "media"
X264 = ["-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p", "-threads", "1", "-bitexact"]


def ffmpeg(*args: str) -> None:
    """Run ffmpeg, stopping with its message on failure."""
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"ffmpeg failed: {' '.join(cmd)}\n{proc.stderr.strip()}")


def make(force: bool) -> list[Path]:
    """Make every sample that is missing (or all with ``force``); return their paths."""
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg is not installed (Debian: sudo apt-get install ffmpeg)")
    MEDIA.mkdir(exist_ok=True)
    jobs = {
        "incident_2020.mp4": ["-f", "lavfi", "-i", "mandelbrot=size=320x240:rate=25", "-t", "20", *X264,
                              "-crf", "30", "-metadata", "creation_time=2020-10-04T17:12:00Z"],
        "market_2022.mp4": ["-f", "lavfi", "-i",
                            "life=size=160x120:rate=10:seed=7:ratio=0.1:mold=10:life_color=#ffcc00,"
                            "scale=320:240:flags=neighbor,fps=25", "-t", "12",
                            *X264, "-crf", "30"],
        "spiral_still.jpg": ["-f", "lavfi", "-i", "mandelbrot=size=480x360:start_x=-0.7436438870:start_y=-0.1318259042:"
                             "start_scale=0.01:inner=period", "-frames:v", "1", "-q:v", "3"],
    }
    made = []
    for name, args in jobs.items():
        out = MEDIA / name
        if force or not out.exists():
            ffmpeg(*args, str(out))
        made.append(out)
    sidecar = MEDIA / "incident_2020.info.json"
    if force or not sidecar.exists():
        sidecar.write_text(json.dumps({
            "id": "dQw4sample", "title": "Shelling of the market (original upload)",
            "webpage_url": "https://www.youtube.com/watch?v=dQw4sample", "extractor": "youtube",
            "extractor_key": "Youtube", "uploader": "Local News Channel", "upload_date": "20201005",
            "timestamp": 1601900000,
        }, indent=2) + "\n")
    query = MEDIA / "reshared_2024.mp4"
    if force or not query.exists():
        ffmpeg("-i", str(MEDIA / "incident_2020.mp4"), "-vf",
               "trim=start=5:end=15,setpts=PTS-STARTPTS,scale=400:300,pad=480:360:40:30:black,fps=20",
               *X264, "-crf", "32", "-metadata", "creation_time=2024-02-01T09:30:00Z", str(query))
    made.append(query)
    return made


def main() -> None:
    """Command line: make the samples."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="make every file again")
    for path in make(parser.parse_args().force):
        print(path.relative_to(HERE.parent))


if __name__ == "__main__":
    main()
