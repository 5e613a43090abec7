"""Matches found by local features where frame hashes find none: crops, picture-in-picture, combos.

Frame pairs that passed the geometric check (``feature_index.DescriptorIndex.pairs``) are aligned in time
per archived item, like hash matches are, and the fitted maps name the edits: the part of the
archived picture the query shows (``crop``), where the archived picture sits inside the query
(``pip``, or ``pad`` when the rest is border), and whether the query is mirrored (``hflip``).
The map itself, with those windows, is kept on the match (``Match.geometry``), to draw them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from provenance.archive.descriptor_index import DescriptorIndex
from provenance.archive.searchable import ArchiveFrames
from provenance.hashing.pdq import DIHEDRAL_NAMES
from provenance.match.align import ORIENTATION_EDITS, SPEED_TOLERANCE, make_match
from provenance.match.extend import aligned_rows, extend_match
from provenance.match.lines import Line, best_line, line_segments
from provenance.match.trim import trim_edit
from provenance.match.verdict import WHOLE_ITEM, coverages, density
from provenance.model import ContentBox, Edit, Fingerprint, Match, MatchGeometry, Segment, Sighting
from provenance.timings import stage
from provenance.vision.feature_image import FEATURE_FPS
from provenance.vision.features import (
    FrameFeatures,
    FramePair,
    inverse_box,
    mapped_box,
    pair_frames,
)
from provenance.vision.on_demand import times_of
from provenance.vision.overlays import AlignedFrame, find_overlay
from provenance.vision.tone import GridPair, border_around_inset, compare

MIN_FRAME_PAIRS = 2  # agreeing feature frames for a video match
STRONG_INLIERS = 80  # inliers at which a frame pair counts as certain
STILL_INLIERS = 30  # a single pair (a still) must be this strong
SEARCH_FRAMES = 16  # query feature frames searched in the whole archive (spread over the query)


def _spread(count: int, most: int) -> list[int]:
    """Up to ``most`` indices spread evenly over ``count``."""
    if count <= most:
        return list(range(count))
    return sorted({int(i) for i in np.linspace(0, count - 1, most).round()})


def _pseudo_distance(inliers: np.ndarray) -> np.ndarray:
    """Inliers as a PDQ-like distance (0 = certain), so the hash matcher's time alignment applies."""
    return 64.0 * (1.0 - np.minimum(inliers, STRONG_INLIERS) / STRONG_INLIERS)


def _area(box: tuple[float, float, float, float]) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def _median_affine(pairs: list[FramePair]) -> np.ndarray:
    """The map most frame pairs agree on (the edit's geometry holds over the clip; single fits stray)."""
    return np.median(np.stack([p.affine for p in pairs]), axis=0)


Box = tuple[float, float, float, float]
IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def _windows(affine: np.ndarray) -> tuple[Box | None, Box | None]:
    """The crop window (the part of the archived picture the query shows) and the inset (where the
    archived picture sits in the query), each None unless the map shows one: the windows the crop,
    pip and pad edits state."""
    shown = mapped_box(affine)  # the query frame, in archive coordinates
    inside = inverse_box(affine)  # the archived frame, in query coordinates
    clip = (min(max(shown[0], 0.0), 1.0), min(max(shown[1], 0.0), 1.0),
            min(max(shown[2], 0.0), 1.0), min(max(shown[3], 0.0), 1.0))
    crop = clip if _area(clip) < 0.92 and all(-0.03 <= v <= 1.03 for v in shown) else None
    inset = inside if _area(inside) < 0.8 and all(-0.03 <= v <= 1.03 for v in inside) else None
    return crop, inset


