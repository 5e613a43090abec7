"""Frozen dataclasses that pass between the stages of the pipeline.

Every stage takes and returns these types; nothing crosses a module boundary as a loose dict.
Times are presentation seconds (float) from the first decoded frame. Hashes are stored as
lower-case hex strings; the record says which algorithm, length and version made them
(``Fingerprint.hash_algorithms``, of ``HashAlgorithm``).
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass, field

SCHEMA_VERSION = 1
"""Version of the JSON record (``Fingerprint`` and ``CheckReport``); bumped on breaking change."""


@dataclass(frozen=True)
class FileIdentity:
    """What the file is, byte for byte, and what the file system said about it when read."""

    path: str
    name: str
    size: int
    sha256: str
    sha1: str
    md5: str
    modified: str  # ISO 8601 UTC, as observed (st_mtime)
    changed: str  # ISO 8601 UTC (st_ctime: inode change on POSIX)
    accessed: str  # ISO 8601 UTC (st_atime, before we read it if the FS updates it)


@dataclass(frozen=True)
class Location:
    """A place on Earth in decimal degrees, with the text it was parsed from."""

    latitude: float
    longitude: float
    altitude: float | None
    source: str  # which tag it came from, e.g. "com.apple.quicktime.location.ISO6709" or "EXIF GPS"
    raw: str


@dataclass(frozen=True)
class StreamInfo:
    """One elementary stream of a container, normalised from ffprobe."""

    index: int
    kind: str  # "video", "audio", "subtitle", "data", "attachment"
    codec: str | None
    codec_long: str | None
    profile: str | None
    width: int | None
    height: int | None
    sample_aspect_ratio: str | None
    display_aspect_ratio: str | None
    avg_frame_rate: float | None
    real_frame_rate: float | None
    pix_fmt: str | None
    color_range: str | None
    color_space: str | None
    color_transfer: str | None
    color_primaries: str | None
    rotation: float | None  # degrees, from the display matrix side data or the "rotate" tag
    duration: float | None
    bit_rate: int | None
    frame_count: int | None
    sample_rate: int | None
    channels: int | None
    handler_name: str | None
    language: str | None
    creation_time: str | None
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ExifInfo:
    """What the EXIF block of a still says (via exifread)."""

    datetime_original: str | None
    offset_time: str | None
    make: str | None
    model: str | None
    software: str | None
    orientation: int | None  # EXIF orientation 1..8
    location: Location | None
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Metadata:
    """Container, stream and tag metadata of one media file, normalised for investigators."""

    kind: str  # "video", "still" or "audio"
    format_name: str | None
    format_long_name: str | None
    major_brand: str | None
    compatible_brands: tuple[str, ...]
    duration: float | None
    bit_rate: int | None
    creation_time: str | None
    creation_time_note: str | None  # e.g. that QuickTime times may be local time
    encoder: str | None
    make: str | None
    model: str | None
    software: str | None
    device_creation_date: str | None  # com.apple.quicktime.creationdate (carries its own offset)
    location: Location | None
    handler_names: tuple[str, ...]
    streams: tuple[StreamInfo, ...]
    tags: tuple[tuple[str, str], ...]  # all container-level tags, as written
    exif: ExifInfo | None
    raw_probe: str  # ffprobe's JSON, verbatim text ("" when ffprobe could not read the file)

    @property
    def video_stream(self) -> StreamInfo | None:
        """The first video stream, if any."""
        return next((s for s in self.streams if s.kind == "video"), None)


@dataclass(frozen=True)
class SamplingParams:
    """How frames were sampled and hashed. Stored with every record so results can be reproduced."""

    fps: float = 2.0  # samples per second of presentation time (ffmpeg's fps filter)
    work_size: int = 128  # frames are scaled (squashed) by ffmpeg to work_size x work_size grey
    phash_size: int = 8  # imagehash.phash hash_size (64 bits)
    pdq_size: int = 64  # PDQ works on a 64x64 luminance buffer (256 bits)
    keyframes_only: bool = False  # fast mode: hash only the keyframes (I-frames), at their own times; fps unused


@dataclass(frozen=True)
class ContentBox:
    """The part of the working frame that holds picture, after uniform borders are removed.

    Fractions of the working frame (0..1), so they apply at any resolution.
    """

    left: float
    top: float
    right: float
    bottom: float

    @property
    def is_full(self) -> bool:
        """True when no border was found."""
        return self.left == 0.0 and self.top == 0.0 and self.right == 1.0 and self.bottom == 1.0


FULL_BOX = ContentBox(0.0, 0.0, 1.0, 1.0)


@dataclass(frozen=True)
class HashAlgorithm:
    """Which perceptual hash made a record's frame hashes: as ``provenance.hashing`` registers it.

    ``name`` is the hasher's registry name (``"phash"``, ``"pdq"``), ``bits`` its hash length and
    ``version`` its ``VERSION`` when the hashes were made, so hashes from a changed hasher are told
    apart from today's.
    """

    name: str
    bits: int
    version: int


PHASH_V1 = HashAlgorithm("phash", 64, 1)
PDQ_V1 = HashAlgorithm("pdq", 256, 1)
LEGACY_HASH_ALGORITHMS = (PHASH_V1, PDQ_V1)
"""What every record written before records named their hash algorithms was hashed with: the default
of ``Fingerprint.hash_algorithms``, so such records still decode. Fixed for good: new records always
name their algorithms (from the registry), whatever its versions become."""


@dataclass(frozen=True)
class FrameHash:
    """The hashes of one sampled frame."""

    index: int  # sample number, 0-based
    time: float  # seconds
    phash: str  # 16 hex digits, same string as str(imagehash.phash(image))
    pdq: str  # 64 hex digits, PDQ reference bit order
    pdq_quality: int  # 0..100, PDQ's gradient-based quality


@dataclass(frozen=True)
class Shot:
    """A run of similar frames between two cuts, with the frame chosen to represent it."""

    index: int
    start: float
    end: float
    keyframe_time: float
    keyframe_sample: int  # index into Fingerprint.frames
    content_box: ContentBox = FULL_BOX  # the shot's picture area (its own borders removed)


SOUND_BY_CHROMAPRINT = "chromaprint"
SOUND_BY_BANDS = "band print"
SOUNDTRACK_FINGERPRINTED = "fingerprinted"
SOUNDTRACK_NONE = "no soundtrack"
SOUNDTRACK_UNAVAILABLE = "unavailable"
SOUNDTRACK_STATUSES = (SOUNDTRACK_FINGERPRINTED, SOUNDTRACK_NONE, SOUNDTRACK_UNAVAILABLE)


def encode_soundtrack_values(values: tuple[int, ...]) -> str:
    """``values`` (unsigned 32-bit) as the record keeps them: base64 (standard alphabet, padded, no line
    breaks) of their bytes as little-endian uint32, 4 bytes each: exact, and a third of decimal JSON."""
    return base64.b64encode(struct.pack(f"<{len(values)}I", *values)).decode("ascii")


def decode_soundtrack_values(text: str) -> tuple[int, ...]:
    """The values that :func:`encode_soundtrack_values` wrote as ``text``; ValueError for anything else."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"soundtrack values are not base64: {exc}") from None
    if len(raw) % 4:
        raise ValueError(f"soundtrack values are {len(raw)} bytes, not a whole number of 32-bit values")
    return struct.unpack(f"<{len(raw) // 4}I", raw)


