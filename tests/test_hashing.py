"""Tests of ``provenance.hashing``: pHash against imagehash bit for bit, PDQ against Meta's vectors.

Real pictures only: generated arrays (noise, gradients, constants) and the stills of the shared
corpus (``threatexchange-pdq/``, skipped when absent). Expected PDQ hashes come from
facebook/ThreatExchange@baefb4e: ``pdq/python/pdqhashing/tests/pdq_test.py`` (as
``expected/pdq_expected_hashes_from_pdq_test.tsv``), ``pdq/python/README.md`` (with quality) and the
WebAssembly build of the C++ reference (``PDQMD5TestData.csv``).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import imagehash
import numpy as np
import pytest
from conftest import CORPUS, corpus_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import provenance.hashing
from provenance import fingerprinting
from provenance.frames.decode import decode_frames
from provenance.hashing import HASHERS, PDQHasher, PHashHasher, available_hashers, get_hasher, registry
from provenance.hashing.pdq import (
    DIHEDRAL_NAMES,
    hamming_bytes,
    hex_to_pdq_bytes,
    load_rgb,
    pdq_batch,
    pdq_bytes_to_hex,
    pdq_file,
    pdq_image,
    pdq_image_dihedral,
)
from provenance.hashing.phash import hex_to_phash, phash_batch, phash_image, phash_to_hex
from provenance.model import LEGACY_HASH_ALGORITHMS, PDQ_V1, PHASH_V1, HashAlgorithm

PDQ_DIR = "threatexchange-pdq"
T = TypeVar("T")

# The reference's rules for comparing hashes made by different implementations:
# - pdq/README.md ("Hashing"): an implementation is "correct" if "hashes produced by an implementation
#   where quality score >= 80 are within distance <= 10 of the C++ reference implementation";
# - pdq/python/pdqhashing/tests/pdq_test.py checks its own vectors with ``hamming_tolerance = 16``,
#   which is what we allow for the low-quality pictures the README rule does not cover.
README_MIN_QUALITY = 80
README_TOLERANCE = 10
PDQ_TEST_TOLERANCE = 16
# pdq/README.md ("Matching"): "Distance Threshold to consider two hashes to be similar/matching: <=31".
MATCH_THRESHOLD = 31


def tolerance(quality: int) -> int:
    """The largest distance the reference's rules accept for a hash of this quality."""
    return README_TOLERANCE if quality >= README_MIN_QUALITY else PDQ_TEST_TOLERANCE


def pdq_distance(a: str, b: str) -> int:
    """Hamming distance of two PDQ hex strings."""
    return int(hamming_bytes(hex_to_pdq_bytes(a), hex_to_pdq_bytes(b)))


