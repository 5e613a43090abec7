#!/usr/bin/env python3
"""Peak memory and wall time of ``check`` and ``archive add`` against the length of the clip.

    python bench/memory.py                       # clips of 1, 10, 30 and 60 minutes: about an hour
    python bench/memory.py --minutes 1,10

The clips are 1920x1080 at 30 fps H.264 (x264 ``ultrafast``), made once and cached in ``--work``
(default /tmp/provenance-memory): one minute of ffmpeg's ``--source`` (``testsrc2`` by default),
and the longer ones that minute repeated with ffmpeg's concat demuxer (stream copy, so a 60-minute
clip costs no hour of encoding; what is decoded and sampled is a full-length 1080p clip all the
same; x264 ``ultrafast`` of ``testsrc2`` takes about 115 MB a minute, so the four clips take 12 GB of
disk). For each length, each in its own process started from a small launcher
(``bench/launcher.py``, shared with ``bench/open.py``):

* ``provenance check --json CLIP``: sampled at 2 a second (no local features without an archive);
* ``provenance archive add --archive NEW CLIP``: sampled at 8 a second, every feature frame kept
  and written to a fresh archive.

It prints wall seconds, the peak resident set (``peak``: ``ru_maxrss`` of the children, so the tool's
or its ffmpeg decoder's, whichever is larger), the tool process's own peak resident set (``tool``:
its ``VmHWM``, ffmpeg's not included) and the largest anonymous memory of the tool sampled from /proc
every 10 ms (``own``), each with its ratio to the 1-minute figure of the
same run (the first length given stands in when 1 is not asked for). Memory that stays flat as the
clip grows is the goal: a ratio near 1.0 for the peaks, near the length for the times. The machine
may be shared: times can differ by 10-20 % from one run to the next; memory much less. No figure
here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from launcher import ROOT, launch  # bench/launcher.py

WIDTH, HEIGHT, RATE = 1920, 1080, 30


def log(message: str) -> None:
    """A progress line on stderr."""
    print(message, file=sys.stderr, flush=True)


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly; fail loudly."""
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True)


def make_clip(work: Path, minutes: int, source: str) -> Path:
    """The ``minutes``-long 1080p30 clip of ``source``, made once (see the module notes)."""
    clip = work / f"{source}_{WIDTH}x{HEIGHT}_{minutes}min.mp4"
    if clip.exists():
        return clip
    work.mkdir(parents=True, exist_ok=True)
    tmp = clip.with_suffix(".part.mp4")
    if minutes == 1:
        log(f"making a 1-minute {WIDTH}x{HEIGHT} {source} clip into {clip} (once)")
        ffmpeg("-f", "lavfi", "-i", f"{source}=size={WIDTH}x{HEIGHT}:rate={RATE}", "-t", "60",
               "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-an", str(tmp))
    else:
        one = make_clip(work, 1, source)
        log(f"making a {minutes}-minute clip into {clip} (once, {minutes} copies of {one.name})")
        listing = work / f"{source}_{minutes}min.txt"
        listing.write_text("".join(f"file '{one.name}'\n" for _ in range(minutes)))
        ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(tmp))
        listing.unlink()
    tmp.rename(clip)
    return clip


@dataclass(frozen=True)
class Run:
    """One measured run of the tool."""

    seconds: float
    peak_mb: float  # ru_maxrss: the peak resident set of the tool or of its ffmpeg, whichever is larger
    own_mb: float  # the largest RssAnon sampled: the process's own memory
    tool_mb: float  # the tool process's peak resident set alone (VmHWM)

    def ratios(self, base: Run) -> str:
        """This run's figures and their ratios to ``base``."""
        return (f"{self.seconds:8.1f} s ({self.seconds / base.seconds:5.1f}x)  "
                f"peak {self.peak_mb:6.0f} MB ({self.peak_mb / base.peak_mb:4.2f}x)  "
                f"tool {self.tool_mb:6.0f} MB ({self.tool_mb / base.tool_mb:4.2f}x)  "
                f"own {self.own_mb:6.0f} MB ({self.own_mb / base.own_mb:4.2f}x)")


def measured(argv: list[str]) -> Run:
    """One run of ``argv`` (which must succeed) from the launcher (``bench/launcher.py``)."""
    run = launch(argv)
    return Run(run.seconds, run.peak_mb, run.own_mb, run.tool_peak_mb)


def main(argv: list[str] | None = None) -> int:
    """Make or take the clips, then measure check and archive add on each."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", default="1,10,30,60", help="clip lengths in minutes, comma-separated")
    ap.add_argument("--work", type=Path, default=Path("/tmp/provenance-memory"), help="where the clips are cached")
    ap.add_argument("--source", default="testsrc2", help="the lavfi source of the clips (default testsrc2)")
    args = ap.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        print("error: ffmpeg must be on PATH (Debian: apt-get install ffmpeg)", file=sys.stderr)
        return 2
    lengths = sorted({int(m) for m in args.minutes.split(",") if m.strip()})
    clips = {m: make_clip(args.work, m, args.source) for m in lengths}
    tool = [sys.executable, "-m", "provenance"]
    print(f"code: {ROOT}; clips: {args.source} {WIDTH}x{HEIGHT} at {RATE} fps, x264 ultrafast; cores: "
          f"{os.cpu_count()}; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    base: dict[str, Run] = {}
    for m in lengths:
        check = measured([*tool, "check", "--json", str(clips[m])])
        with tempfile.TemporaryDirectory(dir=args.work, prefix="archive-") as fresh:  # its own, for each run
            add = measured([*tool, "archive", "add", "--archive", str(Path(fresh) / "archive.sqlite"), str(clips[m])])
        base.setdefault("check", check)
        base.setdefault("add", add)
        print(f"{m:3d} min  check       {check.ratios(base['check'])}", flush=True)
        print(f"         archive add {add.ratios(base['add'])}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
