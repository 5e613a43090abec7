"""Fingerprint one media file: identity, metadata, sampled frames, their hashes, and shots.

This is the work of ``provenance check`` without an archive. Frames come from ffmpeg already
sampled and shrunk (``frames.py``); uniform borders (letterbox, pillarbox) found over the whole
item are cut away before hashing, so a padded copy hashes like its source.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from provenance.frames.borders import border_runs, crop_frames
from provenance.frames.decode import DecodedFrames, SideOutput, decode_frames
from provenance.frames.shots import build_shots, find_cuts, shot_ranges
from provenance.hashing import get_hasher
from provenance.media.display import display_dims
from provenance.media.identity import file_identity, validate_input_path
from provenance.media.probe import probe
from provenance.model import FULL_BOX, SCHEMA_VERSION, ContentBox, Fingerprint, FrameHash, Metadata, SamplingParams
from provenance.version import __version__
from provenance.vision.features import FEATURE_FPS, FrameFeatures, extract, feature_size

QUERY_FPS = 2.0  # the default sampling rate of a check (SamplingParams().fps)

CONTENT_SIZE = 64  # the hashed picture: PDQ's own 64x64 buffer, and 2x pHash's 32x32
TRUNCATION_SLACK = 1.0  # seconds of decoded shortfall tolerated before calling a file truncated
PHASH = get_hasher("phash")
PDQ = get_hasher("pdq")
HASH_ALGORITHMS = (PHASH.algorithm(), PDQ.algorithm())
"""What every fingerprint's frame hashes are made with (``Fingerprint.hash_algorithms``), from the registry."""
FAST_MIN_KEYFRAMES = 8
"""Fast mode keeps to the keyframes only when there are at least this many; a shorter clip (or one with
very long GOPs) gives too few samples to align on, and is cheap to sample fully instead."""


def decode_warnings(metadata: Metadata, decoded_seconds: float, errors: tuple[str, ...], code: int) -> list[str]:
    """Say plainly when decoding stopped early or ffmpeg reported damage."""
    warnings = []
    expected = metadata.duration
    if expected and decoded_seconds + TRUNCATION_SLACK < expected:
        detail = f" (ffmpeg: {errors[0]})" if errors else ""
        warnings.append(
            f"decoding stopped at {decoded_seconds:.2f} s of {expected:.2f} s: "
            f"the file is truncated or damaged; hashes cover only what decoded{detail}"
        )
    elif errors or code != 0:
        first = errors[0] if errors else f"exit code {code}"
        warnings.append(f"ffmpeg reported decode errors ({len(errors)} lines); first: {first}")
    return warnings


def content_frames(gray: np.ndarray, ranges: list[tuple[int, int]], boxes: list[ContentBox]) -> np.ndarray:
    """Each frame cut to its shot's box and area-resized to ``CONTENT_SIZE`` squared: what gets hashed."""
    import cv2

    out = np.empty((len(gray), CONTENT_SIZE, CONTENT_SIZE), dtype=np.uint8)
    for (first, stop), box in zip(ranges, boxes, strict=True):
        for i, frame in zip(range(first, stop), crop_frames(gray[first:stop], box), strict=True):
            out[i] = cv2.resize(frame, (CONTENT_SIZE, CONTENT_SIZE), interpolation=cv2.INTER_AREA)
    return out


def main_box(ranges: list[tuple[int, int]], boxes: list[ContentBox]) -> ContentBox:
    """The box that covers the most samples: the item's usual picture area."""
    if not boxes:
        return FULL_BOX
    weight: dict[ContentBox, int] = {}
    for (first, stop), box in zip(ranges, boxes, strict=True):
        weight[box] = weight.get(box, 0) + stop - first
    return max(weight, key=lambda b: weight[b])


@dataclass(frozen=True)
class Analysis:
    """A fingerprint and what matching needs beyond it: the PDQ hashes of every frame turned 8 ways."""

    fingerprint: Fingerprint
    # (N, 8, 32) uint8 in the order of provenance.hashing.pdq.DIHEDRAL_NAMES; (N, 16, 32) when borders
    # were removed from some frames: then 8..15 are the same turns of the whole, uncut frame
    dihedral_pdq: np.ndarray
    features: tuple[FrameFeatures, ...] = ()  # ORB features and colour grids, FEATURE_FPS frames a second
    mirrored_features: tuple[FrameFeatures, ...] = ()  # the same of the mirrored frames (a subset)


