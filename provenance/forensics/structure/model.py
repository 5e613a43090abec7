"""Frozen dataclasses for what the box structure of an ISO BMFF / QuickTime file says.

Times from ``mvhd``/``tkhd``/``mdhd`` count seconds from 1904-01-01 UTC; they are given here as
ISO 8601 UTC text (``None`` when the field is 0, i.e. unset). Durations are kept both in the
box's own time units and in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from provenance.forensics.structure.boxes import Box


@dataclass(frozen=True)
class FileType:
    """The ``ftyp`` box: the brands the writer claims."""

    major_brand: str
    minor_version: int
    compatible_brands: tuple[str, ...]


@dataclass(frozen=True)
class TopBox:
    """One top-level box, in file order."""

    type: str
    offset: int
    size: int
    label: str | None = None  # what a 'uuid' box is (XMP, C2PA manifest store ...), when known


@dataclass(frozen=True)
class MovieHeader:
    """The ``mvhd`` box."""

    version: int
    creation_time: str | None
    modification_time: str | None
    timescale: int
    duration: int
    seconds: float | None
    next_track_id: int


@dataclass(frozen=True)
class EditEntry:
    """One entry of an ``elst`` edit list.

    ``media_time`` is -1 for an empty edit (a gap, or a delayed start); otherwise playback of this
    segment starts at ``media_time`` in the track's own time units.
    """

    segment_duration: int  # movie time units
    media_time: int  # media time units; -1 = empty edit
    rate: float
    segment_seconds: float | None
    media_seconds: float | None


@dataclass(frozen=True)
class SampleEntry:
    """One sample description (``stsd`` entry): codec, and the writer's vendor and compressor strings."""

    format: str
    vendor: str | None  # QuickTime vendor code ('appl', 'FFMP' ...), None when zero
    compressor_name: str | None
    width: int | None
    height: int | None
    channels: int | None
    sample_rate: float | None
    children: tuple[str, ...]  # avcC, hvcC, esds, colr, pasp, btrt ...
    nal_length_size: int | None = None  # from avcC / hvcC


@dataclass(frozen=True)
class Track:
    """One ``trak``: headers, handler, edit list, sample description and sample-table totals."""

    track_id: int
    handler_type: str | None
    handler_name: str | None
    handler_manufacturer: str | None  # QuickTime component manufacturer in 'hdlr' ('appl' ...)
    enabled: bool
    tkhd_version: int
    creation_time: str | None
    modification_time: str | None
    duration_seconds: float | None  # tkhd duration in the movie timescale
    width: float | None
    height: float | None
    mdhd_version: int
    media_creation_time: str | None
    media_modification_time: str | None
    timescale: int
    media_duration: int
    media_seconds: float | None
    language: str | None
    edits: tuple[EditEntry, ...]
    sample_entries: tuple[SampleEntry, ...]
    sample_count: int | None
    sync_samples: int | None  # None when there is no 'stss' (every sample is a sync sample)
    composition_offsets: bool  # a 'ctts' box: frames are reordered (B-frames)
    sample_table_seconds: float | None  # sum of the 'stts' durations
    first_sample_delta: int | None  # duration of the first sample (media units), from 'stts'
    first_composition_offset: int | None  # of the first sample (media units), from 'ctts'
    data_handler_names: tuple[str, ...] = ()  # names of minf/hdlr (QuickTime data handlers)


@dataclass(frozen=True)
class MetaItem:
    """One metadata entry: where it was found, its key and its value as text."""

    source: str  # 'udta', 'ilst', 'keys', '3gpp', 'xmp', 'uuid'
    key: str
    value: str


@dataclass(frozen=True)
class XmpInfo:
    """The fields of an embedded XMP packet that say which software touched the file and when."""

    where: str  # 'uuid', 'udta/XMP_', 'meta/xml '
    size: int
    creator_tool: str | None
    create_date: str | None
    modify_date: str | None
    metadata_date: str | None
    history_agents: tuple[str, ...]
    history_actions: tuple[str, ...]
    provenance: str | None = None  # dcterms:provenance: a pointer to a C2PA manifest ("self#jumbf=...")


@dataclass(frozen=True)
class SeiString:
    """A user_data_unregistered SEI message found in the first video samples."""

    track_id: int
    sample: int  # 0-based sample number; -1 for SEI stored with the parameter sets ('hvcC')
    uuid: str
    encoder: str | None  # the encoder the UUID belongs to, when known ('x264', 'x265' ...)
    text: str  # the payload as text (non-printable bytes escaped); the x264 settings line, for instance


@dataclass(frozen=True)
class GopStats:
    """Keyframe (GOP) statistics of the first video stream, from ffprobe's packet flags."""

    packets: int
    keyframes: int
    first_packet_keyframe: bool
    gop_min: int | None  # packets from one keyframe to the next (complete GOPs only)
    gop_max: int | None
    gop_mean: float | None
    keyframe_interval_seconds: float | None  # mean time between keyframes
    regular: bool  # every complete GOP has the same length
    reordered: bool  # presentation order differs from decode order (B-frames)


@dataclass(frozen=True)
class BoxStructure:
    """What the box structure of one file says about how, and by what, it was written."""

    path: str
    size: int
    file_type: FileType | None
    top_level: tuple[TopBox, ...]
    faststart: bool | None  # 'moov' before the first 'mdat' (None without either)
    fragmented: bool  # movie fragments ('moof')
    movie: MovieHeader | None
    tracks: tuple[Track, ...]
    metadata: tuple[MetaItem, ...]
    xmp: XmpInfo | None
    sei: tuple[SeiString, ...]
    gop: GopStats | None
    tree: tuple[Box, ...]
    problems: tuple[str, ...]  # malformed, truncated or unreadable parts; notes on what was not read

    @property
    def video_tracks(self) -> tuple[Track, ...]:
        """Tracks with a video handler."""
        return tuple(t for t in self.tracks if t.handler_type == "vide")

    @property
    def audio_tracks(self) -> tuple[Track, ...]:
        """Tracks with a sound handler."""
        return tuple(t for t in self.tracks if t.handler_type == "soun")

    def meta(self, key: str) -> tuple[str, ...]:
        """The values of every metadata item named ``key`` (case-insensitive)."""
        low = key.lower()
        return tuple(m.value for m in self.metadata if m.key.lower() == low)
