"""Decode sampled frames with ffmpeg and pipe them raw into numpy.

ffmpeg does the decoding, the sampling (its ``fps`` filter) and the scaling in C; Python only
receives small raw frames. Sample ``k`` is the frame on screen at ``k / fps`` seconds after the
first frame, so sample times are exact multiples of ``1 / fps``. ffmpeg applies the display
matrix (rotation) itself, so a rotated remux decodes to the same upright picture. ffmpeg reads the
open file of a ``MediaSource`` (``provenance.media.source.ffmpeg_input``), never the file's name, so
it decodes the bytes that were hashed even if another file has been renamed over the path since.
The command line is ``frames.launch``'s, from the call's ``DecodeRequest``; a decode started early for
the same request (``launch.EarlyDecode``) is read here as if this call had started it.

``keyframes_only`` is the fast mode: the decoder skips every frame that is not a keyframe
(``-skip_frame nokey``), which is most of the decoding work, and there is no ``fps`` filter. The
samples are then the keyframes themselves, at irregular times; ffmpeg's ``showinfo`` filter reports
each one's presentation timestamp and time base on stderr, and the times are those exact rationals,
counted from the first keyframe (the first frame of every decodable stream).

``soundtrack_algorithm`` adds a second output of the same process: the first audio stream through
ffmpeg's ``chromaprint`` muxer (``-fp_format raw``), written to a pipe of ours, so the soundtrack's
fingerprint comes from the same read of the file as the frames. The caller names the algorithm
(``provenance.audio.chromaprint`` fixes it); ``silence_threshold`` is -1 (no silence removal: removing
leading silence would shift every value off its time). ``sound`` adds another: the first audio stream
as 16-bit mono samples at the rate asked for, handed to its ``consume`` in blocks as they come (the
band print of ``provenance.audio.bands`` is made of them, and none of the soundtrack is kept here).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import IO

import numpy as np

from provenance.errors import MuxerRefusedError, UnreadableMediaError
from provenance.frames.launch import DecodeRequest, EarlyDecode, SideSize, launch, refused_muxer
from provenance.media.source import FfmpegInput, MediaSource, ffmpeg_input, reads_source

_SHOWINFO_TB = re.compile(rb"\[Parsed_showinfo_\d+ @ [^]]*\] \[info\] config in time_base: (\d+)/(\d+)")
_SHOWINFO_PTS = re.compile(rb"\[Parsed_showinfo_\d+ @ [^]]*\] \[info\] n: *\d+ pts: *(-?\d+) ")
_LOG_LEVEL = re.compile(rb" ?\[(panic|fatal|error|warning|info|verbose|debug|trace)\] ")
_ERROR_LEVELS = (b"panic", b"fatal", b"error")
_MAX_ERROR_LINES = 200


@dataclass(frozen=True)
class DecodedFrames:
    """Sampled frames of one file: ``pixels`` is (N, H, W) grey or (N, H, W, 3) RGB uint8 (no frame when a
    ``consume`` callback took them)."""

    pixels: np.ndarray
    times: np.ndarray  # (N,) float64 seconds
    errors: tuple[str, ...]  # what ffmpeg said on stderr (decode errors), first lines only
    exit_code: int
    side_pixels: np.ndarray | None = None  # (M, h, w, 3) RGB frames of the side output, if asked for
    side_times: np.ndarray | None = None
    # the chromaprint muxer's raw output (native-endian uint32 values), if ``soundtrack_algorithm`` was given
    soundtrack: bytes | None = None


@dataclass(frozen=True)
class SoundSamples:
    """An output of the first audio stream as little-endian 16-bit mono samples at ``rate`` Hz, from the
    same decode, handed to ``consume`` in blocks (of any size, in order) as they arrive."""

    rate: int
    consume: Callable[[bytes], None]


@dataclass(frozen=True)
class SideOutput:
    """A second, sparser and larger RGB output from the same decode (local features and colour)."""

    fps: float
    width: int
    height: int
    # called with (index, frame) as each frame arrives, instead of keeping them all in memory
    consume: Callable[[int, np.ndarray], None] | None = None


@dataclass(frozen=True)
class _Plan:
    """One :func:`decode_frames` call: its request (``fps`` already None in keyframes mode) and what is done
    with the outputs."""

    path: str  # the file's absolute path, for messages; ffmpeg reads ``given``
    request: DecodeRequest
    given: FfmpegInput
    side: SideOutput | None
    sound: SoundSamples | None = None

    @property
    def fps(self) -> float | None:
        """The main output's samples a second (None: every frame, or the keyframes)."""
        return self.request.fps

    @property
    def select(self) -> tuple[int, ...] | None:
        """The sample numbers kept, if only some are."""
        return self.request.select

    @property
    def keyframes_only(self) -> bool:
        """Whether only the keyframes are decoded."""
        return self.request.keyframes_only

    @property
    def frame_bytes(self) -> int:
        """Size of one raw frame of the main output."""
        return self.request.frame_bytes

    def shape(self, count: int) -> tuple[int, ...]:
        """The array shape of ``count`` frames of the main output."""
        return self.request.shape(count)


