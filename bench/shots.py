#!/usr/bin/env python3
"""Shot detection on clips with known cuts: ours against PySceneDetect's, in the same run.

    python bench/shots.py                        # every clip, both splits
    python bench/shots.py --split unseen         # only the clips never used to design the detector
    python bench/shots.py --work /tmp/shots --per-clip

The set is built once with ffmpeg in ``--work`` (default /tmp/provenance-shots) from
``../shared/corpus`` (nothing is copied into the project; without the corpus the benchmark says so
and stops). Every clip is re-encoded the same way: 640x360, 25 fps, H.264 (x264 ``veryfast``, CRF 20),
no audio; a source of another shape is fitted inside and padded, with black bars or, in some
compilations, with a blurred, enlarged copy of itself (what social media does to a clip).

* **Compilations**: 4 to 6 pieces of different shots (each piece lies inside a stretch of a corpus
  clip that has no cut of its own: a single-camera clip, or one shot of a film, checked by eye),
  joined by hard cuts or by 1 s dissolves (ffmpeg ``xfade``). A hard cut's true time is the first
  frame of the new piece; a dissolve's is its middle, so a detection anywhere in the dissolve counts.
* **Continuous clips**: single-camera footage with motion and no cut (a traffic camera, a campus
  and an office surveillance camera, handheld pans, a brightness-flickering CCTV camera), and
  pans and zooms over corpus stills.

The clips are split in three by their corpus source: ``design`` (the clips looked at while the
detector was designed), ``holdout`` (kept out of the design, then looked at once, after which the
detector learnt that a cut changes most of the picture and that no shot is shorter than a second at
the clip's ends), and ``unseen`` (films, a low-detail sky, a test pattern: added after that, and
looked at once, after which a dissolve is placed at its middle rather than at its biggest step).
None of the three has since been used to change the detector; a new split is the way to check it
again on clips it has never met. Pieces, lengths, joins and padding
are drawn with a fixed seed, so the set is the same on every machine.

Detectors, each over every clip:

* ``ours @2 fps``: ``provenance.fingerprinting.fingerprint`` with ``SamplingParams()`` (2 samples a
  second, what ``check`` uses), the cuts being the start times of every shot after the first;
* ``ours @8 fps``: the same at the archive's 8 samples a second (``archive add``; ``triage`` takes the
  query's shots from that decode too);
* PySceneDetect's ``ContentDetector`` and ``AdaptiveDetector`` with default settings
  (``scenedetect.detect``), a dev dependency (the ``test`` extra); without it those rows are
  skipped with a message.

Scoring: a detected cut matches a true one within 0.5 s, one to one (nearest first). Precision counts
every detected cut on every clip (a cut on a continuous clip is a false one), recall every true
cut; recall is also given for hard cuts and dissolves apart, and the false cuts per minute of the
continuous clips. Time is the wall time over the whole set: for ours that is the whole fingerprint
(decode, borders, pHash and PDQ), of which the shot detector is a small part. Figures are printed,
not asserted; the machine may be shared, so times move by 10-20 %.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
WIDTH, HEIGHT, RATE = 640, 360, 25
TOLERANCE = 0.5  # seconds between a detected cut and a true one
DISSOLVE = 1.0  # seconds of each xfade dissolve
SEED = 15
COMPILATIONS = 14  # per split
SPLITS = ("design", "holdout", "unseen")
RECIPE_VERSION = 1  # bump when the way clips are made changes: their names change with it


@dataclass(frozen=True)
class Stretch:
    """A stretch of a corpus clip with no cut in it, from ``start`` to ``end`` seconds."""

    path: str  # under the corpus
    start: float
    end: float


# Cut-free stretches per split. Films are cut at the shot changes seen on contact sheets at 2 fps,
# a margin of at least 0.4 s kept on either side.
STRETCHES: dict[str, tuple[Stretch, ...]] = {
    "design": (
        Stretch("traffic-camera/traffic_camera.mp4", 0.0, 23.0),
        Stretch("seattle-pan/test.avi", 0.0, 16.5),
        Stretch("pancake-kitchen/flipping_a_pancake.mkv", 0.0, 10.3),
        Stretch("threatexchange-vpdq/chair-orig-22-sd-bar.mp4", 0.0, 22.4),
        Stretch("big-buck-bunny/big_buck_bunny_0_30.webm", 6.3, 11.3),
        Stretch("big-buck-bunny/big_buck_bunny_0_30.webm", 12.3, 15.2),
        Stretch("big-buck-bunny/big_buck_bunny_0_30.webm", 16.2, 22.4),
        Stretch("big-buck-bunny/big_buck_bunny_0_30.webm", 23.5, 29.5),
        Stretch("intel-bottles/bottle-detection.mp4", 0.0, 39.8),
        Stretch("vlog-makeup/tests_data_test.avi", 0.0, 6.5),
        Stretch("bed-dog-rotation/internal_emulator_transformer_output.mp4", 0.0, 4.9),
        Stretch("cockatoo/cockatoo_yuv420.mp4", 0.0, 7.4),
        Stretch("cockatoo/cockatoo_yuv420.mp4", 8.3, 14.0),
    ),
    "holdout": (
        Stretch("campus-surveillance/vtest.avi", 0.0, 79.4),
        Stretch("intel-office/one-by-one-person-detection.mp4", 0.0, 139.0),
        Stretch("window-tree/tree.avi", 0.0, 29.5),
        Stretch("threatexchange-vpdq/pattern-longer-no-bar.mp4", 0.0, 7.8),
        Stretch("threatexchange-vpdq/doorknob-hd-no-bar.mp4", 0.0, 4.0),
        Stretch("chaplin/chaplin.mp4", 0.0, 9.6),
        Stretch("sintel/doc_medias_example3_sintel.mp4", 0.0, 2.0),
        Stretch("big-buck-bunny/bigbuckbunny.mp4", 0.0, 5.2),
        Stretch("webcam-wave/test.webm", 0.0, 3.1),
        Stretch("zoo-bear/bear-vp9.webm", 0.0, 2.7),
        Stretch("intel-asl/book.mkv", 0.0, 3.6),
        Stretch("intel-asl/again.mkv", 0.0, 2.6),
        Stretch("smartwatch/trim_optimization_failure.mp4", 0.0, 5.5),
        Stretch("workshop-documentary/issue-195-aspect-ratio.mp4", 0.3, 2.4),
        Stretch("workshop-documentary/issue-195-aspect-ratio.mp4", 3.3, 6.3),
        Stretch("workshop-documentary/issue-195-aspect-ratio.mp4", 7.3, 11.6),
        Stretch("workshop-documentary/issue-195-aspect-ratio.mp4", 12.5, 16.4),
        Stretch("workshop-documentary/issue-195-aspect-ratio.mp4", 19.8, 25.0),
        Stretch("street-bikes/bikes.mp4", 1.6, 2.6),
        Stretch("street-bikes/bikes.mp4", 3.5, 5.0),
        Stretch("street-bikes/bikes.mp4", 5.9, 7.0),
        Stretch("street-bikes/bikes.mp4", 7.9, 9.2),
        Stretch("pigs-cartoon/pigs_in_a_polka.gif", 0.0, 3.0),
        Stretch("pool-cleaning/tests_data_test.mp4", 0.0, 10.0),
    ),
    "unseen": (
        Stretch("goldeneye/goldeneye-vfr-drop3.mp4", 0.3, 3.3),
        Stretch("goldeneye/goldeneye-vfr-drop3.mp4", 4.2, 8.3),
        Stretch("nature-testvideo/testvideo.mp4", 1.6, 5.4),
        Stretch("nature-testvideo/testvideo.mp4", 7.3, 11.0),
        Stretch("nature-testvideo/testvideo.mp4", 13.8, 17.8),
        Stretch("nature-testvideo/testvideo.mp4", 18.9, 22.0),
        Stretch("plane-field/video_with_failing_audio.mp4", 0.0, 3.0),
        Stretch("plane-field/video_with_failing_audio.mp4", 4.0, 6.5),
        Stretch("c2pa-waterfall/video1.mp4", 0.0, 2.0),
        Stretch("intel-asl/thanks.mkv", 0.0, 1.7),
        Stretch("threatexchange-vpdq/test-padded-dimensions.mp4", 0.0, 5.0),
    ),
}

# Whole single-camera clips (or cut-free stretches of them) kept as they are: no cut anywhere.
CONTINUOUS: dict[str, tuple[Stretch, ...]] = {
    "design": (
        Stretch("traffic-camera/traffic_camera.mp4", 0.0, 23.0),
        Stretch("seattle-pan/test.avi", 0.0, 16.5),
        Stretch("intel-bottles/bottle-detection.mp4", 0.0, 39.8),
        Stretch("pancake-kitchen/flipping_a_pancake.mkv", 0.0, 10.3),
        Stretch("threatexchange-vpdq/chair-orig-22-sd-bar.mp4", 0.0, 22.4),
        Stretch("cctv-street/issue53_brightness_change.avi", 0.0, 4.9),
        Stretch("vlog-makeup/tests_data_test.avi", 0.0, 6.5),
        Stretch("cockatoo/cockatoo_yuv420.mp4", 0.0, 7.4),
    ),
    "holdout": (
        Stretch("campus-surveillance/vtest.avi", 0.0, 79.4),
        Stretch("intel-office/one-by-one-person-detection.mp4", 0.0, 139.0),
        Stretch("window-tree/tree.avi", 0.0, 29.5),
        Stretch("threatexchange-vpdq/pattern-longer-no-bar.mp4", 0.0, 7.8),
        Stretch("threatexchange-vpdq/doorknob-hd-no-bar.mp4", 0.0, 4.0),
        Stretch("pool-cleaning/tests_data_test.mp4", 0.0, 10.0),
        Stretch("chaplin/chaplin.mp4", 0.0, 9.6),
    ),
    "unseen": (
        Stretch("threatexchange-vpdq/test-padded-dimensions.mp4", 0.0, 5.0),
        Stretch("plane-field/video_with_failing_audio.mp4", 0.0, 3.0),
        Stretch("goldeneye/goldeneye-vfr-drop3.mp4", 4.2, 8.3),
        Stretch("nature-testvideo/testvideo.mp4", 13.8, 17.8),
        Stretch("traffic-camera/traffic_camera_vfr.mp4", 0.0, 34.4),
    ),
}

# Camera moves over corpus stills: (still, "pan" or "zoom", seconds).
STILL_MOVES: dict[str, tuple[tuple[str, str, float], ...]] = {
    "design": (("androidx-stills/tokyo.jpg", "pan", 15.0), ("androidx-stills/tokyo.jpg", "zoom", 10.0)),
    "holdout": (("threatexchange-pdq/bridge-mods/aaa-orig.jpg", "pan", 15.0),
                ("threatexchange-pdq/bridge-mods/aaa-orig.jpg", "zoom", 10.0)),
    "unseen": (("threatexchange-pdq/reg-test-input/pen-and-coaster.png", "pan", 15.0),
               ("exif-samples/jpg/gps/DSCN0010.jpg", "zoom", 10.0)),
}


@dataclass(frozen=True)
class Cut:
    """A true cut: its time in the clip and how it was made (``hard`` or ``dissolve``)."""

    time: float
    kind: str


@dataclass(frozen=True)
class Clip:
    """One benchmark clip: where it is, which split, and its true cuts (none for a continuous clip)."""

    name: str
    path: str
    split: str
    continuous: bool
    duration: float
    cuts: tuple[Cut, ...]
    recipe: str  # what it was made of, for the per-clip listing


def log(message: str) -> None:
    """A progress line on stderr."""
    print(message, file=sys.stderr, flush=True)


def fit(pad: str) -> str:
    """The filter that brings any picture to WIDTH x HEIGHT, padded with black or a blurred copy."""
    common = "setsar=1,format=yuv420p,settb=AVTB"
    if pad == "blur":
        return (f"split[fg][bg];[bg]scale={WIDTH}:{HEIGHT}:force_original_aspect_ratio=increase,"
                f"crop={WIDTH}:{HEIGHT},boxblur=20:2[bgb];"
                f"[fg]scale={WIDTH}:{HEIGHT}:force_original_aspect_ratio=decrease[fgs];"
                f"[bgb][fgs]overlay=(W-w)/2:(H-h)/2,{common}")
    return (f"scale={WIDTH}:{HEIGHT}:force_original_aspect_ratio=decrease,"
            f"pad={WIDTH}:{HEIGHT}:(ow-iw)/2:(oh-ih)/2:black,{common}")


def frames_between(start: float, length: float) -> str:
    """The filter that keeps ``length`` seconds from ``start`` at RATE, in whole frames, timed from 0."""
    first = round(start * RATE)
    return (f"setpts=PTS-STARTPTS,fps={RATE},trim=start_frame={first}:end_frame={first + round(length * RATE)},"
            "setpts=PTS-STARTPTS")


def encode(args: list[str], graph: str, out: Path) -> None:
    """Run ffmpeg with ``args`` inputs and filter ``graph`` (ending in [out]) into ``out`` (atomically)."""
    tmp = out.with_suffix(".part.mp4")
    proc = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args,
                           "-filter_complex", graph, "-map", "[out]", "-c:v", "libx264", "-preset", "veryfast",
                           "-crf", "20", "-pix_fmt", "yuv420p", "-an", str(tmp)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"ffmpeg failed making {out.name}: {proc.stderr.strip()[-400:]}")
    tmp.rename(out)


def tag_of(recipe: object) -> str:
    """A short name for a recipe, so a clip is made once and remade when its recipe changes."""
    return hashlib.sha256(json.dumps([RECIPE_VERSION, recipe], sort_keys=True).encode()).hexdigest()[:10]


def make_compilation(work: Path, split: str, number: int, rng: random.Random) -> Clip:
    """Pieces of different cut-free stretches joined by hard cuts and dissolves at known times."""
    pool = list(STRETCHES[split])
    count = rng.randint(4, 6)
    pad = "blur" if rng.random() < 0.3 else "black"
    pieces: list[tuple[Stretch, float, float]] = []
    previous: Stretch | None = None
    for _ in range(count):
        stretch = rng.choice([s for s in pool if s != previous and s.end - s.start >= 1.5])
        length = round(min(stretch.end - stretch.start, rng.uniform(1.5, 4.5)) * RATE) / RATE
        start = round((stretch.start + rng.uniform(0.0, stretch.end - stretch.start - length)) * RATE) / RATE
        pieces.append((stretch, start, length))  # whole frames at RATE, so the cut times are exact
        previous = stretch
    joins = ["dissolve" if rng.random() < 0.25 and min(pieces[i][2], pieces[i + 1][2]) >= 1.5 + DISSOLVE / 2
             else "hard" for i in range(count - 1)]
    recipe = {"pad": pad, "pieces": [(s.path, a, n) for s, a, n in pieces], "joins": joins}
    out = work / f"{split}_compilation{number:02d}_{tag_of(recipe)}.mp4"
    cuts: list[Cut] = []
    total = pieces[0][2]
    for (_, _, length), join in zip(pieces[1:], joins, strict=True):
        if join == "hard":
            cuts.append(Cut(round(total, 3), "hard"))
            total += length
        else:
            cuts.append(Cut(round(total - DISSOLVE / 2, 3), "dissolve"))
            total += length - DISSOLVE
    if not out.exists():
        args: list[str] = []
        graph = []
        for i, (stretch, start, length) in enumerate(pieces):
            args += ["-i", str(CORPUS / stretch.path)]
            # trim after decoding from the start: seeking some corpus files decodes garbage
            graph.append(f"[{i}:v:0]{frames_between(start, length)},{fit(pad)}[p{i}]")
        running, offset = "p0", pieces[0][2]
        for i, join in enumerate(joins, start=1):
            if join == "hard":
                graph.append(f"[{running}][p{i}]concat=n=2:v=1:a=0,settb=AVTB[j{i}]")
                offset += pieces[i][2]
            else:
                graph.append(f"[{running}][p{i}]xfade=transition=fade:duration={DISSOLVE}:"
                             f"offset={offset - DISSOLVE:.3f}[j{i}]")
                offset += pieces[i][2] - DISSOLVE
            running = f"j{i}"
        graph.append(f"[{running}]null[out]")
        log(f"making {out.name}")
        encode(args, ";".join(graph), out)
    return Clip(out.stem, str(out), split, False, round(total, 3), tuple(cuts),
                " | ".join(f"{Path(s.path).name}@{a:g}+{n:g}" for s, a, n in pieces) + f"  joins {joins}, pad {pad}")


def make_continuous(work: Path, split: str, stretch: Stretch) -> Clip:
    """A cut-free stretch of one corpus clip, re-encoded like the compilations."""
    recipe = {"continuous": (stretch.path, stretch.start, stretch.end)}
    out = work / f"{split}_continuous_{Path(stretch.path).stem}_{tag_of(recipe)}.mp4"
    length = round(stretch.end - stretch.start, 3)
    if not out.exists():
        log(f"making {out.name}")
        encode(["-i", str(CORPUS / stretch.path)],
               f"[0:v:0]{frames_between(stretch.start, length)},{fit('black')}[out]", out)
    return Clip(out.stem, str(out), split, True, length, (), f"{stretch.path} {stretch.start:g}-{stretch.end:g} s")


def make_move(work: Path, split: str, still: str, move: str, seconds: float) -> Clip:
    """A slow pan across, or a zoom into, a corpus still: camera motion and no cut."""
    recipe = {"move": (still, move, seconds)}
    out = work / f"{split}_{move}_{Path(still).stem}_{tag_of(recipe)}.mp4"
    if not out.exists():
        frames = int(seconds * RATE)
        if move == "pan":  # the window slides across the picture enlarged to cover twice the frame's size
            graph = (f"[0:v]scale={2 * WIDTH}:{2 * HEIGHT}:force_original_aspect_ratio=increase,crop={WIDTH}:{HEIGHT}:"
                     f"x='(iw-{WIDTH})*t/{seconds}':y='(ih-{HEIGHT})*t/{seconds}',fps={RATE},{fit('black')}[out]")
        else:  # zoom to 1.8x into the centre
            graph = (f"[0:v]scale={4 * WIDTH}:-2,zoompan=z='1+0.8*on/{frames}':d={frames}:"
                     f"x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':s={WIDTH}x{HEIGHT}:fps={RATE},{fit('black')}[out]")
        log(f"making {out.name}")
        # zoompan makes its frames from one picture; the pan crops a picture looped for the duration
        looped = ["-loop", "1", "-framerate", str(RATE), "-t", f"{seconds}"] if move == "pan" else []
        encode([*looped, "-i", str(CORPUS / still)], graph, out)
    return Clip(out.stem, str(out), split, True, seconds, (), f"{move} over {still}")


def build_set(work: Path) -> list[Clip]:
    """Make (once) every clip of both splits; the same clips on every run (fixed seed)."""
    work.mkdir(parents=True, exist_ok=True)
    clips: list[Clip] = []
    for split in SPLITS:
        rng = random.Random(f"{SEED}-{split}")
        clips += [make_compilation(work, split, n, rng) for n in range(COMPILATIONS)]
        clips += [make_continuous(work, split, s) for s in CONTINUOUS[split]]
        clips += [make_move(work, split, *m) for m in STILL_MOVES[split]]
    (work / "truth.json").write_text(json.dumps([asdict(c) for c in clips], indent=1))
    return clips


def ours(fps: float) -> Callable[[str], list[float]]:
    """Our detector through the library: the start of every shot after the first of a fingerprint at ``fps``."""
    sys.path.insert(0, str(ROOT))
    from provenance.fingerprinting import fingerprint
    from provenance.model import SamplingParams

    def detect(path: str) -> list[float]:
        return [shot.start for shot in fingerprint(path, SamplingParams(fps=fps)).shots[1:]]

    return detect


def pyscenedetect(name: str) -> Callable[[str], list[float]] | None:
    """PySceneDetect's detector ``name`` with default settings, or None when scenedetect is not installed."""
    try:
        import scenedetect
    except ImportError:
        return None
    make = getattr(scenedetect, name)

    def detect(path: str) -> list[float]:
        scenes = scenedetect.detect(path, make())
        return [float(start.seconds) for start, _ in scenes[1:]]

    return detect