def _geometry(affine: np.ndarray, mirrored: bool, pairs: int) -> MatchGeometry:
    """The geometry of a map from the (mirrored, when ``mirrored``) query to the archived picture.

    The inset is given in the query frame as it is shown, so it is mirrored back."""
    crop, inset = _windows(affine)
    if inset is not None and mirrored:
        inset = (1.0 - inset[2], inset[1], 1.0 - inset[0], inset[3])

    def rounded(box: Box | None) -> Box | None:
        return None if box is None else (round(box[0], 4), round(box[1], 4), round(box[2], 4), round(box[3], 4))

    a = [round(float(v), 5) for v in np.asarray(affine, dtype=np.float64).reshape(6)]
    return MatchGeometry((a[0], a[1], a[2], a[3], a[4], a[5]), mirrored, None, rounded(crop), rounded(inset), pairs)


def _box_geometry(query: Fingerprint, mirrored: bool) -> MatchGeometry:
    """The geometry that the query's borders alone imply (the hashes matched the picture inside them)."""
    b = query.content_box
    shown = ContentBox(1.0 - b.right, b.top, 1.0 - b.left, b.bottom) if mirrored else b
    return _geometry(_box_affine(shown), mirrored, 0)


def _turned(match: Match) -> str | None:
    """The dihedral transform (a ``DIHEDRAL_NAMES`` name) of a hash match's rotate or vflip edit, else None."""
    stated = {e.details for e in match.edits if e.name in {"rotate", "vflip"}}
    for variant, (names, how) in ORIENTATION_EDITS.items():
        if {"rotate", "vflip"} & set(names) and f"the query shows the archived picture {how}" in stated:
            return DIHEDRAL_NAMES[variant]
    return None


def _geometry_edits(query: Fingerprint, pairs: list[FramePair], grids: list[GridPair]) -> list[Edit]:
    """Crop, picture-in-picture, padding and mirroring, from the median map of the frame pairs.

    An inset is padding when ``grids`` (colour grids of aligned frames, mapped by that median) show
    bars or an enlarged copy of the picture around it, and picture-in-picture when they show other
    footage; when no cell lies around it, the query's own borders decide.
    """
    affine = _median_affine(pairs)
    edits = []
    if pairs[0].mirrored:
        edits.append(Edit("hflip", "the query is mirrored left to right"))
    clip, inside = _windows(affine)
    if clip is not None:
        edits.append(Edit("crop", f"the query shows x {clip[0]:.2f}-{clip[2]:.2f}, y {clip[1]:.2f}-{clip[3]:.2f} "
                                  "of the archived picture"))
    if inside is not None:
        where = f"x {inside[0]:.2f}-{inside[2]:.2f}, y {inside[1]:.2f}-{inside[3]:.2f} of the query frame"
        # borders around it make it padding; other picture around it makes it picture-in-picture
        # what the grids see around the inset decides; the border finder can take a plain video for bars
        judged = border_around_inset(grids)
        border = judged if judged is not None else not query.content_box.is_full
        edits.append(Edit("pad", f"borders around the picture, which sits at {where}") if border
                     else Edit("pip", f"the archived picture is inset at {where}"))
    return edits


def _tone_and_overlay(grids: list[GridPair], aligned: list[AlignedFrame]) -> list[Edit]:
    """Colour and overlay edits: from the colour grids, and an overlay from the keypoints when the
    grids see none (thin captions and small logos barely move a grid cell's tone)."""
    edits = compare(grids)
    if not any(e.name == "overlay" for e in edits) and (overlay := find_overlay(aligned)) is not None:
        edits.append(overlay)
    return edits


