"""The overlay finder's vectorised search against the straightforward one it replaced.

``overlays._found_in`` looks for each keypoint's near copy (close in place, close in descriptor)
among another frame's keypoints, or several frames' at once, through a grid of cells; here it is
held to the all-pairs test it stands for, on points that sit exactly on the shift's edges and
outside the frame (mapped points). ``find_overlay`` judges only the keypoints of cells that could
be marked (enough keypoints, none matched, on the picture) and searches the other frames together;
it is held to the loop that judged every keypoint against each other frame in turn, on synthetic
frames with and without a fixed caption. No media is needed: the inputs are keypoints.
"""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from provenance.model import Edit
from provenance.vision import overlays
from provenance.vision.feature_image import FEATURE_SIDE
from provenance.vision.features import FrameFeatures, FramePair
from provenance.vision.overlays import CELLS, AlignedFrame, find_overlay


def found_everywhere(points: np.ndarray, descriptors: np.ndarray, other_points: np.ndarray,
                     other_descriptors: np.ndarray, shift: float | np.ndarray) -> np.ndarray:
    """The oracle: every point against every other point, with the tests written out as the
    searchsorted version stated them (float64 bounds, the y distance, unpacked bits)."""
    if not len(points) or not len(other_points):
        return np.zeros(len(points), dtype=bool)
    dx, dy = np.broadcast_to(np.asarray(shift, dtype=np.float64), (2,))
    across = other_points[None, :, 0]
    close = (across >= (points[:, 0] - dx)[:, None]) & (across <= (points[:, 0] + dx)[:, None]) \
        & (np.abs(points[:, None, 1] - other_points[None, :, 1]) <= dy)
    bits = np.unpackbits(descriptors[:, None, :] ^ other_descriptors[None, :, :], axis=-1).sum(axis=-1)
    return (close & (bits <= overlays.RECUR_BITS)).any(axis=1)


def near_copies(rng: np.random.Generator, points: np.ndarray, descriptors: np.ndarray, dx: float, dy: float,
                bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Copies of some of the points moved by up to about the shift (some exactly by it, some just
    beyond), with up to ``bits`` descriptor bits flipped."""
    pick = rng.integers(0, len(points), size=rng.integers(0, 2 * len(points) + 1))
    edges = np.array([0.0, 1.0, -1.0, 1.0 - 1e-7, 1.0 + 1e-7, -1.0 - 1e-7, 0.5, -0.5, 2.0])
    move_x = rng.choice(edges, size=len(pick)) * dx
    move_y = rng.choice(edges, size=len(pick)) * dy
    moved = (points[pick].astype(np.float64) + np.stack([move_x, move_y], axis=1)).astype(np.float32)
    flipped = np.unpackbits(descriptors[pick], axis=1)
    for row in flipped:
        row[rng.choice(256, size=int(rng.integers(0, bits + 1)), replace=False)] ^= 1
    return moved, np.packbits(flipped, axis=1)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(0, 60), others=st.integers(0, 60),
       shift=st.sampled_from([1.0 / 16, 3.0 / 640, (3.0 / 640, 3.0 / 360), (3.0 / 360, 3.0 / 640), 0.2, 1e-7]),
       spread=st.sampled_from([1.0, 0.05, 2.0]), bits=st.sampled_from([0, 60, 64, 70, 128]))
def test_found_in_is_the_all_pairs_test(seed: int, count: int, others: int, shift: float | tuple[float, float],
                                        spread: float, bits: int) -> None:
    """Points clustered or spread, some outside 0..1 (``spread`` 2 puts them in -0.5..1.5, as a map
    puts query keypoints beyond the archived frame), near copies on and just off the shift's edges."""
    rng = np.random.default_rng(seed)
    points = (0.5 + (rng.random((count, 2)) - 0.5) * spread).astype(np.float32)
    descriptors = rng.integers(0, 256, size=(count, 32), dtype=np.uint8)
    dx, dy = np.broadcast_to(np.asarray(shift, dtype=np.float64), (2,))
    other_points = (0.5 + (rng.random((others, 2)) - 0.5) * spread).astype(np.float32)
    other_descriptors = rng.integers(0, 256, size=(others, 32), dtype=np.uint8)
    if count:
        moved, changed = near_copies(rng, points, descriptors, float(dx), float(dy), bits)
        other_points = np.concatenate([other_points, moved])
        other_descriptors = np.concatenate([other_descriptors, changed])
    # mapped points are float64 (the map is), the archived frame's float32
    for query in (points, points.astype(np.float64)):
        found = overlays._found_in(query, descriptors, other_points, other_descriptors, shift)
        assert np.array_equal(found, found_everywhere(query, descriptors, other_points, other_descriptors, shift))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), frames=st.integers(1, 5))
