"""How one archived sighting, one stream, a location and a few metadata facts read as text.

Every report that shows these (the terminal report, the HTML evidence report, the triage's
``summary.csv`` and ``index.html``, ``provenance archive show``) takes its words from here, so a
sighting or a stream reads the same wherever it is shown. The HTML report is built from the JSON
record: it decodes the parts it shows (``provenance.codec.from_jsonable``) and calls the same
functions.

Sightings (``provenance.model.Sighting``), each a function because each place shows other fields:

- ``sighting_when``: when it was first seen, or "undated".
- ``sighting_post``: the post, where a source names one (a Telegram chat and message, forwarded from; a web
  archive's page and record).
- ``sighting_where``: platform, uploader, URL, post, label and file name, the "where" of the sighting
  list of a check report (terminal and HTML).
- ``sighting_short``: platform, uploader, URL and post only, for the triage's table cells and its
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
- ``file_locations``: every distinct place the file names (container tags, EXIF GPS), and
  ``distance_km`` between two; ``osm_url``: a place on OpenStreetMap.
- ``media_time``: a moment of a media item, ``00:00:06.50``.

Links. ``web_link`` gives a URL back only when it is plain ``http`` or ``https`` (no scheme that
runs or reads anything, no white space or control characters a browser would drop); the pages
show any other URL as text.

Findings:

- ``finding_line``: the one-line conclusion the text report opens with ("KNOWN: seen 2019-11-05 on
  YouTube; at least 1578 days older than claimed", "NEW: not in the archive", or with no archive
  what the file itself says).
- ``still_match_text``: a still query's match in words ("this picture is the frame at 00:00:06.50
  of X"), None for a video query.
- ``matched_by_text``: what matched, pictures or soundtrack or both, and what the soundtrack says
  ("pictures and soundtrack (the sound where the pictures are, 1% of its bits differ)", "soundtrack
  only (4% of its bits differ): the pictures are not the item's", "pictures (soundtrack replaced: 43%
  of bits differ)", "pictures (the query has no soundtrack)").
- ``segment_text``: a match's segment in a line, "query 0.00 - 10.00 s  =  archive 12.00 - 22.00 s",
  or its soundtrack's, "sound 0.00 - 11.76 s  =  archive 2.97 - 14.73 s".

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

import math
import re
from collections.abc import Sequence

from provenance.dates import describe
from provenance.match.appearance import sighting_sentence, sighting_when
from provenance.media.location import parse_iso6709
from provenance.model import (
    SOUND_BY_BANDS,
    SOUND_DIFFERS,
    SOUND_REMOVED,
    SOUND_UNCOMPARED,
    Appearance,
    DateComparison,
    ExifInfo,
    Location,
    Match,
    Metadata,
    Segment,
    Sighting,
    SoundtrackMatch,
    StreamInfo,
)

__all__ = [
    "SOUND_ONLY_FINDING",
    "bit_rate_text",
    "comparison_text",
    "device_text",
    "distance_km",
    "exif_taken_text",
    "file_locations",
    "finding_line",
    "format_bytes",
    "location_text",
    "matched_by_text",
    "media_time",
    "osm_url",
    "segment_text",
    "shown_name",
    "shown_text",
    "sighting_detail",
    "sighting_post",
    "sighting_sentence",
    "sighting_short",
    "sighting_when",
    "sighting_where",
    "spreadsheet_cell",
    "still_match_text",
    "stream_text",
    "unescape_name",
    "unicode_safe",
    "web_link",
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


def sighting_post(s: Sighting) -> str:
    """The post a sighting is of, where a source says: ``in CHAT (TYPE) message ID, forwarded from X`` or, from a
    web archive, ``on page URL, WARC record ID`` ("" for none)."""
    chat = s.chat or (f"chat {s.chat_id}" if s.chat_id else None)
    where = _words(f"in {chat}" if chat else None, f"({s.chat_type})" if chat and s.chat_type else None,
                   f"message {s.message_id}" if s.message_id else None)
    forwarded = f"forwarded from {s.forwarded_from}" if s.forwarded_from else None
    page = f"on page {s.page_url}" if s.page_url and s.page_url != s.source_url else None
    record = f"WARC record {s.record_id}" if s.record_id else None
    return ", ".join(part for part in (where, forwarded, page, record) if part)


def sighting_where(s: Sighting) -> str:
    """Where a sighting was: platform, uploader, URL, post, label and file name, those that are known."""
    return _words(s.platform or s.platform_raw, s.uploader, s.source_url, sighting_post(s), s.label, s.file_name)


def sighting_short(s: Sighting | None) -> str:
    """A sighting in a few words: platform, uploader, URL, post ("" for none)."""
    return "" if s is None else _words(s.platform or s.platform_raw, s.uploader, s.source_url, sighting_post(s))


def segment_text(s: Segment, side: str = "query") -> str:
    """A match's segment in a line: ``query 0.00 - 10.00 s  =  archive 12.00 - 22.00 s`` and, when some
    of it shows no detail on either side, ``(3.0 s of it low-detail, consistent)``. ``side`` names the
    query's time line: "sound" for a stretch of the soundtrack (``Match.soundtrack``'s segments)."""
    text = (f"{side} {s.query_start:7.2f} - {s.query_end:7.2f} s  =  archive "
            f"{s.archive_start:7.2f} - {s.archive_end:7.2f} s")
    return text + (f"  ({s.low_detail:.1f} s of it low-detail, consistent)" if s.low_detail >= 0.05 else "")


def sighting_detail(s: Sighting) -> str:
    """A sighting of a known item: platform, uploader, URL, post, title and label, else its file name."""
    return (_words(s.platform or s.platform_raw, s.uploader, s.source_url, sighting_post(s), s.title, s.label)
            or s.file_name or "")


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


LOCATION_TAGS = ("com.apple.quicktime.location.ISO6709", "location", "location-eng", "\u00a9xyz")
"""Container tags that hold an ISO 6709 place, as ffprobe names them."""
SAME_PLACE_KM = 0.1  # places closer than this are one place written twice (rounding, two tags of one writer)
EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)
_WEB_URL = re.compile(r"https?://[^\s/?#]+\S*", re.IGNORECASE)


def web_link(url: str | None) -> str | None:
    """``url`` when it is a plain ``http``/``https`` address a page may link to, else None.

    Anything else (``javascript:``, ``data:``, ``file:``, a relative path) is shown as text. White
    space and control characters refuse the URL too: browsers drop them, so ``java\tscript:`` would
    run as ``javascript:``.
    """
    if not url or _IN_TEXT.search(url) or not _WEB_URL.fullmatch(url):
        return None
    return url


def media_time(seconds: float) -> str:
    """A moment in a media item as ``HH:MM:SS.ss``: ``00:00:06.50``."""
    hundredths = round(max(seconds, 0.0) * 100)
    hours, rest = divmod(hundredths, 360_000)
    minutes, rest = divmod(rest, 6_000)
    return f"{hours:02d}:{minutes:02d}:{rest / 100:05.2f}"


def distance_km(a: Location, b: Location) -> float:
    """The great-circle distance between two places, in kilometres (haversine, on the mean Earth radius)."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat, dlon = lat2 - lat1, math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def osm_url(loc: Location) -> str:
    """The place on OpenStreetMap, marked, at street zoom."""
    lat, lon = f"{loc.latitude:.6f}", f"{loc.longitude:.6f}"
    return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=15/{lat}/{lon}"


