"""Overlays (captions, logos, tickers) found by local features: something fixed on the query that
the archived picture does not show.

A caption or a logo is burned into every frame at the same place, so its keypoints recur in other
query frames at the same pixels with much the same descriptors, while nothing in the archived
frame of the same moment matches them. Footage does neither: what recurs unmoved in the query (a
still scene, a tripod shot) is in the archive too and matches it, and what the archive does not
match at the same moment (flames, water, a different instant) changes from frame to frame. A
caption on a translucent box lets a different bit of footage through each time, which changes its
letters' descriptors, so a keypoint recurs when any of a few other frames has it again. Colour
grids (``tone.py``) see large opaque boxes; keypoints also see thin captions and small logos,
whose text is dense in corners.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from provenance.model import Edit
from provenance.vision.feature_image import FEATURE_SIDE
from provenance.vision.features import FrameFeatures, FramePair, inverse_box

CELLS = 16  # the query frame is judged in CELLS x CELLS cells
MIN_KEYPOINTS = 3  # keypoints a cell needs in a frame to hold something
RECUR_BITS = 64  # a keypoint recurs when another frame has one this close (Hamming, of 256 bits) ...
RECUR_PIXELS = 3.0  # ... this close in place (pixels of the feature image) ...
RECUR_FRAMES = 4  # ... in any of this many other frames, spread over the clip
ARCHIVE_SHIFT = 1.0 / CELLS  # the archived frame lacks it when it has no such keypoint this near the mapped place
RECUR_SHARE = 0.3  # share of a cell's keypoints that must recur for the cell to be fixed
PERSISTENCE = 0.6  # share of the frame pairs in which a cell must be fixed and unmatched
MAX_SHARE = 0.35  # more of the picture than this is no overlay: a different picture, or no match
MIN_PAIRS = 4  # aligned frame pairs needed: a fixed thing must be seen fixed several times
SCALES = (0.6, 1.6)  # archived pixels per query pixel for which descriptors compare
MIN_PART = 2  # cells in a part (cells a cell apart joined): one lone cell is too little to call
EDGE_BAND = CELLS // 4  # cells: the outer quarter of the picture on each side
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)  # set bits of each byte value
_BITWISE_COUNT = getattr(np, "bitwise_count", None)  # numpy 2's popcount; the table otherwise


@dataclass(frozen=True)
class AlignedFrame:
    """A query frame's features, the archived frame it was aligned with, and the pair (its map, inliers)."""

    query: FrameFeatures
    pair: FramePair
    archive: FrameFeatures  # the archived frame of the pair


def _cell_of(points: np.ndarray) -> np.ndarray:
    """Flat cell number of each (K, 2) point in 0..1."""
    cells = np.clip(np.floor(points * CELLS).astype(np.int64), 0, CELLS - 1)
    return cells[:, 1] * CELLS + cells[:, 0]


def _hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bits that differ between the rows of two (N, 32) uint8 descriptor arrays."""
    differ = a ^ b
    if _BITWISE_COUNT is not None and differ.shape[1] % 8 == 0:
        return _BITWISE_COUNT(differ.view(np.uint64)).sum(axis=1)
    return _POPCOUNT[differ].sum(axis=1)


def _near(points: np.ndarray, other_points: np.ndarray, dx: float, dy: float) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols): pairs of a point and an other point in the same or neighbouring cells of a grid
    of cells a little over ``dx`` by ``dy``; every pair within ``dx`` across and ``dy`` down is among
    them (and more, which the caller's exact test drops)."""
    width, height = max(dx * 1.001, 2.0 ** -20), max(dy * 1.001, 2.0 ** -20)
    columns, lines = int(1.0 / width) + 1, int(1.0 / height) + 1

    def cells(at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # clipped alike on both sides: points within a cell of each other stay within a cell
        return (np.clip(np.floor(at[:, 0] / width), 0, columns - 1).astype(np.int64),
                np.clip(np.floor(at[:, 1] / height), 0, lines - 1).astype(np.int64))

    ox, oy = cells(other_points)
    order = np.argsort(oy * columns + ox, kind="stable")
    sorted_cells = (oy * columns + ox)[order]
    px, py = cells(points)
    step = np.array([-1, 0, 1])
    nx = np.broadcast_to(px[:, None, None] + step[None, None, :], (len(points), 3, 3))
    ny = np.broadcast_to(py[:, None, None] + step[None, :, None], (len(points), 3, 3))
    # a neighbour off the grid holds nothing: its number is one no other point has
    cell = np.where((nx >= 0) & (nx < columns) & (ny >= 0) & (ny < lines), ny * columns + nx, -1).ravel()
    low = np.searchsorted(sorted_cells, cell, "left")
    counts = np.searchsorted(sorted_cells, cell, "right") - low
    rows = np.repeat(np.arange(len(points)).repeat(9), counts)
    cols = order[np.repeat(low, counts) + np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)]
    return rows, cols


