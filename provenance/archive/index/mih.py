"""Multi-index hashing (Norouzi, Punjani & Fleet, 2012): an exact Hamming radius search over 16-bit substrings.

``MultiIndexHashIndex`` returns the same hits as ``LinearIndex``, and scans linearly when the radius
is so large that probing would touch most of the references anyway. ``save``/``load`` keep it as
one ``.npz`` file.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import ClassVar

import numpy as np

from provenance.archive.index.base import (
    POPCOUNT_TABLE,
    IndexHits,
    check_hashes,
    check_radius,
    popcount_words,
    to_words,
)
from provenance.archive.index.linear import linear_search
from provenance.errors import ArchiveError

PROBE_BUDGET = 1_000_000
"""Most bucket probes a multi-index search makes at once (sets its block of queries)."""

CANDIDATE_BUDGET = 2_000_000
"""Most candidate pairs a multi-index search verifies at once (a block of queries is halved until it fits)."""

SUBSTRING_BITS = 16
_N_VALUES = 1 << SUBSTRING_BITS
_VALUE_POPCOUNT = POPCOUNT_TABLE[np.arange(_N_VALUES) & 0xFF] + POPCOUNT_TABLE[np.arange(_N_VALUES) >> 8]
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
        hashes = check_hashes(hashes, "reference hashes")
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
        self._columns = np.ascontiguousarray(to_words(hashes).T)  # (W, N): one row per 64-bit word
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
        queries = check_hashes(queries, "queries", self._nbytes)
        radius = check_radius(radius)
        n, m = len(self), self.substrings
        query_words = to_words(queries)
        if n == 0 or queries.shape[0] == 0:
            return IndexHits.empty()
        bits = radius // m
        masks = _probe_masks(min(bits, SUBSTRING_BITS))
        # With uniform hashes each probe finds n / 65536 references per substring; when that adds
        # up to a large share of n, verifying candidates costs more than scanning everything.
        if m * masks.shape[0] * 2 > _N_VALUES:
            return linear_search(self._columns, query_words, radius)
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
            hits = linear_search(self._columns, query_words, radius)
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
