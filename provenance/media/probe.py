"""Container, stream and tag metadata of a media file, from one ffprobe run, normalised into ``Metadata``.

ffprobe is run once (``-show_format -show_streams -of json``; no frame scan, so it stays cheap) on
the open file of a ``MediaSource`` (``provenance.media.source.ffmpeg_input``), so it reads the bytes
that were hashed, and a name like ``pipe:1``, ``-i`` or ``a%d.jpg`` (a numbered sequence of other
files to the image2 demuxer) is only ever that file. The JSON is kept verbatim (``raw_probe``) but
for ``format.filename``, which would name the private link ffprobe was given: it names the examined
file instead, as ``file:`` + its absolute path (the form earlier versions recorded). The fields
investigators ask about first (device, dates, place, rotation, codecs) are pulled out of it. Stills
also get their EXIF, read through the same open file.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from typing import Any, NamedTuple

from provenance.errors import MissingToolError, UnreadableMediaError
from provenance.media.exif import read_exif
from provenance.media.location import parse_iso6709
from provenance.media.source import FfmpegInput, MediaSource, ffmpeg_input, reads_source
from provenance.model import ExifInfo, Location, Metadata, StreamInfo
from provenance.tools import INSTALL_HINT, require_ffmpeg

MAX_SIDE = 32768
"""Widest or tallest picture accepted (pixels)."""
MAX_PIXELS = 500_000_000
"""Largest picture accepted (500 megapixels); beyond this a file is corrupt or hostile."""

QUICKTIME_TIME_NOTE = (
    "QuickTime/MP4 creation_time is UTC by the specification, but many cameras and phones write their "
    "local clock time into it, so it can be off by the device's UTC offset; editors and remuxers may "
    "also reset it"
)
MATROSKA_TIME_NOTE = (
    "Matroska DateUTC is UTC by the specification; it is written by the muxing program, often when the "
    "file was remuxed rather than when it was recorded"
)
OTHER_TIME_NOTE = "creation_time as written by the muxer; this container does not define its time zone"
TRACK_TIME_NOTE = "; taken from the video track header because the container has none"
APPLE_DATE_NOTE = "; com.apple.quicktime.creationdate is the device's local time with its UTC offset"

_IMAGE_DEMUXERS = frozenset({"image2", "image2pipe"})
_STILL_CODECS = frozenset({"png", "mjpeg", "webp", "tiff", "bmp", "gif", "jpeg2000", "jpegls", "qoi", "ppm"})
_LOCATION_TAGS = ("com.apple.quicktime.location.ISO6709", "location", "location-eng")
_STDERR_PREFIX = re.compile(r"^\[[^\]]*@ 0x[0-9a-fA-F]+\]\s*")
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif"})


def _tag(tags: Mapping[str, Any], *names: str) -> str | None:
    """The first of ``names`` present in ``tags`` (case-insensitive, Matroska writes upper case), stripped."""
    lowered = {str(k).lower(): v for k, v in tags.items()}
    for name in names:
        value = lowered.get(name.lower())
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def parse_rate(text: str | None) -> float | None:
    """A frame rate from ffprobe's ``num/den`` text (``30000/1001`` → 29.97); ``0/0`` and junk → None."""
    if not text:
        return None
    num, _, den = str(text).partition("/")
    try:
        value = float(num) / float(den) if den else float(num)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 and value == value and value != float("inf") else None


def _float(value: Any) -> float | None:
    """ffprobe numbers arrive as text; "N/A" and junk → None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def _int(value: Any) -> int | None:
    """An integer field of ffprobe's JSON, or None."""
    number = _float(value)
    return int(number) if number is not None else None


def _hms(text: str | None) -> float | None:
    """Matroska's statistics DURATION tag (``00:00:00.967000000``) in seconds."""
    if not text:
        return None
    match = re.fullmatch(r"(\d+):(\d{2}):(\d{2}(?:\.\d+)?)", text.strip())
    if match is None:
        return None
    return int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3])


def _ratio(text: str | None) -> str | None:
    """SAR/DAR as ffprobe writes it (``16:9``); ``0:1`` and ``N/A`` mean unknown → None."""
    if not text or text in ("0:1", "N/A") or text.startswith("0:"):
        return None
    return text


def _rotation(stream: Mapping[str, Any]) -> float | None:
    """Display rotation in degrees, as ffprobe reports the display matrix (counter-clockwise), in [-180, 180).

    The legacy ``rotate`` tag (older ffmpeg) counts clockwise, so its sign is flipped to match.
    """
    value: float | None = None
    for side in stream.get("side_data_list") or ():
        if str(side.get("side_data_type", "")).lower() == "display matrix" and "rotation" in side:
            value = _float(side.get("rotation"))
            break
    if value is None:
        tag = _tag(stream.get("tags") or {}, "rotate")
        value = -tag_value if (tag_value := _float(tag)) is not None else None
    if value is None:
        return None
    return float((value + 180.0) % 360.0 - 180.0)


