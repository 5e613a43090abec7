"""A small JPEG thumbnail of one media file, for the triage page.

ffmpeg seeks to the first shot's keyframe, decodes that one frame upright (rotation applied), scales
it to ``WIDTH`` pixels wide at the display aspect ratio and encodes the JPEG itself, so no picture
passes through Python. The input is only read; a failure gives no thumbnail, never an error.
"""

from __future__ import annotations

import subprocess

from provenance.frames import ffmpeg_url
from provenance.model import Fingerprint

WIDTH = 160
TIMEOUT = 60.0  # seconds: a thumbnail is not worth waiting longer for


def thumbnail_jpeg(path: str, fp: Fingerprint, width: int = WIDTH) -> bytes:
    """JPEG bytes of the frame that represents ``fp`` (its first shot's keyframe); b"" on failure."""
    at = 0.0 if fp.is_still or not fp.shots else max(0.0, fp.shots[0].keyframe_time)
    seek = [] if fp.is_still else ["-ss", f"{at:.3f}"]
    args = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", *seek, "-i", ffmpeg_url(path),
        "-map", "0:v:0", "-frames:v", "1",
        "-vf", f"scale={width}:-2:flags=area,setsar=1", "-q:v", "5",
        "-f", "image2pipe", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "pipe:1",
    ]
    try:
        proc = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return b""
    data = proc.stdout
    return data if proc.returncode == 0 and data.startswith(b"\xff\xd8") else b""
