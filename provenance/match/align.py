"""Match a fingerprint against the archive: candidates, temporal alignment, verdicts and edits.

1. Candidates: every usable query frame asks the Hamming index for archive frames within
   ``CANDIDATE_RADIUS`` bits (PDQ, 256 bits). Flat frames (low PDQ quality) ask nothing and are
   not indexed, since black or empty frames look alike in every video.
2. Alignment, per archived item: archive time = speed x query time + offset. Each frame pair
   votes for an offset at every speed of a grid from 0.5x to 2x; the line that the most distinct
   query frames agree with wins, and is refined by least squares. A compilation or a loop can hold
   many stretches of one item, so the line's frames are removed and the search repeats, up to
   ``MAX_LINES_PER_ITEM`` (256) stretches of one item: every stretch of a loop or a long
   compilation is listed (what lies beyond the 256th is left out of that item's coverage).
3. Segments: runs of agreeing query frames, split where the agreement pauses.
4. Acceptance: at least ``MIN_FRAMES`` agreeing frames that fill at least ``MIN_DENSITY`` of their
   stretch of the query. One frame suffices only when the query or the item is a still, and then
   it must be closer (``STILL_RADIUS``).
5. Coverage counts evidence, not frames: a stretch of frames with no detail between two segments of
   one line, or between a segment and an end of the footage, joins them when the archive has no
   detail at the aligned times either, and at least ``MIN_DENSITY`` of the pairs there have PDQ
   hashes within ``CANDIDATE_RADIUS`` (``lines.bridge_low_detail``); each segment says how many of
   its seconds are such (``Segment.low_detail``). An identical file (same SHA-256) is one segment
   over the whole of both, whatever its frames show.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from provenance.archive.searchable import ArchiveFrames, SearchFn
from provenance.hashing.pdq import MIN_QUALITY
from provenance.match.lines import (
    NORMAL_SPEED_SHARE,
    VOTE_SCALE,
    Line,
    Samples,
    best_line,
    bridge_low_detail,
    line_segments,
    low_detail_pairs,
)
from provenance.match.trim import trim_edit
from provenance.match.verdict import WHOLE_ITEM, coverages, density, verdict
from provenance.model import Edit, Fingerprint, FrameHash, Match, Segment, Sighting
from provenance.timings import stage

CANDIDATE_RADIUS = 64  # PDQ bits: unrelated frames sit near 128; re-encodes of one frame well under 40
STILL_RADIUS = 40  # a single frame carries no temporal evidence, so it must be closer
MIN_FRAMES = 3
MIN_DENSITY = 0.5
MAX_LINES_PER_ITEM = 256  # stretches of one item: a loop or a long compilation lists every one (README)
SPEED_TOLERANCE = 0.04  # |speed - 1| below this is reported as normal speed








ORIENTATION_EDITS = {  # query variant that matched -> (edit names, what was done to the archived picture)
    0: ((), ""),
    1: (("rotate",), "turned 90° clockwise"),
    2: (("rotate",), "turned 180°"),
    3: (("rotate",), "turned 90° anticlockwise"),
    4: (("vflip",), "flipped upside down"),
    5: (("hflip",), "mirrored left to right"),
    6: (("rotate", "hflip"), "mirrored and turned 90° (transposed)"),
    7: (("rotate", "hflip"), "mirrored and turned 90° (transversed)"),
}


def _edits(query: Fingerprint, frames: ArchiveFrames, item: int, variant: int, speed: float,
           segments: list[Segment], archive_cov: float) -> tuple[Edit, ...]:
    """Name the edits that the orientation, the alignment and the borders reveal.

    Variants 8..15 are the whole, uncut frame turned the same 8 ways: borders were not involved.
    """
    edits = [Edit("reencode", "the bytes differ but the pictures match")]
    names, how = ORIENTATION_EDITS[variant % 8]
    edits += [Edit(name, f"the query shows the archived picture {how}") for name in names]
    if abs(speed - 1.0) > SPEED_TOLERANCE and not query.is_still and not frames.stills[item]:
        edits.append(Edit("speed", f"x{speed:.3f}: one query second shows {speed:.3f} archive seconds"))
    trim = trim_edit(segments, float(frames.durations[item]), archive_cov, WHOLE_ITEM)
    if trim is not None and not frames.stills[item] and not query.is_still:  # a frame grab is no trim
        edits.append(trim)
    if variant < 8 and not query.content_box.is_full and frames.boxes_full[item]:
        b = query.content_box
        edits.append(Edit("pad", f"borders added: picture at x {b.left:.2f}-{b.right:.2f}, "
                                 f"y {b.top:.2f}-{b.bottom:.2f} of the query frame"))
    return tuple(edits)


def sample_step(query: Fingerprint) -> float:
    """Seconds between the query's samples: 1 / fps, or the median spacing of irregular (keyframe) samples."""
    times = [f.time for f in query.frames]
    if query.params.keyframes_only and len(times) > 1:
        return float(np.median(np.diff(times)))
    return 1.0 / query.params.fps


