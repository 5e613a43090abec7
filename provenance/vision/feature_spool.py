"""Local features kept on disk while a long item is decoded, so memory does not grow with its length.

An archived item keeps the ORB features of two frames a second: about 25 KB a frame, 180 MB for an
hour. ``archive add`` only writes them to the archive once the item is decoded, in one transaction,
so a ``FeatureSpool`` holds them meanwhile in an unlinked temporary file (gone with the process,
whatever happens) and gives them back one at a time. In memory stays only where each frame's
arrays sit in the file. The values read back are the bytes written: nothing is rounded or packed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import overload

import numpy as np

from provenance.vision.features import GRID, GRID_CHANNELS, FrameFeatures

_GRID_BYTES = GRID * GRID * GRID_CHANNELS * 4


@dataclass(frozen=True)
class _Place:
    """Where one frame's arrays sit in the spool file, and its small fields."""

    offset: int
    points: int  # how many keypoints
    has_grid: bool
    time: float
    aspect: float


class FeatureSpool(Sequence[FrameFeatures]):
    """A sequence of FrameFeatures appended in order, stored in an unlinked temporary file.

    ``append`` writes one frame; indexing and iteration read it back. A spool pickles as the tuple
    of its features (another process cannot share the file), so triage workers may return one.
    """

    def __init__(self, directory: str | None = None) -> None:
        # the spool lives as long as its reader, not a with block: it is closed with it
        self._file = tempfile.TemporaryFile(prefix="provenance-features-", dir=directory)  # noqa: SIM115
        self._places: list[_Place] = []
        self._end = 0

    def append(self, features: FrameFeatures) -> None:
        """Write one frame's features after the others."""
        points = np.ascontiguousarray(features.points, dtype=np.float32)
        descriptors = np.ascontiguousarray(features.descriptors, dtype=np.uint8)
        if points.shape != (len(points), 2) or descriptors.shape != (len(points), 32):
            raise ValueError(f"features of {len(points)} points with descriptors of shape {descriptors.shape}")
        parts = [points.tobytes(), descriptors.tobytes()]
        if features.grid is not None:
            parts.append(np.ascontiguousarray(features.grid, dtype=np.float32).tobytes())
        data = b"".join(parts)
        os.pwrite(self._file.fileno(), data, self._end)
        self._places.append(_Place(self._end, len(points), features.grid is not None, float(features.time),
                                   float(features.aspect)))
        self._end += len(data)

    def retimed(self, times: Sequence[float]) -> None:
        """Give the frames these times (one per frame, in order): the decoder knows them only at the end."""
        if len(times) != len(self._places):
            raise ValueError(f"{len(times)} times for {len(self._places)} frames")
        self._places = [replace(p, time=float(t)) for p, t in zip(self._places, times, strict=True)]

    def close(self) -> None:
        """Let the temporary file go (also done when the spool is garbage-collected)."""
        self._file.close()

    def __len__(self) -> int:
        return len(self._places)

    @overload
    def __getitem__(self, index: int) -> FrameFeatures: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[FrameFeatures, ...]: ...

    def __getitem__(self, index: int | slice) -> FrameFeatures | tuple[FrameFeatures, ...]:
        if isinstance(index, slice):
            return tuple(self._read(self._places[i]) for i in range(*index.indices(len(self._places))))
        return self._read(self._places[index])

    def __iter__(self) -> Iterator[FrameFeatures]:
        for place in self._places:
            yield self._read(place)

    def __reduce__(self) -> tuple[type[tuple[FrameFeatures, ...]], tuple[tuple[FrameFeatures, ...]]]:
        return tuple, (tuple(self),)

    def _read(self, place: _Place) -> FrameFeatures:
        size = place.points * (8 + 32) + (_GRID_BYTES if place.has_grid else 0)
        data = bytearray(os.pread(self._file.fileno(), size, place.offset))  # writable arrays, as extract gives
        if len(data) != size:
            raise OSError(f"the temporary file of local features ended {size - len(data)} bytes early")
        points = np.frombuffer(data, np.float32, place.points * 2, 0).reshape(place.points, 2)
        descriptors = np.frombuffer(data, np.uint8, place.points * 32, place.points * 8).reshape(place.points, 32)
        grid = (np.frombuffer(data, np.float32, GRID * GRID * GRID_CHANNELS, place.points * 40)
                .reshape(GRID, GRID, GRID_CHANNELS) if place.has_grid else None)
        return FrameFeatures(place.time, points, descriptors, place.aspect, grid)
