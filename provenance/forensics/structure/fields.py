"""Decoders for the fields of the boxes that say who wrote a file and when.

Each decoder takes the box's payload bytes (already bounded by the reader) and returns a model
dataclass, or raises ``FieldError`` with what was wrong; the caller records that as a problem and
goes on. Layouts follow ISO/IEC 14496-12 and Apple's QuickTime File Format reference.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from provenance.forensics.structure.boxes import AUDIO_ENTRIES, VISUAL_ENTRIES, Box, fourcc
from provenance.forensics.structure.model import EditEntry, FileType, MetaItem, MovieHeader, SampleEntry, XmpInfo

EPOCH_1904 = datetime(1904, 1, 1, tzinfo=UTC)
MAX_EDITS = 10_000
MAX_TEXT = 2_000  # characters kept of one metadata value

UUID_LABELS = {
    "be7acfcb-97a9-42e8-9c71-999491e3afac": "XMP",
    "d8fec3d6-1b0e-483c-9297-5828877ec481": "C2PA manifest store",
    "2c4c0100-8504-40b9-a03e-562148d6dfeb": "Photoshop image resources (IPTC)",
    "ffcc8263-f855-4a93-8814-587a02521fdd": "XMP (older form)",
    "a5d40b30-e814-11dd-ba2f-0800200c9a66": "Adobe sample dependency (uuid)",
    "50524f46-21d2-4fce-bb88-695cfac9c740": "Sony 'PROF' profile",
    "55534d54-21d2-4fce-bb88-695cfac9c740": "Sony 'USMT' user metadata",
}

# 3GPP asset-information boxes in 'udta': full box, a language code, then a string.
THREEGPP_TEXT = frozenset({"titl", "dscp", "cprt", "perf", "auth", "gnre", "albm", "kywd", "clsf"})


class FieldError(ValueError):
    """A box's content does not have the layout its type requires."""


def mp4_time(seconds: int) -> str | None:
    """A 1904-based box time as ISO 8601 UTC text; None for 0 (unset) or a value past year 9999."""
    if seconds <= 0:
        return None
    try:
        moment = EPOCH_1904 + timedelta(seconds=seconds)
    except OverflowError:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _unpack(fmt: str, data: bytes, offset: int, what: str) -> tuple[int, ...]:
    try:
        return struct.unpack_from(fmt, data, offset)
    except struct.error:
        raise FieldError(f"'{what}' is {len(data)} bytes, too short for its fields") from None


def clean_text(raw: bytes) -> str:
    """Text from a fixed-size or NUL-terminated field: UTF-8 when it decodes, else Latin-1; stripped."""
    raw = raw.split(b"\0", 1)[0]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return text.strip()[:MAX_TEXT]


def seconds(value: int, timescale: int) -> float | None:
    """``value / timescale``, or None when the timescale is 0 or the duration is 'unknown' (all ones)."""
    if timescale <= 0 or value in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
        return None
    return value / timescale


def parse_ftyp(data: bytes) -> FileType:
    """``ftyp``: major brand, minor version, compatible brands."""
    if len(data) < 8:
        raise FieldError("'ftyp' is shorter than 8 bytes")
    brands = tuple(fourcc(data[i : i + 4]) for i in range(8, len(data) - 3, 4))
    return FileType(fourcc(data[:4]), struct.unpack_from(">I", data, 4)[0], brands)


def _media_times(data: bytes, box: str) -> tuple[int, int, int, int, int, int]:
    """The times that open ``mvhd`` and ``mdhd`` alike: (version, creation, modification, timescale,
    duration, offset of what follows); version 1 has 64-bit times, version 0 32-bit ones."""
    version = data[0] if data else 0
    if version == 1:
        created, modified, timescale, duration = _unpack(">QQIQ", data, 4, box)
        return version, created, modified, timescale, duration, 4 + 28
    created, modified, timescale, duration = _unpack(">IIII", data, 4, box)
    return version, created, modified, timescale, duration, 4 + 16


def parse_mvhd(data: bytes) -> MovieHeader:
    """``mvhd`` version 0 (32-bit times) or 1 (64-bit times)."""
    version, created, modified, timescale, duration, rest = _media_times(data, "mvhd")
    (next_track,) = _unpack(">I", data, rest + 76, "mvhd")
    return MovieHeader(version, mp4_time(created), mp4_time(modified), timescale, duration,
                       seconds(duration, timescale), next_track)


def parse_tkhd(data: bytes) -> tuple[int, int, str | None, str | None, int, int, float, float, bool]:
    """``tkhd``: (version, track_id, creation, modification, duration, flags, width, height, enabled)."""
    version = data[0] if data else 0
    (flags,) = _unpack(">I", data, 0, "tkhd")
    flags &= 0xFFFFFF
    if version == 1:
        created, modified, track_id, _, duration = _unpack(">QQIIQ", data, 4, "tkhd")
        rest = 4 + 32
    else:
        created, modified, track_id, _, duration = _unpack(">IIIII", data, 4, "tkhd")
        rest = 4 + 20
    width, height = _unpack(">II", data, rest + 8 + 8 + 36, "tkhd")
    return (version, track_id, mp4_time(created), mp4_time(modified), duration, flags, width / 65536,
            height / 65536, bool(flags & 1))


