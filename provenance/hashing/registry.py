"""The registry of hashers: each perceptual hash by name, with its length and version.

Each hasher class declares ``NAME`` (the algorithm name stored with every hash), ``BITS`` (hash
length), ``VERSION`` (bumped whenever the output of the hasher changes, so stored hashes from an
older version can be recognised) and exposes its vectorised ``batch`` function. ``hash_frames``
gives every hasher the same shape of output: packed hash bytes in hex-string order, and the quality
when the algorithm has one. ``algorithm()`` is the ``HashAlgorithm`` a record stores beside the
hashes it made::

    from provenance.hashing import get_hasher
    packed, quality = get_hasher("pdq").hash_frames(frames)   # frames: (N, H, W) uint8 grey
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from provenance.hashing.pdq import pdq_batch, pdq_bytes_to_hex
from provenance.hashing.phash import phash_batch
from provenance.model import HashAlgorithm

__all__ = [
    "HASHERS",
    "Hasher",
    "PDQHasher",
    "PHashHasher",
    "available_hashers",
    "get_hasher",
]


class Hasher:
    """Base of the registered hashers: what a hasher declares and the uniform batch interface."""

    NAME: ClassVar[str]
    BITS: ClassVar[int]
    VERSION: ClassVar[int]
    batch: ClassVar[Callable[..., Any]]  # the module's own batch function, with its own options

    @classmethod
    def algorithm(cls) -> HashAlgorithm:
        """What this hasher makes, as records store it beside the hashes: name, bits, version."""
        return HashAlgorithm(name=cls.NAME, bits=cls.BITS, version=cls.VERSION)

    @classmethod
    def hash_frames(cls, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Hash (N, H, W) uint8 grey frames: ((N, BITS // 8) uint8 in hex order, (N,) quality or None)."""
        raise NotImplementedError

    @classmethod
    def to_hex(cls, packed_row: np.ndarray) -> str:
        """One packed hash (BITS // 8 bytes) as lower-case hex, the form stored in records."""
        raw = bytes(np.asarray(packed_row, dtype=np.uint8).ravel())
        if len(raw) * 8 != cls.BITS:
            raise ValueError(f"a {cls.NAME} hash is {cls.BITS // 8} bytes, got {len(raw)}")
        return raw.hex()


class PHashHasher(Hasher):
    """imagehash's 64-bit DCT pHash (bit-identical to ``imagehash.phash``); no quality score."""

    NAME = "phash"
    BITS = 64
    VERSION = 1
    batch = staticmethod(phash_batch)

    @classmethod
    def hash_frames(cls, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Packed big-endian bytes of each 64-bit pHash, and None for quality."""
        values = phash_batch(gray)
        return values.astype(">u8").view(np.uint8).reshape(len(values), 8), None


class PDQHasher(Hasher):
    """Meta's 256-bit PDQ hash with its 0..100 quality (see ``provenance.hashing.pdq``)."""

    NAME = "pdq"
    BITS = 256
    VERSION = 1
    batch = staticmethod(pdq_batch)

    @classmethod
    def hash_frames(cls, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Packed PDQ bytes in hex-string order, and the quality of each frame."""
        return pdq_batch(gray)

    @classmethod
    def to_hex(cls, packed_row: np.ndarray) -> str:
        """One PDQ hash as its 64-digit hex string."""
        return pdq_bytes_to_hex(packed_row)


HASHERS: dict[str, type[Hasher]] = {hasher.NAME: hasher for hasher in (PHashHasher, PDQHasher)}
"""Every registered hasher by ``NAME``."""


def available_hashers() -> list[str]:
    """Names of the registered hashers, in registration order."""
    return list(HASHERS)


def get_hasher(name: str) -> type[Hasher]:
    """The hasher registered under ``name``; ValueError naming the choices when there is none."""
    try:
        return HASHERS[name]
    except KeyError:
        raise ValueError(f"unknown hasher {name!r}; available: {', '.join(HASHERS)}") from None