def file_locations(meta: Metadata) -> tuple[Location, ...]:
    """Every distinct place the file names: its container location, each location tag, EXIF GPS.

    Places within ``SAME_PLACE_KM`` of one already listed are the same place written twice and are
    left out; more than one place means the file's locations disagree.
    """
    found = [meta.location] if meta.location is not None else []
    for key, value in meta.tags:
        if key in LOCATION_TAGS:
            parsed = parse_iso6709(value, source=key)
            if parsed is not None:
                found.append(parsed)
    if meta.exif is not None and meta.exif.location is not None:
        found.append(meta.exif.location)
    places: list[Location] = []
    for loc in found:
        if all(distance_km(loc, seen) >= SAME_PLACE_KM for seen in places):
            places.append(loc)
    return tuple(places)


def _days(days: int) -> str:
    return f"at least {days} day{'s' if days != 1 else ''}" if days else "less than a day"


def still_match_text(match: Match, query_still: bool) -> str | None:
    """A still's match in words: "this picture is the frame at 00:00:06.50 of X" for a video item, "this
    picture is the same picture as X" (edited or not) for a still item; None for a video query.

    A still query covers a still item whole and a video item not at all (``provenance.match.verdict.
    coverages``), so the item's kind is read from the match's coverage of it.
    """
    if not query_still:
        return None
    name = shown_name(match.item_name)
    names = {e.name for e in match.edits}
    # a picture is always encoded anew when it is saved: only the other edits change what it shows
    edits = sorted(names - {"reencode"})
    edited = f" (edited: {', '.join(edits)})" if edits else ""
    if match.verdict == "identical":
        return f"this picture is the archived picture {name} itself (same SHA-256)"
    if match.archive_coverage > 0.5:
        unedited = ", re-encoded but otherwise unedited" if "reencode" in names else ", unedited"
        return f"this picture is the same picture as {name}" + (edited or unedited)
    moment = match.segments[0].archive_start if match.segments else 0.0
    return f"this picture is the frame at {media_time(moment)} of {name}{edited}"


def _bits_differ(sound: SoundtrackMatch | None) -> str | None:
    """"4% of its bits differ", from the soundtrack's bit error rate; None without one."""
    if sound is None or sound.bit_error_rate is None:
        return None
    return f"{sound.bit_error_rate:.0%} of its bits differ"


