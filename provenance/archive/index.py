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
  would touch most of the references anyway, it scans linearly instead (still exact).

Both return ``IndexHits`` sorted by (query_idx, distance, ref_idx).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

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
_popcount_words = getattr(np, "bitwise_count", _popcount_by_table)


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
            dist += _popcount_words(chunk[:, w, None] ^ ref_columns[w][None, :])
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
            dist += _popcount_words(np.repeat(query_words[:, w], per_query) ^ self._columns[w][r])
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


INDEXES: dict[str, type[HammingIndex]] = {cls.NAME: cls for cls in (LinearIndex, MultiIndexHashIndex)}
"""Index implementations by name."""


def make_index(name: str) -> HammingIndex:
    """A new, empty index of the named implementation. Raises ``UsageError`` for an unknown name."""
    try:
        return INDEXES[name]()
    except KeyError:
        raise UsageError(f"unknown index {name!r}: choose one of {', '.join(sorted(INDEXES))}") from None
