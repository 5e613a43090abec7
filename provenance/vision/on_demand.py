"""A query's local features, extracted when they are first asked for.

A query keeps its feature frames (at most a few dozen, at the feature size) rather than only their
features. Most queries need few of them: a copy the frame hashes explain is described from a handful
of frames, and the mirrored features are looked at only for a mirrored copy or when the upright ones
found nothing. So the decoder's thread only keeps each frame (it never holds ffmpeg up, and leaves it
the cores), and a frame's features are extracted when the matcher first asks for them. They are what
``extract`` gives for that frame, so the answers are the same as when every frame was extracted while
decoding. (Extracting the upright ones ahead, on a thread of their own while the decode went on, was
tried and gained nothing: on two cores it takes from ffmpeg what it gives.)

The times are known only when the decode is over (the side output's own, or the keyframes'):
:meth:`FeaturesOnDemand.seal` gives them, and the features are handed out only after it.
:func:`times_of` gives the times of any sequence of features, without extracting these.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np

from provenance.vision.features import FrameFeatures, extract


class FeaturesOnDemand(Sequence[FrameFeatures]):
    """Feature frames (upright, or as they look mirrored left to right) and their features, made when asked."""

    def __init__(self, *, mirror: bool) -> None:
        self.mirror = mirror
        self._frames: list[np.ndarray] = []
        self._found: dict[int, FrameFeatures] = {}
        self._times: tuple[float, ...] | None = None

    # ---------------------------------------------------------------- while decoding

    def add(self, frame: np.ndarray) -> None:
        """Keep one more (h, w, 3) RGB feature frame, in time order (the decoder's thread)."""
        self._frames.append(frame)

    def seal(self, times: Sequence[float]) -> None:
        """The decode is over: the frames' times (seconds, one per frame)."""
        if len(times) != len(self._frames):
            raise ValueError("one time per feature frame")
        self._times = tuple(float(t) for t in times)

    # ---------------------------------------------------------------- once sealed

    @property
    def times(self) -> tuple[float, ...]:
        """The frames' times, in order, without extracting anything."""
        if self._times is None:
            raise RuntimeError("the feature frames are not sealed yet")
        return self._times

    def picture(self, index: int) -> np.ndarray:
        """Frame ``index`` as it was decoded, (h, w, 3) RGB (never mirrored: the mirror is for its features)."""
        return self._frames[index]

    @property
    def extracted(self) -> int:
        """How many frames' features have been extracted so far."""
        return len(self._found)

    def __len__(self) -> int:
        return len(self._frames)

    @overload
    def __getitem__(self, index: int) -> FrameFeatures: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[FrameFeatures, ...]: ...

    def __getitem__(self, index: int | slice) -> FrameFeatures | tuple[FrameFeatures, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        times = self.times
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("feature frame out of range")
        if index not in self._found:
            self._found[index] = extract(self._frames[index][None], np.array([times[index]]), mirror=self.mirror)[0]
        return self._found[index]

    def __iter__(self) -> Iterator[FrameFeatures]:
        return (self[i] for i in range(len(self)))


def times_of(features: Sequence[FrameFeatures]) -> list[float]:
    """The times of ``features``, in their order; features made on demand are not extracted for it."""
    if isinstance(features, FeaturesOnDemand):
        return list(features.times)
    return [f.time for f in features]
