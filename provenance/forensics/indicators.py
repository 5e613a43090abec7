"""Edit indicators: plain statements of what in a file's own structure suggests it was changed.

Each indicator is a fact found in the file, never a verdict: a camera original can carry one (a
phone writes local time as UTC, an old Android omits a key), and a careful forger can avoid all of
them. They are listed so an analyst can weigh them:

* ``creation-times-disagree``: the box headers, the device's own date, XMP or EXIF disagree;
* ``modified-after-creation``: ``mvhd`` says the file was modified long after it was created;
* ``implausible-time``: a header time before 1990 or in the future (Unix time written as 1904-based);
* ``edit-list-trims``: an edit list skips media at the start, plays only part of it, or cuts it;
* ``camera-claim-with-encoder``: camera make/model or a camera writer, and a software encoder string;
* ``track-durations-differ``: the tracks, or the movie and its tracks, have different lengths;
* ``camera-metadata-missing``: the writer or brand implies a camera, but its metadata is absent;
* ``locations-disagree``: two location tags name different places;
* ``starts-without-keyframe``: the video begins with packets that cannot be decoded alone;
* ``several-writers``: more than one program left its signature;
* ``c2pa-invalid`` / ``c2pa-stripped``: Content Credentials that fail, or are pointed to but missing;
* ``structure-damaged``: truncated or malformed boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from provenance.forensics.c2pa import C2paReport
from provenance.forensics.lastwriter import Facts, LastWriter
from provenance.forensics.structure.model import BoxStructure, Track
from provenance.media.location import parse_iso6709
from provenance.model import ExifInfo

TIME_TOLERANCE = 2.0  # seconds: writers round or stamp the boxes a moment apart
MODIFIED_TOLERANCE = 60.0
DURATION_TOLERANCE = 0.5  # seconds between tracks (audio and video of a recording end a few frames apart)
AUDIO_PRIMING = 0.05  # seconds of an audio edit list start that are encoder delay, not a trim
LOCATION_TOLERANCE = 0.001  # degrees (about 100 m)
EARLIEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=UTC)
UNIX_TO_1904 = 2_082_844_800
LOCATION_KEYS = ("©xyz", "com.apple.quicktime.location.ISO6709", "location", "location-eng", "loci")
FFMPEG_HANDLERS = frozenset({"VideoHandler", "SoundHandler", "SubtitleHandler", "DataHandler", "TimeCodeHandler",
                             "MetadataHandler", "HintHandler"})
CAMERA_WRITERS = ("camera",)
EDITOR_SOFTWARE = ("adobe", "photoshop", "lightroom", "gimp", "snapseed", "picsart", "canva", "capcut", "vsco",
                   "affinity", "pixelmator", "paint.net", "facetune")


@dataclass(frozen=True)
class Indicator:
    """One edit indicator: a short code, a title and the detail found in the file."""

    code: str
    title: str
    detail: str


def _parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 time with its zone (``Z``, ``+HH:MM`` or ``+HHMM``); None without a zone or when unparseable."""
    if not text:
        return None
    value = text.strip().replace("Z", "+00:00")
    if len(value) >= 5 and value[-5] in "+-" and value[-4:].isdigit():
        value = value[:-2] + ":" + value[-2:]
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def _offset_note(delta: float) -> str:
    """A hint when a difference is a whole time-zone offset (a device writing local time as UTC)."""
    quarter = round(delta / 900)
    if quarter and abs(delta - quarter * 900) <= TIME_TOLERANCE and abs(delta) <= 14 * 3600:
        hours, rest = divmod(abs(quarter) * 15, 60)
        sign = "-" if delta < 0 else "+"
        return f" (exactly {sign}{hours:02d}:{rest:02d}: a UTC offset, e.g. local time written as UTC)"
    return ""


def _header_times(s: BoxStructure) -> list[tuple[str, str]]:
    times = []
    if s.movie is not None and s.movie.creation_time:
        times.append(("mvhd creation", s.movie.creation_time))
    for t in s.tracks:
        if t.creation_time:
            times.append((f"track {t.track_id} tkhd creation", t.creation_time))
        if t.media_creation_time:
            times.append((f"track {t.track_id} mdhd creation", t.media_creation_time))
    return times


