"""Time lines: the speed and offset that map query time to archive time, fitted to frame pairs, and their segments.

Each frame pair votes for an offset at every speed of a grid from 0.5x to 2x, with its similarity;
the line that the most distinct query frames agree with wins and is refined by least squares.
Its agreeing frames, split where the agreement pauses, are the segments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from provenance.model import Segment

SPEEDS = np.unique(np.concatenate([np.exp(np.linspace(np.log(0.5), np.log(2.0), 121)), [1.0]]))
VOTE_SCALE = 12.0  # bits: a pair's vote is exp(-distance / VOTE_SCALE), so near-identical pairs dominate
NORMAL_SPEED_SHARE = 0.9  # normal speed wins unless another speed gathers 1/0.9 times its frames


@dataclass(frozen=True)
class Line:
    """One alignment of query time to archive time, and the query frames that agree with it."""

    speed: float
    offset: float
    query_idx: np.ndarray  # usable-query frame numbers that agree (sorted, distinct)
    query_times: np.ndarray
    archive_times: np.ndarray
    distances: np.ndarray


def _votes(keys: np.ndarray, weights: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per offset bin, the summed weight of its best pair per query frame (keys = bin * width + frame)."""
    order = np.argsort(keys, kind="stable")
    keys, weights = keys[order], weights[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    best = np.maximum.reduceat(weights, starts)  # one vote per query frame and bin: its closest pair
    bins = keys[starts] // width
    values, inverse = np.unique(bins, return_inverse=True)
    return values, np.bincount(inverse, weights=best)


def best_line(tq: np.ndarray, ta: np.ndarray, dist: np.ndarray, qidx: np.ndarray, step: float) -> Line | None:
    """The speed and offset that the query frames agree with best, refined by least squares.

    Every pair votes with its similarity, so a line through close pairs beats one through many
    loose ones; each query frame votes at most once per line.
    """
    if len(tq) == 0:
        return None
    tol = max(step * 1.5, 0.6)
    weights = np.exp(-dist / VOTE_SCALE)
    width = int(qidx.max()) + 1
    best = (0.0, 0.0, 0.0)
    normal = (0.0, 1.0, 0.0)
    for speed in SPEEDS:
        offsets = ta - speed * tq
        bins = np.floor(offsets / tol).astype(np.int64)
        for shift in (0, 1):  # two staggered grids, so a cluster on a bin edge is not split
            grid = (bins + shift) // 2
            values, totals = _votes(grid * width + qidx, weights, width)
            top = int(totals.argmax())
            total = float(totals[top])
            if total > best[0]:
                best = (total, float(speed), float(np.median(offsets[grid == values[top]])))
            if speed == 1.0 and total > normal[0]:
                normal = (total, 1.0, float(np.median(offsets[grid == values[top]])))
    total, speed, offset = best
    if total <= 0:
        return None
    if speed != 1.0 and normal[0] >= NORMAL_SPEED_SHARE * total:
        # the normal speed explains nearly as much: sampling jitter is likelier than a speed edit
        total, speed, offset = normal
    line = inliers(tq, ta, dist, qidx, speed, offset, tol)
    if len(line.query_idx) >= 3 and np.ptp(line.query_times) > 2 * step:
        if speed == 1.0:
            slope, intercept = 1.0, float(np.median(line.archive_times - line.query_times))
        else:
            slope, intercept = np.polyfit(line.query_times, line.archive_times, 1)
        if 0.5 <= slope <= 2.0:
            refined = inliers(tq, ta, dist, qidx, float(slope), float(intercept), tol)
            if len(refined.query_idx) > len(line.query_idx) or (
                len(refined.query_idx) == len(line.query_idx) and _residual(refined) < _residual(line)
            ):
                line = refined
    return line


def _residual(line: Line) -> float:
    """Mean distance in seconds of a line's frames from the line."""
    return float(np.mean(np.abs(line.archive_times - (line.speed * line.query_times + line.offset))))


def inliers(tq, ta, dist, qidx, speed: float, offset: float, tol: float) -> Line:
    """For each query frame, its most similar pair within ``tol`` seconds of the line, if any."""
    resid = np.abs(ta - (speed * tq + offset))
    ok = resid <= tol
    order = np.lexsort((resid[ok], dist[ok], qidx[ok]))
    q = qidx[ok][order]
    first = np.ones(len(q), dtype=bool)
    first[1:] = q[1:] != q[:-1]
    sel = np.flatnonzero(ok)[order][first]
    return Line(speed, offset, qidx[sel], tq[sel], ta[sel], dist[sel])


def line_segments(line: Line, step: float, query_duration: float, archive_duration: float) -> list[Segment]:
    """Runs of agreeing query frames, as query/archive time segments."""
    gap = max(2.0, 4 * step)
    times = line.query_times
    breaks = np.flatnonzero(np.diff(times) > gap) + 1
    segments = []
    for run in np.split(np.arange(len(times)), breaks):
        if len(run) == 0:
            continue
        q0 = float(times[run[0]])
        q1 = float(min(times[run[-1]] + step, max(query_duration, times[run[-1]])))
        a0 = min(max(line.speed * q0 + line.offset, 0.0), archive_duration)
        a1 = min(max(line.speed * q1 + line.offset, 0.0), archive_duration)
        segments.append(Segment(round(q0, 3), round(q1, 3), round(a0, 3), round(a1, 3)))
    return segments
