"""Shot boundaries and one representative keyframe per shot, from the sampled grey frames.

Samples are coarse (2 a second in a check, 8 in the archive), so the picture can change a lot from
one sample to the next within a shot (a handheld camera, traffic), and a cut is judged against its
surroundings, as PySceneDetect's ``AdaptiveDetector`` does: the change at a step must be several
times the usual change of the steps around it (their median over a second on either side), and
large in itself.

* The change between two samples is the mean of the total-variation distance of their 32-bin grey
  histograms (tone) and of the mean absolute difference of 16x16 thumbnails (layout, a quarter of
  the grey range counting as completely different). Both are measured on the content (the frame cut
  to its border run's box), or on the whole frames when the two samples lie in runs with different
  boxes, so that a box found a little differently is not taken for a new picture.
* A cut changes most of the picture: at least ``MOST_OF_THE_PICTURE`` of the thumbnail's cells, each by
  ``CHANGED_GREY`` levels or more. Someone walking close past a fixed camera changes the histogram
  and the mean as much as a cut does, but only where they are.
* The PDQ distance is a gate, not a measure: at 2 samples a second camera motion alone moves PDQ as
  far as a cut does, but a cut always does (at least ``MIN_CUT_BITS``), while a change of exposure
  or a flickering light, which moves the histogram a lot, leaves the PDQ of a picture with detail
  nearly where it was.
* A hard cut is one step; a dissolve spreads its change over several. Each boundary is therefore
  also judged at a lag of ``GRADUAL_SECONDS`` (the samples that far apart on either side of it,
  against the same lag elsewhere, the overlapping lags left out). A change found at that lag that
  holds a hard cut is that cut; otherwise it is a dissolve, placed at its middle.
* Cuts closer than ``MIN_SHOT_SECONDS`` keep the stronger one; none is placed that close to the start
  or the end.

A hard cut is known to within one sample interval; it is placed at the first sample of the new
shot. The keyframe of a shot is its sharpest sample (highest PDQ quality), the middle one on ties.

The detector sees the samples only through those two kinds of change, each sample to the next and
to the one ``GRADUAL_SECONDS`` on (``ShotChanges``). ``ShotChangeStream`` computes them as the
frames are decoded, so that a clip's memory does not grow with its length by the thumbnails and
histograms of every sample: it keeps only the last lag's samples, and a few numbers a sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from provenance.model import ContentBox, Shot

THUMB_SIDE = 16  # thumbnails of THUMB_SIDE x THUMB_SIDE grey levels
HISTOGRAM_BINS = 32
FULL_CHANGE_GREY = 64.0  # a mean absolute thumbnail difference of this many grey levels counts as a new picture
CUT_RATIO = 2.5  # a cut changes the picture this many times more than the steps around it ...
MIN_CUT_CHANGE = 0.25  # ... and by at least this much (0..1), or ...
MIN_GRADUAL_CHANGE = 0.35  # ... over GRADUAL_SECONDS, by at least this much
RATIO_FLOOR = 0.02  # added to the surroundings' median, so a still scene does not make every flicker a cut
MIN_CUT_BITS = 64  # PDQ bits of 256 that a cut always changes (unrelated pictures differ by about 128)
MOST_OF_THE_PICTURE = 0.5  # share of the thumbnail's cells that a cut changes ...
CHANGED_GREY = 16  # ... by at least this many grey levels each
NEIGHBOUR_SECONDS = 1.0  # the surroundings of a step: this long on either side
GRADUAL_SECONDS = 1.0  # the lag a dissolve is judged at
MIN_SHOT_SECONDS = 1.0


@dataclass(frozen=True)
class ShotSignals:
    """What the shot detector sees of each of N samples: thumbnails and grey histograms of the content
    (the frame cut to its border run's box) and of the whole frame, and the border run of each."""

    thumbs: np.ndarray  # (N, THUMB_SIDE, THUMB_SIDE) uint8
    histograms: np.ndarray  # (N, HISTOGRAM_BINS) float32, shares of the picture
    whole_thumbs: np.ndarray
    whole_histograms: np.ndarray
    runs: np.ndarray  # (N,) int64: samples of one run share a box

    @staticmethod
    def of(content: np.ndarray, whole: np.ndarray, run: int | np.ndarray) -> ShotSignals:
        """The signals of (k, H, W) ``content`` frames and their ``whole`` frames, of border run ``run``
        (one for all, or (k,) of them)."""
        runs = np.broadcast_to(np.asarray(run, dtype=np.int64), (len(content),)).copy()
        return ShotSignals(thumbnails(content), grey_histograms(content).astype(np.float32), thumbnails(whole),
                           grey_histograms(whole).astype(np.float32), runs)

    def last(self, count: int) -> ShotSignals:
        """The signals of the last ``count`` samples (all when there are fewer), copied so the rest can go."""
        start = max(0, len(self.runs) - count)
        return ShotSignals(*(getattr(self, name)[start:].copy()
                             for name in ("thumbs", "histograms", "whole_thumbs", "whole_histograms", "runs")))

    @staticmethod
    def joined(parts: list[ShotSignals]) -> ShotSignals:
        """The signals of consecutive chunks as one."""
        if not parts:
            thumbs = np.zeros((0, THUMB_SIDE, THUMB_SIDE), dtype=np.uint8)
            hists = np.zeros((0, HISTOGRAM_BINS), dtype=np.float32)
            return ShotSignals(thumbs, hists, thumbs, hists, np.zeros(0, dtype=np.int64))
        return ShotSignals(*(np.concatenate([getattr(p, name) for p in parts])
                             for name in ("thumbs", "histograms", "whole_thumbs", "whole_histograms", "runs")))


def thumbnails(gray: np.ndarray) -> np.ndarray:
    """(N, H, W) grey frames area-shrunk to (N, THUMB_SIDE, THUMB_SIDE) uint8."""
    import cv2

    out = np.empty((len(gray), THUMB_SIDE, THUMB_SIDE), dtype=np.uint8)
    for i, frame in enumerate(gray):
        out[i] = cv2.resize(frame, (THUMB_SIDE, THUMB_SIDE), interpolation=cv2.INTER_AREA)
    return out


def grey_histograms(gray: np.ndarray) -> np.ndarray:
    """The 32-bin grey histogram of each of (N, H, W) frames, as shares of the frame: (N, 32) float64."""
    bins = (gray.reshape(len(gray), -1) >> 3).astype(np.int64)  # 32 bins
    counts = np.stack([np.bincount(row, minlength=HISTOGRAM_BINS) for row in bins]).astype(np.float64)
    counts /= counts.sum(axis=1, keepdims=True)
    return counts


def find_cuts(pdq: np.ndarray, content: np.ndarray, times: np.ndarray, whole: np.ndarray | None = None,
              runs: np.ndarray | None = None) -> list[int]:
    """``cuts_between`` from whole arrays: (N, 32) packed PDQ hashes, (N, H, W) ``content`` frames, their
    ``times``, the ``whole`` frames (default: the content) and each frame's border run (default: one run).
    The changes go through ``ShotChangeStream`` as one chunk: the same numbers as when streamed."""
    stream = ShotChangeStream()
    stream.add(content, content if whole is None else whole, 0 if runs is None else runs)
    return cuts_between(pdq, stream.changes(times), times)


def sample_rate(times: np.ndarray) -> float:
    """Samples a second at ``times`` (two or more): one over their median spacing."""
    return 1.0 / max(float(np.median(np.diff(times))), 1e-3)


def gradual_lag(rate: float) -> int:
    """The lag, in samples, that a dissolve is judged at when samples come ``rate`` a second."""
    return max(2, round(GRADUAL_SECONDS * rate))


RATE_SLACK = 1e-6  # relative error of a rate measured from times k / fps (about 1e-10 for ten hours at 30 fps)


def lags_at(fps: float) -> tuple[int, ...]:
    """The ``gradual_lag`` that samples at times k / ``fps`` give: one, or the two either side of
    GRADUAL_SECONDS * fps when it lies on a half (the median spacing, rounded in floating point, may
    then tip it either way)."""
    return tuple(sorted({gradual_lag(fps * (1 - RATE_SLACK)), gradual_lag(fps * (1 + RATE_SLACK))}))


@dataclass(frozen=True)
class ShotChanges:
    """What the shot detector compares of N samples (see ``changes``): each sample with the next, and
    each with the one ``lag`` samples on."""

    step: np.ndarray  # (N-1,) float32: how much the picture changes from sample i to i + 1, 0..1
    step_spread: np.ndarray  # (N-1,) float64: the share of the thumbnail's cells that changed
    lagged: np.ndarray  # (max(0, N - lag),) float32: from sample j to j + lag
    lagged_spread: np.ndarray
    lag: int


class ShotChangeStream:
    """``ShotChanges`` computed as the samples come, a chunk at a time (``add``), so that only a few
    numbers a sample are kept: of the signals (``ShotSignals``, about 770 bytes a sample), only those of
    the last ``max(lags)`` samples. ``lags`` are those the samples' times can give (``lags_at`` the
    sampling rate); None when the rate is known only from the times at the end (keyframes at their own
    times): every sample's signals are then kept until ``changes``."""

    def __init__(self, lags: tuple[int, ...] | None = None) -> None:
        self.lags = lags
        self.count = 0
        self.tail = ShotSignals.joined([])  # the last max(lags) samples' signals
        self.kept: list[ShotSignals] = []  # lags None: every sample's
        # at each lag (1 and ``lags``), the change and its spread of each pair so far
        self.pairs = {lag: (_Column(), _Column()) for lag in (1, *(lags or ()))}

    def add(self, content: np.ndarray, whole: np.ndarray, run: int | np.ndarray) -> None:
        """The next (k, H, W) ``content`` frames, their ``whole`` frames and border ``run`` (see ``ShotSignals.of``)."""
        self.add_signals(ShotSignals.of(content, whole, run))

    def add_signals(self, new: ShotSignals) -> None:
        """The next samples' signals."""
        self.count += len(new.runs)
        if self.lags is None:
            self.kept.append(new)
            return
        window = ShotSignals.joined([self.tail, new])
        before = len(self.tail.runs)
        for lag, (change, spread) in self.pairs.items():
            first = np.arange(max(0, before - lag), len(window.runs) - lag)  # the pairs that end in ``new``
            if len(first):
                values, shares = changes(window, first, first + lag)
                change.extend(values)
                spread.extend(shares)
        self.tail = window.last(max(self.lags))

    def changes(self, times: np.ndarray) -> ShotChanges:
        """The changes of every sample added, at the lag that their ``times`` give (as ``cuts_between``)."""
        if len(times) != self.count:
            raise ValueError(f"{len(times)} times for {self.count} samples")
        lag = gradual_lag(sample_rate(times)) if self.count >= 3 else min(self.lags or (2,))
        if self.lags is None:
            whole = ShotChangeStream((lag,))
            whole.add_signals(ShotSignals.joined(self.kept))
            return whole.changes(times)
        if lag not in self.lags:
            # the signals are gone: refuse rather than judge at a lag the times do not give
            raise ValueError(f"the sample times give a lag of {lag} samples, not one of {self.lags}")
        (step, step_spread), (lagged, lagged_spread) = self.pairs[1], self.pairs[lag]
        return ShotChanges(step.values(), step_spread.values(), lagged.values(), lagged_spread.values(), lag)


class _Column:
    """A 1-d array grown at its end in doubling steps: chunks of a sample or two (short border runs)
    would otherwise each cost an array's own hundred bytes."""

    def __init__(self) -> None:
        self.data: np.ndarray | None = None
        self.size = 0

    def extend(self, values: np.ndarray) -> None:
        """Append ``values`` (the first ones fix the dtype)."""
        if self.data is None:
            self.data = np.empty(max(64, len(values)), dtype=values.dtype)
        need = self.size + len(values)
        if need > len(self.data):
            grown = np.empty(max(need, 2 * len(self.data)), dtype=self.data.dtype)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size : need] = values
        self.size = need

    def values(self) -> np.ndarray:
        """A copy of the values appended."""
        return np.zeros(0) if self.data is None else self.data[: self.size].copy()


