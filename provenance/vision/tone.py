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

from provenance.model import Edit
from provenance.vision.features import GRID, inverse_box

LIFT = 12.0  # grey levels of brightness change that count as an edit
GAIN = (0.85, 1.18)  # contrast ratio outside this range counts
SATURATION = (0.7, 1.43)  # saturation ratio outside this range counts
GREY_SATURATION = 0.03  # a query this unsaturated from a coloured archive was made grey
COLOURED = 0.08  # mean saturation above which a picture has colour to speak of
HUE_TURN = 20.0  # degrees
HUE_SATURATION = 0.15  # both pictures need this much colour before their hues are compared
MIN_CELLS = 12  # query cells over the archived picture needed to fit a tone map with a quarter dropped
OVERLAY_RESIDUAL = 40.0  # grey levels off the tone map that mark a covered cell
OVERLAY_PERSISTENCE = 0.7  # share of the pairs in which a cell must be covered
OVERLAY_MAX_SHARE = 0.45  # more covered cells than this is a different picture, not an overlay
BAR_SPREAD = 3.0  # grey levels: cells around an inset this alike in tone, everywhere and always, are bars
BLUR_DETAIL = 0.5  # surroundings with less than this share of the picture's detail are blurred (borders.BLUR_ENERGY)
COPY_CORRELATION = 0.8  # cells around an inset that follow an enlarged copy of the picture this well
MIN_SWING_PAIRS = 5  # pairs over which the brightness around an inset must follow the copy's
COPY_SWING = (0.5, 2.0)  # how much more or less than the copy's the brightness around an inset may move
STEADY_TONE = 3.0  # grey levels a cell around an inset may change by over time and still be still (borders.STEADY_STD)


@dataclass(frozen=True)
class GridPair:
    """The colour grids of two aligned frames and the map from query to archive coordinates (0..1)."""

    query: np.ndarray  # (GRID, GRID, 5)
    archive: np.ndarray
    affine: np.ndarray  # 2x3


