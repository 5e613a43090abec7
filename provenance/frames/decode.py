"""Decode sampled frames with ffmpeg and pipe them raw into numpy.

ffmpeg does the decoding, the sampling (its ``fps`` filter) and the scaling in C; Python only
receives small raw frames. Sample ``k`` is the frame on screen at ``k / fps`` seconds after the
first frame, so sample times are exact multiples of ``1 / fps``. ffmpeg applies the display
matrix (rotation) itself, so a rotated remux decodes to the same upright picture.

``keyframes_only`` is the fast mode: the decoder skips every frame that is not a keyframe
(``-skip_frame nokey``), which is most of the decoding work, and there is no ``fps`` filter. The
samples are then the keyframes themselves, at irregular times; ffmpeg's ``showinfo`` filter reports
each one's presentation timestamp and time base on stderr, and the times are those exact rationals,
counted from the first keyframe (the first frame of every decodable stream).
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from provenance.errors import MissingToolError, UnreadableMediaError
from provenance.tools import INSTALL_HINT, ffmpeg_url, require_ffmpeg

_SHOWINFO_TB = re.compile(rb"\[Parsed_showinfo_\d+ @ [^]]*\] \[info\] config in time_base: (\d+)/(\d+)")
_SHOWINFO_PTS = re.compile(rb"\[Parsed_showinfo_\d+ @ [^]]*\] \[info\] n: *\d+ pts: *(-?\d+) ")
_LOG_LEVEL = re.compile(rb" ?\[(panic|fatal|error|warning|info|verbose|debug|trace)\] ")


@dataclass(frozen=True)
class DecodedFrames:
    """Sampled frames of one file: ``pixels`` is (N, H, W) grey or (N, H, W, 3) RGB uint8."""

    pixels: np.ndarray
    times: np.ndarray  # (N,) float64 seconds
    errors: tuple[str, ...]  # what ffmpeg said on stderr (decode errors), first lines only
    exit_code: int
    side_pixels: np.ndarray | None = None  # (M, h, w, 3) RGB frames of the side output, if asked for
    side_times: np.ndarray | None = None


@dataclass(frozen=True)
class SideOutput:
    """A second, sparser and larger RGB output from the same decode (local features and colour)."""

    fps: float
    width: int
    height: int
    # called with (index, frame) as each frame arrives, instead of keeping them all in memory
    consume: Callable[[int, np.ndarray], None] | None = None


def decode_frames(
    path: str,
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
) -> DecodedFrames:
    """Decode ``path`` into frames of ``width`` x ``height`` (squashed, area-averaged).

    ``fps`` None keeps every frame (stills). ``select`` keeps only those sample numbers (after the
    fps filter), which is how keyframes are fetched again at full size. ``progress`` is called with
    the seconds decoded so far. ``side`` adds a second output from the same decode, read from its
    own pipe. ``keyframes_only`` decodes only the keyframes and ignores ``fps`` (see the module
    notes; ``select`` then counts keyframes). The input is only read.
    """
    import ffmpeg  # ffmpeg-python builds the command line; never a shell string

    require_ffmpeg()
    in_kwargs: dict[str, object] = {"skip_frame": "nokey"} if keyframes_only else {}
    stream = ffmpeg.input(ffmpeg_url(path), nostdin=None, **in_kwargs)["v:0"]
    if keyframes_only:
        stream = stream.filter("showinfo")  # each decoded frame's pts, before anything drops one
        fps = None
    if fps is not None:
        stream = stream.filter("fps", fps=fps, round="up")  # "up": sample k is the frame on screen at k / fps
    if select:
        expr = "+".join(f"eq(n,{n})" for n in select)
        stream = stream.filter("select", expr)
    side_read, side_write = os.pipe() if side is not None else (-1, -1)
    side_stream = None
    if side is not None:
        stream, side_stream = (lambda split: (split[0], split[1]))(stream.split())
        if fps is not None:
            side_stream = side_stream.filter("fps", fps=side.fps, round="up")
        side_stream = side_stream.filter("scale", side.width, side.height, flags="area")
    stream = stream.filter("scale", width, height, flags="area")
    pix_fmt = "rgb24" if color else "gray"
    out_kwargs: dict[str, object] = {"format": "rawvideo", "pix_fmt": pix_fmt, "fps_mode": "passthrough"}
    if max_frames is not None:
        out_kwargs["frames:v"] = max_frames
    output = stream.output("pipe:1", **out_kwargs)
    if side_stream is not None:
        side_kwargs = {"format": "rawvideo", "pix_fmt": "rgb24", "fps_mode": "passthrough"}
        output = ffmpeg.merge_outputs(output, side_stream.output(f"pipe:{side_write}", **side_kwargs))
    # showinfo logs at "info"; the level tag on each line keeps ffmpeg's errors apart from it
    log_args = ("-nostats", "-loglevel", "level+info") if keyframes_only else ("-loglevel", "error")
    args = output.global_args("-hide_banner", *log_args).compile()
    channels = 3 if color else 1
    frame_bytes = width * height * channels
    try:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                pass_fds=(side_write,) if side is not None else ())
    except OSError as exc:  # pragma: no cover - require_ffmpeg checked already
        raise MissingToolError(f"cannot run ffmpeg ({exc}): {INSTALL_HINT}") from exc
    side_data: list[bytes] = []
    side_reader = None
    if side is not None:
        os.close(side_write)  # the child holds its own copy; EOF comes when ffmpeg closes it

        side_size = side.width * side.height * 3
        side_count = [0]

        def drain_side() -> None:
            with os.fdopen(side_read, "rb") as pipe:
                if side.consume is None:
                    side_data.append(pipe.read())
                    return
                while len(block := pipe.read(side_size)) == side_size:
                    frame = np.frombuffer(block, dtype=np.uint8).reshape(side.height, side.width, 3)
                    side.consume(side_count[0], frame)
                    side_count[0] += 1

        side_reader = threading.Thread(target=drain_side, daemon=True)
        side_reader.start()
    err_lines: list[bytes] = []
    key_pts: list[int] = []
    time_base: list[Fraction] = []

    def drain_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if keyframes_only:
                if found := _SHOWINFO_PTS.match(line):
                    key_pts.append(int(found.group(1)))
                    continue
                if found := _SHOWINFO_TB.match(line):
                    time_base.append(Fraction(int(found.group(1)), int(found.group(2))))
                    continue
                level = _LOG_LEVEL.search(line)
                if level is None or level.group(1) not in (b"panic", b"fatal", b"error"):
                    continue
                line = line[: level.start()] + b" " + line[level.end() :]
            if len(err_lines) < 200:
                err_lines.append(line)

    reader = threading.Thread(target=drain_stderr, daemon=True)
    reader.start()
    assert proc.stdout is not None
    if progress is None:
        data = proc.stdout.read()
    else:
        chunks, got = [], 0
        batch = frame_bytes * max(1, int(fps or 1) * 5)  # report about every 5 s of video
        while block := proc.stdout.read(batch):
            chunks.append(block)
            got += len(block)
            if keyframes_only:
                progress(keyframe_times(key_pts, time_base)[-1] if key_pts and time_base else 0.0)
            else:
                progress(got // frame_bytes / (fps or 1))
        data = b"".join(chunks)
    proc.stdout.close()
    code = proc.wait()
    reader.join()
    side_pixels = side_times = None
    if side is not None and side_reader is not None:
        side_reader.join()
        if side.consume is None:
            raw = side_data[0] if side_data else b""
            n_side = len(raw) // side_size
            side_pixels = np.frombuffer(raw[: n_side * side_size], dtype=np.uint8).reshape(
                n_side, side.height, side.width, 3)
        else:
            n_side = side_count[0]
        side_times = np.arange(n_side, dtype=np.float64) / side.fps if fps is not None else np.zeros(n_side)
    count = len(data) // frame_bytes
    shape: tuple[int, ...] = (count, height, width, 3) if color else (count, height, width)
    pixels = np.frombuffer(data[: count * frame_bytes], dtype=np.uint8).reshape(shape)
    if keyframes_only:
        every = keyframe_times(key_pts, time_base)
        times = np.array([every[n] for n in select[:count]] if select else every[:count], dtype=np.float64)
        if len(times) < count:
            raise UnreadableMediaError(f"ffmpeg reported no timestamp for some keyframes of {path}")
        if side_times is not None:
            side_times = times[: len(side_times)].copy()
    elif select:
        times = np.array([n / fps for n in select[:count]] if fps else list(range(count)), dtype=np.float64)
    elif fps is not None:
        times = np.arange(count, dtype=np.float64) / fps
    else:
        times = np.zeros(count, dtype=np.float64)
    errors = tuple(line.decode("utf-8", "replace").strip() for line in err_lines if line.strip())
    if count == 0:
        first = errors[0] if errors else f"ffmpeg exited with code {code}"
        raise UnreadableMediaError(f"no frame could be decoded from {path}: {first}")
    return DecodedFrames(pixels=pixels, times=times, errors=errors[:20], exit_code=code,
                         side_pixels=side_pixels, side_times=side_times)


def keyframe_times(pts: list[int], time_base: list[Fraction]) -> list[float]:
    """Seconds of each decoded keyframe after the first: (pts - first pts) x time base, exact until the float."""
    if not pts or not time_base:
        return []
    base = time_base[0]
    return [float((p - pts[0]) * base) for p in pts]
