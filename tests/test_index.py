"""Hamming indexes: the multi-index hash index returns exactly what the linear scan returns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.archive.index import (
    INDEXES,
    HammingIndex,
    IndexHits,
    LinearIndex,
    MultiIndexHashIndex,
    make_index,
)
from provenance.archive.index import base as base_module
from provenance.archive.index import linear as linear_module
from provenance.archive.index import mih as mih_module
from provenance.errors import ArchiveError, UsageError


def flip_bits(hashes: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Copies of ``hashes`` with exactly ``counts[i]`` distinct bits flipped in row i."""
    bits = np.unpackbits(hashes, axis=1)
    for row, count in enumerate(counts):
        bits[row, rng.choice(bits.shape[1], size=int(count), replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def reference_hits(refs: np.ndarray, queries: np.ndarray, radius: int) -> set[tuple[int, int, int]]:
    """Hits by the definition, one pair at a time (tiny inputs only)."""
    out = set()
    for q, query in enumerate(queries):
        for r, ref in enumerate(refs):
            d = int(np.unpackbits(query ^ ref).sum())
            if d <= radius:
                out.add((q, r, d))
    return out


def assert_same(a: IndexHits, b: IndexHits) -> None:
    """Identical hits, in identical order."""
    np.testing.assert_array_equal(a.query_idx, b.query_idx)
    np.testing.assert_array_equal(a.ref_idx, b.ref_idx)
    np.testing.assert_array_equal(a.distance, b.distance)


def assert_sorted(hits: IndexHits) -> None:
    """Hits are in (query, distance, ref) order."""
    order = np.lexsort((hits.ref_idx, hits.distance, hits.query_idx))
    np.testing.assert_array_equal(order, np.arange(len(hits)))


def built(cls: type[HammingIndex], refs: np.ndarray) -> HammingIndex:
    """A new index of ``cls`` built on ``refs``."""
    index = cls()
    index.build(refs)
    return index


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    nbytes=st.sampled_from([8, 32, 8, 32, 3]),  # odd widths work too; the model only uses 8 and 32
    n=st.integers(0, 60),
    m=st.integers(0, 12),
    radius_share=st.floats(0.0, 1.0),
)
def test_mih_equals_linear_and_the_definition(
    seed: int, nbytes: int, n: int, m: int, radius_share: float
) -> None:
    rng = np.random.default_rng(seed)
    refs = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    # half the queries are near copies of references, so there is something to find at small radii
    near = refs[rng.integers(0, n, size=m // 2)] if n else np.zeros((0, nbytes), np.uint8)
    near = flip_bits(near, rng.integers(0, nbytes * 2, size=len(near)), rng)
    queries = np.concatenate([near, rng.integers(0, 256, size=(m - len(near), nbytes), dtype=np.uint8)])
    radius = round(radius_share * nbytes * 8 * 0.6) if radius_share < 0.9 else nbytes * 8
    linear = built(LinearIndex, refs).search(queries, radius)
    mih = built(MultiIndexHashIndex, refs).search(queries, radius)
    assert_same(linear, mih)
    assert_sorted(mih)
    got = set(zip(mih.query_idx.tolist(), mih.ref_idx.tolist(), mih.distance.tolist(), strict=True))
    assert got == reference_hits(refs, queries, radius)


@pytest.fixture(scope="module")
def large_case() -> tuple[np.ndarray, np.ndarray]:
    """20,000 random 256-bit references; 300 queries near references, 200 random ones."""
    rng = np.random.default_rng(20240501)
    refs = rng.integers(0, 256, size=(20_000, 32), dtype=np.uint8)
    near = flip_bits(refs[rng.integers(0, len(refs), size=300)], rng.integers(0, 90, size=300), rng)
    queries = np.concatenate([near, rng.integers(0, 256, size=(200, 32), dtype=np.uint8)])
    return refs, queries


# 63 is the largest radius that 16 substrings probe (3 bits each); from 64 on the index scans instead
@pytest.mark.parametrize("radius", [0, 1, 8, 16, 31, 32, 47, 63, 64, 100])
def test_mih_equals_linear_on_20k_pdq_hashes(large_case: tuple[np.ndarray, np.ndarray], radius: int) -> None:
    refs, queries = large_case
    linear = built(LinearIndex, refs).search(queries, radius)
    mih = built(MultiIndexHashIndex, refs).search(queries, radius)
    assert_same(linear, mih)
    assert_sorted(mih)


def test_full_radius_returns_every_pair(large_case: tuple[np.ndarray, np.ndarray]) -> None:
    refs, queries = large_case
    queries = queries[::25]
    mih = built(MultiIndexHashIndex, refs).search(queries, 256)
    assert len(mih) == len(refs) * len(queries)
    assert_same(built(LinearIndex, refs).search(queries, 256), mih)


# 4 substrings probe up to 5 bits each, so 23 is the largest probed radius for 64-bit hashes
@pytest.mark.parametrize("radius", [0, 3, 8, 12, 20, 23, 24, 64])
def test_mih_equals_linear_on_20k_phashes(radius: int) -> None:
    rng = np.random.default_rng(7)
    refs = rng.integers(0, 256, size=(20_000, 8), dtype=np.uint8)
    queries = flip_bits(refs[:400], rng.integers(0, 20, size=400), rng)
    if radius == 64:
        queries = queries[:10]
    linear = built(LinearIndex, refs).search(queries, radius)
    assert_same(linear, built(MultiIndexHashIndex, refs).search(queries, radius))


def test_clustered_references_are_still_exact() -> None:
    """Many identical and near-identical references (black frames) fill single buckets."""
    rng = np.random.default_rng(3)
    base = np.zeros((1, 32), dtype=np.uint8)
    refs = np.concatenate([np.repeat(base, 3000, axis=0), flip_bits(np.repeat(base, 3000, axis=0),
                                                                     rng.integers(0, 40, 3000), rng),
                           rng.integers(0, 256, size=(3000, 32), dtype=np.uint8)])
    queries = np.concatenate([base, flip_bits(np.repeat(base, 20, axis=0), rng.integers(0, 30, 20), rng)])
    for radius in (0, 10, 31):
        assert_same(built(LinearIndex, refs).search(queries, radius),
                    built(MultiIndexHashIndex, refs).search(queries, radius))


def test_small_candidate_budget_splits_blocks_and_stays_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(9)
    refs = rng.integers(0, 256, size=(4000, 32), dtype=np.uint8)
    queries = flip_bits(refs[:64], rng.integers(0, 40, 64), rng)
    expected = built(LinearIndex, refs).search(queries, 40)
    index = built(MultiIndexHashIndex, refs)
    halved = []
    search_block = MultiIndexHashIndex._search_block

    def counted(self: MultiIndexHashIndex, qvalues: np.ndarray, *args: object) -> object:
        halved.append(len(qvalues))
        return search_block(self, qvalues, *args)

    monkeypatch.setattr(MultiIndexHashIndex, "_search_block", counted)
    assert_same(expected, index.search(queries, 40))
    assert halved == [64]  # the default budget takes all 64 queries at once
    halved.clear()
    monkeypatch.setattr(mih_module, "CANDIDATE_BUDGET", 500)
    assert_same(expected, index.search(queries, 40))
    assert len(halved) > 1 and min(halved) < 64  # the patched budget took effect


def test_popcount_table_matches_numpy_popcount() -> None:
    words = np.random.default_rng(2).integers(0, 2**64 - 1, size=(100, 4), dtype=np.uint64, endpoint=True)
    expected = np.array([[bin(int(v)).count("1") for v in row] for row in words])
    np.testing.assert_array_equal(base_module.popcount_by_table(words), expected)


@pytest.mark.parametrize("cls", [LinearIndex, MultiIndexHashIndex])
def test_planted_near_duplicates_are_found_at_their_distance(cls: type[HammingIndex]) -> None:
    rng = np.random.default_rng(11)
    refs = rng.integers(0, 256, size=(5000, 32), dtype=np.uint8)
    planted_rows = np.array([10, 999, 2500, 4999, 77])
    planted_dist = np.array([0, 5, 17, 31, 32])
    queries = flip_bits(refs[planted_rows], planted_dist, rng)
    hits = built(cls, refs).search(queries, 32)
    for q, (row, dist) in enumerate(zip(planted_rows, planted_dist, strict=True)):
        mine = hits.ref_idx[hits.query_idx == q]
        assert row in mine
        assert hits.distance[(hits.query_idx == q) & (hits.ref_idx == row)][0] == dist
    # random 256-bit hashes are ~128 bits apart: nothing else is within 32 bits
    assert len(hits) == len(planted_rows)
    assert len(built(cls, refs).search(queries, 30)) == 3


@pytest.mark.parametrize("cls", [LinearIndex, MultiIndexHashIndex])
def test_empty_index_and_empty_queries(cls: type[HammingIndex]) -> None:
    empty_refs = np.zeros((0, 32), dtype=np.uint8)
    queries = np.ones((3, 32), dtype=np.uint8)
    hits = built(cls, empty_refs).search(queries, 10)
    assert len(hits) == 0 and hits.query_idx.dtype == np.int64 and hits.distance.dtype == np.int32
    index = built(cls, np.ones((5, 32), dtype=np.uint8))
    assert len(index.search(np.zeros((0, 32), dtype=np.uint8), 10)) == 0


@pytest.mark.parametrize("cls", [LinearIndex, MultiIndexHashIndex])
def test_bad_inputs_are_refused(cls: type[HammingIndex]) -> None:
    index = cls()
    with pytest.raises(ValueError, match="build"):
        index.search(np.zeros((1, 8), dtype=np.uint8), 1)
    with pytest.raises(ValueError, match="uint8"):
        index.build(np.zeros((4, 8), dtype=np.int64))
    index.build(np.zeros((4, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="bytes per hash"):
        index.search(np.zeros((1, 32), dtype=np.uint8), 1)
    with pytest.raises(ValueError, match="radius"):
        index.search(np.zeros((1, 8), dtype=np.uint8), -1)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    refs = rng.integers(0, 256, size=(3000, 32), dtype=np.uint8)
    queries = flip_bits(refs[:50], rng.integers(0, 40, 50), rng)
    index = built(MultiIndexHashIndex, refs)
    assert isinstance(index, MultiIndexHashIndex)
    path = tmp_path / "archive.sqlite.mih"  # no .npz suffix: save must not add one
    index.save(path, key="archive-id:42")
    assert path.exists() and not list(tmp_path.glob("*.tmp"))
    loaded = MultiIndexHashIndex.load(path)
    assert loaded.key == "archive-id:42" and len(loaded) == len(refs)
    for radius in (0, 20, 40):
        assert_same(index.search(queries, radius), loaded.search(queries, radius))


def test_load_refuses_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.npz"
    path.write_bytes(b"not an npz file")
    with pytest.raises(ArchiveError, match="delete it"):
        MultiIndexHashIndex.load(path)


def test_registry_and_protocol() -> None:
    assert set(INDEXES) == {"linear", "mih", "sampled"}
    for name in INDEXES:
        index = make_index(name)
        assert isinstance(index, HammingIndex)
        assert name == index.NAME
    with pytest.raises(UsageError, match="linear, mih, sampled"):
        make_index("annoy")


def test_table_popcount_path_gives_the_same_hits(monkeypatch: pytest.MonkeyPatch) -> None:
    """numpy 1.26 has no bitwise_count: the table fallback must give identical results."""
    rng = np.random.default_rng(4)
    refs = rng.integers(0, 256, size=(300, 32), dtype=np.uint8)
    queries = flip_bits(refs[:20], rng.integers(0, 50, 20), rng)
    expected = built(LinearIndex, refs).search(queries, 40)
    calls = []

    def by_table(words: np.ndarray) -> np.ndarray:
        calls.append(words.shape)
        return base_module.popcount_by_table(words)

    for module in (linear_module, mih_module):  # each module that counts bits uses the name it imported
        monkeypatch.setattr(module, "popcount_words", by_table)
    assert_same(expected, built(LinearIndex, refs).search(queries, 40))
    assert calls  # the patched function was the one used
    calls.clear()
    assert_same(expected, built(MultiIndexHashIndex, refs).search(queries, 40))
    assert calls