def _time_indicators(s: BoxStructure | None, exif: ExifInfo | None) -> list[Indicator]:
    found: list[Indicator] = []
    reference: tuple[str, datetime] | None = None
    if s is not None:
        times = [(name, _parse_time(text)) for name, text in _header_times(s)]
        times = [(n, t) for n, t in times if t is not None]
        if times:
            reference = times[0]
            earliest, latest = min(times, key=lambda x: x[1]), max(times, key=lambda x: x[1])
            delta = (latest[1] - earliest[1]).total_seconds()
            if delta > TIME_TOLERANCE:
                found.append(Indicator("creation-times-disagree", "creation times in the box headers disagree",
                                       f"{earliest[0]} {earliest[1]:%Y-%m-%dT%H:%M:%SZ} vs {latest[0]} "
                                       f"{latest[1]:%Y-%m-%dT%H:%M:%SZ}: {_span(delta)} apart{_offset_note(delta)}"))
        if s.movie is not None and s.movie.creation_time and s.movie.modification_time:
            created, modified = _parse_time(s.movie.creation_time), _parse_time(s.movie.modification_time)
            if created and modified and (modified - created).total_seconds() > MODIFIED_TOLERANCE:
                found.append(Indicator("modified-after-creation", "the file was modified after it was created",
                                       f"mvhd modification {s.movie.modification_time} is "
                                       f"{_span((modified - created).total_seconds())} after its creation "
                                       f"{s.movie.creation_time}: a program re-wrote the headers"))
        now = datetime.now(UTC)
        for name, text in _header_times(s) + ([("mvhd modification", s.movie.modification_time)]
                                               if s.movie and s.movie.modification_time else []):
            moment = _parse_time(text)
            if moment is None:
                continue
            if moment < EARLIEST_PLAUSIBLE:
                as_unix = moment + timedelta(seconds=UNIX_TO_1904)
                found.append(Indicator("implausible-time", f"{name} is implausibly early",
                                       f"{text} (counted from 1904 as the format requires); read as Unix time, the "
                                       f"same number is {as_unix:%Y-%m-%dT%H:%M:%SZ}: the writer did not follow the "
                                       "format"))
                break
            if moment > now + timedelta(days=1):
                found.append(Indicator("implausible-time", f"{name} is in the future", f"{text}"))
                break
        device = _parse_time(next(iter(s.meta("com.apple.quicktime.creationdate")), None))
        if device is not None and reference is not None:
            delta = (device - reference[1]).total_seconds()
            if abs(delta) > TIME_TOLERANCE:
                found.append(Indicator("creation-times-disagree", "the device's capture date and the headers disagree",
                                       f"com.apple.quicktime.creationdate {device.isoformat()} vs {reference[0]} "
                                       f"{reference[1]:%Y-%m-%dT%H:%M:%SZ}: {_span(delta)} apart{_offset_note(delta)}"))
        if s.xmp is not None and reference is not None:
            xmp_time = _parse_time(s.xmp.create_date)
            if xmp_time is not None:
                # XMP dates are often written to the minute
                tolerance = 61.0 if xmp_time.second == 0 else TIME_TOLERANCE
                delta = (xmp_time - reference[1]).total_seconds()
                if abs(delta) > tolerance:
                    found.append(Indicator("creation-times-disagree", "the XMP creation date and the headers disagree",
                                           f"xmp:CreateDate {s.xmp.create_date} vs {reference[0]} "
                                           f"{reference[1]:%Y-%m-%dT%H:%M:%SZ}: {_span(delta)} apart"
                                           f"{_offset_note(delta)}"))
    if exif is not None and exif.datetime_original and exif.offset_time and reference is not None:
        taken = _parse_time(exif.datetime_original.replace(":", "-", 2).replace(" ", "T") + exif.offset_time)
        if taken is not None and abs((taken - reference[1]).total_seconds()) > TIME_TOLERANCE:
            found.append(Indicator("creation-times-disagree", "EXIF DateTimeOriginal and the headers disagree",
                                   f"{exif.datetime_original} {exif.offset_time} vs {reference[0]}"))
    return found


def _presented_seconds(track: Track) -> float | None:
    """How long the track plays: its edit list when it has one, else its media duration."""
    if track.edits:
        total = sum(e.segment_seconds or 0.0 for e in track.edits)
        return total or track.media_seconds
    return track.media_seconds


