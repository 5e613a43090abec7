"""The 64-bit DCT perceptual hash, bit-identical to ``imagehash.phash`` (hash_size=8, highfreq_factor=4).

imagehash's steps: ``convert('L')``, resize to 32x32 with ``Image.Resampling.LANCZOS``,
``scipy.fftpack.dct`` along axis 0 then along axis 1, keep the 8x8 low-frequency corner, compare
with ``numpy.median`` of those 64 values (``> median``), and read the bits row-major with the first
one as the most significant bit. Hashes are ``uint64`` in batches and 16 lower-case hex digits as
text (``str(imagehash.phash(image))``).

``phash_batch`` does all of it on a whole batch of frames in numpy:

* **Resize**: ``lanczos_resize_batch`` reproduces Pillow's 8-bit LANCZOS resampling exactly
  (``src/libImaging/Resample.c``): per axis, filter coefficients computed in double precision,
  normalised, turned into fixed point with ``PRECISION_BITS`` = 22 fractional bits, products summed
  in integers with half of the last unit added, shifted down and clipped to 0..255; one separable
  pass per axis that changes size, with the intermediate picture rounded to 8 bits. A pass is a
  few banded matrix products over the whole chunk of frames, with the axis being resampled first in
  memory (BLAS is fastest with the small weight matrix on the left), so the 8-bit frames are
  transposed before each pass. The products run in float32 and are exact: each weight is split as
  ``c = 2^s hi + lo`` with ``0 <= lo < 2^s``, the sums ``H = sum p hi`` and ``L = sum p lo 2^-s``
  are separate rows of the product, and ``s`` is chosen per pass so that every partial sum is a
  multiple of 2^-s below 2^24 (see ``_exact_split``). Pillow's ``(sum p c + 2^21) >> 22`` is then
  ``floor((H + floor(L)) 2^(s-22) + 1/2)``: that value plus half its last unit is exact and never a
  tie, so one saturating OpenCV conversion rounds and clips it. Pictures shrunk from thousands of
  pixels, where no ``s`` fits float32, run the same products in float64. Pillow 13 runs the
  vertical pass first when the height shrinks by more than twice as many pixels as the width;
  older Pillows always run the horizontal pass first. The order the installed Pillow uses is found
  once by resizing two small probe pictures, and if neither order reproduces it, ``phash_batch``
  falls back to calling Pillow frame by frame, so the result is always the installed Pillow's.
* **DCT**: the 8x8 corner is two small float64 matrix products instead of two full FFT-based DCTs.
  Their floats differ from scipy's in the last bits, so each frame's bits are *certified*: when
  every coefficient lies further than ``DCT_MARGIN`` from the median (error bound below), the
  comparison with the median cannot come out differently in scipy's floats. The median of 64 values
  is the mean of the middle two, so the coefficients closest to it are those two, half their gap
  away. The rare frames that fail (flat or symmetric pictures, whose coefficients tie) are hashed
  again with scipy exactly as imagehash does. The result is therefore bit-identical, not just close.

Error bound for the certification: pixels are at most 255 and the unnormalised DCT-II weights at
most 2, so the first 32-term sums are below 16,320 and the second below 1.05e6; with unit roundoff
u = 2^-53, a 32-term dot product errs by at most 32u times the sum of the absolute terms, which is
under 1e-8 for both our products and scipy's FFT (whose error grows only with log n). The median of
two middle values moves by no more than the values do. ``DCT_MARGIN`` = 1e-6 leaves a factor of
about 100.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Final

import numpy as np

HASH_SIZE: Final = 8
HIGHFREQ_FACTOR: Final = 4
IMG_SIZE: Final = HASH_SIZE * HIGHFREQ_FACTOR
HEX_DIGITS: Final = 16

PRECISION_BITS: Final = 32 - 8 - 2
"""Fractional bits of Pillow's fixed-point resampling coefficients for 8-bit pictures."""

LANCZOS_SUPPORT: Final = 3.0
DCT_MARGIN: Final = 1e-6
"""A frame's bits are certified when every low-frequency coefficient is this far from the median."""

CHUNK_PIXELS: Final = 3 << 16
"""Frames are processed in chunks of about this many input pixels (48 frames of 64x64): larger chunks
spill the float working arrays out of the processor's cache, smaller ones pay the per-call costs of
numpy more often."""