def _found_in(points: np.ndarray, descriptors: np.ndarray, other_points: np.ndarray,
              other_descriptors: np.ndarray, shift: float | np.ndarray) -> np.ndarray:
    """Per keypoint: whether one of the other keypoints (of one frame or several, in the same 0..1
    coordinates) lies within ``shift`` of it (one figure, or one per axis) with a descriptor within
    RECUR_BITS."""
    if not len(points) or not len(other_points):
        return np.zeros(len(points), dtype=bool)
    dx, dy = np.broadcast_to(np.asarray(shift, dtype=np.float64), (2,))
    rows, cols = _near(points, other_points, float(dx), float(dy))
    low, high = points[:, 0] - dx, points[:, 0] + dx
    across = other_points[cols, 0]
    close = (across >= low[rows]) & (across <= high[rows]) & (np.abs(points[rows, 1] - other_points[cols, 1]) <= dy)
    rows, cols = rows[close], cols[close]
    out = np.zeros(len(points), dtype=bool)
    if len(rows):
        out[rows[_hamming(descriptors[rows], other_descriptors[cols]) <= RECUR_BITS]] = True
    return out


def _inside_cells(pair: FramePair) -> np.ndarray:
    """(CELLS * CELLS,) whether each query cell lies on the archived picture, a cell clear of its
    outline where that is not the frame's edge (an inset's outline is fixed and no archived frame has it)."""
    import cv2

    x0, y0, x1, y1 = inverse_box(pair.affine)
    lows = np.arange(CELLS) / CELLS
    xs, ys = (v.ravel() for v in np.meshgrid(lows, lows))
    step, slack = 1.0 / CELLS, 0.25 / CELLS  # a fitted map of the whole frame lands a little inside it
    wholly = (xs >= x0 - slack) & (xs + step <= x1 + slack) & (ys >= y0 - slack) & (ys + step <= y1 + slack)
    clear = cv2.erode(wholly.reshape(CELLS, CELLS).astype(np.uint8), np.ones((3, 3), np.uint8),
                      borderType=cv2.BORDER_CONSTANT, borderValue=1)
    return clear.ravel().astype(bool)


def _near_picture_edge(cells: np.ndarray, picture: np.ndarray) -> np.ndarray:
    """The marked cells in components that reach the outer quarter of the picture area: captions,
    tickers and logos sit near its edges, with a margin."""
    import cv2

    core = cv2.erode(picture.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=EDGE_BAND,
                     borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)
    band = picture & ~core
    count, labels = cv2.connectedComponents(cells.astype(np.uint8), connectivity=8)
    keep = np.zeros_like(cells, dtype=bool)
    for label in range(1, count):
        part = labels == label
        if (part & band).any():
            keep |= part
    return keep