@dataclass(frozen=True)
class Soundtrack:
    """The Chromaprint fingerprint of a file's first audio stream, or why there is none.

    ``status`` is ``"fingerprinted"`` (``values`` holds the fingerprint; none when the sound is shorter
    than about 3 s, Chromaprint's shortest), ``"no soundtrack"`` (the file has no audio stream) or
    ``"unavailable"`` (neither ffmpeg's chromaprint muxer nor fpcalc could be used: a warning says so).
    ``method`` says what made the values: ``"ffmpeg chromaprint muxer"`` or ``"fpcalc <version>"``.
    Value ``i`` is Chromaprint's raw 32-bit sub-fingerprint of the stretch starting at ``start + i *
    item_duration`` seconds of the video's time line (``start``: where the audio stream begins;
    ``item_duration``: one Chromaprint frame hop, 1365 samples at 11025 Hz for algorithm 1, about
    0.1238 s), ``values`` holds them in the compact form of :func:`encode_soundtrack_values`, and
    ``covered`` is the seconds of sound they span.

    ``bands`` holds the band print of the same sound (``provenance.audio.bands``: 32-bit values every
    ``band_step`` seconds from ``start``, 0 where the sound is silence or hum), made by ffmpeg's decode
    whatever made the Chromaprint values, and for sound too short for those: ``band_count`` of them, in
    the same compact form. Records made before band prints were have none.
    """

    status: str
    method: str | None = None
    algorithm: int | None = None  # Chromaprint's algorithm number (1: its default, "TEST2")
    sample_rate: int | None = None  # Hz Chromaprint resamples the sound to before it works on it
    item_duration: float | None = None  # seconds from one value to the next
    count: int = 0  # how many values
    values: str = ""  # base64 of little-endian uint32, see encode_soundtrack_values
    covered: float = 0.0  # seconds of sound the values span
    start: float = 0.0  # seconds from the first video frame to the first value's sound (the streams' start times)
    band_step: float | None = None  # seconds from one band-print value to the next
    band_count: int = 0
    bands: str = ""  # base64 of little-endian uint32, as values

    def band_items(self) -> tuple[int, ...]:
        """The band-print values, unsigned 32-bit integers, in time order."""
        return decode_soundtrack_values(self.bands)

    def items(self) -> tuple[int, ...]:
        """The raw fingerprint values, unsigned 32-bit integers, in time order."""
        return decode_soundtrack_values(self.values)

    def times(self) -> tuple[float, ...]:
        """The start, in seconds of the video's time line, of the stretch each value describes."""
        return tuple(self.start + i * (self.item_duration or 0.0) for i in range(self.count))