def _language(code: int) -> str | None:
    """The packed ISO 639-2/T code of 'mdhd' (three 5-bit letters); QuickTime's Macintosh codes below 0x400."""
    if code == 0x7FFF or code == 0:
        return None
    if code < 0x400:
        return "eng" if code == 0 else f"mac:{code}"
    letters = "".join(chr(((code >> shift) & 0x1F) + 0x60) for shift in (10, 5, 0))
    return letters if letters.isalpha() else None


def parse_mdhd(data: bytes) -> tuple[int, str | None, str | None, int, int, str | None]:
    """``mdhd``: (version, creation, modification, timescale, duration, language)."""
    version, created, modified, timescale, duration, rest = _media_times(data, "mdhd")
    (language,) = _unpack(">H", data, rest, "mdhd")
    return version, mp4_time(created), mp4_time(modified), timescale, duration, _language(language)


def parse_elst(data: bytes, movie_timescale: int, media_timescale: int) -> tuple[EditEntry, ...]:
    """``elst`` entries, versions 0 and 1; at most ``MAX_EDITS`` are read."""
    version = data[0] if data else 0
    (count,) = _unpack(">I", data, 4, "elst")
    fmt, step = (">QqhH", 20) if version == 1 else (">IihH", 12)
    entries = []
    for i in range(min(count, MAX_EDITS)):
        duration, media_time, rate_int, rate_frac = _unpack(fmt, data, 8 + i * step, "elst")
        entries.append(EditEntry(
            segment_duration=duration,
            media_time=media_time,
            rate=rate_int + rate_frac / 65536,
            segment_seconds=seconds(duration, movie_timescale),
            media_seconds=None if media_time < 0 else seconds(media_time, media_timescale),
        ))
    return tuple(entries)


def parse_hdlr(data: bytes) -> tuple[str, str | None, str | None]:
    """``hdlr``: (handler type, name, QuickTime component manufacturer).

    ISO writers put a NUL-terminated UTF-8 name; QuickTime writers a Pascal string (length byte first).
    """
    if len(data) < 24:
        raise FieldError("'hdlr' is shorter than 24 bytes")
    handler_type = fourcc(data[8:12])
    manufacturer = data[12:16]
    raw = data[24:]
    if raw and raw[0] == len(raw) - 1 and raw[0] > 0:
        raw = raw[1:]
    elif raw and 0 < raw[0] < len(raw) and raw[0] < 0x20 and b"\0" not in raw[1 : 1 + raw[0]]:
        raw = raw[1 : 1 + raw[0]]  # a Pascal string followed by padding
    name = clean_text(raw) or None
    maker = fourcc(manufacturer) if manufacturer.strip(b"\0") else None
    return handler_type, name, maker


def parse_sample_entry(box: Box, data: bytes, reader_read: Callable[[int, int], bytes]) -> SampleEntry:
    """One ``stsd`` entry: format, vendor code, compressor name, size or audio parameters, child boxes."""
    vendor_raw = data[12:16] if len(data) >= 16 else b""
    vendor = fourcc(vendor_raw) if vendor_raw.strip(b"\0") else None
    width = height = channels = None
    rate: float | None = None
    compressor = None
    nal_length = None
    children = tuple(c.type for c in box.children)
    if len(data) >= 78 and box.type in VISUAL_ENTRIES:
        width, height = struct.unpack_from(">HH", data, 24)
        name = data[42:74]
        length = name[0]
        compressor = clean_text(name[1 : 1 + length] if 0 < length < 32 else name) or None
        for child in box.children:
            if child.type in ("avcC", "hvcC"):
                config = reader_read(child.payload_offset, min(child.payload_size, 64))
                if child.type == "avcC" and len(config) >= 5:
                    nal_length = (config[4] & 3) + 1
                elif child.type == "hvcC" and len(config) >= 22:
                    nal_length = (config[21] & 3) + 1
    elif len(data) >= 28 and box.type in AUDIO_ENTRIES:
        channels, _ = struct.unpack_from(">HH", data, 16)
        rate = struct.unpack_from(">I", data, 24)[0] / 65536
    return SampleEntry(box.type, vendor, compressor, width, height, channels, rate, children, nal_length)


def quicktime_text(box_type: str, data: bytes) -> str | None:
    """A QuickTime user-data text atom ('©xyz', '©too' ...): (16-bit size, 16-bit language, text) records."""
    values = []
    pos = 0
    while pos + 4 <= len(data):
        size, _lang = struct.unpack_from(">HH", data, pos)
        if size == 0 or pos + 4 + size > len(data):
            break
        values.append(clean_text(data[pos + 4 : pos + 4 + size]))
        pos += 4 + size
    if not values:
        return printable_text(data)
    return " | ".join(v for v in values if v) or None