def smooth_image(
    rng: np.random.Generator, height: int, width: int, channels: int | None = None
) -> np.ndarray:
    """A uint8 picture made of a random plane plus a few random low-frequency waves."""
    shape = (height, width) if channels is None else (height, width, channels)
    y = np.linspace(0.0, 1.0, height)[:, None]
    x = np.linspace(0.0, 1.0, width)[None, :]
    img = rng.uniform(0, 255) + rng.uniform(-120, 120) * x + rng.uniform(-120, 120) * y
    for _ in range(4):
        fy, fx, phase = rng.uniform(0, 4), rng.uniform(0, 4), rng.uniform(0, 2 * np.pi)
        img = img + rng.uniform(0, 60) * np.cos(2 * np.pi * (fx * x + fy * y) + phase)
    if channels is not None:
        img = img[..., None] + rng.uniform(-30, 30, channels)
    return np.clip(np.broadcast_to(img, shape), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- pHash


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(1, 300),
    height=st.integers(1, 300),
    mode=st.sampled_from(["L", "RGB"]),
    content=st.sampled_from(["noise", "smooth", "constant"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_phash_matches_imagehash(width: int, height: int, mode: str, content: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    channels = 3 if mode == "RGB" else None
    shape = (height, width) if channels is None else (height, width, channels)
    if content == "noise":
        arr = rng.integers(0, 256, shape, dtype=np.uint8)
    elif content == "smooth":
        arr = smooth_image(rng, height, width, channels)
    else:
        arr = np.full(shape, rng.integers(0, 256), dtype=np.uint8)
    image = Image.fromarray(arr)
    assert image.mode == mode
    expected = str(imagehash.phash(image))
    assert phash_image(image) == expected
    grey = np.asarray(image.convert("L"))
    assert phash_to_hex(int(phash_batch(grey[None])[0])) == expected


@pytest.mark.parametrize("value", [0, 1, 128, 255])
@pytest.mark.parametrize("size", [(1, 1), (32, 32), (7, 300)])
def test_phash_constant_image(value: int, size: tuple[int, int]) -> None:
    arr = np.full(size, value, dtype=np.uint8)
    expected = str(imagehash.phash(Image.fromarray(arr)))
    assert phash_image(Image.fromarray(arr)) == expected
    assert phash_to_hex(int(phash_batch(arr[None])[0])) == expected


@pytest.mark.parametrize("size", [(32, 32), (128, 128), (240, 320)])
def test_phash_batch_equals_per_image(size: tuple[int, int]) -> None:
    rng = np.random.default_rng(7)
    frames = [rng.integers(0, 256, size, dtype=np.uint8) for _ in range(12)]
    frames += [smooth_image(rng, *size) for _ in range(12)]
    frames += [np.full(size, 17, dtype=np.uint8), np.zeros(size, dtype=np.uint8)]
    batch = np.stack(frames)
    values = phash_batch(batch)
    assert values.dtype == np.uint64 and values.shape == (len(frames),)
    for frame, value in zip(frames, values, strict=True):
        assert format(int(value), "016x") == str(imagehash.phash(Image.fromarray(frame)))


def test_phash_empty_batch() -> None:
    for shape in [(0, 32, 32), (0, 128, 96)]:
        out = phash_batch(np.zeros(shape, dtype=np.uint8))
        assert out.shape == (0,) and out.dtype == np.uint64


def test_phash_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        phash_batch(np.zeros((32, 32), dtype=np.uint8))
    with pytest.raises(ValueError):
        phash_batch(np.zeros((1, 32, 32), dtype=np.float32))


def corpus_stills() -> list[Path]:
    """Every picture of the ThreatExchange PDQ folder (skips when the corpus is absent)."""
    root = corpus_path(PDQ_DIR)
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in {".jpg", ".png", ".webp"})


@pytest.mark.corpus
def test_phash_matches_imagehash_on_corpus_stills() -> None:
    stills = corpus_stills()
    assert len(stills) >= 40
    for path in stills:
        with Image.open(path) as image:
            image.load()
            expected = str(imagehash.phash(image))
            assert phash_image(image) == expected, path.name
            grey = np.asarray(image.convert("L"))
        assert phash_to_hex(int(phash_batch(grey[None])[0])) == expected, path.name


@given(st.integers(0, 2**64 - 1))
def test_phash_hex_round_trip(value: int) -> None:
    text = phash_to_hex(value)
    assert len(text) == 16 and text == text.lower()
    assert hex_to_phash(text) == value
    assert hex_to_phash(text.upper()) == value


@pytest.mark.parametrize(
    "bad", ["", "0" * 15, "0" * 17, "g" * 16, " " + "0" * 15, "0x" + "0" * 14, "0" * 15 + "\n"]
)
def test_hex_to_phash_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        hex_to_phash(bad)


def test_phash_to_hex_rejects_out_of_range() -> None:
    with pytest.raises(ValueError):
        phash_to_hex(1 << 64)
    with pytest.raises(ValueError):
        phash_to_hex(-1)


# ---------------------------------------------------------------- PDQ against Meta's vectors


def read_pdq_test_vectors() -> dict[str, str]:
    """pdq_test.py's vectors: path relative to pdq/data/ (= relative to our folder) to hash."""
    text = (CORPUS / PDQ_DIR / "expected" / "pdq_expected_hashes_from_pdq_test.tsv").read_text()
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    return {path: digest for path, digest in rows[1:]}


def read_readme_vectors() -> dict[str, tuple[str, int]]:
    """The Python reference README's ``pdq_photo_hasher_tool.py --pdq`` output: hash and quality."""
    vectors = {}
    for line in (CORPUS / PDQ_DIR / "expected" / "pdq-python-README.md").read_text().splitlines():
        parts = line.split(",")
        if len(parts) == 3 and len(parts[0]) == 64:
            vectors[parts[2].removeprefix("../../data/")] = (parts[0], int(parts[1]))
    return vectors


def read_wasm_vectors() -> dict[str, str]:
    """The C++ reference (WebAssembly build) vectors; the MD5 rows for videos are left out."""
    with open(CORPUS / PDQ_DIR / "expected" / "PDQMD5TestData.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {
        row["FilePath"].removeprefix("../../../../data/"): row["Hash"]
        for row in rows
        if len(row["Hash"]) == 64
    }


def vectors_or_skip(reader: Callable[[], dict[str, T]]) -> dict[str, T]:
    """The vectors from ``reader``, or an empty table when the corpus is absent (tests then skip)."""
    try:
        return reader()
    except FileNotFoundError:
        return {}


PDQ_TEST_VECTORS = vectors_or_skip(read_pdq_test_vectors)
README_VECTORS = vectors_or_skip(read_readme_vectors)
WASM_VECTORS = vectors_or_skip(read_wasm_vectors)
C_PNG = "misc-images/c.png"
_HASH_CACHE: dict[str, tuple[str, int]] = {}


def hash_corpus_file(relative: str) -> tuple[str, int]:
    """``pdq_file`` of a file of the PDQ folder (skips when absent), computed once per session."""
    if relative not in _HASH_CACHE:
        _HASH_CACHE[relative] = pdq_file(corpus_path(f"{PDQ_DIR}/{relative}"))
    return _HASH_CACHE[relative]


@pytest.mark.corpus
@pytest.mark.parametrize("relative", sorted(set(PDQ_TEST_VECTORS) - {C_PNG}) or ["absent"])
def test_pdq_matches_python_reference_vectors(relative: str) -> None:
    if relative == "absent":
        pytest.skip("shared corpus not present")
    digest, quality = hash_corpus_file(relative)
    assert pdq_distance(digest, PDQ_TEST_VECTORS[relative]) <= tolerance(quality)


@pytest.mark.corpus
@pytest.mark.parametrize("relative", sorted(README_VECTORS) or ["absent"])
def test_pdq_matches_readme_vectors_and_quality(relative: str) -> None:
    if relative == "absent":
        pytest.skip("shared corpus not present")
    expected, expected_quality = README_VECTORS[relative]
    digest, quality = hash_corpus_file(relative)
    assert quality == expected_quality
    assert pdq_distance(digest, expected) <= tolerance(quality)


@pytest.mark.corpus
@pytest.mark.parametrize("relative", sorted(WASM_VECTORS) or ["absent"])
def test_pdq_within_readme_rule_of_cpp_reference(relative: str) -> None:
    if relative == "absent":
        pytest.skip("shared corpus not present")
    # The C++ tool squashes big pictures to 512x512 (CImg) where the Python one keeps the aspect
    # ratio, so for large inputs this is exactly the cross-implementation case the README rule covers.
    digest, quality = hash_corpus_file(relative)
    assert pdq_distance(digest, WASM_VECTORS[relative]) <= tolerance(quality)


@pytest.mark.corpus
def test_pdq_c_png_where_the_references_disagree() -> None:
    # pdq_test.py expects e64cc9d9... and the C++/wasm table e4cc89d9...: the two references are
    # themselves 6 bits apart on this RGBA PNG. We follow the Python reference's preparation
    # (thumbnail to 512, alpha dropped), so its vector must hold exactly, the C++ one by the README rule.
    python_ref = PDQ_TEST_VECTORS.get(C_PNG)
    cpp_ref = WASM_VECTORS.get(C_PNG)
    if python_ref is None or cpp_ref is None:
        pytest.skip("shared corpus not present")
    digest, quality = hash_corpus_file(C_PNG)
    assert quality >= README_MIN_QUALITY
    assert pdq_distance(python_ref, cpp_ref) > 0
    assert digest == python_ref
    assert pdq_distance(digest, cpp_ref) <= README_TOLERANCE


@pytest.mark.corpus
def test_pdq_vector_summary() -> None:
    """How many reference vectors we reproduce exactly (printed; run with -s to see it)."""
    tables = {
        "pdq_test.py": PDQ_TEST_VECTORS,
        "python README": {k: v[0] for k, v in README_VECTORS.items()},
        "C++ (wasm)": WASM_VECTORS,
    }
    lines = []
    for name, table in tables.items():
        present = [rel for rel in table if (CORPUS / PDQ_DIR / rel).exists()]
        if not present:
            pytest.skip("shared corpus not present")
        distances = []
        for rel in present:
            digest, quality = hash_corpus_file(rel)
            distance = pdq_distance(digest, table[rel])
            assert distance <= tolerance(quality), rel
            distances.append(distance)
        exact = sum(d == 0 for d in distances)
        lines.append(f"{name}: {exact}/{len(present)} exact, max distance {max(distances)}")
    print("\nPDQ reference vectors: " + "; ".join(lines))


@pytest.mark.corpus
def test_pdq_colour_modes_match_original() -> None:
    # The same photo saved in Pillow's modes (1, L, P, CMYK, ...): all must still match the original.
    original, _ = hash_corpus_file("misc-images/modes/original.jpg")
    for path in sorted(corpus_path(f"{PDQ_DIR}/misc-images/modes").glob("*.*")):
        if path.suffix == ".md":
            continue
        digest, _ = pdq_file(path)
        assert pdq_distance(digest, original) <= MATCH_THRESHOLD, path.name


# ---------------------------------------------------------------- PDQ dihedral variants


def dihedral_transforms(a: np.ndarray) -> list[np.ndarray]:
    """The 8 transforms of ``a`` in ``DIHEDRAL_NAMES`` order (see its docstring)."""
    transforms = [
        a,
        np.rot90(a),
        np.rot90(a, 2),
        np.rot90(a, 3),
        a[::-1],
        a[:, ::-1],
        a.swapaxes(0, 1),
        np.rot90(a, 2).swapaxes(0, 1),
    ]
    return [np.ascontiguousarray(t) for t in transforms]


@pytest.mark.parametrize("size", [64, 320, 576])
def test_pdq_dihedral_variants_exact_on_symmetric_sizes(size: int) -> None:
    # At 64*m pixels with m odd and an odd (or unit) box window, the reference's decimation grid and
    # box filter are mirror-symmetric, so a transformed picture hashes exactly to the DCT variant.
    rng = np.random.default_rng(size)
    picture = smooth_image(rng, size, size, 3)
    variants, _ = pdq_image_dihedral(picture)
    assert variants[0] == pdq_image(picture)[0]
    transforms = dihedral_transforms(picture)
    for name, variant, transformed in zip(DIHEDRAL_NAMES, variants, transforms, strict=True):
        assert pdq_image(transformed)[0] == variant, name


def test_pdq_dihedral_variants_close_on_other_sizes() -> None:
    rng = np.random.default_rng(3)
    picture = smooth_image(rng, 240, 320, 3)
    variants, _ = pdq_image_dihedral(picture)
    transforms = dihedral_transforms(picture)
    for name, variant, transformed in zip(DIHEDRAL_NAMES, variants, transforms, strict=True):
        assert pdq_distance(pdq_image(transformed)[0], variant) <= MATCH_THRESHOLD, name


@pytest.mark.corpus
def test_pdq_dihedral_variants_against_reference_dih_set() -> None:
    # reg-test-input/dih holds the bridge photo under the 8 transforms, in DIHEDRAL_NAMES order, with
    # the Python reference's hash of each. On the 512x321 thumbnail the reference's pipeline is not
    # mirror-symmetric across the columns (even box window, off-centre grid), so the variants of the
    # original land up to ~18 bits from those hashes: well inside the README's matching threshold.
    files = [
        "1-original",
        "2-rotate-90",
        "3-rotate-180",
        "4-rotate-270",
        "5-flipx",
        "6-flipy",
        "7-flip-plus-1",
        "8-flip-minus-1",
    ]
    rels = [f"reg-test-input/dih/bridge-{name}.jpg" for name in files]
    if any(rel not in PDQ_TEST_VECTORS for rel in rels):
        pytest.skip("shared corpus not present")
    variants, _ = pdq_image_dihedral(load_rgb(corpus_path(f"{PDQ_DIR}/{rels[0]}")))
    distances = [pdq_distance(v, PDQ_TEST_VECTORS[rel]) for v, rel in zip(variants, rels, strict=True)]
    assert distances[0] == 0
    assert max(distances) <= MATCH_THRESHOLD
    # The wrong variant is as far as an unrelated picture: the names line up with the transforms.
    assert pdq_distance(variants[1], PDQ_TEST_VECTORS[rels[3]]) > 64


# ---------------------------------------------------------------- PDQ batch and helpers


def reference_box_mean(vector: np.ndarray, window: int) -> np.ndarray:
    """The reference's box1DFloat, written from its phase diagram: a clipped window around each sample."""
    n = len(vector)
    half = (window + 2) // 2  # the reference's 7->4, 8->5
    out = np.empty(n)
    for k in range(n):
        lo, hi = max(0, k - (window - half)), min(n, k + half)
        out[k] = vector[lo:hi].sum() / (hi - lo)
    return out


@pytest.mark.parametrize("n", [1, 2, 5, 9, 64, 129, 300, 1601])
def test_box_filter_matches_reference_edges(n: int) -> None:
    from provenance.hashing.pdq import _box_filter

    rng = np.random.default_rng(n)
    vectors = rng.uniform(0, 255, (3, n))
    for window in sorted({1, 2, 3, 4, 7, 8, 9, 12, 13} & set(range(1, n + 1))):
        expected = np.stack([reference_box_mean(v, window) for v in vectors])
        along_rows = _box_filter(vectors[:, None, :], 2, window)[:, 0, :]
        along_cols = _box_filter(vectors.T[None, :, :], 1, window)[0].T
        np.testing.assert_allclose(along_rows, expected, rtol=0, atol=1e-9)
        np.testing.assert_allclose(along_cols, expected, rtol=0, atol=1e-9)


def test_jarosz_window_rounds_up() -> None:
    from provenance.hashing.pdq import jarosz_window

    sizes = (1, 64, 128, 129, 256, 257, 512, 1004, 1600)
    assert [jarosz_window(n) for n in sizes] == [1, 1, 1, 2, 2, 3, 4, 8, 13]


@pytest.mark.parametrize("size", [(64, 64), (128, 128), (240, 320), (300, 97), (5, 5), (1100, 1300)])
def test_pdq_batch_equals_pdq_image(size: tuple[int, int]) -> None:
    rng = np.random.default_rng(11)
    per_kind = 1 if size[0] * size[1] > 500_000 else 6  # big frames take the running-sum filter path
    frames = np.stack(
        [rng.integers(0, 256, size, dtype=np.uint8) for _ in range(per_kind)]
        + [smooth_image(rng, *size) for _ in range(per_kind)]
    )
    n = len(frames)
    hashes, quality = pdq_batch(frames)
    assert hashes.shape == (n, 32) and hashes.dtype == np.uint8 and quality.shape == (n,)
    h2, q2, dih = pdq_batch(frames, dihedral=True)
    assert dih.shape == (n, 8, 32)
    assert np.array_equal(h2, hashes) and np.array_equal(q2, quality) and np.array_equal(dih[:, 0], hashes)
    for frame, row, q, variants in zip(frames, hashes, quality, dih, strict=True):
        digest, expected_quality = pdq_image(frame)
        assert bytes(row).hex() == digest == pdq_bytes_to_hex(row)
        assert int(q) == expected_quality
        assert [pdq_bytes_to_hex(v) for v in variants] == pdq_image_dihedral(frame)[0]


def test_pdq_grey_equals_rgb_with_equal_channels() -> None:
    grey = smooth_image(np.random.default_rng(5), 200, 150)
    assert pdq_image(grey) == pdq_image(np.repeat(grey[..., None], 3, axis=2))


def test_pdq_empty_batch() -> None:
    hashes, quality = pdq_batch(np.zeros((0, 128, 128), dtype=np.uint8))
    assert hashes.shape == (0, 32) and quality.shape == (0,)
    _, _, dih = pdq_batch(np.zeros((0, 64, 64), dtype=np.uint8), dihedral=True)
    assert dih.shape == (0, 8, 32)


def test_pdq_too_small_and_flat_pictures() -> None:
    # The reference clears the hash and reports quality 0 below 5 pixels on a side.
    assert pdq_image(np.full((4, 100), 200, dtype=np.uint8)) == ("0" * 64, 0)
    hashes, quality = pdq_batch(np.zeros((3, 100, 4), dtype=np.uint8))
    assert not hashes.any() and not quality.any()
    # A flat picture has no gradients at all.
    assert pdq_image(np.full((100, 100, 3), 90, dtype=np.uint8))[1] == 0


def test_pdq_quality_rises_with_detail() -> None:
    rng = np.random.default_rng(2)
    assert pdq_image(rng.integers(0, 256, (256, 256), dtype=np.uint8))[1] == 100
    gentle = np.tile(np.linspace(100, 110, 256).astype(np.uint8), (256, 1))
    assert pdq_image(gentle)[1] < 10


@given(st.binary(min_size=32, max_size=32))
def test_pdq_hex_round_trip(raw: bytes) -> None:
    row = np.frombuffer(raw, dtype=np.uint8)
    text = pdq_bytes_to_hex(row)
    assert text == raw.hex() and len(text) == 64
    assert np.array_equal(hex_to_pdq_bytes(text), row)
    assert np.array_equal(hex_to_pdq_bytes(text.upper()), row)
    assert pdq_bytes_to_hex(raw) == text


@pytest.mark.parametrize("bad", ["", "0" * 63, "0" * 65, "z" * 64, "0" * 62 + " 0", "0" * 63 + "\n"])
def test_hex_to_pdq_bytes_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        hex_to_pdq_bytes(bad)


@settings(max_examples=50)
@given(
    st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=6),
    st.binary(min_size=32, max_size=32),
)
def test_hamming_bytes_broadcasts(rows: list[bytes], other: bytes) -> None:
    a = np.stack([np.frombuffer(r, dtype=np.uint8) for r in rows])
    b = np.frombuffer(other, dtype=np.uint8)
    expected = [bin(int.from_bytes(r, "big") ^ int.from_bytes(other, "big")).count("1") for r in rows]
    assert hamming_bytes(a, b).tolist() == expected
    assert hamming_bytes(b, a).tolist() == expected
    pairwise = hamming_bytes(a[:, None, :], a[None, :, :])
    assert pairwise.shape == (len(rows), len(rows)) and not np.diagonal(pairwise).any()


# ---------------------------------------------------------------- registry


def test_registry_declares_hashers() -> None:
    assert available_hashers() == ["phash", "pdq"]
    assert HASHERS["phash"] is PHashHasher and get_hasher("pdq") is PDQHasher
    assert (PHashHasher.BITS, PDQHasher.BITS) == (64, 256)
    for name, hasher in HASHERS.items():
        assert name == hasher.NAME and isinstance(hasher.VERSION, int) and hasher.VERSION >= 1
    with pytest.raises(ValueError, match="phash"):
        get_hasher("dhash")


def test_registry_hash_frames_agree_with_module_functions() -> None:
    rng = np.random.default_rng(4)
    frames = np.stack([smooth_image(rng, 96, 128) for _ in range(5)])
    packed, quality = PHashHasher.hash_frames(frames)
    assert packed.shape == (5, 8) and quality is None
    expected = [phash_to_hex(int(v)) for v in phash_batch(frames)]
    assert [PHashHasher.to_hex(row) for row in packed] == expected
    packed, quality = PDQHasher.hash_frames(frames)
    assert packed.shape == (5, 32) and quality is not None and quality.shape == (5,)
    assert [PDQHasher.to_hex(row) for row in packed] == [pdq_image(f)[0] for f in frames]
    empty, _ = PHashHasher.hash_frames(np.zeros((0, 32, 32), dtype=np.uint8))
    assert empty.shape == (0, 8)


def test_registry_lives_in_its_module_and_the_package_re_exports_it() -> None:
    for name in registry.__all__:
        assert getattr(provenance.hashing, name) is getattr(registry, name)
    assert set(registry.__all__) <= set(provenance.hashing.__all__)
    doc = provenance.hashing.__doc__ or ""
    assert doc.index("``phash``") < doc.index("``pdq``") < doc.index("``registry``")  # the order the work flows


def test_each_hasher_names_its_algorithm() -> None:
    assert PHashHasher.algorithm() == HashAlgorithm("phash", 64, 1) == PHASH_V1
    assert PDQHasher.algorithm() == HashAlgorithm("pdq", 256, 1) == PDQ_V1
    for hasher in HASHERS.values():
        assert hasher.algorithm() == HashAlgorithm(hasher.NAME, hasher.BITS, hasher.VERSION)
    # the default of records written before they named their algorithms: pHash 64 v1 and PDQ 256 v1
    assert (HashAlgorithm("phash", 64, 1), HashAlgorithm("pdq", 256, 1)) == LEGACY_HASH_ALGORITHMS


def test_production_hashes_are_the_registrys(mandelbrot_clip: Path) -> None:
    """Fingerprinting hashes through the registry, bit for bit what the module functions give."""
    assert fingerprinting.PHASH is get_hasher("phash") and fingerprinting.PDQ is get_hasher("pdq")
    analysis = fingerprinting.analyse(str(mandelbrot_clip), features="none")
    fp = analysis.fingerprint
    assert fp.hash_algorithms == (get_hasher("phash").algorithm(), get_hasher("pdq").algorithm())
    size = fp.params.work_size
    decoded = decode_frames(str(mandelbrot_clip), fps=fp.params.fps, width=size, height=size)
    starts = [round(shot.start * fp.params.fps) for shot in fp.shots]
    ranges = list(zip(starts, [*starts[1:], len(fp.frames)], strict=True))
    content = fingerprinting.content_frames(decoded.pixels, ranges, [s.content_box for s in fp.shots])

    packed, _ = PHashHasher.hash_frames(content)
    registry_phash = [PHashHasher.to_hex(row) for row in packed]
    assert [f.phash for f in fp.frames] == registry_phash == [phash_to_hex(int(v)) for v in phash_batch(content)]
    packed, quality = PDQHasher.hash_frames(content)
    assert quality is not None
    registry_pdq = [PDQHasher.to_hex(row) for row in packed]
    direct, direct_quality, dihedral = pdq_batch(content, dihedral=True)
    assert [f.pdq for f in fp.frames] == registry_pdq == [pdq_bytes_to_hex(row) for row in direct]
    assert [f.pdq_quality for f in fp.frames] == quality.tolist() == direct_quality.tolist()
    assert np.array_equal(analysis.dihedral_pdq, dihedral)