def match(found: list[float], truth: tuple[Cut, ...]) -> tuple[int, list[Cut]]:
    """How many detections match a true cut within TOLERANCE, one to one (nearest pairs first), and the
    true cuts so matched."""
    pairs = sorted((abs(f - c.time), i, j) for i, f in enumerate(found) for j, c in enumerate(truth)
                   if abs(f - c.time) <= TOLERANCE + 1e-6)
    used_f: set[int] = set()
    used_c: set[int] = set()
    for _, i, j in pairs:
        if i not in used_f and j not in used_c:
            used_f.add(i)
            used_c.add(j)
    return len(used_c), [truth[j] for j in sorted(used_c)]


@dataclass(frozen=True)
class Score:
    """One detector's figures over a set of clips."""

    precision: float
    recall: float
    f1: float
    hard_recall: float
    dissolve_recall: float
    false_per_minute: float  # detections per minute of the continuous clips
    seconds: float


def score(clips: list[Clip], found: dict[str, list[float]], seconds: float) -> Score:
    """Precision, recall and F1 at TOLERANCE over ``clips``, and the false cuts per minute of the continuous ones."""
    detected = hits = 0
    kinds = {"hard": [0, 0], "dissolve": [0, 0]}  # matched, total
    continuous_false, continuous_minutes = 0, 0.0
    for clip in clips:
        cuts = found[clip.name]
        matched, which = match(cuts, clip.cuts)
        detected += len(cuts)
        hits += matched
        for cut in clip.cuts:
            kinds[cut.kind][1] += 1
        for cut in which:
            kinds[cut.kind][0] += 1
        if clip.continuous:
            continuous_false += len(cuts)
            continuous_minutes += clip.duration / 60
    true_total = sum(t for _, t in kinds.values())
    precision = hits / detected if detected else 1.0
    recall = hits / true_total if true_total else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    def share(kind: str) -> float:
        return kinds[kind][0] / kinds[kind][1] if kinds[kind][1] else float("nan")

    return Score(precision, recall, f1, share("hard"), share("dissolve"),
                 continuous_false / continuous_minutes if continuous_minutes else 0.0, seconds)


