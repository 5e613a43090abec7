"""Bit-sampling hash tables over archived items, for archives too big to scan: ``SampledBitsIndex``.

Stage one finds the items (groups) a query may match, stage two scans their frames exactly, so
the result is approximate only in the items it misses. ``open_sampled_index`` keeps the index in a
folder beside the archive, rebuilt (or extended, when items were only added) as the archive changes.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import ClassVar

import numpy as np

from provenance.archive.arrays import load_array, save_arrays, saved_key
from provenance.archive.index.base import IndexHits, check_hashes, check_radius, ragged, to_words
from provenance.archive.index.linear import linear_search
from provenance.errors import ArchiveError

SAMPLED_TABLES = 8
"""Hash tables of ``SampledBitsIndex`` (memory grows with them, and so does recall)."""

SAMPLED_KEY_BITS = 32
"""Bits sampled from the hash into each table's key: few enough that a near duplicate often agrees on
all of them, enough that unrelated frames almost never do (one chance in 2^32 per table)."""

FALLBACK_SHARE = 0.25
"""When the candidate groups hold more than this share of all references, scanning everything is cheaper."""

SAMPLED_PROBE_BITS = 1
"""Also look up each key with one of its bits flipped: 33 lookups per table, but a pair ``d`` bits apart
is then found about ``1 + 32 d / 256`` times as often, which is what finds frames 40-50 bits apart."""

PROBE_LOOKUP_BUDGET = 200_000
"""Table lookups one search may make; a query of at most ``200_000 / (8 * 529)`` = 47 hashes (a still in 8
orientations, or a clip of a few frames) can afford flipping two key bits."""

_SAMPLED_FORMAT = 1
_KEY_CHUNK = 1 << 17  # rows whose keys are computed, and whose pairs are sorted, at once (a few MiB)
_EMPTY_PAIRS = np.zeros(0, dtype=np.uint64)


class SampledBitsIndex:
    """Approximate radius search for archives too large to scan: find the groups, then scan them exactly.

    References belong to groups (the archived items their frames come from). Stage one finds the
    groups that may hold a match: each of ``tables`` hash tables is keyed by ``key_bits`` bits sampled
    at fixed random positions of the hash (bit-sampling LSH) and holds the distinct (key, group) pairs
    of all references, sorted. A query's keys are looked up in every table (with ``probe_bits`` = 1
    also each key with any one bit flipped, and any two for queries of a few hashes, see
    ``probe_depth``), and every group found is a candidate. Stage two compares every query with every
    reference of the candidate groups, exactly, at the requested radius.

    So every pair returned is one the linear scan returns, with the same distance, and a pair is
    missed only when no query at all met its group in any table. A frame ``d`` bits from a reference
    agrees with it on a 32-bit key with probability ``(1 - d / 256) ** 32`` (0.28 at d = 10, 0.019 at
    d = 30), and on all but one of those bits with ``32 d / 256`` times more; a clip that matches an
    item brings many frame pairs to 8 tables, so whole items are found with near certainty, while a
    group met only by a few far pairs (d above about 50) can be missed. ``tests/test_perf_paths.py``
    measures this recall against ``LinearIndex``; ``bench/index.py`` measures it at scale. Unrelated
    keys collide once in 2^32 lookups per table, so stage two stays small.

    The index keeps keys and group numbers (8 bytes per distinct key of a group in a table), and a
    view of the caller's hashes for stage two: ``save`` writes the tables as ``.npy`` files into a
    folder and ``load`` opens them memory-mapped, with the same hashes again. ``extend`` adds the
    references of new groups to a built or loaded index.
    """

    NAME: ClassVar[str] = "sampled"

    def __init__(self, tables: int = SAMPLED_TABLES, key_bits: int = SAMPLED_KEY_BITS,
                 probe_bits: int = SAMPLED_PROBE_BITS, seed: int = 20240607) -> None:
        """An empty index; call ``build`` or ``SampledBitsIndex.load``."""
        if not 1 <= key_bits <= 32 or tables < 1 or probe_bits not in (0, 1):
            raise ValueError("need 1..32 key bits, at least one table and probe_bits 0 or 1")
        self.tables, self.key_bits, self.probe_bits, self.seed = tables, key_bits, probe_bits, seed
        self.key = ""
        """Free text saved with the index, e.g. the archive id and generation it was built from."""
        self._nbytes: int | None = None
        self._words = np.zeros((0, 1), dtype=np.uint64)
        self._positions = np.zeros((tables, key_bits), dtype=np.int64)
        self._table_keys: list[np.ndarray] = []
        self._table_groups: list[np.ndarray] = []
        self._group_starts = np.zeros(1, dtype=np.int64)  # rows of group g: _group_rows[starts[g]:starts[g+1]]
        self._group_rows: np.ndarray | None = None  # None: the rows are already in group order

    def __len__(self) -> int:
        """The number of indexed hashes."""
        return int(self._words.shape[0])

    @property
    def nbytes(self) -> int:
        """Memory held by the index itself (tables and group map; the hashes belong to the caller)."""
        arrays = [*self._table_keys, *self._table_groups, self._group_starts]
        if self._group_rows is not None:
            arrays.append(self._group_rows)
        return int(sum(a.nbytes for a in arrays))

    def _keys(self, hashes: np.ndarray, tables: slice = slice(None)) -> np.ndarray:
        """(N, nbytes) uint8 to (tables, N) uint32: each table's sampled bits, first one most significant."""
        n = hashes.shape[0]
        positions = self._positions[tables]
        out = np.zeros((len(positions), n), dtype=np.uint32)
        byte, shift = positions // 8, (7 - positions % 8).astype(np.uint8)  # bit 0 is the MSB of byte 0
        for start in range(0, n, _KEY_CHUNK):
            by_byte = np.ascontiguousarray(hashes[start : start + _KEY_CHUNK].T)  # (nbytes, n): rows gather fast
            part = out[:, start : start + _KEY_CHUNK]
            for j in range(self.key_bits):
                bit = (by_byte[byte[:, j]] >> shift[:, j, None]) & np.uint8(1)
                part |= bit.astype(np.uint32) << np.uint32(self.key_bits - 1 - j)
        return out

    def build(self, hashes: np.ndarray, groups: np.ndarray | None = None) -> None:
        """Index the reference hashes; ``groups`` (N,) says which group (item) each belongs to.

        Without groups every reference is its own group, and stage two only verifies the references
        whose keys matched. The tables are built from blocks of ``_KEY_CHUNK`` references (see
        ``_table_pairs``), so building needs little memory beyond the finished index.
        """
        hashes = check_hashes(hashes, "reference hashes")
        n, nbytes = hashes.shape
        group_of = None if groups is None else _group_ids(groups)
        if group_of is not None and group_of.shape != (n,):
            raise ValueError(f"groups must be one number per hash ({n}), got shape {group_of.shape}")
        rng = np.random.default_rng(self.seed)
        self._positions = np.stack([rng.choice(nbytes * 8, self.key_bits, replace=False)
                                    for _ in range(self.tables)]).astype(np.int64)
        self._nbytes, self._words = nbytes, to_words(hashes)
        self._group_starts, self._group_rows, dense = _group_map(group_of, n)
        if len(self._group_starts) - 1 > 2**32 - 1:
            raise ValueError("too many groups for 32-bit group numbers")
        pairs_of = self._table_pairs(hashes, dense)
        self._table_keys, self._table_groups = [], []
        for t in range(self.tables):
            pairs_of[t].sort(kind="stable")  # timsort merges the sorted runs in a few passes
            pairs = _distinct_sorted(pairs_of[t])  # a group that spans two blocks has pairs in both
            pairs_of[t] = _EMPTY_PAIRS  # frees the table's buffer (unless ``pairs`` is that buffer)
            self._table_groups.append(pairs.astype(np.uint32))  # the low 32 bits
            pairs >>= np.uint64(32)
            self._table_keys.append(pairs.astype(np.uint32))
            del pairs  # else it lives on while the next table is merged

    def extend(self, hashes: np.ndarray, groups: np.ndarray) -> bool:
        """Index ``hashes[len(self):]`` too, whose ``groups`` come after every group already indexed.

        ``hashes`` and ``groups`` are the whole references: their first ``len(self)`` rows are the
        ones the index holds. Each table's new (key, group) pairs are merged into its sorted pairs,
        so the tables are exactly those a fresh ``build`` gives, at a fraction of the work. Returns
        False, changing nothing, when the rows are not laid out that way (groups out of order, or
        an old group continued in the new rows); ``build`` is then the way.
        """
        hashes = check_hashes(hashes, "reference hashes", self._nbytes)
        group_of = _group_ids(groups)
        n, old = hashes.shape[0], len(self)
        if self._nbytes is None or self._group_rows is not None or group_of.shape != (n,) or n < old:
            return False
        starts, rows, _ = _group_map(group_of, n)
        known = len(self._group_starts)
        if rows is not None or len(starts) < known or not np.array_equal(starts[:known], self._group_starts):
            return False
        if n == old:
            return True
        keys = self._keys(hashes[old:])
        dense = _dense_groups(starts, None, old, n)
        for t in range(self.tables):
            new = keys[t].astype(np.uint64)
            new <<= np.uint64(32)
            new |= dense
            pairs = self._table_keys[t].astype(np.uint64)
            pairs <<= np.uint64(32)
            pairs |= self._table_groups[t]
            pairs = np.concatenate([pairs, np.sort(new)])
            pairs.sort(kind="stable")  # two sorted runs: one merge
            pairs = _distinct_sorted(pairs)
            self._table_groups[t] = pairs.astype(np.uint32)
            pairs >>= np.uint64(32)
            self._table_keys[t] = pairs.astype(np.uint32)
        self._words, self._group_starts = to_words(hashes), starts
        return True

    def _table_pairs(self, hashes: np.ndarray, dense: np.ndarray | None) -> list[np.ndarray]:
        """Per table, one buffer of sorted runs: for each block of ``_KEY_CHUNK`` references, its distinct pairs.

        A pair is the uint64 ``key << 32 | group``; one per distinct (key, group), as an item's
        similar frames share keys. Sorting a block at a time needs a few MiB where one sort of all
        N pairs needed 8 bytes per reference, and is faster too (a block fits in the caches).

        Each table's runs go into one buffer with room for N pairs, filled from the front: the
        pages never written (the repeats of a block) are never given memory, and freeing the buffer
        returns all of it at once, where thousands of small arrays would leave the allocator's heap
        fragmented and resident.
        """
        n = hashes.shape[0]
        buffers = [np.empty(n, dtype=np.uint64) for _ in range(self.tables)]
        filled = [0] * self.tables
        for start in range(0, n, _KEY_CHUNK):
            stop = min(n, start + _KEY_CHUNK)
            keys = self._keys(hashes[start:stop])
            group = _dense_groups(self._group_starts, dense, start, stop)
            for t in range(self.tables):
                pairs = keys[t].astype(np.uint64)
                pairs <<= np.uint64(32)
                pairs |= group
                pairs.sort()
                run = _distinct_sorted(pairs)
                buffers[t][filled[t] : filled[t] + len(run)] = run
                filled[t] += len(run)
        return [buffer[:used] for buffer, used in zip(buffers, filled, strict=True)]

    def candidate_groups(self, queries: np.ndarray) -> np.ndarray:
        """Stage one: the (sorted, distinct) group numbers that some query meets in some table."""
        if self._nbytes is None:
            raise ValueError("the index is empty: call build() or load() first")
        queries = check_hashes(queries, "queries", self._nbytes)
        keys = self._keys(queries)
        flips = _flip_masks(self.key_bits, self.probe_depth(len(queries)))
        keys = (keys[:, :, None] ^ flips[None, None, :]).reshape(self.tables, -1)
        keys = np.sort(keys, axis=1)  # ascending needles: each binary search starts where the last ended
        found = []
        for t in range(self.tables):
            table = self._table_keys[t]
            lo = np.searchsorted(table, keys[t], side="left")
            hit = lo < len(table)
            hit[hit] = table[lo[hit]] == keys[t][hit]
            if hit.any():
                needles = np.unique(keys[t][hit])
                lo = np.searchsorted(table, needles, side="left")
                hi = np.searchsorted(table, needles, side="right")
                found.append(self._table_groups[t][ragged(lo, hi - lo)])
        return np.unique(np.concatenate(found)).astype(np.int64) if found else np.zeros(0, dtype=np.int64)

    def probe_depth(self, queries: int) -> int:
        """Key bits flipped when probing: ``probe_bits``, or 2 when the query is small enough to afford it.

        A still, or a clip of a few frames, has few frames to meet its item with, so each of them
        probes further (529 lookups per key instead of 33) while the lookups stay within
        ``PROBE_LOOKUP_BUDGET``.
        """
        depth = self.probe_bits
        if depth and queries * self.tables * len(_flip_masks(self.key_bits, 2)) <= PROBE_LOOKUP_BUDGET:
            depth = 2
        return depth

    def search(self, queries: np.ndarray, radius: int) -> IndexHits:
        """References within ``radius`` bits of each query, among the groups stage one finds."""
        radius = check_radius(radius)
        groups = self.candidate_groups(queries)
        query_words = to_words(check_hashes(queries, "queries", self._nbytes))
        starts = self._group_starts[groups]
        rows = ragged(starts, self._group_starts[groups + 1] - starts)
        if self._group_rows is not None:
            rows = self._group_rows[rows]
        if len(rows) > FALLBACK_SHARE * len(self):
            return linear_search(np.ascontiguousarray(self._words.T), query_words, radius)
        hits = linear_search(np.ascontiguousarray(self._words[rows].T), query_words, radius)
        return IndexHits.from_unsorted(hits.query_idx, rows[hits.ref_idx], hits.distance)

    def save(self, path: str | Path, *, key: str | None = None) -> None:
        """Write the index (not the hashes) into the folder ``path`` as ``.npy`` files, replacing it whole;
        ``key`` (default: the index's own) tags it (see ``provenance.archive.arrays``)."""
        if self._nbytes is None:
            raise ValueError("the index is empty: call build() before save()")
        key = self.key if key is None else key
        meta = {"format": _SAMPLED_FORMAT, "name": self.NAME, "nbytes": self._nbytes, "rows": len(self),
                "tables": self.tables, "key_bits": self.key_bits, "probe_bits": self.probe_bits,
                "seed": self.seed, "key": key}
        rows = self._group_rows if self._group_rows is not None else np.zeros(0, dtype=np.int64)
        arrays = {"meta": np.array(json.dumps(meta)), "positions": self._positions,
                  "group_starts": self._group_starts, "group_rows": rows}
        for t, (keys, groups) in enumerate(zip(self._table_keys, self._table_groups, strict=True)):
            arrays[f"keys{t}"], arrays[f"groups{t}"] = keys, groups
        save_arrays(Path(path), key, arrays)

    @staticmethod
    def read_key(path: str | Path) -> str | None:
        """The key the index in the folder ``path`` was saved with, or None when it is missing or unreadable."""
        return saved_key(Path(path))

    def same_groups(self, groups: np.ndarray) -> bool:
        """Whether ``groups`` (one per hash) gives the group map this index was built with."""
        group_of = _group_ids(groups)
        starts, rows, _ = _group_map(group_of, len(group_of))
        same_rows = (rows is None and self._group_rows is None) or (
            rows is not None and self._group_rows is not None and np.array_equal(rows, self._group_rows))
        return same_rows and np.array_equal(starts, self._group_starts)

    @classmethod
    def load(cls, path: str | Path, hashes: np.ndarray) -> SampledBitsIndex:
        """Read an index written by ``save``, for the same ``hashes`` it was built on.

        Raises ``ArchiveError`` when the file is unreadable or was built for other hashes (another
        count or hash length).
        """
        path = Path(path)
        hashes = check_hashes(hashes, "reference hashes")
        try:
            meta = json.loads(str(load_array(path, "meta")[()]))
            positions, group_starts, group_rows = (
                load_array(path, n) for n in ("positions", "group_starts", "group_rows"))
            tables = int(meta["tables"]) if isinstance(meta, dict) else 0
            keys = [load_array(path, f"keys{t}") for t in range(tables)]
            groups = [load_array(path, f"groups{t}") for t in range(tables)]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ArchiveError(f"the index {path} is unreadable ({exc}): delete it, it is rebuilt") from exc
        try:
            if not isinstance(meta, dict) or (meta.get("format"), meta.get("name")) != (_SAMPLED_FORMAT, cls.NAME):
                raise ValueError("another format")
            if (int(meta["rows"]), int(meta["nbytes"])) != hashes.shape:
                raise ValueError(f"built for {meta['rows']} hashes of {meta['nbytes']} bytes, not {hashes.shape}")
            index = cls(tables, int(meta["key_bits"]), int(meta["probe_bits"]), int(meta["seed"]))
            if (positions.shape != (index.tables, index.key_bits)
                    or any(k.ndim != 1 or k.shape != g.shape for k, g in zip(keys, groups, strict=True))
                    or int(group_starts[-1]) != hashes.shape[0] or len(group_rows) not in (0, hashes.shape[0])):
                raise ValueError("array shapes disagree")
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ArchiveError(f"the index {path} is not usable ({exc}): delete it, it is rebuilt") from exc
        index._positions = positions.astype(np.int64)
        index._nbytes, index._words = hashes.shape[1], to_words(hashes)
        index._group_starts = group_starts.astype(np.int64)
        index._group_rows = group_rows.astype(np.int64) if len(group_rows) else None
        index._table_keys, index._table_groups = keys, groups
        index.key = str(meta.get("key", ""))
        return index


