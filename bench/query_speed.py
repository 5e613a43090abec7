#!/usr/bin/env python3
"""How far checking short re-shared clips against an archive is from the bare decode of the same clips.

    python3 bench/query_speed.py --work /tmp/pb4 --limit 40   # the dev benchmark's queries and archive
    python3 bench/query_speed.py                              # a small generated set (ffmpeg lavfi)
    python3 bench/query_speed.py --cmd "python -m provenance" --json

The clips: with ``--work DIR``, the benchmark's queries in ``DIR/queries`` against its archive
``DIR/archive`` (with the index folders beside it), as ``../shared/bench/run.py`` leaves them;
``--limit N`` takes N of them spread over the kinds of edit (``DIR/truth.json``'s ``transform``, else
the name's second word). Without ``--work``, a temporary folder gets an archive of a few generated
clips (fractal zooms, test patterns, cellular automata) and re-shared versions of them: cropped,
mirrored, trimmed, re-encoded smaller, and one clip that is not archived.

The archive (and its index folders) is copied into a temporary folder first: checks and triage log
their readings in its custody log, and nothing is ever written into the work folder or its archive.

In one run, for the same clips, each in its own process:

* clip by clip, interleaved: ``ffmpeg -i Q -f null -`` (the bare decode, the floor) and ``CMD check
  --archive A --json --timings Q`` (start-up included; without ``--timings`` if CMD does not know it);
* ``CMD triage CLIPS --archive A --out OUT`` of all the clips, into a fresh folder, with ``--jobs 1``
  and with all cores (alternating, ``--repeat`` times each; the fastest run counts).

Printed: check / decode summed over the clips with its spread (percentiles of the per-clip ratio),
triage --jobs 1 / decode, the speed-up of all cores over one, each against the goal of issue 17
(2.0, 1.3 and 1.8), and the time per stage summed over the clips, from the tool's own timers. The
machine may be shared: the commands are interleaved so that load slows them alike, and a second
run can differ by 10-20 %. Python is run as on a user's machine, caching bytecode
(PYTHONDONTWRITEBYTECODE is unset). This is a benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
GOALS = {"check": 2.0, "triage": 1.3, "speedup": 1.8}  # issue 17's "done when"
MEDIA = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".gif", ".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"}
SOURCES = [  # (name, lavfi source) of the generated archive: unlike each other
    ("zoom", "mandelbrot=size=640x360:rate=25:start_x=-0.743643887:start_y=0.131825904:start_scale=0.02"),
    ("pattern", "testsrc2=size=640x360:rate=25"),
    ("life", "life=size=640x360:rate=25:seed=4:mold=10:ratio=0.3:death_color=#203040:life_color=#e0c060"),
    ("cells", "cellauto=size=640x360:rate=25:rule=110:seed=5"),
]
SECONDS = 12  # of each generated source
UNARCHIVED = ("zoom2", "mandelbrot=size=640x360:rate=25:start_x=-1.25066:start_y=0.02012:start_scale=0.2")
VERSIONS = [  # (kind, input options, video filter, x264 options): how a generated clip is re-shared
    ("crop", [], "crop=iw*0.6:ih*0.6:iw*0.2:ih*0.15", ["-crf", "26"]),
    ("hflip", [], "hflip", ["-crf", "26"]),
    ("trim", ["-ss", "3", "-t", "6"], None, ["-crf", "26"]),
    ("reencode", [], "scale=iw/2:-2", ["-crf", "32"]),
]
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]


def log(message: str) -> None:
    """A progress line on stderr."""
    print(message, file=sys.stderr, flush=True)


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly; stop with its message when it fails."""
    proc = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"ffmpeg failed: {proc.stderr.strip()}")


def kind_of(path: Path, truth: dict[str, dict[str, object]]) -> str:
    """The kind of edit a query shows: the benchmark's truth says, else the name's second word."""
    transform = truth.get(path.name, {}).get("transform")
    if isinstance(transform, str):
        return transform
    words = path.stem.split("_")
    return words[1] if len(words) > 1 else "other"