@dataclass(frozen=True)
class Fingerprint:
    """Everything the tool learned about one media item. Round-trips through its JSON form."""

    schema_version: int
    tool_version: str
    identity: FileIdentity
    metadata: Metadata
    params: SamplingParams
    duration: float  # seconds decoded (0 for a still)
    content_box: ContentBox
    frames: tuple[FrameHash, ...]
    shots: tuple[Shot, ...]
    warnings: tuple[str, ...] = ()
    # what made FrameHash.phash and .pdq, in that order; a hash-only item (kind "hashes") has no pHash
    hash_algorithms: tuple[HashAlgorithm, ...] = LEGACY_HASH_ALGORITHMS
    # the soundtrack's fingerprint, or why there is none; None in records made before soundtracks were, and hash lists
    soundtrack: Soundtrack | None = None

    @property
    def is_still(self) -> bool:
        """True for a single-frame item (a photo or a screenshot)."""
        return self.metadata.kind == "still"


@dataclass(frozen=True)
class ArchivedPicture:
    """A small JPEG of one frame of an archived item, kept in the archive to show beside a match.

    ``kind`` is "shot" (the keyframe of one of the item's shots) or "every" (one of those taken at a
    fixed spacing through the item); ``time`` is the frame's moment in the item, in seconds.
    """

    time: float
    kind: str
    width: int
    height: int
    jpeg: bytes


@dataclass(frozen=True)
class KeyframeImage:
    """A keyframe written to disk as a JPEG."""

    shot: int
    time: float
    path: str


@dataclass(frozen=True)
class SideBySideImage:
    """The pictures of one matched moment, written by ``check --keyframes`` (see ``provenance.report.side_by_side``).

    ``segment`` counts the match's segments from 0; ``position`` is "start", "middle" or "end" of it.
    ``query`` is the query's frame (the inset's place drawn, marked when mirrored or turned),
    ``archive`` the archived picture (the crop window drawn), ``warped`` the archived picture
    mapped onto the query frame and ``difference`` their absolute difference: paths of JPEG files.
    """

    sha256: str  # of the matched archived item
    segment: int
    position: str
    query_time: float
    archive_time: float
    query: str
    archive: str
    warped: str
    difference: str


@dataclass(frozen=True)
class Sighting:
    """One place and time an item was seen.

    ``platform`` is one of ``provenance.platforms.PLATFORMS`` when it could be normalised, and
    ``platform_raw`` what the source said (a yt-dlp extractor, an option). The fields after ``file_name``
    say where a post was (a Telegram chat and message, a web archive's record and page) and ``recorded_from``
    how the sighting was learnt ("telegram export result.json", "file name", "warc", "yt-dlp info.json").
    """

    source_url: str | None = None
    platform: str | None = None
    uploader: str | None = None
    first_seen: str | None = None  # ISO 8601 date or date-time
    label: str | None = None
    title: str | None = None
    video_id: str | None = None
    file_name: str | None = None
    added_at: str | None = None  # when it was recorded in the archive (UTC)
    platform_raw: str | None = None
    chat: str | None = None  # a Telegram chat's name
    chat_type: str | None = None  # e.g. public_channel, private_group, personal_chat
    chat_id: str | None = None
    message_id: str | None = None
    text: str | None = None  # the post's text
    forwarded_from: str | None = None  # who first posted a forwarded message (often the earlier source)
    record_id: str | None = None  # a WARC record's WARC-Record-ID
    page_url: str | None = None  # the page the media was found on (a WACZ's pages.jsonl)
    recorded_from: str | None = None