def _edit_indicators(s: BoxStructure) -> list[Indicator]:
    found = []
    for t in s.tracks:
        if not t.edits:
            continue
        media = [e for e in t.edits if e.media_time >= 0]
        details = []
        if len(media) > 1:
            details.append(f"{len(media)} media segments: the track plays as a cut of its media")
        if media and t.timescale:
            start = media[0].media_time
            if t.handler_type == "vide":
                allowance = (t.first_composition_offset or 0) + (t.first_sample_delta or 0) // 2
                trims = start > allowance
            else:
                trims = start / t.timescale > AUDIO_PRIMING
            if trims:
                details.append(f"playback starts {start / t.timescale:.3f} s into the media (the first "
                               f"{start / t.timescale:.3f} s are skipped)")
        played = sum(e.segment_seconds or 0.0 for e in media)
        if media and t.media_seconds and t.media_seconds - played - (
                media[0].media_seconds or 0.0) > DURATION_TOLERANCE:
            details.append(f"plays {played:.3f} s of {t.media_seconds:.3f} s of media")
        empty = sum(e.segment_seconds or 0.0 for e in t.edits if e.media_time < 0)
        if empty > DURATION_TOLERANCE:
            details.append(f"{empty:.3f} s of empty edit (the track is delayed)")
        if details:
            found.append(Indicator("edit-list-trims", f"the edit list of track {t.track_id} ({t.handler_type}) trims",
                                   "; ".join(details)))
    return found


def _duration_indicators(s: BoxStructure) -> list[Indicator]:
    found = []
    lengths = [(t, _presented_seconds(t)) for t in s.tracks if t.handler_type in ("vide", "soun")]
    lengths = [(t, d if d is not None else 0.0) for t, d in lengths]
    if len(lengths) >= 2:
        shortest = min(lengths, key=lambda x: x[1])
        longest = max(lengths, key=lambda x: x[1])
        if longest[1] - shortest[1] > DURATION_TOLERANCE:
            found.append(Indicator("track-durations-differ", "the tracks have different lengths",
                                   f"track {shortest[0].track_id} ({shortest[0].handler_type}) {shortest[1]:.3f} s vs "
                                   f"track {longest[0].track_id} ({longest[0].handler_type}) {longest[1]:.3f} s"))
    if s.movie is not None and s.movie.seconds is not None and lengths:
        longest_seconds = max(d for _, d in lengths)
        if abs(s.movie.seconds - longest_seconds) > DURATION_TOLERANCE and not s.fragmented:
            found.append(Indicator("track-durations-differ", "the movie and its tracks have different lengths",
                                   f"mvhd {s.movie.seconds:.3f} s vs the longest track {longest_seconds:.3f} s"))
    for t in s.tracks:
        if t.media_seconds is not None and t.sample_table_seconds is not None and not s.fragmented and abs(
                t.media_seconds - t.sample_table_seconds) > DURATION_TOLERANCE:
            found.append(Indicator("track-durations-differ", f"track {t.track_id}'s header and samples disagree",
                                   f"mdhd {t.media_seconds:.3f} s vs its sample table {t.sample_table_seconds:.3f} s"))
    return found


def _locations(s: BoxStructure | None) -> list[Indicator]:
    if s is None:
        return []
    places = []
    for item in s.metadata:
        if item.key in LOCATION_KEYS:
            loc = parse_iso6709(item.value, source=f"{item.source} {item.key}")
            if loc is not None:
                places.append(loc)
    for a in places:
        for b in places:
            if (abs(a.latitude - b.latitude) > LOCATION_TOLERANCE
                    or abs(a.longitude - b.longitude) > LOCATION_TOLERANCE):
                return [Indicator("locations-disagree", "two location tags name different places",
                                  f"{a.source} {a.raw} vs {b.source} {b.raw}")]
    return []


def _camera_claim(facts: Facts, writer: LastWriter) -> str | None:
    if writer.kind in CAMERA_WRITERS:
        return f"the writer is a camera ({writer.writer})"
    make, model = facts.get("make"), facts.get("model")
    if make or model:
        return f"camera make/model {' '.join(make[:1] + model[:1])}"
    return None


def _encoder_strings(facts: Facts, writer: LastWriter) -> list[str]:
    strings = [m.writer for m in writer.encoders if m.rule in ("x264", "x265", "libavcodec")]
    strings += [v for v in facts.get("encoder_tag") if v.startswith(("Lavf", "HandBrake"))]
    strings += [v for v in facts.get("exif_software") if any(e in v.lower() for e in EDITOR_SOFTWARE)]
    return strings


