"""Throughput of ``provenance triage`` at one process and at all cores, in the same run.

    python3 bench/triage.py                      # generate a folder of clips in a temporary folder
    python3 bench/triage.py --folder downloads/  # or triage a folder you have
    python3 bench/triage.py --clips 32 --seconds 10 --size 640x360 --repeat 2
    python3 bench/triage.py --work /tmp/bench    # keep the generated clips for the next run

The generated folder holds ``--clips`` videos made with ffmpeg's lavfi sources (fractal zooms at
different places, each in a few versions: copies, re-encodes, scaled and mirrored), so there are
clusters to find, plus two archived sources to match against. Each configuration triages the
whole folder into a fresh report folder (nothing is resumed), ``--repeat`` times, alternating
the two, and the fastest run of each counts (other programs on the machine only ever slow a run
down). Printed per configuration:
files per minute, seconds of video per second, and the speed-up of all cores over one.
This is a benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provenance.ingest.add import add_files
from provenance.model import Sighting
from provenance.triage import default_jobs, triage

PLACES = [  # (x, y, scale) of mandelbrot zooms that look unlike each other
    (-0.743643887, 0.131825904, 0.02), (-1.25066, 0.02012, 0.2), (0.28, 0.008, 0.05), (-0.1011, 0.9563, 0.03),
    (-0.7453, 0.1127, 0.01), (-1.7497, 0.0, 0.02), (0.3245, 0.0410, 0.01), (-0.16, 1.0405, 0.02),
]
VERSIONS = [  # (suffix, video filter, x264 options): how a clip is re-shared
    ("", None, []),
    (" reencode", "scale=iw*3/4:-2", ["-crf", "30"]),
    (" mirrored", "hflip", ["-crf", "26"]),
    (" copy", None, []),
]
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly; stop with its message when it fails."""
    proc = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"ffmpeg failed: {proc.stderr.strip()}")


def generate(folder: Path, clips: int, seconds: float, size: str) -> list[Path]:
    """Make ``clips`` videos in ``folder`` (sources in several versions); returns the sources."""
    sources_dir = folder.parent / "sources"
    sources_dir.mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    n_sources = max(1, -(-clips // len(VERSIONS)))
    sources = []
    for i in range(n_sources):
        x, y, scale = PLACES[i % len(PLACES)]
        scale *= 1 + i // len(PLACES)  # past the list, zoom out: other pictures again
        sources.append((sources_dir / f"source{i:02d}.mp4",
                        f"mandelbrot=size={size}:rate=25:start_x={x}:start_y={y}:start_scale={scale}"))

    def make_source(job: tuple[Path, str]) -> None:
        """Render one source clip."""
        ffmpeg("-f", "lavfi", "-i", job[1], "-t", str(seconds), *X264, str(job[0]))

    with ThreadPoolExecutor(default_jobs()) as pool:
        list(pool.map(make_source, sources))
    jobs = []
    for n in range(clips):
        source = sources[n % n_sources][0]
        suffix, vf, options = VERSIONS[n // n_sources % len(VERSIONS)]
        jobs.append((source, folder / f"{source.stem}{suffix}.mp4", vf, options))

    def make_version(job: tuple[Path, Path, str | None, list[str]]) -> None:
        """Copy or re-encode one version of a source."""
        source, out, vf, options = job
        if vf is None and not options:
            shutil.copyfile(source, out)
        else:
            ffmpeg("-i", str(source), *(["-vf", vf] if vf else []), "-an", *X264, *options, str(out))

    with ThreadPoolExecutor(default_jobs()) as pool:
        list(pool.map(make_version, jobs))
    return [s[0] for s in sources]


def cpu_seconds() -> float:
    """CPU time of this process and of every finished child (pool workers, and their ffmpeg processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(folder: Path, archive: Path, work: Path, jobs: int, attempt: int) -> tuple[float, int, float, float]:
    """(seconds, files, video seconds, CPU seconds) of one triage of ``folder`` with ``jobs`` processes."""
    out = work / f"report-j{jobs}-{attempt}"
    cpu, start = cpu_seconds(), time.perf_counter()
    result = triage([str(folder)], str(out), str(archive), jobs=jobs)
    elapsed = time.perf_counter() - start
    shutil.rmtree(out, ignore_errors=True)
    return elapsed, len(result.rows), result.video_seconds, cpu_seconds() - cpu


def main() -> None:
    """Parse the options, prepare the folder and archive, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, help="triage this folder instead of generating one")
    parser.add_argument("--archive", type=Path, help="archive to match against (default: two generated sources)")
    parser.add_argument("--clips", type=int, default=32, help="clips to generate (default 32)")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each generated clip (default 8)")
    parser.add_argument("--size", default="640x360", help="size of the generated clips (default 640x360)")
    parser.add_argument("--jobs", type=int, default=default_jobs(), help="the 'all cores' configuration")
    parser.add_argument("--repeat", type=int, default=2, help="runs per configuration; the fastest counts")
    parser.add_argument("--work", type=Path, help="keep the generated clips here and reuse them next time "
                                                  "(default: a temporary folder, removed at the end)")
    args = parser.parse_args()
    load = os.getloadavg()[0]  # before we add our own
    with tempfile.TemporaryDirectory(prefix="bench-triage-") as tmp:
        work = Path(tmp)
        if args.folder is not None:
            folder, sources = args.folder, []
        else:
            kept = args.work / f"clips-{args.clips}x{args.seconds:g}s-{args.size}" if args.work else None
            folder = (kept or work) / "downloads"
            if kept is not None and folder.is_dir():
                sources = sorted((kept / "sources").glob("*.mp4"))
                print(f"reusing the clips in {folder}", flush=True)
            else:
                started = time.perf_counter()
                sources = generate(folder, args.clips, args.seconds, args.size)
                print(f"generated {args.clips} clips of {args.seconds:g} s at {args.size} in "
                      f"{time.perf_counter() - started:.1f} s", flush=True)
        archive = args.archive
        if archive is None:
            archive = work / "archive.sqlite"
            add_files(str(archive), [str(s) for s in sources[:2]],
                      sighting=Sighting(platform="bench", first_seen="2020-01-01"))
        print(f"machine: {os.cpu_count()} cores, {default_jobs()} usable; best of {args.repeat} run(s) each",
              flush=True)
        best: dict[int, tuple[float, int, float, float]] = {}
        for attempt in range(args.repeat):  # alternate, so that a busy spell on the machine hits both
            for jobs in (1, args.jobs):
                run = measure(folder, archive, work, jobs, attempt)
                print(f"  run {attempt + 1}, --jobs {jobs}: {run[0]:.2f} s, {run[3]:.1f} CPU-seconds", flush=True)
                if jobs not in best or run[0] < best[jobs][0]:
                    best[jobs] = run
        for jobs, (seconds, files, video, cpu) in best.items():
            print(f"--jobs {jobs}: {files} files in {seconds:.2f} s = {files / seconds * 60:.1f} files/min, "
                  f"{video / seconds:.1f} video-seconds per second ({video:.0f} s of video; "
                  f"{cpu / seconds:.2f} cores busy on average)")
        print(f"speed-up of --jobs {args.jobs} over --jobs 1: {best[1][0] / best[args.jobs][0]:.2f}x")
        if load > 0.5:
            print(f"note: the load average was {load:.1f} before this benchmark started: other programs share "
                  "the cores, so the figures are pessimistic, the speed-up most of all")


if __name__ == "__main__":
    main()