@reads_source
def decode_frames(
    source: MediaSource,
    *,
    fps: float | None,
    width: int,
    height: int,
    color: bool = False,
    select: tuple[int, ...] | None = None,
    max_frames: int | None = None,
    progress: Callable[[float], None] | None = None,
    side: SideOutput | None = None,
    keyframes_only: bool = False,
    consume: Callable[[np.ndarray], None] | None = None,
    soundtrack_algorithm: int | None = None,
    sound: SoundSamples | None = None,
    early: EarlyDecode | None = None,
) -> DecodedFrames:
    """Decode ``source`` (an open MediaSource, or a path) into ``width`` x ``height`` frames (squashed, area-averaged).

    ``fps`` None keeps every frame (stills). ``select`` keeps only those sample numbers (after the
    fps filter), which is how keyframes are fetched again at full size. ``progress`` is called with
    the seconds decoded so far. ``side`` adds a second output from the same decode, read from its
    own pipe. ``keyframes_only`` decodes only the keyframes and ignores ``fps`` (see the module
    notes; ``select`` then counts keyframes). The input is only read, through the source's descriptor.
    ``consume`` is handed the frames as they arrive, in (k, H, W) blocks in order, instead of keeping
    them: ``pixels`` is then empty, and ``times`` still has one entry per frame.
    ``soundtrack_algorithm`` also fingerprints the first audio stream with that Chromaprint algorithm (the
    caller knows there is one): ``DecodedFrames.soundtrack`` is then the muxer's raw bytes, and
    ``MuxerRefusedError`` says that this ffmpeg has no such muxer (nothing was decoded). ``sound`` hands
    the first audio stream's samples to its ``consume`` (the caller knows there is one); they are all
    handed over when this returns.
    ``early``: a decode already started on the same source (:class:`~provenance.frames.launch.EarlyDecode`),
    taken over when it was started for this very request, else stopped.
    """
    side_size = SideSize(side.fps, side.width, side.height) if side is not None else None
    request = DecodeRequest(None if keyframes_only else fps, width, height, color, select, max_frames, side_size,
                            keyframes_only, soundtrack_algorithm, sound.rate if sound is not None else None)
    plan = _Plan(source.path, request, ffmpeg_input(source), side, sound)
    launched = early.take(request) if early is not None else None
    launched = launched or launch(request, plan.given)
    proc, side_read, audio_read, sound_read = (launched.process, launched.side_read, launched.audio_read,
                                               launched.sound_read)
    side_reader = _SideReader(side_read, side) if side is not None else None
    audio_reader = _PipeDrain(audio_read) if audio_read >= 0 else None
    sound_reader = _PipeDrain(sound_read, sound.consume) if sound is not None else None
    assert proc.stderr is not None and proc.stdout is not None
    log = _LogReader(proc.stderr, keyframes_only, (plan.given.url, "file:" + plan.path))
    try:
        data, count = _read_main_output(proc.stdout, plan, log, progress, consume)
    except BaseException:  # a callback failed (or an interrupt): leave no ffmpeg writing to a pipe nobody reads
        proc.kill()
        proc.wait()
        raise
    proc.stdout.close()
    code = proc.wait()
    log.join()
    decoded = _decoded(plan, data, count, code, log, side_reader)
    if sound_reader is not None:
        sound_reader.finish()
    if audio_reader is None:
        return decoded
    return replace(decoded, soundtrack=audio_reader.finish())