def test_found_among_several_frames_at_once_is_found_in_any_one(seed: int, frames: int) -> None:
    """One search over the keypoints of several frames together says what one search per frame says."""
    rng = np.random.default_rng(seed)
    points = rng.random((80, 2)).astype(np.float32)
    descriptors = rng.integers(0, 256, size=(80, 32), dtype=np.uint8)
    shift = np.array([3.0 / 640, 3.0 / 360])
    each = [near_copies(rng, points, descriptors, 3.0 / 640, 3.0 / 360, 70) for _ in range(frames)]
    one_by_one = np.zeros(len(points), dtype=bool)
    for other_points, other_descriptors in each:
        one_by_one |= found_everywhere(points, descriptors, other_points, other_descriptors, shift)
    together = overlays._found_in(points, descriptors, np.concatenate([p for p, _ in each]),
                                  np.concatenate([d for _, d in each]), shift)
    assert np.array_equal(together, one_by_one)


def find_overlay_judging_every_keypoint(frames: list[AlignedFrame]) -> Edit | None:
    """The oracle: ``find_overlay`` as it was, judging every keypoint of every frame, each other
    frame in turn, with the all-pairs test."""
    frames = sorted((f for f in frames if overlays.SCALES[0] <= overlays._scale(f) <= overlays.SCALES[1]),
                    key=lambda f: f.query.time)
    if len(frames) < overlays.MIN_PAIRS:
        return None
    fixed_unmatched, counted, on_picture = np.zeros(CELLS * CELLS), np.zeros(CELLS * CELLS), np.zeros(CELLS * CELLS)
    for i, frame in enumerate(frames):
        inside = overlays._inside_cells(frame.pair)
        on_picture += inside
        query = frame.query
        if not len(query.points):
            continue
        cell = overlays._cell_of(query.points)
        total = np.bincount(cell, minlength=CELLS * CELLS)
        width, height = (FEATURE_SIDE, FEATURE_SIDE / query.aspect) if query.aspect >= 1 \
            else (FEATURE_SIDE * query.aspect, FEATURE_SIDE)
        shift = np.array([overlays.RECUR_PIXELS / width, overlays.RECUR_PIXELS / height])
        fixed = np.zeros(len(query.points), dtype=bool)
        for j in overlays._others(i, len(frames)):
            other = frames[j].query
            fixed |= found_everywhere(query.points, query.descriptors, other.points, other.descriptors, shift)
        mapped = query.points @ frame.pair.affine[:, :2].T + frame.pair.affine[:, 2]
        lacking = fixed & ~found_everywhere(mapped, query.descriptors, frame.archive.points,
                                            frame.archive.descriptors, overlays.ARCHIVE_SHIFT)
        lacked = np.bincount(cell, weights=lacking, minlength=CELLS * CELLS)
        matched = np.bincount(overlays._cell_of(frame.pair.query_inliers), minlength=CELLS * CELLS) \
            if len(frame.pair.query_inliers) else np.zeros(CELLS * CELLS)
        marked = (total >= overlays.MIN_KEYPOINTS) & (lacked >= overlays.RECUR_SHARE * np.maximum(total, 1)) \
            & (matched == 0)
        fixed_unmatched += marked & inside
        counted += inside
    persistent = (counted >= overlays.MIN_PAIRS) & (fixed_unmatched >= overlays.PERSISTENCE * np.maximum(counted, 1))
    picture = on_picture > 0.5 * len(frames)
    grid, area = persistent.reshape(CELLS, CELLS), picture.reshape(CELLS, CELLS)
    grid = overlays._without_lone_cells(overlays._near_picture_edge(grid, area))
    if not grid.any() or grid.sum() > overlays.MAX_SHARE * max(1, area.sum()):
        return None
    return Edit("overlay", "something fixed that the archive lacks covers "
                + overlays._describe(grid, frames[0].pair.mirrored))