@dataclass(frozen=True)
class _Candidate:
    """The alignment of one archived item in one query orientation, before acceptance."""

    item: int
    variant: int
    lines: tuple[Line, ...]

    @property
    def support(self) -> float:
        """Summed vote of the agreeing frames: what decides between orientations."""
        return float(sum(np.exp(-line.distances / VOTE_SCALE).sum() for line in self.lines))


def _align(query: Fingerprint, frames: ArchiveFrames, item: int, variant: int, tq: np.ndarray,
           ta: np.ndarray, d: np.ndarray, qx: np.ndarray, step: float, min_frames: int,
           resolution: float) -> _Candidate:
    """Fit the time lines of one item (or, for stills, pick each query frame's closest frame);
    ``resolution`` is half the spacing of the item's samples (``_sample_resolution``)."""
    lines: list[Line] = []
    if query.is_still or frames.stills[item]:
        order = np.lexsort((ta, d, qx))  # per query frame: closest first, earliest on ties
        first = np.ones(len(order), dtype=bool)
        first[1:] = qx[order][1:] != qx[order][:-1]
        pick = order[first]
        pick = pick[d[pick] <= STILL_RADIUS]
        if len(pick):
            lines.append(Line(1.0, 0.0, qx[pick], tq[pick], ta[pick], d[pick]))
    else:
        remaining = np.ones(len(tq), dtype=bool)
        for _ in range(MAX_LINES_PER_ITEM):
            line = best_line(tq[remaining], ta[remaining], d[remaining], qx[remaining], step, resolution)
            if line is None or len(line.query_idx) < min_frames:
                break
            lines.append(line)
            remaining &= ~np.isin(qx, line.query_idx)
    return _Candidate(item, variant, tuple(lines))


def _sample_resolution(frames: ArchiveFrames, rows: np.ndarray, item: int, default: float) -> float:
    """Half the spacing of an archived item's samples (8 a second when archived by ``archive add``):
    how far from its time the moment that a sample shows may lie. Read from the rows next to the
    item's candidate rows, as an item's frames are stored one after another in time order; the median,
    as a sample without detail is left out of the rows; ``default`` when no neighbour is the item's."""
    rows = np.unique(rows)
    rows = rows[rows + 1 < len(frames.times)]
    rows = rows[frames.item_rows[rows + 1] == item]
    gaps = frames.times[rows + 1] - frames.times[rows]
    gaps = gaps[gaps > 0]
    return float(np.median(gaps)) / 2 if len(gaps) else default


ItemSamples = Callable[[str], Sequence[FrameHash]]
"""An archived item's every sampled frame, those with no detail too, by SHA-256 (empty when unknown)."""


