"""Decode sampled frames with ffmpeg and pipe them raw into numpy.

ffmpeg does the decoding, the sampling (its ``fps`` filter) and the scaling in C; Python only
receives small raw frames. Sample ``k`` is the frame on screen at ``k / fps`` seconds after the
first frame, so sample times are exact multiples of ``1 / fps``. ffmpeg applies the display
matrix (rotation) itself, so a rotated remux decodes to the same upright picture.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from provenance.errors import MissingToolError, UnreadableMediaError

INSTALL_HINT = "install ffmpeg (Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg)"


@dataclass(frozen=True)
class DecodedFrames:
    """Sampled frames of one file: ``pixels`` is (N, H, W) grey or (N, H, W, 3) RGB uint8."""

    pixels: np.ndarray
    times: np.ndarray  # (N,) float64 seconds
    errors: tuple[str, ...]  # what ffmpeg said on stderr (decode errors), first lines only
    exit_code: int


def require_ffmpeg() -> None:
    """Raise MissingToolError (exit 3) unless both ffmpeg and ffprobe are on PATH."""
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise MissingToolError(f"{tool} not found on PATH: {INSTALL_HINT}")


def ffmpeg_url(path: str) -> str:
    """The input URL for ffmpeg: the ``file:`` protocol, so names like ``pipe:x`` or ``-x`` are files."""
    return "file:" + path


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
) -> DecodedFrames:
    """Decode ``path`` into frames of ``width`` x ``height`` (squashed, area-averaged).

    ``fps`` None keeps every frame (stills). ``select`` keeps only those sample numbers (after the
    fps filter), which is how keyframes are fetched again at full size. ``progress`` is called with
    the seconds decoded so far. The input is only read.
    """
    import ffmpeg  # ffmpeg-python builds the command line; never a shell string

    require_ffmpeg()
    stream = ffmpeg.input(ffmpeg_url(path), nostdin=None)["v:0"]
    if fps is not None:
        stream = stream.filter("fps", fps=fps, round="up")  # "up": sample k is the frame on screen at k / fps
    if select:
        expr = "+".join(f"eq(n,{n})" for n in select)
        stream = stream.filter("select", expr)
    stream = stream.filter("scale", width, height, flags="area")
    pix_fmt = "rgb24" if color else "gray"
    out_kwargs: dict[str, object] = {"format": "rawvideo", "pix_fmt": pix_fmt, "fps_mode": "passthrough"}
    if max_frames is not None:
        out_kwargs["frames:v"] = max_frames
    args = stream.output("pipe:", **out_kwargs).global_args("-hide_banner", "-loglevel", "error").compile()
    channels = 3 if color else 1
    frame_bytes = width * height * channels
    try:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:  # pragma: no cover - require_ffmpeg checked already
        raise MissingToolError(f"cannot run ffmpeg ({exc}): {INSTALL_HINT}") from exc
    err_lines: list[bytes] = []

    def drain_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
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
            progress(got // frame_bytes / (fps or 1))
        data = b"".join(chunks)
    proc.stdout.close()
    code = proc.wait()
    reader.join()
    count = len(data) // frame_bytes
    shape: tuple[int, ...] = (count, height, width, 3) if color else (count, height, width)
    pixels = np.frombuffer(data[: count * frame_bytes], dtype=np.uint8).reshape(shape)
    if select:
        times = np.array([n / fps for n in select[:count]] if fps else list(range(count)), dtype=np.float64)
    elif fps is not None:
        times = np.arange(count, dtype=np.float64) / fps
    else:
        times = np.zeros(count, dtype=np.float64)
    errors = tuple(line.decode("utf-8", "replace").strip() for line in err_lines if line.strip())
    if count == 0:
        first = errors[0] if errors else f"ffmpeg exited with code {code}"
        raise UnreadableMediaError(f"no frame could be decoded from {path}: {first}")
    return DecodedFrames(pixels=pixels, times=times, errors=errors[:20], exit_code=code)