class _SideReader:
    """Drains the side output's pipe on a thread, keeping its bytes or handing each frame to ``consume``."""

    def __init__(self, fd: int, side: SideOutput) -> None:
        self._side = side
        self._frame_size = side.width * side.height * 3
        self._data: list[bytes] = []
        self._count = 0
        self._thread = threading.Thread(target=self._drain, args=(fd,), daemon=True)
        self._thread.start()

    def _drain(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as pipe:
            if self._side.consume is None:
                self._data.append(pipe.read())
                return
            while len(block := pipe.read(self._frame_size)) == self._frame_size:
                frame = np.frombuffer(block, dtype=np.uint8).reshape(self._side.height, self._side.width, 3)
                self._side.consume(self._count, frame)
                self._count += 1

    def finish(self, fps: float | None) -> tuple[np.ndarray | None, np.ndarray]:
        """Wait for the pipe's end: the frames kept (None when consumed) and their times at the side's rate."""
        self._thread.join()
        side = self._side
        pixels: np.ndarray | None = None
        if side.consume is None:
            raw = self._data[0] if self._data else b""
            count = len(raw) // self._frame_size
            pixels = np.frombuffer(raw[: count * self._frame_size], dtype=np.uint8).reshape(
                count, side.height, side.width, 3)
        else:
            count = self._count
        times = np.arange(count, dtype=np.float64) / side.fps if fps is not None else np.zeros(count)
        return pixels, times


class _PipeDrain:
    """Reads one pipe to its end on a thread, so that ffmpeg never waits on it: keeping its bytes, or
    handing each block to ``consume``."""

    BLOCK = 1 << 16

    def __init__(self, fd: int, consume: Callable[[bytes], None] | None = None) -> None:
        self._data: list[bytes] = []
        self._consume = consume
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, args=(fd,), daemon=True)
        self._thread.start()

    def _drain(self, fd: int) -> None:
        with os.fdopen(fd, "rb") as pipe:
            if self._consume is None:
                self._data.append(pipe.read())
                return
            while block := pipe.read(self.BLOCK):
                if self._failure is None:
                    try:
                        self._consume(block)
                    except BaseException as exc:  # kept for the caller; the pipe is still drained
                        self._failure = exc

    def finish(self) -> bytes:
        """Everything the pipe held (nothing when it was consumed), once it has ended; raises what
        ``consume`` raised."""
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        return self._data[0] if self._data else b""


class _LogReader:
    """Drains ffmpeg's stderr on a thread: its error lines and, in keyframes mode, showinfo's pts and time base."""

    def __init__(self, stderr: IO[bytes], keyframes_only: bool, names: tuple[str, str]) -> None:
        self.lines: list[bytes] = []
        self._names = names  # (the input's URL, the file's name as messages show it)
        self.key_pts: list[int] = []
        self.time_base: list[Fraction] = []
        self._keyframes_only = keyframes_only
        self._thread = threading.Thread(target=self._drain, args=(stderr,), daemon=True)
        self._thread.start()

    def _drain(self, stderr: IO[bytes]) -> None:
        for line in stderr:
            kept = self._sift_info_line(line) if self._keyframes_only else line
            if kept is not None and len(self.lines) < _MAX_ERROR_LINES:
                self.lines.append(kept)

    def _sift_info_line(self, line: bytes) -> bytes | None:
        """Record showinfo's pts or time base; return the line, without its level tag, only if it is an error."""
        if found := _SHOWINFO_PTS.match(line):
            self.key_pts.append(int(found.group(1)))
            return None
        if found := _SHOWINFO_TB.match(line):
            self.time_base.append(Fraction(int(found.group(1)), int(found.group(2))))
            return None
        level = _LOG_LEVEL.search(line)
        if level is None or level.group(1) not in _ERROR_LEVELS:
            return None
        return line[: level.start()] + b" " + line[level.end() :]

    def join(self) -> None:
        """Wait for the end of stderr."""
        self._thread.join()

    def keyframe_seconds(self) -> float:
        """Time of the latest keyframe reported so far (0 before the first)."""
        return keyframe_times(self.key_pts, self.time_base)[-1] if self.key_pts and self.time_base else 0.0

    def errors(self) -> tuple[str, ...]:
        """The non-blank lines kept, as text, naming the file rather than the link ffmpeg was given."""
        url, shown = self._names
        return tuple(line.decode("utf-8", "replace").strip().replace(url, shown) for line in self.lines
                     if line.strip())