def match_fingerprint(
    query: Fingerprint,
    frames: ArchiveFrames,
    search: SearchFn,
    sightings: Callable[[str], tuple[Sighting, ...]],
    variants: np.ndarray | None = None,
    item_samples: ItemSamples | None = None,
) -> tuple[Match, ...]:
    """All archived items that ``query`` matches, best first.

    ``search(hashes, radius)`` returns (query_rows, archive_rows, distances) from the index over
    ``frames.pdq``; ``sightings(sha256)`` gives an item's sightings. ``variants`` (N, 8, 32), the
    PDQ hashes of every query frame in the 8 orientations (``pdq_batch(..., dihedral=True)``),
    lets mirrored and rotated copies match; without it only the upright hashes are searched.
    ``item_samples`` gives a matched item's frames with no detail, which ``frames`` does not hold,
    so that stretches of them count where they agree (asked only when the query has such frames);
    without it they never count. An archived file with the query's SHA-256 is always matched.
    """
    from provenance.hashing.pdq import hex_to_pdq_bytes

    step = sample_step(query)
    keep = np.array([f.pdq_quality >= MIN_QUALITY for f in query.frames], dtype=bool)
    own = next((n for n, sha in enumerate(frames.sha256) if sha == query.identity.sha256), None)
    if not query.frames:
        return () if own is None else (_identical(query, frames, own, step, query.duration, sightings),)
    if (not keep.any() or len(frames.item_rows) == 0) and own is None:
        return ()
    if variants is None:
        variants = np.stack([hex_to_pdq_bytes(f.pdq) for f in query.frames])[:, None, :]
    n_variants = variants.shape[1]
    all_times = np.array([f.time for f in query.frames], dtype=np.float64)
    q_times = all_times[keep]
    query_duration = max(query.duration, float(all_times[-1]))
    matches = [] if own is None else [_identical(query, frames, own, step, query_duration, sightings)]
    with stage("candidates"):
        rows, ri, dist = search(variants[keep].reshape(-1, variants.shape[2]), CANDIDATE_RADIUS) \
            if keep.any() and len(frames.item_rows) else (np.zeros(0, np.int64),) * 3
    qi, variant_of = rows // n_variants, rows % n_variants
    items = frames.item_rows[ri]
    item_frames = np.bincount(frames.item_rows, minlength=len(frames.sha256))
    quality = np.array([f.pdq_quality for f in query.frames])
    for item in np.unique(items):
        item = int(item)
        if item == own:
            continue
        # a short clip (or short item) cannot show MIN_FRAMES agreeing samples: ask for all it has
        min_frames = max(1, min(MIN_FRAMES, len(q_times), int(item_frames[item])))
        resolution = _sample_resolution(frames, ri[items == item], item, step / 2)
        best: _Candidate | None = None
        for variant in np.unique(variant_of[items == item]):
            sel = (items == item) & (variant_of == variant)
            if len(np.unique(qi[sel])) < min_frames:
                continue
            cand = _align(query, frames, item, int(variant), q_times[qi[sel]], frames.times[ri[sel]],
                          dist[sel].astype(np.float64), qi[sel], step, min_frames, resolution)
            if not cand.lines:
                continue
            # the upright picture wins unless a turned or mirrored one is clearly better
            margin = 1.0 if best is None or best.variant % 8 != 0 else 1.0 / NORMAL_SPEED_SHARE
            if best is None or cand.support > margin * best.support or (
                    cand.variant % 8 == 0 and cand.support >= NORMAL_SPEED_SHARE * best.support):
                best = cand
        if best is None:
            continue
        samples = Samples(all_times, variants[:, best.variant], quality)
        match = _accept(query, frames, best, step, query_duration, q_times, min_frames, sightings,
                        samples, item_samples)
        if match is not None:
            matches.append(match)
    return tuple(sorted(matches, key=lambda m: -m.score))


def _identical(query: Fingerprint, frames: ArchiveFrames, item: int, step: float, query_duration: float,
               sightings: Callable[[str], tuple[Sighting, ...]]) -> Match:
    """The match of the archived file with the query's own SHA-256: the same bytes, so all of
    both, in one segment, whether or not its frames carry detail."""
    usable = sum(1 for f in query.frames if f.pdq_quality >= MIN_QUALITY)
    if query.is_still or frames.stills[item]:
        segment = Segment(0.0, 0.0, 0.0, 0.0)
    else:
        low = sum(1 for f in query.frames if f.pdq_quality < MIN_QUALITY) * step
        segment = Segment(0.0, round(query_duration, 3), 0.0, round(frames.durations[item] or query_duration, 3),
                          round(min(low, query_duration), 3))
    return make_match(frames, item, sightings, identical=True, score=1.0, segments=[segment], query_cov=1.0,
                      archive_cov=1.0, speed=1.0, agreeing=usable, mean_distance=0.0, edits=())


def _archive_samples(item_samples: ItemSamples | None, sha256: str) -> Samples | None:
    """Every sample of an archived item, in time order, or None when they cannot be had."""
    from provenance.hashing.pdq import hex_to_pdq_bytes

    found = sorted(item_samples(sha256), key=lambda f: f.time) if item_samples is not None else []
    if not found:
        return None
    return Samples(np.array([f.time for f in found], dtype=np.float64),
                   np.stack([hex_to_pdq_bytes(f.pdq) for f in found]), np.array([f.pdq_quality for f in found]))


