#!/usr/bin/env python3
"""Adds per second and check latency on the two archive stores, SQLite and PostgreSQL, in one run.

    python3 bench/archive_store.py                       # a throwaway PostgreSQL server, 100,000 items
    python3 bench/archive_store.py --items 20000 --adds 100
    python3 bench/archive_store.py --postgres postgresql://me@localhost/scratch   # an empty database of yours

* **Adds per second** from 1, 2 and 4 processes at once, each adding ``--adds`` items of its own to a
  new archive, one ``ArchiveStore.add`` (one transaction) and one custody entry each, as ``archive add``
  does after fingerprinting. An item is the size of a 10 s clip as ``archive add`` keeps it: 80 frame
  hashes (8 a second), 10 frames of 500 local features with their colour grids, 5 pictures of 9 KB.
  Fingerprinting is left out: this measures the store.
* **Check latency** against an archive of ``--items`` items (8 frame hashes each, no features, so
  that it builds in minutes: the hash search is what grows with the archive) plus one real clip made
  with ffmpeg's lavfi source, which the check finds: ``provenance check --archive A --json CLIP``,
  each in its own process, start-up included. "cold" is the first check, which reads the archive's
  frames into its side files (beside a SQLite file; in the cache folder for PostgreSQL); "warm" is the
  median of the next three.

Without ``--postgres``, a PostgreSQL server is started in a temporary folder with the tests' helper
(``tests/postgres_server.py``: Debian's initdb and pg_ctl, as the postgres user when run as root),
with ``fsync`` on, as a server is run, and stopped at the end. Figures are printed as a table, and
each store's adds per second as a ratio to one SQLite process measured in the same run. This is a
benchmark, not a test: it asserts nothing. The machine may be shared: a second run can differ by 10-20 %.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = "--child"


def fingerprint(seed: int, frames: int):  # -> Fingerprint
    """A well-formed fingerprint with random hashes: a video of ``frames`` samples at 8 a second."""
    from provenance.model import (
        FULL_BOX,
        FileIdentity,
        Fingerprint,
        FrameHash,
        Metadata,
        SamplingParams,
        Shot,
        StreamInfo,
    )

    rng = random.Random(seed)
    sha = hashlib.sha256(f"bench item {seed}".encode()).hexdigest()
    when = "2024-05-01T12:00:00Z"
    identity = FileIdentity(path=f"/media/item-{seed}.mp4", name=f"item-{seed}.mp4", size=1_000_000 + seed,
                            sha256=sha, sha1="1" * 40, md5="2" * 32, modified=when, changed=when, accessed=when)
    duration = frames / 8
    hashes = tuple(FrameHash(index=k, time=k / 8, phash=f"{rng.getrandbits(64):016x}",
                             pdq=f"{rng.getrandbits(256):064x}", pdq_quality=rng.randint(50, 100))
                   for k in range(frames))
    stream = StreamInfo(0, "video", "h264", None, "High", 640, 360, "1:1", "16:9", 25.0, 25.0, "yuv420p", None,
                        None, None, None, None, duration, None, None, None, None, "VideoHandler", "und", None)
    metadata = Metadata("video", "mov,mp4,m4a,3gp,3g2,mj2", None, "isom", ("isom", "avc1"), duration, 1000, when,
                        "UTC per spec", "Lavf60", None, None, None, None, None, ("VideoHandler",), (stream,),
                        (("encoder", "Lavf60"),), None, "{}")
    return Fingerprint(1, "0.1.0", identity, metadata, SamplingParams(fps=8.0), duration, FULL_BOX, hashes,
                       (Shot(0, 0.0, duration, 0.0, 0),), ())


def extras(seed: int, features: int):  # -> (features, pictures)
    """``features`` frames of 500 ORB-sized features with colour grids, and 5 pictures of 9 KB."""
    import numpy as np

    from provenance.model import ArchivedPicture
    from provenance.vision.features import GRID, FrameFeatures

    rng = np.random.default_rng(seed)
    frames = [FrameFeatures(k * 1.0, rng.random((500, 2), dtype=np.float32),
                            rng.integers(0, 256, (500, 32), dtype=np.uint8), 16 / 9,
                            rng.random((GRID, GRID, 4), dtype=np.float32)) for k in range(features)]
    pictures = [ArchivedPicture(k * 2.0, "every", 320, 180, rng.bytes(9_000)) for k in range(5 if features else 0)]
    return frames, pictures


def child(location: str, start: int, count: int, frames: int, features: int, go: str) -> None:
    """Add ``count`` items from seed ``start`` (waiting for the file ``go`` first), then exit."""
    from provenance.archive.custody import Reading, append_entries
    from provenance.archive.store import ArchiveStore

    items = [(fingerprint(start + k, frames), *extras(start + k, features)) for k in range(count)]
    Path(f"{go}.ready-{start}").write_text("ready")
    while not os.path.exists(go):
        time.sleep(0.001)
    with ArchiveStore.open(location) as store:
        for fp, feats, pictures in items:
            store.add(fp, (), feats, pictures)
            append_entries(store, [Reading(fp.identity.sha256, fp.identity.path)], command="bench add")


def run_adders(location: str, processes: int, adds: int, frames: int, features: int, first_seed: int,
               folder: Path) -> float:
    """Seconds for ``processes`` processes to add ``adds`` items each, from the moment they all may start."""
    go = Path(tempfile.mkdtemp(dir=folder)) / "go"
    seeds = [first_seed + p * adds for p in range(processes)]
    procs = [subprocess.Popen([sys.executable, __file__, CHILD, location, str(seed), str(adds), str(frames),
                               str(features), str(go)]) for seed in seeds]
    while not all(Path(f"{go}.ready-{seed}").exists() for seed in seeds):  # each makes its items first
        if any(proc.poll() for proc in procs):
            raise SystemExit("an adding process failed before it started adding")
        time.sleep(0.01)
    started = time.monotonic()
    go.write_text("go")
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit(f"an adding process failed (exit {proc.returncode})")
    return time.monotonic() - started


def make_clip(folder: Path) -> Path:
    """A 10 s 640x360 clip of a lavfi fractal zoom, H.264."""
    clip = folder / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "mandelbrot=size=640x360:rate=25",
                    "-t", "10", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(clip)],
                   check=True)
    return clip


def check_seconds(location: str, clip: Path, env: dict[str, str]) -> float:
    """Wall seconds of one ``provenance check --archive LOCATION --json CLIP`` in its own process."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "provenance", "check", "--archive", location, "--json", str(clip)],
                          capture_output=True, text=True, env=env)
    elapsed = time.monotonic() - started
    if done.returncode != 0 or '"verdict": "identical"' not in done.stdout:
        raise SystemExit(f"check failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    return elapsed


def build_large(location: str, items: int, clip: Path, folder: Path) -> float:
    """Fill the archive at ``location`` with ``items`` small items from 4 processes, then the clip; seconds."""
    from provenance.ingest.add import add_files

    per = -(-items // 4)
    started = time.monotonic()
    go = Path(tempfile.mkdtemp(dir=folder)) / "go"
    procs = [subprocess.Popen([sys.executable, __file__, CHILD, location, str(10_000_000 + p * per),
                               str(min(per, items - p * per)), "8", "0", str(go)]) for p in range(4)]
    go.write_text("go")
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit("a process filling the archive failed")
    add_files(location, [str(clip)])
    return time.monotonic() - started


def main() -> None:
    """Measure both stores and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", help="an empty PostgreSQL database to use (default: a throwaway server)")
    parser.add_argument("--items", type=int, default=100_000, help="items of the archive checked against")
    parser.add_argument("--adds", type=int, default=200, help="items each adding process adds")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="provenance-bench-store-"))
    env = {**os.environ, "XDG_CACHE_HOME": str(folder / "cache"),
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    os.environ["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"]
    server = None
    if args.postgres:
        databases = iter(lambda: args.postgres, None)  # the same database, emptied between uses
    else:
        sys.path.insert(0, str(ROOT / "tests"))
        from postgres_server import start_server

        server = start_server(durable=True)
        if isinstance(server, str):
            raise SystemExit(f"no PostgreSQL server: {server} (give --postgres URL)")
        databases = iter(server.new_database, None)
    try:
        rows = []
        for processes in (1, 2, 4):
            for store in ("sqlite", "postgresql"):
                location = (str(folder / f"adds-{processes}.sqlite") if store == "sqlite" else next(databases))
                if args.postgres:
                    empty(location)
                seconds = run_adders(location, processes, args.adds, 80, 10, 1000 * processes, folder)
                rows.append((store, processes, processes * args.adds / seconds))
        base = next(rate for store, n, rate in rows if store == "sqlite" and n == 1)
        print(f"adds per second ({args.adds} items per process; an item: 80 frame hashes, 10 feature frames, "
              "5 pictures)")
        print(f"{'store':<11} {'processes':>9} {'adds/s':>8} {'x sqlite 1':>11}")
        for store, processes, rate in rows:
            print(f"{store:<11} {processes:>9} {rate:>8.1f} {rate / base:>11.2f}")

        clip = make_clip(folder)
        print(f"\ncheck latency against {args.items:,} items (8 frame hashes each) + the clip, 10 s 640x360, "
              "start-up included")
        print(f"{'store':<11} {'build s':>8} {'cold s':>7} {'warm s':>7}")
        for store in ("sqlite", "postgresql"):
            location = str(folder / "large.sqlite") if store == "sqlite" else next(databases)
            if args.postgres:
                empty(location)
            built = build_large(location, args.items, clip, folder)
            cold = check_seconds(location, clip, env)
            warm = statistics.median(check_seconds(location, clip, env) for _ in range(3))
            print(f"{store:<11} {built:>8.1f} {cold:>7.2f} {warm:>7.2f}")
    finally:
        if server is not None:
            server.stop()


def empty(location: str) -> None:
    """Drop every table of the database at ``location`` (a database the user gave for the bench)."""
    import psycopg

    with psycopg.connect(location, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == CHILD:
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7])
    else:
        main()
