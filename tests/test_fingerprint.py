"""Fingerprinting on real decoding: samples, hashes, borders, shots, truncation, determinism."""

from __future__ import annotations

from pathlib import Path

import imagehash
import numpy as np
import pytest
from conftest import run_ffmpeg
from PIL import Image

from provenance.fingerprinting import content_frames, fingerprint
from provenance.frames.borders import detect_content_box
from provenance.frames.decode import decode_frames
from provenance.hashing.pdq import hamming_bytes, hex_to_pdq_bytes
from provenance.model import HashAlgorithm, SamplingParams


@pytest.fixture(scope="module")
def three_shots(media_dir: Path) -> Path:
    """Three 4 s shots of unrelated lavfi sources (test pattern, fractal, colour bars), cut at 4 s and 8 s."""
    out = media_dir / "three_shots.mp4"
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=4",
        "-f", "lavfi", "-i", "mandelbrot=size=320x240:rate=25:start_scale=0.5,trim=duration=4",
        "-f", "lavfi", "-i", "smptehdbars=size=320x240:rate=25:duration=4",
        "-filter_complex", "[0:v][1:v][2:v]concat=n=3:v=1:a=0,format=yuv420p[v]", "-map", "[v]",
        "-c:v", "libx264", "-preset", "veryfast", str(out),
    )
    return out


@pytest.fixture(scope="module")
def letterboxed(media_dir: Path, mandelbrot_clip: Path) -> Path:
    """The mandelbrot clip shrunk to 320x180 inside a 320x240 black frame (30 px bars)."""
    out = media_dir / "letterboxed.mp4"
    run_ffmpeg("-i", str(mandelbrot_clip), "-vf", "scale=320:180,pad=320:240:0:30:black",
               "-c:v", "libx264", "-preset", "veryfast", str(out))
    return out


def test_samples_are_at_the_documented_rate(mandelbrot_clip: Path) -> None:
    fp = fingerprint(str(mandelbrot_clip))
    assert fp.params == SamplingParams()
    assert len(fp.frames) == 24  # 12 s at 2 per second
    assert [f.time for f in fp.frames[:4]] == [0.0, 0.5, 1.0, 1.5]
    assert fp.duration == pytest.approx(12.0)
    assert all(len(f.phash) == 16 and len(f.pdq) == 64 for f in fp.frames)
    assert fp.hash_algorithms == (HashAlgorithm("phash", 64, 1), HashAlgorithm("pdq", 256, 1))
    assert fp.warnings == ()


def test_phash_in_record_is_imagehash_of_the_hashed_picture(mandelbrot_clip: Path) -> None:
    fp = fingerprint(str(mandelbrot_clip))
    decoded = decode_frames(str(mandelbrot_clip), fps=2, width=128, height=128)
    starts = [round(shot.start * fp.params.fps) for shot in fp.shots]
    ranges = list(zip(starts, [*starts[1:], len(fp.frames)], strict=True))
    content = content_frames(decoded.pixels, ranges, [s.content_box for s in fp.shots])
    assert content.shape[1:] == (64, 64)
    for frame, record in zip(content, fp.frames, strict=True):
        assert record.phash == str(imagehash.phash(Image.fromarray(frame)))


def test_fingerprint_is_deterministic(mandelbrot_clip: Path) -> None:
    first, second = fingerprint(str(mandelbrot_clip)), fingerprint(str(mandelbrot_clip))
    assert first.frames == second.frames
    assert first.shots == second.shots


def test_shot_boundaries_found_at_the_cuts(three_shots: Path) -> None:
    fp = fingerprint(str(three_shots))
    starts = [shot.start for shot in fp.shots]
    assert len(fp.shots) == 3, starts
    assert starts[1] == pytest.approx(4.0, abs=0.5)
    assert starts[2] == pytest.approx(8.0, abs=0.5)
    for shot in fp.shots:
        assert shot.start <= shot.keyframe_time < shot.end


def test_letterbox_is_found_and_hashes_match_the_source(letterboxed: Path, mandelbrot_clip: Path) -> None:
    padded, source = fingerprint(str(letterboxed)), fingerprint(str(mandelbrot_clip))
    box = padded.content_box
    assert box.top == pytest.approx(30 / 240, abs=0.03)
    assert box.bottom == pytest.approx(210 / 240, abs=0.03)
    assert (box.left, box.right) == (0.0, 1.0)
    assert source.content_box.is_full
    dists = [int(hamming_bytes(hex_to_pdq_bytes(a.pdq), hex_to_pdq_bytes(b.pdq)))
             for a, b in zip(padded.frames, source.frames, strict=True)]
    assert np.median(dists) < 40


def test_detect_content_box_on_synthetic_frames() -> None:
    rng = np.random.default_rng(1)
    frames = np.zeros((5, 128, 128), dtype=np.uint8)
    frames[:, 20:108, 10:118] = rng.integers(0, 255, size=(5, 88, 108), dtype=np.uint8)
    box = detect_content_box(frames)
    assert (box.left, box.top, box.right, box.bottom) == (10 / 128, 20 / 128, 118 / 128, 108 / 128)
    assert detect_content_box(np.zeros((3, 128, 128), dtype=np.uint8)).is_full  # all black: no box


def test_truncated_file_is_checked_as_far_as_it_decodes(media_dir: Path, mandelbrot_clip: Path) -> None:
    data = mandelbrot_clip.read_bytes()
    # a progressive download cut short: the moov atom is at the end, so move it to the front first
    faststart = media_dir / "faststart.mp4"
    run_ffmpeg("-i", str(mandelbrot_clip), "-c", "copy", "-movflags", "+faststart", str(faststart))
    data = faststart.read_bytes()
    cut = media_dir / "truncated.mp4"
    cut.write_bytes(data[: len(data) // 2])
    fp = fingerprint(str(cut))
    assert 0 < len(fp.frames) < 24
    assert any("decoding stopped at" in w for w in fp.warnings), fp.warnings


def test_still_is_one_frame(still_jpeg: Path) -> None:
    fp = fingerprint(str(still_jpeg))
    assert fp.is_still
    assert len(fp.frames) == 1 and fp.frames[0].time == 0.0
    assert fp.duration == 0.0
    assert len(fp.shots) == 1
