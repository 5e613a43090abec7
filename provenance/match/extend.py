"""Segments of a hash match carried on along their time line for as long as local features confirm them.

Frame hashes see the whole picture, so a slow zoom into it, a perspective warp or a heavy
re-encode keeps them agreeing for part of a clip only: past that the segment stops, although the
footage goes on. A segment's time line says which archived moment each query moment shows, so each
query feature frame just beyond a segment's ends (and in a gap between two segments of one line)
is matched directly with the archived feature frame of its aligned moment (``pair_frames``: a
geometric fit with enough inliers). The segment grows while frames pair and stops at the first
two frames in a row that do not: a single frame that fails (motion blur, a flash) does not end it.
Each confirmed frame vouches for one feature-frame step of the query after it, as a hash sample
does in ``lines.line_segments``. A segment never grows into another segment of the match; two
segments of one line join when every gap frame between them but single ones pairs.

A frame with no detail (PDQ quality below ``MIN_QUALITY``) carries no evidence either way: when the
archive too has no detail at the aligned moment (a fade through black, a dark scene), the frame
neither pairs nor fails, and a stretch of such frames joins the segment only when a frame beyond it
pairs on the same line again.

A query frame with too few keypoints to pair with any frame (fewer than ``MIN_INLIERS``: a flat wall, a
fade, a crop that left out the textured part) carries no feature evidence either. When the match's map
is known (a match found by local features has one, ``Match.geometry``), such a frame counts as
consistent when its colour grid agrees with the archived frame's at the aligned moment under that map
and the brightness change of the segments' own frames (``tone.tone_agrees``): it is reached as a
paired frame is, so two segments of one line join across a gap of such frames (single frames that
fail besides), and a segment grows over them towards the query's ends while the archive has frames
of those moments. Those seconds are the segment's ``low_detail``: the same scene in the same tone,
not proof of the moment.

Local features confirm that a query frame shows the archived picture of that moment; on a scene
that does not change they cannot tell its moments apart, exactly as the hashes cannot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace

import numpy as np

from provenance.hashing.pdq import MIN_QUALITY
from provenance.match.trim import trim_edit
from provenance.match.verdict import WHOLE_ITEM, coverages, verdict
from provenance.model import Fingerprint, FrameHash, Match, Segment
from provenance.vision.feature_image import FEATURE_FPS
from provenance.vision.features import MIN_INLIERS, FrameFeatures, pair_frames
from provenance.vision.on_demand import times_of
from provenance.vision.tone import GridPair, brightness_change, tone_agrees

CONFIRM_MISSES = 1  # frames in a row that may fail to pair without ending a segment
SAME_TIME = 0.5 / FEATURE_FPS  # seconds: the archived frame paired must lie within half a feature-frame step
TONE_FRAMES = 6  # frames of the segments whose grids give the brightness change featureless frames are held to


def _line(segment: Segment, speed: float, item_duration: float) -> tuple[float, float]:
    """(speed, offset) of the time line a segment was cut from: archive time = speed x query time + offset.

    A segment's ends lie on its line unless clamped to the item (at 0 or at its end), so its own
    slope is the line's; when an end is clamped, the match's speed and the other end are used.
    """
    length = segment.query_end - segment.query_start
    start_free = segment.archive_start > 0.0
    end_free = segment.archive_end < item_duration
    if length > 0 and start_free and end_free:
        speed = (segment.archive_end - segment.archive_start) / length
    if start_free or not end_free:
        return speed, segment.archive_start - speed * segment.query_start
    return speed, segment.archive_end - speed * segment.query_end


def _walk(frames: Iterable[FrameFeatures], pairs: Callable[[FrameFeatures], bool | None],
          agreed: Callable[[float], bool] = lambda t: False) -> tuple[float | None, bool]:
    """Walk ``frames`` in the order given: the time of the last one that pairs before more than
    ``CONFIRM_MISSES`` in a row fail (None if none pairs), and whether the walk stopped early.
    A frame for which ``pairs`` says None (no evidence either way) neither pairs nor fails, unless
    ``agreed(time)`` says its tone agrees: then it counts as the last one reached, as a pair does."""
    last, misses = None, 0
    for frame in frames:
        paired = pairs(frame)
        if paired is None:
            if agreed(frame.time):
                last, misses = frame.time, 0
            continue
        if paired:
            last, misses = frame.time, 0
        else:
            misses += 1
            if misses > CONFIRM_MISSES:
                return last, True
    return last, False


def _flat_times(samples: Sequence[FrameHash]) -> tuple[np.ndarray, np.ndarray]:
    """The samples' times, and which of them carry no detail (PDQ quality below ``MIN_QUALITY``)."""
    return (np.array([f.time for f in samples], dtype=np.float64),
            np.array([f.pdq_quality < MIN_QUALITY for f in samples], dtype=bool))