def fingerprint(path: str, params: SamplingParams | None = None) -> Fingerprint:
    """Fingerprint the file at ``path``. The file is opened read-only and never written."""
    return analyse(path, params, features="none").fingerprint


FEATURE_MODES = ("none", "query", "archive", "all")
QUERY_FEATURE_FRAMES = 48  # a query needs features of this many frames at most, spread over it


def analyse(path: str, params: SamplingParams | None = None,
            progress: Callable[[float, float | None], None] | None = None,
            features: str = "all") -> Analysis:
    """Fingerprint the file at ``path`` and keep the turned and mirrored hashes for matching.

    ``progress(seconds_decoded, total_seconds_or_None)`` is called while a video decodes.
    ``features`` says which local features to compute while decoding: ``none``; ``query`` (at most
    QUERY_FEATURE_FRAMES frames, also mirrored); ``archive`` (every feature frame); ``all`` (both).

    Shots are cut on the raw working frames; each shot's borders are then found and removed, and
    what remains is resized to a square ``CONTENT_SIZE`` image that both hashes are computed from
    (so a compilation's parts, each padded its own way, hash like their sources).
    """
    params = params or SamplingParams()
    abs_path = validate_input_path(path)
    if features not in FEATURE_MODES:
        raise ValueError(f"features must be one of {FEATURE_MODES}")
    # The file's hashes are a read of every byte: a thread computes them while ffmpeg decodes.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="identity") as hashing:
        identity_job = hashing.submit(file_identity, abs_path)
        metadata = probe(abs_path)
        still = metadata.kind == "still"
        collector = _FeatureCollector(features, metadata.duration, still)
        decoded, params, duration = _sample(abs_path, metadata, params, collector, progress)  # 0 s for a still
        identity = identity_job.result()
    times = decoded.times  # a still's one frame is at 0 s
    gray = decoded.pixels  # ffmpeg has already applied rotation and the EXIF orientation
    warnings = decode_warnings(metadata, duration, decoded.errors, decoded.exit_code)
    runs = border_runs(gray, params.fps, still=still)
    content = content_frames(gray, [(a, b) for a, b, _ in runs], [box for _, _, box in runs])
    frame_box = [box for a, b, box in runs for _ in range(a, b)]
    phashes, _ = PHASH.hash_frames(content)
    pdq, quality, dihedral = PDQ.batch(content, dihedral=True)
    if any(not box.is_full for _, _, box in runs):
        # what looked like borders may be picture: let matching also try the whole frame
        whole = content_frames(gray, [(0, len(gray))], [FULL_BOX])
        dihedral = np.concatenate([dihedral, PDQ.batch(whole, dihedral=True)[2]], axis=1)
    ranges = shot_ranges(len(gray), find_cuts(pdq, content))
    boxes = [main_box([(i, i + 1) for i in range(a, b)], frame_box[a:b]) for a, b in ranges]
    frames = tuple(
        FrameHash(index=i, time=float(times[i]), phash=PHASH.to_hex(phashes[i]),
                  pdq=PDQ.to_hex(pdq[i]), pdq_quality=int(quality[i]))
        for i in range(len(times))
    )
    fp = Fingerprint(
        schema_version=SCHEMA_VERSION,
        tool_version=__version__,
        identity=identity,
        metadata=metadata,
        params=params,
        duration=duration,
        content_box=main_box(ranges, boxes),
        frames=frames,
        shots=build_shots(times, ranges, quality, duration, boxes),
        warnings=tuple(warnings),
        hash_algorithms=HASH_ALGORITHMS,
    )
    side_times = decoded.side_times if decoded.side_times is not None else np.zeros(0)
    normal, mirrored = collector.results(side_times)
    return Analysis(fp, dihedral, normal, mirrored)


