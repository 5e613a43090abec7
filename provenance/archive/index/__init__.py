"""Hamming-distance search over binary hashes (pHash: 8 bytes, PDQ: 32 bytes), apart from the store.

Modules, in the order the work flows: ``base`` (``IndexHits``, the ``HammingIndex`` protocol, and
the popcount, word and checking helpers every index uses), ``linear`` (the exact scan and
``LinearIndex``), ``mih`` (``MultiIndexHashIndex``), ``sampled`` (``SampledBitsIndex`` and
``open_sampled_index``, which keeps it beside the archive). This package registers them by name.

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

The tuning constants (``BLOCK_BYTES``, ``CANDIDATE_BUDGET``, ``SAMPLED_TABLES``...) live in the
module that uses them and are not re-exported here: set them there.
"""

from __future__ import annotations

from provenance.archive.index.base import (
    HammingIndex,
    IndexHits,
    popcount_words,
    ragged,
    to_words,
)
from provenance.archive.index.linear import LinearIndex, linear_search
from provenance.archive.index.mih import MultiIndexHashIndex
from provenance.archive.index.sampled import SampledBitsIndex, open_sampled_index
from provenance.errors import UsageError

__all__ = [
    "INDEXES",
    "HammingIndex",
    "IndexHits",
    "LinearIndex",
    "MultiIndexHashIndex",
    "SampledBitsIndex",
    "linear_search",
    "make_index",
    "open_sampled_index",
    "popcount_words",
    "ragged",
    "to_words",
]

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
