#!/usr/bin/env python3
"""Whether answers depend on what else is archived: the benchmark's queries against its archive, then with a crowd.

    python bench/crowd.py                              # every query, 3000 synthetic items (see the times below)
    python bench/crowd.py --synthetic 40 --limit 30    # a small look: 8-12 minutes on a busy 2-core machine
    python bench/crowd.py --queries '*_still_*,*_compilation_*' --jobs 2

It reads the matching benchmark's work folder (``--bench``, default /tmp/provenance-bench, as
``../shared/bench/run.py`` leaves it: ``queries/``, ``truth.json``, ``truth.meta.json`` and
``archive``) and never writes there: the archive is copied, byte for byte, into this benchmark's
own work folder (``--work``, default /tmp/provenance-crowd) as ``base/archive`` (or, with
``--fresh-base``, the benchmark's sources are archived afresh there with this checkout). A second
copy gets the **crowd** added with ``archive add`` in batches (``--batch`` files a process):

* every media file of the corpus (``../shared/corpus``) the benchmark did not archive: the
  distractors, the EXIF samples, the PDQ test images, and the other files of the sources' families
  (their natural variants, which are also queries, and keyframe stills: re-uploads of a true
  source, as real archives hold). Families are ``INVENTORY.md``'s (a file it does not list is of
  its folder's family); ``--unrelated-only`` leaves out every file of a source's family;
* ``--synthetic N`` items (default 3000) cut with ffmpeg from the files of no source's family,
  never from a source: two in three are pieces of 2-6 s of a clip (at most the clip), 320 px wide, at
  10-25 fps (x264 ``veryfast``, CRF 26-34, mono AAC when the clip has sound), half of them cropped
  by up to 10 % a side and a quarter mirrored; one in three a JPEG still, 320-640 px wide: a frame
  of a clip, or a photo cropped by up to 15 % a side. Clips are drawn in proportion to their length
  plus 6 s (the corpus's non-source footage is about 250 s, 139 of them one office camera, so
  pieces overlap: a crowd of re-cuts, as real archives hold). Item ``i`` is drawn from
  ``random.Random("SEED:i")`` alone, so a smaller ``N`` makes the first ``N`` of a larger one; they
  are made once and kept in ``WORK/synthetic-sSEED-rVERSION/``.

The crowd archive is kept in ``WORK/crowd-nN-sSEED-rVERSION[-unrelated]/`` and reused while the benchmark's
archive is the same one (same id, generation and items); only files it does not hold yet are added.
``--rebuild`` starts it again from the copy (do so after a change to what ``archive add`` stores).

Then ``provenance check --archive A --json Q`` runs for each query (``--queries`` patterns,
``--limit`` N spread evenly over them in name order) against both archives, the first check of
each archive apart (it builds what is kept beside the archive), the rest ``--jobs`` at a time. The
tool is ``python -m provenance`` from this checkout (first on the import path), or ``--cmd``.

Printed for each archive: items, frames, the benchmark's recall, precision, verdict share (as
``../shared/bench/score.py`` scores them, imported from there; against the crowd, only the
matches to the benchmark's own items count, so the figures are comparable), loc, edits, how many
found pairs got each verdict, and seconds per check. Then the matches to crowd items (of footage
the query was made from, by family, or unexplained), and every pair that differs between the two:
a true pair lost or gained, its verdict changed, its segments moved (IoU below 0.9 on either time
line; for a still, no archive time within 2 s), its edit names changed, a false listing gained or
lost. The last line says whether recall, precision and verdicts are equal to within one pair.
Everything, both runs' reports included, goes to ``WORK/results.json``.

Times measured on 2 cores shared with other work (load average 15-23): making a synthetic item
0.7-1.7 s, adding a file 0.65-1.0 s, a check 2.4-5.3 s on average (up to 22 s for a long query
searched by local features). The full run (the 443 queries of ``run.py --extra``, twice, and about
3180 files added) should take 3-4 hours the first time, less on an idle machine or with ``--jobs
2``, and about 1.5-2 GB of disk; later runs reuse the items and the crowd archive and only check
again (about 1.5-2.5 hours). This is a benchmark, not a test: nothing is asserted, and it exits 0
whatever the figures.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import importlib.util
import json
import os
import random
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT.parent / "shared" / "bench"
RECIPE_VERSION = 1  # bump when the way synthetic items are made changes: they are kept in a folder named by it
PIECE_SECONDS = (2.0, 6.0)
PIECE_WIDTH = 320
STILL_SHARE = 1 / 3
VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".webm", ".gif", ".mov", ".m4v"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".bmp", ".tif", ".tiff"}
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}  # photos ffmpeg reads, to cut synthetic stills from
SAME_IOU = 0.9  # segments of a pair count as moved below this IoU on either time line
STILL_TOLERANCE_S = 2.0  # a still's archive time counts as moved beyond this
SIDE_FOLDERS = (".frames", ".idx", ".features", ".idx.npz")  # what the tool keeps beside an archive
Json = dict[str, Any]  # a record of the benchmark's truth.json or a merged match of its score.py
Report = dict[str, Any]  # what `check --json` printed


def log(message: str) -> None:
    """A progress line on stderr."""
    print(message, file=sys.stderr, flush=True)


def ffmpeg(args: list[str]) -> bool:
    """Run ffmpeg quietly on one thread; whether it succeeded."""
    proc = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return proc.returncode == 0


def load_scorer(harness: Path) -> ModuleType:
    """The benchmark's own scorer (``score.py``, standard library only), loaded without leaving bytecode there."""
    sys.dont_write_bytecode = True
    spec = importlib.util.spec_from_file_location("bench_score", harness / "score.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"error: no score.py in {harness}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_list(path: Path) -> list[str]:
    """The paths of a sources.txt / distractors.txt list."""
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


def inventory_families(corpus: Path) -> dict[str, str]:
    """File (under the corpus) -> family, from the Family column of INVENTORY.md's tables."""
    families: dict[str, str] = {}
    inventory = corpus / "INVENTORY.md"
    if not inventory.exists():
        return families
    column = None
    for line in inventory.read_text().splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not cells[0].startswith("`"):
            if not set(cells[0]) <= {"-", ":"}:  # a header row, not the |---| under it
                column = cells.index("Family") if "Family" in cells else None
            continue
        if column is not None and len(cells) > column:
            families[cells[0].strip("`")] = cells[column]
    return families


def family_of(path: str, families: dict[str, str]) -> str:
    """A corpus file's family: INVENTORY.md's, else its folder's."""
    return families.get(path) or path.split("/")[0]


@dataclass(frozen=True)
class PoolClip:
    """A corpus clip synthetic items may be cut from."""

    path: str  # under the corpus
    seconds: float  # what decodes, not what the header says
    audio: bool


@dataclass(frozen=True)
class Recipe:
    """How one synthetic item is made."""

    kind: str  # "piece" or "still"
    source: str  # the corpus file it is cut from
    start: float  # seconds into the source (a still of a photo: 0)
    seconds: float  # length of a piece (a still: 0)
    width: int
    fps: int  # a piece's frame rate (a still: 0)
    quality: int  # a piece's CRF, a still's JPEG -q:v
    crop: tuple[float, float, float, float]  # left, right, top and bottom cut off (fractions of the picture)
    mirror: bool
    audio: bool


@dataclass(frozen=True)
class CrowdFile:
    """One file added to the crowd, and the corpus file its footage comes from."""

    path: str
    origin: str  # under the corpus
    family: str
    kind: str  # "corpus", "piece" or "still"


def probe_clip(corpus: Path, rel: str) -> PoolClip | None:
    """The decoded length of a corpus clip, and whether it has sound; None when it does not decode."""
    path = str(corpus / rel)
    frames = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                             "frame=best_effort_timestamp_time", "-of", "csv=p=0", path],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    times = []
    for line in frames.stdout.splitlines():
        try:
            times.append(float(line.strip().strip(",")))
        except ValueError:
            continue
    if len(times) < 2:
        return None
    streams = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", path],
                             capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return PoolClip(rel, max(times) - min(times), "audio" in streams.stdout.split())


