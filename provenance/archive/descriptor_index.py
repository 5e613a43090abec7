"""The archive's local-feature descriptors, searchable by LSH and kept beside the archive.

Every archived feature frame's ORB descriptors (256 bits each) are flattened into one table. A
bit-sampling LSH finds a query descriptor's neighbours: each table keys every descriptor by
``KEY_BITS`` bits sampled at fixed random positions (longer keys and more tables for a larger
archive, see ``key_size`` and ``tables_for``), sorted; the descriptors a query's lookups find are
compared exactly, keeping the two nearest for the ratio test.

- **Up to 2^19 descriptors** (keys of ``KEY_BITS``), ``EXACT_TABLES`` tables are looked up at the
  query's own key. A true match ``d`` bits away shares a table's key with probability ``(1-p)^20``
  for ``p = d / 256``: 0.20 at d = 20 and 0.03 at d = 40, so 0.97 and 0.42 over sixteen tables.
- **Beyond**, fewer tables are looked up at the key and at every key one bit away (multi-probe, as
  FLANN's LSH does): probability ``(1-p)^k + k p (1-p)^(k-1)`` per table for keys of ``k`` bits; at
  20 bits, 0.53 at d = 20 and 0.16 at d = 40, so 0.95 and 0.50 over four tables.

A frame pair needs only a share of its many matches. Both find near copies about as often; the exact
lookups meet less than half the candidates (a search costs the descriptors it meets, and the twenty
keys around a key that common descriptors fill are full too), at four times the memory: an index
keeps 8 bytes per descriptor per table. That memory is spent only while it is small (16 tables of
2^19 descriptors take 64 MiB); the tables a larger archive would need to keep those odds at its
longer keys would take several times the descriptors' own size.

The arrays are ``.npy`` files in a folder beside the archive (``ARCHIVE.features``), opened
memory-mapped: a check reads the sorted keys it probes and the descriptors it compares, not the
whole table, so its cost grows slowly with the archive. The folder is tagged with the archive's id
and generation and rebuilt (then swapped in whole) when the archive has changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from provenance.archive.arrays import load_array, save_arrays, saved_key
from provenance.archive.index import popcount_words, ragged
from provenance.vision.features import (
    CANDIDATES_PER_FRAME,
    MIN_INLIERS,
    MIN_VOTES,
    RATIO,
    SEARCH_DESCRIPTORS,
    FrameFeatures,
    FramePair,
    fit,
)

EXACT_TABLES = 16  # tables at KEY_BITS, each looked up at the query's key alone
TABLES = 4  # multi-probed tables: this many at KEY_BITS (where EXACT_TABLES serve), two more every two bits more
KEY_BITS = 20  # bits of a key up to 2^19 descriptors; one more for every doubling beyond, up to 32
SEED = 20241128
_CHUNK = 65_536  # descriptors keyed at a time (their unpacked bits take 16 MiB)
UNRELATED_BITS = 128  # how far apart descriptors of unrelated pictures are, on average
_QUERY_BLOCK = 1024  # query descriptors whose candidates are compared at once
_PAIR_CHUNK = 16_384  # (query, candidate) pairs whose distances are computed at once
_ROW_BITS = 40  # a (distance, row) pair is packed as distance << _ROW_BITS | row (rows below 2^40)
_ROW_MASK = np.uint64((1 << _ROW_BITS) - 1)
_NONE = np.uint64(2**64 - 1)  # no candidate: above every packed pair


@dataclass(frozen=True)
class FeatureTable:
    """The archived feature frames, flattened: descriptors in frame order, frames in (item, time) order."""

    descriptors: np.ndarray  # (D, 32) uint8
    points: np.ndarray  # (D, 2) float32, 0..1 in the frame's feature image
    frame_start: np.ndarray  # (F + 1,) int64: the descriptors of frame f are rows frame_start[f]:frame_start[f+1]
    frame_item: np.ndarray  # (F,) int64 archive item id
    frame_time: np.ndarray  # (F,) float64 seconds
    frame_aspect: np.ndarray  # (F,) float64 width / height of the feature image

    @staticmethod
    def of(item_ids: np.ndarray, frames: list[FrameFeatures]) -> FeatureTable:
        """The table of ``frames`` (in (item, time) order), ``item_ids[i]`` being the item of frame i."""
        sizes = np.array([len(f.descriptors) for f in frames], dtype=np.int64)
        return FeatureTable(
            descriptors=(np.concatenate([f.descriptors for f in frames]) if sizes.sum()
                         else np.zeros((0, 32), np.uint8)),
            points=np.concatenate([f.points for f in frames]) if sizes.sum() else np.zeros((0, 2), np.float32),
            frame_start=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            frame_item=np.asarray(item_ids, dtype=np.int64),
            frame_time=np.array([f.time for f in frames], dtype=np.float64),
            frame_aspect=np.array([f.aspect for f in frames], dtype=np.float64),
        )

    def frame_of(self, rows: np.ndarray) -> np.ndarray:
        """The frame of each descriptor row."""
        return np.searchsorted(self.frame_start, rows, side="right") - 1

    @cached_property
    def _item_runs(self) -> tuple[np.ndarray, np.ndarray]:
        """The first row of each run of one item's frames, and that run's item."""
        if not len(self.frame_item):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        starts = np.flatnonzero(np.concatenate([[True], self.frame_item[1:] != self.frame_item[:-1]]))
        return self.frame_start[starts], self.frame_item[starts]

    def item_of(self, rows: np.ndarray) -> np.ndarray:
        """The item of each descriptor row (``frame_item[frame_of(rows)]``, searching the few runs of
        items rather than every frame)."""
        run_row, run_item = self._item_runs
        return run_item[np.searchsorted(run_row, rows, side="right") - 1]

    def item_frames(self, item_id: int) -> np.ndarray:
        """The frame rows of one item, in time order."""
        lo, hi = np.searchsorted(self.frame_item, [item_id, item_id + 1])
        return np.arange(lo, hi)


def _keys(descriptors: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(tables, N) uint32 keys: each table's sampled bits of each descriptor, first most significant."""
    out = np.empty((len(positions), len(descriptors)), dtype=np.uint32)
    bits = positions.shape[1]
    weights = (1 << np.arange(bits - 1, -1, -1)).astype(np.uint32)
    for start in range(0, len(descriptors), _CHUNK):
        unpacked = np.unpackbits(descriptors[start:start + _CHUNK], axis=1)
        for t, pos in enumerate(positions):
            out[t, start:start + _CHUNK] = unpacked[:, pos].astype(np.uint32) @ weights
    return out


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) int64: the bits apart of each row pair of two (N, 4) uint64 arrays (256-bit descriptors)."""
    counts = popcount_words(a ^ b)  # (N, 4) uint8
    distance = counts[:, 0].astype(np.int64)
    for word in range(1, counts.shape[1]):
        distance += counts[:, word]
    return distance


def _packed_distances(reference: np.ndarray, rows: np.ndarray, words: np.ndarray,
                      queries: np.ndarray) -> np.ndarray:
    """(N,) uint64: ``distance << _ROW_BITS | row`` of each candidate ``rows[k]`` of ``reference``
    against its query ``words[queries[k]]`` (all as (., 4) uint64 words)."""
    packed = np.empty(len(rows), dtype=np.uint64)
    # in chunks whose 32-byte rows stay in cache between the gather, the XOR and the popcount;
    # take, not fancy indexing: it copies each row whole, several times faster
    for at in range(0, len(rows), _PAIR_CHUNK):
        part = slice(at, at + _PAIR_CHUNK)
        packed[part] = hamming(np.take(reference, rows[part], axis=0), np.take(words, queries[part], axis=0))
    packed <<= np.uint64(_ROW_BITS)
    packed |= rows.view(np.uint64)
    return packed


def key_size(descriptors: int) -> int:
    """Key bits for a table of this many descriptors: KEY_BITS up to 2^19, one more per doubling, at most 32."""
    return int(min(32, max(KEY_BITS, int(np.ceil(np.log2(max(descriptors, 2)))) + 1)))


def multi_probed(key_bits: int) -> bool:
    """Whether tables of keys of ``key_bits`` are looked up at each key's one-bit neighbours too (beyond
    KEY_BITS), rather than at the key alone."""
    return key_bits > KEY_BITS


def tables_for(key_bits: int) -> int:
    """Tables for keys of ``key_bits``: EXACT_TABLES at KEY_BITS (looked up at the key alone); beyond,
    multi-probed, TABLES and two more for every two bits more (a longer key is shared less often by a
    near copy, and more tables make up for it)."""
    if not multi_probed(key_bits):
        return EXACT_TABLES
    return TABLES + 2 * ((key_bits - KEY_BITS + 1) // 2)


class DescriptorIndex:
    """Approximate two-nearest-neighbour search over a ``FeatureTable``'s descriptors (Hamming)."""

    def __init__(self, table: FeatureTable, positions: np.ndarray, keys: list[np.ndarray],
                 rows: list[np.ndarray]) -> None:
        """An index over ``table``: per table, its sampled bit positions, sorted keys and their rows."""
        self.table, self.positions, self.keys, self.rows = table, positions, keys, rows

    @property
    def flips(self) -> np.ndarray:
        """The masks that turn a key into the keys looked up: itself, and beyond KEY_BITS its one-bit neighbours."""
        bits = self.positions.shape[1]
        if not multi_probed(bits):
            return np.zeros(1, dtype=np.uint32)
        return np.concatenate([[0], 1 << np.arange(bits)]).astype(np.uint32)

    @classmethod
    def build(cls, table: FeatureTable, key_bits: int | None = None) -> DescriptorIndex:
        """Key every descriptor in every table and sort (deterministic: fixed seed, stable sort).

        Keys get longer as the table grows (``key_size``), so the descriptors of unrelated footage
        met per lookup stay few; the tables grow with them, to keep finding near matches.
        """
        bits = key_bits or key_size(len(table.descriptors))
        rng = np.random.default_rng(SEED)
        positions = np.stack([rng.choice(256, bits, replace=False)
                              for _ in range(tables_for(bits))]).astype(np.int64)
        all_keys = _keys(table.descriptors, positions)
        keys, rows = [], []
        for t in range(len(positions)):
            order = np.argsort(all_keys[t], kind="stable").astype(np.uint32)
            keys.append(all_keys[t][order])
            rows.append(order)
        return cls(table, positions, keys, rows)

    def two_nearest(self, descriptors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each query descriptor: the nearest row found, its distance, and the distance of the
        nearest row of another item (``nearest_and_rival`` without the rival's row)."""
        nearest, first, _, second = self.nearest_and_rival(descriptors)
        return nearest, first, second

    def nearest_and_rival(self, descriptors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For each query descriptor: the nearest row found, its distance, the nearest row of another
        item (the rival), and the rival's distance.

        The second is what Lowe's ratio test weighs the first against: consecutive frames of one
        video hold near-identical descriptors, which say nothing against a match, while a near
        descriptor in other footage makes it ambiguous. The row is -1 (distances 257) where no
        candidate was found, the second distance 257 where no other item's was. Queries go in
        blocks; within a block every candidate is compared (a row met twice is compared twice, which
        costs less than sorting the duplicates away).
        """
        n = len(descriptors)
        nearest = np.full(n, -1, dtype=np.int64)
        first = np.full(n, 257, dtype=np.int64)
        rival = np.full(n, -1, dtype=np.int64)
        second = np.full(n, 257, dtype=np.int64)
        if not n or not len(self.table.descriptors):
            return nearest, first, rival, second
        reference = np.asarray(self.table.descriptors).view(np.uint64)  # (D, 4), no copy
        query_words = np.ascontiguousarray(descriptors).view(np.uint64)
        probes = _keys(descriptors, self.positions)[:, :, None] ^ self.flips[None, None, :]  # (T, n, probes)
        for start in range(0, n, _QUERY_BLOCK):
            stop = min(n, start + _QUERY_BLOCK)
            # (distance, row) packed in one word: its minimum is the nearest distance and the lowest
            # row of ties at once
            best = np.full(stop - start, _NONE, dtype=np.uint64)
            met = []
            for queries, rows in self._candidates(probes[:, start:stop]):
                packed = _packed_distances(reference, rows, query_words[start:stop], queries)
                np.minimum.at(best, queries, packed)
                met.append((queries, rows, packed))
            # a block's queries meet all their candidates in it, so their nearest rows are final here
            other_item = self._other_item((best & _ROW_MASK).astype(np.int64))
            closest = np.full(stop - start, _NONE, dtype=np.uint64)
            for queries, rows, packed in met:
                np.minimum.at(closest, queries, np.where(other_item(rows, queries), packed, _NONE))
            for packs, row_out, distance_out in ((best, nearest, first), (closest, rival, second)):
                found = packs != _NONE
                distance_out[start:stop][found] = (packs[found] >> _ROW_BITS).astype(np.int64)
                row_out[start:stop][found] = (packs[found] & _ROW_MASK).astype(np.int64)
        return nearest, first, rival, second

    def _other_item(self, nearest: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """A test of candidates ``rows`` of queries ``queries``: whether each is of another item than
        its query's nearest row ``nearest[query]``."""
        run_row, run_item = self.table._item_runs
        if len(np.unique(run_item)) < len(run_item):  # an item in several runs: compare the items
            nearest_item = self.table.item_of(nearest)
            return lambda rows, queries: self.table.item_of(rows) != nearest_item[queries]
        # each item's rows are one range: a candidate is of another item when outside its nearest's
        # (one unsigned comparison: rows before the range wrap round to beyond it)
        run = np.searchsorted(run_row, nearest, side="right") - 1
        low = run_row[run]
        width = (np.append(run_row[1:], len(self.table.descriptors))[run] - low).view(np.uint64)
        return lambda rows, queries: (rows - low[queries]).view(np.uint64) >= width[queries]

    def _twins(self, nearest: np.ndarray, first: np.ndarray, rival: np.ndarray) -> np.ndarray:
        """Which rivals are the nearest row's own point in another copy of the footage: closer to the
        nearest row than the query descriptor itself is.

        The ratio test rejects a match that a descriptor of other footage makes ambiguous. Archived
        twice (a re-share beside its original, two encodings of one clip), the footage holds each
        point twice, and the second copy would make every match of the first ambiguous: the query's
        match would be lost to the copy, and found only while nothing else of that scene is
        archived. A rival that lies nearer the nearest row than the query does is that same point.
        """
        twin = np.zeros(len(nearest), dtype=bool)
        known = np.flatnonzero((nearest >= 0) & (rival >= 0))
        if len(known):
            reference = np.asarray(self.table.descriptors).view(np.uint64)
            apart = hamming(np.take(reference, nearest[known], axis=0), np.take(reference, rival[known], axis=0))
            twin[known] = apart <= first[known]
        return twin

    def _candidates(self, probes: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(query, row) pairs of every row whose key equals a probe of ``probes`` (tables, queries,
        flips), over all tables (with repeats), in chunks of about ``_PAIR_CHUNK`` pairs."""
        flips = len(self.flips)
        for t in range(len(self.positions)):
            keys, rows = np.asarray(self.keys[t]), np.asarray(self.rows[t])  # plain views: no memmap per slice
            # probes in key order: numpy's binary search then starts from the last one's answer, and
            # reads keys still in cache; the order of the pairs does not change the answer.
            # Only the probes found need the end of their run of keys
            order = np.argsort(probes[t].ravel())
            needles = probes[t].ravel()[order]
            lo = np.searchsorted(keys, needles, side="left")
            found = lo < len(keys)
            found[found] = keys[lo[found]] == needles[found]
            if not found.any():
                continue
            queries, lo = order[found] // flips, lo[found]
            counts = np.searchsorted(keys, needles[found], side="right") - lo
            ends = np.cumsum(counts)
            cuts = np.searchsorted(ends, np.arange(_PAIR_CHUNK, int(ends[-1]), _PAIR_CHUNK), side="right")
            bounds = np.unique(np.concatenate([[0], cuts, [len(counts)]]))
            for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
                yield (np.repeat(queries[a:b], counts[a:b]),
                       np.take(rows, ragged(lo[a:b], counts[a:b])).astype(np.int64))

    def pairs(self, query: tuple[FrameFeatures, ...], *, mirrored: bool) -> list[FramePair]:
        """Frame pairs between ``query`` frames and archived frames that pass the geometric check.

        Each query frame's strongest keypoints vote, through their nearest archived descriptor
        (Lowe's ratio test), for archived frames; the most voted frames are fitted (RANSAC).
        """
        usable = [q for q in query if len(q.descriptors) >= MIN_INLIERS]
        if not usable or not len(self.table.descriptors):
            return []
        searched = [q.descriptors[:SEARCH_DESCRIPTORS] for q in usable]
        nearest, first, rival_row, second = self.nearest_and_rival(np.concatenate(searched))
        twin = self._twins(nearest, first, rival_row)
        found: list[FramePair] = []
        start = 0
        for q, desc in zip(usable, searched, strict=True):
            stop = start + len(desc)
            # Lowe's ratio test, against the nearest in other footage; where the search met none, or met
            # only the same point in a copy of the same footage, against the distance of unrelated
            # descriptors (half the bits). A match that passes also votes for the rival's frame, held to
            # the unrelated distance as if its item were archived alone: the query may show that other
            # item too (a crop of an original whose re-share is archived beside it), and each item must
            # be found whatever else is archived; the geometric check then decides.
            part = slice(start, stop)
            rival = np.where((second[part] <= 256) & ~twin[part], second[part], UNRELATED_BITS)
            good = (nearest[part] >= 0) & (first[part] < RATIO * rival)
            both = good & (rival_row[part] >= 0) & (second[part] < RATIO * UNRELATED_BITS)
            qi = np.concatenate([np.flatnonzero(good), np.flatnonzero(both)])
            ti = np.concatenate([nearest[part][good], rival_row[part][both]])
            start = stop
            if len(qi) < MIN_VOTES:
                continue
            frames_of = self.table.frame_of(ti)
            frames, votes = np.unique(frames_of, return_counts=True)
            for row in frames[np.argsort(-votes, kind="stable")][:CANDIDATES_PER_FRAME]:
                sel = frames_of == row
                if sel.sum() < MIN_VOTES:
                    break
                archived = FrameFeatures(float(self.table.frame_time[row]), np.zeros((0, 2), np.float32),
                                         np.zeros((0, 32), np.uint8), float(self.table.frame_aspect[row]))
                pair = fit(q, archived, q.points[qi[sel]], np.asarray(self.table.points)[ti[sel]], int(row),
                           mirrored)
                if pair is not None:
                    found.append(pair)
        return found

    def save(self, folder: Path, key: str) -> None:
        """Write the table and index as ``.npy`` files into ``folder``, replacing it whole."""
        arrays = {"descriptors": self.table.descriptors, "points": self.table.points,
                  "frame_start": self.table.frame_start, "frame_item": self.table.frame_item,
                  "frame_time": self.table.frame_time, "frame_aspect": self.table.frame_aspect,
                  "positions": self.positions}
        for t in range(len(self.positions)):
            arrays[f"keys{t}"], arrays[f"rows{t}"] = self.keys[t], self.rows[t]
        save_arrays(folder, key, arrays)

    @classmethod
    def load(cls, folder: Path, key: str) -> DescriptorIndex | None:
        """The index saved in ``folder`` for ``key``, memory-mapped; None when missing, stale or damaged."""
        if saved_key(folder) != key:
            return None
        try:
            def read(name: str) -> np.ndarray:
                return load_array(folder, name)

            table = FeatureTable(read("descriptors"), read("points"), np.array(read("frame_start")),
                                 np.array(read("frame_item")), np.array(read("frame_time")),
                                 np.array(read("frame_aspect")))
            positions = np.array(read("positions"))
            index = cls(table, positions, [read(f"keys{t}") for t in range(len(positions))],
                        [read(f"rows{t}") for t in range(len(positions))])
        except (OSError, ValueError):
            return None
        sizes_agree = (len(table.frame_start) == len(table.frame_item) + 1
                       and int(table.frame_start[-1]) == len(table.descriptors) == len(table.points)
                       and all(len(k) == len(r) == len(table.descriptors)
                               for k, r in zip(index.keys, index.rows, strict=True)))
        shape_agrees = index.positions.ndim == 2 and index.positions.shape[0] == tables_for(index.positions.shape[1])
        # a folder swapped in while this one was opened would mix two archive states: read the key again
        return index if sizes_agree and shape_agrees and saved_key(folder) == key else None


def open_descriptor_index(folder: Path, key: str,
                          read_all: Callable[[], tuple[np.ndarray, list[FrameFeatures]]]) -> DescriptorIndex:
    """The index kept in ``folder`` if it was built for ``key``; else one built from ``read_all()``
    (which returns the item ids and the feature frames, in (item, time) order) and saved there.

    When the folder cannot be written (a read-only archive folder), the index is used unsaved.
    """
    index = DescriptorIndex.load(folder, key)
    if index is not None:
        return index
    item_ids, frames = read_all()
    index = DescriptorIndex.build(FeatureTable.of(item_ids, frames))
    with contextlib.suppress(OSError):
        index.save(folder, key)
    return index