@dataclass(frozen=True)
class Segment:
    """A stretch of the query that shows a stretch of an archived item.

    ``low_detail`` is how many of its seconds show frames with no detail on either side (PDQ
    quality below ``provenance.hashing.pdq.MIN_QUALITY``) that count because they are consistent
    with the archive at the aligned times (see ``provenance.match.lines.bridge_low_detail``), or,
    in a match by local features, frames too plain to pair whose colour grids agree with the
    archive's (``provenance.match.extend``); 0 in records made before it was measured.
    """

    query_start: float
    query_end: float
    archive_start: float
    archive_end: float
    low_detail: float = 0.0


@dataclass(frozen=True)
class Edit:
    """An edit that explains a difference between query and archived item."""

    name: str  # contract names: reencode, hflip, vflip, rotate, crop, pad, overlay, speed, trim, color, pip
    details: str = ""


@dataclass(frozen=True)
class MatchGeometry:
    """Where the query's picture lies in the archived picture: the map the local features measured.

    ``affine`` (row-major 2x3: ``a b c d e f`` maps ``(x, y)`` to ``(a x + b y + c, d x + e y + f)``)
    takes the query's normalised picture coordinates (0..1 across and down the displayed frame),
    after the query is brought to the archived picture's orientation, to the archived picture's
    normalised coordinates. That orientation is: ``turned``, when set, a name of
    ``provenance.hashing.pdq.DIHEDRAL_NAMES`` ("rotate90", "flipx", ...), the numpy transform of
    the query picture that the hashes matched (a turn or a vertical flip; "flipplus1" and
    "flipminus1" include the mirror); otherwise the query mirrored left to right when ``mirrored``.
    ``crop`` is the part of the archived picture that the query shows and ``inset`` where the
    archived picture sits in the query frame, each ``(left, top, right, bottom)`` in 0..1, or None
    when the map shows no crop (or no inset); they are the windows the crop, pad and pip edits
    state. ``pairs`` is how many frame pairs the map is the median of; 0 when it comes from the
    query's borders alone, or is the identity of a turned copy (whose frames the features do not turn).
    """

    affine: tuple[float, float, float, float, float, float]
    mirrored: bool = False
    turned: str | None = None
    crop: tuple[float, float, float, float] | None = None
    inset: tuple[float, float, float, float] | None = None
    pairs: int = 0


SOUND_MATCHED = "matched"
SOUND_DIFFERS = "differs"
SOUND_REMOVED = "removed"
SOUND_UNCOMPARED = "not compared"


@dataclass(frozen=True)
class SoundtrackMatch:
    """What the soundtracks of a query and a matched item say (``provenance.match.soundtrack``).

    ``status``: ``"matched"`` (``segments`` are stretches of the query's sound that are the item's,
    on the two video time lines), ``"differs"`` (both have sound over the stretch the pictures match,
    and it is not the same: the soundtrack was replaced), ``"removed"`` (the item has a soundtrack and
    the query has none), ``"not compared"`` (either side has no fingerprint, or too little sound that
    carries evidence: silence and hum carry none). ``offset_agrees``: for a match by pictures and
    sound, whether the sound lies where the pictures put it (within a second); None otherwise.
    ``fingerprint``: which compared them, ``"chromaprint"`` or, for sound too short for it, ``"band print"``
    (empty where neither did: removed, and mostly not compared).
    """

    status: str
    segments: tuple[Segment, ...] = ()
    bit_error_rate: float | None = None  # mean share of differing bits over the segments (or the stretch compared)
    offset_agrees: bool | None = None
    details: str = ""
    fingerprint: str = ""  # SOUND_BY_CHROMAPRINT or SOUND_BY_BANDS; "" where none compared them