def matched_by_text(match: Match) -> str:
    """What matched the item, in words: the pictures, the soundtrack or both, and what the soundtrack says.

    "pictures and soundtrack (the sound where the pictures are, 1% of its bits differ)" (or "+2.0 s
    from where the pictures are"), "soundtrack only (4% of its bits differ): the pictures are not the
    item's", and for a match by pictures what the sound came to: "pictures (soundtrack replaced: 43% of
    bits differ)" ("replaced by the band print: ..." where the sound was too short for Chromaprint),
    "pictures (the query has no soundtrack)", "pictures (soundtrack not compared:
    silence or hum: ...)", or "pictures" alone where it was not compared at all (a still, a record made
    before soundtracks were). The ``soundtrack.details`` of ``provenance.match.soundtrack`` give the words.
    """
    sound = match.soundtrack
    differ = _bits_differ(sound)
    if match.matched_by == "soundtrack":
        return f"soundtrack only{f' ({differ})' if differ else ''}: the pictures are not the item's"
    if match.matched_by == "both":
        said = [p for p in (f"the sound {sound.details}" if sound is not None and sound.details else None, differ) if p]
        return "pictures and soundtrack" + (f" ({', '.join(said)})" if said else "")
    if sound is None:
        return "pictures"
    if sound.status == SOUND_DIFFERS:
        rate = f": {sound.bit_error_rate:.0%} of bits differ" if sound.bit_error_rate is not None else ""
        by = " by the band print" if sound.fingerprint == SOUND_BY_BANDS else ""
        return f"pictures (soundtrack replaced{by}{rate})"
    if sound.status == SOUND_REMOVED:
        return "pictures (the query has no soundtrack)"
    if sound.status == SOUND_UNCOMPARED:
        return "pictures (soundtrack not compared" + (f": {sound.details})" if sound.details else ")")
    return "pictures"


def _date_finding(appearance: Appearance | None) -> str | None:
    """The date contradiction in a few words, or what the claim came to; None when no date was compared."""
    if appearance is None:
        return None
    if appearance.older_than_claimed_days is not None:
        return f"{_days(appearance.older_than_claimed_days)} older than claimed"
    for c in appearance.comparisons:
        if c.relation == "before":
            return f"the file's {c.evidence_source} is {_days(c.older_than_claimed_days or 0)} before the claimed date"
    if any(c.claim_source == "--claimed-date" for c in appearance.comparisons):
        return "the claimed date is not contradicted"
    return None


def _first_seen(appearance: Appearance | None) -> str:
    first = appearance.earliest if appearance is not None else None
    if first is None:
        return "no dated sighting"
    where = " ".join(f"{word} {value}" for word, value in (("on", first.platform or first.platform_raw),
                                                           ("by", first.uploader)) if value)
    return f"seen {sighting_when(first)}" + (f" {where}" if where else "")


def _file_says(meta: Metadata) -> str:
    taken = meta.creation_time or meta.device_creation_date or exif_taken_text(meta.exif)
    writer = meta.encoder or meta.software or (meta.exif.software if meta.exif else None)
    place = meta.location or (meta.exif.location if meta.exif else None)
    device = device_text(meta)
    facts = [f"created {taken}" if taken else None, f"device {device}" if device else None,
             f"written by {writer}" if writer else None,
             f"location {place.latitude:.5f}, {place.longitude:.5f}" if place else None]
    places = file_locations(meta)
    if len(places) > 1:
        facts.append(f"but its {len(places)} locations disagree, {distance_km(places[0], places[1]):,.1f} km apart")
    said = [f for f in facts if f]
    return "the file says " + ", ".join(said) if said else "the file names no creation time, device or place"


SOUND_ONLY_FINDING = "by the soundtrack only (its pictures are not archived)"
"""What the finding line says when every match is by the soundtrack alone."""


def finding_line(meta: Metadata, verdict: str | None, matches: Sequence[Match], appearance: Appearance | None,
                 *, coverage: float = 0.0) -> str:
    """The conclusion of a check in one line, before any detail.

    ``verdict`` is the archive verdict (a key of ``provenance.match.verdict.ARCHIVE_VERDICTS``), None
    when no archive was consulted: then the line says what the file itself says. ``coverage`` is the
    share of the query that is archived footage (said for a partly known file). When every match is by
    the soundtrack alone, the line says so (``SOUND_ONLY_FINDING``): the archived footage is then the sound.
    """
    date = _date_finding(appearance)
    if verdict is None:
        return "; ".join(p for p in (f"NO ARCHIVE CONSULTED: {_file_says(meta)}", date) if p)
    if verdict == "new" or not matches:
        return "; ".join(p for p in ("NEW: not in the archive", date) if p)
    head = "KNOWN" if verdict == "known" else f"PARTLY KNOWN: {coverage:.0%} of it is archived footage"
    best = max(matches, key=lambda m: m.score)
    what = still_match_text(best, meta.kind == "still") or (
        "identical file (same SHA-256)" if best.verdict == "identical" else None) or (
        # the archive verdict counts the sound's stretches: say when nothing else matched
        SOUND_ONLY_FINDING if all(m.matched_by == "soundtrack" for m in matches) else None)
    parts = [p for p in (what, _first_seen(appearance), date) if p]
    return f"{head}: " + "; ".join(parts) if verdict == "known" else "; ".join([head, *parts])
