"""How one archived sighting, one stream, a location and a few metadata facts read as text.

Every report that shows these (the terminal report, the HTML evidence report, the triage's
``summary.csv`` and ``index.html``, ``provenance archive show``) takes its words from here, so a
sighting or a stream reads the same wherever it is shown. The HTML report is built from the JSON
record: it decodes the parts it shows (``provenance.codec.from_jsonable``) and calls the same
functions.

Sightings (``provenance.model.Sighting``), each a function because each place shows other fields:

- ``sighting_when``: when it was first seen, or "undated".
- ``sighting_where``: platform, uploader, URL, label and file name, the "where" of the sighting
  list of a check report (terminal and HTML).
- ``sighting_short``: platform, uploader and URL only, for the triage's table cells and its
  ``earliest_archived_where`` CSV column ("" for no sighting).
- ``sighting_detail``: platform, uploader, URL, title and label, else the file name, for the
  sightings of one item in ``archive show`` (which prints the item's name above them).
- ``sighting_sentence``: "DATE on PLATFORM by UPLOADER (URL) [LABEL]", the earliest appearance
  in the statement of a check. The matcher writes that statement (``provenance.match``, a layer
  below this one), so ``sighting_when`` and ``sighting_sentence`` live in
  ``provenance.match.appearance`` and are only re-exported here.

Media:

- ``format_bytes``: a byte count, "1,234,567 bytes (1.2 MiB)".
- ``stream_text``: one stream (``StreamInfo``): codec (profile), size, aspect ratios, frame rate
  (and the real one), pixel format, colour, rotation for video; sample rate and channels for audio;
  the handler name for any.
- ``location_text``: a ``Location``: "lat, lon, altitude A m  (from SOURCE: RAW)".
- ``device_text``: make and model of the recording device (the container's, else EXIF's).
- ``exif_taken_text``: EXIF DateTimeOriginal with its offset.
- ``bit_rate_text``: a bit rate in kb/s.

Names and cells. The library keeps a name exactly as the OS gave it (``str`` with Python's
surrogate escapes for bytes that are not UTF-8); these show it, with one escaping:

- ``shown_name``: a file name or path for people (the terminal report, error lines, the triage
  page, the progress line), escaped reversibly (``unescape_name``): a byte that is not UTF-8 as
  ``\\xNN``, newline, carriage return and tab as ``\\n``, ``\\r``, ``\\t``, other control
  characters as ``\\xNN`` (C0, DEL) or ``\\uNNNN`` (C1, and the invisible characters that reorder
  or hide text: bidi controls, zero-width characters, line separators), and a backslash as
  ``\\\\``. Every other character is kept, so ``видео копия.mp4`` reads as it is.
- ``shown_text``: free text for people that may hold names (an error line, a warning, a metadata
  tag): the same escapes, but a backslash is kept (the text is not meant to be turned back).
- ``unicode_safe``: text for files that programs read (JSON, CSV): only the bytes that are not
  UTF-8 are escaped (``\\xNN``); JSON escapes newlines, control characters and backslashes
  itself (a newline in a name reads ``\\n`` there too).
- ``spreadsheet_cell``: a CSV cell that a spreadsheet will not run as a formula: a cell that
  starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading ``'`` (OWASP's
  advice on CSV injection).
"""

from __future__ import annotations

import re

from provenance.dates import describe
from provenance.match.appearance import sighting_sentence, sighting_when
from provenance.model import DateComparison, ExifInfo, Location, Metadata, Segment, Sighting, StreamInfo

__all__ = [
    "bit_rate_text",
    "comparison_text",
    "device_text",
    "exif_taken_text",
    "format_bytes",
    "location_text",
    "segment_text",
    "shown_name",
    "shown_text",
    "sighting_detail",
    "sighting_sentence",
    "sighting_short",
    "sighting_when",
    "sighting_where",
    "spreadsheet_cell",
    "stream_text",
    "unescape_name",
    "unicode_safe",
]