def spread_over_kinds(clips: list[Path], kinds: dict[Path, str], limit: int | None) -> list[Path]:
    """``limit`` clips taken in turn from each kind (in name order within a kind), all without a limit."""
    if limit is None or limit >= len(clips):
        return clips
    by_kind: dict[str, list[Path]] = defaultdict(list)
    for clip in clips:
        by_kind[kinds[clip]].append(clip)
    chosen: list[Path] = []
    while len(chosen) < limit:
        for kind in sorted(by_kind):
            if by_kind[kind] and len(chosen) < limit:
                chosen.append(by_kind[kind].pop(0))
    return sorted(chosen)


def copy_archive(archive: Path, into: Path) -> Path:
    """A copy of the archive and the index folders kept beside it (``ARCHIVE.*``), in ``into``."""
    copy = into / archive.name
    shutil.copy2(archive, copy)
    for side in archive.parent.glob(archive.name + ".*"):
        target = into / side.name
        if side.is_dir():
            shutil.copytree(side, target)
        else:
            shutil.copy2(side, target)
    return copy


def generate(folder: Path, cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[list[Path], Path]:
    """Generated sources archived with ``cmd`` (run in ``cwd``) and re-shared versions of them: (queries, archive)."""
    sources, queries = folder / "sources", folder / "queries"
    sources.mkdir()
    queries.mkdir()
    made = []
    for name, spec in [*SOURCES, UNARCHIVED]:
        path = sources / f"{name}.mp4"
        ffmpeg("-f", "lavfi", "-i", spec, "-t", str(SECONDS), *X264, "-crf", "20", str(path))
        made.append(path)
    archive = folder / "archive.sqlite"
    run([*cmd, "archive", "add", "--archive", str(archive), *map(str, made[:-1])], env, check=True, cwd=cwd)
    clips = []
    for source in made[:-1]:
        for kind, before, vf, options in VERSIONS:
            clip = queries / f"g_{kind}_{source.stem}.mp4"
            ffmpeg(*before, "-i", str(source), *(["-vf", vf] if vf else []), *X264, *options, str(clip))
            clips.append(clip)
    unarchived = queries / f"g_new_{made[-1].stem}.mp4"
    ffmpeg("-i", str(made[-1]), *X264, "-crf", "26", str(unarchived))
    return sorted([*clips, unarchived]), archive


def run(argv: list[str], env: dict[str, str], check: bool = False,
        cwd: Path | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall seconds and the finished process of ``argv``."""
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=1800)
    seconds = time.perf_counter() - started
    if check and proc.returncode != 0:
        raise SystemExit(f"{shlex.join(argv[:4])} ... failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    return seconds, proc


def percentile(values: list[float], share: float) -> float:
    """The ``share`` percentile of ``values`` (linear between the nearest ranks)."""
    ordered = sorted(values)
    at = share * (len(ordered) - 1)
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def main() -> None:
    """Parse the options, time everything, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, help="the benchmark's work folder (DIR/queries, DIR/archive); "
                                                  "default: a generated set in a temporary folder")
    parser.add_argument("--limit", type=int, help="at most this many clips, spread over the kinds of edit")
    parser.add_argument("--cmd", help="how to call the tool (default: this checkout's .venv python -m provenance)")
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)), help="the 'all cores' triage")
    parser.add_argument("--repeat", type=int, default=1, help="triage runs per configuration; the fastest counts")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        raise SystemExit("ffmpeg is needed (Debian: apt-get install ffmpeg)")
    if args.cmd:
        cmd, cwd = shlex.split(args.cmd), None
    else:
        cmd, cwd = [str(VENV_PYTHON if VENV_PYTHON.exists() else sys.executable), "-m", "provenance"], ROOT
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    with tempfile.TemporaryDirectory(prefix="provenance-query-speed-") as tmp:
        scratch = Path(tmp)
        # a --cmd runs in the scratch folder: in a checkout, ``python -m provenance`` would import the
        # checkout's package (the working folder comes first on sys.path), not the one PYTHONPATH names
        cwd = cwd or scratch
        if args.work is not None:
            archive = args.work / "archive"
            if not archive.is_file() or not (args.work / "queries").is_dir():
                raise SystemExit(f"{args.work} has no queries/ and archive (run ../shared/bench/run.py first)")
            truth_file = args.work / "truth.json"
            truth = json.loads(truth_file.read_text()) if truth_file.exists() else {}
            clips = sorted(p for p in (args.work / "queries").iterdir() if p.suffix.lower() in MEDIA)
            (scratch / "archive").mkdir()
            archive = copy_archive(archive, scratch / "archive")
            source = str(args.work)
        else:
            log("generating the clips and their archive ...")
            truth = {}
            clips, archive = generate(scratch, cmd, env, cwd)
            source = f"generated: {len(SOURCES)} archived clips of {SECONDS} s, {len(clips)} re-shared"
        kinds = {clip: kind_of(clip, truth) for clip in clips}
        clips = spread_over_kinds(clips, kinds, args.limit)
        figures = measure(clips, kinds, archive, cmd, cwd, env, scratch, args.jobs, args.repeat)
    figures["source"] = source
    figures["command"] = shlex.join(cmd)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_figures(figures)


