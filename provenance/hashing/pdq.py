"""PDQ, Meta's 256-bit perceptual image hash, in numpy, vectorised over batches of frames.

The algorithm follows the ThreatExchange reference (``pdq/cpp/hashing/pdqhashing.cpp``,
``pdq/cpp/downscaling/downscaling.cpp`` and ``pdq/python/pdqhashing/hasher/pdq_hasher.py``):

1. luminance ``0.299 R + 0.587 G + 0.114 B`` as floats;
2. a tent filter made of two passes of 1-D box filters along each axis (Jarosz), with the window
   ``(old + 2*64 - 1) // (2*64)`` and the reference's edge rule (windows are clipped at the edges and
   the mean is over the samples that remain);
3. decimation to 64x64, taking the sample at ``int((i + 0.5) * dim / 64)``;
4. the 16x16 lowest non-DC coefficients of the 2-D DCT, ``B = D A Dᵀ`` with
   ``D[i, j] = sqrt(2/64) cos(pi/128 (i+1)(2j+1))``;
5. bit ``16 i + j`` set where ``B[i, j]`` exceeds the median (the reference's Torben median of 256
   values, i.e. the 128th smallest), printed as 16 words of 16 bits, highest word first;
6. quality: the sum over the 64x64 buffer of ``|trunc((u - v) * 100 / 255)|`` for vertical and
   horizontal neighbours, integer-divided by 90 and capped at 100.

Hashes travel as packed ``uint8`` rows of 32 bytes in the order of the hex string, so
``bytes(row).hex()`` is the usual 64-digit PDQ string and Hamming distances are popcounts of XORs.

``pdq_file`` hashes a still the way Meta's Python reference does: the picture is first shrunk with
Pillow's ``thumbnail((512, 512))`` (the C++ tool instead squashes it to 512x512), and the expected
hashes shipped with the reference were made that way.
"""

from __future__ import annotations

import os
import re
from typing import Final, Literal, overload

import numpy as np

HASH_BITS: Final = 256
HASH_BYTES: Final = 32
HEX_DIGITS: Final = 64
MIN_HASHABLE_DIM: Final = 5
"""The reference returns an all-zero hash and quality 0 for pictures narrower or shorter than this."""

THUMBNAIL_SIZE: Final = 512
"""``pdq_file`` shrinks stills to fit this box first, as the Python reference's ``fromFile`` does."""

DIHEDRAL_NAMES: Final = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flipx",
    "flipy",
    "flipplus1",
    "flipminus1",
)
"""Order of the dihedral variants, with the reference's names (``PDQ_DO_DIH_*`` / ``hashRotate90``…).

In numpy terms, for a picture ``a`` (rows, columns) the variant ``k`` is (within PDQ's tolerance) the
hash of: ``a``; ``np.rot90(a)`` (a quarter turn anticlockwise); ``np.rot90(a, 2)``;
``np.rot90(a, 3)``; ``a[::-1]`` (upside down); ``a[:, ::-1]`` (mirror); ``a.T`` (transpose, about
the main diagonal); ``np.rot90(a, 2).T`` (transverse, about the anti-diagonal).
"""

_CHUNK_PIXELS: Final = 1 << 19
"""``pdq_batch`` hashes this many input pixels at a time (512 kpx: 128 frames of 64x64), which bounds
its float64 working arrays; at 64x64, 64 and 256 frames measured slower per frame than 128."""

_SHIFTED_SUM_MAX_WINDOW: Final = 8
"""Up to this window a box sum is added up from shifted slices; beyond it, from a running sum."""

MIN_QUALITY = 30  # PDQ quality below this marks a flat frame (black, a wall, the sky): it carries no evidence
_HEX_RE = re.compile(r"[0-9a-fA-F]{64}")
_LUMA = np.array([0.299, 0.587, 0.114])
_DCT = np.sqrt(2.0 / 64.0) * np.cos(
    np.pi / 2.0 / 64.0 * np.arange(1, 17)[:, None] * (2 * np.arange(64)[None, :] + 1)
)  # (16, 64); row i is frequency i + 1, so the DC term is skipped

