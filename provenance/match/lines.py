"""Time lines: the speed and offset that map query time to archive time, fitted to frame pairs, and their segments.

Each frame pair votes for an offset at every speed of a grid from 0.5x to 2x, with its similarity;
the line that the most distinct query frames agree with wins and is refined by least squares. Its
speed is 1 unless the residuals of its frames show otherwise (``speed_differs``), judged against the
timing error that sampling alone gives. Its agreeing frames, split where the agreement pauses, are
the segments.

Frames with no detail (PDQ quality below ``MIN_QUALITY``) vote for nothing: they look alike in every
video. Once a line is fixed by the frames that do carry detail, a stretch of such frames between two
of its segments, or between a segment and an end of the footage, is still part of the footage when
the archive shows no detail at the aligned times either and the two sides' PDQ hashes agree there
(``bridge_low_detail``): a flat car park seen by a fixed camera keeps its faint structure through a
re-encode, another flat picture does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from provenance.hashing.pdq import hamming_bytes
from provenance.model import Segment

SPEEDS = np.unique(np.concatenate([np.exp(np.linspace(np.log(0.5), np.log(2.0), 121)), [1.0]]))
VOTE_SCALE = 12.0  # bits: a pair's vote is exp(-distance / VOTE_SCALE), so near-identical pairs dominate
NORMAL_SPEED_SHARE = 0.9  # normal speed wins unless another speed gathers 1/0.9 times its frames
REFITS = 3  # least-squares refits of a line to the frames that agree with it
SPEED_Z = 3.0  # standard errors by which a fitted speed must differ from 1 (two-sided p < 0.003)
ROBUST_POINTS = 400  # points of a line whose every two give a slope to the robust fit (80,000 slopes)
OUTLIER_SPREADS = 3.0  # residuals beyond this many robust spreads are pairs of the wrong moment


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


def best_line(tq: np.ndarray, ta: np.ndarray, dist: np.ndarray, qidx: np.ndarray, step: float,
              resolution: float | None = None) -> Line | None:
    """The speed and offset that the query frames agree with best, refined by least squares.

    Every pair votes with its similarity, so a line through close pairs beats one through many
    loose ones; each query frame votes at most once per line. The winner, whatever its speed, is
    refitted by least squares to its frames, and the speed is 1 unless their residuals show
    otherwise (``speed_differs``): the vote's offset bins are wider than the drift of a short clip,
    so at the vote's resolution a short x0.8 clip agrees with speed 1 as well as with 0.8.
    ``resolution``: how far from its time an archive sample's moment may lie, in seconds (half the
    archive's sample spacing); by default half of ``step``, for two sides sampled alike.
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
    resolution = step / 2 if resolution is None else resolution
    offset = _sharpened(tq, ta, weights, qidx, width, speed, offset, tol, resolution, total)
    line = inliers(tq, ta, dist, qidx, speed, offset, tol)
    if len(line.query_idx) >= 3 and np.ptp(line.query_times) > 2 * step:
        fitted = _refined(tq, ta, dist, qidx, line, tol, resolution)
        if speed_differs(fitted, resolution):
            line = fitted
        else:
            offset = float(np.median(fitted.archive_times - fitted.query_times))
            normal = inliers(tq, ta, dist, qidx, 1.0, offset, tol)
            if speed != 1.0 or len(normal.query_idx) >= len(line.query_idx):
                line = normal  # else the vote's own normal-speed line agrees with more frames
    return line


