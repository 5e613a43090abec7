"""Find uniform borders (letterbox, pillarbox, padding) and cut them away before hashing.

A border line (row or column of the working frame) is flat within every frame and, in a video,
does not change over time. Lines are peeled from each edge inward until one carries picture.
The box is found once per item, from all its samples, so it is stable; a still can only use the
flatness test, so it needs flatter lines. The box is kept only if it leaves a sizeable picture,
since a dark or empty clip would otherwise be cut down to noise.
"""

from __future__ import annotations

import numpy as np

from provenance.model import FULL_BOX, ContentBox

FLAT_STD_VIDEO = 6.0  # grey levels: largest spread along a border line in any one frame
FLAT_STD_STILL = 3.0
STEADY_STD = 3.0  # grey levels: largest change of a border line's mean over time
MIN_KEEP = 0.3  # the box keeps at least this share of each side, or no border is reported


def _flat_lines(gray: np.ndarray, axis: int, still: bool) -> np.ndarray:
    """Which lines (rows for axis=1, columns for axis=2) look like border, over all frames."""
    data = gray.astype(np.float32)
    spread = data.std(axis=axis).max(axis=0)  # per line: worst within-frame spread
    flat = spread <= (FLAT_STD_STILL if still else FLAT_STD_VIDEO)
    if not still and len(gray) > 1:
        means = data.mean(axis=axis)  # (N, lines)
        flat &= means.std(axis=0) <= STEADY_STD
    return flat


def _peel(flat: np.ndarray) -> tuple[int, int]:
    """First and one-past-last index of the non-border run, peeling border lines from both ends."""
    n = len(flat)
    start = 0
    while start < n and flat[start]:
        start += 1
    end = n
    while end > start and flat[end - 1]:
        end -= 1
    return start, end


def detect_content_box(gray: np.ndarray, *, still: bool = False) -> ContentBox:
    """The picture area of (N, H, W) grey frames as fractions of the frame; FULL_BOX when no border."""
    if gray.size == 0:
        return FULL_BOX
    _, height, width = gray.shape
    top, bottom = _peel(_flat_lines(gray, 2, still))
    left, right = _peel(_flat_lines(gray, 1, still))
    if (bottom - top) < MIN_KEEP * height or (right - left) < MIN_KEEP * width:
        return FULL_BOX
    return ContentBox(left / width, top / height, right / width, bottom / height)


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
