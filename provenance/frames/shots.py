"""Shot boundaries and one representative keyframe per shot, from the sampled grey frames.

A cut is declared between two consecutive samples when their pictures differ in both structure
(PDQ Hamming distance) and tone (grey-level histogram), so camera motion alone rarely makes a cut
and a fade between similar frames does not either. Sampling is coarse (``SamplingParams.fps``),
so a boundary is known to within one sample interval; it is placed at the first sample of the new
shot. The keyframe of a shot is its sharpest sample (highest PDQ quality), the middle one on ties.
"""

from __future__ import annotations

import numpy as np

from provenance.model import ContentBox, Shot

CUT_HASH_DISTANCE = 96  # of 256 bits; unrelated pictures sit near 128, the same shot well below 64
CUT_HISTOGRAM_DISTANCE = 0.35  # total variation distance of 32-bin grey histograms, 0..1


def histogram_distances(gray: np.ndarray) -> np.ndarray:
    """Total variation distance between the grey histograms of consecutive frames, shape (N-1,)."""
    if len(gray) < 2:
        return np.zeros(0)
    return histogram_steps(grey_histograms(gray))


def grey_histograms(gray: np.ndarray) -> np.ndarray:
    """The 32-bin grey histogram of each of (N, H, W) frames, as shares of the frame: (N, 32) float64."""
    bins = (gray.reshape(len(gray), -1) >> 3).astype(np.int64)  # 32 bins
    counts = np.stack([np.bincount(row, minlength=32) for row in bins]).astype(np.float64)
    counts /= counts.sum(axis=1, keepdims=True)
    return counts


def histogram_steps(histograms: np.ndarray) -> np.ndarray:
    """Total variation distance between consecutive rows of (N, 32) ``grey_histograms``, shape (N-1,);
    each distance depends on its two rows only, so the histograms may come a chunk at a time."""
    return 0.5 * np.abs(np.diff(histograms, axis=0)).sum(axis=1)


def find_cuts(pdq: np.ndarray, gray: np.ndarray) -> list[int]:
    """Sample numbers that start a new shot (never 0); ``pdq`` is (N, 32) packed, ``gray`` (N, H, W)."""
    return cuts_between(pdq, histogram_distances(gray))


def cuts_between(pdq: np.ndarray, hist_dist: np.ndarray) -> list[int]:
    """``find_cuts`` from the (N, 32) packed PDQ hashes and the (N-1,) ``histogram_distances`` of the frames."""
    if len(pdq) < 2:
        return []
    hash_dist = np.unpackbits(np.bitwise_xor(pdq[1:], pdq[:-1]), axis=1).sum(axis=1)
    cuts = np.flatnonzero((hash_dist >= CUT_HASH_DISTANCE) & (hist_dist >= CUT_HISTOGRAM_DISTANCE)) + 1
    return [int(c) for c in cuts]


def shot_ranges(count: int, cuts: list[int]) -> list[tuple[int, int]]:
    """(first, stop) sample ranges of the shots that ``cuts`` make of ``count`` samples."""
    if count == 0:
        return []
    starts = [0, *cuts]
    return list(zip(starts, [*cuts, count], strict=True))


def build_shots(
    times: np.ndarray, ranges: list[tuple[int, int]], quality: np.ndarray, duration: float,
    boxes: list[ContentBox],
) -> tuple[Shot, ...]:
    """Shots from sample ranges: times, the sharpest sample as keyframe (the middle one on ties)."""
    count = len(times)
    shots = []
    for number, ((first, stop), box) in enumerate(zip(ranges, boxes, strict=True)):
        members = np.arange(first, stop)
        best = members[quality[members] == quality[members].max()]
        middle = (first + stop - 1) / 2
        pick = int(best[np.argmin(np.abs(best - middle))])
        start_t = float(times[first])
        end_t = float(times[stop]) if stop < count else max(float(duration), float(times[-1]))
        shots.append(Shot(number, start_t, end_t, float(times[pick]), pick, box))
    return tuple(shots)
