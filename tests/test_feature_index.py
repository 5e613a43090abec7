"""The persisted LSH index over archived ORB descriptors: its answers against a brute-force scan and
against a plain one-query-at-a-time search over the same candidates, and its folder beside the
archive (saved, reopened, refused when stale or damaged)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.archive.descriptor_index import (
    KEY_BITS,
    DescriptorIndex,
    FeatureTable,
    hamming,
    key_size,
    open_descriptor_index,
    tables_for,
)
from provenance.vision.features import FrameFeatures

POPCOUNT = np.array([bin(i).count("1") for i in range(256)])


def random_frames(seed: int, frames: int = 40, per_frame: int = 200) -> tuple[np.ndarray, list[FrameFeatures]]:
    """Feature frames of random descriptors, five frames an item."""
    rng = np.random.default_rng(seed)
    out = [FrameFeatures(i / 2, rng.random((per_frame, 2), dtype=np.float32),
                         rng.integers(0, 256, (per_frame, 32), dtype=np.uint8), 16 / 9) for i in range(frames)]
    return np.arange(frames) // 5 + 1, out


def flip_bits(rows: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    """Each row with ``bits`` of its 256 bits flipped at random."""
    unpacked = np.unpackbits(rows, axis=1)
    for row in unpacked:
        row[rng.choice(256, bits, replace=False)] ^= 1
    return np.packbits(unpacked, axis=1)


def brute_two_nearest(table: FeatureTable, queries: np.ndarray) -> np.ndarray:
    """(Q, 2) the two smallest distances from each query to every descriptor."""
    distances = POPCOUNT[table.descriptors[None, :, :] ^ queries[:, None, :]].sum(axis=2)
    return np.sort(distances, axis=1)[:, :2]


@pytest.mark.parametrize("key_bits", [None, 27])
def test_near_copies_are_found_with_their_exact_distances(key_bits: int | None) -> None:
    item_ids, frames = random_frames(1)
    table = FeatureTable.of(item_ids, frames)
    index = DescriptorIndex.build(table, key_bits)  # 27: the keys of an archive of ~10^8 descriptors
    rng = np.random.default_rng(2)
    targets = rng.choice(len(table.descriptors), 400, replace=False)
    queries = flip_bits(table.descriptors[targets], 12, rng)
    nearest, first, second = index.two_nearest(queries)
    exact = brute_two_nearest(table, queries)
    found = nearest >= 0
    assert found.mean() > 0.9  # 12 of 256 bits off: LSH finds nearly all of them
    assert (nearest[found] == targets[found]).all()
    assert (first[found] == exact[found, 0]).all()  # distances are exact, not estimates
    assert (second[found] >= exact[found, 1]).all() and (second[found] >= first[found]).all()
    assert (second[found] <= 257).all()  # 257: no second candidate was found


@pytest.mark.parametrize(("bits_off", "low", "high"), [(20, 0.93, 1.0), (40, 0.32, 0.52)])
def test_near_copies_are_found_as_often_as_the_key_sampling_predicts(bits_off: int, low: float, high: float) -> None:
    # 1 - (1 - (1 - d/256)^20)^16: 0.97 at 20 bits off, 0.42 at 40 (the module's figures), for 600 queries
    item_ids, frames = random_frames(11)
    table = FeatureTable.of(item_ids, frames)
    index = DescriptorIndex.build(table)
    rng = np.random.default_rng(12)
    targets = rng.choice(len(table.descriptors), 600, replace=False)
    nearest, _, _ = index.two_nearest(flip_bits(table.descriptors[targets], bits_off, rng))
    assert low <= (nearest == targets).mean() <= high


def test_unrelated_descriptors_find_nothing_close() -> None:
    item_ids, frames = random_frames(3)
    index = DescriptorIndex.build(FeatureTable.of(item_ids, frames))
    queries = np.random.default_rng(4).integers(0, 256, (300, 32), dtype=np.uint8)
    nearest, first, _ = index.two_nearest(queries)
    assert (first[nearest >= 0] > 60).all()  # random 256-bit strings are about 128 bits apart


def test_folder_is_reopened_for_its_key_and_refused_otherwise(tmp_path: Path) -> None:
    item_ids, frames = random_frames(5)
    folder = tmp_path / "archive.sqlite.features"
    reads = []

    def read_all() -> tuple[np.ndarray, list[FrameFeatures]]:
        reads.append(1)
        return item_ids, frames

    built = open_descriptor_index(folder, "id:1", read_all)
    again = open_descriptor_index(folder, "id:1", read_all)
    assert len(reads) == 1  # the second open read the folder, not the archive
    queries = frames[7].descriptors[:50]
    assert all(np.array_equal(a, b) for a, b in zip(built.two_nearest(queries), again.two_nearest(queries),
                                                     strict=True))
    assert DescriptorIndex.load(folder, "id:2") is None  # another generation: stale
    open_descriptor_index(folder, "id:2", read_all)
    assert len(reads) == 2 and (folder / "key").read_text() == "id:2"
    (folder / "keys0.npy").unlink()
    assert DescriptorIndex.load(folder, "id:2") is None  # damaged: rebuilt by the next open


def test_an_index_saved_with_fewer_tables_is_rebuilt(tmp_path: Path) -> None:
    # an earlier version kept four tables at 20 bits (probed one bit around each key): searched at its keys
    # alone it would miss most near copies, so it is not reopened but rebuilt from the archive
    item_ids, frames = random_frames(6)
    built = DescriptorIndex.build(FeatureTable.of(item_ids, frames))
    older = DescriptorIndex(built.table, built.positions[:4], built.keys[:4], built.rows[:4])
    folder = tmp_path / "archive.sqlite.features"
    older.save(folder, "id:1")
    assert DescriptorIndex.load(folder, "id:1") is None
    reopened = open_descriptor_index(folder, "id:1", lambda: (item_ids, frames))
    assert reopened.positions.shape == (tables_for(20), 20)
    assert DescriptorIndex.load(folder, "id:1") is not None  # saved again, whole


def test_item_frames_are_found_by_item_id() -> None:
    item_ids, frames = random_frames(6)
    table = FeatureTable.of(item_ids, frames)
    assert table.item_frames(3).tolist() == [10, 11, 12, 13, 14]
    assert table.item_frames(99).tolist() == []
    assert table.frame_of(np.array([table.frame_start[12], table.frame_start[13] - 1])).tolist() == [12, 12]


@pytest.mark.parametrize("count", [0, 1])
def test_tables_too_small_for_a_second_neighbour(count: int) -> None:
    item_ids, frames = random_frames(7, frames=count, per_frame=1)
    index = DescriptorIndex.build(FeatureTable.of(item_ids, frames))
    queries = frames[0].descriptors if count else np.zeros((1, 32), np.uint8)
    nearest, first, second = index.two_nearest(queries)
    assert (second == 257).all()  # never two candidates, so the ratio test can never pass
    assert nearest.tolist() == ([0] if count else [-1]) and first.tolist() == ([0] if count else [257])


def test_keys_and_tables_grow_with_the_archive() -> None:
    sizes = [10**3, 2**19, 2**20, 10**6, 10**8, 10**10]
    bits = [key_size(n) for n in sizes]
    assert bits[:2] == [20, 20] and bits == sorted(bits) and bits[-1] == 32
    assert [tables_for(b) for b in (20, 21, 22, 32)] == [16, 6, 6, 16]


def test_longer_keys_are_saved_and_reopened(tmp_path: Path) -> None:
    item_ids, frames = random_frames(8)
    index = DescriptorIndex.build(FeatureTable.of(item_ids, frames), key_bits=25)
    index.save(tmp_path / "f", "k")
    again = DescriptorIndex.load(tmp_path / "f", "k")
    assert again is not None and again.positions.shape == (tables_for(25), 25)
    queries = frames[3].descriptors[:40]
    assert all(np.array_equal(a, b) for a, b in zip(index.two_nearest(queries), again.two_nearest(queries),
                                                     strict=True))


def keys_of(descriptors: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(tables, N) each table's key of each descriptor, computed bit by bit."""
    bits = np.unpackbits(descriptors, axis=1).astype(np.int64)
    weights = 1 << np.arange(positions.shape[1] - 1, -1, -1)
    return np.stack([bits[:, pos] @ weights for pos in positions])


