"""A small JPEG thumbnail of one media file, for the triage page.

The picture is the earliest sample whose PDQ quality says it holds something (not a black or
flat frame), else the first shot's keyframe: an early frame is the cheapest to reach. It is
decoded in-process with OpenCV (stills through ``cv2.imdecode`` of the bytes, which applies the
EXIF orientation; videos through OpenCV's FFmpeg backend, which applies the rotation), because
starting an ffmpeg process costs more than the decoding. When OpenCV cannot read the file, ffmpeg
makes the thumbnail instead. The input is only read, through one open file (a ``MediaSource``, given
or opened here once) that OpenCV and ffmpeg both read, never by its name; a failure gives no
thumbnail, never an error.
"""

from __future__ import annotations

import contextlib
import subprocess

import numpy as np

from provenance.errors import ProvenanceError
from provenance.media.source import MediaSource, ffmpeg_input, opened
from provenance.model import Fingerprint

WIDTH = 160
JPEG_QUALITY = 80
GOOD_QUALITY = 50  # PDQ quality of a frame worth showing
TIMEOUT = 60.0  # seconds: a thumbnail is not worth waiting longer for


def thumbnail_time(fp: Fingerprint) -> float:
    """When to take the thumbnail: the earliest frame worth showing, else the first shot's keyframe."""
    if fp.is_still:
        return 0.0
    good = next((f.time for f in fp.frames if f.pdq_quality >= GOOD_QUALITY), None)
    if good is not None:
        return good
    return max(0.0, fp.shots[0].keyframe_time) if fp.shots else 0.0


def _encode(picture: np.ndarray, width: int) -> bytes:
    import cv2

    height, wide = picture.shape[:2]
    size = (width, max(2, round(height * width / wide / 2) * 2))
    small = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return buf.tobytes() if ok else b""


def _opencv_picture(source: MediaSource, fp: Fingerprint, at: float) -> np.ndarray | None:
    import cv2

    if fp.is_still:
        with open(source.fd_path, "rb") as handle:
            data = np.frombuffer(handle.read(), dtype=np.uint8)
        picture = cv2.imdecode(data, cv2.IMREAD_COLOR)
        return picture if picture is not None and picture.size else None
    capture = cv2.VideoCapture(ffmpeg_input(source).url, cv2.CAP_FFMPEG)  # in this process: the fd is ours
    try:
        if not capture.isOpened():
            return None
        if at > 0:
            capture.set(cv2.CAP_PROP_POS_MSEC, at * 1000.0)
        ok, picture = capture.read()
        return picture if ok and picture is not None and picture.size else None
    finally:
        capture.release()


def _ffmpeg_thumbnail(source: MediaSource, fp: Fingerprint, at: float, width: int) -> bytes:
    seek = [] if fp.is_still else ["-ss", f"{at:.3f}"]
    given = ffmpeg_input(source)
    args = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", *seek, "-i", given.url,
        "-map", "0:v:0", "-frames:v", "1", "-vf", f"scale={width}:-2:flags=area,setsar=1", "-q:v", "5",
        "-f", "image2pipe", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "pipe:1",
    ]
    try:
        proc = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT, check=False,
                              pass_fds=given.pass_fds)
    except (OSError, subprocess.TimeoutExpired):
        return b""
    return proc.stdout if proc.returncode == 0 and proc.stdout.startswith(b"\xff\xd8") else b""


def thumbnail_jpeg(path: str | MediaSource, fp: Fingerprint, width: int = WIDTH) -> bytes:
    """JPEG bytes of the frame that represents ``fp``, ``width`` pixels wide; b"" when none can be made.

    ``path`` is the file ``fp`` was made from, best the open MediaSource it was analysed through.
    """
    try:
        with opened(path) as source:
            return _thumbnail(source, fp, width)
    except (OSError, ProvenanceError):  # the file is gone or unreadable now: no thumbnail
        return b""


def _thumbnail(source: MediaSource, fp: Fingerprint, width: int) -> bytes:
    at = thumbnail_time(fp)
    picture = None
    with contextlib.suppress(Exception):  # any OpenCV failure: ffmpeg gets a try
        picture = _opencv_picture(source, fp, at)
    if picture is not None:
        data = _encode(picture, width)
        if data:
            return data
    return _ffmpeg_thumbnail(source, fp, at, width)