def _joined_parts(cells: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected parts of the marked cells, counting cells one cell apart as joined (the words of a
    caption, the letters of a logo): the number of labels and the label of every cell (0: unmarked)."""
    import cv2

    joined = cv2.dilate(cells.astype(np.uint8), np.ones((3, 3), np.uint8))
    count, labels = cv2.connectedComponents(joined, connectivity=8)
    return count, np.where(cells, labels, 0)


def _without_lone_cells(cells: np.ndarray) -> np.ndarray:
    """The marked cells in parts of at least MIN_PART cells."""
    count, labels = _joined_parts(cells)
    sizes = np.bincount(labels.ravel(), minlength=count)
    keep = sizes >= MIN_PART
    keep[0] = False
    return keep[labels]


def _describe(cells: np.ndarray, mirrored: bool) -> str:
    """Plain words for each connected part of the marked cells, in query frame coordinates."""

    count, labels = _joined_parts(cells)
    parts = []
    for label in range(1, count):
        rows, cols = np.nonzero(labels == label)
        if not len(rows):
            continue
        top, bottom = rows.min() / CELLS, (rows.max() + 1) / CELLS
        left, right = cols.min() / CELLS, (cols.max() + 1) / CELLS
        if mirrored:  # the features were of the mirrored query
            left, right = 1.0 - right, 1.0 - left
        vertical = "top" if bottom <= 0.5 else "bottom" if top >= 0.5 else "middle"
        if right - left >= 0.6:
            where = f"a band across the {vertical}"
        else:
            where = f"the {vertical} " + ("left" if right <= 0.5 else "right" if left >= 0.5 else "centre")
        parts.append((top, f"{where} (x {left:.2f}-{right:.2f}, y {top:.2f}-{bottom:.2f} of the query frame)"))
    return "; ".join(text for _, text in sorted(parts))


def _scale(frame: AlignedFrame) -> float:
    """How many archived feature-image pixels one query feature-image pixel spans (both long sides
    are FEATURE_SIDE), from the fitted map."""
    # in units of each image's height (the map keeps proportions there), then in pixels
    linear = frame.pair.affine[:, :2]
    in_heights = np.diag([frame.archive.aspect, 1.0]) @ linear @ np.diag([1 / frame.query.aspect, 1.0])
    heights = min(1.0, 1 / frame.archive.aspect) / min(1.0, 1 / frame.query.aspect)  # archive / query, in pixels
    return float(np.sqrt(abs(np.linalg.det(in_heights)))) * heights


def _others(i: int, count: int) -> list[int]:
    """Up to RECUR_FRAMES frames other than frame ``i`` of ``count``, spread evenly over the clip."""
    return sorted({(i + max(1, round(k * count / (RECUR_FRAMES + 1)))) % count
                   for k in range(1, RECUR_FRAMES + 1)} - {i})


def _recurring(frame: AlignedFrame, others: list[AlignedFrame], judged: np.ndarray) -> np.ndarray:
    """Per query keypoint of ``frame`` numbered in ``judged``: whether one of the ``others`` has it
    again at the same pixels.

    A burned-in caption or logo sits at the same pixels in every frame, while footage that moves
    rarely brings a keypoint back within a few pixels. Its descriptor is allowed to change more than
    a re-encode changes one (RECUR_BITS is a quarter of the bits; unrelated ones differ in half), as
    footage seen through a semi-transparent box changes the patch around the keypoint, and any one
    of several frames may show it: the box lets a different part of the footage through each time.
    """
    query = frame.query
    if not others:
        return np.zeros(len(judged), dtype=bool)
    width, height = (FEATURE_SIDE, FEATURE_SIDE / query.aspect) if query.aspect >= 1 \
        else (FEATURE_SIDE * query.aspect, FEATURE_SIDE)
    shift = np.array([RECUR_PIXELS / width, RECUR_PIXELS / height])
    # found in any one of the others is found among all their keypoints together: one search
    return _found_in(query.points[judged], query.descriptors[judged],
                     np.concatenate([other.query.points for other in others]),
                     np.concatenate([other.query.descriptors for other in others]), shift)


def find_overlay(frames: list[AlignedFrame]) -> Edit | None:
    """An ``overlay`` edit when a fixed, unmatched part of the query shows in most aligned frames.

    Only frames that show the archived picture at much its own scale are used: ORB descriptors of
    the same spot shrunk to half (an inset, a 9:16 framing) differ too often to say what is missing.
    """
    frames = sorted((f for f in frames if SCALES[0] <= _scale(f) <= SCALES[1]), key=lambda f: f.query.time)
    if len(frames) < MIN_PAIRS:
        return None
    fixed_unmatched = np.zeros(CELLS * CELLS)
    counted = np.zeros(CELLS * CELLS)
    on_picture = np.zeros(CELLS * CELLS)
    for i, frame in enumerate(frames):
        inside = _inside_cells(frame.pair)
        on_picture += inside
        points = frame.query.points
        if not len(points):
            continue
        counted += inside
        cell = _cell_of(points)
        total = np.bincount(cell, minlength=CELLS * CELLS)
        matched = np.bincount(_cell_of(frame.pair.query_inliers), minlength=CELLS * CELLS) \
            if len(frame.pair.query_inliers) else np.zeros(CELLS * CELLS)
        # only a cell on the picture with keypoints enough and none of them matched can be marked,
        # so only its keypoints are looked for in other frames, and only those that recur in the archive
        open_cells = (total >= MIN_KEYPOINTS) & (matched == 0) & inside
        judged = np.flatnonzero(open_cells[cell])
        if not len(judged):
            continue
        fixed = judged[_recurring(frame, [frames[j] for j in _others(i, len(frames))], judged)]
        # ... and not in the archived frame near where the map puts it (the map is not pixel-exact)
        mapped = (points @ frame.pair.affine[:, :2].T + frame.pair.affine[:, 2])[fixed]
        lacking = fixed[~_found_in(mapped, frame.query.descriptors[fixed], frame.archive.points,
                                   frame.archive.descriptors, ARCHIVE_SHIFT)]
        lacked = np.bincount(cell[lacking], minlength=CELLS * CELLS)
        fixed_unmatched += open_cells & (lacked >= RECUR_SHARE * np.maximum(total, 1))
    persistent = (counted >= MIN_PAIRS) & (fixed_unmatched >= PERSISTENCE * np.maximum(counted, 1))
    # the picture's area is where most frames' maps put it: one stray fit must not shrink it for all
    picture = on_picture > 0.5 * len(frames)
    grid, area = persistent.reshape(CELLS, CELLS), picture.reshape(CELLS, CELLS)
    grid = _without_lone_cells(_near_picture_edge(grid, area))
    if not grid.any() or grid.sum() > MAX_SHARE * max(1, area.sum()):
        return None
    return Edit("overlay", "something fixed that the archive lacks covers " + _describe(grid, frames[0].pair.mirrored))
