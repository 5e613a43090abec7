"""A query's local features, extracted when they are first asked for, and ahead of time while it decodes.

A query keeps its feature frames (at most a few dozen, at the feature size) rather than only their
features. Most queries need few of them: a copy the frame hashes explain is described from a handful
of frames, and the mirrored features are looked at only for a mirrored copy or when the upright ones
found nothing. So the decoder's thread only keeps each frame (it never holds ffmpeg up), a thread of
its own extracts the upright features in order while the decode goes on (:meth:`FeaturesOnDemand.
start_ahead`), and once the decode is over that thread stops: what is asked for later is extracted
then, on the caller's thread. Each frame's features are what ``extract`` gives for it, whichever
thread made them, so the answers are the same as when every frame was extracted while decoding.

The times are known only when the decode is over (the side output's own, or the keyframes'):
:meth:`FeaturesOnDemand.seal` gives them, and the features are handed out only after it.
:func:`times_of` gives the times of any sequence of features, without extracting these.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from typing import overload

import numpy as np

from provenance.vision.features import FrameFeatures, extract


class FeaturesOnDemand(Sequence[FrameFeatures]):
    """Feature frames (upright, or as they look mirrored left to right) and their features, made when asked."""

    def __init__(self, *, mirror: bool) -> None:
        self.mirror = mirror
        self._frames: list[np.ndarray] = []
        self._raw: dict[int, FrameFeatures] = {}  # extracted, not yet timed
        self._timed: dict[int, FrameFeatures] = {}
        self._times: tuple[float, ...] | None = None
        self._lock = threading.Lock()  # one extraction at a time: a frame is never extracted twice
        self._arrived = threading.Condition()
        self._stopping = False
        self._ahead: threading.Thread | None = None

    # ---------------------------------------------------------------- while decoding

    def add(self, frame: np.ndarray) -> None:
        """Keep one more (h, w, 3) RGB feature frame, in time order (the decoder's thread)."""
        with self._arrived:
            self._frames.append(frame)
            self._arrived.notify()

    def start_ahead(self, timer: Callable[[], AbstractContextManager[object]] | None = None) -> None:
        """Extract the frames in order on a thread of their own as they are added, until :meth:`stop_ahead`.

        ``timer()`` is entered around each extraction (the clock's background timer of the features)."""
        self._ahead = threading.Thread(target=self._extract_ahead, args=(timer or nullcontext,), daemon=True,
                                       name="features-ahead")
        self._ahead.start()

    def stop_ahead(self) -> None:
        """Stop extracting ahead: wait only for the frame being extracted, if any."""
        with self._arrived:
            self._stopping = True
            self._arrived.notify()
        if self._ahead is not None:
            self._ahead.join()
            self._ahead = None

    def _extract_ahead(self, timer: Callable[[], AbstractContextManager[object]]) -> None:
        done = 0
        while True:
            with self._arrived:
                while done >= len(self._frames) and not self._stopping:
                    self._arrived.wait()
                if self._stopping:
                    return
            with timer():
                self._raw_features(done)
            done += 1

    def seal(self, times: Sequence[float]) -> None:
        """The decode is over: stop extracting ahead, and give the frames' times (seconds, one per frame)."""
        self.stop_ahead()
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

    @property
    def extracted(self) -> int:
        """How many frames' features have been extracted so far (ahead or asked for)."""
        return len(self._raw)

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
        if index not in self._timed:
            self._timed[index] = replace(self._raw_features(index), time=times[index])
        return self._timed[index]

    def __iter__(self) -> Iterator[FrameFeatures]:
        return (self[i] for i in range(len(self)))

    def _raw_features(self, index: int) -> FrameFeatures:
        with self._lock:
            if index not in self._raw:
                self._raw[index] = extract(self._frames[index][None], np.zeros(1), mirror=self.mirror)[0]
            return self._raw[index]


def times_of(features: Sequence[FrameFeatures]) -> list[float]:
    """The times of ``features``, in their order; features made on demand are not extracted for it."""
    if isinstance(features, FeaturesOnDemand):
        return list(features.times)
    return [f.time for f in features]
