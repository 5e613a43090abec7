"""What every Hamming index shares: the hits it returns, the protocol it implements, and its helpers.

``IndexHits`` (pairs within the radius, in canonical order) and ``HammingIndex`` (``build`` then
``search``); ``popcount_words`` (bits set per 64-bit word, numpy's ufunc or a table), ``to_words``
(hashes as 64-bit words), ``ragged`` (concatenated ranges of positions), and the checks of the
hashes and radius every index is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

POPCOUNT_TABLE = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
"""Bits set in each byte value 0..255 (uint8)."""


def popcount_by_table(words: np.ndarray) -> np.ndarray:
    """Bits set per element of a uint64 array, as uint8 (same shape), by a 256-entry table."""
    as_bytes = np.ascontiguousarray(words).view(np.uint8).reshape(*words.shape, 8)
    return POPCOUNT_TABLE[as_bytes].sum(axis=-1, dtype=np.uint8)


# numpy >= 2.0 has a popcount ufunc; 1.26 (still supported) does not
popcount_words = getattr(np, "bitwise_count", popcount_by_table)


def to_words(hashes: np.ndarray) -> np.ndarray:
    """(N, nbytes) uint8 → (N, ceil(nbytes / 8)) uint64; zero padding leaves distances unchanged."""
    n, nbytes = hashes.shape
    width = -(-nbytes // 8) * 8
    if width != nbytes:
        padded = np.zeros((n, width), dtype=np.uint8)
        padded[:, :nbytes] = hashes
        hashes = padded
    return np.ascontiguousarray(hashes).view(np.uint64)


def check_hashes(hashes: np.ndarray, what: str, nbytes: int | None = None) -> np.ndarray:
    """``hashes`` as a C-contiguous (N, nbytes) uint8 array; ``ValueError`` (naming ``what``) when it is not one,
    or when its hashes are not ``nbytes`` long (the length the index was built with)."""
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


def check_radius(radius: int) -> int:
    """``radius`` as an int; ``ValueError`` when it is not a non-negative integer."""
    if int(radius) != radius or radius < 0:
        raise ValueError(f"radius must be a non-negative integer, got {radius!r}")
    return int(radius)


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