def pool_clips(corpus: Path, files: list[str], cache: Path) -> list[PoolClip]:
    """Every clip of ``files`` that decodes, probed once (kept in ``cache`` by path, size and time)."""
    known = json.loads(cache.read_text()) if cache.exists() else {}
    out, changed = [], False
    for rel in files:
        st = (corpus / rel).stat()
        key = f"{rel}:{st.st_size}:{st.st_mtime_ns}"
        if key not in known:
            clip = probe_clip(corpus, rel)
            known[key] = asdict(clip) if clip else None
            changed = True
        if known[key]:
            out.append(PoolClip(**known[key]))
    if changed:
        cache.write_text(json.dumps(known, indent=1, sort_keys=True))
    return out


def draw(seed: int, index: int, attempt: int, clips: list[PoolClip], photos: list[str]) -> Recipe:
    """Synthetic item ``index``'s recipe, from its own seeded generator (``attempt`` > 0 after ffmpeg failed)."""
    rng = random.Random(f"{seed}:{index}" + (f":{attempt}" if attempt else ""))
    # a long clip has more footage to cut from than a 1 s one: drawn in proportion to its length (+ 6 s)
    weights = [c.seconds + PIECE_SECONDS[1] for c in clips]

    def cut(most: float) -> tuple[float, float, float, float]:
        return (round(rng.uniform(0, most), 3), round(rng.uniform(0, most), 3), round(rng.uniform(0, most), 3),
                round(rng.uniform(0, most), 3))

    if rng.random() >= STILL_SHARE:
        clip = rng.choices(clips, weights)[0]
        seconds = min(rng.uniform(*PIECE_SECONDS), clip.seconds)
        return Recipe("piece", clip.path, round(rng.uniform(0.0, clip.seconds - seconds), 2), round(seconds, 2),
                      PIECE_WIDTH, rng.choice((10, 12, 15, 25)), rng.randint(26, 34),
                      cut(0.1) if rng.random() < 0.5 else (0.0, 0.0, 0.0, 0.0), rng.random() < 0.25, clip.audio)
    width, quality = rng.choice((320, 480, 640)), rng.randint(2, 8)
    if rng.random() < 0.5 or not photos:
        clip = rng.choices(clips, weights)[0]
        return Recipe("still", clip.path, round(rng.uniform(0.0, max(0.0, clip.seconds - 0.1)), 2), 0.0, width, 0,
                      quality, (0.0, 0.0, 0.0, 0.0), False, False)
    return Recipe("still", rng.choice(photos), 0.0, 0.0, width, 0, quality, cut(0.15), False, False)


