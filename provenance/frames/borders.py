"""Find borders (black letterbox and pillarbox bars, blurred padding) and cut them away before hashing.

A border line (row or column of the working frame) is flat within every frame and, in a video,
does not change over time. Lines are peeled from each edge inward until one carries picture.
A still can only use the flatness test, so it needs flatter lines. The box is kept only if it
leaves a sizeable picture, since a dark or empty clip would otherwise be cut down to noise.

In a compilation every part may be padded its own way, so ``border_runs`` first finds each
frame's borders from the frames within a second of it, splits the item into runs that share
them, and then finds each run's box from all of its frames, so the box is stable within a run.

A video is not held whole: ``RunSplitter`` makes the same split from frames fed a chunk at a time,
and ``chunked_content_box`` finds the same box as ``detect_content_box`` from a run's frames read
back in chunks, keeping per-line sums only. Both give the whole-array functions' results bit for
bit: per-frame values are computed the same way, sums down the frames are added in numpy's own
order, and medians over the frames are found by counting (two passes), not sorting.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

import numpy as np

from provenance.model import FULL_BOX, ContentBox

FLAT_STD_VIDEO = 6.0  # grey levels: largest spread along a border line in any one frame
FLAT_STD_STILL = 3.0
STEADY_STD = 3.0  # grey levels: largest change of a border line's mean over time
BAR_TONE = 4.0  # grey levels: a bar's lines all have the tone of its outermost line
BAR_MAX_TONE = 48.0  # bars are black or dark; a flat bright band is far likelier a blown-out sky
MIN_KEEP = 0.2  # the box keeps at least this share of each side, or no border is reported
BLUR_ENERGY = 0.5  # a blurred band has less than this share of the picture's detail (gradient energy)
BLUR_MIN_BAND = 0.05  # each blurred band covers at least this share of the side ...
BLUR_SYMMETRY = 0.06  # ... and the two bands differ by at most this share: centred placement
EDGE_MIN = 8.0  # grey levels: mean step across an inset's outline, in the median frame
EDGE_RATIO = 2.5  # ... and that many times the typical step between neighbouring lines


def _flat_lines(gray: np.ndarray, axis: int, still: bool) -> np.ndarray:
    """Which lines (rows for axis=1, columns for axis=2) look like border, over all frames."""
    data = gray.astype(np.float32)
    spread = data.std(axis=axis).max(axis=0)  # per line: worst within-frame spread
    steady = data.mean(axis=axis).std(axis=0) if not still and len(gray) > 1 else None  # over (N, lines)
    return _flat(spread, steady, still)


def _flat(spread: np.ndarray, steady: np.ndarray | None, still: bool) -> np.ndarray:
    """Lines flat in every frame (``spread``: the largest within-frame spread) and, unless ``steady`` is
    None (one frame), steady over time (``steady``: the spread of each line's mean over the frames)."""
    flat = spread <= (FLAT_STD_STILL if still else FLAT_STD_VIDEO)
    if steady is not None:
        flat &= steady <= STEADY_STD
    return flat


def _peel(flat: np.ndarray, tone: np.ndarray | None = None) -> tuple[int, int]:
    """First and one-past-last index of the non-border run, peeling border lines from both ends.

    With ``tone`` (each line's mean grey), a bar must be dark and keep the tone of its outermost
    line: a bar is one colour, while a smooth sky or wall darkens or brightens line by line.
    """
    n = len(flat)

    def same_tone(i: int, edge: int) -> bool:
        if tone is None:
            return True
        return float(tone[edge]) <= BAR_MAX_TONE and abs(float(tone[i]) - float(tone[edge])) <= BAR_TONE

    start = 0
    while start < n and flat[start] and same_tone(start, 0):
        start += 1
    end = n
    while end > start and flat[end - 1] and same_tone(end - 1, n - 1):
        end -= 1
    return start, end


def _detail(gray: np.ndarray, axis: int) -> np.ndarray:
    """Mean absolute gradient per line (rows for axis=1, columns for axis=2), over all frames."""
    data = gray.astype(np.float32)
    grad = np.abs(np.diff(data, axis=1))[:, :, :-1] + np.abs(np.diff(data, axis=2))[:, :-1, :]
    per_line = grad.mean(axis=axis).mean(axis=0)
    return np.append(per_line, per_line[-1])


def _blurred_bands(gray: np.ndarray, axis: int) -> tuple[int, int] | None:
    """Symmetric blurred bands on both ends (a clip centred on a blurred copy of itself), or None."""
    return _bands_in(_detail(gray, axis))


def _bands_in(raw: np.ndarray) -> tuple[int, int] | None:
    """``_blurred_bands`` from each line's detail (``_detail``)."""
    n = len(raw)
    # a running median over 5 lines, so one textured line in a blurred band does not end the band
    padded = np.pad(raw, 2, mode="edge")
    detail = np.median(np.lib.stride_tricks.sliding_window_view(padded, 5), axis=1)
    centre = float(np.median(detail[n // 3 : n - n // 3]))
    if centre <= 0:
        return None
    start, end = _peel(detail < BLUR_ENERGY * centre)
    low, high = start / n, (n - end) / n
    if min(low, high) < BLUR_MIN_BAND or abs(low - high) > BLUR_SYMMETRY:
        return None
    return start, end


def _centred_edges(gray: np.ndarray, axis: int) -> tuple[int, int] | None:
    """Two straight edges across the whole picture, in every frame, placed symmetrically: the
    outline of a clip centred on a canvas (over a blurred copy of itself, or over anything else)."""
    if len(gray) < 2:
        return None  # a still has no "every frame" to tell an inset from a straight edge in the scene
    data = gray.astype(np.float32)
    step = np.abs(np.diff(data, axis=axis))  # (N, n-1, W) for rows
    per_frame = step.mean(axis=3 - axis)  # mean along each boundary line, per frame
    return _edges_in(np.median(per_frame, axis=0), lambda: _detail(gray, 2 if axis == 1 else 1))


def _edges_in(strength: np.ndarray, detail_of: Callable[[], np.ndarray]) -> tuple[int, int] | None:
    """``_centred_edges`` from ``strength``, the median over frames of the mean step across each boundary
    between neighbouring lines, and ``detail_of()``, the detail (``_detail``) of the lines across them."""
    n = strength.shape[0] + 1  # boundary i lies between lines i and i+1
    base = float(np.median(strength))
    best, pick = 0.0, None
    for i in range(max(1, int(0.05 * n)), int(0.45 * n)):
        j_range = range(max(i + 1, n - 2 - i - 2), min(n - 1, n - 2 - i + 3))
        if not j_range:
            continue
        j = max(j_range, key=lambda k: strength[k])
        score = min(strength[i], strength[j])
        if score > best:
            best, pick = score, (i + 1, j + 1)
    if pick is None or best < EDGE_MIN or best < EDGE_RATIO * base:
        return None
    # what lies outside must carry less detail than the clip: bars, or a blurred copy of it
    detail = detail_of()
    outside = np.concatenate([detail[: pick[0]], detail[pick[1]:]])
    inside = detail[pick[0] : pick[1]]
    if not len(outside) or float(np.mean(outside)) > BLUR_ENERGY * float(np.mean(inside)):
        return None
    return pick


def _detect_once(gray: np.ndarray, still: bool) -> tuple[int, int, int, int]:
    """Pixel bounds (left, top, right, bottom) of the picture inside one layer of borders."""
    _, height, width = gray.shape
    top, bottom = _peel(_flat_lines(gray, 2, still), gray.mean(axis=(0, 2)))
    left, right = _peel(_flat_lines(gray, 1, still), gray.mean(axis=(0, 1)))
    if top == 0 and bottom == height:
        top, bottom = _centred_edges(gray, 1) or _blurred_bands(gray, 2) or (top, bottom)
    if left == 0 and right == width:
        left, right = _centred_edges(gray, 2) or _blurred_bands(gray, 1) or (left, right)
    return left, top, right, bottom


def detect_content_box(gray: np.ndarray, *, still: bool = False) -> ContentBox:
    """The picture area of (N, H, W) grey frames as fractions of the frame; FULL_BOX when no border.

    Uniform bars are found first; where an axis has none, symmetric blurred bands (the social-media
    framing of a clip over an enlarged, blurred copy of itself) are looked for instead. A second
    pass looks inside what the first found, since a letterboxed clip is often framed again.
    """
    if gray.size == 0:
        return FULL_BOX
    _, height, width = gray.shape
    return _nested_box(lambda x0, y0, x1, y1: _detect_once(gray[:, y0:y1, x0:x1], still), height, width)


def _nested_box(detect_once: Callable[[int, int, int, int], tuple[int, int, int, int]], height: int,
                width: int) -> ContentBox:
    """The box of ``detect_content_box``: ``detect_once(x0, y0, x1, y1)`` gives the bounds of the picture
    inside that region of the frame, relative to it; it looks once in the whole frame, once inside."""
    x0, y0, x1, y1 = 0, 0, width, height
    for _ in range(2):
        if min(y1 - y0, x1 - x0) < 8:
            break
        left, top, right, bottom = detect_once(x0, y0, x1, y1)
        if (left, top, right, bottom) == (0, 0, x1 - x0, y1 - y0):
            break
        x0, y0, x1, y1 = x0 + left, y0 + top, x0 + right, y0 + bottom
    if (y1 - y0) < MIN_KEEP * height or (x1 - x0) < MIN_KEEP * width:
        return FULL_BOX
    return ContentBox(x0 / width, y0 / height, x1 / width, y1 / height)


def box_pixels(box: ContentBox, width: int, height: int) -> tuple[int, int, int, int]:
    """The box as integer pixel bounds (x0, y0, x1, y1) for a frame of the given size."""
    x0, y0 = round(box.left * width), round(box.top * height)
    x1, y1 = round(box.right * width), round(box.bottom * height)
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def crop_frames(gray: np.ndarray, box: ContentBox) -> np.ndarray:
    """The frames cut to ``box`` (a view; no copy when the box is full)."""
    if box.is_full or gray.size == 0:
        return gray
    _, height, width = gray.shape
    x0, y0, x1, y1 = box_pixels(box, width, height)
    return np.ascontiguousarray(gray[:, y0:y1, x0:x1])


def _window_flat(values: np.ndarray, radius: int, reduce: str) -> np.ndarray:
    """Per frame, ``max`` or ``std`` of (N, lines) values over the frames within ``radius``."""
    n = len(values)
    out = np.empty_like(values)
    for i in range(n):
        window = values[max(0, i - radius) : i + radius + 1]
        out[i] = window.max(axis=0) if reduce == "max" else window.std(axis=0)
    return out


def border_runs(gray: np.ndarray, fps: float, *, still: bool = False) -> list[tuple[int, int, ContentBox]]:
    """Split (N, H, W) frames into runs with the same borders: (first, stop, box) for each run."""
    n = len(gray)
    if n == 0:
        return []
    if still or n == 1:  # one frame cannot show a border holding steady: judge it as a still
        return [(0, n, detect_content_box(gray, still=True))]
    radius = max(1, round(fps))  # one second either side
    data = gray.astype(np.float32)
    flat_rows = _window_flat(data.std(axis=2), radius, "max") <= FLAT_STD_VIDEO
    flat_rows &= _window_flat(data.mean(axis=2), radius, "std") <= STEADY_STD
    flat_cols = _window_flat(data.std(axis=1), radius, "max") <= FLAT_STD_VIDEO
    flat_cols &= _window_flat(data.mean(axis=1), radius, "std") <= STEADY_STD
    row_tone, col_tone = data.mean(axis=2), data.mean(axis=1)
    signature = [(*_peel(flat_rows[i], row_tone[i]), *_peel(flat_cols[i], col_tone[i])) for i in range(n)]
    runs: list[tuple[int, int, ContentBox]] = []
    first = 0
    for i in range(1, n + 1):
        if i == n or _differs(signature[i], signature[first]):
            runs.append((first, i, detect_content_box(gray[first:i])))
            first = i
    return runs


def _differs(a: tuple[int, ...], b: tuple[int, ...], slack: int = 2) -> bool:
    """Whether two border signatures differ by more than ``slack`` lines on any side."""
    return any(abs(x - y) > slack for x, y in zip(a, b, strict=True))


Frames = Callable[[], Iterable[np.ndarray]]
"""Reads a video's frames (or a run of them) again from the first: each call yields (k, H, W) uint8 chunks in order."""


class RunSplitter:
    """``border_runs``' split of a video's frames (two or more) into runs with the same borders, chunk by chunk.

    A frame's borders are judged from the frames within ``round(fps)`` of it, so a run is known to have
    ended that many frames after the next one begins: ``feed`` returns the (first, stop) of the runs
    known to have ended, ``finish`` the rest. Only those few frames' per-line statistics are kept.
    """

    def __init__(self, fps: float) -> None:
        self.radius = max(1, round(fps))  # one second either side
        self.count = 0  # frames fed
        self._judged = 0  # frames whose borders are known
        self._first = 0  # the first frame of the open run, and its borders
        self._first_signature: tuple[int, ...] = ()
        self._oldest = 0  # the frame of self._lines[0]
        self._lines: deque[tuple[np.ndarray, ...]] = deque()  # per frame: row spread and mean, column spread and mean

    def feed(self, frames: np.ndarray) -> list[tuple[int, int]]:
        """Take the next (k, H, W) grey frames; the runs now known to have ended."""
        data = frames.astype(np.float32)
        self._lines.extend(zip(data.std(axis=2), data.mean(axis=2), data.std(axis=1), data.mean(axis=1), strict=True))
        self.count += len(frames)
        ended: list[tuple[int, int]] = []
        while self._judged + self.radius < self.count:
            ended += self._judge()
        return ended

    def finish(self) -> list[tuple[int, int]]:
        """The runs that end with the last frame fed (the last one among them)."""
        ended: list[tuple[int, int]] = []
        while self._judged < self.count:
            ended += self._judge()
        if self.count > self._first:
            ended.append((self._first, self.count))
        self._first = self.count
        return ended

    def _judge(self) -> list[tuple[int, int]]:
        """Find the borders of the next frame; the run it ends, if it starts a new one."""
        i = self._judged
        start, stop = max(0, i - self.radius), min(self.count, i + self.radius + 1)
        window = [self._lines[k - self._oldest] for k in range(start, stop)]
        row_spread, row_mean, col_spread, col_mean = (np.stack([w[n] for w in window]) for n in range(4))
        flat_rows = (row_spread.max(axis=0) <= FLAT_STD_VIDEO) & (row_mean.std(axis=0) <= STEADY_STD)
        flat_cols = (col_spread.max(axis=0) <= FLAT_STD_VIDEO) & (col_mean.std(axis=0) <= STEADY_STD)
        own = self._lines[i - self._oldest]
        signature = (*_peel(flat_rows, own[1]), *_peel(flat_cols, own[3]))
        self._judged += 1
        while self._oldest < self._judged - self.radius:  # no later window reaches back to it
            self._lines.popleft()
            self._oldest += 1
        if i == 0:
            self._first_signature = signature
        elif _differs(signature, self._first_signature):
            ended = [(self._first, i)]
            self._first, self._first_signature = i, signature
            return ended
        return []


def chunked_content_box(read: Frames, count: int, height: int, width: int) -> ContentBox:
    """``detect_content_box`` of ``count`` frames of a video (``height`` x ``width``) that ``read()``
    yields in chunks, value for value, in memory that does not grow with ``count``.

    Each look (in the whole frame, then inside what it found) reads the frames twice: once for each
    line's largest spread, its sums over time and the first half of each median, once more for the
    spread of each line's mean over time (which needs the mean first) and the second half.
    """
    if count == 0 or height == 0 or width == 0:
        return FULL_BOX
    return _nested_box(lambda x0, y0, x1, y1: _RegionLines(read, count, (x0, y0, x1, y1)).bounds(), height, width)


def _running_sum(total: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
    """``total`` plus the (k, L) ``rows`` one after another: numpy's own order when it sums down axis 0, so
    sums made chunk by chunk equal the sum of the whole (N, L) array, bit for bit."""
    return np.add.reduce(rows if total is None else np.concatenate([total[None], rows]), axis=0)


def _mean_of(total: np.ndarray, count: int, dtype: type[np.floating]) -> np.ndarray:
    """``total`` divided by ``count`` as ``np.mean`` divides its sum (by an intp count, into ``dtype``)."""
    return np.true_divide(total, np.intp(count), out=np.empty(total.shape, dtype), casting="unsafe")


class _FrameMedian:
    """``np.median(values, axis=0)`` of (N, L) per-frame values fed chunk by chunk in two passes, with no
    (N, L) array kept.

    The values are float32 means of sums of ``scale`` whole grey levels, so ``rint(value * scale)`` is
    the integer sum behind each: an order-keeping key. The first pass counts the keys' high halves per
    line, which puts each middle rank in one bucket; the second counts the low halves inside that
    bucket and keeps the values seen there; ``result`` averages the middle values as ``np.median`` does.
    """

    def __init__(self, count: int, lines: int, scale: int) -> None:
        half = count // 2
        self.ranks = (half - 1, half) if count % 2 == 0 else (half,)
        self.scale = scale
        bits = max(2, (255 * scale).bit_length())
        self.shift = (bits + 1) // 2
        self.lines = np.arange(lines)
        self.high = np.zeros((lines, 1 << (bits - self.shift)), dtype=np.int64)
        self.bucket: list[np.ndarray] = []
        self.within: list[np.ndarray] = []
        self.low = [np.zeros((lines, 1 << self.shift), dtype=np.int64) for _ in self.ranks]
        self.seen = [np.zeros((lines, 1 << self.shift), dtype=np.float32) for _ in self.ranks]

    def _keys(self, values: np.ndarray) -> np.ndarray:
        return np.rint(values.astype(np.float64) * self.scale).astype(np.int64)

    def first(self, values: np.ndarray) -> None:
        """Count (k, L) values in the first pass."""
        bins = self.high.shape[1]
        where = self.lines * bins + (self._keys(values) >> self.shift)
        self.high += np.bincount(where.ravel(), minlength=self.high.size).reshape(self.high.shape)

    def second(self, values: np.ndarray) -> None:
        """Count the same values again, chunk for chunk, in the second pass."""
        if not self.bucket:  # the first pass is over: find each rank's bucket
            cum = np.cumsum(self.high, axis=1)
            for rank in self.ranks:
                bucket = np.argmax(cum > rank, axis=1)
                self.bucket.append(bucket)
                self.within.append(rank - (cum[self.lines, bucket] - self.high[self.lines, bucket]))
        keys = self._keys(values)
        high, low = keys >> self.shift, keys & ((1 << self.shift) - 1)
        lines = np.broadcast_to(self.lines, keys.shape)
        for counts, seen, bucket in zip(self.low, self.seen, self.bucket, strict=True):
            inside = high == bucket
            line, digit = lines[inside], low[inside]
            counts += np.bincount(line * counts.shape[1] + digit, minlength=counts.size).reshape(counts.shape)
            seen[line, digit] = values[inside]  # one value per key: equal sums make equal means

    def result(self) -> np.ndarray:
        """The (L,) medians, after both passes."""
        middle = [seen[self.lines, np.argmax(np.cumsum(counts, axis=1) > within[:, None], axis=1)]
                  for counts, seen, within in zip(self.low, self.seen, self.within, strict=True)]
        return np.mean(np.stack(middle), axis=0)


class _LineSums:
    """One direction's statistics (rows or columns) of a region of ``count`` frames, summed chunk by chunk."""

    def __init__(self, count: int, lines: int, across: int) -> None:
        self.count, self.across = count, across  # ``across``: the pixels along each line
        self.spread = np.full(lines, -np.inf, dtype=np.float32)
        self.tone_sum = np.zeros(lines, dtype=np.int64)
        self.mean_sum: np.ndarray | None = None
        self.mean: np.ndarray | None = None
        self.deviation_sum: np.ndarray | None = None
        self.detail_sum: np.ndarray | None = None
        # the step between neighbouring lines is a mean along them of ``across`` pixels
        self.median = _FrameMedian(count, lines - 1, across) if count > 1 else None

    def first(self, spread: np.ndarray, means: np.ndarray, tone: np.ndarray, step: np.ndarray,
              detail: np.ndarray) -> None:
        """Per-frame (k, ...) values of one chunk in the first read."""
        self.spread = np.maximum(self.spread, spread.max(axis=0))
        self.tone_sum += tone
        self.detail_sum = _running_sum(self.detail_sum, detail)
        if self.median is not None:
            self.mean_sum = _running_sum(self.mean_sum, means)
            self.median.first(step)

    def second(self, means: np.ndarray, step: np.ndarray) -> None:
        """Per-frame values of one chunk in the second read (two frames or more)."""
        if self.mean is None:
            assert self.mean_sum is not None
            self.mean = _mean_of(self.mean_sum, self.count, np.float32)
        self.deviation_sum = _running_sum(self.deviation_sum, np.square(means - self.mean))
        assert self.median is not None
        self.median.second(step)

    def flat(self) -> np.ndarray:
        """``_flat_lines`` of these lines."""
        steady = None
        if self.deviation_sum is not None:
            steady = np.sqrt(_mean_of(self.deviation_sum, self.count, np.float32))
        return _flat(self.spread, steady, still=False)

    def tone(self) -> np.ndarray:
        """Each line's mean grey over all frames (float64, as numpy's mean of uint8)."""
        return _mean_of(self.tone_sum.astype(np.float64), self.count * self.across, np.float64)

    def detail(self) -> np.ndarray:
        """``_detail`` of these lines."""
        assert self.detail_sum is not None
        per_line = _mean_of(self.detail_sum, self.count, np.float32)
        return np.append(per_line, per_line[-1])

    def bounds(self) -> tuple[int, int]:
        """First and one-past-last line of the picture: bars, else centred edges, else blurred bands."""
        start, end = _peel(self.flat(), self.tone())
        if start == 0 and end == len(self.spread):
            detail = self.detail()
            edges = _edges_in(self.median.result(), lambda: detail) if self.median is not None else None
            start, end = edges or _bands_in(detail) or (start, end)
        return start, end


class _RegionLines:
    """``_detect_once`` of a region (x0, y0, x1, y1) of a video's frames, from two reads of them."""

    def __init__(self, read: Frames, count: int, region: tuple[int, int, int, int]) -> None:
        self.region = region
        x0, y0, x1, y1 = region
        self.rows = _LineSums(count, y1 - y0, x1 - x0)
        self.cols = _LineSums(count, x1 - x0, y1 - y0)
        for chunk in read():
            data, rows_step, cols_step = self._steps(chunk)
            grad = rows_step[:, :, :-1] + cols_step[:, :-1, :]
            inner = chunk[:, y0:y1, x0:x1]
            self.rows.first(data.std(axis=2), data.mean(axis=2), inner.sum(axis=(0, 2), dtype=np.int64),
                            rows_step.mean(axis=2), grad.mean(axis=2))
            self.cols.first(data.std(axis=1), data.mean(axis=1), inner.sum(axis=(0, 1), dtype=np.int64),
                            cols_step.mean(axis=1), grad.mean(axis=1))
        if count > 1:
            for chunk in read():
                data, rows_step, cols_step = self._steps(chunk)
                self.rows.second(data.mean(axis=2), rows_step.mean(axis=2))
                self.cols.second(data.mean(axis=1), cols_step.mean(axis=1))

    def _steps(self, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The region of a chunk as float32, and its absolute steps down (between rows) and across."""
        x0, y0, x1, y1 = self.region
        data = chunk[:, y0:y1, x0:x1].astype(np.float32)
        return data, np.abs(np.diff(data, axis=1)), np.abs(np.diff(data, axis=2))

    def bounds(self) -> tuple[int, int, int, int]:
        """Pixel bounds (left, top, right, bottom) of the picture inside the region, relative to it."""
        top, bottom = self.rows.bounds()
        left, right = self.cols.bounds()
        return left, top, right, bottom