def _sharpened(tq: np.ndarray, ta: np.ndarray, weights: np.ndarray, qidx: np.ndarray, width: int, speed: float,
               offset: float, tol: float, resolution: float, total: float) -> float:
    """The offset of the vote's winning line, voted again among its own pairs in bins of two archive
    sample spacings (``4 * resolution``) instead of the vote's ``2 * tol``.

    The vote's bins are wide so that sampling jitter does not split a line, but the median of so wide
    a bin leans towards the wrong moments that a frame of a still stretch also resembles: a clip of
    one unchanging picture agrees with every offset of the bin, and the median is the bin's middle, a
    trim that nothing shows. Voted in narrow bins, the offset at which the most query frames find
    their own moment wins (ties go to the earliest), but only when it keeps the whole vote, ``total``:
    the frames of a clip whose speed was changed drift across narrow bins, and keep the wide median.
    """
    offsets = ta - speed * tq
    near = np.flatnonzero(np.abs(offsets - offset) <= tol)
    fine = 4 * resolution
    if len(near) == 0 or fine <= 0:
        return offset
    best_total, best_offset = 0.0, offset
    for shift in (0.0, 0.5):  # two staggered grids, as in the vote
        bins = np.floor(offsets[near] / fine + shift).astype(np.int64)
        values, totals = _votes(bins * width + qidx[near], weights[near], width)
        top = int(totals.argmax())
        if float(totals[top]) > best_total + 1e-9:
            best_total = float(totals[top])
            best_offset = float(np.median(offsets[near][bins == values[top]]))
    return best_offset if best_total >= total * (1 - 1e-9) else offset


def _refined(tq, ta, dist, qidx, line: Line, tol: float, resolution: float) -> Line:
    """The line refitted (``robust_fit``) to its frames, and again to the frames that then agree,
    while that gains frames or, with as many, brings them closer."""
    for _ in range(REFITS):
        slope, intercept, _ = robust_fit(line.query_times, line.archive_times, resolution)
        if not 0.5 <= slope <= 2.0:
            break
        refined = inliers(tq, ta, dist, qidx, float(slope), float(intercept), tol)
        if len(refined.query_idx) < len(line.query_idx) or (
                len(refined.query_idx) == len(line.query_idx) and _residual(refined) >= _residual(line)):
            break
        line = refined
    return line


def robust_fit(x: np.ndarray, y: np.ndarray, resolution: float) -> tuple[float, float, np.ndarray]:
    """Slope and intercept of ``y`` on ``x`` (three points or more, ``x`` distinct), fitted so that
    pairs of the wrong moment do not tilt it, and which pairs it keeps.

    A frame of a still stretch looks like every other frame of it, so its pair may lie seconds from
    the line; least squares would bend towards it. The median of the slopes between every two
    points (Theil-Sen; of up to ``ROBUST_POINTS`` points spread over the line) sets the line, pairs
    further from it than ``OUTLIER_SPREADS`` robust spreads of the residuals (never less than the
    sampling's own spread, ``resolution`` / sqrt(3)) are left out, and least squares fits the rest.
    """
    pick = np.unique(np.linspace(0, len(x) - 1, min(len(x), ROBUST_POINTS)).round().astype(int))
    i, j = np.triu_indices(len(pick), 1)
    dx = x[pick][j] - x[pick][i]
    ok = dx > 0
    slope = float(np.median((y[pick][j] - y[pick][i])[ok] / dx[ok])) if ok.any() else 1.0
    intercept = float(np.median(y - slope * x))
    residual = np.abs(y - (slope * x + intercept))
    spread = max(1.4826 * float(np.median(residual)), resolution / np.sqrt(3))  # MAD, as a standard deviation
    kept = residual <= OUTLIER_SPREADS * spread
    if kept.sum() >= 3 and np.ptp(x[kept]) > 0:
        slope, intercept = (float(v) for v in np.polyfit(x[kept], y[kept], 1))
    return slope, intercept, kept


