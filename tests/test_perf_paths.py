"""The fast paths against their references: batch hashers, keyframe-only decoding, the sampled index.

No timing is asserted here (``bench/speed.py`` and ``bench/index.py`` measure speed); these tests
pin down that the fast code computes what the slow reference computes:

* ``phash_batch`` and ``lanczos_resize_batch`` against ``imagehash.phash`` and Pillow's own LANCZOS
  resize, bit for bit, over many sizes (64x64 to 32x32 is what the pipeline hashes);
* ``pdq_batch`` against ``pdq_image`` called frame by frame, and the integer quality sum against the
  float one;
* ``decode_frames(keyframes_only=True)``: the samples are the keyframes, at their exact presentation
  times (clips made with ffmpeg ``-g``, checked against ffprobe);
* ``SampledBitsIndex`` against ``LinearIndex``: every pair it returns is a linear pair with the same
  distance, and it finds at least 99 % of the pairs of planted near copies; its tables, built block
  by block, are what one sort of all pairs gives; a reloaded index answers as the fresh one, and the
  same index saves to the same bytes; a stale or damaged index file is rebuilt;
* ``provenance --help`` imports neither numpy nor OpenCV.
"""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import imagehash
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import run_ffmpeg
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from provenance.archive.index import (
    LinearIndex,
    SampledBitsIndex,
    open_sampled_index,
)
from provenance.frames.decode import decode_frames
from provenance.hashing.pdq import _quality, _quality_uint8, pdq_batch, pdq_image, pdq_image_dihedral
from provenance.hashing.phash import IMG_SIZE, _exact_split, lanczos_coefficients, lanczos_resize_batch, phash_batch

ROOT = Path(__file__).resolve().parent.parent


def pictures(rng: np.random.Generator, n: int, height: int, width: int, kind: str) -> np.ndarray:
    """(n, height, width) uint8 test pictures of one kind: noise, smooth waves, flat, or black and white."""
    if kind == "noise":
        return rng.integers(0, 256, (n, height, width), dtype=np.uint8)
    if kind == "flat":
        return np.full((n, height, width), rng.integers(0, 256), dtype=np.uint8)
    if kind == "binary":
        return (rng.integers(0, 2, (n, height, width)) * 255).astype(np.uint8)
    y = np.linspace(0.0, 1.0, height)[None, :, None]
    x = np.linspace(0.0, 1.0, width)[None, None, :]
    fy, fx, phase = (rng.uniform(0, 4, (n, 1, 1)) for _ in range(3))
    waves = 128 + 90 * np.cos(2 * np.pi * (fx * x + fy * y) + phase) + rng.normal(0, 6, (n, height, width))
    return np.clip(waves, 0, 255).astype(np.uint8)


KINDS = st.sampled_from(["noise", "smooth", "flat", "binary"])


# ---------------------------------------------------------------- pHash and Pillow's LANCZOS


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(height=st.integers(1, 140), width=st.integers(1, 140), n=st.integers(1, 4), kind=KINDS,
       seed=st.integers(0, 2**32 - 1))
@example(height=64, width=64, n=4, kind="smooth", seed=1)  # the pipeline's case
@example(height=64, width=64, n=3, kind="flat", seed=2)  # every coefficient ties: the scipy fallback
@example(height=32, width=32, n=2, kind="noise", seed=3)  # no resize at all
@example(height=85, width=52, n=2, kind="noise", seed=4)  # Pillow 13 runs the vertical pass first
@example(height=1, width=1, n=1, kind="noise", seed=5)
def test_phash_batch_is_imagehash(height: int, width: int, n: int, kind: str, seed: int) -> None:
    frames = pictures(np.random.default_rng(seed), n, height, width, kind)
    expected = [str(imagehash.phash(Image.fromarray(f))) for f in frames]
    assert [format(int(v), "016x") for v in phash_batch(frames)] == expected


@settings(max_examples=120, deadline=None)
@given(height=st.integers(1, 160), width=st.integers(1, 160), out_h=st.integers(1, 80), out_w=st.integers(1, 80),
       kind=KINDS, seed=st.integers(0, 2**32 - 1))