def crop_filter(crop: tuple[float, float, float, float]) -> str:
    """ffmpeg's crop filter cutting off the (left, right, top, bottom) fractions."""
    left, right, top, bottom = crop
    return f"crop=iw*{1 - left - right:.3f}:ih*{1 - top - bottom:.3f}:iw*{left:.3f}:ih*{top:.3f}"


def make_item(corpus: Path, recipe: Recipe, out: Path) -> bool:
    """Make one synthetic item into ``out`` (atomically); whether ffmpeg managed."""
    src = str(corpus / recipe.source)
    tmp = out.with_name(out.stem + ".part" + out.suffix)
    if recipe.kind == "piece":
        end = recipe.start + recipe.seconds
        graph = (f"[0:v:0]trim=start={recipe.start}:duration={recipe.seconds},setpts=PTS-STARTPTS,fps={recipe.fps},"
                 f"{crop_filter(recipe.crop)},{'hflip,' if recipe.mirror else ''}"
                 f"scale={recipe.width}:-2,setsar=1,format=yuv420p[v]")
        sound = f";[0:a:0]atrim=start={recipe.start}:duration={recipe.seconds},asetpts=PTS-STARTPTS[a]"
        tail = ["-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-crf", str(recipe.quality),
                "-threads", "1", "-movflags", "+faststart"]
        ok = recipe.audio and ffmpeg(["-t", f"{end + 0.5:.2f}", "-i", src, "-filter_complex", graph + sound,
                                      *tail, "-map", "[a]", "-c:a", "aac", "-b:a", "48k", "-ac", "1", str(tmp)])
        ok = ok or ffmpeg(["-t", f"{end + 0.5:.2f}", "-i", src, "-filter_complex", graph, *tail, "-an", str(tmp)])
    elif Path(recipe.source).suffix.lower() in PHOTO_SUFFIXES:
        ok = ffmpeg(["-i", src, "-vf", f"{crop_filter(recipe.crop)},scale={recipe.width}:-2", "-frames:v", "1",
                     "-pix_fmt", "yuvj420p", "-q:v", str(recipe.quality), "-threads", "1", str(tmp)])
    else:
        ok = ffmpeg(["-t", f"{recipe.start + 0.5:.2f}", "-i", src, "-vf",
                     f"trim=start={recipe.start},setpts=PTS-STARTPTS,scale={recipe.width}:-2", "-frames:v", "1",
                     "-pix_fmt", "yuvj420p", "-q:v", str(recipe.quality), "-threads", "1", str(tmp)])
    if ok and tmp.exists() and tmp.stat().st_size > 0:
        tmp.rename(out)
        return True
    tmp.unlink(missing_ok=True)
    return False


def synthetic_items(corpus: Path, folder: Path, count: int, seed: int, clips: list[PoolClip], photos: list[str],
                    families: dict[str, str], jobs: int) -> tuple[list[CrowdFile], int, float]:
    """The first ``count`` synthetic items (made now when not kept in ``folder``), how many were made now, and
    the seconds making them took."""
    folder.mkdir(parents=True, exist_ok=True)
    made_file = folder / "made.json"
    made: dict[str, Json] = json.loads(made_file.read_text()) if made_file.exists() else {}
    wanted = [i for i in range(count) if not (str(i) in made and (folder / str(made[str(i)]["name"])).exists())]

    def make(index: int) -> tuple[int, Recipe | None, str]:
        for attempt in range(4):
            recipe = draw(seed, index, attempt, clips, photos)
            name = f"{index:05d}-{recipe.kind}{'.mp4' if recipe.kind == 'piece' else '.jpg'}"
            if make_item(corpus, recipe, folder / name):
                return index, recipe, name
        return index, None, ""

    t0 = time.perf_counter()
    if wanted:
        log(f"making {len(wanted)} synthetic items into {folder} ({count - len(wanted)} kept from before)")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for done, (index, recipe, name) in enumerate(pool.map(make, wanted), 1):
            if recipe is not None:
                made[str(index)] = {"name": name, **asdict(recipe)}
            else:
                log(f"  synthetic item {index}: ffmpeg failed four draws; left out")
            if done % 250 == 0 or done == len(wanted):
                made_file.write_text(json.dumps(made, indent=1, sort_keys=True))
                log(f"  made {done}/{len(wanted)} ({time.perf_counter() - t0:.0f} s)")
    seconds = time.perf_counter() - t0
    out = []
    for i in range(count):
        rec = made.get(str(i))
        if rec is not None:
            out.append(CrowdFile(str(folder / str(rec["name"])), str(rec["source"]),
                                 family_of(str(rec["source"]), families), str(rec["kind"])))
    return out, len(wanted), seconds