def plain_nearest_and_rival(index: DescriptorIndex, queries: np.ndarray) -> tuple[np.ndarray, ...]:
    """What ``nearest_and_rival`` must answer, one query at a time: among the rows whose key in some
    table equals the query's (or is one bit away, for keys longer than KEY_BITS), the nearest (lowest row
    of ties), and the nearest of another item than that row's."""
    table = index.table
    row_keys, query_keys = keys_of(table.descriptors, index.positions), keys_of(queries, index.positions)
    row_item = table.frame_item[table.frame_of(np.arange(len(table.descriptors)))]
    out = np.array([[-1, 257, -1, 257]] * len(queries), dtype=np.int64)
    for q in range(len(queries)):
        apart = row_keys ^ query_keys[:, q:q + 1]  # (tables, D)
        near = (apart == 0) if index.positions.shape[1] <= KEY_BITS else ((apart & (apart - 1)) == 0)
        met = np.flatnonzero(near.any(axis=0))  # equal (or one bit apart) in some table
        if not len(met):
            continue
        distance = POPCOUNT[table.descriptors[met] ^ queries[q]].sum(axis=1)
        nearest = met[distance == distance.min()].min()
        out[q, :2] = nearest, distance.min()
        other = row_item[met] != row_item[nearest]
        if other.any():
            out[q, 2:] = met[other][distance[other] == distance[other].min()].min(), distance[other].min()
    return tuple(out.T)