def _sample(abs_path: str, metadata: Metadata, params: SamplingParams, collector: _FeatureCollector,
            progress: Callable[[float, float | None], None] | None) -> tuple[DecodedFrames, SamplingParams, float]:
    """Decode the working frames (and feed the collector): the frames, the sampling really used (fast mode
    falls back to the usual rate on a clip of few keyframes) and the duration they cover."""
    size = params.work_size
    side = (SideOutput(FEATURE_FPS, *feature_size(*display_dims(metadata)), consume=collector.take)
            if collector.mode != "none" else None)
    if metadata.kind == "still":
        return decode_frames(abs_path, fps=None, width=size, height=size, max_frames=1, side=side), params, 0.0
    total = metadata.duration

    def report(seconds: float) -> None:
        if progress is not None:
            progress(seconds, total)

    decoded = decode_frames(abs_path, fps=params.fps, width=size, height=size,
                            progress=report if progress else None, side=side, keyframes_only=params.keyframes_only)
    if params.keyframes_only and len(decoded.times) < FAST_MIN_KEYFRAMES:
        params = replace(params, keyframes_only=False)  # the record says how it was really sampled
        collector.reset()
        decoded = decode_frames(abs_path, fps=params.fps, width=size, height=size,
                                progress=report if progress else None, side=side)
    duration = len(decoded.times) / params.fps
    if params.keyframes_only:  # the last keyframe can come long before the end: trust the container
        duration = max(float(decoded.times[-1]), float(metadata.duration or 0.0))
    return decoded, params, duration


class _FeatureCollector:
    """Computes local features of side frames as they arrive, keeping only the features."""

    def __init__(self, mode: str, duration: float | None, still: bool) -> None:
        self.mode = mode
        expected = 1 if still else max(1, round((duration or 0.0) * FEATURE_FPS))
        # queries keep every stride-th frame, so at most QUERY_FEATURE_FRAMES over the whole clip
        self.stride = max(1, -(-expected // QUERY_FEATURE_FRAMES))
        self.still = still
        self.reset()

    def reset(self) -> None:
        """Forget what was collected (the decode is starting again)."""
        self.normal: dict[int, FrameFeatures] = {}
        self.mirrored: dict[int, FrameFeatures] = {}

    def take(self, index: int, frame: np.ndarray) -> None:
        """Features of side frame ``index`` (called from the decoder's reader thread)."""
        if self.still and index > 0:
            return
        in_query = index % self.stride == 0
        if self.mode in ("archive", "all") or (self.mode == "query" and in_query):
            self.normal[index] = extract(frame[None], np.zeros(1))[0]
        if self.mode in ("query", "all") and in_query:
            self.mirrored[index] = extract(frame[None], np.zeros(1), mirror=True)[0]

    def results(self, times: np.ndarray) -> tuple[tuple[FrameFeatures, ...], tuple[FrameFeatures, ...]]:
        """The features with their times, in frame order."""
        def timed(found: dict[int, FrameFeatures]) -> tuple[FrameFeatures, ...]:
            return tuple(replace(f, time=float(times[i]) if i < len(times) else i / FEATURE_FPS)
                         for i, f in sorted(found.items()))

        return timed(self.normal), timed(self.mirrored)


def as_query(analysis: Analysis, fps: float = QUERY_FPS) -> Analysis:
    """The query-rate view of an analysis made at a higher rate that is a multiple of ``fps``.

    ffmpeg's fps filter shows the frame on screen at k / rate, so every 4th sample at 8 per second
    is exactly the sample at 2 per second: one decode serves both the archive and the query.
    """
    fp = analysis.fingerprint
    ratio = fp.params.fps / fps
    if fp.is_still or ratio == 1:
        return analysis
    step = round(ratio)
    if abs(ratio - step) > 1e-9 or step < 1:
        raise ValueError(f"cannot sample {fp.params.fps} per second down to {fps}")
    keep = list(range(0, len(fp.frames), step))
    frames = tuple(replace(fp.frames[i], index=n) for n, i in enumerate(keep))
    shots = tuple(replace(s, keyframe_sample=s.keyframe_sample // step) for s in fp.shots)
    query = replace(fp, params=replace(fp.params, fps=fps), frames=frames, shots=shots)
    return replace(analysis, fingerprint=query, dihedral_pdq=analysis.dihedral_pdq[keep])