def sha256_of(path: Path) -> str:
    """A file's SHA-256."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def remove_archive(path: Path) -> None:
    """An archive, its journal files and what the tool keeps beside it."""
    for suffix in ("", "-wal", "-shm", "-journal", *SIDE_FOLDERS):
        p = path.with_name(path.name + suffix)
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()


@dataclass(frozen=True)
class ArchiveFacts:
    """What an archive holds."""

    archive_id: str
    generation: int
    items: dict[str, str]  # SHA-256 -> name
    frames: int
    seconds: float  # archived video seconds

    def identity(self) -> list[object]:
        """Id, generation and a digest of the items: equal only for the same archive in the same state."""
        items = hashlib.sha256("".join(sorted(self.items)).encode()).hexdigest()[:16]
        return [self.archive_id, self.generation, items]


def archive_facts(path: Path) -> ArchiveFacts:
    """Read one of this benchmark's own archives (never the benchmark's: opening a WAL database writes beside it)."""
    con = sqlite3.connect(path)
    try:
        if con.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise SystemExit(f"error: {path} is damaged (quick_check failed)")
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        items = dict(con.execute("SELECT sha256, name FROM items").fetchall())
        frames = con.execute("SELECT count(*) FROM frames").fetchone()[0]
        seconds = con.execute("SELECT coalesce(sum(duration), 0) FROM items WHERE kind != 'image'").fetchone()[0]
    finally:
        con.close()
    return ArchiveFacts(str(meta.get("archive_id", "")), int(meta.get("generation", 0)), items, frames,
                        float(seconds))


def copy_archive(src: Path, dst: Path) -> None:
    """Copy an archive's bytes (and its WAL, when one is open) into ``dst``; nothing kept beside it is copied."""
    remove_archive(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    wal = src.with_name(src.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, dst.with_name(dst.name + "-wal"))


@dataclass(frozen=True)
class Added:
    """The outcome of adding files in batches."""

    added: int
    known: int
    failed: list[tuple[str, str]]  # (file, why); a batch that failed whole: (its first file, why)
    seconds: float


def add_files(cmd: list[str], env: dict[str, str], archive: Path, files: list[str], batch: int, jobs: int,
              timeout: float) -> Added:
    """``archive add --json`` of ``files``, ``batch`` a process, ``jobs`` processes at once."""
    parts = [files[i:i + batch] for i in range(0, len(files), batch)]
    counts = Counter[str]()
    failed: list[tuple[str, str]] = []
    t0 = time.perf_counter()

    def one(part: list[str]) -> tuple[int, int, list[tuple[str, str]]]:
        argv = [*cmd, "archive", "add", "--archive", str(archive), "--json", *part]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                                  timeout=timeout * len(part))
        except subprocess.TimeoutExpired:
            return 0, 0, [(part[0], f"the batch of {len(part)} files it starts timed out")]
        try:
            rows = json.loads(proc.stdout)["files"]
        except (json.JSONDecodeError, KeyError, TypeError):
            why = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
            return 0, 0, [(part[0], f"the batch of {len(part)} files it starts failed: {why}")]
        return (sum(1 for r in rows if not r.get("error") and r.get("created")),
                sum(1 for r in rows if not r.get("error") and not r.get("created")),
                [(str(r.get("path")), str(r.get("error"))) for r in rows if r.get("error")])

    done = 0
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for part, (added, known, bad) in zip(parts, pool.map(one, parts), strict=True):
            counts["added"] += added
            counts["known"] += known
            failed += bad
            done += len(part)
            log(f"  added {done}/{len(files)} files ({time.perf_counter() - t0:.0f} s, {len(failed)} failed)")
    return Added(counts["added"], counts["known"], failed, time.perf_counter() - t0)


@dataclass(frozen=True)
class Checked:
    """One check of one query against one archive."""

    report: Report | None  # the parsed --json record; None when the check failed
    seconds: float
    error: str | None