def changes(signals: ShotSignals, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How much the picture changes from samples ``a`` to samples ``b`` (index arrays), 0 (the same) to 1,
    and the share of the thumbnail's cells that changed by CHANGED_GREY or more."""
    same = signals.runs[a] == signals.runs[b]
    thumbs_a = np.where(same[:, None, None], signals.thumbs[a], signals.whole_thumbs[a]).astype(np.float32)
    thumbs_b = np.where(same[:, None, None], signals.thumbs[b], signals.whole_thumbs[b]).astype(np.float32)
    hist_a = np.where(same[:, None], signals.histograms[a], signals.whole_histograms[a])
    hist_b = np.where(same[:, None], signals.histograms[b], signals.whole_histograms[b])
    tone = 0.5 * np.abs(hist_a - hist_b).sum(axis=1)
    difference = np.abs(thumbs_a - thumbs_b)
    layout = np.minimum(1.0, difference.mean(axis=(1, 2)) / FULL_CHANGE_GREY)
    return (tone + layout) / 2, (difference >= CHANGED_GREY).mean(axis=(1, 2))


def against_surroundings(values: np.ndarray, gap: int, width: int) -> np.ndarray:
    """Each value over the median of the values ``gap`` to ``gap + width - 1`` places before and after it
    (plus RATIO_FLOOR); 0 where there are none.

    Near either end of the clip, a place beyond it is stood in for by the place as far on the other
    side (its mirror about the value), so the surroundings keep their size: a one-sided median there
    made the change of a light flickering each second a cut one second before the end."""
    n = len(values)
    if n == 0:
        return np.zeros(0)
    at = np.arange(n)[:, None]
    reach = np.arange(gap, gap + width)[None, :]
    places = np.concatenate([at - reach, at + reach], axis=1)
    mirrored = 2 * at - places
    places = np.where((places < 0) | (places >= n), mirrored, places)
    inside = (places >= 0) & (places < n)
    around = np.where(inside, values[np.clip(places, 0, n - 1)], np.nan)
    known = inside.any(axis=1)
    ratio = np.zeros(n)
    if known.any():
        ratio[known] = values[known] / (np.nanmedian(around[known], axis=1) + RATIO_FLOOR)
    return ratio


def cuts_between(pdq: np.ndarray, changes: ShotChanges, times: np.ndarray) -> list[int]:
    """Sample numbers that start a new shot (never 0), from the (N, 32) packed PDQ hashes, the
    ``ShotChanges`` and the times of N samples; see the module notes."""
    n = len(pdq)
    if n < 3:
        return []
    rate = sample_rate(times)
    width = max(2, round(NEIGHBOUR_SECONDS * rate))
    lag = gradual_lag(rate)
    if changes.lag != lag or len(changes.step) != n - 1:
        raise ValueError(f"changes of {len(changes.step) + 1} samples at a lag of {changes.lag}, "
                         f"not of {n} at {lag}")

    def bits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.unpackbits(np.bitwise_xor(pdq[a], pdq[b]), axis=1).sum(axis=1)

    first, second = np.arange(n - 1), np.arange(1, n)
    step, spread_over = changes.step, changes.step_spread  # step[i]: from sample i to i + 1
    ratio = against_surroundings(step, 1, width)
    strength: dict[int, float] = {}
    for i in np.flatnonzero((ratio >= CUT_RATIO) & (step >= MIN_CUT_CHANGE) & (spread_over >= MOST_OF_THE_PICTURE)
                            & (bits(first, second) >= MIN_CUT_BITS)):
        strength[int(i) + 1] = float(ratio[i])
    hard = sorted(strength)
    if n > lag:
        first, second = np.arange(n - lag), np.arange(lag, n)
        spread, spread_over = changes.lagged, changes.lagged_spread  # spread[j]: from sample j to j + lag
        ratio = against_surroundings(spread, lag, max(width, lag))
        for j in np.flatnonzero((ratio >= CUT_RATIO) & (spread >= MIN_GRADUAL_CHANGE)
                                & (spread_over >= MOST_OF_THE_PICTURE) & (bits(first, second) >= MIN_CUT_BITS)):
            inside = [k for k in hard if j < k <= j + lag]
            at = max(inside, key=lambda k: step[k - 1]) if inside else int(j) + (lag + 1) // 2
            strength[at] = max(strength.get(at, 0.0), float(ratio[j]))
    shortest = max(1, round(MIN_SHOT_SECONDS * rate))
    chosen: list[int] = []
    for at in sorted(strength, key=lambda k: (-strength[k], k)):
        if shortest <= at <= n - shortest and all(abs(at - other) >= shortest for other in chosen):
            chosen.append(at)
    return sorted(chosen)


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
