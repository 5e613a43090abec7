"""Colour grading and overlays, from the colour grids of frames that show the same moment.

For each pair of aligned frames, every query cell is mapped into the archived picture (through
the fitted geometry) and compared with the archived cell there. A tone map ``query = gain x
archive + lift`` is fitted over all cells: gain and lift say how contrast and brightness were
changed, the saturation ratio and hue turn say how colour was. Cells that stay far from the tone
map in most pairs are covered by something the archive does not have: a caption, a logo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from provenance.features import GRID
from provenance.model import Edit

LIFT = 12.0  # grey levels of brightness change that count as an edit
GAIN = (0.85, 1.18)  # contrast ratio outside this range counts
SATURATION = (0.7, 1.43)  # saturation ratio outside this range counts
GREY_SATURATION = 0.03  # a query this unsaturated from a coloured archive was made grey
COLOURED = 0.08  # mean saturation above which a picture has colour to speak of
HUE_TURN = 20.0  # degrees
HUE_SATURATION = 0.15  # both pictures need this much colour before their hues are compared
OVERLAY_RESIDUAL = 40.0  # grey levels off the tone map that mark a covered cell
OVERLAY_PERSISTENCE = 0.7  # share of the pairs in which a cell must be covered
OVERLAY_MAX_SHARE = 0.45  # more covered cells than this is a different picture, not an overlay


@dataclass(frozen=True)
class GridPair:
    """The colour grids of two aligned frames and the map from query to archive coordinates (0..1)."""

    query: np.ndarray  # (GRID, GRID, 5)
    archive: np.ndarray
    affine: np.ndarray  # 2x3


def _mapped_cells(affine: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each query cell: the archive cell its centre falls in, and whether it falls inside."""
    centres = (np.arange(GRID) + 0.5) / GRID
    xs, ys = np.meshgrid(centres, centres)
    pts = affine @ np.stack([xs.ravel(), ys.ravel(), np.ones(GRID * GRID)])
    col, row = np.floor(pts[0] * GRID).astype(int), np.floor(pts[1] * GRID).astype(int)
    inside = (col >= 0) & (col < GRID) & (row >= 0) & (row < GRID)
    return row.clip(0, GRID - 1), col.clip(0, GRID - 1), inside


def _where(cells: np.ndarray) -> str:
    """Plain words for where a set of grid cells lies."""
    rows, cols = np.nonzero(cells)
    parts = []
    top, bottom = rows.min() / GRID, (rows.max() + 1) / GRID
    left, right = cols.min() / GRID, (cols.max() + 1) / GRID
    if right - left >= 0.6:
        parts.append("a band across the " + ("top" if bottom <= 0.5 else "bottom" if top >= 0.5 else "middle"))
    else:
        vertical = "top" if bottom <= 0.5 else "bottom" if top >= 0.5 else "middle"
        horizontal = "left" if right <= 0.5 else "right" if left >= 0.5 else "centre"
        parts.append(f"the {vertical} {horizontal}")
    return f"{parts[0]} (x {left:.2f}-{right:.2f}, y {top:.2f}-{bottom:.2f} of the query frame)"


def _touching_edge(cells: np.ndarray) -> np.ndarray:
    """The covered cells connected to the frame's edge: captions, tickers and logos sit at edges."""
    import cv2

    count, labels = cv2.connectedComponents(cells.astype(np.uint8), connectivity=4)
    keep = np.zeros_like(cells, dtype=bool)
    for label in range(1, count):
        part = labels == label
        if part[0].any() or part[-1].any() or part[:, 0].any() or part[:, -1].any():
            keep |= part
    return keep


def compare(pairs: list[GridPair]) -> list[Edit]:
    """The colour and overlay edits that the grid pairs show (none when they agree)."""
    gains, lifts, sat_q, sat_a, hue_turns = [], [], [], [], []
    covered = np.zeros((GRID, GRID))
    counted = np.zeros((GRID, GRID))
    for pair in pairs:
        row, col, inside = _mapped_cells(pair.affine)
        if inside.sum() < GRID * GRID * 0.3:
            continue
        q = pair.query.reshape(-1, pair.query.shape[-1])[inside]
        a = pair.archive[row[inside], col[inside]]
        # robust tone map: fit, drop the worst quarter of cells (overlays), fit again
        if np.ptp(a[:, 0]) > 5:
            gain, lift = np.polyfit(a[:, 0], q[:, 0], 1)
        else:
            gain, lift = 1.0, float(np.median(q[:, 0] - a[:, 0]))
        resid = np.abs(q[:, 0] - (gain * a[:, 0] + lift))
        keep = resid <= np.quantile(resid, 0.75)
        if keep.sum() >= 8 and np.ptp(a[keep, 0]) > 5:
            gain, lift = np.polyfit(a[keep, 0], q[keep, 0], 1)
        resid = np.abs(q[:, 0] - (gain * a[:, 0] + lift))
        mid = float(np.mean(a[:, 0]))
        gains.append(float(gain))
        lifts.append(float(gain * mid + lift - mid))  # brightness change at the picture's mean tone
        sat_q.append(float(np.median(q[:, 2])))
        sat_a.append(float(np.median(a[:, 2])))
        qh, ah = q[:, 3:5].sum(axis=0), a[:, 3:5].sum(axis=0)
        if np.linalg.norm(qh) > 1e-6 and np.linalg.norm(ah) > 1e-6:
            turn = np.degrees(np.arctan2(qh[1], qh[0]) - np.arctan2(ah[1], ah[0]))
            hue_turns.append(float((turn + 180) % 360 - 180))
        flat = np.zeros(GRID * GRID, dtype=bool)
        flat[np.flatnonzero(inside)[resid > OVERLAY_RESIDUAL]] = True
        covered += flat.reshape(GRID, GRID)
        counted += inside.reshape(GRID, GRID)
    if not gains:
        return []
    edits = []
    gain, lift = float(np.median(gains)), float(np.median(lifts))
    sq, sa = float(np.median(sat_q)), float(np.median(sat_a))
    what = []
    if abs(lift) > LIFT:
        what.append(f"brightness {lift:+.0f}/255")
    if not GAIN[0] <= gain <= GAIN[1]:
        what.append(f"contrast x{gain:.2f}")
    if sa > COLOURED and sq < GREY_SATURATION:
        what.append("made greyscale")
    elif sa > COLOURED and not SATURATION[0] <= (sq / sa) <= SATURATION[1]:
        what.append(f"saturation x{sq / sa:.2f}")
    if hue_turns and min(sa, sq) > HUE_SATURATION and abs(float(np.median(hue_turns))) > HUE_TURN:
        what.append(f"hue turned {float(np.median(hue_turns)):+.0f}°")
    if what:
        edits.append(Edit("color", ", ".join(what)))
    persistent = (counted > 0) & (covered >= OVERLAY_PERSISTENCE * np.maximum(counted, 1))
    persistent = _touching_edge(persistent)
    share = persistent.sum() / max(1, (counted > 0).sum())
    if persistent.any() and share <= OVERLAY_MAX_SHARE:
        edits.append(Edit("overlay", "something covers " + _where(persistent)))
    return edits
