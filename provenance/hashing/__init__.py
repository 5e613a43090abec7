"""Perceptual hashes of sampled frames, and the registry that names them.

Modules, in the order the work flows: ``phash`` (imagehash's 64-bit DCT pHash, bit for bit and
vectorised), ``pdq`` (Meta's 256-bit PDQ hash with its quality, its eight dihedral turns and Hamming
distances), ``registry`` (each hasher by name with its ``BITS`` and ``VERSION``, the
``HashAlgorithm`` that records store beside the hashes, and ``get_hasher``, which production code
hashes through)::

    from provenance.hashing import get_hasher
    packed, quality = get_hasher("pdq").hash_frames(frames)   # frames: (N, H, W) uint8 grey
"""

from __future__ import annotations

from provenance.hashing.pdq import hamming_bytes
from provenance.hashing.registry import (
    HASHERS,
    Hasher,
    PDQHasher,
    PHashHasher,
    available_hashers,
    get_hasher,
)

__all__ = [
    "HASHERS",
    "Hasher",
    "PDQHasher",
    "PHashHasher",
    "available_hashers",
    "get_hasher",
    "hamming_bytes",
]
