"""Hamming-distance search over binary hashes (pHash: 8 bytes, PDQ: 32 bytes), apart from the store.

Every index implements the small ``HammingIndex`` protocol: ``build`` on an (N, nbytes) uint8
array of reference hashes, then ``search`` for all references within ``radius`` bits of each query.
Implementations are registered by ``NAME`` in ``INDEXES``:

* ``LinearIndex`` ("linear"): the reference. XOR + popcount of every pair, vectorised with numpy
  and processed in blocks of queries to bound memory.
* ``MultiIndexHashIndex`` ("mih"): multi-index hashing (Norouzi, Punjani & Fleet, 2012). The hash
  is cut into m substrings of 16 bits; if two hashes are within r bits, then by the pigeonhole
  principle at least one substring differs by at most floor(r / m) bits. Per substring, the
  references are sorted by substring value; a query probes every value within floor(r / m) bits
  of its own substrings, the union of the buckets found is verified with the full distance. The
  result is exact: the same hits as ``LinearIndex``. When the radius is so large that probing
  would touch most of the references anyway, it scans linearly instead (still exact). At the
  matcher's radius (64 of 256 bits) that is always the case, so it is no faster than the scan.
* ``SampledBitsIndex`` ("sampled"): for archives too big to scan. Bit-sampling hash tables find the
  archived items a query may match; their frames are then scanned exactly. Approximate (a pair is
  missed only when its whole item is), with its recall measured against ``LinearIndex`` in the
  tests and ``bench/index.py``; persisted beside the archive (``open_sampled_index``).

All return ``IndexHits`` sorted by (query_idx, distance, ref_idx).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from provenance.archive.arrays import load_array, save_arrays, saved_key
from provenance.errors import ArchiveError, UsageError

BLOCK_BYTES = 64 << 20
"""Upper bound on the temporary arrays of one block of a linear search (about 64 MiB)."""

PROBE_BUDGET = 1_000_000
"""Most bucket probes a multi-index search makes at once (sets its block of queries)."""

CANDIDATE_BUDGET = 2_000_000
"""Most candidate pairs a multi-index search verifies at once (a block of queries is halved until it fits)."""

_POPCOUNT_TABLE = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount_by_table(words: np.ndarray) -> np.ndarray:
    """Bits set per element of a uint64 array, as uint8 (same shape), by a 256-entry table."""
    as_bytes = np.ascontiguousarray(words).view(np.uint8).reshape(*words.shape, 8)
    return _POPCOUNT_TABLE[as_bytes].sum(axis=-1, dtype=np.uint8)


# numpy >= 2.0 has a popcount ufunc; 1.26 (still supported) does not
popcount_words = getattr(np, "bitwise_count", _popcount_by_table)


def _to_words(hashes: np.ndarray) -> np.ndarray:
    """(N, nbytes) uint8 → (N, ceil(nbytes / 8)) uint64; zero padding leaves distances unchanged."""
    n, nbytes = hashes.shape
    width = -(-nbytes // 8) * 8
    if width != nbytes:
        padded = np.zeros((n, width), dtype=np.uint8)
        padded[:, :nbytes] = hashes
        hashes = padded
    return np.ascontiguousarray(hashes).view(np.uint64)


def _check_hashes(hashes: np.ndarray, what: str, nbytes: int | None = None) -> np.ndarray:
    array = np.asarray(hashes)
    if array.ndim != 2 or array.dtype != np.uint8:
        raise ValueError(f"{what} must be an (N, nbytes) uint8 array, got {array.dtype} {array.shape}")
    if array.shape[1] == 0:
        raise ValueError(f"{what} must have at least one byte per hash")
    if nbytes is not None and array.shape[1] != nbytes:
        raise ValueError(f"{what} have {array.shape[1]} bytes per hash but the index was built with {nbytes}")
    return np.ascontiguousarray(array)


@dataclass(frozen=True, eq=False)
class IndexHits:
    """Pairs (query, reference) within the search radius: three parallel arrays.

    Sorted by (query_idx, distance, ref_idx).
    """

    query_idx: np.ndarray  # (K,) int64, row of the query array
    ref_idx: np.ndarray  # (K,) int64, row of the array the index was built on
    distance: np.ndarray  # (K,) int32, Hamming distance in bits

    def __len__(self) -> int:
        """The number of hits."""
        return int(self.query_idx.shape[0])

    @staticmethod
    def empty() -> IndexHits:
        """No hits."""
        return IndexHits(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32))

    @staticmethod
    def from_unsorted(query_idx: np.ndarray, ref_idx: np.ndarray, distance: np.ndarray) -> IndexHits:
        """Sort parallel arrays into the canonical (query, distance, ref) order."""
        order = np.lexsort((ref_idx, distance, query_idx))
        return IndexHits(query_idx[order].astype(np.int64), ref_idx[order].astype(np.int64),
                         distance[order].astype(np.int32))


@runtime_checkable
class HammingIndex(Protocol):
    """An exact radius search under Hamming distance."""

    NAME: ClassVar[str]

    def build(self, hashes: np.ndarray) -> None:
        """Index reference hashes, an (N, nbytes) uint8 array; replaces what was indexed before."""
        ...

    def search(self, queries: np.ndarray, radius: int) -> IndexHits:
        """All (query, reference) pairs within ``radius`` bits, for an (M, nbytes) uint8 query array."""
        ...


def _check_radius(radius: int) -> int:
    if int(radius) != radius or radius < 0:
        raise ValueError(f"radius must be a non-negative integer, got {radius!r}")
    return int(radius)


def _linear_search(ref_columns: np.ndarray, query_words: np.ndarray, radius: int) -> IndexHits:
    """Every query against every reference, in blocks of queries.

    References come word-major, (W, N): each step below is then one contiguous (block, N)
    operation, which numpy does several times faster than reducing over a short last axis.
    """
    width, n = ref_columns.shape
    m = query_words.shape[0]
    if n == 0 or m == 0:
        return IndexHits.empty()
    block = max(1, BLOCK_BYTES // (n * 16))
    found_q, found_r, found_d = [], [], []
    for start in range(0, m, block):
        chunk = query_words[start : start + block]
        dist = np.zeros((chunk.shape[0], n), dtype=np.int32)
        for w in range(width):
            dist += popcount_words(chunk[:, w, None] ^ ref_columns[w][None, :])
        q, r = np.nonzero(dist <= radius)
        found_q.append(q + start)
        found_r.append(r)
        found_d.append(dist[q, r])
    return IndexHits.from_unsorted(np.concatenate(found_q), np.concatenate(found_r), np.concatenate(found_d))


class LinearIndex:
    """Brute force: compares each query with every reference. Exact, and the yardstick for others."""

    NAME: ClassVar[str] = "linear"

    def __init__(self) -> None:
        """An empty index; call ``build``."""
        self._nbytes: int | None = None
        self._columns = np.zeros((1, 0), dtype=np.uint64)

    def __len__(self) -> int:
        """The number of indexed hashes."""
        return int(self._columns.shape[1])

    def build(self, hashes: np.ndarray) -> None:
        """Keep the reference hashes (as 64-bit words)."""
        hashes = _check_hashes(hashes, "reference hashes")
        self._nbytes = hashes.shape[1]
        self._columns = np.ascontiguousarray(_to_words(hashes).T)

    def search(self, queries: np.ndarray, radius: int) -> IndexHits:
        """All references within ``radius`` bits of each query (see ``HammingIndex.search``)."""
        if self._nbytes is None:
            raise ValueError("the index is empty: call build() first")
        queries = _check_hashes(queries, "queries", self._nbytes)
        return _linear_search(self._columns, _to_words(queries), _check_radius(radius))


SUBSTRING_BITS = 16
_N_VALUES = 1 << SUBSTRING_BITS
_VALUE_POPCOUNT = _POPCOUNT_TABLE[np.arange(_N_VALUES) & 0xFF] + _POPCOUNT_TABLE[np.arange(_N_VALUES) >> 8]
_INDEX_FILE_FORMAT = 1


def _probe_masks(bits: int) -> np.ndarray:
    """Every 16-bit XOR mask with at most ``bits`` bits set, fewest bits first."""
    values = np.arange(_N_VALUES, dtype=np.int64)
    keep = bits >= _VALUE_POPCOUNT
    return values[keep][np.argsort(_VALUE_POPCOUNT[keep], kind="stable")]


class MultiIndexHashIndex:
    """Exact Hamming radius search by multi-index hashing over 16-bit substrings.

    For N references the index holds, per substring, the row order sorted by substring value and a
    table of bucket boundaries (found with ``np.searchsorted`` on the sorted values, so a bucket
    lookup is two array reads). ``save``/``load`` persist it as a ``.npz`` file.
    """

    NAME: ClassVar[str] = "mih"

    def __init__(self) -> None:
        """An empty index; call ``build`` or ``MultiIndexHashIndex.load``."""
        self.key = ""
        """Free text saved with the index, e.g. the archive id and generation it was built from."""
        self._set(np.zeros((0, 2), dtype=np.uint8), np.zeros((1, 0), dtype=np.int64),
                  np.zeros((1, _N_VALUES + 1), dtype=np.int64))
        self._nbytes: int | None = None  # nothing built yet

    def __len__(self) -> int:
        """The number of indexed hashes."""
        return int(self._hashes.shape[0])

    @property
    def substrings(self) -> int:
        """m, the number of 16-bit substrings the hash is cut into."""
        return int(self._orders.shape[0])

    @staticmethod
    def _substring_values(hashes: np.ndarray) -> np.ndarray:
        """(N, nbytes) uint8 → (N, m) int64 substring values (big-endian pairs of bytes)."""
        n, nbytes = hashes.shape
        if nbytes % 2:
            hashes = np.concatenate([hashes, np.zeros((n, 1), dtype=np.uint8)], axis=1)
        return hashes.view(">u2").astype(np.int64)

    def build(self, hashes: np.ndarray) -> None:
        """Index the reference hashes: one sorted order and bucket table per 16-bit substring."""
        hashes = _check_hashes(hashes, "reference hashes")
        values = self._substring_values(hashes)
        orders = np.argsort(values, axis=0, kind="stable").T.copy()
        sorted_values = np.take_along_axis(values, orders.T, axis=0).T
        probe = np.arange(_N_VALUES + 1, dtype=np.int64)
        bounds = np.stack([np.searchsorted(row, probe, side="left") for row in sorted_values])
        self._set(hashes, orders, bounds)

    def _set(self, hashes: np.ndarray, orders: np.ndarray, bounds: np.ndarray) -> None:
        n = hashes.shape[0]
        self._nbytes = hashes.shape[1]
        self._hashes = hashes
        self._columns = np.ascontiguousarray(_to_words(hashes).T)  # (W, N): one row per 64-bit word
        self._orders = orders
        self._bounds = bounds
        # One flat array of all m sorted orders, and bucket bounds as offsets into it, so a probe
        # (substring j, value v) is the slice flat_bounds[j, v] : flat_bounds[j, v + 1].
        self._flat_orders = orders.astype(np.int32 if n < 2**31 else np.int64).ravel()
        first_of_substring = np.arange(orders.shape[0], dtype=np.int64) * n
        self._flat_bounds = bounds.astype(np.int64) + first_of_substring[:, None]

    def search(self, queries: np.ndarray, radius: int) -> IndexHits:
        """All references within ``radius`` bits of each query (see ``HammingIndex.search``)."""
        if self._nbytes is None:
            raise ValueError("the index is empty: call build() or load() first")
        queries = _check_hashes(queries, "queries", self._nbytes)
        radius = _check_radius(radius)
        n, m = len(self), self.substrings
        query_words = _to_words(queries)
        if n == 0 or queries.shape[0] == 0:
            return IndexHits.empty()
        bits = radius // m
        masks = _probe_masks(min(bits, SUBSTRING_BITS))
        # With uniform hashes each probe finds n / 65536 references per substring; when that adds
        # up to a large share of n, verifying candidates costs more than scanning everything.
        if m * masks.shape[0] * 2 > _N_VALUES:
            return _linear_search(self._columns, query_words, radius)
        qvalues = self._substring_values(queries)
        block = max(1, PROBE_BUDGET // (m * masks.shape[0]))
        found_q, found_r, found_d = [], [], []
        for start in range(0, queries.shape[0], block):
            q, r, d = self._search_block(qvalues[start : start + block], query_words[start : start + block],
                                         masks, radius)
            found_q.append(q + start)
            found_r.append(r)
            found_d.append(d)
        return IndexHits.from_unsorted(
            np.concatenate(found_q), np.concatenate(found_r), np.concatenate(found_d)
        )

    def _search_block(
        self, qvalues: np.ndarray, query_words: np.ndarray, masks: np.ndarray, radius: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Probe, gather candidates, verify, de-duplicate: for a block of queries."""
        bq, n = qvalues.shape[0], len(self)
        probes = qvalues[:, :, None] ^ masks[None, None, :]  # (bq, m, P)
        sub = np.arange(self.substrings)[None, :, None]
        starts = self._flat_bounds[sub, probes]
        lengths = self._flat_bounds[sub, probes + 1] - starts
        per_query = lengths.reshape(bq, -1).sum(axis=1)
        total = int(per_query.sum())
        if total > bq * n:
            # clustered references (e.g. many near-identical frames): scanning is cheaper than verifying
            hits = _linear_search(self._columns, query_words, radius)
            return hits.query_idx, hits.ref_idx, hits.distance
        if total > CANDIDATE_BUDGET and bq > 1:
            half = bq // 2
            a = self._search_block(qvalues[:half], query_words[:half], masks, radius)
            b = self._search_block(qvalues[half:], query_words[half:], masks, radius)
            return (np.concatenate([a[0], b[0] + half]), np.concatenate([a[1], b[1]]),
                    np.concatenate([a[2], b[2]]))
        if total == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0, dtype=np.int32)
        # ragged gather of the buckets: positions starts[k] .. starts[k] + lengths[k] - 1 for every
        # non-empty probe k, built as a running sum of +1 steps with a jump at each bucket start
        lengths = lengths.ravel()
        nonempty = lengths > 0
        starts, lengths = starts.ravel()[nonempty], lengths[nonempty]
        steps = np.ones(total, dtype=np.int64)
        steps[0] = starts[0]
        steps[np.cumsum(lengths[:-1])] = starts[1:] - (starts[:-1] + lengths[:-1]) + 1
        r = self._flat_orders[np.cumsum(steps)]
        dist = np.zeros(total, dtype=np.int32)
        for w in range(self._columns.shape[0]):
            dist += popcount_words(np.repeat(query_words[:, w], per_query) ^ self._columns[w][r])
        keep = dist <= radius
        q = np.repeat(np.arange(bq, dtype=np.int64), per_query)[keep]
        r, dist = r[keep].astype(np.int64), dist[keep]
        # a true neighbour is usually found through several substrings: keep it once
        _, first = np.unique(q * n + r, return_index=True)
        return q[first], r[first], dist[first]

    def save(self, path: str | Path, *, key: str | None = None) -> None:
        """Write the index to ``path`` as a numpy ``.npz`` file, atomically (write, then rename).

        ``key`` (default: ``self.key``) is stored with it, so a reader can tell whether the index
        still matches the archive it was built from.
        """
        if self._nbytes is None:
            raise ValueError("the index is empty: call build() before save()")
        path = Path(path)
        meta = {"format": _INDEX_FILE_FORMAT, "name": self.NAME, "nbytes": self._nbytes,
                "key": self.key if key is None else key}
        small = np.int32 if len(self) < 2**31 else np.int64
        buffer = io.BytesIO()
        np.savez(buffer, meta=np.array(json.dumps(meta)), hashes=self._hashes,
                 orders=self._orders.astype(small), bounds=self._bounds.astype(small))
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(buffer.getbuffer())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | Path) -> MultiIndexHashIndex:
        """Read an index written by ``save``. Raises ``ArchiveError`` when the file is unusable."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                hashes = data["hashes"]
                orders = data["orders"]
                bounds = data["bounds"]
        except (OSError, ValueError, KeyError) as exc:
            raise ArchiveError(
                f"the index file {path} is unreadable ({exc}): delete it, it is rebuilt"
            ) from exc
        try:
            if not isinstance(meta, dict):
                raise ValueError("no metadata")
            if (meta.get("format"), meta.get("name")) != (_INDEX_FILE_FORMAT, cls.NAME):
                raise ValueError(f"another format: {meta.get('name')} v{meta.get('format')}")
            nbytes = int(meta["nbytes"])
            m = -(-nbytes // 2)
            if (hashes.dtype != np.uint8 or hashes.ndim != 2 or hashes.shape[1] != nbytes
                    or orders.shape != (m, hashes.shape[0]) or bounds.shape != (m, _N_VALUES + 1)):
                raise ValueError("array shapes disagree")
        except (KeyError, TypeError, ValueError) as exc:
            raise ArchiveError(
                f"the index file {path} is not usable ({exc}): delete it, it is rebuilt"
            ) from exc
        index = cls()
        index._set(np.ascontiguousarray(hashes), orders, bounds)
        index.key = str(meta.get("key", ""))
        return index


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


def ragged(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions ``starts[k] .. starts[k] + lengths[k] - 1`` for every k, concatenated (int64)."""
    keep = lengths > 0
    starts, lengths = starts[keep].astype(np.int64), lengths[keep].astype(np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    steps = np.ones(total, dtype=np.int64)
    steps[0] = starts[0]
    ends = np.cumsum(lengths)[:-1]
    steps[ends] = starts[1:] - (starts[:-1] + lengths[:-1]) + 1
    return np.cumsum(steps)


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
        hashes = _check_hashes(hashes, "reference hashes")
        n, nbytes = hashes.shape
        group_of = None if groups is None else _group_ids(groups)
        if group_of is not None and group_of.shape != (n,):
            raise ValueError(f"groups must be one number per hash ({n}), got shape {group_of.shape}")
        rng = np.random.default_rng(self.seed)
        self._positions = np.stack([rng.choice(nbytes * 8, self.key_bits, replace=False)
                                    for _ in range(self.tables)]).astype(np.int64)
        self._nbytes, self._words = nbytes, _to_words(hashes)
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
        hashes = _check_hashes(hashes, "reference hashes", self._nbytes)
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
        self._words, self._group_starts = _to_words(hashes), starts
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
        queries = _check_hashes(queries, "queries", self._nbytes)
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
        radius = _check_radius(radius)
        groups = self.candidate_groups(queries)
        query_words = _to_words(_check_hashes(queries, "queries", self._nbytes))
        starts = self._group_starts[groups]
        rows = ragged(starts, self._group_starts[groups + 1] - starts)
        if self._group_rows is not None:
            rows = self._group_rows[rows]
        if len(rows) > FALLBACK_SHARE * len(self):
            return _linear_search(np.ascontiguousarray(self._words.T), query_words, radius)
        hits = _linear_search(np.ascontiguousarray(self._words[rows].T), query_words, radius)
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
        hashes = _check_hashes(hashes, "reference hashes")
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
        index._nbytes, index._words = hashes.shape[1], _to_words(hashes)
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


INDEXES: dict[str, type[HammingIndex]] = {
    cls.NAME: cls for cls in (LinearIndex, MultiIndexHashIndex, SampledBitsIndex)
}
"""Index implementations by name."""


def make_index(name: str) -> HammingIndex:
    """A new, empty index of the named implementation. Raises ``UsageError`` for an unknown name."""
    try:
        return INDEXES[name]()
    except KeyError:
        raise UsageError(f"unknown index {name!r}: choose one of {', '.join(sorted(INDEXES))}") from None