def geometry_matches(
    query: Fingerprint,
    features: tuple[FrameFeatures, ...],
    mirrored_features: Sequence[FrameFeatures],
    index: DescriptorIndex,
    item_features: Callable[[int], list[FrameFeatures]],
    frames: ArchiveFrames,
    sightings: Callable[[str], tuple[Sighting, ...]],
    skip: set[str],
) -> tuple[Match, ...]:
    """Matches by local features for items not in ``skip`` (already matched by hashes).

    ``index`` searches all archived feature frames; ``item_features(item_id)`` reads one item's
    feature frames (in time order, as the index holds them) for the items the search finds.
    ``mirrored_features`` are the query's features of its mirrored frames.
    """
    if not len(index.table.frame_item) or not features:
        return ()
    number = {item_id: n for n, item_id in enumerate(frames.ids)}

    def item_of(row: int) -> int:
        """The item number (as in ``frames``) of an archived feature frame; -1 when not among them."""
        return number.get(int(index.table.frame_item[row]), -1)

    def wanted(pair: FramePair) -> bool:
        item = item_of(pair.archive_row)
        return item >= 0 and frames.sha256[item] not in skip

    pick = _spread(len(features), SEARCH_FRAMES)
    used = features
    with stage("candidates"):
        pairs = index.pairs(tuple(features[i] for i in pick), mirrored=False)
        if not any(wanted(p) for p in pairs):
            used = mirrored_features
            pairs = index.pairs(tuple(used[i] for i in pick), mirrored=True)
    by_item: dict[int, list[FramePair]] = {}
    for pair in pairs:
        if wanted(pair):
            by_item.setdefault(item_of(pair.archive_row), []).append(pair)
    step = 1.0 / FEATURE_FPS
    query_duration = max(query.duration, step)
    matches = []
    for item, item_pairs in by_item.items():
        item_id = frames.ids[item]
        rows = index.table.item_frames(item_id)
        archived = item_features(item_id)
        if len(archived) != len(rows):
            continue  # the index and the archive disagree (changed between reads): no claim either way
        local = [replace(p, archive_row=p.archive_row - int(rows[0])) for p in item_pairs]
        match = _item_match(query, item, local, archived, np.arange(len(archived)), used, frames, step,
                            query_duration, sightings)
        if match is not None:
            # across stretches too plain for features (a flat wall, a fade) that the colour grids confirm
            matches.append(extend_match(query, match, features, mirrored_features, archived,
                                        float(frames.durations[item]), item_still=bool(frames.stills[item])))
    return tuple(sorted(matches, key=lambda m: -m.score))


def _normal_offsets(tq: np.ndarray, ta: np.ndarray, inliers: np.ndarray, most: int = 3) -> list[float]:
    """Normal-speed offsets (archive time - query time) of the strongest frame pairs, distinct to the
    feature sampling step, strongest first: at most ``most``, of pairs with at least 0.8 of the
    strongest pair's inliers."""
    offsets: list[float] = []
    for i in np.argsort(-inliers, kind="stable"):
        if inliers[i] < 0.8 * inliers.max() or len(offsets) >= most:
            break
        offset = float(ta[i] - tq[i])
        if all(abs(offset - o) >= 1.0 / FEATURE_FPS for o in offsets):
            offsets.append(offset)
    return offsets


def _follow_line(speed: float, offset: float, done: set[int], query_features: Sequence[FrameFeatures],
                 archive_features: list[FrameFeatures], item_rows: np.ndarray, mirrored: bool) -> list[FramePair]:
    """Frame pairs along a known alignment, for the query frames the search did not look at."""
    if not len(item_rows):
        return []
    times = np.array([archive_features[r].time for r in item_rows])
    found = []
    for k, query_time in enumerate(times_of(query_features)):
        if round(query_time * FEATURE_FPS) in done:
            continue  # searched already (and, made on demand, not extracted again)
        q = query_features[k]
        t = speed * q.time + offset
        j = int(np.argmin(np.abs(times - t)))
        if abs(times[j] - t) <= 2 * SAME_MOMENT:
            pair = pair_frames(q, archive_features[int(item_rows[j])], int(item_rows[j]), mirrored)
            if pair is not None:
                found.append(pair)
    return found