def _flip_masks(bits: int, depth: int) -> np.ndarray:
    """XOR masks of up to ``depth`` (0, 1 or 2) set bits among the low ``bits``, the zero mask first."""
    ones = np.left_shift(np.uint32(1), np.arange(bits, dtype=np.uint32))
    masks = [np.zeros(1, dtype=np.uint32)]
    if depth >= 1:
        masks.append(ones)
    if depth >= 2:
        i, j = np.triu_indices(bits, k=1)
        masks.append(ones[i] | ones[j])
    return np.concatenate(masks)


def _group_ids(groups: np.ndarray) -> np.ndarray:
    """``groups`` as an integer array: as given when it is one (an int32 archive's ids are not widened)."""
    group_of = np.asarray(groups)
    return group_of if group_of.dtype.kind in "iu" else group_of.astype(np.int64)


def _group_map(group_of: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(starts, rows or None, dense or None) for the group of each of ``n`` rows (None: a group per row).

    Groups are renumbered 0..G-1 in order of value; the rows of group g are ``rows[starts[g]:starts[g + 1]]``,
    or ``starts[g]:starts[g + 1]`` when rows is None (groups already in order, as the archive's frame table
    is). ``dense``, the group number of each row, is only made when the groups are out of order; in order,
    ``_dense_groups`` derives it from the starts a block at a time.
    """
    if group_of is None:
        return np.arange(n + 1, dtype=np.int64), None, None
    if n == 0:
        return np.zeros(1, dtype=np.int64), None, None
    if np.all(group_of[1:] >= group_of[:-1]):  # no sort, and no N-sized group numbers
        first = np.flatnonzero(np.r_[True, group_of[1:] != group_of[:-1]])
        return np.r_[first, n].astype(np.int64), None, None
    _, dense = np.unique(group_of, return_inverse=True)
    counts = np.bincount(dense)
    return np.r_[0, np.cumsum(counts)].astype(np.int64), np.argsort(dense, kind="stable").astype(np.int64), dense


def _dense_groups(starts: np.ndarray, dense: np.ndarray | None, start: int, stop: int) -> np.ndarray:
    """The group numbers of rows ``start:stop`` as uint64, from ``_group_map``'s starts and dense."""
    if dense is not None:
        return dense[start:stop].astype(np.uint64)
    lo = int(np.searchsorted(starts, start, side="right")) - 1  # the group of row ``start``
    hi = int(np.searchsorted(starts, stop, side="left"))  # one past the group of row ``stop - 1``
    counts = np.diff(np.clip(starts[lo : hi + 1], start, stop))
    return np.repeat(np.arange(lo, hi, dtype=np.uint64), counts)


def _distinct_sorted(values: np.ndarray) -> np.ndarray:
    """A sorted 1-D array without its repeats (the array itself when it has none)."""
    keep = np.empty(len(values), dtype=bool)
    keep[:1] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values if keep.all() else values[keep]


def open_sampled_index(path: str | Path, key: str, hashes: np.ndarray, groups: np.ndarray,
                       grown_from: tuple[str, int] | None = None, **options: int) -> SampledBitsIndex:
    """The persisted ``SampledBitsIndex`` at ``path`` if it was built for ``key``, else a new one, saved there.

    ``key`` names the state of the references (e.g. archive id and generation): a file with another
    key is stale and is rebuilt, unless it was built for ``grown_from``'s key, the state whose
    references are the first ``grown_from[1]`` rows of these: then only the rest are added. The file
    is replaced atomically; when it cannot be written (a read-only folder), the index is still
    returned, only not kept.
    """
    saved = SampledBitsIndex.read_key(path)
    wanted = {key: len(hashes), **({grown_from[0]: grown_from[1]} if grown_from else {})}
    index = None
    if saved in wanted:
        with contextlib.suppress(ArchiveError):  # unusable: rebuilt below
            found = SampledBitsIndex.load(path, hashes[: wanted[saved]])
            # the key again: a folder swapped in while this one was opened would mix two states
            if SampledBitsIndex.read_key(path) == saved and found.same_groups(groups[: wanted[saved]]):
                if saved == key:
                    return found
                index = found if found.extend(hashes, groups) else None
    if index is None:
        index = SampledBitsIndex(**options)
        index.build(hashes, groups)
    index.key = key
    with contextlib.suppress(OSError):  # an index that cannot be kept is rebuilt next time, same results
        index.save(path)
    return index