@dataclass(frozen=True)
class Match:
    """One archived item that the query matches.

    ``geometry`` is the measured map between the two pictures (None for an identical file and in
    records made before it was kept).
    """

    sha256: str
    item_name: str
    score: float  # 0..1
    verdict: str  # see match.verdict.VERDICTS
    segments: tuple[Segment, ...]
    query_coverage: float  # share of the query's duration covered by segments
    archive_coverage: float  # share of the archived item's duration covered by segments
    speed: float  # archive seconds per query second
    matched_frames: int
    mean_distance: float  # mean PDQ Hamming distance of the aligned frame pairs
    edits: tuple[Edit, ...]
    sightings: tuple[Sighting, ...]
    geometry: MatchGeometry | None = None
    # what matched: "pictures", "soundtrack" (an audio-only match: segments are the sound's) or "both"
    matched_by: str = "pictures"
    soundtrack: SoundtrackMatch | None = None  # None: not compared (records made before soundtracks were)


@dataclass(frozen=True)
class DateInterval:
    """A date or time as someone gave it, as the stretch of moments it names (made by ``provenance.dates``).

    ``2024`` is 2024-01-01T00:00:00Z to 2024-12-31T23:59:59Z (precision "year"); a time to the minute
    is that minute. Without a zone (``zone_known`` false: a calendar date, or a local time such as
    ``2024-03-01T10:00``) the bounds are the clock's as written, read as UTC; compared with a time
    whose zone is known, ``provenance.dates`` widens them by every zone's offset (UTC-12 to UTC+14).
    """

    text: str  # as given or recorded
    start: str  # ISO 8601 UTC, the interval's first second ("2024-01-01T00:00:00Z")
    end: str  # ISO 8601 UTC, its last second, inclusive ("2024-12-31T23:59:59Z")
    precision: str  # "year", "month", "day", "minute" or "second"
    zone_known: bool


@dataclass(frozen=True)
class AppearanceSighting:
    """One sighting of a matched item, as the earliest appearance lists it."""

    sha256: str  # the archived item it is a sighting of
    sighting: Sighting
    seen: DateInterval | None  # its first_seen as an interval; None when it has none or it cannot be read
    date_note: str | None = None  # why a first_seen that is there was not compared (not a date this tool reads)


@dataclass(frozen=True)
class DateComparison:
    """A date the query is said to be from, tested against a moment its footage (or file) already existed.

    The claim is ``--claimed-date`` or the file's own creation time; the evidence is the earliest
    archived sighting or that creation time. The footage is older than claimed only when the evidence
    ends before the claim begins: ``evidence_by`` (the evidence's latest moment) before ``claimed_from``
    (the claim's earliest), both UTC and widened by the zone offsets where one side has no zone.
    """

    claim_source: str  # "--claimed-date", or the metadata field of the file's creation time
    claimed: DateInterval
    evidence_source: str  # "earliest sighting", or the metadata field of the file's creation time
    evidence: DateInterval
    evidence_sha256: str | None  # the archived item whose sighting is the evidence
    claimed_from: str  # ISO 8601 UTC, as compared
    evidence_by: str  # ISO 8601 UTC, as compared
    relation: str  # "before" (older than claimed), "within" (cannot be told apart), "after"
    older_than_claimed_days: int | None  # UTC days from evidence_by to claimed_from; None unless "before"
    statement: str


@dataclass(frozen=True)
class Appearance:
    """The earliest known appearance of the footage, and how it compares to what the query claims.

    ``claimed_*`` and ``older_than_claimed_days`` are those of the main claim (``--claimed-date``,
    else the file's own creation time) against the earliest sighting; ``comparisons`` holds every
    comparison made, each stated (the claim and the file's creation time against the earliest
    sighting, and the creation time against the claim).
    """

    earliest: Sighting | None
    earliest_sha256: str | None
    sightings: tuple[AppearanceSighting, ...]  # oldest first; undated and unreadable dates last
    claimed_date: str | None
    claimed_source: str | None  # "--claimed-date" or the metadata field used
    statement: str
    claimed_interval: DateInterval | None = None
    older_than_claimed_days: int | None = None
    comparisons: tuple[DateComparison, ...] = ()


@dataclass(frozen=True)
class CheckReport:
    """The result of ``provenance check``: the fingerprint, and matches when an archive was given."""

    fingerprint: Fingerprint
    archive: str | None
    matches: tuple[Match, ...]
    appearance: Appearance | None
    keyframes: tuple[KeyframeImage, ...] = ()
    contact_sheet: str | None = None
    examined_at: str = ""  # ISO 8601 UTC
    extra_warnings: tuple[str, ...] = field(default_factory=tuple)
    side_by_side: tuple[SideBySideImage, ...] = ()  # with keyframes and an archive: matched frames, written