_BAND_OUTPUTS = 4  # outputs per banded product (8 rows of split weights): 2 and 8 measured slower at 64 -> 32
_HEX_RE = re.compile(r"[0-9a-fA-F]{16}")
_n = np.arange(IMG_SIZE)
_DCT8 = 2.0 * np.cos(np.pi * np.arange(HASH_SIZE)[:, None] * (2 * _n[None, :] + 1) / (2 * IMG_SIZE))
"""Rows 0..7 of scipy's unnormalised DCT-II matrix of size 32: ``y_k = 2 sum_n x_n cos(pi k (2n+1) / 64)``."""


# ---------------------------------------------------------------- Pillow's LANCZOS, reproduced


def _sinc(x: float) -> float:
    if x == 0.0:
        return 1.0
    x = x * math.pi
    return math.sin(x) / x


def _lanczos(x: float) -> float:
    if -3.0 <= x < 3.0:
        return _sinc(x) * _sinc(x / 3)
    return 0.0


@functools.lru_cache(maxsize=128)
def lanczos_coefficients(in_size: int, out_size: int) -> np.ndarray:
    """Pillow's fixed-point LANCZOS weights for resizing ``in_size`` pixels to ``out_size``.

    An (out_size, in_size) int64 array: row ``i`` holds the integer weights (scaled by
    2^``PRECISION_BITS``) of the input pixels that make output pixel ``i``, zero elsewhere. The
    arithmetic is Pillow's ``precompute_coeffs`` and ``normalize_coeffs_8bpc`` step by step, in
    Python floats (C doubles) and libm's ``sin``, so every weight is the one Pillow uses.
    """
    if in_size < 1 or out_size < 1:
        raise ValueError(f"sizes must be positive, got {in_size} -> {out_size}")
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = LANCZOS_SUPPORT * filterscale
    inv = 1.0 / filterscale
    weights = np.zeros((out_size, in_size), dtype=np.int64)
    unit = 1 << PRECISION_BITS
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)  # int() truncates towards zero, as C does
        count = min(int(center + support + 0.5), in_size) - xmin
        row = [_lanczos((x + xmin - center + 0.5) * inv) for x in range(count)]
        total = 0.0
        for w in row:  # summed in order, as Pillow does
            total += w
        if total != 0.0:
            row = [w / total for w in row]
        weights[xx, xmin : xmin + count] = [int(-0.5 + w * unit) if w < 0 else int(0.5 + w * unit) for w in row]
    return weights