def speed_differs(line: Line, resolution: float) -> bool:
    """Whether the frames of ``line`` show a speed other than 1: both tests on their timing must say so.

    A sample stands for any moment within ``resolution`` seconds of its time (half the spacing of
    the samples it was picked from). First, the slope fitted by least squares differs from 1 by more
    than ``SPEED_Z`` standard errors, the error of a pair's timing estimated from the residuals and
    never taken as smaller than the sampling alone makes it, a spread of resolution / sqrt(3).
    Second, the drift the slope makes over the pairs' span is more than sampling can fake: a pair's
    archive time may be off by up to a whole sample spacing (the nearest sample, or its neighbour
    when the picture hardly changes between them; a frame rate changed on the way shifts the frames
    on screen by as much), so two pairs at the ends may disagree by twice that at normal speed. The
    first test takes the errors as independent; a frame-rate change makes them a sawtooth that
    tilts a fit of a few pairs, which only the second one holds to account. A short clip sampled
    twice a second gives few pairs and a wide standard error, but x0.8 or x1.25 moves its pairs by
    more than their timing error.
    """
    x, y = line.query_times, line.archive_times
    if len(x) < 3 or np.ptp(x) <= 0:
        return False
    slope, intercept, kept = robust_fit(x, y, resolution)
    x, y = x[kept], y[kept]
    if len(x) < 3 or np.ptp(x) <= 0:
        return False
    spread = float(np.sqrt(np.sum((y - (slope * x + intercept)) ** 2) / (len(x) - 2)))
    error = max(spread, resolution / np.sqrt(3)) / float(np.sqrt(np.sum((x - x.mean()) ** 2)))
    drift = abs(slope - 1.0) * float(np.ptp(x))
    return bool(abs(slope - 1.0) > SPEED_Z * error and drift > 2 * (2 * resolution))


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


def run_bounds(first: float, last: float, step: float, query_duration: float) -> tuple[float, float]:
    """Where a run of agreeing samples, ``first`` to ``last`` (query seconds, one each ``step``), begins
    and ends on the query's time line.

    Between the last sample that disagrees and the first that agrees, the footage changed at a moment
    no sample shows: the middle of that step is the estimate that errs least either way (the first
    agreeing sample itself would put every start half a step late on average, and ``last + step``
    every end). A run that starts at the query's first sample starts at 0; one that ends at its last
    sample ends with the query.
    """
    start = 0.0 if first < step else first - step / 2
    end = min(last + step, max(query_duration, last)) if last + step >= query_duration else last + step / 2
    return start, end


def line_segments(line: Line, step: float, query_duration: float, archive_duration: float) -> list[Segment]:
    """Runs of agreeing query frames, as query/archive time segments."""
    gap = max(2.0, 4 * step)
    times = line.query_times
    breaks = np.flatnonzero(np.diff(times) > gap) + 1
    segments = []
    for run in np.split(np.arange(len(times)), breaks):
        if len(run) == 0:
            continue
        q0, q1 = run_bounds(float(times[run[0]]), float(times[run[-1]]), step, query_duration)
        a0 = min(max(line.speed * q0 + line.offset, 0.0), archive_duration)
        a1 = min(max(line.speed * q1 + line.offset, 0.0), archive_duration)
        segments.append(Segment(round(q0, 3), round(q1, 3), round(a0, 3), round(a1, 3)))
    return segments


OUTSIDE, DETAIL, FLAT, CONSISTENT = 0, 1, 2, 3
"""What a query sample and the archive's sample at its aligned time say (``low_detail_pairs``)."""
FLAT_HASH_BITS = 64
"""A PDQ hash sets the bits of the coefficients above their median, half of its 256; one with fewer
than a quarter set comes from a picture of one even tone (its coefficients tie), and says nothing of it."""


@dataclass(frozen=True)
class Samples:
    """Every sample of one side of a match, those with no detail too, in time order."""

    times: np.ndarray  # (N,) float64 seconds
    pdq: np.ndarray  # (N, 32) uint8, packed PDQ hashes (the query's in the orientation that matched)
    quality: np.ndarray  # (N,) PDQ quality