# control characters, and the invisible ones that reorder or hide text (bidi controls, zero-width
# characters, line and paragraph separators, the byte-order mark), and lone surrogates (U+DC80-U+DCFF
# are the bytes that are not UTF-8, as Python decodes file names)
_SPECIAL = "\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ud800-\udfff"
_IN_NAME = re.compile(f"[{_SPECIAL}\\\\]")
_IN_TEXT = re.compile(f"[{_SPECIAL}]")
_SURROGATE = re.compile("[\\ud800-\\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
_ESCAPE = re.compile(r"\\(?:x([0-9a-f]{2})|u([0-9a-f]{4})|([nrt\\]))")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _escape(found: re.Match[str]) -> str:
    char = found.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, as os.fsdecode keeps it
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def shown_name(name: str) -> str:
    """A file name or path as every output shows it: special characters escaped, reversibly (see the module notes)."""
    return _IN_NAME.sub(_escape, name)


def shown_text(text: str) -> str:
    """Free text (an error line, a warning) with the escapes of ``shown_name``, a backslash kept as it is."""
    return _IN_TEXT.sub(_escape, text)


def unicode_safe(text: str) -> str:
    """``text`` with each byte that is not UTF-8 (a surrogate escape) written ``\\xNN``, all else kept."""
    return _SURROGATE.sub(_escape, text)


def _unescape(found: re.Match[str]) -> str:
    byte, code, named = found.groups()
    if byte is not None:
        value = int(byte, 16)
        return chr(0xDC00 + value) if value >= 0x80 else chr(value)
    if code is not None:
        return chr(int(code, 16))
    return {"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}[named]


def unescape_name(shown: str) -> str:
    """The name ``shown_name`` showed (``os.fsencode`` of it gives the bytes on disk)."""
    return _ESCAPE.sub(_unescape, shown)


def spreadsheet_cell(value: object) -> str:
    """A CSV cell as text, with a leading ``'`` when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _words(*values: str | None) -> str:
    """The values that are set, joined by spaces."""
    return " ".join(v for v in values if v)


def sighting_where(s: Sighting) -> str:
    """Where a sighting was: platform, uploader, URL, label and file name, those that are known."""
    return _words(s.platform, s.uploader, s.source_url, s.label, s.file_name)


def sighting_short(s: Sighting | None) -> str:
    """A sighting in a few words: platform, uploader, URL ("" for none)."""
    return "" if s is None else _words(s.platform, s.uploader, s.source_url)


def segment_text(s: Segment) -> str:
    """A match's segment in a line: ``query 0.00 - 10.00 s  =  archive 12.00 - 22.00 s`` and, when some
    of it shows no detail on either side, ``(3.0 s of it low-detail, consistent)``."""
    text = (f"query {s.query_start:7.2f} - {s.query_end:7.2f} s  =  archive "
            f"{s.archive_start:7.2f} - {s.archive_end:7.2f} s")
    return text + (f"  ({s.low_detail:.1f} s of it low-detail, consistent)" if s.low_detail >= 0.05 else "")


def sighting_detail(s: Sighting) -> str:
    """A sighting of a known item: platform, uploader, URL, title and label, else its file name."""
    return _words(s.platform, s.uploader, s.source_url, s.title, s.label) or s.file_name or ""


def comparison_text(c: DateComparison) -> str:
    """One date comparison in a line: the claim and its interval, what it was compared with, the result, the
    UTC moments compared ("--claimed-date 2024 (2024-01-01..2024-12-31) against the earliest sighting ...")."""
    item = f" (item {c.evidence_sha256[:12]})" if c.evidence_sha256 else ""
    if c.relation == "before":
        days = c.older_than_claimed_days or 0
        result = f"older than claimed by {days} day{'s' if days != 1 else ''}" if days else \
            "older than claimed by less than a day"
    else:
        result = "not older than claimed" if c.relation == "within" else "after the claimed interval"
    widened = " in any time zone" if c.claimed_from != c.claimed.start or c.evidence_by != c.evidence.end else ""
    return (f"{c.claim_source} {describe(c.claimed)} against the {c.evidence_source} {describe(c.evidence)}{item}: "
            f"{result} (seen by {c.evidence_by}, claim from {c.claimed_from}{widened})")


def format_bytes(n: int) -> str:
    """A byte count as people read it: ``1,234,567 bytes (1.2 MiB)``."""
    size = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        size /= 1024
        if size < 1024:
            return f"{n:,} bytes ({size:.1f} {unit})"
    return f"{n:,} bytes"


def bit_rate_text(bit_rate: int | None) -> str | None:
    """A bit rate in kilobits per second, ``141 kb/s``; None when unknown or zero."""
    return f"{bit_rate / 1000:.0f} kb/s" if bit_rate else None


def location_text(loc: Location | None) -> str | None:
    """A place: ``lat, lon[, altitude A m]  (from SOURCE: RAW)``; None for no location."""
    if loc is None:
        return None
    alt = f", altitude {loc.altitude:g} m" if loc.altitude is not None else ""
    return f"{loc.latitude:.5f}, {loc.longitude:.5f}{alt}  (from {loc.source}: {loc.raw})"


def device_text(meta: Metadata) -> str | None:
    """Make and model of the device that recorded it (the container's, else EXIF's); None when neither is known."""
    exif = meta.exif
    make = meta.make or (exif.make if exif else None)
    model = meta.model or (exif.model if exif else None)
    return _words(make, model) or None


def exif_taken_text(exif: ExifInfo | None) -> str | None:
    """EXIF DateTimeOriginal with its OffsetTime when there is one; None without it."""
    if exif is None or not exif.datetime_original:
        return None
    return f"{exif.datetime_original} {exif.offset_time or ''}".strip()


def _video_bits(s: StreamInfo) -> list[str | None]:
    rate = None
    if s.avg_frame_rate:
        real = f" (real {s.real_frame_rate:.3f})" if s.real_frame_rate else ""
        rate = f"{s.avg_frame_rate:.3f} fps{real}"
    ratios = s.sample_aspect_ratio or s.display_aspect_ratio
    return [
        f"{s.width}x{s.height}" if s.width and s.height else None,
        f"SAR {s.sample_aspect_ratio or '?'} DAR {s.display_aspect_ratio or '?'}" if ratios else None,
        rate,
        s.pix_fmt,
        "/".join(x for x in (s.color_space, s.color_transfer, s.color_primaries, s.color_range) if x),
        f"rotation {s.rotation:g}°" if s.rotation else None,
    ]


def stream_text(s: StreamInfo) -> str:
    """One stream: ``h264 (High), 480x360, SAR 1:1 DAR 4:3, 20.000 fps (real 20.000), yuv420p, handler 'X'``.

    Video streams show size, aspect ratios, frame rate, pixel format, colour and rotation; audio
    streams sample rate and channels; every stream its handler name. Unknown fields are left out.
    """
    codec = (s.codec or "unknown codec") + (f" ({s.profile})" if s.profile else "")
    bits: list[str | None] = [codec]
    if s.kind == "video":
        bits += _video_bits(s)
    elif s.kind == "audio":
        bits += [f"{s.sample_rate} Hz" if s.sample_rate else None, f"{s.channels} ch" if s.channels else None]
    bits.append(f"handler '{s.handler_name}'" if s.handler_name else None)
    return ", ".join(b for b in bits if b)