def _flat_at(times: np.ndarray, flat: np.ndarray, t: float) -> bool:
    """Whether the sample nearest to time ``t`` (within half a feature-frame step) carries no detail."""
    if not len(times):
        return False
    nearest = int(np.argmin(np.abs(times - t)))
    return bool(abs(times[nearest] - t) <= SAME_TIME + 1e-6 and flat[nearest])


def extend_match(query: Fingerprint, match: Match, features: Sequence[FrameFeatures],
                 mirrored_features: Sequence[FrameFeatures], item_features: Sequence[FrameFeatures],
                 item_duration: float, *, item_still: bool = False,
                 item_samples: Callable[[], Sequence[FrameHash]] | None = None) -> Match:
    """``match`` (a hash match of a video query and a video item) with its segments carried on
    along their time lines where the query's feature frames pair with the archived ones at the
    aligned moments; its coverages, verdict and trim edit follow.

    ``features`` and ``mirrored_features`` are the query's (the mirrored ones are used when the
    match is mirrored), ``item_features`` the archived item's, in time order. ``item_samples()``
    gives the item's hash samples (every one, with its PDQ quality), read only when a query frame
    with no detail is met; without it such frames fail like any other. Identical files, stills and
    turned or flipped copies (whose frames the features do not turn) are left as they are.
    """
    names = {e.name for e in match.edits}
    if (match.verdict == "identical" or query.is_still or item_still or names & {"rotate", "vflip"}
            or not match.segments or not item_features):
        return match
    mirrored = "hflip" in names
    chosen = mirrored_features if mirrored else features
    # by time, without extracting features made on demand: only the frames walked are
    all_times = times_of(chosen)
    order = sorted(range(len(chosen)), key=lambda i: all_times[i])
    if not order:
        return match
    times = np.array([all_times[i] for i in order])
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / FEATURE_FPS
    query_end = max(query.duration, query.frames[-1].time if query.frames else 0.0)
    archive_times = np.array([f.time for f in item_features])
    query_flat = _flat_times(query.frames)
    archive_flat: list[tuple[np.ndarray, np.ndarray]] = []  # the item's (sample times, flat or not), once read

    def flat_archive(t: float) -> bool:
        if item_samples is None:
            return False
        if not archive_flat:
            archive_flat.append(_flat_times(item_samples()))
        return _flat_at(*archive_flat[0], t)

    affine = (np.array(match.geometry.affine, dtype=np.float64).reshape(2, 3)
              if match.geometry is not None and match.geometry.pairs > 0 else None)
    tone: list[float | None] = []  # the segments' brightness change, once worked out
    consistent: set[float] = set()  # times of featureless frames whose grids agree

    def agrees(frame: FrameFeatures, archived: FrameFeatures) -> bool:
        """Whether a frame with too few keypoints to pair agrees with the archived one by its grid."""
        if affine is None or len(frame.descriptors) >= MIN_INLIERS or frame.grid is None or archived.grid is None:
            return False
        if not tone:
            tone.append(_tone_of(chosen, all_times, match, item_features, archive_times, affine))
        return tone[0] is not None and tone_agrees(GridPair(frame.grid, archived.grid, affine), tone[0])

    def agreed(t: float) -> bool:
        return t in consistent

    def pairs_on(speed: float, offset: float) -> Callable[[FrameFeatures], bool | None]:
        def pairs(frame: FrameFeatures) -> bool | None:
            aligned = speed * frame.time + offset
            row = int(np.argmin(np.abs(archive_times - aligned)))
            if abs(archive_times[row] - aligned) > SAME_TIME + 1e-6:
                return False  # no archived frame of that moment: before the item's start or past its end
            if pair_frames(frame, item_features[row], row, mirrored) is not None:
                return True
            if _flat_at(*query_flat, frame.time) and flat_archive(aligned):
                return None  # no detail on either side: no evidence either way
            if agrees(frame, item_features[row]):
                consistent.add(frame.time)
                return None  # too little for features, and the same scene in the same tone
            return False
        return pairs

    def between(start: float, stop: float) -> list[int]:
        return [i for i in order if start - 1e-6 <= all_times[i] < stop - 1e-6]

    def walked(indices: list[int]) -> Iterator[FrameFeatures]:
        return (chosen[i] for i in indices)

    def at(speed: float, offset: float, t: float) -> float:
        return round(min(max(speed * t + offset, 0.0), item_duration), 3)

    segments = sorted(match.segments, key=lambda s: s.query_start)
    out: list[Segment] = []
    n = 0
    current = segments[0]
    speed, offset = _line(current, match.speed, item_duration)
    first, _ = _walk(walked(between(0.0, current.query_start)[::-1]), pairs_on(speed, offset), agreed)
    while True:
        pairs = pairs_on(speed, offset)
        if first is not None and first < current.query_start:
            current = replace(current, query_start=round(first, 3), archive_start=at(speed, offset, first))
        following = segments[n + 1] if n + 1 < len(segments) else None
        ceiling = following.query_start if following is not None else query_end
        last, stopped = _walk(walked(between(current.query_end, ceiling)), pairs, agreed)
        n += 1
        if following is not None and _on_line(following, speed, offset) and last is not None and not stopped:
            # the gap between two segments of one line pairs throughout: one segment
            current = replace(current, query_end=following.query_end, archive_end=following.archive_end)
            first = None
            continue
        if last is not None and last + step > current.query_end:
            end = min(last + step, ceiling, query_end)
            current = replace(current, query_end=round(end, 3), archive_end=at(speed, offset, end))
        out.append(current)
        if following is None:
            break
        current = following
        speed, offset = _line(current, match.speed, item_duration)
        first, _ = _walk(walked(between(out[-1].query_end, current.query_start)[::-1]), pairs_on(speed, offset),
                         agreed)
    if [(s.query_start, s.query_end) for s in out] == [(s.query_start, s.query_end) for s in segments]:
        return match
    out = [replace(s, low_detail=_low_detail(s, segments, consistent, step)) for s in out]
    query_cov, archive_cov = coverages(out, query_end, item_duration, 1.0 / FEATURE_FPS,
                                       query_still=False, item_still=False)
    edits = tuple(e for e in match.edits if e.name != "trim")
    if (trim := trim_edit(out, item_duration, archive_cov, WHOLE_ITEM)) is not None:
        edits += (trim,)
    return replace(match, segments=tuple(out), query_coverage=round(query_cov, 4),
                   archive_coverage=round(archive_cov, 4), verdict=verdict(False, query_cov, archive_cov),
                   edits=edits)


