"""The persisted LSH index over archived ORB descriptors: its answers against a brute-force scan,
and its folder beside the archive (saved, reopened, refused when stale or damaged)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from provenance.archive.descriptor_index import (
    DescriptorIndex,
    FeatureTable,
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
    assert [tables_for(b) for b in (20, 21, 22, 32)] == [4, 6, 6, 16]


def test_longer_keys_are_saved_and_reopened(tmp_path: Path) -> None:
    item_ids, frames = random_frames(8)
    index = DescriptorIndex.build(FeatureTable.of(item_ids, frames), key_bits=25)
    index.save(tmp_path / "f", "k")
    again = DescriptorIndex.load(tmp_path / "f", "k")
    assert again is not None and again.positions.shape == (tables_for(25), 25)
    queries = frames[3].descriptors[:40]
    assert all(np.array_equal(a, b) for a, b in zip(index.two_nearest(queries), again.two_nearest(queries),
                                                     strict=True))