def measure(clips: list[Path], kinds: dict[Path, str], archive: Path, cmd: list[str], cwd: Path | None,
            env: dict[str, str], scratch: Path, jobs: int, repeat: int) -> dict[str, object]:
    """Time the decode and the check of every clip, interleaved, then triage of them all; the figures."""
    timings_flag = ["--timings"]
    decode: list[float] = []
    check: list[float] = []
    stages: dict[str, float] = defaultdict(float)
    reported_total = 0.0
    errors: list[str] = []
    for n, clip in enumerate(clips, 1):
        seconds, _ = run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-i", str(clip),
                          "-f", "null", "-"], env)
        decode.append(seconds)
        argv = [*cmd, "check", "--archive", str(archive), "--json", *timings_flag, str(clip)]
        seconds, proc = run(argv, env, cwd=cwd)
        if proc.returncode == 2 and timings_flag and "--timings" in proc.stderr:
            timings_flag = []  # a provenance without stage timers: time it all the same
            argv.remove("--timings")
            seconds, proc = run(argv, env, cwd=cwd)
        check.append(seconds)
        if proc.returncode not in (0, 1):
            errors.append(f"{clip.name}: exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}")
        elif timings_flag:
            timed = json.loads(proc.stdout).get("timings") or {}
            for name, value in timed.items():
                if name != "total" and value is not None:
                    stages[name] += float(value)
            reported_total += float(timed.get("total") or 0.0)
        log(f"[{n}/{len(clips)}] {clip.name}: decode {decode[-1]:.2f} s, check {check[-1]:.2f} s")
    triage: dict[int, list[float]] = {1: [], jobs: []}
    for attempt in range(repeat):
        for j in ((1, jobs) if attempt % 2 == 0 else (jobs, 1)):
            out = scratch / f"triage-{j}-{attempt}"
            seconds, proc = run([*cmd, "triage", *map(str, clips), "--archive", str(archive), "--out", str(out),
                                 "--jobs", str(j)], env, cwd=cwd)
            if proc.returncode != 0:
                errors.append(f"triage --jobs {j}: exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
            triage[j].append(seconds)
            log(f"triage --jobs {j}: {seconds:.1f} s")
            shutil.rmtree(out, ignore_errors=True)
    ratios = [c / d for c, d in zip(check, decode, strict=True)]
    decode_sum, check_sum = sum(decode), sum(check)
    one, many = min(triage[1]), min(triage[jobs])
    by_kind: dict[str, list[float]] = defaultdict(list)
    for clip, ratio in zip(clips, ratios, strict=True):
        by_kind[kinds[clip]].append(ratio)
    return {
        "clips": len(clips),
        "kinds": {k: len(v) for k, v in sorted(by_kind.items())},
        "decode_seconds": round(decode_sum, 3),
        "check_seconds": round(check_sum, 3),
        "check_over_decode": round(check_sum / decode_sum, 3),
        "check_over_decode_per_clip": {f"p{round(q * 100)}": round(percentile(ratios, q), 2)
                                       for q in (0.1, 0.5, 0.9, 1.0)},
        "check_seconds_per_clip": round(check_sum / len(clips), 3),
        "triage_jobs1_seconds": round(one, 3),
        "triage_jobs1_over_decode": round(one / decode_sum, 3),
        "triage_all_cores": jobs,
        "triage_all_cores_seconds": round(many, 3),
        "triage_speedup": round(one / many, 3),
        "stages": {name: round(seconds, 3) for name, seconds in stages.items()} if timings_flag else None,
        "stages_total": round(reported_total, 3) if timings_flag else None,
        "goals": GOALS,
        "errors": errors,
    }


def print_figures(f: dict[str, object]) -> None:
    """The figures as a few lines and a table of the stages."""
    spread = f["check_over_decode_per_clip"]
    assert isinstance(spread, dict)

    def verdict(value: object, goal: float, at_most: bool = True) -> str:
        assert isinstance(value, float | int)
        met = value <= goal if at_most else value >= goal
        return f"goal {'<=' if at_most else '>='} {goal}: {'met' if met else 'NOT met'}"

    print(f"query speed: {f['clips']} clips ({f['source']}); {f['command']}")
    print(f"kinds: {', '.join(f'{k} {n}' for k, n in f['kinds'].items())}")  # type: ignore[attr-defined]
    print(f"bare decode (ffmpeg -i Q -f null -): {f['decode_seconds']:.2f} s summed")
    print(f"check / decode:          {f['check_over_decode']:.2f}x  ({f['check_seconds']:.2f} s, "
          f"{f['check_seconds_per_clip']:.2f} s a clip; per clip p10 {spread['p10']:.2f}x, p50 {spread['p50']:.2f}x, "
          f"p90 {spread['p90']:.2f}x, max {spread['p100']:.2f}x)  {verdict(f['check_over_decode'], GOALS['check'])}")
    print(f"triage --jobs 1 / decode: {f['triage_jobs1_over_decode']:.2f}x  ({f['triage_jobs1_seconds']:.2f} s)  "
          f"{verdict(f['triage_jobs1_over_decode'], GOALS['triage'])}")
    print(f"triage --jobs {f['triage_all_cores']} speed-up:  {f['triage_speedup']:.2f}x over --jobs 1  "
          f"({f['triage_all_cores_seconds']:.2f} s)  {verdict(f['triage_speedup'], GOALS['speedup'], at_most=False)}")
    stages = f["stages"]
    if isinstance(stages, dict):
        total = float(f["stages_total"])  # type: ignore[arg-type]
        print(f"\nstage timers (check --timings), summed over the clips; the checks' own total {total:.2f} s "
              f"of {f['check_seconds']:.2f} s wall:")
        print(f"  {'stage':<12} {'seconds':>9} {'share':>7} {'x decode':>9}")
        for name, seconds in stages.items():
            print(f"  {name:<12} {seconds:>9.2f} {seconds / max(total, 1e-9):>7.1%} "
                  f"{seconds / float(f['decode_seconds']):>9.2f}")  # type: ignore[arg-type]
        outside = float(f["check_seconds"]) - total  # type: ignore[arg-type]
        print(f"  {'(exit)':<12} {outside:>9.2f} {'':>7} {outside / float(f['decode_seconds']):>9.2f}"  # type: ignore[arg-type]
              "   wall time of the processes after their record")
    else:
        print("\n(no stage timers: this provenance has no check --timings)")
    for error in f["errors"]:  # type: ignore[attr-defined]
        print(f"error: {error}")


if __name__ == "__main__":
    main()