def synthetic_frames(seed: int, count: int, caption: bool, jitter: float, flips: int, scale: float,
                     matched_share: float, wobble: float = 0.0) -> list[AlignedFrame]:
    """``count`` aligned frames of footage (new keypoints every frame, each found in the archived frame
    where the map puts it), some of it matched, and, with ``caption``, a caption near the bottom of
    the archived picture and a logo in the query's top left corner whose keypoints recur at the same
    place (moved by up to ``jitter`` pixels, up to ``flips`` bits changed) and that the archived
    frames lack. The map scales by ``scale`` about the centre (above 1 the archived picture is inset
    in the query, and the logo lies outside it), each frame's by up to ``wobble`` more or less."""
    rng = np.random.default_rng(seed)
    aspect = 16 / 9
    on_picture = np.stack([rng.uniform(0.2, 0.8, 90), rng.uniform(0.86, 0.95, 90)], axis=1)
    fixed_points = np.concatenate([(on_picture - (1 - scale) / 2) / scale,
                                   np.stack([rng.uniform(0.0, 0.09, 30), rng.uniform(0.0, 0.09, 30)], axis=1)])
    fixed_descriptors = rng.integers(0, 256, size=(len(fixed_points), 32), dtype=np.uint8)
    frames = []
    for n in range(count):
        s = scale * (1 + wobble * rng.uniform(-1, 1))
        affine = np.array([[s, 0.0, (1 - s) / 2], [0.0, s, (1 - s) / 2]])
        footage = rng.random((int(rng.integers(0, 300)), 2))
        footage_descriptors = rng.integers(0, 256, size=(len(footage), 32), dtype=np.uint8)
        points, descriptors = footage, footage_descriptors
        if caption:
            moved = fixed_points + rng.uniform(-jitter, jitter, fixed_points.shape) / np.array([640, 360])
            bits = np.unpackbits(fixed_descriptors, axis=1)
            for row in bits:
                row[rng.choice(256, size=int(rng.integers(0, flips + 1)), replace=False)] ^= 1
            points, descriptors = np.concatenate([footage, moved]), np.concatenate([footage_descriptors,
                                                                                    np.packbits(bits, axis=1)])
        points = points.astype(np.float32)
        archived = (footage @ affine[:, :2].T + affine[:, 2]).astype(np.float32)
        matched = footage[rng.random(len(footage)) < matched_share].astype(np.float32)
        query = FrameFeatures(n / 2, points, descriptors, aspect)
        archive = FrameFeatures(n / 2, archived, footage_descriptors.copy(), aspect)
        frames.append(AlignedFrame(query, FramePair(n / 2, n, len(matched), False, affine, matched), archive))
    return frames


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(3, 10), caption=st.booleans(),
       jitter=st.sampled_from([0.0, 0.5, 2.9, 3.2, 6.0]), flips=st.sampled_from([0, 40, 80]),
       scale=st.sampled_from([1.0, 0.97, 0.7, 0.5, 1.25, 1.4]), matched_share=st.sampled_from([0.0, 0.05, 0.3, 0.9]),
       wobble=st.sampled_from([0.0, 0.02, 0.1]))
# an inset whose outline moves across the caption's cells from frame to frame: cells are judged only
# in the frames that have them on the picture
@example(seed=2095107749, count=8, caption=True, jitter=3.2, flips=80, scale=1.4, matched_share=0.05, wobble=0.1)
def test_find_overlay_is_the_finder_that_judged_every_keypoint(seed: int, count: int, caption: bool, jitter: float,
                                                               flips: int, scale: float, matched_share: float,
                                                               wobble: float) -> None:
    frames = synthetic_frames(seed, count, caption, jitter, flips, scale, matched_share, wobble)
    assert find_overlay(frames) == find_overlay_judging_every_keypoint(frames)


def test_the_synthetic_caption_is_an_overlay_and_footage_alone_is_none() -> None:
    """The comparison above is not of two Nones: the synthetic caption is found, footage alone is not."""
    found = find_overlay(synthetic_frames(5, 8, True, 0.5, 20, 1.0, 0.3))
    assert found is not None and "a band across the bottom" in found.details
    assert find_overlay(synthetic_frames(5, 8, False, 0.5, 20, 1.0, 0.3)) is None