_ODD = (np.arange(16) % 2).astype(bool)  # index i is frequency i + 1: odd i = even frequency
_SIGN_ROWS = np.where(_ODD, 1.0, -1.0)[:, None]  # (-1)**(i+1) down the rows
_SIGN_COLS = np.where(_ODD, 1.0, -1.0)[None, :]  # (-1)**(j+1) across the columns


def jarosz_window(old: int, new: int = 64) -> int:
    """The reference's box-filter window for shrinking ``old`` samples to ``new`` (rounded up)."""
    return (old + 2 * new - 1) // (2 * new)


def _box_filter(x: np.ndarray, axis: int, window: int) -> np.ndarray:
    """One 1-D box filter along ``axis``, with the reference's placement and edge handling.

    The reference's ``box1DFloat`` writes output ``k`` as the mean of inputs
    ``k - (window - half) .. k + half - 1`` with ``half = (window + 2) // 2``, clipped to the
    vector (the mean is over the samples inside it). Zero padding gives every window the same
    length; its sum comes from shifted slices (few, cheap passes for the small windows of video
    frames) or from the difference of a cumulative sum (constant cost for big stills).
    """
    if window <= 1:
        return x
    n = x.shape[axis]
    half = (window + 2) // 2
    left = window - half

    def along(start: int, stop: int) -> tuple[slice, ...]:
        return (slice(None),) * axis + (slice(start, stop),)

    padded_shape = list(x.shape)
    padded_shape[axis] = n + window - 1
    padded = np.zeros(padded_shape)
    padded[along(left, left + n)] = x
    if window <= _SHIFTED_SUM_MAX_WINDOW:
        total = padded[along(0, n)].copy()
        for shift in range(1, window):
            total += padded[along(shift, shift + n)]
    else:
        running = np.cumsum(padded, axis=axis)
        total = running[along(window - 1, window - 1 + n)].copy()
        total[along(1, n)] -= running[along(0, n - 1)]
    k = np.arange(n)
    counts = np.minimum(k + half, n) - np.maximum(k - left, 0)
    counts_shape = [1] * x.ndim
    counts_shape[axis] = n
    return total / counts.reshape(counts_shape)