@example(height=64, width=64, out_h=32, out_w=32, kind="noise", seed=0)
@example(height=84, width=52, out_h=20, out_w=20, kind="noise", seed=0)  # the tie of Pillow 13's order rule
@example(height=85, width=52, out_h=20, out_w=20, kind="noise", seed=0)
@example(height=20, width=30, out_h=60, out_w=75, kind="binary", seed=0)  # enlarging: overshoot is clipped
def test_lanczos_resize_is_pillow(height: int, width: int, out_h: int, out_w: int, kind: str, seed: int) -> None:
    frames = pictures(np.random.default_rng(seed), 2, height, width, kind)
    expected = np.stack([np.asarray(Image.fromarray(f).resize((out_w, out_h), Image.Resampling.LANCZOS))
                         for f in frames])
    assert np.array_equal(lanczos_resize_batch(frames, out_w, out_h), expected)


@pytest.mark.parametrize("in_size", [1, 5, 31, 33, 64, 65, 127, 700, 1500, 2000, 4000])
@pytest.mark.parametrize("kind", ["binary", "noise"])
def test_lanczos_split_passes_are_exact(in_size: int, kind: str) -> None:
    """Every split the passes use (float32, or float64 for big shrinks) against Pillow, along both axes.

    Black-and-white pictures put 255 under every positive weight and 0 under the negative ones
    somewhere, the largest partial sums the exactness bounds allow for.
    """
    frames = pictures(np.random.default_rng(in_size), 2, in_size, 7, kind)
    for batch, size in ((frames, (7, IMG_SIZE)), (np.ascontiguousarray(frames.transpose(0, 2, 1)), (IMG_SIZE, 7))):
        expected = np.stack([np.asarray(Image.fromarray(f).resize(size, Image.Resampling.LANCZOS)) for f in batch])
        assert np.array_equal(lanczos_resize_batch(batch, *size), expected)


def test_exact_split_bounds() -> None:
    """The chosen split keeps every partial sum inside float32's exact integers, or falls back to float64."""
    for in_size in (1, 7, 64, 300, 1080, 1920, 4000):
        weights = lanczos_coefficients(in_size, IMG_SIZE)
        dtype, shift = _exact_split(weights)
        hi, lo = weights >> shift, weights & ((1 << shift) - 1)
        assert np.array_equal((hi << shift) + lo, weights) and lo.min() >= 0
        if dtype == np.float32:
            low_sum = 255 * int(lo.sum(axis=1).max())
            assert low_sum < 2**24
            assert 2 * (255 * int(np.abs(hi).sum(axis=1).max()) + (low_sum >> shift)) + 1 < 2**24
    assert _exact_split(lanczos_coefficients(64, IMG_SIZE))[0] == np.float32  # the pipeline's case
    assert _exact_split(lanczos_coefficients(4000, IMG_SIZE))[0] == np.float64


def test_phash_batch_takes_strided_frames() -> None:
    frames = pictures(np.random.default_rng(9), 5, 96, 80, "smooth")[:, ::2, 1:]
    expected = [str(imagehash.phash(Image.fromarray(np.ascontiguousarray(f)))) for f in frames]
    assert [format(int(v), "016x") for v in phash_batch(frames)] == expected


def test_phash_batch_of_many_frames_equals_frame_by_frame() -> None:
    """Several chunks, mixed content, so chunk edges and the certified DCT are both exercised."""
    rng = np.random.default_rng(7)
    frames = np.concatenate([pictures(rng, 150, 64, 64, kind) for kind in ("smooth", "noise", "flat", "binary")])
    frames = frames[rng.permutation(len(frames))]
    expected = np.array([int(str(imagehash.phash(Image.fromarray(f))), 16) for f in frames], dtype=np.uint64)
    assert np.array_equal(phash_batch(frames), expected)


# ---------------------------------------------------------------- PDQ


@settings(max_examples=40, deadline=None)
@given(size=st.sampled_from([(64, 64), (128, 128), (96, 80), (200, 150), (33, 47)]), kind=KINDS,
       seed=st.integers(0, 2**32 - 1))
