"""Find borders (black letterbox and pillarbox bars, blurred padding) and cut them away before hashing.

A border line (row or column of the working frame) is flat within every frame and, in a video,
does not change over time. Lines are peeled from each edge inward until one carries picture.
A still can only use the flatness test, so it needs flatter lines. The box is kept only if it
leaves a sizeable picture, since a dark or empty clip would otherwise be cut down to noise.

In a compilation every part may be padded its own way, so ``border_runs`` first finds each
frame's borders from the frames within a second of it, splits the item into runs that share
them, and then finds each run's box from all of its frames, so the box is stable within a run.
"""

from __future__ import annotations

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
    flat = spread <= (FLAT_STD_STILL if still else FLAT_STD_VIDEO)
    if not still and len(gray) > 1:
        means = data.mean(axis=axis)  # (N, lines)
        flat &= means.std(axis=0) <= STEADY_STD
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
    raw = _detail(gray, axis)
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
    strength = np.median(per_frame, axis=0)  # boundary i lies between lines i and i+1
    n = strength.shape[0] + 1
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
    detail = _detail(gray, 2 if axis == 1 else 1)
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
    x0, y0, x1, y1 = 0, 0, width, height
    for _ in range(2):
        inner = gray[:, y0:y1, x0:x1]
        if min(inner.shape[1:]) < 8:
            break
        left, top, right, bottom = _detect_once(inner, still)
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
