"""The linear scan: every query against every reference, exact, and the yardstick for the other indexes.

``linear_search`` is the scan itself (the other indexes fall back on it, or use it to verify their
candidates); ``LinearIndex`` wraps it as a ``HammingIndex``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from provenance.archive.index.base import IndexHits, check_hashes, check_radius, popcount_words, to_words

BLOCK_BYTES = 64 << 20
"""Upper bound on the temporary arrays of one block of a linear search (about 64 MiB)."""


def linear_search(ref_columns: np.ndarray, query_words: np.ndarray, radius: int) -> IndexHits:
    """Every query against every reference, in blocks of queries: all pairs within ``radius`` bits.

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
        hashes = check_hashes(hashes, "reference hashes")
        self._nbytes = hashes.shape[1]
        self._columns = np.ascontiguousarray(to_words(hashes).T)

    def search(self, queries: np.ndarray, radius: int) -> IndexHits:
        """All references within ``radius`` bits of each query (see ``HammingIndex.search``)."""
        if self._nbytes is None:
            raise ValueError("the index is empty: call build() first")
        queries = check_hashes(queries, "queries", self._nbytes)
        return linear_search(self._columns, to_words(queries), check_radius(radius))
