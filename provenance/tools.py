"""The external tools every stage calls (ffmpeg and ffprobe): whether they are there.

A file is never named to them by its path: see ``provenance.media.source.ffmpeg_input``, which gives
them the descriptor the check opened (a ``file:`` prefix stops protocols, but not ``a%d.jpg`` being
read as a numbered sequence of other files, nor another file renamed over the path).
"""

from __future__ import annotations

import shutil

from provenance.errors import MissingToolError

INSTALL_HINT = "install ffmpeg (Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg)"


def require_ffmpeg() -> None:
    """Raise MissingToolError (exit 3) unless both ffmpeg and ffprobe are on PATH."""
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise MissingToolError(f"{tool} not found on PATH: {INSTALL_HINT}")
