"""Which way a soundtrack is fingerprinted here, and what each way asks of the decode.

Apart from the numpy work of ``chromaprint`` and ``bands``, so that a decode can be planned (and
started, ``provenance.sampling``) before numpy is imported.
"""

from __future__ import annotations

import shutil

from provenance.model import Metadata

ALGORITHM = 1  # Chromaprint's default ("TEST2"): see the notes of provenance.audio.chromaprint
METHODS = ("ffmpeg", "fpcalc")
"""The ways to fingerprint a soundtrack, in the order tried: ffmpeg's chromaprint muxer, then fpcalc."""
BAND_SAMPLE_RATE = 5512  # Hz of the band print's samples, as Haitsma and Kalker: the bands reach 2000 Hz


def has_soundtrack(metadata: Metadata) -> bool:
    """Whether the file is a video with an audio stream."""
    return metadata.kind != "still" and any(s.kind == "audio" for s in metadata.streams)


def choose_method(metadata: Metadata, allowed: tuple[str, ...], muxer_available: bool) -> str | None:
    """Which of ``allowed`` fingerprints the soundtrack here ("ffmpeg", "fpcalc"), or None: no audio
    stream, or none of them available (``muxer_available``: this ffmpeg has the chromaprint muxer)."""
    if not has_soundtrack(metadata):
        return None
    for method in allowed:
        if method == "ffmpeg" and muxer_available:
            return method
        if method == "fpcalc" and shutil.which("fpcalc") is not None:
            return method
    return None
