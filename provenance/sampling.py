"""What a fingerprint asks of the decode of a video, known from ffprobe's answer alone, and its early start.

``analyse`` decodes a video with :func:`video_decode_request`'s settings. This module imports no numpy:
``check`` starts that decode (:func:`start_early_decode`) as soon as ffprobe has answered, while it is
still importing what reads the frames, and ``analyse`` takes the running process over
(``provenance.frames.launch.EarlyDecode``). ffmpeg's own start and first frames then overlap those
imports; the process is the one ``analyse`` would have started, on the same open file.
"""

from __future__ import annotations

from provenance.audio.methods import ALGORITHM, BAND_SAMPLE_RATE, choose_method, has_soundtrack
from provenance.frames.launch import DecodeRequest, EarlyDecode, SideSize, soundtrack_muxer_may_work
from provenance.media.display import display_dims
from provenance.media.first_reads import FirstReads
from provenance.media.source import MediaSource, ffmpeg_input
from provenance.model import Metadata, SamplingParams
from provenance.vision.feature_image import FEATURE_FPS, feature_size


def feature_frames(metadata: Metadata) -> SideSize:
    """The decode's side output for local features and colour: FEATURE_FPS frames a second at the feature size."""
    return SideSize(FEATURE_FPS, *feature_size(*display_dims(metadata)))


def soundtrack_plan(metadata: Metadata, allowed: tuple[str, ...], muxer_available: bool) -> tuple[str | None, bool]:
    """How the soundtrack is fingerprinted (``provenance.audio.methods.choose_method``) and whether its band
    print is made (any way is allowed, and there is a soundtrack)."""
    return choose_method(metadata, allowed, muxer_available), bool(allowed) and has_soundtrack(metadata)


def video_decode_request(metadata: Metadata, params: SamplingParams, features: bool, muxer_soundtrack: bool,
                         bands: bool) -> DecodeRequest:
    """The first decode of a video by ``analyse``: the working frames at ``params``'s rate (or its keyframes),
    with the feature frames when ``features``, the chromaprint muxer's output when ``muxer_soundtrack`` and
    the band print's samples when ``bands``."""
    return DecodeRequest(
        fps=None if params.keyframes_only else params.fps,
        width=params.work_size,
        height=params.work_size,
        side=feature_frames(metadata) if features else None,
        keyframes_only=params.keyframes_only,
        soundtrack_algorithm=ALGORITHM if muxer_soundtrack else None,
        sound_rate=BAND_SAMPLE_RATE if bands else None,
    )


def start_early_decode(source: MediaSource, reads: FirstReads, params: SamplingParams, features: str,
                       soundtrack: tuple[str, ...]) -> EarlyDecode:
    """Start, on a thread, the decode ``analyse(source, params, features=features, soundtrack=soundtrack)``
    will ask for, once ``reads`` has ffprobe's answer (none for a still, or when ffprobe failed: ``analyse``
    reports that itself). Use it as a context manager around the analysis."""

    def plan() -> DecodeRequest | None:
        metadata = reads.metadata.result()
        if metadata.kind == "still":
            return None
        method, bands = soundtrack_plan(metadata, soundtrack, soundtrack_muxer_may_work())
        return video_decode_request(metadata, params, features != "none", method == "ffmpeg", bands)

    return EarlyDecode(plan, ffmpeg_input(source))
