"""A small JPEG thumbnail of one media file, for the triage page.

The picture is decoded by ffmpeg exactly as the hashes were (``frames.decode.decode_frames`` of the
same open file, at the fingerprint's own sampling, so sample ``k`` is the frame the analysis hashed
as sample ``k``), at the thumbnail's size. An earlier version decoded it with OpenCV's own FFmpeg
build and took the first shot's keyframe when no sample had PDQ detail: a clip whose first second
is black and whose picture has little PDQ detail (a smooth gradient, a dark scene) got a black
thumbnail. Now a few candidate samples are decoded (the earliest with PDQ detail and the first
shot's keyframe; only when both are black, the next shots' keyframes and the most detailed sample)
and the first that is not black is kept, else the one with the most contrast. The input is only
read, through one open file (a ``MediaSource``, given or opened here once); a failure gives no
thumbnail, never an error.
"""

from __future__ import annotations

import numpy as np

from provenance.errors import ProvenanceError
from provenance.frames.decode import decode_frames
from provenance.frames.keyframes import display_size
from provenance.media.source import MediaSource, opened
from provenance.model import Fingerprint

WIDTH = 160
JPEG_QUALITY = 80
GOOD_QUALITY = 50  # PDQ quality of a frame worth showing
SHOTS = 3  # the keyframes of this many first shots are candidates
BLACK_MEAN = 24.0  # grey levels: a picture darker than this on average ...
BLACK_STD = 6.0  # ... and flatter than this shows nothing


def candidate_samples(fp: Fingerprint) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Sample numbers worth a thumbnail, best first, in two rounds: the earliest sample with PDQ detail and the
    first shot's keyframe; then the next shots' keyframes and the most detailed sample (decoded only when the
    first round shows nothing: each round decodes from the start up to its last sample)."""
    if fp.is_still or not fp.frames:
        return (0,), ()
    first = []
    good = next((f.index for f in fp.frames if f.pdq_quality >= GOOD_QUALITY), None)
    if good is not None:
        first.append(good)
    if fp.shots:
        first.append(fp.shots[0].keyframe_sample)
    later = [shot.keyframe_sample for shot in fp.shots[1:SHOTS]]
    later.append(max(fp.frames, key=lambda f: (f.pdq_quality, -f.index)).index)
    first = list(dict.fromkeys(first))
    return tuple(first), tuple(k for k in dict.fromkeys(later) if k not in first)


def shows_something(picture: np.ndarray) -> bool:
    """False for a black (dark and flat) picture."""
    gray = picture.mean(axis=2) if picture.ndim == 3 else picture
    return float(gray.mean()) >= BLACK_MEAN or float(gray.std()) >= BLACK_STD


def _encode(rgb: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return buf.tobytes() if ok else b""


def thumbnail_jpeg(path: str | MediaSource, fp: Fingerprint, width: int = WIDTH) -> bytes:
    """JPEG bytes of the frame that represents ``fp``, ``width`` pixels wide; b"" when none can be made.

    ``path`` is the file ``fp`` was made from, best the open MediaSource it was analysed through.
    """
    try:
        with opened(path) as source:
            return _thumbnail(source, fp, width)
    except (OSError, ProvenanceError):  # the file is gone or unreadable now: no thumbnail
        return b""


def _pictures(source: MediaSource, fp: Fingerprint, samples: tuple[int, ...], size: tuple[int, int]
              ) -> dict[int, np.ndarray]:
    """The pictures of ``samples`` (sample numbers of ``fp``), decoded as the analysis decoded them."""
    if fp.is_still:
        decoded = decode_frames(source, fps=None, width=size[0], height=size[1], color=True, max_frames=1)
        return {0: decoded.pixels[0]} if len(decoded.pixels) else {}
    ordered = tuple(sorted(samples))
    decoded = decode_frames(source, fps=fp.params.fps, width=size[0], height=size[1], color=True,
                            select=ordered, max_frames=len(ordered), keyframes_only=fp.params.keyframes_only)
    return dict(zip(ordered, decoded.pixels, strict=False))


def _thumbnail(source: MediaSource, fp: Fingerprint, width: int) -> bytes:
    shown_w, shown_h = display_size(fp)
    size = (width, max(2, round(shown_h * width / shown_w / 2) * 2))
    found: list[np.ndarray] = []
    for samples in candidate_samples(fp):
        if not samples:
            continue
        pictures = _pictures(source, fp, samples, size)
        found.extend(pictures[k] for k in samples if k in pictures)
        chosen = next((p for p in found if shows_something(p)), None)
        if chosen is not None:
            return _encode(np.ascontiguousarray(chosen))
    if not found:
        return b""
    return _encode(np.ascontiguousarray(max(found, key=lambda p: float(p.std()))))