def test_pdq_batch_is_pdq_image_frame_by_frame(size: tuple[int, int], kind: str, seed: int) -> None:
    frames = pictures(np.random.default_rng(seed), 3, *size, kind)
    hashes, quality, dihedral = pdq_batch(frames, dihedral=True)
    for frame, row, q, variants in zip(frames, hashes, quality, dihedral, strict=True):
        assert (bytes(row).hex(), int(q)) == pdq_image(frame)
        assert [bytes(v).hex() for v in variants] == pdq_image_dihedral(frame)[0]


def test_pdq_integer_quality_equals_float_quality() -> None:
    rng = np.random.default_rng(3)
    samples = np.concatenate([pictures(rng, 20, 64, 64, kind) for kind in ("smooth", "noise", "flat", "binary")])
    # every difference from -255 to 255 between neighbours, both ways: on busy frames (at the cap)
    # and on one bright row of an otherwise black frame (below it, where every step is counted)
    ramp = np.resize(np.arange(256, dtype=np.uint8), (64, 64))
    lines = np.zeros((4, 64, 64), dtype=np.uint8)
    lines[:, 10] = np.arange(256, dtype=np.uint8).reshape(4, 64)
    samples = np.concatenate([samples, ramp[None], ramp.T[None], lines, lines.transpose(0, 2, 1)])
    # gentle slopes around the shortcut's threshold, where the quality leaves the cap of 100
    x = np.arange(64, dtype=np.float64)
    slopes = [np.clip(np.add.outer(x, x) * step + noise, 0, 255).astype(np.uint8)
              for step in (1.2, 1.5, 1.9, 2.4, 2.8, 3.3) for noise in (rng.normal(0, 1.5, (64, 64)), 0.0)]
    samples = np.concatenate([samples, np.stack(slopes)])
    quality = _quality_uint8(samples)
    assert np.array_equal(quality, _quality(samples.astype(np.float64)))
    assert 0 < (quality == 100).sum() < len(samples)