def _stream_info(stream: Mapping[str, Any]) -> StreamInfo:
    """One ffprobe stream as StreamInfo."""
    tags = stream.get("tags") or {}
    duration = _float(stream.get("duration"))
    if duration is None:
        duration = _hms(_tag(tags, "DURATION"))
    bit_rate = _int(stream.get("bit_rate"))
    if bit_rate is None:
        bit_rate = _int(_tag(tags, "BPS"))
    frame_count = _int(stream.get("nb_frames"))
    if frame_count is None:
        frame_count = _int(_tag(tags, "NUMBER_OF_FRAMES"))
    return StreamInfo(
        index=int(stream.get("index", 0)),
        kind=str(stream.get("codec_type") or "data"),
        codec=stream.get("codec_name"),
        codec_long=stream.get("codec_long_name"),
        profile=stream.get("profile"),
        width=_int(stream.get("width")),
        height=_int(stream.get("height")),
        sample_aspect_ratio=_ratio(stream.get("sample_aspect_ratio")),
        display_aspect_ratio=_ratio(stream.get("display_aspect_ratio")),
        avg_frame_rate=parse_rate(stream.get("avg_frame_rate")),
        real_frame_rate=parse_rate(stream.get("r_frame_rate")),
        pix_fmt=stream.get("pix_fmt"),
        color_range=stream.get("color_range"),
        color_space=stream.get("color_space"),
        color_transfer=stream.get("color_transfer"),
        color_primaries=stream.get("color_primaries"),
        rotation=_rotation(stream),
        duration=duration,
        bit_rate=bit_rate,
        frame_count=frame_count,
        sample_rate=_int(stream.get("sample_rate")),
        channels=_int(stream.get("channels")),
        handler_name=_tag(tags, "handler_name"),
        language=_tag(tags, "language"),
        creation_time=_tag(tags, "creation_time"),
        tags=tuple((str(k), str(v)) for k, v in tags.items()),
    )


def _is_attached_picture(stream: Mapping[str, Any]) -> bool:
    """Cover art in an audio file is a 'video' stream to ffprobe, but not the item's picture."""
    return bool((stream.get("disposition") or {}).get("attached_pic"))


def _brands(value: str | None) -> tuple[str, ...]:
    """``isomiso2avc1mp41`` → ``('isom', 'iso2', 'avc1', 'mp41')``; FourCCs keep their padding spaces."""
    if not value:
        return ()
    return tuple(value[i : i + 4] for i in range(0, len(value), 4))


def _is_quicktime(format_name: str) -> bool:
    """True for the ISO BMFF family (MOV, MP4, 3GP), whose brands and creation_time rules apply."""
    return "mov" in format_name.split(",") or "mp4" in format_name.split(",")


def _kind(format_name: str, visual: StreamInfo | None, has_audio: bool) -> str:
    """"still", "video" or "audio" (see :func:`probe`)."""
    if visual is None:
        return "audio" if has_audio else "none"
    if format_name in _IMAGE_DEMUXERS or format_name.endswith("_pipe"):
        return "still"
    # A GIF or MJPEG with more than one frame, or with a duration but no frame count, moves.
    single = visual.frame_count == 1 or (visual.frame_count is None and not visual.duration)
    if visual.codec in _STILL_CODECS and single:
        return "still"
    return "video"


def _stderr_reason(stderr: bytes, url: str) -> str:
    """The reason ffprobe gave, on one line: its last error, and the first detail when different."""
    lines = []
    for raw in stderr.decode("utf-8", "replace").splitlines():
        line = _STDERR_PREFIX.sub("", raw.strip())
        if line.startswith(url + ":"):
            line = line[len(url) + 1 :].strip()
        if line:
            lines.append(line)
    if not lines:
        return "ffprobe failed without a message"
    last, first = lines[-1], lines[0]
    return last if first == last else f"{last} ({first})"


def _looks_like_heif(source: MediaSource) -> bool:
    """True when the file starts with an ISO BMFF ``ftyp`` box naming a HEIF/HEIC/AVIF brand."""
    try:
        head = source.pread(32)
    except OSError:
        return False
    if head[4:8] != b"ftyp":
        return False
    return head[8:12] in _HEIF_BRANDS or any(head[i : i + 4] in _HEIF_BRANDS for i in range(16, 29, 4))