def _accept(query: Fingerprint, frames: ArchiveFrames, cand: _Candidate, step: float, query_duration: float,
            q_times: np.ndarray, min_frames: int, sightings: Callable[[str], tuple[Sighting, ...]],
            samples: Samples, item_samples: ItemSamples | None) -> Match | None:
    """Turn an item's alignment lines into a Match, or None when the evidence is too thin.

    Stretches with no detail join the segments of a line where the archive agrees (module
    docstring, 5); the score's density is of the segments found from detail alone.
    """
    item = cand.item
    still_pair = query.is_still or frames.stills[item]
    segments: list[Segment] = []
    accepted: list[tuple[Line, list[Segment]]] = []
    agreeing, dists = 0, []
    for line in cand.lines:
        if still_pair:
            if query.is_still:
                t = float(line.archive_times[np.argmin(line.distances)])
                segs = [Segment(0.0, 0.0, round(t, 3), round(t, 3))]
            else:  # a video frame matches an archived still: the item sits at archive time 0
                segs = [Segment(s.query_start, s.query_end, 0.0, 0.0)
                        for s in line_segments(line, step, query_duration, 0.0)]
        else:
            segs = line_segments(line, step, query_duration, frames.durations[item])
            spans = [(s.query_start, s.query_end) for s in segs]
            inside = sum(int(((q_times >= a - 1e-6) & (q_times < b - 1e-6)).sum()) for a, b in spans)
            n = len(line.query_idx)
            if n < min_frames or n < MIN_DENSITY * max(inside, 1):
                continue
            if n < MIN_FRAMES and float(np.mean(line.distances)) > STILL_RADIUS:
                continue  # too few frames for temporal evidence: hold them to the stills' standard
            accepted.append((line, segs))
        segments.extend(segs)
        agreeing += len(line.query_idx)
        dists.extend(line.distances.tolist())
    if not segments:
        return None
    sha = frames.sha256[item]
    item_still = bool(frames.stills[item])
    evidence_cov, _ = coverages(segments, query_duration, frames.durations[item], step,
                                query_still=query.is_still, item_still=item_still)
    if accepted and (samples.quality < MIN_QUALITY).any():
        archive = _archive_samples(item_samples, sha)
        if archive is not None:
            archive_step = float(np.median(np.diff(archive.times))) if len(archive.times) > 1 else step
            segments = []
            for line, segs in accepted:
                status = low_detail_pairs(line, samples, archive, max(step, archive_step), CANDIDATE_RADIUS,
                                          MIN_QUALITY)
                segments += bridge_low_detail(line, segs, status, samples.times, step, query_duration,
                                              frames.durations[item], MIN_DENSITY)
    query_cov, archive_cov = coverages(segments, query_duration, frames.durations[item], step,
                                       query_still=query.is_still, item_still=item_still)
    mean_d = float(np.mean(dists))
    density_ = density(agreeing, evidence_cov, query_duration, step, samples=len(q_times))
    evidence = agreeing / (agreeing + 2.0)
    score = round(float(np.clip(1 - mean_d / 128, 0, 1) * density_ * evidence), 4)
    speed = cand.lines[0].speed if cand.lines and not still_pair else 1.0
    edits = _edits(query, frames, item, cand.variant, speed, segments, archive_cov)
    return make_match(frames, item, sightings, identical=False, score=score, segments=segments,
                      query_cov=query_cov, archive_cov=archive_cov, speed=speed, agreeing=agreeing,
                      mean_distance=mean_d, edits=edits)


def make_match(frames: ArchiveFrames, item: int, sightings: Callable[[str], tuple[Sighting, ...]], *,
               identical: bool, score: float, segments: list[Segment], query_cov: float, archive_cov: float,
               speed: float, agreeing: int, mean_distance: float, edits: tuple[Edit, ...]) -> Match:
    """The Match of item number ``item`` (as in ``frames``), however it was found: segments in query
    order, the verdict from the coverages, figures rounded for the record, the item's sightings."""
    sha = frames.sha256[item]
    return Match(
        sha256=sha,
        item_name=frames.names[item],
        score=score,
        verdict=verdict(identical, query_cov, archive_cov),
        segments=tuple(sorted(segments, key=lambda s: s.query_start)),
        query_coverage=round(query_cov, 4),
        archive_coverage=round(archive_cov, 4),
        speed=round(speed, 4),
        matched_frames=agreeing,
        mean_distance=round(mean_distance, 2),
        edits=edits,
        sightings=sightings(sha),
    )