def _read_main_output(stdout: IO[bytes], plan: _Plan, log: _LogReader, progress: Callable[[float], None] | None,
                      consume: Callable[[np.ndarray], None] | None) -> tuple[bytes, int]:
    """All of the main output (none of it when ``consume`` takes the frames as they arrive) and how many
    frames it held, calling ``progress`` with the seconds decoded as it arrives."""
    frame_bytes = plan.frame_bytes
    if progress is None and consume is None:
        data = stdout.read()
        return data, len(data) // frame_bytes
    chunks: list[bytes] = []
    got = 0
    rest = b""  # the start of a frame that a block cut short
    batch = frame_bytes * max(1, int(plan.fps or 1) * 5)  # report about every 5 s of video
    while block := stdout.read(batch):
        got += len(block)
        if consume is None:
            chunks.append(block)
        else:
            block = rest + block if rest else block
            count = len(block) // frame_bytes
            if count:
                consume(np.frombuffer(block, dtype=np.uint8, count=count * frame_bytes).reshape(plan.shape(count)))
            rest = block[count * frame_bytes :]
        if progress is not None:
            progress(log.keyframe_seconds() if plan.keyframes_only else got // frame_bytes / (plan.fps or 1))
    return b"".join(chunks), got // frame_bytes


def _decoded(plan: _Plan, data: bytes, count: int, code: int, log: _LogReader,
             side_reader: _SideReader | None) -> DecodedFrames:
    """The ``count`` frames of the main output (those kept in ``data``) with their times, and the side
    output's; raises without a frame."""
    side_pixels, side_times = side_reader.finish(plan.fps) if side_reader is not None else (None, None)
    kept = len(data) // plan.frame_bytes
    pixels = np.frombuffer(data[: kept * plan.frame_bytes], dtype=np.uint8).reshape(plan.shape(kept))
    times = _sample_times(plan, count, log)
    if plan.keyframes_only and side_times is not None:
        side_times = times[: len(side_times)].copy()
    errors = log.errors()
    if count == 0 and (muxer := refused_muxer(plan.request, errors)) is not None:
        raise MuxerRefusedError(f"this ffmpeg has no {muxer} muxer: {errors[0]}", muxer)
    if count == 0:
        first = errors[0] if errors else f"ffmpeg exited with code {code}"
        raise UnreadableMediaError(f"no frame could be decoded from {plan.path}: {first}")
    return DecodedFrames(pixels=pixels, times=times, errors=errors[:20], exit_code=code,
                         side_pixels=side_pixels, side_times=side_times)


def _sample_times(plan: _Plan, count: int, log: _LogReader) -> np.ndarray:
    """Seconds of each of the ``count`` samples decoded."""
    select, fps = plan.select, plan.fps
    if plan.keyframes_only:
        every = keyframe_times(log.key_pts, log.time_base)
        times = np.array([every[n] for n in select[:count]] if select else every[:count], dtype=np.float64)
        if len(times) < count:
            raise UnreadableMediaError(f"ffmpeg reported no timestamp for some keyframes of {plan.path}")
        return times
    if select:
        return np.array([n / fps for n in select[:count]] if fps else list(range(count)), dtype=np.float64)
    if fps is not None:
        return np.arange(count, dtype=np.float64) / fps
    return np.zeros(count, dtype=np.float64)


def keyframe_times(pts: list[int], time_base: list[Fraction]) -> list[float]:
    """Seconds of each decoded keyframe after the first: (pts - first pts) x time base, exact until the float."""
    if not pts or not time_base:
        return []
    base = time_base[0]
    return [float((p - pts[0]) * base) for p in pts]
