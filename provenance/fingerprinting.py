"""Fingerprint one media file: identity, metadata, sampled frames, their hashes, and shots.

This is the work of ``provenance check`` without an archive. Frames come from ffmpeg already
sampled and shrunk (``frames.py``); uniform borders (letterbox, pillarbox) found over the whole
item are cut away before hashing, so a padded copy hashes like its source.

The frames are worked on as they are decoded, never all held: each run of frames with the same
borders is boxed and hashed when it ends (a second after, when the borders of the next frames are
known), and only per-frame hashes, times and boxes are kept. A run's frames wait in memory up to
``SPOOL_MEMORY`` bytes, the rest in an unlinked temporary file (16 KB a frame at the usual 128 x 128),
so memory does not grow with the duration; the results are those of the whole-array functions
(``frames.borders.border_runs`` and ``detect_content_box``), value for value.

The soundtrack (the first audio stream) is fingerprinted with Chromaprint in the same ffmpeg process
as the frames (its ``chromaprint`` muxer, ``frames.decode``), or by fpcalc alongside it, or not, and
said so (``provenance.audio.chromaprint``). The same process also hands its samples to the band print
(``provenance.audio.bands``), the fingerprint of sound too short for Chromaprint.
"""

from __future__ import annotations

import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import IO

import numpy as np

from provenance.audio.bands import STEP as BAND_STEP
from provenance.audio.bands import BandPrinter
from provenance.audio.chromaprint import (
    MUXER_METHOD,
    UNAVAILABLE_WARNING,
    Fpcalc,
    muxer_values,
    soundtrack_of,
)
from provenance.audio.methods import BAND_SAMPLE_RATE, METHODS
from provenance.errors import MuxerRefusedError
from provenance.frames.borders import RunSplitter, chunked_content_box, crop_frames, detect_content_box
from provenance.frames.decode import (
    DecodedFrames,
    SideOutput,
    SoundSamples,
    decode_frames,
)
from provenance.frames.launch import EarlyDecode, soundtrack_muxer_may_work
from provenance.frames.pictures import PictureSpool, picture_moments
from provenance.frames.shots import ShotChangeStream, build_shots, cuts_between, lags_at, shot_ranges
from provenance.hashing import get_hasher
from provenance.hashing.phash import lanczos_pass_order
from provenance.media.display import display_dims
from provenance.media.first_reads import FirstReads, start_first_reads
from provenance.media.source import MediaSource, opened
from provenance.model import (
    FULL_BOX,
    SCHEMA_VERSION,
    SOUNDTRACK_UNAVAILABLE,
    ArchivedPicture,
    ContentBox,
    Fingerprint,
    FrameHash,
    Metadata,
    SamplingParams,
    encode_soundtrack_values,
)
from provenance.sampling import feature_frames, soundtrack_plan, video_decode_request
from provenance.timings import Clock, active, stage
from provenance.tools import note_muxer_refused
from provenance.version import __version__
from provenance.vision.feature_image import FEATURE_FPS, feature_size
from provenance.vision.feature_spool import FeatureSpool
from provenance.vision.features import FrameFeatures, extract
from provenance.vision.on_demand import FeaturesOnDemand

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
SPOOL_MEMORY = 8 << 20
"""Bytes of working frames of the open border run kept in memory; older ones go to a temporary file."""
STATS_PIXELS = 1 << 19
"""Pixels of working frames measured at a time for the borders (their float32 copies take a few times that)."""
HASH_FRAMES = 128  # frames hashed at a time: PDQ's own batch at CONTENT_SIZE