def _item_match(query: Fingerprint, item: int, pairs: list[FramePair], archive_features: list[FrameFeatures],
                item_rows: np.ndarray, query_features: Sequence[FrameFeatures], frames: ArchiveFrames,
                step: float, query_duration: float,
                sightings: Callable[[str], tuple[Sighting, ...]]) -> Match | None:
    """Align one item's frame pairs in time and turn them into a Match, or None if too thin."""
    still_pair = query.is_still or frames.stills[item]
    tq = np.array([p.query_time for p in pairs])
    ta = np.array([archive_features[p.archive_row].time for p in pairs])
    inliers = np.array([p.inliers for p in pairs], dtype=np.float64)
    qidx = np.round(tq * FEATURE_FPS).astype(np.int64)
    if still_pair:
        best = int(np.argmax(inliers))
        if inliers[best] < STILL_INLIERS:
            return None
        kept = [pairs[best]]
        if query.is_still:
            segments = [Segment(0.0, 0.0, round(float(ta[best]), 3), round(float(ta[best]), 3))]
        else:
            segments = [Segment(round(float(tq[best]), 3), round(min(float(tq[best]) + step, query_duration), 3),
                                0.0, 0.0)]
        speed, agreeing = 1.0, 1
    else:
        line = best_line(tq, ta, _pseudo_distance(inliers), qidx, step)
        n_query = max(1, round(query_duration * FEATURE_FPS))
        if line is None or len(line.query_idx) < min(MIN_FRAME_PAIRS, n_query):
            # one strong pair seeds a normal-speed alignment, which the other frames must then confirm
            best = int(np.argmax(inliers))
            if inliers[best] < STILL_INLIERS:
                return None
            line = Line(1.0, float(ta[best] - tq[best]), qidx[[best]], tq[[best]], ta[[best]],
                        _pseudo_distance(inliers[[best]]))
        # the search looked at a few frames only: now that the alignment is known, check every
        # other query frame against the archived frame of the same moment, for the full extent
        more = _follow_line(line.speed, line.offset, set(line.query_idx.tolist()), query_features,
                            archive_features, item_rows, pairs[0].mirrored)
        if line.speed != 1.0:
            # a still shot pairs each searched query frame with whichever of its archived frames the
            # search met first, and those few pairs can tilt the line: follow normal speed from the
            # strongest pairs too, and let the vote over every frame followed decide
            for offset in _normal_offsets(tq, ta, inliers):
                more += _follow_line(1.0, offset, set(), query_features, archive_features, item_rows,
                                     pairs[0].mirrored)
        if more:
            pairs = pairs + more
            tq = np.array([p.query_time for p in pairs])
            ta = np.array([archive_features[p.archive_row].time for p in pairs])
            inliers = np.array([p.inliers for p in pairs], dtype=np.float64)
            qidx = np.round(tq * FEATURE_FPS).astype(np.int64)
            line = best_line(tq, ta, _pseudo_distance(inliers), qidx, step) or line
        if len(line.query_idx) < min(MIN_FRAME_PAIRS, n_query):
            return None
        agreed = set(line.query_idx.tolist())
        kept = [p for p, q in zip(pairs, qidx.tolist(), strict=True) if q in agreed]
        segments = line_segments(line, step, query_duration, frames.durations[item])
        speed, agreeing = line.speed, len(line.query_idx)
    query_cov, archive_cov = coverages(segments, query_duration, frames.durations[item], step,
                                       query_still=query.is_still, item_still=bool(frames.stills[item]))
    strength = float(np.mean(np.minimum([p.inliers for p in kept], STRONG_INLIERS))) / STRONG_INLIERS
    density_ = density(agreeing, query_cov, query_duration, 1.0 / FEATURE_FPS)
    score = round(float(0.9 * strength * density_ * agreeing / (agreeing + 1.0)), 4)
    affine = _median_affine(kept)
    at_time = {round(t, 3): k for k, t in enumerate(times_of(query_features))}
    by_time = {moment: query_features[at_time[moment]] for p in kept if (moment := round(p.query_time, 3)) in at_time}
    grids = [GridPair(q.grid, archive_features[p.archive_row].grid, affine) for p in kept
             if (q := by_time.get(round(p.query_time, 3))) is not None and q.grid is not None
             and archive_features[p.archive_row].grid is not None]
    edits = [Edit("reencode", "the bytes differ; matched by local features")]
    with stage("description"):
        edits += _geometry_edits(query, kept, grids)
        edits += _tone_and_overlay(grids, [AlignedFrame(by_time[round(p.query_time, 3)], p,
                                                        archive_features[p.archive_row])
                                           for p in kept if round(p.query_time, 3) in by_time])
    if abs(speed - 1.0) > SPEED_TOLERANCE and not still_pair:
        edits.append(Edit("speed", f"x{speed:.3f}: one query second shows {speed:.3f} archive seconds"))
    if not still_pair and (trim := trim_edit(segments, float(frames.durations[item]), archive_cov,
                                             WHOLE_ITEM)) is not None:
        edits.append(trim)
    match = make_match(frames, item, sightings, identical=False, score=score, segments=segments,
                       query_cov=query_cov, archive_cov=archive_cov, speed=speed, agreeing=agreeing,
                       mean_distance=float(np.mean(_pseudo_distance(np.array([p.inliers for p in kept], float)))),
                       edits=tuple(edits))
    return replace(match, geometry=_geometry(affine, kept[0].mirrored, len(kept)))