def _run_ffprobe(given: FfmpegInput) -> dict[str, Any]:
    """ffprobe's JSON for the input ``given``; raises UnreadableMediaError or MissingToolError.

    ffprobe replaces tag bytes that are not UTF-8 (its default ``-string_validation replace``), so the
    JSON always decodes. ``-pattern_type none`` is kept from when ffprobe was given the file's own
    name; the name it is given now has no pattern in it, and the record is the same either way.
    """
    # the command as a list, never a shell string; the descriptor of the opened file is passed down
    args = ["ffprobe", "-show_format", "-show_streams", "-of", "json", "-hide_banner", "-loglevel", "error",
            "-pattern_type", "none", given.url]
    try:
        proc = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, check=False,
                              pass_fds=given.pass_fds)
    except OSError as exc:
        raise MissingToolError(f"cannot run ffprobe ({exc}): {INSTALL_HINT}") from None
    if proc.returncode != 0:
        raise UnreadableMediaError(_stderr_reason(proc.stderr or b"", given.url))
    try:
        data = json.loads(proc.stdout.decode("utf-8"))
    except ValueError as exc:
        raise UnreadableMediaError(f"ffprobe gave output that is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UnreadableMediaError("ffprobe gave output that is not a JSON object")
    return data


def _check_dimensions(stream: StreamInfo, path: str) -> None:
    """Refuse pictures no camera makes: they mean a corrupt header or a decompression bomb."""
    width, height = stream.width, stream.height
    if not width or not height:
        # ffprobe leaves 0x0 when the decoder could not parse (or refused) the picture header.
        raise UnreadableMediaError(
            f"{path}: not a readable image or video: ffprobe found a {stream.codec or 'unknown'} stream "
            f"without dimensions ({width or 0}x{height or 0})"
        )
    if width <= 0 or height <= 0 or width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise UnreadableMediaError(
            f"{path}: absurd picture dimensions {width}x{height} (limit {MAX_SIDE} per side and "
            f"{MAX_PIXELS // 1_000_000} megapixels)"
        )


def _probe_json(source: MediaSource) -> dict[str, Any]:
    """ffprobe's JSON for ``source``, with a hint when an unreadable file is HEIF."""
    require_ffmpeg()
    given = ffmpeg_input(source)
    try:
        data = _run_ffprobe(given)
    except UnreadableMediaError as exc:
        reason = str(exc)
        if _looks_like_heif(source):
            reason += "; this is a HEIF/HEIC/AVIF image, which ffprobe reads only from FFmpeg 7.0 on"
        raise UnreadableMediaError(f"ffprobe cannot read {source.path}: {reason}") from None
    fmt = data.get("format")
    if isinstance(fmt, dict) and fmt.get("filename") == given.url:
        fmt["filename"] = "file:" + source.path  # the examined file, not the link that led ffprobe to it
    return data


def _streams(data: Mapping[str, Any]) -> tuple[tuple[StreamInfo, ...], StreamInfo | None]:
    """Every stream of ffprobe's JSON, and the picture stream among them (the first video that is not cover art)."""
    raw_streams: list[Mapping[str, Any]] = list(data.get("streams") or [])
    streams = tuple(_stream_info(s) for s in raw_streams)
    visual = next(
        (info for info, raw in zip(streams, raw_streams, strict=True)
         if info.kind == "video" and not _is_attached_picture(raw)),
        None,
    )
    return streams, visual


def _accepted_kind(
    absolute: str, format_name: str, streams: tuple[StreamInfo, ...], visual: StreamInfo | None, require_visual: bool
) -> str:
    """The file's kind (see :func:`probe`); raises UnreadableMediaError when it has nothing to look at."""
    kind = _kind(format_name, visual, any(s.kind == "audio" for s in streams))
    if kind == "none" or (kind == "audio" and require_visual):
        raise UnreadableMediaError(f"{absolute}: no video or image stream")
    if visual is not None:
        _check_dimensions(visual, absolute)
    return kind


def _container_location(tags: Mapping[str, Any]) -> Location | None:
    """The place in the first location tag that parses."""
    location: Location | None = None
    for name in _LOCATION_TAGS:
        location = parse_iso6709(_tag(tags, name), source=name)
        if location is not None:
            break
    return location


def _creation_time(
    tags: Mapping[str, Any], format_name: str, visual: StreamInfo | None, device_date: str | None
) -> tuple[str | None, str | None]:
    """The creation time (the container's, else the video track's) and the note on how to read it."""
    creation_time = _tag(tags, "creation_time")
    from_track = False
    if creation_time is None and visual is not None and visual.creation_time:
        creation_time, from_track = visual.creation_time, True
    if creation_time is None:
        return None, None
    note = _container_time_note(format_name)
    note += (TRACK_TIME_NOTE if from_track else "") + (APPLE_DATE_NOTE if device_date else "")
    return creation_time, note


def _container_time_note(format_name: str) -> str:
    """What the container's specification says about the time zone of its creation time."""
    if _is_quicktime(format_name):
        return QUICKTIME_TIME_NOTE
    if "matroska" in format_name:
        return MATROSKA_TIME_NOTE
    return OTHER_TIME_NOTE


class _Origin(NamedTuple):
    """The device and software that made the file, and where."""

    make: str | None
    model: str | None
    software: str | None
    location: Location | None

    def filled_from(self, exif: ExifInfo | None) -> _Origin:
        """These values, with the gaps filled from a still's EXIF."""
        if exif is None:
            return self
        return _Origin(
            self.make or exif.make,
            self.model or exif.model,
            self.software or exif.software,
            self.location or exif.location,
        )


def _container_origin(tags: Mapping[str, Any], location: Location | None) -> _Origin:
    """Make, model and software from the container's Apple, Android or generic tags."""
    android_version = _tag(tags, "com.android.version")
    make = _tag(tags, "com.apple.quicktime.make", "com.android.manufacturer", "make")
    model = _tag(tags, "com.apple.quicktime.model", "com.android.model", "model")
    software = _tag(tags, "com.apple.quicktime.software", "software") or (
        f"Android {android_version}" if android_version else None
    )
    return _Origin(make, model, software, location)


def _handler_names(streams: tuple[StreamInfo, ...]) -> tuple[str, ...]:
    """The streams' handler names, each once, in stream order."""
    handler_names: list[str] = []
    for stream in streams:
        if stream.handler_name and stream.handler_name not in handler_names:
            handler_names.append(stream.handler_name)
    return tuple(handler_names)


def _brand_fields(tags: Mapping[str, Any], format_name: str) -> tuple[str | None, tuple[str, ...]]:
    """The major and compatible brands, which only the ISO BMFF family has."""
    if not _is_quicktime(format_name):
        return None, ()
    major = str(tags["major_brand"]) if tags.get("major_brand") else None
    return major, _brands(tags.get("compatible_brands"))


@reads_source
def probe(source: MediaSource, *, require_visual: bool = True) -> Metadata:
    """Run ffprobe on ``source`` (an open MediaSource, or a path) and normalise what it says into Metadata.

    ``kind`` is "still" for a single image (image demuxers, or a one-frame PNG/JPEG/WebP/TIFF/BMP/GIF),
    "video" when there is a moving picture stream (an animated GIF is video), and "audio" when there
    are only audio streams, which is accepted only with ``require_visual=False``. Stills also get
    their EXIF, which fills make/model/software/location when the container has none.

    Raises UsageError / UnreadableMediaError for bad paths (see ``validate_input_path``),
    MissingToolError without ffprobe, and UnreadableMediaError when ffprobe cannot read the file,
    finds no video or image stream, or reports absurd dimensions.
    """
    absolute = source.path
    data = _probe_json(source)
    fmt: Mapping[str, Any] = data.get("format") or {}
    streams, visual = _streams(data)
    format_name = str(fmt.get("format_name") or "")
    kind = _accepted_kind(absolute, format_name, streams, visual, require_visual)

    tags: Mapping[str, Any] = fmt.get("tags") or {}
    location = _container_location(tags)
    device_date = _tag(tags, "com.apple.quicktime.creationdate")
    creation_time, note = _creation_time(tags, format_name, visual, device_date)
    origin = _container_origin(tags, location)
    exif = read_exif(source.fd_path) if kind == "still" else None
    origin = origin.filled_from(exif)
    major_brand, compatible_brands = _brand_fields(tags, format_name)

    return Metadata(
        kind=kind,
        format_name=format_name or None,
        format_long_name=fmt.get("format_long_name"),
        major_brand=major_brand,
        compatible_brands=compatible_brands,
        duration=_float(fmt.get("duration")),
        bit_rate=_int(fmt.get("bit_rate")),
        creation_time=creation_time,
        creation_time_note=note,
        encoder=_tag(tags, "encoder"),
        make=origin.make,
        model=origin.model,
        software=origin.software,
        device_creation_date=device_date,
        location=origin.location,
        handler_names=_handler_names(streams),
        streams=streams,
        tags=tuple((str(k), str(v)) for k, v in tags.items()),
        exif=exif,
        raw_probe=json.dumps(data, sort_keys=True),
    )