def decoded_duration(samples: int, fps: float, metadata: Metadata) -> float:
    """The length of a video that gave ``samples`` samples at ``fps``: the container's (its video stream's,
    else the file's) when that fits the samples, else ``samples / fps``.

    Sample ``k`` is the frame on screen at ``k / fps`` (ffmpeg's ``fps`` filter rounds to the nearest
    frame), so the samples allow any length from half a step short of the last sample's time up to
    ``samples / fps``; a one-second clip sampled twice a second gives three samples, and taking the
    whole step would make it 1.5 s long and its every match cover two thirds of it. A container
    whose length does not fit the frames decoded is not believed.
    """
    upper = samples / fps
    lower = (samples - 1.5) / fps
    stream = metadata.video_stream
    for claimed in (stream.duration if stream is not None else None, metadata.duration):
        if claimed is not None and lower < claimed <= upper:
            return float(claimed)
    return upper


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
    # were removed from some frames: then 8..15 are the same turns of the whole, uncut frame. Empty,
    # (0, 8, 32), when made for the archive only (``features="archive"``): it is never matched
    dihedral_pdq: np.ndarray
    # ORB features and colour grids, FEATURE_FPS frames a second (of an item: a FeatureSpool, on disk)
    features: Sequence[FrameFeatures] = ()
    # the same of the mirrored frames (a subset; made on demand, provenance.vision.on_demand)
    mirrored_features: Sequence[FrameFeatures] = ()
    # what the archive keeps to show (``archive`` and ``all``): small JPEGs of the shot keyframes and of
    # every few seconds, in time order (a PictureSpool, on disk; provenance.frames.pictures)
    pictures: Sequence[ArchivedPicture] = ()


def fingerprint(path: str | MediaSource, params: SamplingParams | None = None,
                soundtrack: tuple[str, ...] = METHODS) -> Fingerprint:
    """Fingerprint the file at ``path`` (or an open MediaSource). The file is opened read-only and never written.

    ``soundtrack``: as for :func:`analyse`."""
    return analyse(path, params, features="none", soundtrack=soundtrack).fingerprint


FEATURE_MODES = ("none", "query", "archive", "all")
QUERY_FEATURE_FRAMES = 48  # a query needs features of this many frames at most, spread over it