def low_detail_pairs(line: Line, query: Samples, archive: Samples, pair_tol: float, radius: int,
                     min_quality: int) -> np.ndarray:
    """Per query sample, what it and the archive's nearest sample to its aligned time say: (N,) int8.

    ``CONSISTENT``: neither carries detail (PDQ quality below ``min_quality``) and their PDQ hashes
    are within ``radius`` bits, neither of one even tone; ``FLAT``: neither carries detail, the
    hashes do not tell more; ``DETAIL``: one of them shows detail, or the archive has no sample
    within ``pair_tol`` seconds; ``OUTSIDE``: the aligned time lies beyond the item's samples.
    """
    status = np.full(len(query.times), OUTSIDE, dtype=np.int8)
    if len(archive.times) == 0 or len(query.times) == 0:
        return status
    aligned = line.speed * query.times + line.offset
    after = np.clip(np.searchsorted(archive.times, aligned), 0, len(archive.times) - 1)
    before = np.maximum(after - 1, 0)
    near = np.where(np.abs(archive.times[before] - aligned) <= np.abs(archive.times[after] - aligned), before, after)
    inside = (aligned >= archive.times[0] - pair_tol) & (aligned <= archive.times[-1] + pair_tol)
    paired = np.abs(archive.times[near] - aligned) <= pair_tol
    flat = (query.quality < min_quality) & (archive.quality[near] < min_quality) & paired
    toned = (np.unpackbits(query.pdq, axis=-1).sum(axis=-1) >= FLAT_HASH_BITS) & (
        np.unpackbits(archive.pdq[near], axis=-1).sum(axis=-1) >= FLAT_HASH_BITS)
    close = hamming_bytes(query.pdq, archive.pdq[near]) <= radius
    status[inside] = DETAIL
    status[inside & flat] = FLAT
    status[inside & flat & close & toned] = CONSISTENT
    return status


def _bridges(status: np.ndarray, min_share: float) -> bool:
    """Whether a stretch of samples with no detail may join what surrounds it: none shows detail
    (or lies outside the item), and at least ``min_share`` of them are consistent with the archive."""
    return bool(len(status)) and bool((status >= FLAT).all()) and (
        int((status == CONSISTENT).sum()) >= min_share * len(status))


def bridge_low_detail(line: Line, segments: list[Segment], status: np.ndarray, times: np.ndarray, step: float,
                      query_duration: float, archive_duration: float, min_share: float) -> list[Segment]:
    """The segments of ``line`` joined across the stretches with no detail that lie between them,
    and stretched over such stretches to the start and the end of the query (or of the item).

    ``times`` are every query sample's (those with no detail too) and ``status`` what each one's
    pair with the archive says (``low_detail_pairs``). A stretch is bridged when ``_bridges`` says
    so; a stretch at an end runs from the segment to the first sample outside the item, or to the
    end of the query. Each segment's ``low_detail`` counts its ``CONSISTENT`` samples, ``step``
    seconds each.
    """
    if not segments or len(times) == 0:
        return segments
    spans = []  # (first, last) sample of each segment
    slack = 6e-4  # segment times are rounded to the millisecond
    for s in sorted(segments, key=lambda s: s.query_start):
        first = int(np.searchsorted(times, s.query_start - slack))
        last = max(first, int(np.searchsorted(times, s.query_end - slack)) - 1)
        spans.append([first, min(last, len(times) - 1)])
    merged = [spans[0]]
    for first, last in spans[1:]:
        if _bridges(status[merged[-1][1] + 1:first], min_share):
            merged[-1][1] = last
        else:
            merged.append([first, last])
    outside = np.flatnonzero(status == OUTSIDE)
    head = merged[0][0]
    lead = int(outside[outside < head].max()) + 1 if (outside < head).any() else 0
    if _bridges(status[lead:head], min_share):
        merged[0][0] = lead
    tail = merged[-1][1]
    end = int(outside[outside > tail].min()) if (outside > tail).any() else len(times)
    if _bridges(status[tail + 1:end], min_share):
        merged[-1][1] = end - 1
    out = []
    for first, last in merged:
        q0, q1 = run_bounds(float(times[first]), float(times[last]), step, query_duration)
        a0 = min(max(line.speed * q0 + line.offset, 0.0), archive_duration)
        a1 = min(max(line.speed * q1 + line.offset, 0.0), archive_duration)
        low = min(int((status[first:last + 1] == CONSISTENT).sum()) * step, q1 - q0)
        out.append(Segment(round(q0, 3), round(q1, 3), round(a0, 3), round(a1, 3), round(low, 3)))
    return out
