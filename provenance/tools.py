"""The external tools every stage calls (ffmpeg and ffprobe): whether they are there, and how to name a file to them."""

from __future__ import annotations

import shutil

from provenance.errors import MissingToolError

INSTALL_HINT = "install ffmpeg (Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg)"


def require_ffmpeg() -> None:
    """Raise MissingToolError (exit 3) unless both ffmpeg and ffprobe are on PATH."""
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise MissingToolError(f"{tool} not found on PATH: {INSTALL_HINT}")


def ffmpeg_url(path: str) -> str:
    """The input URL for ffmpeg: the ``file:`` protocol, so names like ``pipe:x`` or ``-x`` are files."""
    return "file:" + path