def analyse(path: str | MediaSource, params: SamplingParams | None = None,
            progress: Callable[[float, float | None], None] | None = None,
            features: str = "all", soundtrack: tuple[str, ...] = METHODS,
            first_reads: FirstReads | None = None, early: EarlyDecode | None = None) -> Analysis:
    """Fingerprint the file at ``path`` and keep the turned and mirrored hashes for matching.

    ``path`` may be an open :class:`~provenance.media.source.MediaSource` (``check`` passes the one it
    also decodes the keyframes from); a path is opened here, once. Either way the identity hashes,
    ffprobe and every decode read that one open file, so the record describes the bytes hashed even
    when another file is renamed over the path meanwhile; a file written to while it is read is
    refused (UnreadableMediaError).

    ``progress(seconds_decoded, total_seconds_or_None)`` is called while a video decodes.
    ``features`` says which local features to compute while decoding: ``none``; ``query`` (at most
    QUERY_FEATURE_FRAMES frames, also mirrored); ``archive`` (every feature frame and the small pictures
    the archive shows, both spooled to disk, and no turned hashes: what ``archive add`` keeps, in memory
    that does not grow with the duration); ``all`` (both).
    ``soundtrack`` names the ways the soundtrack may be fingerprinted, tried in order among those this
    machine has (:data:`METHODS`); ``("fpcalc",)`` forces the fallback, and ``()`` leaves
    the soundtrack out as a machine with neither would (the record says "unavailable").
    ``first_reads``: ffprobe and the identity hashes already started on ``path`` (an open MediaSource) by
    :func:`~provenance.media.first_reads.start_first_reads`, as ``check`` does before its imports; without
    it they are started here. ``early``: the decode of a video already started on it
    (``provenance.sampling.start_early_decode``), taken over when it was started for the decode asked here.
    The soundtrack is fingerprinted by ffmpeg's chromaprint muxer unless this ffmpeg refuses it (it lacks
    it: the decode is then made again without it, and this process no longer asks for it).

    Shots are cut on the raw working frames; each shot's borders are then found and removed, and
    what remains is resized to a square ``CONTENT_SIZE`` image that both hashes are computed from
    (so a compilation's parts, each padded its own way, hash like their sources).
    """
    params = params or SamplingParams()
    if features not in FEATURE_MODES:
        raise ValueError(f"features must be one of {FEATURE_MODES}")
    # The identity hashes are a read of every byte: a thread computes them while ffmpeg decodes. Probing
    # Pillow for the hashes' resize (an import, once per process) costs no wait beside ffprobe.
    with (opened(path) as source, first_reads or start_first_reads(source) as reads,
          ThreadPoolExecutor(max_workers=1, thread_name_prefix="pillow") as pillow):
        pillow.submit(lanczos_pass_order)
        with stage("probe"):
            metadata = reads.metadata.result()
        still = metadata.kind == "still"
        collector = _FeatureCollector(features, metadata.duration, still)
        method, band_print = soundtrack_plan(metadata, soundtrack, soundtrack_muxer_may_work())
        fpcalc = Fpcalc(source) if method == "fpcalc" else None
        sampled = params
        try:
            try:
                decoded, params, duration, hashed, bands = _sample(
                    source, metadata, sampled, collector, progress, method == "ffmpeg", bands=band_print,
                    early=early)  # 0 s: a still
            except MuxerRefusedError as refused:  # this ffmpeg lacks it: the next way to fingerprint the soundtrack
                note_muxer_refused(refused.muxer)
                method, band_print = soundtrack_plan(metadata, soundtrack, False)
                fpcalc = Fpcalc(source) if method == "fpcalc" else None
                collector.reset()
                decoded, params, duration, hashed, bands = _sample(
                    source, metadata, sampled, collector, progress, False, bands=band_print)
        except BaseException:
            if fpcalc is not None:
                fpcalc.stop()
            raise
        values, made_by = None, None
        if method == "ffmpeg":
            values, made_by = muxer_values(decoded.soundtrack or b""), MUXER_METHOD
        elif fpcalc is not None:
            with stage("decode"):
                values, made_by = fpcalc.values()
        sound = soundtrack_of(metadata, values, made_by)
        if bands is not None:
            sound = replace(sound, band_step=BAND_STEP, band_count=len(bands),
                            bands=encode_soundtrack_values(tuple(int(v) for v in bands)))
        with stage("hashing"):  # the wait, if any, for the file's SHA-256, SHA-1 and MD5
            identity = reads.identity.result()
        source.ensure_unchanged()
    times = decoded.times  # a still's one frame is at 0 s
    warnings = decode_warnings(metadata, duration, decoded.errors, decoded.exit_code)
    if sound.status == SOUNDTRACK_UNAVAILABLE:
        warnings.append(UNAVAILABLE_WARNING if sound.method is None else
                        f"the soundtrack was not fingerprinted: {sound.method}")
        sound = replace(sound, method=None)
    runs = hashed.runs
    frame_box = [box for a, b, box in runs for _ in range(a, b)]
    phashes, pdq, quality, dihedral = hashed.phash, hashed.pdq, hashed.quality, hashed.dihedral
    if any(not box.is_full for _, _, box in runs):
        # what looked like borders may be picture: let matching also try the whole frame
        dihedral = np.concatenate([dihedral, hashed.whole_dihedral], axis=1)
    with stage("hashing"):
        ranges = shot_ranges(len(times), cuts_between(pdq, hashed.shot_changes.changes(times), times))
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
        soundtrack=sound,
    )
    side_times = decoded.side_times if decoded.side_times is not None else np.zeros(0)
    normal, mirrored = collector.results(side_times)
    pictures = collector.pictures_at(side_times, [s.keyframe_time for s in fp.shots])
    return Analysis(fp, dihedral, normal, mirrored, pictures)


def archive_pictures(path: str | MediaSource, fp: Fingerprint) -> Sequence[ArchivedPicture]:
    """The small pictures ``analyse`` keeps for the archive, made again from the file ``fp`` describes (a path
    or an open MediaSource, only read): the same frames at the same sizes, so the same file gives the same
    JPEG bytes, for items archived before pictures were kept.

    The caller checks that the file is still the one ``fp`` describes (its SHA-256); the shots' keyframe
    times come from ``fp``. The JPEGs wait on disk (a PictureSpool), so memory does not grow with the length.
    """
    width, height = feature_size(*display_dims(fp.metadata))
    spool = PictureSpool()

    def take(frames: np.ndarray) -> None:
        for frame in frames:
            if fp.is_still and spool.frames:
                return  # a still's picture is its first frame, as analyse keeps it
            spool.append(frame)

    with opened(path) as source:
        # the side output's own filters (fps, then area scaling to the feature size), as the main output
        decoded = decode_frames(source, fps=None if fp.is_still else FEATURE_FPS, width=width, height=height,
                                color=True, max_frames=1 if fp.is_still else None, consume=take)
        source.ensure_unchanged()
    spool.keep(picture_moments(decoded.times[: spool.frames], [s.keyframe_time for s in fp.shots], fp.is_still))
    return spool