def _low_detail(segment: Segment, before: list[Segment], consistent: set[float], step: float) -> float:
    """Seconds of ``segment`` with no detail: those of the segments ``before`` it took in, and a
    feature-frame step for each frame whose tone agreed (``consistent``) outside them."""
    def inside(t: float, s: Segment) -> bool:
        return s.query_start - 1e-6 <= t < s.query_end - 1e-6

    kept = sum(s.low_detail for s in before if segment.query_start - 1e-6 <= s.query_start
               and s.query_end <= segment.query_end + 1e-6)
    toned = sum(1 for t in consistent if inside(t, segment) and not any(inside(t, s) for s in before))
    return round(min(kept + toned * step, segment.query_end - segment.query_start), 3)


def aligned_rows(times: Sequence[float], match: Match, archive_times: np.ndarray, most: int,
                 tolerance: float) -> list[tuple[int, int]]:
    """Up to ``most`` of the query frames at ``times`` (in time order) that lie in the match's segments,
    spread evenly over them, each with the row of the archived frame nearest its aligned moment:
    ``(query index, archive row)`` pairs, leaving out frames with no archived frame within ``tolerance``
    seconds. Only times are read: features made on demand are not extracted for it."""
    def segment_at(t: float) -> Segment | None:
        return next((s for s in match.segments if s.query_start - 1e-6 <= t <= s.query_end + 1e-6), None)

    within = [i for i, t in enumerate(times) if segment_at(t) is not None]
    if len(within) > most:
        within = [within[k] for k in np.linspace(0, len(within) - 1, most).round().astype(int)]
    out = []
    for i in within:
        seg = segment_at(times[i])
        assert seg is not None
        t = seg.archive_start + (times[i] - seg.query_start) * match.speed
        row = int(np.argmin(np.abs(archive_times - t)))
        if abs(archive_times[row] - t) <= tolerance:
            out.append((i, row))
    return out


def _tone_of(chosen: Sequence[FrameFeatures], all_times: list[float], match: Match,
             item_features: Sequence[FrameFeatures], archive_times: np.ndarray,
             affine: np.ndarray) -> float | None:
    """The brightness change of up to ``TONE_FRAMES`` query frames inside the match's segments against the
    archived frames of their aligned moments, under ``affine``; None when none has a grid."""
    grids = [GridPair(chosen[i].grid, item_features[row].grid, affine)
             for i, row in aligned_rows(all_times, match, archive_times, TONE_FRAMES, SAME_TIME + 1e-6)
             if chosen[i].grid is not None and item_features[row].grid is not None]
    return brightness_change(grids)


def _on_line(segment: Segment, speed: float, offset: float) -> bool:
    """Whether ``segment`` lies on the line (speed, offset): its start maps to its archive start."""
    return abs(speed * segment.query_start + offset - segment.archive_start) <= SAME_TIME
