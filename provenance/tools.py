"""The external tools every stage calls (ffmpeg and ffprobe): whether they are there.

A file is never named to them by its path: see ``provenance.media.source.ffmpeg_input``, which gives
them the descriptor the check opened (a ``file:`` prefix stops protocols, but not ``a%d.jpg`` being
read as a numbered sequence of other files, nor another file renamed over the path).
"""

from __future__ import annotations

import functools
import shutil
import subprocess

from provenance.errors import MissingToolError

INSTALL_HINT = "install ffmpeg (Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg)"


def require_ffmpeg() -> None:
    """Raise MissingToolError (exit 3) unless both ffmpeg and ffprobe are on PATH."""
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise MissingToolError(f"{tool} not found on PATH: {INSTALL_HINT}")


_REFUSED_MUXERS: set[str] = set()  # learnt by this process from decodes that asked for them


def muxer_refused(name: str) -> bool:
    """Whether this process's ffmpeg has refused the muxer ``name`` (``note_muxer_refused``): it lacks it."""
    return name in _REFUSED_MUXERS


def note_muxer_refused(name: str) -> None:
    """Remember, for this process, that ffmpeg refused the muxer ``name``: later decodes do not ask for it."""
    _REFUSED_MUXERS.add(name)


@functools.cache
def chromaprint_muxer_available() -> bool:
    """Whether this ffmpeg has the ``chromaprint`` muxer (asked once per process)."""
    found = shutil.which("ffmpeg")
    if found is None:
        return False
    try:
        proc = subprocess.run([found, "-hide_banner", "-h", "muxer=chromaprint"], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and b"fp_format" in proc.stdout
