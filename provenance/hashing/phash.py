"""The 64-bit DCT perceptual hash, bit-identical to ``imagehash.phash`` (hash_size=8, highfreq_factor=4).

imagehash's steps, which every function here repeats exactly: ``convert('L')``, resize to 32x32 with
``Image.Resampling.LANCZOS``, ``scipy.fftpack.dct`` along axis 0 then along axis 1, keep the 8x8
low-frequency corner, compare with ``numpy.median`` of those 64 values (``> median``), and read the
bits row-major with the first one as the most significant bit. Hashes are ``uint64`` in batches and
16 lower-case hex digits as text (``str(imagehash.phash(image))``).
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np
import scipy.fftpack
from PIL import Image

HASH_SIZE: Final = 8
HIGHFREQ_FACTOR: Final = 4
IMG_SIZE: Final = HASH_SIZE * HIGHFREQ_FACTOR
HEX_DIGITS: Final = 16

_HEX_RE = re.compile(r"[0-9a-fA-F]{16}")
_WEIGHTS = np.left_shift(np.uint64(1), np.arange(63, -1, -1, dtype=np.uint64))  # first bit is the MSB


def _bits_from_pixels(pixels: np.ndarray) -> np.ndarray:
    """(N, 32, 32) pixels to (N, 8, 8) hash bits, with imagehash's float operations on each frame.

    ``scipy.fftpack.dct`` with ``axis=`` runs the same 1-D transform on every line, so a 3-D batch
    gives the floats that the 2-D call gives frame by frame.
    """
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=1), axis=2)
    low = dct[:, :HASH_SIZE, :HASH_SIZE]
    median = np.median(low, axis=(1, 2), keepdims=True)
    return low > median


def _pack(bits: np.ndarray) -> np.ndarray:
    """(N, 8, 8) bools to (N,) uint64, first element most significant."""
    flat = bits.reshape(bits.shape[0], HASH_SIZE * HASH_SIZE).astype(np.uint64)
    return (flat * _WEIGHTS).sum(axis=1, dtype=np.uint64)


def _resize_grey(image: Image.Image) -> np.ndarray:
    """imagehash's first two steps: grey, then LANCZOS to 32x32, as a (32, 32) uint8 array."""
    return np.asarray(image.convert("L").resize((IMG_SIZE, IMG_SIZE), Image.Resampling.LANCZOS))


def phash_image(image: Image.Image) -> str:
    """The pHash of a Pillow image as 16 hex digits, equal to ``str(imagehash.phash(image))``."""
    bits = _bits_from_pixels(_resize_grey(image)[None])
    return phash_to_hex(int(_pack(bits)[0]))


def phash_batch(gray: np.ndarray) -> np.ndarray:
    """pHashes of (N, H, W) uint8 grey frames as (N,) uint64 (``format(v, '016x')`` is imagehash's string).

    Frames not already 32x32 are resized by Pillow one at a time (its LANCZOS result is the
    reference); the DCTs, medians and bit packing run on the whole batch. N may be 0.
    """
    arr = np.asarray(gray)
    if arr.ndim != 3:
        raise ValueError(f"expected (N, H, W) grey frames, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames, got {arr.dtype}")
    n = arr.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    if arr.shape[1:] == (IMG_SIZE, IMG_SIZE):
        # Pillow's resize to the same size returns a copy, so the frames are already the 32x32 input.
        small = np.ascontiguousarray(arr)
    else:
        small = np.stack([_resize_grey(Image.fromarray(frame)) for frame in arr])
    return _pack(_bits_from_pixels(small))


def phash_to_hex(v: int) -> str:
    """A 64-bit pHash as 16 lower-case hex digits."""
    v = int(v)
    if not 0 <= v < 1 << 64:
        raise ValueError(f"a pHash is a 64-bit unsigned integer, got {v}")
    return format(v, "016x")


def hex_to_phash(s: str) -> int:
    """16 hex digits (either case) to the 64-bit pHash integer; ValueError for anything else."""
    if not isinstance(s, str) or _HEX_RE.fullmatch(s) is None:
        raise ValueError(f"a pHash is exactly {HEX_DIGITS} hex digits, got {s!r}")
    return int(s, 16)