def describe(clips: list[Clip]) -> str:
    """One line on what a set of clips holds."""
    compiled = [c for c in clips if not c.continuous]
    cont = [c for c in clips if c.continuous]
    hard = sum(1 for c in compiled for cut in c.cuts if cut.kind == "hard")
    dissolves = sum(1 for c in compiled for cut in c.cuts if cut.kind == "dissolve")
    return (f"{len(compiled)} compilations ({hard} hard cuts, {dissolves} dissolves, "
            f"{sum(c.duration for c in compiled) / 60:.1f} min), {len(cont)} continuous clips "
            f"({sum(c.duration for c in cont) / 60:.1f} min)")


def main() -> None:
    """Build the set, run every detector over it, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/provenance-shots"), help="where the clips are made")
    parser.add_argument("--split", choices=(*SPLITS, "all"), default="all")
    parser.add_argument("--per-clip", action="store_true", help="also list each clip's true and detected cuts")
    opts = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"no corpus at {CORPUS}: the shot benchmark is built from it; nothing measured")
        return
    clips = [c for c in build_set(opts.work) if opts.split in ("all", c.split)]
    detectors: dict[str, Callable[[str], list[float]]] = {"ours @2 fps (check)": ours(2.0),
                                                          "ours @8 fps (archive)": ours(8.0)}
    missing = False
    for name in ("ContentDetector", "AdaptiveDetector"):
        found = pyscenedetect(name)
        if found is None:
            missing = True
        else:
            detectors[f"PySceneDetect {name}"] = found
    if missing:
        print("scenedetect is not installed, so PySceneDetect's rows are left out: install the test extra "
              "(pip install -e '.[test]') or pip install scenedetect-headless")
    results: dict[str, tuple[dict[str, list[float]], float]] = {}
    for name, detect in detectors.items():
        log(f"running {name} over {len(clips)} clips")
        found, t0 = {}, time.perf_counter()
        for clip in clips:
            found[clip.name] = detect(clip.path)
        results[name] = (found, time.perf_counter() - t0)
    for split in ([*SPLITS, "all"] if opts.split == "all" else [opts.split]):
        subset = [c for c in clips if split in ("all", c.split)]
        print(f"\n{split}: {describe(subset)}; cuts matched within {TOLERANCE} s")
        print(f"  {'detector':<32} {'precision':>9} {'recall':>7} {'F1':>6} {'hard R':>7} {'dissolve R':>10} "
              f"{'false/min':>9} {'time s':>7}")
        for name, (found, seconds) in results.items():
            share = sum(c.duration for c in subset) / sum(c.duration for c in clips)
            s = score(subset, found, seconds * share)
            print(f"  {name:<32} {s.precision:9.3f} {s.recall:7.3f} {s.f1:6.3f} {s.hard_recall:7.3f} "
                  f"{s.dissolve_recall:10.3f} {s.false_per_minute:9.2f} {s.seconds:7.1f}")
    print("\n(time of a split: the detector's time over the set, shared out by clip duration)")
    if opts.per_clip:
        for clip in clips:
            print(f"\n{clip.name} ({clip.duration:.1f} s): {clip.recipe}")
            print(f"  truth: {[(c.time, c.kind[0]) for c in clip.cuts]}")
            for name, (found, _) in results.items():
                print(f"  {name:<32} {[round(t, 2) for t in found[clip.name]]}")


if __name__ == "__main__":
    main()