DESCRIBE_FRAMES = 6  # aligned frame pairs looked at to describe the geometry of a hash match
SAME_MOMENT = 0.26  # seconds: frames further apart than this may show motion, not edits


def _box_affine(b: ContentBox) -> np.ndarray:
    """The map from query to archive coordinates that the query's borders (content box ``b``) alone imply."""
    sx, sy = 1.0 / max(b.right - b.left, 1e-6), 1.0 / max(b.bottom - b.top, 1e-6)
    return np.array([[sx, 0.0, -b.left * sx], [0.0, sy, -b.top * sy]])


def describe_geometry(query: Fingerprint, match: Match, features: tuple[FrameFeatures, ...],
                      mirrored_features: Sequence[FrameFeatures],
                      item_features: list[FrameFeatures]) -> Match:
    """Add what local features and colour grids see (crop, inset picture, colour, overlay) to a match.

    The match gives the time alignment, so each query feature frame is compared only with the
    archived feature frame shown at the same moment. The map is kept as ``Match.geometry`` (from the
    query's borders when no frame pair fits); turned copies get only their orientation there, their
    edits are left as they are.
    """
    names = {e.name for e in match.edits}
    if match.verdict == "identical":
        return match
    mirrored = "hflip" in names
    if names & {"rotate", "vflip"}:
        turned = _turned(match)
        return match if turned is None else replace(match, geometry=MatchGeometry(IDENTITY, mirrored, turned))
    if not item_features or not features:
        return replace(match, geometry=_box_geometry(query, mirrored))
    query_frames = mirrored_features if mirrored else features
    archive_times = np.array([f.time for f in item_features])
    # chosen by time: of features made on demand, only the chosen frames' are extracted
    query_times = times_of(query_frames)
    pairs, aligned, seen = [], [], []
    for i, row in aligned_rows(query_times, match, archive_times, DESCRIBE_FRAMES, SAME_MOMENT):
        q = query_frames[i]
        pair = pair_frames(q, item_features[row], row, mirrored)
        if pair is not None:
            pairs.append(pair)
            seen.append(AlignedFrame(q, pair, item_features[row]))
        if q.grid is not None and item_features[row].grid is not None:
            aligned.append((q.grid, item_features[row].grid))
    affine = _median_affine(pairs) if pairs else _box_affine(query.content_box)
    geometry = _geometry(affine, mirrored, len(pairs)) if pairs else _box_geometry(query, mirrored)
    grids = [GridPair(q, a, affine) for q, a in aligned]
    extra = _geometry_edits(query, pairs, grids) if pairs else []
    extra += _tone_and_overlay(grids, seen)
    extra = [e for e in extra if e.name not in names]
    kept = match.edits
    if any(e.name == "pip" for e in extra):  # footage around the inset: what the border finder took for bars is not
        kept = tuple(e for e in kept if e.name != "pad")
    return replace(match, edits=kept + tuple(extra), geometry=geometry)
