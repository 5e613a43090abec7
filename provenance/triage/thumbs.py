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

A triage analysis keeps a query's feature frames (``provenance.vision.on_demand``): RGB samples of the
same decode, at the feature size, every few samples. Given those, the thumbnail is chosen among them by
the same rule (each candidate sample's nearest kept sample) and shrunk to the thumbnail's size, and the
file is not decoded a second time (that decode was about a tenth of a triaged clip's time).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from provenance.errors import ProvenanceError
from provenance.frames.decode import decode_frames
from provenance.frames.keyframes import display_size
from provenance.media.source import MediaSource, opened
from provenance.model import Fingerprint
from provenance.vision.on_demand import FeaturesOnDemand

WIDTH = 160
JPEG_QUALITY = 80
GOOD_QUALITY = 50  # PDQ quality of a frame worth showing
SHOTS = 3  # the keyframes of this many first shots are candidates
BLACK_MEAN = 24.0  # grey levels: a picture darker than this on average ...
BLACK_STD = 6.0  # ... and flatter than this shows nothing


def candidate_samples(fp: Fingerprint, among: Sequence[int] | None = None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Sample numbers worth a thumbnail, best first, in two rounds: the earliest sample with PDQ detail and the
    first shot's keyframe; then the next shots' keyframes and the most detailed sample (decoded only when the
    first round shows nothing: each round decodes from the start up to its last sample).

    ``among`` (sample numbers, in order): only these can be shown; a keyframe is then its nearest one of them.
    """
    if fp.is_still or not fp.frames:
        return (0,), ()
    frames = fp.frames if among is None else [fp.frames[k] for k in among]
    if not frames:
        return (), ()

    def shown(sample: int) -> int:
        return sample if among is None else min(among, key=lambda k: (abs(k - sample), k))

    first = []
    good = next((f.index for f in frames if f.pdq_quality >= GOOD_QUALITY), None)
    if good is not None:
        first.append(good)
    if fp.shots:
        first.append(shown(fp.shots[0].keyframe_sample))
    later = [shown(shot.keyframe_sample) for shot in fp.shots[1:SHOTS]]
    later.append(max(frames, key=lambda f: (f.pdq_quality, -f.index)).index)
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


def thumbnail_jpeg(path: str | MediaSource, fp: Fingerprint, width: int = WIDTH,
                   kept: FeaturesOnDemand | None = None) -> bytes:
    """JPEG bytes of the frame that represents ``fp``, ``width`` pixels wide; b"" when none can be made.

    ``path`` is the file ``fp`` was made from, best the open MediaSource it was analysed through.
    ``kept``: the feature frames its analysis kept (``Analysis.mirrored_features``); the picture is then one of
    them, and the file is decoded again only when none of them is a sample of ``fp``.
    """
    size = _size(fp, width)
    kept_pictures = _kept_samples(fp, kept) if kept is not None else {}
    if kept_pictures:
        return _thumbnail(lambda samples: {k: _shrunk(kept_pictures[k], size) for k in samples},
                          fp, tuple(kept_pictures))
    try:
        with opened(path) as source:
            return _thumbnail(lambda samples: _pictures(source, fp, samples, size), fp)
    except (OSError, ProvenanceError):  # the file is gone or unreadable now: no thumbnail
        return b""


def _size(fp: Fingerprint, width: int) -> tuple[int, int]:
    """The thumbnail's (width, height): ``width`` wide, in the proportions shown, an even height."""
    shown_w, shown_h = display_size(fp)
    return width, max(2, round(shown_h * width / shown_w / 2) * 2)


def _kept_samples(fp: Fingerprint, kept: FeaturesOnDemand) -> dict[int, np.ndarray]:
    """The kept frames that are samples of ``fp``, by sample number (in order): a feature frame's time is its
    sample's time exactly, as both outputs of one decode sample the same frames."""
    if fp.is_still:
        return {0: kept.picture(0)} if len(kept) else {}
    sample_at = {round(f.time * 1e6): f.index for f in fp.frames}
    found = {}
    for number, time in enumerate(kept.times):
        sample = sample_at.get(round(time * 1e6))
        if sample is not None:
            found[sample] = kept.picture(number)
    return dict(sorted(found.items()))


def _shrunk(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``rgb`` averaged down (or stretched up) to ``size`` (width, height), as ffmpeg's area scaling does."""
    import cv2

    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


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


def _thumbnail(pictures_of: Callable[[tuple[int, ...]], dict[int, np.ndarray]], fp: Fingerprint,
               among: Sequence[int] | None = None) -> bytes:
    """The JPEG of the first candidate (of ``among``, else of every sample) that shows something, else of the
    one with the most contrast; ``pictures_of`` gives the pictures of some samples, at the thumbnail's size."""
    found: list[np.ndarray] = []
    for samples in candidate_samples(fp, among):
        if not samples:
            continue
        pictures = pictures_of(samples)
        found.extend(pictures[k] for k in samples if k in pictures)
        chosen = next((p for p in found if shows_something(p)), None)
        if chosen is not None:
            return _encode(np.ascontiguousarray(chosen))
    if not found:
        return b""
    return _encode(np.ascontiguousarray(max(found, key=lambda p: float(p.std()))))
