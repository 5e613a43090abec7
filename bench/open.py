#!/usr/bin/env python3
"""What a large archive costs a check before any hash is compared: reading it, or opening what is kept.

    python bench/open.py                       # 100k items (6M frames): about 2 minutes, 1.5 GB
    python bench/open.py --items 20000

It builds (once, cached in ``--work``, default /tmp/provenance-open) a synthetic SQLite archive of
``--items`` items of 60 frames whose PDQ hashes drift a few bits from frame to frame as a video's do
(``bench/index.py``'s), written straight into the archive's tables (fingerprinting that many videos
would take days), and a 10 s lavfi query clip. Then, in this order:

* **read**: ``ArchiveStore.frame_table`` and the usable frames made from it, what every check did
  before the frames were kept beside the archive (the baseline);
* **first open**: ``open_archive_frames`` with no ``ARCHIVE.frames`` folder: the same read, plus
  writing the folder (what the first check after the archive changed does);
* **open**: ``open_archive_frames`` again, memory-mapping the folder (what every later check does);
* ``provenance check --json CLIP`` without an archive (the floor), then ``check --archive`` twice:
  the first one also builds and keeps the hash index (``ARCHIVE.idx``), the second finds both kept;
* ``provenance archive add`` of another 10 s clip, then ``check --archive`` twice: the first one
  adds the new item's frames to the kept frames and index, the second finds them kept; then, with
  both folders deleted, ``check --archive`` once more: everything read and built afresh, what the
  first check after any change cost before the kept folders could grow (the baseline for the
  growing). The added clip is removed again at the end.

Times are wall-clock (median of ``--rounds`` for the in-process steps). A check's memory is given
twice: its peak resident set, which counts the pages of the memory-mapped folders (page cache,
shared and reclaimable), and its own (anonymous) memory, sampled every 10 ms. No figure here is
asserted by the tests.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from index import FRAMES_PER_ITEM, synthetic_archive  # noqa: E402  (bench/index.py)
from launcher import launch  # noqa: E402  (bench/launcher.py)


def make_archive(path: Path, items: int) -> None:
    """A synthetic archive: the real schema, ``items`` items of 60 frames whose PDQ hashes drift a few
    bits from frame to frame, like a video's (``bench/index.py``'s ``synthetic_archive``)."""
    from provenance.archive.store import ArchiveStore

    with ArchiveStore.open(path):
        pass  # creates the schema
    hashes = synthetic_archive(items, np.random.default_rng(7)).reshape(items, FRAMES_PER_ITEM, 32)
    con = sqlite3.connect(path)
    with con:
        con.executemany(
            "INSERT INTO items (id, sha256, name, kind, size, duration, added_at, record) VALUES (?,?,?,?,?,?,?,?)",
            ((i, f"{i:064x}", f"item{i}.mp4", "video", 1, 30.0, "2026-01-01T00:00:00Z", "{}")
             for i in range(1, items + 1)))
        for first in range(1, items + 1, 10_000):
            ids = range(first, min(first + 10_000, items + 1))
            con.executemany(
                "INSERT INTO frames (item_id, sample, time, phash, pdq, pdq_quality) VALUES (?,?,?,?,?,?)",
                ((i, s, s / 2, 0, hashes[i - 1, s].tobytes(), 80) for i in ids for s in range(FRAMES_PER_ITEM)))
        con.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")
    con.close()


def make_clip(path: Path, source: str = "testsrc2") -> None:
    """A 10 s 640x360 clip from one of ffmpeg's lavfi sources."""
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi", "-i",
                    f"{source}=size=640x360:rate=30", "-t", "10", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    str(path)], check=True)


@dataclass(frozen=True)
class Run:
    """One timed run of the tool."""

    seconds: float
    peak_mb: float  # resident set, memory-mapped file pages included
    own_mb: float  # anonymous memory (sampled): what the process itself needs

    def __str__(self) -> str:
        return f"{self.seconds:.2f} s ({self.peak_mb:.0f} MB resident, {self.own_mb:.0f} MB its own)"