def check(cmd: list[str], env: dict[str, str], archive: Path, query: Path, timeout: float) -> Checked:
    """``check --archive ARCHIVE --json QUERY``."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([*cmd, "check", "--archive", str(archive), "--json", str(query)], capture_output=True,
                              text=True, env=env, stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Checked(None, time.perf_counter() - t0, f"timed out after {timeout:.0f} s")
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        return Checked(None, seconds, f"exit {proc.returncode}: {(proc.stderr.strip().splitlines() or [''])[-1]}")
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return Checked(None, seconds, "no JSON object on stdout")
    return Checked(report if isinstance(report, dict) else None, seconds, None)


def check_all(cmd: list[str], env: dict[str, str], archives: dict[str, Path], qdir: Path, names: list[str],
              jobs: int, timeout: float) -> dict[str, dict[str, Checked]]:
    """Every query against every archive: the first query alone on each (it builds what is kept beside the
    archive), then the rest ``jobs`` at a time, the archives interleaved query by query."""
    out: dict[str, dict[str, Checked]] = {label: {} for label in archives}
    for label, archive in archives.items():
        first = out[label][names[0]] = check(cmd, env, archive, qdir / names[0], timeout)
        log(f"  first check against the {label} archive: {first.seconds:.1f} s"
            + (f"; {first.error}" if first.error else ""))
    tasks = [(label, name) for name in names[1:] for label in archives]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = pool.map(lambda t: check(cmd, env, archives[t[0]], qdir / t[1], timeout), tasks)
        for done, ((label, name), result) in enumerate(zip(tasks, results, strict=True), 1):
            out[label][name] = result
            if result.error:
                log(f"  {name} against the {label} archive: {result.error}")
            if done % 20 == 0 or done == len(tasks):
                log(f"  checked {done // len(archives) + 1}/{len(names)} queries ({time.perf_counter() - t0:.0f} s)")
    return out


def restricted(report: Report | None, keep: set[str]) -> Report | None:
    """The report with only its matches to the items of ``keep`` (SHA-256s)."""
    if report is None:
        return None
    matches = [m for m in report.get("matches") or [] if isinstance(m, dict)
               and str(m.get("sha256", "")).lower() in keep]
    return {**report, "matches": matches}


def query_families(rec: Json, families: dict[str, str]) -> set[str]:
    """The families of every corpus file a query was made from (its origin, backgrounds, soundtracks, parts)."""
    params = rec.get("params") if isinstance(rec.get("params"), dict) else {}
    files = [rec.get("origin"), *(params.get(k) for k in ("background", "pictures", "soundtrack"))]
    files += [p.get("file") for p in params.get("parts") or [] if isinstance(p, dict)]
    files += [p.get("source") for p in rec.get("pairs") or [] if isinstance(p, dict)]
    return {family_of(str(f), families) for f in files if f}


def segments_text(segments: Iterable[tuple[float, float, float, float]]) -> str:
    """Segments as ``q 0.0-4.0 = a 4.8-8.8; ...``."""
    return "; ".join(f"q {qs:.1f}-{qe:.1f} = a {as_:.1f}-{ae:.1f}" for qs, qe, as_, ae in segments) or "no segments"


def listing_text(m: Json) -> str:
    """One merged match (score.py's normalise_matches) in a few words."""
    return f"score {m['score']:.2f}, {m['verdict'] or 'no verdict'}, {segments_text(m['segments'])}"


def moved(scorer: ModuleType, still: bool, before: list[tuple[float, ...]], after: list[tuple[float, ...]]) -> str:
    """Why a pair's segments count as moved, or '' when they did not."""
    if still:
        times = [min(s[2], s[3]) for s in after] + [max(s[2], s[3]) for s in after]
        near = any(abs(t - u) <= STILL_TOLERANCE_S for s in before for t in (s[2], s[3]) for u in times)
        return "" if near else "the still's archive time moved"
    q = scorer.iou([(s[0], s[1]) for s in after], [(s[0], s[1]) for s in before])
    a = scorer.iou([(s[2], s[3]) for s in after], [(s[2], s[3]) for s in before])
    return f"IoU query {q:.2f}, archive {a:.2f}" if min(q, a) < SAME_IOU else ""


@dataclass(frozen=True)
class Difference:
    """A pair whose answer differs between the two archives."""

    kind: str  # lost, gained, verdict, segments, edits, false gained, false lost
    query: str
    item: str  # the archived item's name
    before: str
    after: str


def differences(scorer: ModuleType, truth: dict[str, Json], names: list[str],
                base: dict[str, Report | None], crowd: dict[str, Report | None],
                crowd_full: dict[str, Report | None], item_names: dict[str, str]) -> list[Difference]:
    """Every pair (query, benchmark item) listed or true whose answer differs with the crowd."""
    out = []
    for name in names:
        rec = truth[name]
        true = {str(p["sha256"]).lower() for p in rec.get("pairs") or []}
        before = {m["sha256"]: m for m in scorer.normalise_matches(base.get(name))}
        after = {m["sha256"]: m for m in scorer.normalise_matches(crowd.get(name))}
        for sha in sorted(true | set(before) | set(after)):
            item, b, a = item_names.get(sha, sha[:12]), before.get(sha), after.get(sha)
            if b is None and a is None:
                continue
            if sha not in true:
                if (b is None) != (a is None):
                    out.append(Difference("false gained" if b is None else "false lost", name, item,
                                          listing_text(b) if b else "not listed",
                                          listing_text(a) if a else "not listed"))
                continue
            if a is None:
                top = sorted(scorer.normalise_matches(crowd_full.get(name)), key=lambda m: -m["score"])[:3]
                instead = ", ".join(f"{item_names.get(m['sha256'], m['sha256'][:12])} ({m['score']:.2f})" for m in top)
                why = (f"; listed instead: {instead}" if instead else
                       "; nothing listed" if crowd_full.get(name) is not None else "; the check failed")
                out.append(Difference("lost", name, item, listing_text(b), "not listed" + why))
            elif b is None:
                out.append(Difference("gained", name, item, "not listed", listing_text(a)))
            else:
                if a["verdict"] != b["verdict"]:
                    out.append(Difference("verdict", name, item, listing_text(b), listing_text(a)))
                why = moved(scorer, rec.get("kind") == "still", b["segments"], a["segments"])
                if why:
                    out.append(Difference("segments", name, item, listing_text(b), f"{listing_text(a)} ({why})"))
                if a["edits"] != b["edits"]:
                    out.append(Difference("edits", name, item, ", ".join(sorted(b["edits"])) or "none",
                                          ", ".join(sorted(a["edits"])) or "none"))
    return out


def select(names: list[str], patterns: str | None, limit: int | None) -> list[str]:
    """The queries matching any of the comma-separated ``patterns``, ``limit`` of them spread evenly."""
    if patterns:
        wanted = [p.strip() for p in patterns.split(",") if p.strip()]
        names = [n for n in names if any(fnmatch.fnmatch(n, p) for p in wanted)]
    if limit and limit < len(names):
        names = [names[i * len(names) // limit] for i in range(limit)]
    return names


def crowd_corpus_files(corpus: Path, families: dict[str, str], source_families: set[str], archived: set[str],
                       unrelated_only: bool) -> list[str]:
    """Every media file of the corpus not archived by the benchmark (with ``unrelated_only``, of no source's family)."""
    out = []
    for path in sorted(corpus.rglob("*")):
        rel = path.relative_to(corpus).as_posix()
        if not path.is_file() or path.suffix.lower() not in VIDEO_SUFFIXES | IMAGE_SUFFIXES or rel in archived:
            continue
        if not unrelated_only or family_of(rel, families) not in source_families:
            out.append(rel)
    return out


def verdict_counts(scorer: ModuleType, truth: dict[str, Json], names: list[str],
                   reports: dict[str, Report | None]) -> str:
    """How many found true pairs got each verdict."""
    counts = Counter[str]()
    for name in names:
        true = {str(p["sha256"]).lower() for p in truth[name].get("pairs") or []}
        for m in scorer.normalise_matches(reports.get(name)):
            if m["sha256"] in true:
                counts[m["verdict"] or "none"] += 1
    return ", ".join(f"{v} {n}" for v, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "none"


def main(argv: list[str] | None = None) -> int:
    """Copy the benchmark's archive, add the crowd to a second copy, check every query against both, compare."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", type=Path, default=Path("/tmp/provenance-bench"),
                    help="the benchmark's work folder (run.py's; read, never written)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/provenance-crowd"), help="this benchmark's work folder")
    ap.add_argument("--harness", type=Path, default=HARNESS, help="the benchmark's folder: score.py and the lists")
    ap.add_argument("--corpus", type=Path, help="the corpus (default: the one the benchmark's queries were made from)")
    ap.add_argument("--synthetic", type=int, default=3000, help="synthetic items in the crowd (default 3000)")
    ap.add_argument("--seed", type=int, default=15, help="seed of the synthetic items (default 15)")
    ap.add_argument("--unrelated-only", action="store_true",
                    help="leave out the sources' families' other files (natural variants, keyframe stills)")
    ap.add_argument("--queries", help="only queries matching these comma-separated glob patterns")
    ap.add_argument("--limit", type=int, help="at most this many queries, spread evenly in name order")
    ap.add_argument("--batch", type=int, default=250, help="files per `archive add` process (default 250)")
    ap.add_argument("--jobs", type=int, default=1, help="ffmpeg, archive add and check processes at once (default 1)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per check (and per file added)")
    ap.add_argument("--cmd", help='how to call the tool (default: "python -m provenance" from this checkout)')
    ap.add_argument("--fresh-base", action="store_true",
                    help="archive the benchmark's sources afresh with this checkout instead of copying its archive")
    ap.add_argument("--rebuild", action="store_true", help="make the crowd archive again from the copy")
    args = ap.parse_args(argv)
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            print(f"error: {tool} must be on PATH (Debian: apt-get install ffmpeg)", file=sys.stderr)
            return 2
    for need in ("truth.json", "truth.meta.json", "queries", *(() if args.fresh_base else ("archive",))):
        if not (args.bench / need).exists():
            print(f"error: {args.bench / need} not found: run ../shared/bench/run.py first (or pass --bench)",
                  file=sys.stderr)
            return 2
    scorer = load_scorer(args.harness)
    truth = json.loads((args.bench / "truth.json").read_text())
    meta = json.loads((args.bench / "truth.meta.json").read_text())
    corpus = args.corpus or Path(meta.get("corpus") or ROOT.parent / "shared" / "corpus")
    qdir = args.bench / "queries"
    names = select(sorted(n for n in truth if (qdir / n).exists()), args.queries, args.limit)
    if not names:
        print("error: no query matches --queries", file=sys.stderr)
        return 2
    cmd = shlex.split(args.cmd) if args.cmd else [sys.executable, "-m", "provenance"]
    if not cmd or shutil.which(cmd[0]) is None:
        print(f"error: command not found: {args.cmd!r}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    if not args.cmd:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    jobs = max(1, args.jobs)
    args.work.mkdir(parents=True, exist_ok=True)

    families = inventory_families(corpus)
    archived = {str(a["source"]) for a in meta.get("archive", [])}
    base_shas = {str(a["sha256"]).lower() for a in meta.get("archive", [])}
    source_families = {family_of(s, families) for s in archived | set(read_list(args.harness / "sources.txt"))}

    base = args.work / "base" / "archive"
    if args.fresh_base:
        remove_archive(base)
        base.parent.mkdir(parents=True, exist_ok=True)
        log(f"archiving the benchmark's {len(archived)} sources afresh into {base}")
        fresh = add_files(cmd, env, base, [str(corpus / s) for s in sorted(archived)], 8, 1, args.timeout)
        if fresh.failed:
            print(f"error: archiving the sources failed: {fresh.failed[0][0]}: {fresh.failed[0][1]}", file=sys.stderr)
            return 2
    else:
        copy_archive(args.bench / "archive", base)
    base_facts = archive_facts(base)
    if set(base_facts.items) != base_shas:
        print(f"error: {args.bench / 'archive'} does not hold the {len(base_shas)} items truth.meta.json lists "
              f"(it holds {len(base_facts.items)}): is run.py rebuilding it? Try again later, or pass --fresh-base",
              file=sys.stderr)
        return 2

    log(f"finding the crowd: corpus {corpus}, source families {len(source_families)}")
    corpus_files = crowd_corpus_files(corpus, families, source_families, archived, args.unrelated_only)
    pool_files = [f for f in corpus_files if family_of(f, families) not in source_families]
    clips = pool_clips(corpus, [f for f in pool_files if Path(f).suffix.lower() in VIDEO_SUFFIXES],
                       args.work / "pool.json")
    photos = [f for f in pool_files if Path(f).suffix.lower() in PHOTO_SUFFIXES]
    if not clips:
        print("error: no corpus clip outside the sources' families decodes: nothing to cut the crowd from",
              file=sys.stderr)
        return 2
    synthetic, made_now, make_seconds = synthetic_items(
        corpus, args.work / f"synthetic-s{args.seed}-r{RECIPE_VERSION}", args.synthetic, args.seed, clips, photos,
        families, jobs)
    crowd_files = [CrowdFile(str(corpus / f), f, family_of(f, families), "corpus") for f in corpus_files]
    crowd_files += synthetic
    by_sha: dict[str, CrowdFile] = {}
    for f in crowd_files:
        by_sha.setdefault(sha256_of(Path(f.path)), f)
    for sha in base_shas:
        by_sha.pop(sha, None)

    crowd_dir = args.work / (f"crowd-n{args.synthetic}-s{args.seed}-r{RECIPE_VERSION}"
                             f"{'-unrelated' if args.unrelated_only else ''}")
    crowd = crowd_dir / "archive"
    state_file = crowd_dir / "state.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    if args.rebuild or state.get("base") != base_facts.identity() or not crowd.exists():
        log(f"copying the base archive to {crowd}")
        copy_archive(base, crowd)
        state = {"base": base_facts.identity(), "add_seconds": 0.0, "added": 0, "failed": []}
    held = set(archive_facts(crowd).items)
    missing = [f.path for sha, f in by_sha.items() if sha not in held and f.path not in state["failed"]]
    added = Added(0, 0, [], 0.0)
    if missing:
        log(f"adding {len(missing)} files to the crowd archive, {args.batch} a process")
        added = add_files(cmd, env, crowd, missing, max(1, args.batch), jobs, args.timeout)
        state["add_seconds"] += added.seconds
        state["added"] += added.added
        state["failed"] = sorted(set(state["failed"]) | {path for path, _ in added.failed if path in missing})
        state_file.write_text(json.dumps(state, indent=1))
    crowd_facts = archive_facts(crowd)

    log(f"checking {len(names)} queries against both archives, {jobs} at a time")
    labels = {"benchmark": base, "+ crowd": crowd}
    checked = check_all(cmd, env, labels, qdir, names, jobs, args.timeout)
    reports = {label: {n: c.report for n, c in runs.items()} for label, runs in checked.items()}
    scored_reports = {"benchmark": reports["benchmark"],
                      "+ crowd": {n: restricted(r, base_shas) for n, r in reports["+ crowd"].items()}}
    sub_truth = {n: truth[n] for n in names}
    scores = {label: scorer.score(sub_truth, rs) for label, rs in scored_reports.items()}
    item_names = {**crowd_facts.items}
    diffs = differences(scorer, truth, names, scored_reports["benchmark"], scored_reports["+ crowd"],
                        reports["+ crowd"], item_names)

    crowd_listings, unexplained = [], []
    for name in names:
        own = query_families(truth[name], families)
        for m in scorer.normalise_matches(reports["+ crowd"].get(name)):
            f = by_sha.get(m["sha256"])
            if m["sha256"] in base_shas or f is None:
                continue
            row = {"query": name, "item": Path(f.path).name, "origin": f.origin, "family": f.family,
                   "score": m["score"], "verdict": m["verdict"], "segments": m["segments"]}
            crowd_listings.append(row)
            if f.family not in own:
                unexplained.append(row)

    kinds = Counter(f.kind for f in by_sha.values())
    relatives = sum(1 for f in by_sha.values() if f.family in source_families)
    groups = Counter(scorer.group_of(truth[n]) for n in names)
    print(f"crowd benchmark: {len(names)} of the {len(truth)} queries of {args.bench} "
          f"(seed {meta.get('seed')}, {'quick' if meta.get('quick') else 'full'}"
          f"{'+extra' if meta.get('extra') else ''}); tool: {' '.join(cmd)} ({ROOT}); cores {os.cpu_count()}, "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if len(names) < len(truth):
        print("  queries: " + ", ".join(f"{g} {n}" for g, n in sorted(groups.items())))
    print(f"crowd: {kinds['corpus']} corpus files ({len({f.family for f in by_sha.values() if f.kind == 'corpus'})} "
          f"families; of a source's family: {relatives}) + "
          f"{kinds['piece']} pieces of 2-6 s + {kinds['still']} stills cut from {len(clips)} clips and "
          f"{len(photos)} photos (seed {args.seed}): {len(crowd_facts.items) - len(base_facts.items)} items added "
          f"to the benchmark's {len(base_facts.items)}; files refused by archive add: {len(state['failed'])}")
    print(f"  synthetic items made now: {made_now} in {make_seconds:.0f} s"
          + (f" ({make_seconds / made_now:.2f} s each, {jobs} at once)" if made_now else "")
          + f"; added now: {added.added} in {added.seconds:.0f} s"
          + (f" ({added.seconds / max(1, added.added + len(added.failed)):.2f} s a file, {args.batch} a process, "
             f"{jobs} at once)" if missing else "")
          + f"; all {state['added']} took {state['add_seconds']:.0f} s to add")
    for path, why in added.failed[:5]:
        print(f"  refused: {path}: {why}")
    print(f"\n{'archive':<10}{'items':>7}{'frames':>8}{'video-s':>8}   {'recall':<15}{'precision':<15}{'verdict':<15}"
          f"{'loc':>6}{'edits':>7}{'errors':>7}  s/check (first)")
    for label in labels:
        s = scores[label]["summary"]
        runs = checked[label]
        facts = base_facts if label == "benchmark" else crowd_facts
        true_listed = s["listed_pairs"] - s["false_on_negative_queries"] - s["false_wrong_source"]
        later = [c.seconds for n, c in runs.items() if n != names[0]]
        figures = [f"{s['recall']:.3f} {s['found_pairs']}/{s['true_pairs']}",
                   f"{s['precision']:.3f} {true_listed}/{s['listed_pairs']}",
                   f"{s['verdict']:.3f} {s['verdict_acceptable']}/{s['verdict_pairs']}" if s["verdict_pairs"] else "-"]
        print(f"{label:<10}{len(facts.items):>7}{facts.frames:>8}{facts.seconds:>8.0f}   "
              + "".join(f"{x:<15}" for x in figures)
              + (f"{s['loc']:6.3f}" if s["loc_pairs"] else f"{'-':>6}")
              + (f"{s['edits']:7.3f}" if s["edit_pairs"] else f"{'-':>7}")
              + f"{sum(1 for c in runs.values() if c.error):>7}"
              f"  {f'{statistics.median(later):.2f}' if later else '-'} ({runs[names[0]].seconds:.1f})")
    print(f"  (with the crowd, only matches to the benchmark's {len(base_shas)} items are scored; s/check is the "
          "median, the first check apart: it builds what is kept beside the archive)")
    for label in labels:
        print(f"  verdicts of found pairs, {label}: {verdict_counts(scorer, truth, names, scored_reports[label])}")
    print(f"\nmatches to crowd items: {len(crowd_listings)} on {len({r['query'] for r in crowd_listings})} queries; "
          f"{len(crowd_listings) - len(unexplained)} of footage the query was made from (same family), "
          f"{len(unexplained)} unexplained" + (":" if unexplained else ""))
    for row in unexplained[:25]:
        print(f"  {row['query']} -> {row['item']} (from {row['origin']}): score {row['score']:.2f}, "
              f"{row['verdict'] or 'no verdict'}, {segments_text(row['segments'])}")
    if len(unexplained) > 25:
        print(f"  ... and {len(unexplained) - 25} more (results.json)")
    print(f"\npairs that differ (benchmark archive -> with the crowd): {len(diffs)}")
    for d in diffs:
        print(f"  {d.kind:<12} {d.query} / {d.item}")
        print(f"{'':15}before: {d.before}\n{'':15}after:  {d.after}")
    count = Counter(d.kind for d in diffs)
    recall_moves = count["lost"] + count["gained"]
    false_moves = count["false gained"] + count["false lost"]
    print(f"\nequal to within one pair: recall {'yes' if recall_moves <= 1 else 'NO'} ({count['lost']} lost, "
          f"{count['gained']} gained), precision {'yes' if false_moves <= 1 else 'NO'} "
          f"({count['false gained']} false listings gained, {count['false lost']} lost), verdicts "
          f"{'yes' if count['verdict'] <= 1 else 'NO'} ({count['verdict']} changed); segments moved: "
          f"{count['segments']}, edit names changed: {count['edits']}")
    results = {
        "queries": names, "bench": str(args.bench), "work": str(args.work), "command": cmd, "seed": args.seed,
        "synthetic": args.synthetic, "unrelated_only": args.unrelated_only,
        "archives": {label: {"path": str(path), "items": len(f.items), "frames": f.frames, "video_seconds": f.seconds,
                             "summary": scores[label]["summary"], "table": scores[label]["table"]}
                     for (label, path), f in zip(labels.items(), (base_facts, crowd_facts), strict=True)},
        "crowd_files": {sha: asdict(f) for sha, f in by_sha.items()}, "crowd_listings": crowd_listings,
        "unexplained_crowd_listings": unexplained, "differences": [asdict(d) for d in diffs],
        "refused": state["failed"], "make_seconds": make_seconds, "made": made_now,
        "add_seconds_total": state["add_seconds"],
        "check_seconds": {label: {n: c.seconds for n, c in runs.items()} for label, runs in checked.items()},
        "check_errors": {label: {n: c.error for n, c in runs.items() if c.error} for label, runs in checked.items()},
        "reports": reports,
    }
    (args.work / "results.json").write_text(json.dumps(results, indent=1, sort_keys=True, default=list))
    print(f"results: {args.work / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