def test_pdq_quality_step_is_floor_of_twenty_fifty_firsts() -> None:
    import cv2

    d = np.arange(256, dtype=np.uint8)[None]
    assert np.array_equal(cv2.convertScaleAbs(d, alpha=20 / 51, beta=1 / 102 - 1 / 2)[0], np.arange(256) * 20 // 51)


# ---------------------------------------------------------------- keyframe-only decoding


def ffprobe_keyframe_times(path: Path) -> list[Fraction]:
    """Exact presentation times of the keyframes, from ffprobe (pts x time base), counted from the first."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=time_base:frame=key_frame,pts",
         "-of", "json", str(path)], capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    base = Fraction(data["streams"][0]["time_base"])
    keys = [int(f["pts"]) for f in data["frames"] if f.get("key_frame") == 1]
    return [(p - keys[0]) * base for p in keys]


@pytest.fixture(scope="module")
def gop25_clip(media_dir: Path) -> Path:
    """10 s of testsrc2 at 25 fps, H.264 with a keyframe every 25 frames (``-g 25``, no scene-cut keyframes)."""
    out = media_dir / "gop25.mp4"
    if not out.exists():
        run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "10", "-c:v", "libx264", "-g", "25",
                   "-sc_threshold", "0", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(out))
    return out


def test_keyframes_only_samples_are_the_keyframes(gop25_clip: Path) -> None:
    decoded = decode_frames(str(gop25_clip), fps=2.0, width=64, height=64, keyframes_only=True)
    assert decoded.times.tolist() == [float(t) for t in range(10)]
    every = decode_frames(str(gop25_clip), fps=None, width=64, height=64)  # every frame, in order
    assert np.array_equal(decoded.pixels, every.pixels[::25])


def test_keyframe_times_are_exact_with_b_frames_and_ntsc_rate(media_dir: Path) -> None:
    clip = media_dir / "ntsc_gop37.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30000/1001", "-t", "7", "-c:v", "libx264",
               "-g", "37", "-bf", "3", "-sc_threshold", "0", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(clip))
    decoded = decode_frames(str(clip), fps=2.0, width=32, height=32, keyframes_only=True)
    expected = [float(t) for t in ffprobe_keyframe_times(clip)]
    assert decoded.times.tolist() == expected
    assert expected[1] == float(Fraction(37 * 1001, 30000))


def test_check_fast_flag_records_keyframe_times(gop25_clip: Path) -> None:
    from provenance.cli.app import cli

    result = CliRunner().invoke(cli, ["check", "--fast", "--json", str(gop25_clip)])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["parameters"]["keyframes_only"] is True
    assert [f["time"] for f in record["frames"]] == [float(t) for t in range(10)]
    assert not record["warnings"]  # the last keyframe at 9 s is not a truncated file


def test_fast_mode_samples_a_clip_with_few_keyframes_fully(media_dir: Path) -> None:
    from provenance.fingerprinting import FAST_MIN_KEYFRAMES, fingerprint
    from provenance.model import SamplingParams

    clip = media_dir / "gop75.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "6", "-c:v", "libx264", "-g", "75",
               "-sc_threshold", "0", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(clip))
    assert len(decode_frames(str(clip), fps=2.0, width=32, height=32, keyframes_only=True).times) < FAST_MIN_KEYFRAMES
    fp = fingerprint(str(clip), SamplingParams(keyframes_only=True))
    assert fp.params == SamplingParams()  # the record says it was sampled twice a second after all
    assert [f.time for f in fp.frames] == [i / 2 for i in range(12)]


# ---------------------------------------------------------------- the sampled index


def planted(seed: int, items: int = 300, per_item: int = 20, clips: int = 6, frames: int = 12,
            low: int = 4, high: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """References (items drifting by a few bits per frame), their groups, and queries: ``clips`` clips of
    ``frames`` noisy copies (``low`` to ``high`` bits flipped) of consecutive frames of one item each,
    then as many unrelated hashes."""
    rng = np.random.default_rng(seed)
    bits = np.repeat(rng.integers(0, 2, (items, 1, 256), dtype=np.uint8), per_item, axis=1)
    drift = rng.random((items, per_item, 256)) < 3 / 256
    bits ^= np.cumsum(drift, axis=1, dtype=np.uint8) & 1
    refs = np.packbits(bits.reshape(-1, 256), axis=1)
    picked = []
    for item in rng.choice(items, clips, replace=False):
        start = item * per_item + int(rng.integers(0, per_item - frames + 1))
        picked.extend(range(start, start + frames))
    chosen = np.unpackbits(refs[picked], axis=1)
    for row in chosen:
        row[rng.choice(256, int(rng.integers(low, high + 1)), replace=False)] ^= 1
    unrelated = rng.integers(0, 256, (len(picked), 32), dtype=np.uint8)
    return refs, np.repeat(np.arange(items), per_item), np.concatenate([np.packbits(chosen, axis=1), unrelated])


def pairs(hits: object) -> dict[tuple[int, int], int]:
    """{(query, reference): distance} of an IndexHits."""
    return {(int(q), int(r)): int(d) for q, r, d in zip(hits.query_idx, hits.ref_idx, hits.distance, strict=True)}


@pytest.mark.parametrize("probe_bits", [0, 1])
def test_sampled_index_returns_linear_pairs_of_clips(probe_bits: int) -> None:
    """Clips of noisy copies (4-40 bits off): every linear pair found, each with its exact distance."""
    refs, groups, queries = planted(seed=11)
    linear = LinearIndex()
    linear.build(refs)
    index = SampledBitsIndex(probe_bits=probe_bits)
    index.build(refs, groups)
    for radius in (32, 64):
        truth, got = pairs(linear.search(queries, radius)), pairs(index.search(queries, radius))
        assert got.items() <= truth.items()  # nothing the linear scan lacks, every distance exact
        assert len(got) >= 0.99 * len(truth)
    hits = index.search(queries, 64)
    order = np.lexsort((hits.ref_idx, hits.distance, hits.query_idx))
    assert np.array_equal(order, np.arange(len(hits)))  # the canonical (query, distance, ref) order


def test_sampled_index_recall_for_single_frames() -> None:
    """One frame at a time (a still): stated recall, per frame, of references 4-30 bits away.

    A lone frame meets its item through its own keys only, so this is the index's weakest case: with
    two-bit probing (small queries) at least 90 % of such pairs are found; without groups (each
    reference its own group, so only references whose keys matched are verified) at least 60 %.
    """
    refs, groups, queries = planted(seed=12, clips=40, frames=1, low=4, high=30)
    linear = LinearIndex()
    linear.build(refs)
    for with_groups, floor in ((True, 0.9), (False, 0.6)):
        index = SampledBitsIndex()
        index.build(refs, groups if with_groups else None)
        found = total = 0
        for q in range(40):
            truth = pairs(linear.search(queries[q : q + 1], 64))
            got = pairs(index.search(queries[q : q + 1], 64))
            assert got.items() <= truth.items()
            found, total = found + len(got), total + len(truth)
        assert found >= floor * total, (with_groups, found, total)


def test_sampled_index_with_unsorted_groups_and_empty_results() -> None:
    refs, groups, queries = planted(seed=5, items=50)
    shuffle = np.random.default_rng(0).permutation(len(refs))
    index = SampledBitsIndex()
    index.build(refs[shuffle], groups[shuffle])
    linear = LinearIndex()
    linear.build(refs[shuffle])
    got, truth = pairs(index.search(queries, 64)), pairs(linear.search(queries, 64))
    assert got.items() <= truth.items() and len(got) >= 0.99 * len(truth)
    assert len(index.search(np.zeros((0, 32), dtype=np.uint8), 64)) == 0


def sorted_distinct_pairs(index: SampledBitsIndex, refs: np.ndarray, groups: np.ndarray | None) -> list[np.ndarray]:
    """What each table holds by definition: the sorted distinct ``key << 32 | group``, in one sort of all N."""
    dense = np.arange(len(refs)) if groups is None else np.unique(groups, return_inverse=True)[1]
    keys = index._keys(refs).astype(np.uint64)
    return [np.unique(keys[t] << np.uint64(32) | dense.astype(np.uint64)) for t in range(index.tables)]


@pytest.mark.parametrize("block", [1, 7, 20, 64, 1000, 1 << 17])
@pytest.mark.parametrize("layout", ["in order", "shuffled", "none"])
def test_sampled_tables_built_in_blocks_equal_one_sort(block: int, layout: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the block size (groups cut at block edges or not, in order or not), the same tables."""
    from provenance.archive.index import sampled as sampled_module

    refs, groups, _ = planted(seed=21, items=60)
    if layout == "shuffled":
        shuffle = np.random.default_rng(1).permutation(len(refs))
        refs, groups = refs[shuffle], groups[shuffle] * 3 + 5
    monkeypatch.setattr(sampled_module, "_KEY_CHUNK", block)
    index = SampledBitsIndex()
    index.build(refs, None if layout == "none" else groups)
    expected = sorted_distinct_pairs(index, refs, None if layout == "none" else groups)
    for t, pairs in enumerate(expected):
        assert index._table_keys[t].dtype == index._table_groups[t].dtype == np.uint32
        assert np.array_equal(index._table_keys[t], (pairs >> np.uint64(32)).astype(np.uint32))
        assert np.array_equal(index._table_groups[t], (pairs & np.uint64(0xFFFFFFFF)).astype(np.uint32))


def test_sampled_index_of_nothing() -> None:
    index = SampledBitsIndex()
    index.build(np.zeros((0, 32), dtype=np.uint8), np.zeros(0, dtype=np.int64))
    assert len(index) == 0 and len(index.search(np.ones((3, 32), dtype=np.uint8), 64)) == 0


def test_saved_index_is_the_same_files_every_time(tmp_path: Path) -> None:
    """Same references, same files, byte for byte; they read back as the index's own arrays."""
    refs, groups, _ = planted(seed=6, items=40)
    for name in ("a.idx", "b.idx"):
        index = SampledBitsIndex()
        index.build(refs, groups.astype(np.int32))
        index.save(tmp_path / name, key="k")
    names = sorted(p.name for p in (tmp_path / "a.idx").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b.idx").iterdir())
    assert "key" in names and f"keys{index.tables - 1}.npy" in names
    assert all((tmp_path / "a.idx" / n).read_bytes() == (tmp_path / "b.idx" / n).read_bytes() for n in names)
    for t in range(index.tables):
        assert np.array_equal(np.load(tmp_path / "a.idx" / f"keys{t}.npy"), index._table_keys[t])
        assert np.array_equal(np.load(tmp_path / "a.idx" / f"groups{t}.npy"), index._table_groups[t])


def test_persisted_index_reloads_as_built(tmp_path: Path) -> None:
    refs, groups, queries = planted(seed=2)
    index = SampledBitsIndex()
    index.build(refs, groups)
    path = tmp_path / "archive.sqlite.idx"
    index.save(path, key="archive-1:7")
    again = SampledBitsIndex.load(path, refs)
    assert again.key == "archive-1:7" and SampledBitsIndex.read_key(path) == "archive-1:7"
    assert isinstance(again._table_keys[0], np.memmap)  # opened memory-mapped, not read whole
    assert pairs(again.search(queries, 64)) == pairs(index.search(queries, 64))
    assert np.array_equal(again.candidate_groups(queries), index.candidate_groups(queries))
    assert not list(tmp_path.glob("*.tmp"))  # written in a temporary folder, renamed into place


def test_open_sampled_index_detects_stale_and_damaged_files(tmp_path: Path) -> None:
    refs, groups, queries = planted(seed=3)
    path = tmp_path / "a.sqlite.idx"
    first = open_sampled_index(path, "id:1", refs, groups)
    assert path.is_dir() and SampledBitsIndex.read_key(path) == "id:1"
    stamp = (path / "key").stat().st_mtime_ns
    second = open_sampled_index(path, "id:1", refs, groups)  # same key: loaded, not rebuilt
    assert (path / "key").stat().st_mtime_ns == stamp
    assert pairs(second.search(queries, 64)) == pairs(first.search(queries, 64))
    more = np.concatenate([refs, refs[:20] ^ np.uint8(1)])
    more_groups = np.concatenate([groups, np.full(20, groups.max() + 1)])
    grown = open_sampled_index(path, "id:2", more, more_groups)  # another generation: rebuilt
    assert SampledBitsIndex.read_key(path) == "id:2" and len(grown) == len(more)
    regrouped = open_sampled_index(path, "id:2", more, np.arange(len(more)))  # same key, other groups: rebuilt
    assert regrouped.same_groups(np.arange(len(more)))
    (path / "keys0.npy").write_bytes(b"not an npy file")  # damaged under a current key
    damaged = open_sampled_index(path, "id:2", more, np.arange(len(more)))
    assert pairs(damaged.search(queries, 64)) == pairs(regrouped.search(queries, 64))
    assert np.load(path / "keys0.npy").shape == damaged._table_keys[0].shape  # rewritten whole
    (path / "key").unlink()
    assert SampledBitsIndex.read_key(path) is None
    repaired = open_sampled_index(path, "id:3", refs, groups)
    assert pairs(repaired.search(queries, 64)) == pairs(first.search(queries, 64))
    assert SampledBitsIndex.read_key(path) == "id:3"


def same_tables(a: SampledBitsIndex, b: SampledBitsIndex) -> bool:
    """The two indexes hold the same tables and group map."""
    return (len(a) == len(b) and np.array_equal(a._group_starts, b._group_starts)
            and all(np.array_equal(x, y) for x, y in zip(a._table_keys, b._table_keys, strict=True))
            and all(np.array_equal(x, y) for x, y in zip(a._table_groups, b._table_groups, strict=True)))


def test_extending_an_index_gives_the_tables_a_build_gives() -> None:
    refs, groups, queries = planted(seed=8, items=200)
    first = 120 * 20  # the first 120 items are indexed, then the other 80 are added
    grown = SampledBitsIndex()
    grown.build(refs[:first], groups[:first])
    assert grown.extend(refs, groups)
    fresh = SampledBitsIndex()
    fresh.build(refs, groups)
    assert same_tables(grown, fresh)
    assert pairs(grown.search(queries, 64)) == pairs(fresh.search(queries, 64))


def test_an_index_is_not_extended_across_an_old_group_or_out_of_order() -> None:
    refs, groups, _ = planted(seed=9, items=50)
    index = SampledBitsIndex()
    index.build(refs[:510], groups[:510])  # item 25 is cut after 10 of its 20 frames
    before = [t.copy() for t in index._table_keys]
    assert not index.extend(refs, groups)  # its other frames would continue an indexed group
    shuffled = SampledBitsIndex()
    shuffled.build(refs[:500], groups[:500])
    assert not shuffled.extend(refs, groups[::-1].copy())
    assert all(np.array_equal(a, b) for a, b in zip(before, index._table_keys, strict=True)) and len(index) == 510


def test_open_sampled_index_adds_to_the_index_of_an_earlier_state(tmp_path: Path) -> None:
    refs, groups, _ = planted(seed=10, items=100)
    path = tmp_path / "a.sqlite.idx"
    open_sampled_index(path, "id:1", refs[:1200], groups[:1200])
    grown = open_sampled_index(path, "id:2", refs, groups, grown_from=("id:1", 1200))
    fresh = SampledBitsIndex()
    fresh.build(refs, groups)
    assert same_tables(grown, fresh) and SampledBitsIndex.read_key(path) == "id:2"
    assert same_tables(SampledBitsIndex.load(path, refs), fresh)
    # an index kept for a state other than the one named is no help: built afresh (same tables either way)
    rebuilt = open_sampled_index(path, "id:3", refs, groups, grown_from=("id:1", 1200))
    assert same_tables(rebuilt, fresh) and SampledBitsIndex.read_key(path) == "id:3"


def test_open_sampled_index_when_the_file_cannot_be_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only folder (or a full disk): the index is still built and used, only not kept."""
    from provenance.archive.index import sampled as sampled_module

    def refuse(folder: Path, key: str, arrays: dict[str, np.ndarray]) -> None:
        raise PermissionError(13, "Permission denied", str(folder))

    monkeypatch.setattr(sampled_module, "save_arrays", refuse)
    refs, groups, queries = planted(seed=4, items=30)
    index = open_sampled_index(tmp_path / "a.idx", "k", refs, groups)
    assert len(index.search(queries, 64)) > 0 and not list(tmp_path.iterdir())


def test_check_keeps_the_index_beside_the_archive(tmp_path: Path, mandelbrot_clip: Path, testsrc_clip: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from provenance.archive import search as search_module
    from provenance.archive.store import ArchiveStore
    from provenance.fingerprinting import fingerprint

    monkeypatch.setattr(search_module, "LINEAR_SCAN_LIMIT", 0)  # use the index even for two items
    archive = tmp_path / "cases.sqlite"
    with ArchiveStore.open(archive) as store:
        store.add(fingerprint(str(mandelbrot_clip)))
        Path(f"{archive}.idx.npz").write_bytes(b"an index file of an earlier version")
        frames, search = search_module.archive_frames(store)
        key = f"{store.archive_id()}:{store.generation()}"
    assert not Path(f"{archive}.idx.npz").exists()  # replaced by the folder
    index_file = Path(f"{archive}.idx")
    assert index_file.is_dir() and SampledBitsIndex.read_key(index_file).startswith(key)
    query = frames.pdq[::7]
    q, r, d = search(query, 64)
    linear = LinearIndex()
    linear.build(frames.pdq)
    assert pairs(linear.search(query, 64)).items() >= {(int(a), int(b)): int(c) for a, b, c in zip(q, r, d,
                                                                                              strict=True)}.items()
    assert len(q) > 0
    with ArchiveStore.open(archive) as store:
        store.add(fingerprint(str(testsrc_clip)))  # a new generation: the next check rebuilds the index
        frames, _ = search_module.archive_frames(store)
        assert SampledBitsIndex.read_key(index_file).startswith(f"{store.archive_id()}:{store.generation()}:")
        fresh = SampledBitsIndex()  # the kept index grew by the new item's frames: as if built afresh
        fresh.build(frames.pdq, frames.item_rows)
        assert same_tables(SampledBitsIndex.load(index_file, frames.pdq), fresh) and len(fresh) == len(frames.pdq)


# ---------------------------------------------------------------- start-up


def test_help_imports_no_numpy_or_opencv() -> None:
    code = (
        "import sys\n"
        "from provenance.cli.app import cli\n"
        "try:\n"
        "    cli.main(['--help'], prog_name='provenance')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in ('numpy', 'cv2', 'scipy', 'PIL', 'imagehash') if m in sys.modules)\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert "HEAVY []" in proc.stderr, proc.stderr
