"""The frames worked on as they are decoded equal the whole-array computations, value for value.

``analyse`` never holds all working frames: border runs are found with ``RunSplitter``, each run's box
with ``chunked_content_box`` from chunks read back, and frames wait in a spool that goes to an
unlinked temporary file past ``SPOOL_MEMORY`` bytes. Each is checked here against the whole-array
function it replaces (``border_runs``, ``detect_content_box``, and the old pipeline of ``analyse``)
on clips longer than a window, with cuts and with borders that change between shots. That the memory
stays flat with the duration is measured by ``bench/memory.py``, not asserted here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import run_ffmpeg

import provenance.fingerprinting as fingerprinting
from provenance.fingerprinting import PDQ, PHASH, analyse, content_frames, main_box
from provenance.frames.borders import Frames, RunSplitter, border_runs, chunked_content_box, detect_content_box
from provenance.frames.decode import decode_frames
from provenance.frames.shots import build_shots, find_cuts, shot_ranges
from provenance.model import FULL_BOX, SamplingParams

WORK = 128  # SamplingParams().work_size


@pytest.fixture(scope="module")
def bordered_compilation(media_dir: Path) -> Path:
    """12 s in four hard-cut parts, each framed its own way: full frame, letterboxed, pillarboxed, and
    centred over a blurred copy of itself (what social media does to a clip)."""
    out = media_dir / "bordered_compilation.mp4"
    part = "trim=duration=3,setsar=1,format=yuv420p"
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
        "-f", "lavfi", "-i", "mandelbrot=size=320x180:rate=25",
        "-f", "lavfi", "-i", "smptebars=size=240x240:rate=25",
        "-f", "lavfi", "-i", "rgbtestsrc=size=200x150:rate=25",
        "-filter_complex",
        f"[0:v]{part}[a];[1:v]pad=320:240:0:30:black,{part}[b];[2:v]pad=320:240:40:0:black,{part}[c];"
        f"[3:v]split[f][g];[f]scale=320:240,boxblur=10[bg];[bg][g]overlay=60:45,{part}[d];"
        "[a][b][c][d]concat=n=4:v=1:a=0[v]",
        "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", str(out),
    )
    return out


def _chunks(gray: np.ndarray, size: int) -> Frames:
    """Reads ``gray`` again in chunks of ``size`` frames."""
    def read() -> Iterator[np.ndarray]:
        return (gray[i : i + size] for i in range(0, len(gray), size))
    return read


def _synthetic(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Frames of noise framed in the ways the border tests look for."""
    noise = rng.integers(0, 256, (n, WORK, WORK), dtype=np.uint8)
    letterbox, pillarbox = noise.copy(), noise.copy()
    letterbox[:, :20], letterbox[:, -20:] = 0, 0
    pillarbox[:, :, :30], pillarbox[:, :, -30:] = 3, 3
    inset = np.full_like(noise, 128)
    inset[:, 20:108, 30:98] = noise[:, 20:108, 30:98]
    framed_twice = letterbox.copy()
    framed_twice[:, 20:108, :25], framed_twice[:, 20:108, -25:] = 40, 40  # bars only inside the first ones
    return {"noise": noise, "letterbox": letterbox, "pillarbox": pillarbox, "inset": inset,
            "framed twice": framed_twice, "dark": noise // 40, "black": np.zeros_like(noise)}


@pytest.mark.parametrize("n", [1, 2, 3, 8, 41])
def test_chunked_content_box_is_the_whole_arrays(n: int) -> None:
    for name, gray in _synthetic(np.random.default_rng(n), n).items():
        want = detect_content_box(gray)
        for size in (1, 3, 16, n):
            assert chunked_content_box(_chunks(gray, size), n, WORK, WORK) == want, (name, size)


def test_synthetic_boxes_cover_each_kind_of_border() -> None:
    boxes = {name: detect_content_box(gray) for name, gray in _synthetic(np.random.default_rng(1), 8).items()}
    assert boxes["noise"].is_full and boxes["black"].is_full
    assert (boxes["letterbox"].top, boxes["pillarbox"].left) == (20 / WORK, 30 / WORK)
    assert (boxes["inset"].left, boxes["inset"].top) == (30 / WORK, 20 / WORK)  # centred edges
    assert (boxes["framed twice"].left, boxes["framed twice"].top) == (25 / WORK, 20 / WORK)  # the second look


@pytest.mark.parametrize("fps", [2.0, 8.0])
def test_run_splitter_and_boxes_are_border_runs(bordered_compilation: Path, fps: float) -> None:
    gray = decode_frames(str(bordered_compilation), fps=fps, width=WORK, height=WORK).pixels
    want = border_runs(gray, fps)
    assert len({box for _, _, box in want}) >= 3  # the parts' borders differ: several runs, several boxes
    for size in (1, 5, 40, len(gray)):
        splitter = RunSplitter(fps)
        got = [run for i in range(0, len(gray), size) for run in splitter.feed(gray[i : i + size])]
        got += splitter.finish()
        assert got == [(a, b) for a, b, _ in want], size
    for first, stop, box in want:
        assert chunked_content_box(_chunks(gray[first:stop], 7), stop - first, WORK, WORK) == box


def _whole_array_analysis(clip: Path, fps: float) -> tuple[list, np.ndarray, list]:
    """What ``analyse`` computed before it streamed: every frame decoded, then borders, hashes and shots."""
    decoded = decode_frames(str(clip), fps=fps, width=WORK, height=WORK)
    gray = decoded.pixels
    runs = border_runs(gray, fps)
    content = content_frames(gray, [(a, b) for a, b, _ in runs], [box for _, _, box in runs])
    phashes, _ = PHASH.hash_frames(content)
    pdq, quality, dihedral = PDQ.batch(content, dihedral=True)
    whole = content_frames(gray, [(0, len(gray))], [FULL_BOX])
    if any(not box.is_full for _, _, box in runs):
        dihedral = np.concatenate([dihedral, PDQ.batch(whole, dihedral=True)[2]], axis=1)
    frame_box = [box for a, b, box in runs for _ in range(a, b)]
    run_of = np.array([n for n, (a, b, _) in enumerate(runs) for _ in range(a, b)])
    ranges = shot_ranges(len(gray), find_cuts(pdq, content, decoded.times, whole=whole, runs=run_of))
    boxes = [main_box([(i, i + 1) for i in range(a, b)], frame_box[a:b]) for a, b in ranges]
    hashes = [(PHASH.to_hex(p), PDQ.to_hex(h), int(q)) for p, h, q in zip(phashes, pdq, quality, strict=True)]
    duration = len(gray) / fps
    return hashes, dihedral, list(build_shots(decoded.times, ranges, quality, duration, boxes))


@pytest.mark.parametrize("spool_bytes", [fingerprinting.SPOOL_MEMORY, 3 * WORK * WORK])
def test_analyse_equals_the_whole_array_pipeline(bordered_compilation: Path, spool_bytes: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # a spool of three frames sends nearly every frame through the temporary file and back
    monkeypatch.setattr(fingerprinting, "SPOOL_MEMORY", spool_bytes)
    hashes, dihedral, shots = _whole_array_analysis(bordered_compilation, 8.0)
    analysis = analyse(str(bordered_compilation), SamplingParams(fps=8.0), features="none")
    fp = analysis.fingerprint
    assert [(f.phash, f.pdq, f.pdq_quality) for f in fp.frames] == hashes
    assert list(fp.shots) == shots and len(shots) >= 3
    assert analysis.dihedral_pdq.shape == dihedral.shape == (len(hashes), 16, 32)
    assert np.array_equal(analysis.dihedral_pdq, dihedral)


def test_frames_spill_to_an_unlinked_file_or_stay_in_memory(bordered_compilation: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fingerprinting, "SPOOL_MEMORY", 3 * WORK * WORK)
    want = analyse(str(bordered_compilation), SamplingParams(fps=8.0), features="none").fingerprint
    spill = tmp_path / "tmp"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))
    assert analyse(str(bordered_compilation), SamplingParams(fps=8.0), features="none").fingerprint.frames \
        == want.frames
    assert list(spill.iterdir()) == []  # unlinked from the start, gone when closed

    def refused(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryFile", refused)  # no temporary file can be made: keep them in memory
    assert analyse(str(bordered_compilation), SamplingParams(fps=8.0), features="none").fingerprint.frames \
        == want.frames


def test_decode_hands_frames_over_without_keeping_them(bordered_compilation: Path) -> None:
    kept = decode_frames(str(bordered_compilation), fps=2.0, width=32, height=32)
    blocks: list[np.ndarray] = []
    given = decode_frames(str(bordered_compilation), fps=2.0, width=32, height=32, consume=blocks.append)
    assert given.pixels.shape == (0, 32, 32)
    assert np.array_equal(given.times, kept.times)
    assert len(blocks) > 1 and np.array_equal(np.concatenate(blocks), kept.pixels)


def test_a_failing_consumer_stops_the_decode(bordered_compilation: Path) -> None:
    def refuse(frames: np.ndarray) -> None:
        raise RuntimeError("no room for frames")

    with pytest.raises(RuntimeError, match="no room for frames"):  # raised, not a decode left hanging on a pipe
        decode_frames(str(bordered_compilation), fps=8.0, width=WORK, height=WORK, consume=refuse)
