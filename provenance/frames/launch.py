"""The ffmpeg process of one decode: its command line, made from a :class:`DecodeRequest`, and its start.

A request says everything the command line depends on (sampling, sizes, the side output's, the
soundtrack's outputs) and nothing of what is done with the frames, so two requests that are equal
start the same command. This module does not import numpy: a decode can be started
(:class:`EarlyDecode`) before the caller has imported what it reads the frames with, and taken over
when it has, if it asks for the same request; ffmpeg meanwhile writes into its pipes until they are
full, then waits.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from provenance.errors import MissingToolError
from provenance.media.source import FfmpegInput
from provenance.tools import INSTALL_HINT, muxer_refused, require_ffmpeg

SOUNDTRACK_MUXER = "chromaprint"  # ffmpeg's muxer of the soundtrack fingerprint (``soundtrack_algorithm``)
EARLY_PIPE_BYTES = 1 << 20  # what each pipe of an early decode holds before ffmpeg waits: Linux's default maximum


@dataclass(frozen=True)
class SideSize:
    """The rate and size of a decode's second RGB output (local features and colour)."""

    fps: float
    width: int
    height: int


@dataclass(frozen=True)
class DecodeRequest:
    """The settings of one decode that its ffmpeg command line depends on; ``fps`` is None for every frame
    (stills) and in keyframes mode."""

    fps: float | None
    width: int
    height: int
    color: bool = False
    select: tuple[int, ...] | None = None
    max_frames: int | None = None
    side: SideSize | None = None
    keyframes_only: bool = False
    soundtrack_algorithm: int | None = None  # the chromaprint muxer's output of the first audio stream
    sound_rate: int | None = None  # 16-bit mono samples of the first audio stream at this rate

    @property
    def frame_bytes(self) -> int:
        """Size of one raw frame of the main output."""
        return self.width * self.height * (3 if self.color else 1)

    def shape(self, count: int) -> tuple[int, ...]:
        """The array shape of ``count`` frames of the main output."""
        return (count, self.height, self.width, 3) if self.color else (count, self.height, self.width)


@dataclass(frozen=True)
class Launched:
    """A running decode: the process (main output on stdout, messages on stderr) and the read ends of the side
    output's, the soundtrack fingerprint's and the sound samples' pipes (-1 without one)."""

    process: subprocess.Popen[bytes]
    side_read: int
    audio_read: int
    sound_read: int

    def stop(self) -> None:
        """Kill the process, wait for it and close every pipe of ours: for a decode nobody will read."""
        self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()
        for fd in (self.side_read, self.audio_read, self.sound_read):
            if fd >= 0:
                os.close(fd)


def launch(request: DecodeRequest, given: FfmpegInput) -> Launched:
    """Start ffmpeg on ``given`` (the input is only read, through the descriptors it names) for ``request``."""
    import ffmpeg  # ffmpeg-python builds the command line; never a shell string

    require_ffmpeg()
    in_kwargs: dict[str, object] = {"skip_frame": "nokey"} if request.keyframes_only else {}
    source = ffmpeg.input(given.url, nostdin=None, **in_kwargs)
    stream = _sampled(source["v:0"], request)
    side_read, side_write = os.pipe() if request.side is not None else (-1, -1)
    audio_read, audio_write = os.pipe() if request.soundtrack_algorithm is not None else (-1, -1)
    sound_read, sound_write = os.pipe() if request.sound_rate is not None else (-1, -1)
    stream, side_stream = _split_side(stream, request)
    stream = stream.filter("scale", request.width, request.height, flags="area")
    out_kwargs = _raw_video("rgb24" if request.color else "gray")
    if request.max_frames is not None:
        out_kwargs["frames:v"] = request.max_frames
    output = stream.output("pipe:1", **out_kwargs)
    if side_stream is not None:
        output = ffmpeg.merge_outputs(output, side_stream.output(f"pipe:{side_write}", **_raw_video("rgb24")))
    if request.soundtrack_algorithm is not None:
        # Chromaprint takes at most 2 channels: a 5.1 soundtrack is mixed down to stereo, mono and stereo kept
        audio = source["a:0"].filter("aformat", channel_layouts="mono|stereo")
        output = ffmpeg.merge_outputs(output, audio.output(
            f"pipe:{audio_write}", format=SOUNDTRACK_MUXER, fp_format="raw", algorithm=request.soundtrack_algorithm,
            silence_threshold=-1))
    if request.sound_rate is not None:  # ffmpeg's own resampler: the same samples for the same file, bit for bit
        output = ffmpeg.merge_outputs(output, source["a:0"].output(
            f"pipe:{sound_write}", format="s16le", acodec="pcm_s16le", ac=1, ar=request.sound_rate))
    extra_fds = tuple(fd for fd in (side_write, audio_write, sound_write) if fd >= 0)
    # showinfo logs at "info"; the level tag on each line keeps ffmpeg's errors apart from it
    log_args = ("-nostats", "-loglevel", "level+info") if request.keyframes_only else ("-loglevel", "error")
    args = output.global_args("-hide_banner", *log_args).compile()
    try:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                pass_fds=(*given.pass_fds, *extra_fds))
    except OSError as exc:  # pragma: no cover - require_ffmpeg checked already
        for fd in (side_read, side_write, audio_read, audio_write, sound_read, sound_write):
            if fd >= 0:
                os.close(fd)
        raise MissingToolError(f"cannot run ffmpeg ({exc}): {INSTALL_HINT}") from exc
    for fd in extra_fds:
        os.close(fd)  # the child holds its own copy; EOF comes when ffmpeg closes it
    return Launched(proc, side_read, audio_read, sound_read)