def _overlap(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(K, GRID) lengths by which the spans [low, high] (in cell units) overlap each grid cell."""
    edges = np.arange(GRID + 1, dtype=np.float64)
    return np.clip(np.minimum(high[:, None], edges[None, 1:]) - np.maximum(low[:, None], edges[None, :-1]), 0, None)


@dataclass(frozen=True)
class _CellMap:
    """Where each query cell lands in the archived grid under one map: the (cells, GRID) overlaps of
    its mapped area with the archived rows and columns, their total and whether it lies inside."""

    rows: np.ndarray
    columns: np.ndarray
    weight: np.ndarray
    inside: np.ndarray


def _cell_map(affine: np.ndarray) -> _CellMap:
    """The archived rows and columns each query cell's area maps to under ``affine``, and whether
    that area lies wholly inside the archived picture (a quarter of a cell's slack)."""
    lows = np.arange(GRID) / GRID
    x0, y0 = (v.ravel() for v in np.meshgrid(lows, lows))
    corners = [affine @ np.stack([x0 + dx, y0 + dy, np.ones(GRID * GRID)]) for dx in (0, 1 / GRID)
               for dy in (0, 1 / GRID)]
    xs, ys = np.stack([c[0] for c in corners]), np.stack([c[1] for c in corners])
    left, right, top, bottom = xs.min(axis=0), xs.max(axis=0), ys.min(axis=0), ys.max(axis=0)
    slack = 0.25 / GRID
    inside = (left >= -slack) & (right <= 1 + slack) & (top >= -slack) & (bottom <= 1 + slack)
    wc = _overlap(left * GRID, right * GRID)
    wr = _overlap(top * GRID, bottom * GRID)
    weight = np.maximum(wr.sum(axis=1) * wc.sum(axis=1), 1e-9)
    return _CellMap(wr, wc, weight, inside)


def _mapped_cells(archive: np.ndarray, cells: _CellMap) -> tuple[np.ndarray, np.ndarray]:
    """For each query cell: the archive grid averaged over the area the cell maps to, and whether
    that area lies wholly inside the archived picture.

    Averaging over the mapped area, not reading the one cell under its centre, keeps a cell of a
    shrunk (inset) picture comparable with the several archived cells it covers; a cell that straddles
    the inset's outline mixes in what surrounds it and is left out.
    """
    values = np.einsum("kr,rcx,kc->kx", cells.rows, archive, cells.columns) / cells.weight[:, None]
    return values, cells.inside


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


def _inside_cells(pair: GridPair) -> tuple[np.ndarray, np.ndarray] | None:
    """The query's cells that lie over the archived picture and the archived grid averaged over
    where each maps, or None when fewer than ``MIN_CELLS`` do."""
    mapped, inside = _mapped_cells(pair.archive, _cell_map(pair.affine))
    if inside.sum() < MIN_CELLS:
        return None
    return pair.query.reshape(-1, pair.query.shape[-1])[inside], mapped[inside]


def brightness_change(pairs: list[GridPair]) -> float | None:
    """How much brighter the query is than the archive over these aligned pairs: the median over the
    pairs of each one's median cell difference (grey levels), or None when no pair has cells
    enough over the archived picture. A difference, not a fitted gain: it holds at any tone."""
    lifts = []
    for pair in pairs:
        if (cells := _inside_cells(pair)) is not None:
            query, archived = cells
            lifts.append(float(np.median(query[:, 0] - archived[:, 0])))
    return float(np.median(lifts)) if lifts else None


def tone_agrees(pair: GridPair, lift: float) -> bool:
    """Whether a query frame's grid agrees with the archived frame's under a known map and the
    match's brightness change ``lift``: at least ``1 - OVERLAY_MAX_SHARE`` of the cells over the
    archived picture within ``LIFT`` grey levels of it (the rest may be under a caption), their
    saturation too.

    For frames that carry too little detail to pair by local features: agreeing says only that the
    query shows the same scene in the same tone at that moment (a plain wall, a fade), not which
    moment it is."""
    cells = _inside_cells(pair)
    if cells is None:
        return False
    q, a = cells
    close = (np.abs(q[:, 0] - a[:, 0] - lift) <= LIFT) & (np.abs(q[:, 2] - a[:, 2]) <= GREY_SATURATION + COLOURED)
    return bool(close.mean() >= 1.0 - OVERLAY_MAX_SHARE)


def compare(pairs: list[GridPair]) -> list[Edit]:
    """The colour and overlay edits that the grid pairs show (none when they agree)."""
    gains, lifts, sat_q, sat_a, hue_turns = [], [], [], [], []
    covered = np.zeros((GRID, GRID))
    counted = np.zeros((GRID, GRID))
    maps: dict[bytes, _CellMap] = {}  # the pairs of one match share one map: its cells are found once
    for pair in pairs:
        key = pair.affine.dtype.str.encode() + pair.affine.tobytes()
        if key not in maps:
            maps[key] = _cell_map(pair.affine)
        mapped, inside = _mapped_cells(pair.archive, maps[key])
        if inside.sum() < MIN_CELLS:
            continue
        q = pair.query.reshape(-1, pair.query.shape[-1])[inside]
        a = mapped[inside]
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
        # per cell, where both sides have colour: a mean over cells mixing two hues turns with saturation
        coloured = (q[:, 2] > HUE_SATURATION) & (a[:, 2] > HUE_SATURATION)
        turns = np.degrees(np.arctan2(q[coloured, 4], q[coloured, 3]) - np.arctan2(a[coloured, 4], a[coloured, 3]))
        hue_turns.extend(((turns + 180) % 360 - 180).tolist())
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
    # a hue rotation turns every cell alike; turns that scatter come from mixed colours changing
    # saturation unevenly (or a tint such as sepia), which the saturation and tone already describe
    if len(hue_turns) >= MIN_CELLS and abs(float(np.median(hue_turns))) > HUE_TURN \
            and float(np.subtract(*np.percentile(hue_turns, [75, 25]))) <= HUE_TURN:
        what.append(f"hue turned {float(np.median(hue_turns)):+.0f}°")
    if what:
        edits.append(Edit("color", ", ".join(what)))
    persistent = (counted > 0) & (covered >= OVERLAY_PERSISTENCE * np.maximum(counted, 1))
    persistent = _touching_edge(persistent)
    share = persistent.sum() / max(1, (counted > 0).sum())
    if persistent.any() and share <= OVERLAY_MAX_SHARE:
        edits.append(Edit("overlay", "something covers " + _where(persistent)))
    return edits


def border_around_inset(pairs: list[GridPair]) -> bool | None:
    """Whether what surrounds an inset picture is border (padding) rather than other footage
    (picture-in-picture); None when the grids cannot tell.

    Border is either plain bars, of one steady tone, or the picture itself enlarged to cover the
    frame and blurred: the social-media framing of a clip. At the grid's scale a blurred copy
    follows the picture closely, so the cells around the inset must correlate strongly with the
    cells of the enlarged, centred copy at the same place, or, where the copy is enlarged beyond
    what the archived grid resolves, their mean brightness must follow the copy's over the pairs.
    Footage is what is neither and either changes over time in a way the picture does not (a
    blurred copy changes as the picture does, bars and a still canvas not at all), or carries
    detail like the picture's. The picture's detail is that of the archived frame, at the scale
    of a whole frame like the surroundings: the inset itself, shrunk, shows more detail per cell
    than the same footage would at full size.
    Surroundings thinner than a cell, or still, blurred and not a copy, are left to the caller.
    """
    centres = (np.arange(GRID) + 0.5) / GRID
    xs, ys = (v.ravel() for v in np.meshgrid(centres, centres))
    half = 0.5 / GRID
    query_luma, copy_luma, around, archived = [], [], [], []
    around_mean, copy_mean = [], []  # per pair, the mean brightness around the inset and of the copy there
    over_time, copy_over_time = [], []  # per pair, every cell's luma (NaN where it is not around the inset)
    for pair in pairs:
        x0, y0, x1, y1 = inverse_box(pair.affine)
        if x1 <= x0 or y1 <= y0:
            continue
        cells = pair.query.reshape(-1, pair.query.shape[-1])
        # judged on cells wholly outside: a cell across the outline mixes in the picture
        wholly = (xs + half <= x0) | (xs - half >= x1) | (ys + half <= y0) | (ys - half >= y1)
        if not wholly.any():
            continue
        around.append(cells[wholly])
        archived.append(pair.archive.reshape(-1, pair.archive.shape[-1]))
        # the copy covers the frame, centred: it is the inset scaled by k on both axes
        k = max(1.0 / (x1 - x0), 1.0 / (y1 - y0))
        col = np.clip(np.floor((0.5 + (xs - 0.5) / ((x1 - x0) * k)) * GRID).astype(int), 0, GRID - 1)
        row = np.clip(np.floor((0.5 + (ys - 0.5) / ((y1 - y0) * k)) * GRID).astype(int), 0, GRID - 1)
        query_luma.append(cells[wholly, 0])
        copy_luma.append(pair.archive[row[wholly], col[wholly], 0])
        around_mean.append(float(cells[wholly, 0].mean()))
        copy_mean.append(float(pair.archive[row[wholly], col[wholly], 0].mean()))
        over_time.append(np.where(wholly, cells[:, 0], np.nan))
        copy_over_time.append(np.where(wholly, pair.archive[row, col, 0], np.nan))
    if not around:
        return None
    outside = np.concatenate(around)
    bars = outside[:, 0]
    # the median spread, so a caption or a logo on the bars does not make them footage
    if float(np.median(np.abs(bars - np.median(bars)))) <= BAR_SPREAD:
        return True
    ql, cl = np.concatenate(query_luma), np.concatenate(copy_luma)
    if _follows(ql, cl) or _brightness_follows(np.array(around_mean), np.array(copy_mean)):
        return True
    if _changes_on_its_own(np.stack(over_time), np.stack(copy_over_time)):
        return False
    if float(np.median(outside[:, 1])) < BLUR_DETAIL * float(np.median(np.concatenate(archived)[:, 1])):
        return None  # still, blurred and not a copy of this picture: a canvas or still footage, the grids cannot say
    return False


def _follows(values: np.ndarray, copy: np.ndarray) -> bool:
    """Whether ``values`` follow ``copy`` (the same cells of the enlarged copy) closely: correlation
    at least COPY_CORRELATION."""
    return bool(len(values) >= 3 and np.std(values) > 1e-6 and np.std(copy) > 1e-6
                and float(np.corrcoef(values, copy)[0, 1]) >= COPY_CORRELATION)


def _brightness_follows(around: np.ndarray, copy: np.ndarray) -> bool:
    """Whether the mean brightness around an inset follows the enlarged copy's there from pair to pair.

    An archived grid cell is the mean of a large part of the picture: in a copy enlarged more than
    about twice, a cell around the inset shows part of one archived cell, so the cells need not
    follow the copy one by one. Their mean moves with the picture's all the same, by as much (within
    ``COPY_SWING``), and the picture must move by more than ``STEADY_TONE`` over at least
    ``MIN_SWING_PAIRS`` pairs for this to say anything. Other footage follows the archived picture
    only by chance; a fade or a grade of the whole query moves the surround but not the archive."""
    if len(around) < MIN_SWING_PAIRS or float(np.std(copy)) <= STEADY_TONE:
        return False
    swing = float(np.std(around)) / float(np.std(copy))
    return COPY_SWING[0] <= swing <= COPY_SWING[1] and _follows(around, copy)


def _changes_on_its_own(luma: np.ndarray, copy: np.ndarray) -> bool:
    """Whether the cells around an inset change over time, and not as the enlarged copy of the
    picture does: other footage. ``luma`` and ``copy`` are (pairs, cells), NaN where a cell is not
    around the inset in that pair; change is each cell's departure from its own mean over time."""
    many = (~np.isnan(luma)).sum(axis=0) >= 2  # a cell seen once shows no change
    if not many.any():
        return False
    luma, copy = luma[:, many], copy[:, many]
    change, copy_change = luma - np.nanmean(luma, axis=0), copy - np.nanmean(copy, axis=0)
    if float(np.median(np.nanstd(luma, axis=0))) <= STEADY_TONE:
        return False  # still: bars, a still canvas, or footage that does not move
    known = ~np.isnan(change)
    return not _follows(change[known], copy_change[known])