def _sample(source: MediaSource, metadata: Metadata, params: SamplingParams, collector: _FeatureCollector,
            progress: Callable[[float, float | None], None] | None, soundtrack: bool = False,
            bands: bool = False, early: EarlyDecode | None = None,
            ) -> tuple[DecodedFrames, SamplingParams, float, _Hashed, np.ndarray | None]:
    """Decode the working frames, feeding the collector and hashing them as they come: the decode's times
    and messages, the sampling really used (fast mode falls back to the usual rate on a clip of few
    keyframes), the duration the frames cover, and what was kept of them; ``soundtrack``: with the
    chromaprint muxer's output of the first audio stream; ``bands``: and the band print of it (else None);
    ``early``: a video's first decode, already started (see :func:`analyse`)."""
    size = params.work_size
    side_size = feature_frames(metadata) if collector.mode != "none" else None
    side = (SideOutput(side_size.fps, side_size.width, side_size.height, consume=collector.take)
            if side_size is not None else None)
    frames = _FrameStream(params.fps, still=metadata.kind == "still", turned=collector.mode != "archive",
                          keyframes_only=params.keyframes_only)
    if metadata.kind == "still":
        with stage("decode"):  # less the hashing of the frames handed over (frames.take)
            decoded = decode_frames(source, fps=None, width=size, height=size, max_frames=1, side=side,
                                    consume=frames.take)
        return decoded, params, 0.0, frames.finish(), None
    total = metadata.duration

    def report(seconds: float) -> None:
        if progress is not None:
            progress(seconds, total)

    printer = BandPrinter() if bands else None
    request = video_decode_request(metadata, params, side is not None, soundtrack, bands)
    with stage("decode"):
        decoded = decode_frames(source, fps=params.fps, width=request.width, height=request.height,
                                progress=report if progress else None, side=side,
                                keyframes_only=request.keyframes_only, consume=frames.take,
                                soundtrack_algorithm=request.soundtrack_algorithm,
                                sound=SoundSamples(BAND_SAMPLE_RATE, printer.feed) if printer else None,
                                early=early)
    if params.keyframes_only and len(decoded.times) < FAST_MIN_KEYFRAMES:
        params = replace(params, keyframes_only=False)  # the record says how it was really sampled
        collector.reset()
        frames.reset(keyframes_only=False)
        printer = BandPrinter() if bands else None
        with stage("decode"):
            decoded = decode_frames(source, fps=params.fps, width=size, height=size,
                                    progress=report if progress else None, side=side, consume=frames.take,
                                    soundtrack_algorithm=request.soundtrack_algorithm,
                                    sound=SoundSamples(BAND_SAMPLE_RATE, printer.feed) if printer else None)
    duration = decoded_duration(len(decoded.times), params.fps, metadata)
    if params.keyframes_only:  # the last keyframe can come long before the end: trust the container
        duration = max(float(decoded.times[-1]), float(metadata.duration or 0.0))
    return decoded, params, duration, frames.finish(), printer.values() if printer else None


@dataclass(frozen=True)
class _Hashed:
    """What ``analyse`` keeps of the N working frames: the border runs and each frame's hashes."""

    runs: tuple[tuple[int, int, ContentBox], ...]  # (first, stop, box) of each run of frames with the same borders
    phash: np.ndarray  # (N, 8) packed pHashes of the content (the frame cut to its run's box)
    pdq: np.ndarray  # (N, 32) packed PDQ hashes of the content
    quality: np.ndarray  # (N,) PDQ quality
    dihedral: np.ndarray  # (N, 8, 32) PDQ of the content turned 8 ways
    whole_dihedral: np.ndarray  # (N, 8, 32) the same of the whole, uncut frame
    shot_changes: ShotChangeStream  # fed every frame; its changes(times) are what the shot detector compares