def timed_child(argv: list[str]) -> Run:
    """One run of ``argv`` (which must succeed) from the launcher (``bench/launcher.py``)."""
    run = launch(argv)
    return Run(run.seconds, run.peak_mb, run.own_mb)


def main(argv: list[str] | None = None) -> int:
    """Build or take the archive and clip, then time the read, the opens and the checks."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=100_000, help="archived items of 60 frames (default 100000)")
    ap.add_argument("--rounds", type=int, default=3, help="repeats of the in-process steps (default 3)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/provenance-open"), help="where archive and clip are kept")
    args = ap.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        print("error: ffmpeg must be on PATH (Debian: apt-get install ffmpeg)", file=sys.stderr)
        return 2
    from provenance.archive.frame_cache import frames_from_table, open_archive_frames
    from provenance.archive.side_files import frames_folder, index_folder
    from provenance.archive.store import ArchiveStore

    args.work.mkdir(parents=True, exist_ok=True)
    archive = args.work / f"archive-{args.items}-drift.sqlite"
    clip, extra = args.work / "query.mp4", args.work / "added.mp4"
    if not archive.exists():
        print(f"making a synthetic archive of {args.items} items in {archive} (once)", file=sys.stderr)
        make_archive(archive, args.items)
    for path, source in ((clip, "testsrc2"), (extra, "mandelbrot")):
        if not path.exists():
            make_clip(path, source)
    kept = [frames_folder(archive), index_folder(archive)]
    for folder in kept:
        shutil.rmtree(folder, ignore_errors=True)

    def median_of(step: object) -> float:
        times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            step()  # type: ignore[operator]
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    with ArchiveStore.open(archive, create=False) as store:
        read = median_of(lambda: frames_from_table(store.frame_table()))
        t0 = time.perf_counter()
        frames = open_archive_frames(store).frames
        first_open = time.perf_counter() - t0
        opened = median_of(lambda: open_archive_frames(store))
    tool = [sys.executable, "-m", "provenance"]
    env_check = timed_child([*tool, "check", "--json", str(clip)])
    first_check = timed_child([*tool, "check", "--archive", str(archive), "--json", str(clip)])
    later_check = timed_child([*tool, "check", "--archive", str(archive), "--json", str(clip)])
    timed_child([*tool, "archive", "add", "--archive", str(archive), str(extra)])
    grown_check = timed_child([*tool, "check", "--archive", str(archive), "--json", str(clip)])
    grown_later = timed_child([*tool, "check", "--archive", str(archive), "--json", str(clip)])
    for folder in kept:
        shutil.rmtree(folder, ignore_errors=True)
    afresh_check = timed_child([*tool, "check", "--archive", str(archive), "--json", str(clip)])
    with ArchiveStore.open(archive, create=False) as store:
        store.remove(hashlib.sha256(extra.read_bytes()).hexdigest())
    print(f"archive: {args.items} items, {len(frames.pdq)} frames, {archive.stat().st_size / 2**20:.0f} MB of SQLite")
    print(f"  read from SQLite (the baseline)      {read:7.2f} s")
    print(f"  first open: read + keep the frames   {first_open:7.2f} s")
    print(f"  open the kept frames                 {opened:7.3f} s   {read / opened:.0f}x faster than reading")
    print(f"check of a 10 s clip: no archive {env_check}")
    print(f"  first against the archive {first_check} (builds the hash index)")
    print(f"  later {later_check}: the archive adds {later_check.seconds - env_check.seconds:.2f} s")
    print(f"after adding one item: first check {grown_check} (grows the kept frames and index)")
    print(f"  later {grown_later}")
    print(f"  with nothing kept {afresh_check}: growing is {afresh_check.seconds / grown_check.seconds:.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
