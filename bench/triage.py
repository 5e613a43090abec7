"""Throughput of ``provenance triage`` at one process and at all cores, in the same run; with ``--dask``,
also on 1 and N local Dask workers (``triage --dask``).

    python3 bench/triage.py                      # generate a folder of clips in a temporary folder
    python3 bench/triage.py --dask               # also on a LocalCluster of 1 and of --jobs workers
    python3 bench/triage.py --folder downloads/  # or triage a folder you have
    python3 bench/triage.py --clips 32 --seconds 10 --size 640x360 --repeat 2
    python3 bench/triage.py --work /tmp/bench    # keep the generated clips for the next run

The generated folder holds ``--clips`` videos made with ffmpeg's lavfi sources (fractal zooms at
different places, each in a few versions: copies, re-encodes, scaled and mirrored), so there are
clusters to find, plus two archived sources to match against. Each configuration triages the
whole folder into a fresh report folder (nothing is resumed), ``--repeat`` times, alternating
the two, and the fastest run of each counts (other programs on the machine only ever slow a run
down). Printed per configuration:
files per minute, seconds of video per second, and the speed-up of all cores over one. With
``--dask``, each LocalCluster (one thread per worker process) is started once, before its runs, and
kept for them (its start-up is printed apart); the Dask overhead per file is the difference from the
local processes at the same count, divided by the files. CPU seconds are not counted for Dask runs
(its workers are not this process's finished children).
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


def measure(folder: Path, archive: Path, work: Path, jobs: int, attempt: int,
            dask: str | None = None) -> tuple[float, int, float, float]:
    """(seconds, files, video seconds, CPU seconds) of one triage of ``folder`` with ``jobs`` processes, or
    on the Dask scheduler at ``dask``."""
    out = work / f"report-j{jobs}-{'dask' if dask else 'local'}-{attempt}"
    cpu, start = cpu_seconds(), time.perf_counter()
    result = triage([str(folder)], str(out), str(archive), jobs=jobs, dask=dask)
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
    parser.add_argument("--dask", action="store_true", help="also on LocalClusters of 1 and --jobs workers")
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
        clusters = start_clusters((1, args.jobs)) if args.dask else {}
        try:
            best = run_all(folder, archive, work, args.jobs, args.repeat, clusters)
        finally:
            for cluster in clusters.values():
                cluster.close()
        for (label, _), (seconds, files, video, cpu) in best.items():
            busy = f"; {cpu / seconds:.2f} cores busy on average" if label == "--jobs" else ""
            print(f"{label} {_}: {files} files in {seconds:.2f} s = {files / seconds * 60:.1f} files/min, "
                  f"{video / seconds:.1f} video-seconds per second ({video:.0f} s of video{busy})")
        print(f"speed-up of --jobs {args.jobs} over --jobs 1: "
              f"{best[('--jobs', 1)][0] / best[('--jobs', args.jobs)][0]:.2f}x")
        for workers in (1, args.jobs) if clusters else ():
            dask_run, local_run = best[("--dask local", workers)], best[("--jobs", workers)]
            print(f"Dask overhead at {workers} worker(s): {(dask_run[0] - local_run[0]) / dask_run[1] * 1000:+.0f} ms "
                  f"per file ({dask_run[0] / local_run[0]:.2f}x the time of --jobs {workers})")
        if load > 0.5:
            print(f"note: the load average was {load:.1f} before this benchmark started: other programs share "
                  "the cores, so the figures are pessimistic, the speed-up most of all")


def start_clusters(sizes: tuple[int, ...]) -> dict[int, object]:
    """A started LocalCluster (processes, one thread each) per number of workers, its start-up printed."""
    import logging

    from distributed import LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)  # its INFO lines on closing would bury the figures

    clusters = {}
    for workers in dict.fromkeys(sizes):
        started = time.perf_counter()
        clusters[workers] = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                         dashboard_address=":0", silence_logs=50)
        print(f"LocalCluster of {workers} worker(s) started in {time.perf_counter() - started:.2f} s", flush=True)
    return clusters


def run_all(folder: Path, archive: Path, work: Path, jobs: int, repeat: int,
            clusters: dict[int, object]) -> dict[tuple[str, int], tuple[float, int, float, float]]:
    """The fastest run of each configuration: --jobs 1 and --jobs N, and each cluster given."""
    configurations = [("--jobs", 1, None), ("--jobs", jobs, None)]
    configurations += [("--dask local", n, cluster.scheduler_address) for n, cluster in clusters.items()]
    best: dict[tuple[str, int], tuple[float, int, float, float]] = {}
    for attempt in range(repeat):  # alternate, so that a busy spell on the machine hits every one
        for label, count, address in dict.fromkeys(configurations):
            run = measure(folder, archive, work, count, attempt, address)
            cpu = f", {run[3]:.1f} CPU-seconds" if address is None else ""
            print(f"  run {attempt + 1}, {label} {count}: {run[0]:.2f} s{cpu}", flush=True)
            if (label, count) not in best or run[0] < best[(label, count)][0]:
                best[(label, count)] = run
    return best


if __name__ == "__main__":
    main()
