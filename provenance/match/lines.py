"""Time lines: the speed and offset that map query time to archive time, fitted to frame pairs, and their segments.

Each frame pair votes for an offset at every speed of a grid from 0.5x to 2x, with its similarity;
the line that the most distinct query frames agree with wins and is refined by least squares.
Its agreeing frames, split where the agreement pauses, are the segments.

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
        q0 = float(times[first])
        q1 = float(min(times[last] + step, max(query_duration, times[last])))
        a0 = min(max(line.speed * q0 + line.offset, 0.0), archive_duration)
        a1 = min(max(line.speed * q1 + line.offset, 0.0), archive_duration)
        low = min(int((status[first:last + 1] == CONSISTENT).sum()) * step, q1 - q0)
        out.append(Segment(round(q0, 3), round(q1, 3), round(a0, 3), round(a1, 3), round(low, 3)))
    return out