def _missing_camera_metadata(s: BoxStructure | None, facts: Facts, writer: LastWriter,
                             exif: ExifInfo | None) -> list[Indicator]:
    found = []
    keys = set(facts.get("meta_key"))
    families = {writer.rule} | {m.rule for m in writer.also}
    if "apple-avfoundation" in families and "com.apple.quicktime.make" not in keys:
        found.append(Indicator("camera-metadata-missing", "Apple-written file without camera metadata",
                               "Core Media wrote it, but the com.apple.quicktime.make/model/software keys an iPhone or "
                               "iPad camera writes are absent: an export or re-save, or the keys were stripped"))
    if writer.rule == "apple-camera-video" and "com.apple.quicktime.creationdate" not in keys:
        found.append(Indicator("camera-metadata-missing", "no capture date key",
                               "the iOS camera writes com.apple.quicktime.creationdate; it is absent"))
    device_keys = [k for k in keys if k.startswith(("com.android.", "com.samsung.", "©xyz", "sm"))]
    if "android-mediamuxer" in families and not device_keys:
        found.append(Indicator("camera-metadata-missing", "Android-written file without any device metadata",
                               "Android's MPEG4Writer wrote it, but it carries no com.android.* keys, no location and "
                               "no maker atoms (recent Android versions write com.android.version; an app re-encoding "
                               "on the device writes none of them)"))
    brands = " ".join(facts.get("compatible_brands") + facts.get("brand"))
    if s is not None and any(b in brands for b in ("3gp4", "3gp5", "3gp6", "3g2a")) and not (
            facts.get("make") or any(k.startswith(("com.android.", "com.apple.", "©xyz", "sm")) for k in keys)):
        found.append(Indicator("camera-metadata-missing", "a phone's 3GPP brand without any device metadata",
                               f"brands {brands!r} are those phones write, but no make, model, location or "
                               "device keys"))
    if exif is not None and exif.make and not exif.datetime_original:
        found.append(Indicator("camera-metadata-missing", "EXIF names a camera but has no capture time",
                               f"EXIF Make {exif.make!r} without DateTimeOriginal"))
    if s is not None and s.file_type is not None and s.file_type.major_brand in ("heic", "heix") and exif is None:
        found.append(Indicator("camera-metadata-missing", "HEIC without EXIF", "cameras writing HEIC embed EXIF"))
    return found


def edit_indicators(structure: BoxStructure | None, facts: Facts, writer: LastWriter,
                    c2pa: C2paReport | None = None, exif: ExifInfo | None = None) -> tuple[Indicator, ...]:
    """Every edit indicator found in what the file says about itself (in a fixed order)."""
    found: list[Indicator] = []
    found += _time_indicators(structure, exif)
    if structure is not None:
        found += _edit_indicators(structure)
        found += _duration_indicators(structure)
    claim = _camera_claim(facts, writer)
    encoders = _encoder_strings(facts, writer)
    if claim and encoders:
        found.append(Indicator("camera-claim-with-encoder", "a camera origin claimed, but a software encoder wrote it",
                               f"{claim}, and {', '.join(dict.fromkeys(encoders))}"))
    found += _missing_camera_metadata(structure, facts, writer, exif)
    found += _locations(structure)
    if structure is not None and structure.gop is not None and not structure.gop.first_packet_keyframe:
        found.append(Indicator("starts-without-keyframe", "the video starts without a keyframe",
                               "its first packet is not a keyframe: typical of a cut with stream copy (-c copy) "
                               "at a point that is not a keyframe"))
    others = [m for m in writer.also if m.kind != "software-tag" and m.family != writer.family]
    if writer.rule is not None and others:
        found.append(Indicator("several-writers", "more than one program left its signature",
                               f"last: {writer.writer}; also: " + "; ".join(dict.fromkeys(m.writer for m in others))))
    elif writer.family == "ffmpeg":
        kept = [h for h in facts.get("handler_name") if h not in FFMPEG_HANDLERS]
        if kept:
            found.append(Indicator("several-writers", "ffmpeg kept the handler names of an earlier writer",
                                   f"handler names {', '.join(repr(h) for h in kept)} are not ffmpeg's own: it "
                                   "re-muxed or re-encoded a file another program wrote"))
    if c2pa is not None and c2pa.state == "Invalid":
        found.append(Indicator("c2pa-invalid", "the Content Credentials do not verify", c2pa.statement))
    if (c2pa is not None and c2pa.state == "absent" and structure is not None and structure.xmp is not None
            and structure.xmp.provenance):
        found.append(Indicator("c2pa-stripped", "Content Credentials pointed to but missing",
                               f"XMP dcterms:provenance points to {structure.xmp.provenance}, but the file holds no "
                               "manifest: it was removed (re-saved or re-muxed after signing)"))
    if structure is not None and structure.problems:
        damaged = [p for p in structure.problems if "truncated" in p or "not a box" in p or "declares" in p]
        if damaged:
            found.append(Indicator("structure-damaged", "damaged or truncated structure", damaged[0]))
    return tuple(found)