def _take(buf: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
    """``buf`` sampled at ``index`` along ``axis``: a view when the index is a regular stride."""
    step = int(index[1] - index[0]) if len(index) > 1 else 1
    if step > 0 and np.array_equal(index, index[0] + step * np.arange(len(index))):
        return buf[(slice(None),) * axis + (slice(int(index[0]), int(index[-1]) + 1, step),)]
    return np.take(buf, index, axis=axis)


def _downsample64(frames: np.ndarray) -> np.ndarray:
    """(N, H, W) luminance (any real dtype) to the (N, 64, 64) float64 buffer: tent filter, decimation."""
    _, rows, cols = frames.shape
    along_rows = jarosz_window(cols)  # the filter that runs along each row, i.e. across columns
    along_cols = jarosz_window(rows)
    centres = np.arange(64) + 0.5
    ri = (centres * rows / 64).astype(np.intp)
    ci = (centres * cols / 64).astype(np.intp)
    if along_rows <= 1 and along_cols <= 1:
        # Windows of 1 leave the picture as it is (frames up to 128 pixels a side), so only the
        # 64x64 samples need converting to float.
        return _take(_take(frames, ri, 1), ci, 2).astype(np.float64)
    buf = frames.astype(np.float64)
    for _ in range(2):  # PDQ_NUM_JAROSZ_XY_PASSES
        buf = _box_filter(buf, 2, along_rows)
        buf = _box_filter(buf, 1, along_cols)
    return np.ascontiguousarray(_take(_take(buf, ri, 1), ci, 2))


def _quality(buf64: np.ndarray) -> np.ndarray:
    """The reference's image-domain quality metric of (N, 64, 64) buffers, as (N,) ints 0..100."""
    n = buf64.shape[0]
    flat = np.ascontiguousarray(buf64).reshape(n, 64 * 64)
    # Both neighbour differences in one contiguous array: vertical pairs are 64 apart in the flat
    # picture, horizontal pairs 1 apart (the 63 pairs that wrap from one row to the next are zeroed).
    # The sign of a difference does not matter: |trunc(-x)| = |trunc(x)| and -a * 100 / 255 is exact.
    diffs = np.empty((n, 2 * 64 * 64 - 65))
    vertical = 64 * 64 - 64
    np.subtract(flat[:, 64:], flat[:, :-64], out=diffs[:, :vertical])
    np.subtract(flat[:, 1:], flat[:, :-1], out=diffs[:, vertical:])
    diffs[:, vertical + 63 :: 64] = 0.0
    diffs *= 100.0
    diffs /= 255.0
    np.trunc(diffs, out=diffs)
    np.abs(diffs, out=diffs)
    gradient_sum = diffs.sum(axis=1)
    return np.minimum(gradient_sum.astype(np.int64) // 90, 100)


def _sample64(frames: np.ndarray) -> np.ndarray:
    """The 64x64 decimation samples of (N, H, W) frames of at most 128 pixels a side, as they are."""
    _, rows, cols = frames.shape
    centres = np.arange(64) + 0.5
    return _take(_take(frames, (centres * rows / 64).astype(np.intp), 1), (centres * cols / 64).astype(np.intp), 2)


def _quality_uint8(samples: np.ndarray) -> np.ndarray:
    """``_quality`` of (N, 64, 64) uint8 samples (N >= 1), with OpenCV's 8-bit operations.

    For an integer difference d in -255..255, ``trunc(d * 100.0 / 255.0)`` is ``sign(d) * (|d| * 20 // 51)``:
    the quotient is exact when 51 divides d and otherwise lies at least 1/51 from an integer, far
    beyond the float error, so both sides truncate to the same integer. ``convertScaleAbs`` rounds
    ``|20 d / 51 - 1/2 + 1/102|`` to the nearest integer, which is ``20 d // 51`` for every d in 0..255
    (the offset is never within 1/102 of a tie).
    """
    import cv2

    n = samples.shape[0]
    flat = np.ascontiguousarray(samples).reshape(n, 64 * 64)
    rows = flat.reshape(n * 64, 64)
    diffs = (cv2.absdiff(flat[:, 64:], flat[:, :-64]), cv2.absdiff(rows[:, 1:], rows[:, :-1]).reshape(n, 64 * 63))
    # Each step |d| * 20 // 51 is at least (20 |d| - 50) / 51, so a frame whose differences add up to
    # this much is at the cap of 100 whatever the rounding, and only the others need the steps.
    total = sum(cv2.reduce(d, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)[:, 0].astype(np.int64) for d in diffs)
    quality = np.full(n, 100, dtype=np.int64)
    rest = np.flatnonzero(20 * total - 50 * 2 * 64 * 63 < 51 * 90 * 100)
    if len(rest):
        gradient_sum = np.zeros(len(rest), dtype=np.int64)
        for d in diffs:
            steps = cv2.convertScaleAbs(d[rest], alpha=20 / 51, beta=1 / 102 - 1 / 2)
            gradient_sum += cv2.reduce(steps, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)[:, 0]
        quality[rest] = np.minimum(gradient_sum // 90, 100)
    return quality


def _dct16(buf64: np.ndarray) -> np.ndarray:
    """(N, 64, 64) to the (N, 16, 16) DCT coefficients ``D A Dᵀ``."""
    return np.matmul(np.matmul(_DCT, buf64), _DCT.T)


_FLIP_SIGNS = np.stack(
    [np.ones((16, 16)), _SIGN_ROWS * _SIGN_COLS, np.repeat(_SIGN_ROWS, 16, axis=1), np.repeat(_SIGN_COLS, 16, axis=0)]
)
"""Sign tables of the coefficients of the picture as it is, turned half round, upside down, mirrored.

Reversing a picture along one axis multiplies frequency ``u`` along that axis by ``(-1)**u``;
swapping the axes transposes the coefficient matrix. These are the reference's ``dct16OriginalTo*``
tables."""

_DIHEDRAL_FROM = ((0, False), (3, True), (1, False), (2, True), (2, False), (3, False), (0, True), (1, True))
"""For each dihedral variant in ``DIHEDRAL_NAMES`` order, its ``_FLIP_SIGNS`` table and whether the
result is transposed: rotate90 is ``(dct * cols)ᵀ``, rotate270 ``(dct * rows)ᵀ``, flipplus1 ``dctᵀ``
and flipminus1 ``(dct * rows * cols)ᵀ``. A transposed matrix holds the same values, so its median
and its bits are those of the untransposed one, transposed: four medians serve the eight hashes."""


def _hash_bits(dct: np.ndarray) -> np.ndarray:
    """(..., 16, 16) coefficients to (..., 16, 16) hash bits, reversed along both axes: in hex-string order.

    Bit ``16 i + j`` is set where ``B[i, j]`` is above the median of its own 256 values (the
    reference's Torben median, the 128th smallest, not the mean of the middle two); the hex string
    prints bit 255 first. Reversing both axes commutes with transposing, so the bits of a
    transposed variant are these bits transposed.
    """
    flat = dct.reshape(*dct.shape[:-2], 256)
    median = np.sort(flat, axis=-1)[..., 127:128]
    return (flat[..., ::-1] > median).reshape(dct.shape)


def _pack(bits: np.ndarray) -> np.ndarray:
    """(..., 16, 16) hash bits from ``_hash_bits`` to (..., 32) packed bytes in hex-string order."""
    return np.packbits(bits.reshape(*bits.shape[:-2], 256), axis=-1, bitorder="big")


def _hash_luma(luma: np.ndarray, dihedral: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Hash (N, H, W) luminance: (N, 32) bytes, (N,) quality and, with ``dihedral``, (N, 8, 32)."""
    n, rows, cols = luma.shape
    if n == 0 or rows < MIN_HASHABLE_DIM or cols < MIN_HASHABLE_DIM:
        hashes = np.zeros((n, HASH_BYTES), dtype=np.uint8)
        quality = np.zeros(n, dtype=np.int64)
        dih = np.zeros((n, 8, HASH_BYTES), dtype=np.uint8) if dihedral else None
        return hashes, quality, dih
    if luma.dtype == np.uint8 and jarosz_window(rows) <= 1 and jarosz_window(cols) <= 1:
        # unfiltered 8-bit samples: the quality sum in small integers gives the same numbers, faster
        samples = _sample64(luma)
        quality = _quality_uint8(samples)
        buf64 = samples.astype(np.float64)
    else:
        buf64 = _downsample64(luma)
        quality = _quality(buf64)
    dct = _dct16(buf64)
    if not dihedral:
        return _pack(_hash_bits(dct)), quality, None
    flips = _hash_bits(dct[:, None] * _FLIP_SIGNS)  # (N, 4, 16, 16)
    variants = [flips[:, s].swapaxes(-1, -2) if turned else flips[:, s] for s, turned in _DIHEDRAL_FROM]
    dih = _pack(np.stack(variants, axis=1))
    return dih[:, 0].copy(), quality, dih


def luminance(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 RGB to float64 luminance with the reference's coefficients; (H, W) passes through."""
    if rgb.ndim == 3 and rgb.shape[-1] == 3:
        return rgb.astype(np.float64) @ _LUMA
    if rgb.ndim == 2:
        return rgb.astype(np.float64)
    raise ValueError(f"expected an (H, W, 3) RGB or (H, W) grey image, got shape {rgb.shape}")


def pdq_image(rgb: np.ndarray) -> tuple[str, int]:
    """PDQ hash (64 hex digits) and quality (0..100) of one (H, W, 3) RGB or (H, W) grey uint8 image.

    The whole picture is hashed as it is; ``pdq_file`` shrinks big stills first like the reference.
    """
    luma = luminance(np.asarray(rgb))
    hashes, quality, _ = _hash_luma(luma[None], dihedral=False)
    return pdq_bytes_to_hex(hashes[0]), int(quality[0])


def pdq_image_dihedral(rgb: np.ndarray) -> tuple[list[str], int]:
    """The 8 dihedral PDQ hashes (in ``DIHEDRAL_NAMES`` order) and the quality of one image."""
    luma = luminance(np.asarray(rgb))
    _, quality, dih = _hash_luma(luma[None], dihedral=True)
    rows = dih[0] if dih is not None else ()
    return [pdq_bytes_to_hex(row) for row in rows], int(quality[0])


def load_rgb(path: str | os.PathLike[str], thumbnail: int | None = THUMBNAIL_SIZE) -> np.ndarray:
    """Read a still with Pillow as (H, W, 3) uint8 RGB, shrunk to fit ``thumbnail`` (None: as is).

    The order is the Python reference's: ``thumbnail`` on the image as opened, then ``convert('RGB')``
    (which drops any alpha channel without compositing).
    """
    from PIL import Image

    with Image.open(path) as img:
        if thumbnail is not None:
            img.thumbnail((thumbnail, thumbnail))
        return np.asarray(img.convert("RGB"))


def pdq_file(path: str | os.PathLike[str], thumbnail: int | None = THUMBNAIL_SIZE) -> tuple[str, int]:
    """PDQ hash and quality of an image file, prepared as the Python reference's ``fromFile`` does."""
    return pdq_image(load_rgb(path, thumbnail))


@overload
def pdq_batch(gray: np.ndarray, dihedral: Literal[False] = False) -> tuple[np.ndarray, np.ndarray]: ...


@overload
def pdq_batch(gray: np.ndarray, dihedral: Literal[True]) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


def pdq_batch(gray: np.ndarray, dihedral: bool = False) -> tuple[np.ndarray, ...]:
    """PDQ of (N, H, W) uint8 luminance frames, vectorised over the batch.

    Returns ``(hashes, quality)``: (N, 32) uint8 hash bytes in hex-string order (``bytes(row).hex()``
    is the PDQ string) and (N,) int64 quality. With ``dihedral=True`` a third array (N, 8, 32)
    holds the hashes of the 8 dihedral transforms in ``DIHEDRAL_NAMES`` order (identity first),
    derived from the DCT coefficients as the reference does. N may be 0.
    """
    arr = np.asarray(gray)
    if arr.ndim != 3:
        raise ValueError(f"expected (N, H, W) grey frames, got shape {arr.shape}")
    # Chunks bound the float64 working copies (a few times the chunk's size) for long or big batches.
    step = max(1, _CHUNK_PIXELS // max(1, arr.shape[1] * arr.shape[2]))
    parts = [_hash_luma(arr[i : i + step], dihedral) for i in range(0, len(arr), step)]
    if not parts:
        parts = [_hash_luma(arr, dihedral)]
    hashes = np.concatenate([part[0] for part in parts])
    quality = np.concatenate([part[1] for part in parts])
    if dihedral:
        return hashes, quality, np.concatenate([part[2] for part in parts if part[2] is not None])
    return hashes, quality


def hamming_bytes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances between packed uint8 hashes along the last axis (numpy broadcasting)."""
    x = np.bitwise_xor(np.asarray(a, dtype=np.uint8), np.asarray(b, dtype=np.uint8))
    return np.unpackbits(x, axis=-1).sum(axis=-1, dtype=np.int64)


def hex_to_pdq_bytes(s: str) -> np.ndarray:
    """A 64-digit PDQ hex string to its (32,) uint8 bytes; ValueError for anything else."""
    if not isinstance(s, str) or _HEX_RE.fullmatch(s) is None:
        raise ValueError(f"a PDQ hash is exactly {HEX_DIGITS} hex digits, got {s!r}")
    return np.frombuffer(bytes.fromhex(s), dtype=np.uint8).copy()


def pdq_bytes_to_hex(row: np.ndarray | bytes) -> str:
    """(32,) uint8 hash bytes to the 64-digit lower-case PDQ hex string."""
    raw = bytes(np.asarray(row, dtype=np.uint8).ravel()) if not isinstance(row, bytes) else row
    if len(raw) != HASH_BYTES:
        raise ValueError(f"a PDQ hash is {HASH_BYTES} bytes, got {len(raw)}")
    return raw.hex()