def soundtrack_muxer_may_work() -> bool:
    """Whether a decode may ask for SOUNDTRACK_MUXER: this process has not seen ffmpeg refuse it."""
    return not muxer_refused(SOUNDTRACK_MUXER)


def refused_muxer(request: DecodeRequest, errors: tuple[str, ...]) -> str | None:
    """The muxer of ``request`` that ffmpeg refused, by its ``errors`` (it lacks it: it names the format it
    cannot write, and stops before decoding anything), or None."""
    if request.soundtrack_algorithm is None:
        return None
    refused = f"output format '{SOUNDTRACK_MUXER}'"
    return SOUNDTRACK_MUXER if any(refused in line for line in errors) else None


def _sampled(stream: Any, request: DecodeRequest) -> Any:
    """``stream`` (an ffmpeg-python node) sampled as ``request`` asks: keyframe pts logging, fps, select."""
    if request.keyframes_only:
        stream = stream.filter("showinfo")  # each decoded frame's pts, before anything drops one
    if request.fps is not None:
        stream = stream.filter("fps", fps=request.fps, round="up")  # "up": sample k is the frame on screen at k / fps
    if request.select:
        expr = "+".join(f"eq(n,{n})" for n in request.select)
        stream = stream.filter("select", expr)
    return stream


def _raw_video(pix_fmt: str) -> dict[str, object]:
    """Output options for raw frames of ``pix_fmt`` on a pipe, one per decoded frame."""
    return {"format": "rawvideo", "pix_fmt": pix_fmt, "fps_mode": "passthrough"}


def _split_side(stream: Any, request: DecodeRequest) -> tuple[Any, Any]:
    """``stream`` and, when ``request`` has a side output, a copy of it sampled and scaled for that (else None)."""
    if request.side is None:
        return stream, None
    split = stream.split()
    main, side_stream = split[0], split[1]
    if request.fps is not None:
        side_stream = side_stream.filter("fps", fps=request.side.fps, round="up")
    return main, side_stream.filter("scale", request.side.width, request.side.height, flags="area")


class EarlyDecode:
    """A decode started on a thread of its own as soon as its request is known, for the caller to take over.

    ``plan`` (run on the thread, so it may wait for ffprobe) gives the request, or None for no early decode.
    :meth:`take` hands the running process to a caller whose request is the same, once; any other request, or
    leaving the context, stops it, so no ffmpeg is left writing to pipes nobody reads. Failing to plan or to
    start is not an error here: the caller then starts its own decode, and meets the error itself.
    """

    def __init__(self, plan: Callable[[], DecodeRequest | None], given: FfmpegInput) -> None:
        self._request: DecodeRequest | None = None
        self._launched: Launched | None = None
        self.taken = False  # whether a caller took the decode over
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._start, args=(plan, given), name="early-decode", daemon=True)
        self._thread.start()

    def _start(self, plan: Callable[[], DecodeRequest | None], given: FfmpegInput) -> None:
        try:
            request = plan()
            if request is None:
                return
            launched = launch(request, given)
        except Exception:  # the caller's own decode meets it again and reports it
            return
        process = launched.process
        for fd in (process.stdout.fileno() if process.stdout else -1, process.stderr.fileno() if process.stderr else -1,
                   launched.side_read, launched.audio_read, launched.sound_read):
            _enlarge_pipe(fd)
        self._request, self._launched = request, launched

    def take(self, request: DecodeRequest) -> Launched | None:
        """The running decode if it was started for ``request`` and nobody took it yet; else None (and it is
        stopped). Waits for the start."""
        self._thread.join()
        with self._lock:
            launched, self._launched = self._launched, None
        if launched is not None and self._request == request:
            self.taken = True
            return launched
        if launched is not None:
            launched.stop()
        return None

    @property
    def request(self) -> DecodeRequest | None:
        """What the decode was started for (None: none was started); waits for the start."""
        self._thread.join()
        return self._request

    @property
    def started(self) -> bool:
        """Whether a decode was started (taken or not); waits for the start."""
        self._thread.join()
        return self._request is not None

    def __enter__(self) -> EarlyDecode:
        return self

    def __exit__(self, *exc: object) -> None:
        """Leaving (even on an error), stop the decode if nobody took it."""
        self._thread.join()
        with self._lock:
            launched, self._launched = self._launched, None
        if launched is not None:
            launched.stop()


def _enlarge_pipe(fd: int) -> None:
    """Let the pipe ``fd`` hold up to EARLY_PIPE_BYTES, where this system allows it, so that ffmpeg goes on
    decoding longer before anyone reads."""
    if fd < 0:
        return
    # an older kernel, or a lower pipe-max-size: the pipe keeps its default size
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, EARLY_PIPE_BYTES)