def threegpp_text(data: bytes) -> str | None:
    """A 3GPP asset box ('titl', 'auth' ...): full box, 16-bit packed language, then the string."""
    if len(data) < 6:
        return None
    body = data[6:]
    if body[:2] in (b"\xfe\xff", b"\xff\xfe"):
        return clean_text(body.decode("utf-16", "replace").encode("utf-8")) or None
    return clean_text(body) or None


def loci_text(data: bytes) -> str | None:
    """A 3GPP 'loci' box as ISO 6709 text (``+lat+lon+alt/``).

    Layout: full box, language, a NUL-terminated name, a role byte, then 16.16 fixed-point longitude,
    latitude and altitude.
    """
    if len(data) < 7:
        return None
    end = data.find(b"\0", 6)
    if end < 0 or end + 14 > len(data):
        return None
    longitude, latitude, altitude = struct.unpack_from(">iii", data, end + 2)
    lat, lon, alt = latitude / 65536, longitude / 65536, altitude / 65536
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return f"{lat:+08.4f}{lon:+09.4f}{alt:+.3f}/"


def printable_text(data: bytes) -> str | None:
    """Short mostly-printable payloads as text (proprietary atoms often hold a version or a name)."""
    if not data or len(data) > 512:
        return None
    text = data.strip(b"\0")
    printable = sum(1 for b in text if 0x20 <= b < 0x7F)
    if text and printable >= 0.8 * len(text) and printable >= 2:
        return clean_text(text.replace(b"\0", b" "))
    return None


def data_value(data: bytes) -> str:
    """The value of an ilst 'data' box: type indicator (4 bytes), locale (4 bytes), then the value."""
    if len(data) < 8:
        return ""
    kind = int.from_bytes(data[1:4], "big")
    value = data[8:]
    if kind in (1, 4):  # UTF-8
        return clean_text(value)
    if kind in (2, 5):  # UTF-16
        return clean_text(value.decode("utf-16-be", "replace").encode("utf-8"))
    if kind in (21, 22, 65, 66, 67, 74, 75, 76, 77, 78) and 0 < len(value) <= 8:
        return str(int.from_bytes(value, "big", signed=kind in (21, 65, 66, 67, 74)))
    if kind == 23 and len(value) == 4:
        return f"{struct.unpack('>f', value)[0]:g}"
    if kind == 24 and len(value) == 8:
        return f"{struct.unpack('>d', value)[0]:g}"
    if kind == 0:
        text = printable_text(value)
        if text is not None:
            return text
    return f"<{len(value)} bytes of data type {kind}>"


def parse_keys(data: bytes) -> list[str]:
    """``keys`` (QuickTime metadata): full box, count, then (size, namespace, name) entries."""
    if len(data) < 8:
        return []
    (count,) = struct.unpack_from(">I", data, 4)
    names = []
    pos = 8
    for _ in range(min(count, 10_000)):
        if pos + 8 > len(data):
            break
        size = struct.unpack_from(">I", data, pos)[0]
        if size < 8 or pos + size > len(data):
            break
        names.append(clean_text(data[pos + 8 : pos + size]))
        pos += size
    return names


def mdta_index(box_type: str) -> int | None:
    """The 1-based key index of a keyed 'ilst' item (its type field is the index as a 32-bit integer)."""
    raw = box_type.encode("latin-1")
    if len(raw) == 4 and raw[0] == 0:
        return int.from_bytes(raw, "big")
    return None


_XMP_ATTR = r'(?:{name}="(?P<a>[^"]*)"|<{name}>(?P<e>[^<]*)</{name}>)'


def _xmp_field(text: str, name: str) -> str | None:
    match = re.search(_XMP_ATTR.format(name=re.escape(name)), text)
    if match is None:
        return None
    value = (match["a"] if match["a"] is not None else match["e"]).strip()
    return value[:MAX_TEXT] or None


def parse_xmp(where: str, data: bytes) -> XmpInfo:
    """The software and dates an XMP packet records (CreatorTool, xmpMM:History agents and actions)."""
    text = data.decode("utf-8", "replace")
    agents = re.findall(r'stEvt:softwareAgent(?:="([^"]*)"|>([^<]*)<)', text)
    actions = re.findall(r'stEvt:action(?:="([^"]*)"|>([^<]*)<)', text)
    return XmpInfo(
        where=where,
        size=len(data),
        creator_tool=_xmp_field(text, "xmp:CreatorTool"),
        create_date=_xmp_field(text, "xmp:CreateDate"),
        modify_date=_xmp_field(text, "xmp:ModifyDate"),
        metadata_date=_xmp_field(text, "xmp:MetadataDate"),
        history_agents=tuple(dict.fromkeys((a or b).strip() for a, b in agents if (a or b).strip())),
        history_actions=tuple((a or b).strip() for a, b in actions if (a or b).strip())[:50],
        provenance=_xmp_field(text, "dcterms:provenance"),
    )


def meta_item(source: str, key: str, value: str | None) -> MetaItem | None:
    """A MetaItem, or None for an empty value."""
    if value is None or value == "":
        return None
    return MetaItem(source, key, value[:MAX_TEXT])