def clustered_table(seed: int, frames: int, per_frame: int, bases: int, noise: int,
                    grouped: bool) -> tuple[FeatureTable, np.ndarray]:
    """A table whose descriptors are near copies of a few bases (as consecutive frames of footage
    are), some frames empty, items either in runs or interleaved; and queries near those bases."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (bases, 32), dtype=np.uint8)
    out = []
    for f in range(frames):
        n = 0 if f % 7 == 3 else per_frame
        desc = flip_bits(base[rng.integers(0, bases, n)], noise, rng) if noise else base[rng.integers(0, bases, n)]
        out.append(FrameFeatures(f / 2, rng.random((n, 2), dtype=np.float32), desc.reshape(n, 32), 16 / 9))
    items = np.arange(frames) // 4 + 1 if grouped else np.arange(frames) % 3 + 1
    queries = flip_bits(base[rng.integers(0, bases, 60)], 4, rng)
    return FeatureTable.of(items, out), queries


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.integers(1, 40), st.integers(1, 12),
       st.integers(0, 10), st.booleans(), st.sampled_from([None, 21]))
def test_nearest_and_rival_is_the_plain_search_over_the_same_candidates(
        seed: int, frames: int, per_frame: int, bases: int, noise: int, grouped: bool, key_bits: int | None) -> None:
    # None: the sixteen tables of a small archive, looked up at the key; 21: a larger archive's, multi-probed
    table, queries = clustered_table(seed, frames, per_frame, bases, noise, grouped)
    index = DescriptorIndex.build(table, key_bits)
    found = index.nearest_and_rival(queries)
    expected = plain_nearest_and_rival(index, queries)
    assert all(np.array_equal(a, b) for a, b in zip(found, expected, strict=True))


def test_ties_over_many_blocks_and_chunks_go_to_the_lowest_rows() -> None:
    # exact copies of three descriptors: every query meets thousands of rows at distance 0, more
    # than one chunk of pairs, in more than one block of queries
    table, _ = clustered_table(9, frames=60, per_frame=120, bases=3, noise=0, grouped=True)
    queries = table.descriptors[np.random.default_rng(10).integers(0, len(table.descriptors), 1500)]
    index = DescriptorIndex.build(table)
    found = index.nearest_and_rival(queries)
    expected = plain_nearest_and_rival(index, queries)
    assert all(np.array_equal(a, b) for a, b in zip(found, expected, strict=True))
    assert (found[1] == 0).all() and (found[3] == 0).all()  # each base is in every item


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 300))
def test_hamming_counts_the_bits_apart(seed: int, count: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (count, 32), dtype=np.uint8)
    b = rng.integers(0, 256, (count, 32), dtype=np.uint8)
    b[: count // 4] = a[: count // 4]  # identical: 0
    b[count // 4: count // 2] = ~a[count // 4: count // 2]  # complements: 256
    expected = POPCOUNT[a ^ b].sum(axis=1)
    assert np.array_equal(hamming(a.view(np.uint64), b.view(np.uint64)), expected)
    assert hamming(a.view(np.uint64), b.view(np.uint64)).dtype == np.int64


def test_item_of_rows_agrees_with_their_frames() -> None:
    table, _ = clustered_table(11, frames=30, per_frame=5, bases=4, noise=3, grouped=False)
    rows = np.arange(len(table.descriptors))
    assert np.array_equal(table.item_of(rows), table.frame_item[table.frame_of(rows)])
    empty = FeatureTable.of(np.zeros(0, np.int64), [])
    assert empty.item_of(np.zeros(0, np.int64)).tolist() == []
