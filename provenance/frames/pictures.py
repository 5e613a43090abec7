"""Small pictures of an archived item, to show beside a match: JPEGs of shot keyframes and of every few seconds.

``archive add`` keeps, in the same decode as the hashes, a JPEG (at most ``PICTURE_SIDE`` pixels on
the long side, the aspect kept, colour, quality ``PICTURE_QUALITY``) of each shot's keyframe (kind
"shot") and one every ``PICTURE_SPACING`` seconds (kind "every"); a still gets its one picture. The
pictures are made from the side output's frames (the local features' frames, ``FEATURE_FPS`` a
second), so a picture is the frame nearest the moment it is kept for, and its time is that frame's.
Which frames are shot keyframes is known only once the whole item is decoded, so every side frame is
encoded as it arrives and spooled (``PictureSpool``) to an unlinked temporary file (about 10 KB a
frame, two a second: about 70 MB of disk for an hour), and the ones kept are chosen at the end
(``picture_moments``). Memory does not grow with the item's length; only each frame's place in the
file is held. A frame that is both a shot keyframe and one of every few seconds is kept once, as "shot".

The same file gives the same bytes on one machine: ffmpeg's area scaling, OpenCV's area resize and
libjpeg at a fixed quality are deterministic.
"""

from __future__ import annotations

import os
import tempfile
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

from provenance.model import ArchivedPicture

PICTURE_SIDE = 320
"""Long side of a kept picture, in pixels (a smaller picture is kept at its own size, never enlarged)."""
PICTURE_SPACING = 2.0
"""Seconds between the pictures kept through an item (kind "every"), from its first frame."""
PICTURE_QUALITY = 75
"""JPEG quality of a kept picture (libjpeg's scale, 1-100)."""
SHOT, EVERY = "shot", "every"


def picture_size(width: int, height: int) -> tuple[int, int]:
    """The size of the picture kept of a ``width`` x ``height`` frame: long side at most PICTURE_SIDE, aspect kept."""
    scale = min(1.0, PICTURE_SIDE / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def encode_picture(rgb: np.ndarray) -> bytes:
    """The JPEG of an (H, W, 3) RGB frame, area-shrunk to ``picture_size`` (encoded in memory)."""
    import cv2

    height, width = rgb.shape[:2]
    size = picture_size(width, height)
    small = rgb if size == (width, height) else cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(small[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, PICTURE_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise ValueError(f"could not encode a {width} x {height} frame as JPEG")
    return bytes(buf.tobytes())


@dataclass(frozen=True)
class PictureMoment:
    """One side frame chosen to be kept: its number in decode order, its time and why it is kept."""

    frame: int
    time: float
    kind: str


def picture_moments(frame_times: Sequence[float] | np.ndarray, keyframe_times: Sequence[float],
                    still: bool = False) -> tuple[PictureMoment, ...]:
    """The side frames to keep, in time order: the nearest to each shot keyframe (kind "shot") and to
    every PICTURE_SPACING seconds up to the last frame (kind "every"); a still's first frame only.

    ``frame_times`` are the side frames' times (ascending), ``keyframe_times`` those of the shots' keyframes.
    """
    times = np.asarray(frame_times, dtype=np.float64)
    if not len(times):
        return ()
    if still:
        return (PictureMoment(0, 0.0, SHOT),)
    chosen: dict[int, str] = {}
    for t in keyframe_times:
        chosen[_nearest(times, float(t))] = SHOT
    steps = int(np.floor((times[-1] - times[0]) / PICTURE_SPACING + 1e-9))
    for k in range(steps + 1):
        chosen.setdefault(_nearest(times, float(times[0]) + k * PICTURE_SPACING), EVERY)
    return tuple(PictureMoment(i, float(times[i]), chosen[i]) for i in sorted(chosen))


def _nearest(times: np.ndarray, t: float) -> int:
    """The index of the time nearest ``t`` (the earlier on a tie)."""
    after = int(np.searchsorted(times, t))
    if after == 0:
        return 0
    if after == len(times):
        return len(times) - 1
    return after - 1 if t - times[after - 1] <= times[after] - t else after


class PictureSpool(Sequence[ArchivedPicture]):
    """The JPEGs of an item's side frames, written to an unlinked temporary file as they are made; once
    ``keep`` has chosen some, the sequence of those pictures, read back one at a time.

    ``append`` encodes one frame (called from the decoder's reader thread, in frame order). A spool
    pickles as the tuple of its kept pictures (another process cannot share the file), so triage
    workers may return one.
    """

    def __init__(self, directory: str | None = None) -> None:
        # the spool lives as long as its reader, not a with block: it is closed with it
        self._file = tempfile.TemporaryFile(prefix="provenance-pictures-", dir=directory)  # noqa: SIM115
        self._offsets = array("q")
        self._lengths = array("q")
        self._sizes = array("l")  # width, height of each frame's picture, in pairs
        self._end = 0
        self._kept: tuple[PictureMoment, ...] = ()

    @property
    def frames(self) -> int:
        """How many frames were encoded."""
        return len(self._offsets)

    def append(self, rgb: np.ndarray) -> None:
        """Encode the next side frame, an (H, W, 3) RGB array, and write its JPEG after the others."""
        data = encode_picture(rgb)
        view = memoryview(data)
        offset = self._end
        while view:
            written = os.pwrite(self._file.fileno(), view, offset)
            view, offset = view[written:], offset + written
        self._offsets.append(self._end)
        self._lengths.append(len(data))
        self._sizes.extend(picture_size(rgb.shape[1], rgb.shape[0]))
        self._end += len(data)

    def keep(self, moments: Sequence[PictureMoment]) -> None:
        """Choose the frames the sequence holds (``picture_moments``), with their times and kinds."""
        for moment in moments:
            if not 0 <= moment.frame < self.frames:
                raise ValueError(f"frame {moment.frame} was not spooled ({self.frames} were)")
        self._kept = tuple(moments)

    def close(self) -> None:
        """Let the temporary file go (also done when the spool is garbage-collected)."""
        self._file.close()

    def __len__(self) -> int:
        return len(self._kept)

    @overload
    def __getitem__(self, index: int) -> ArchivedPicture: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[ArchivedPicture, ...]: ...

    def __getitem__(self, index: int | slice) -> ArchivedPicture | tuple[ArchivedPicture, ...]:
        if isinstance(index, slice):
            return tuple(self._read(m) for m in self._kept[index])
        return self._read(self._kept[index])

    def __iter__(self) -> Iterator[ArchivedPicture]:
        for moment in self._kept:
            yield self._read(moment)

    def __reduce__(self) -> tuple[type[tuple[ArchivedPicture, ...]], tuple[tuple[ArchivedPicture, ...]]]:
        return tuple, (tuple(self),)

    def _read(self, moment: PictureMoment) -> ArchivedPicture:
        i = moment.frame
        size, offset = self._lengths[i], self._offsets[i]
        data = os.pread(self._file.fileno(), size, offset)
        if len(data) != size:
            raise OSError(f"the temporary file of pictures ended {size - len(data)} bytes early")
        return ArchivedPicture(time=moment.time, kind=moment.kind, width=self._sizes[2 * i],
                               height=self._sizes[2 * i + 1], jpeg=data)