class _Scratch:
    """Working arrays reused from one chunk to the next, by name.

    A fresh array of a megabyte is mapped page by page on first touch, and at these sizes the
    page faults cost more than the arithmetic done in the array.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def array(self, name: str, shape: tuple[int, ...], dtype: type[np.generic]) -> np.ndarray:
        """A C-contiguous array of ``shape`` and ``dtype``, with whatever a previous chunk left in it."""
        size = math.prod(shape)
        buffer = self._buffers.get(name)
        if buffer is None or buffer.dtype != dtype or buffer.size < size:
            buffer = self._buffers[name] = np.empty(size, dtype=dtype)
        return buffer[:size].reshape(shape)


@dataclass(frozen=True)
class _Pass:
    """One of Pillow's 1-D passes as exact matrix products (see the module notes).

    Row ``2i`` of the products is output ``i``'s integer high part ``H``, row ``2i + 1`` its low part
    ``L``; the output pixel is ``floor((H + floor(L)) * scale + 1/2)``, clipped to 0..255. Outputs
    go in bands of ``_BAND_OUTPUTS``, each band a product over the short window of inputs it reads,
    and a run of bands with the same weights on windows a constant ``step`` apart (the inside of
    the picture, when a band spans a whole number of input pixels) is one stacked product:
    ``runs`` holds (first row, bands, first input, step, weights) for each.
    """

    dtype: type[np.floating]
    scale: float
    runs: tuple[tuple[int, int, int, int, np.ndarray], ...]


def _exact_split(weights: np.ndarray) -> tuple[type[np.floating], int]:
    """The float type and the ``shift`` of the split ``c = 2^shift * hi + lo`` that keep a pass exact.

    With 8-bit pixels p >= 0 and 0 <= lo < 2^shift, every partial sum of ``p * lo`` is at most
    ``255 * sum(lo)`` and every partial sum of ``p * hi`` at most ``255 * sum(|hi|)`` in magnitude.
    float32 holds them exactly below 2^24 (and ``2 (H + floor(L)) + 1``, the numerator of the
    rounded value, too); the largest shift that fits is used, or float64 when none does (pictures
    shrunk from thousands of pixels), where shift 21 is exact for any realistic size.
    """
    exact = 1 << 24
    for shift in range(PRECISION_BITS - 1, -1, -1):
        hi, lo = weights >> shift, weights & ((1 << shift) - 1)
        low_sum = 255 * int(lo.sum(axis=1).max())
        high_sum = 255 * int(np.abs(hi).sum(axis=1).max()) + (low_sum >> shift)
        if low_sum < exact and 2 * high_sum + 1 < exact:
            return np.float32, shift
    return np.float64, PRECISION_BITS - 1


@functools.lru_cache(maxsize=128)
def _pass_plan(in_size: int, out_size: int) -> _Pass:
    """Pillow's weights for ``in_size`` -> ``out_size``, split, interleaved and cut into bands."""
    weights = lanczos_coefficients(in_size, out_size)
    dtype, shift = _exact_split(weights)
    split = np.empty((2 * out_size, in_size))
    split[0::2] = weights >> shift
    split[1::2] = (weights & ((1 << shift) - 1)) * 2.0**-shift
    runs: list[tuple[int, int, int, int, np.ndarray]] = []
    for first in range(0, out_size, _BAND_OUTPUTS):
        end = min(first + _BAND_OUTPUTS, out_size)
        used = np.flatnonzero(np.any(weights[first:end] != 0, axis=0))
        lo, hi = (int(used[0]), int(used[-1]) + 1) if len(used) else (0, 1)
        block = np.ascontiguousarray(split[2 * first : 2 * end, lo:hi], dtype=dtype)
        if runs:
            row, count, start, step, same = runs[-1]
            if same.shape == block.shape and np.array_equal(same, block) and (count == 1 or lo - start == count * step):
                runs[-1] = (row, count + 1, start, (lo - start) // count, same)
                continue
        runs.append((2 * first, 1, lo, 0, block))
    return _Pass(dtype, 2.0 ** (shift - PRECISION_BITS), tuple(runs))


def _resample_leading(x: np.ndarray, in_size: int, out_size: int, scratch: _Scratch, name: str) -> np.ndarray:
    """One Pillow pass along the first axis of ``x`` (in_size, M) uint8: (out_size, M) uint8, in ``scratch``."""
    import cv2

    plan = _pass_plan(in_size, out_size)
    src = scratch.array(f"{name}.in", x.shape, plan.dtype)
    np.copyto(src, x)
    sums = scratch.array(f"{name}.sums", (2 * out_size, x.shape[1]), plan.dtype)
    row_bytes, item_bytes = src.strides
    for row, count, start, step, weights in plan.runs:
        rows, width = weights.shape
        # the run's overlapping input windows, as one (count, width, M) view of src
        windows = np.ndarray(
            (count, width, x.shape[1]), plan.dtype, src, start * row_bytes, (step * row_bytes, row_bytes, item_bytes)
        )
        np.matmul(weights, windows, out=sums[row : row + count * rows].reshape(count, rows, -1))
    high, low = sums[0::2], sums[1::2]
    np.floor(low, out=low)
    # (H + floor(L)) * scale + scale / 2 is exact and never halfway between two integers, so OpenCV's
    # saturating round-half-even conversion gives Pillow's floor(v + 1/2), clipped to 0..255.
    out = scratch.array(f"{name}.out", (out_size, x.shape[1]), np.uint8)
    return cv2.addWeighted(high, plan.scale, low, plan.scale, plan.scale / 2, dst=out, dtype=cv2.CV_8U)


def _transpose(a: np.ndarray, scratch: _Scratch, name: str) -> np.ndarray:
    """A 2-D uint8 array transposed into a scratch array (OpenCV's blocked transpose is fast)."""
    import cv2

    return cv2.transpose(np.ascontiguousarray(a), dst=scratch.array(name, (a.shape[1], a.shape[0]), np.uint8))


def _vertical_first(height: int, width: int, out_height: int, out_width: int, rule: str) -> bool:
    """Whether the installed Pillow runs the vertical pass first for this resize."""
    return rule == "pillow13" and height > out_height and height - out_height > 2 * (width - out_width)


def _resize_axes(
    frames: np.ndarray, width: int, height: int, rule: str, scratch: _Scratch
) -> tuple[np.ndarray, bool]:
    """Resize (N, H, W) uint8 frames; returns (A, transposed) with A of shape (height, width, N) or,
    when ``transposed``, (width, height, N): the layout the last pass leaves, without a final copy.
    A lives in ``scratch``."""
    n, rows, cols = frames.shape
    need_h, need_v = cols != width, rows != height
    if _vertical_first(rows, cols, height, width, rule) and need_h:
        # (y, (f, x)) -> vertical pass -> ((yy, f), x) transposed to (x, (yy, f)) -> horizontal pass
        by_rows = scratch.array("rows", (rows, n, cols), np.uint8)
        np.copyto(by_rows, frames.transpose(1, 0, 2))
        v = _resample_leading(by_rows.reshape(rows, n * cols), rows, height, scratch, "v")
        h = _resample_leading(_transpose(v.reshape(height * n, cols), scratch, "vt"), cols, width, scratch, "h")
        return h.reshape(width, height, n), True
    if need_h:
        # (x, (f, y)) -> horizontal pass -> ((xx, f), y) transposed to (y, (xx, f)) -> vertical pass
        h = _resample_leading(_transpose(frames.reshape(n * rows, cols), scratch, "in"), cols, width, scratch, "h")
        by_rows = _transpose(h.reshape(width * n, rows), scratch, "ht")
        if need_v:
            by_rows = _resample_leading(by_rows, rows, height, scratch, "v")
        return by_rows.reshape(height, width, n), False
    by_rows = scratch.array("rows", (rows, cols, n), np.uint8)
    np.copyto(by_rows, frames.transpose(1, 2, 0))
    if need_v:
        v = _resample_leading(by_rows.reshape(rows, cols * n), rows, height, scratch, "v")
        return v.reshape(height, width, n), False
    return by_rows, False


def lanczos_resize_batch(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N, H, W) uint8 grey frames resized to (N, height, width), equal to Pillow's LANCZOS resize of each.

    Equal means byte for byte what ``Image.fromarray(f).resize((width, height), LANCZOS)`` gives with
    the installed Pillow (see the module notes); if that cannot be reproduced, Pillow is called.
    """
    arr = _check_frames(frames)
    if width < 1 or height < 1:
        raise ValueError(f"target size must be positive, got {width}x{height}")
    rule = lanczos_pass_order()
    if rule is None or arr.shape[0] == 0:
        return _pillow_resize(arr, width, height)
    out = np.empty((arr.shape[0], height, width), dtype=np.uint8)
    scratch = _Scratch()
    for start, stop in _chunks(arr):
        a, transposed = _resize_axes(arr[start:stop], width, height, rule, scratch)
        out[start:stop] = a.transpose(2, 1, 0) if transposed else a.transpose(2, 0, 1)
    return out


def _pillow_resize(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """The reference: Pillow's own LANCZOS resize, one frame at a time."""
    from PIL import Image

    out = np.empty((frames.shape[0], height, width), dtype=np.uint8)
    for i, frame in enumerate(frames):
        out[i] = np.asarray(Image.fromarray(frame).resize((width, height), Image.Resampling.LANCZOS))
    return out


@functools.cache
def lanczos_pass_order() -> str | None:
    """Which pass order of the batch resize reproduces the installed Pillow: "pillow13", "horizontal", or
    None (neither: the batch falls back to Pillow's own resize). Found once per process, by resizing three
    small pictures both ways and with Pillow, which imports Pillow: a caller may do it ahead, on a thread."""
    from PIL import Image

    rng = np.random.default_rng(20240607)
    # shrinking the height by far more than the width: Pillow 13 goes vertical first, older ones do not
    tall = rng.integers(0, 256, (85, 52), dtype=np.uint8)
    square = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    probes = [(tall, 20, 20), (square, IMG_SIZE, IMG_SIZE), (tall.T.copy(), 20, 20)]
    expected = [np.asarray(Image.fromarray(p).resize((w, h), Image.Resampling.LANCZOS)) for p, w, h in probes]
    for rule in ("pillow13", "horizontal"):
        ok = True
        for (picture, w, h), want in zip(probes, expected, strict=True):
            a, transposed = _resize_axes(picture[None], w, h, rule, _Scratch())
            got = a[:, :, 0].T if transposed else a[:, :, 0]
            ok = ok and np.array_equal(got, want)
        if ok:
            return rule
    return None


# ---------------------------------------------------------------- hashing


def _check_frames(gray: np.ndarray) -> np.ndarray:
    arr = np.asarray(gray)
    if arr.ndim != 3:
        raise ValueError(f"expected (N, H, W) grey frames, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames, got {arr.dtype}")
    if arr.shape[1] == 0 or arr.shape[2] == 0:
        raise ValueError(f"frames must have at least one pixel, got shape {arr.shape}")
    return arr


def _chunks(arr: np.ndarray) -> list[tuple[int, int]]:
    step = max(1, CHUNK_PIXELS // (arr.shape[1] * arr.shape[2]))
    return [(i, min(i + step, arr.shape[0])) for i in range(0, arr.shape[0], step)]


def _reference_bits(small: np.ndarray) -> np.ndarray:
    """imagehash's own float steps on one (32, 32) uint8 picture: (64,) bools."""
    import scipy.fftpack

    dct = scipy.fftpack.dct(scipy.fftpack.dct(small, axis=0), axis=1)
    low = dct[:HASH_SIZE, :HASH_SIZE]
    return (low > np.median(low)).ravel()


def _hashes(small: np.ndarray, transposed: bool, scratch: _Scratch) -> np.ndarray:
    """(N,) uint64 hashes of 32x32 pictures laid out (row, column, frame), or (column, row, frame).

    The 8x8 corner ``D P Dᵀ`` is two matrix products. Every coefficient is at least half the gap
    between the two middle ones away from their mean, the median; frames where that is not more
    than ``DCT_MARGIN`` are redone with scipy (see the module notes), so the bits are imagehash's.
    """
    n = small.shape[2]
    p = scratch.array("dct", (IMG_SIZE, IMG_SIZE * n), np.float64)
    np.copyto(p, small.reshape(IMG_SIZE, IMG_SIZE * n))
    a = (_DCT8 @ p).reshape(HASH_SIZE, IMG_SIZE, n)
    low = np.matmul(_DCT8, a)  # (first axis freq, second axis freq, N)
    coefficients = np.ascontiguousarray(low.transpose((2, 1, 0) if transposed else (2, 0, 1))).reshape(n, -1)
    ranked = np.sort(coefficients, axis=1)
    middle = HASH_SIZE * HASH_SIZE // 2
    median = (ranked[:, middle - 1] + ranked[:, middle]) / 2
    bits = coefficients > median[:, None]
    for i in np.flatnonzero(ranked[:, middle] - ranked[:, middle - 1] <= 2 * DCT_MARGIN):
        picture = small[:, :, i].T if transposed else small[:, :, i]
        bits[i] = _reference_bits(np.ascontiguousarray(picture))
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)  # first bit is the MSB


def phash_batch(gray: np.ndarray) -> np.ndarray:
    """pHashes of (N, H, W) uint8 grey frames as (N,) uint64 (``format(v, '016x')`` is imagehash's string).

    Bit-identical to ``imagehash.phash(Image.fromarray(frame))`` for every frame, vectorised over the
    batch (see the module notes). N may be 0.
    """
    arr = _check_frames(gray)
    out = np.zeros(arr.shape[0], dtype=np.uint64)
    if arr.shape[0] == 0:
        return out
    rule = lanczos_pass_order()
    scratch = _Scratch()
    for start, stop in _chunks(arr):
        if rule is None:  # an unknown Pillow: its own resize, then the same certified DCT
            small, transposed = _pillow_resize(arr[start:stop], IMG_SIZE, IMG_SIZE).transpose(1, 2, 0), False
        else:
            small, transposed = _resize_axes(arr[start:stop], IMG_SIZE, IMG_SIZE, rule, scratch)
        out[start:stop] = _hashes(small, transposed, scratch)
    return out


def phash_image(image: object) -> str:
    """The pHash of a Pillow image as 16 hex digits, equal to ``str(imagehash.phash(image))``."""
    grey = np.asarray(image.convert("L"))  # type: ignore[attr-defined]
    return phash_to_hex(int(phash_batch(grey[None])[0]))


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