class _FrameStream:
    """Boxes and hashes the working frames as the decoder hands them over (``take``), keeping per frame only
    its hashes: each border run is boxed and hashed as soon as it is known to have ended (``finish``: the
    last one). The same runs, boxes and hashes as ``border_runs`` and ``content_frames`` of all frames."""

    def __init__(self, fps: float, still: bool, turned: bool = True, keyframes_only: bool = False) -> None:
        # ``turned``: keep each frame's PDQ turned 8 ways, which only matching a query needs (an archived
        # item's are never searched): 512 bytes a frame, 15 MB an hour at the archive's rate
        self.fps, self.still, self.turned = fps, still, turned
        self.spool: _Spool | None = None
        self.reset(keyframes_only)

    def reset(self, keyframes_only: bool = False) -> None:
        """Forget every frame (the decode is starting again; ``keyframes_only``: it hands over the keyframes,
        at their own times, rather than samples at ``fps``)."""
        if self.spool is not None:
            self.spool.close()
        self.splitter = RunSplitter(self.fps)
        self.spool = None
        self.count = 0
        self.runs: list[tuple[int, int, ContentBox]] = []
        self.parts: dict[str, list[np.ndarray]] = {k: [] for k in ("phash", "pdq", "quality", "dihedral", "whole")}
        # at times k / fps the lag is known now, and only its last samples' signals are kept; keyframes'
        # times give it only at the end, and their signals are kept (few)
        self.shot_changes = ShotChangeStream(None if keyframes_only else lags_at(self.fps))

    def take(self, frames: np.ndarray) -> None:
        """The next (k, H, W) working frames, in decode order."""
        with stage("hashing"):
            if self.spool is None:
                self.spool = _Spool(frames.shape[1], frames.shape[2])
            self.spool.append(frames)
            self.count += len(frames)
            if not self.still:
                for first, stop in self.splitter.feed(frames):
                    self._close(first, stop)

    def finish(self) -> _Hashed:
        """Box and hash the frames left (the last runs); what was kept of all of them."""
        with stage("hashing"):
            return self._finish()

    def _finish(self) -> _Hashed:
        if self.spool is not None and (self.still or self.count == 1):
            # one frame cannot show a border holding steady: judge it as a still (as border_runs does)
            gray = np.concatenate(list(self.spool.chunks(0, self.count, self.count)))
            self._hash_run(0, self.count, detect_content_box(gray, still=True))
        elif self.spool is not None:
            for first, stop in self.splitter.finish():
                self._close(first, stop)
        if self.spool is not None:
            self.spool.close()

        def joined(name: str, empty: tuple[int, ...], dtype: type[np.generic]) -> np.ndarray:
            return np.concatenate(self.parts[name]) if self.parts[name] else np.zeros(empty, dtype=dtype)

        return _Hashed(tuple(self.runs), joined("phash", (0, 8), np.uint8), joined("pdq", (0, 32), np.uint8),
                       joined("quality", (0,), np.int64), joined("dihedral", (0, 8, 32), np.uint8),
                       joined("whole", (0, 8, 32), np.uint8), self.shot_changes)

    def _close(self, first: int, stop: int) -> None:
        """Box and hash the run of frames [first, stop) of a video, then let its frames go."""
        spool = self.spool
        assert spool is not None
        chunk = max(1, STATS_PIXELS // (spool.height * spool.width))
        box = chunked_content_box(lambda: spool.chunks(first, stop, chunk), stop - first, spool.height, spool.width)
        self._hash_run(first, stop, box)
        spool.drop(stop)

    def _hash_run(self, first: int, stop: int, box: ContentBox) -> None:
        """Hash the frames [first, stop), cut to ``box``, and the whole of each for its turned PDQ hashes."""
        assert self.spool is not None
        for gray in self.spool.chunks(first, stop, HASH_FRAMES):
            whole = content_frames(gray, [(0, len(gray))], [FULL_BOX])
            content = whole if box.is_full else content_frames(gray, [(0, len(gray))], [box])
            self.parts["phash"].append(PHASH.hash_frames(content)[0])
            if self.turned:
                pdq, quality, dihedral = PDQ.batch(content, dihedral=True)
                self.parts["dihedral"].append(dihedral)
                self.parts["whole"].append(dihedral if box.is_full else PDQ.batch(whole, dihedral=True)[2])
            else:
                pdq, quality = PDQ.batch(content)
            self.parts["pdq"].append(pdq)
            self.parts["quality"].append(quality)
            self.shot_changes.add(content, whole, len(self.runs))
        self.runs.append((first, stop, box))


class _Spool:
    """The working frames still to be boxed and hashed, numbered from 0 in decode order: the newest in
    memory up to SPOOL_MEMORY bytes, the older ones in an unlinked temporary file (memory only, if no
    temporary file can be written)."""

    def __init__(self, height: int, width: int) -> None:
        self.height, self.width = height, width
        self.frame_bytes = height * width
        self.blocks: deque[tuple[int, np.ndarray]] = deque()  # (first frame, frames) after the file's frames
        self.memory = 0
        self.file: IO[bytes] | None = None
        self.use_disk = True
        self.file_first = self.file_stop = 0  # the file holds frames [file_first, file_stop)
        self.count = 0  # frames kept so far

    def append(self, frames: np.ndarray) -> None:
        """Keep the next frames (numbered on from the last ones)."""
        self.blocks.append((self.count, frames))
        self.count += len(frames)
        self.memory += frames.nbytes
        while self.memory > SPOOL_MEMORY and len(self.blocks) > 1 and self.use_disk:
            self._spill()

    def _spill(self) -> None:
        """Move the oldest block of frames in memory to the end of the file."""
        first, frames = self.blocks[0]
        try:
            if self.file is None:  # closed by close(); unlinked from the start
                self.file = tempfile.TemporaryFile(prefix="provenance-frames-", buffering=0)  # noqa: SIM115
            if self.file_stop == self.file_first:
                self.file_first = self.file_stop = first
            data = memoryview(np.ascontiguousarray(frames)).cast("B")
            offset = (first - self.file_first) * self.frame_bytes
            while data:
                written = os.pwrite(self.file.fileno(), data, offset)
                data, offset = data[written:], offset + written
        except OSError:  # no room or no temporary folder: keep the frames in memory
            self.use_disk = False
            return
        self.blocks.popleft()
        self.memory -= frames.nbytes
        self.file_stop = first + len(frames)

    def chunks(self, first: int, stop: int, size: int) -> Iterator[np.ndarray]:
        """Frames [first, stop) in (k, H, W) chunks of ``size`` frames (the last one shorter), in order."""
        pieces: list[np.ndarray] = []
        held = 0
        for piece in self._pieces(first, stop):
            while len(piece):
                take = piece[: size - held]
                pieces.append(take)
                held += len(take)
                piece = piece[len(take) :]
                if held == size:
                    yield pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
                    pieces, held = [], 0
        if pieces:
            yield pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def _pieces(self, first: int, stop: int) -> Iterator[np.ndarray]:
        """Frames [first, stop) as they are kept: from the file in reads of a few MB, then the blocks in memory."""
        at = first
        if self.file is not None and at < self.file_stop:
            step, end = max(1, (4 << 20) // self.frame_bytes), min(stop, self.file_stop)
            while at < end:
                count = min(step, end - at)
                size, offset = count * self.frame_bytes, (at - self.file_first) * self.frame_bytes
                data = b"".join(_read_at(self.file.fileno(), size, offset))
                yield np.frombuffer(data, dtype=np.uint8).reshape(count, self.height, self.width)
                at += count
        for start, frames in self.blocks:
            end = start + len(frames)
            if at >= stop:
                break
            if end > at:
                yield frames[at - start : min(stop, end) - start]
                at = min(stop, end)

    def drop(self, stop: int) -> None:
        """Let go of the frames before ``stop``."""
        while self.blocks and self.blocks[0][0] + len(self.blocks[0][1]) <= stop:
            self.memory -= self.blocks.popleft()[1].nbytes
        if self.file is not None and self.file_stop <= stop and self.file_stop > self.file_first:
            os.ftruncate(self.file.fileno(), 0)
            self.file_first = self.file_stop = stop

    def close(self) -> None:
        """Let go of every frame, and of the temporary file."""
        self.blocks.clear()
        self.memory = 0
        if self.file is not None:
            self.file.close()
            self.file = None


def _read_at(fd: int, size: int, offset: int) -> Iterator[bytes]:
    """``size`` bytes of the file ``fd`` from ``offset`` (they were written there), as they come."""
    while size > 0:
        data = os.pread(fd, size, offset)
        if not data:
            raise OSError(f"the temporary file of working frames ended {size} bytes early")
        yield data
        size, offset = size - len(data), offset + len(data)


class _FeatureCollector:
    """Keeps or computes the local features of side frames as they arrive (the decoder's reader thread).

    An item's features are computed as each frame arrives and spooled to disk; a query's frames are kept,
    and their features made when the matcher asks for them (``provenance.vision.on_demand``).
    """

    def __init__(self, mode: str, duration: float | None, still: bool) -> None:
        self.mode = mode
        expected = 1 if still else max(1, round((duration or 0.0) * FEATURE_FPS))
        # queries keep every stride-th frame, so at most QUERY_FEATURE_FRAMES over the whole clip
        self.stride = max(1, -(-expected // QUERY_FEATURE_FRAMES))
        self.still = still
        self.clock: Clock | None = active()  # take() runs on the decoder's thread: its time is the clock's background
        self.reset()

    def reset(self) -> None:
        """Forget what was collected (the decode is starting again)."""
        # every feature frame of an item waits on disk for the archive (its length is not bounded);
        # a query's few frames stay in memory
        self.spool = FeatureSpool() if self.mode in ("archive", "all") else None
        self.spooled: list[int] = []
        self.kept: list[int] = []  # the side frames kept for the query, by number
        self.normal = FeaturesOnDemand(mirror=False) if self.mode == "query" else None
        self.mirrored = FeaturesOnDemand(mirror=True)
        # every side frame's small JPEG waits on disk too: which ones are shot keyframes is known at the end
        self.pictures = PictureSpool() if self.mode in ("archive", "all") else None

    def take(self, index: int, frame: np.ndarray) -> None:
        """Side frame ``index`` (called from the decoder's reader thread, in frame order)."""
        if self.clock is None:
            self._take(index, frame)
        else:
            with self.clock.background("features"):
                self._take(index, frame)

    def _take(self, index: int, frame: np.ndarray) -> None:
        if self.still and index > 0:
            return
        in_query = index % self.stride == 0
        if self.pictures is not None:
            self.pictures.append(frame)
        if self.spool is not None:
            self.spool.append(extract(frame[None], np.zeros(1))[0])
            self.spooled.append(index)
        if self.mode in ("query", "all") and in_query:
            self.kept.append(index)
            self.mirrored.add(frame)
            if self.normal is not None:
                self.normal.add(frame)

    def results(self, times: np.ndarray) -> tuple[Sequence[FrameFeatures], FeaturesOnDemand]:
        """The features with their times, in frame order (a query's made on demand from here on)."""
        def time_of(i: int) -> float:
            return float(times[i]) if i < len(times) else i / FEATURE_FPS

        query_times = [time_of(i) for i in self.kept]
        self.mirrored.seal(query_times)
        if self.spool is None:
            normal = self.normal if self.normal is not None else FeaturesOnDemand(mirror=False)
            normal.seal(query_times)
            return normal, self.mirrored
        self.spool.retimed([time_of(i) for i in self.spooled])
        return self.spool, self.mirrored

    def pictures_at(self, times: np.ndarray, keyframe_times: Sequence[float]) -> Sequence[ArchivedPicture]:
        """The pictures kept (``picture_moments``) of the side frames at ``times``: none unless made for the archive."""
        if self.pictures is None:
            return ()
        spooled = np.asarray(times[: self.pictures.frames], dtype=np.float64)
        self.pictures.keep(picture_moments(spooled, keyframe_times, still=self.still))
        return self.pictures


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
