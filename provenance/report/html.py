"""The HTML evidence report for people: one self-contained file rendered from the JSON record.

Everything is inline: CSS in the page, the contact sheet and the side-by-side pictures as ``data:``
URIs, each match's timeline as SVG. Nothing is fetched when it is opened, so it reads the same
offline, years later; the only links lead away from it (a sighting's http/https URL, a location on
OpenStreetMap), and every other URL is shown as text.

The page opens with its conclusion (``summary_section``: verdict, first seen, the edits, the date
contradiction), then the details. Each section is one function of ``SECTIONS`` taking the ``Page``
(the record decoded into the model by ``page_of``) and rendering its macro of
``templates/sections.html.j2``; a section is added by writing its function and listing it there. The page
is built only from the (signed) JSON record and the pictures whose SHA-256 that record holds (the
contact sheet, and the side-by-side JPEGs of its "side_by_side" listing: ``shown_matches``).
It is rendered before the page's own SHA-256 is put into the record and the record is signed, so
it names the signing key but cannot show the signature or any digest over the finished record.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup, escape

from provenance.codec import from_jsonable
from provenance.forensics.c2pa import C2paReport
from provenance.forensics.indicators import Indicator
from provenance.forensics.lastwriter import LastWriter
from provenance.match.appearance import EARLIEST_SIGHTING
from provenance.match.verdict import ARCHIVE_VERDICTS, VERDICTS
from provenance.model import Appearance, Edit, Location, Match, Metadata, Segment, Sighting, SoundtrackMatch
from provenance.report import formatters as fmt
from provenance.report.side_by_side import NO_PICTURE, SOUND_ONLY, MatchViews
from provenance.report.timeline import timeline_svg

TEMPLATE = "report.html.j2"
SECTIONS_TEMPLATE = "sections.html.j2"


def _get(data: object, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _size(n: int | None) -> str:
    return "?" if n is None else fmt.format_bytes(n)


def metadata_rows(meta: Metadata) -> tuple[list[tuple[str, str | None, str]], list[tuple[str, str]]]:
    """The fields that matter most (label, value or None, note) and the other container facts."""
    exif = meta.exif
    key = [
        ("Creation time (container)", meta.creation_time, meta.creation_time_note or ""),
        ("Creation date (device)", meta.device_creation_date, "com.apple.quicktime.creationdate, with offset"),
        ("Taken (EXIF)", fmt.exif_taken_text(exif), "EXIF DateTimeOriginal"),
        ("Device (make / model)", fmt.device_text(meta), ""),
        ("Encoder", meta.encoder, ""),
        ("Software", meta.software or (exif.software if exif else None), ""),
        ("Location", fmt.location_text(meta.location or (exif.location if exif else None)), ""),
    ]
    if meta.kind != "still":  # EXIF applies to stills only
        key = [row for row in key if row[0] != "Taken (EXIF)"]
    brands = " ".join(meta.compatible_brands)
    other = [
        ("Kind", meta.kind),
        ("Container", meta.format_long_name or meta.format_name),
        ("Brand", f"{meta.major_brand} ({brands})" if meta.major_brand else None),
        ("Duration", f"{meta.duration:.3f} s" if meta.duration is not None else None),
        ("Bit rate", fmt.bit_rate_text(meta.bit_rate)),
        ("Handler names", ", ".join(meta.handler_names) or None),
    ]
    return key, [(k, v) for k, v in other if v]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True)

EVIDENCE_SCHEMA = "provenance.evidence"
"""The schema of the evidence report's record (``provenance.evidence.record.SCHEMA`` is this one): the page
tells an evidence report, which ``verify`` checks, from other records it is drawn for."""


@dataclass(frozen=True)
class Structure:
    """The parts of the record's structure report (``check --structure``) that the page shows."""

    layout: str
    writer: LastWriter
    indicators: tuple[Indicator, ...]
    c2pa: C2paReport


@dataclass(frozen=True)
class EmbeddedJpeg:
    """One picture the page embeds as a ``data:`` URI, as the record lists it: its SHA-256 and size."""

    sha256: str
    bytes: int
    media_type: str = "image/jpeg"

    @classmethod
    def of(cls, jpeg: bytes) -> EmbeddedJpeg:
        """The listing of ``jpeg``."""
        return cls(sha256=hashlib.sha256(jpeg).hexdigest(), bytes=len(jpeg))


@dataclass(frozen=True)
class ShownView:
    """One matched moment the page shows side by side, as the record lists it.

    ``segment`` counts the match's segments from 0; ``position`` is "start", "middle" or "end";
    ``picture_kind`` the archived picture's kind ("shot" or "every"). ``crop_box`` (drawn on the
    archived picture) and ``inset_box`` (drawn on the query frame) are (left, top, right, bottom) in
    0..1 of that picture; ``marks`` what the query frame is marked with ("mirrored", "turned (...)").
    """

    segment: int
    position: str
    query_time: float
    archive_time: float
    picture_kind: str
    crop_box: tuple[float, float, float, float] | None
    inset_box: tuple[float, float, float, float] | None
    marks: tuple[str, ...]
    query: EmbeddedJpeg
    archive: EmbeddedJpeg
    difference: EmbeddedJpeg


@dataclass(frozen=True)
class ShownMatch:
    """The views of one match the page shows (the record's "side_by_side" listing), or why there are none."""

    sha256: str  # of the matched archived item
    item_name: str
    views: tuple[ShownView, ...]
    note: str | None  # "no archived picture" (of the item, or of its matched moments) when ``views`` is empty


def shown_matches(matches: Sequence[MatchViews]) -> tuple[tuple[ShownMatch, ...], tuple[bytes, ...]]:
    """What the page shows of side-by-side ``matches`` (``provenance.report.side_by_side``): the listing
    the record holds, and the JPEGs to embed (to pass to ``render_html`` as ``pictures``).

    The page shows, of each moment, the query frame, the archived picture and the difference view; the
    warped picture is left out (the difference view is made from it).
    """
    listing, jpegs = [], []
    for m in matches:
        views = []
        for v in m.views:
            jpegs += [v.query_jpeg, v.archive_jpeg, v.difference_jpeg]
            views.append(ShownView(v.segment, v.position, v.query_time, v.archive_time, v.picture_kind, v.crop_box,
                                   v.inset_box, v.marks, EmbeddedJpeg.of(v.query_jpeg),
                                   EmbeddedJpeg.of(v.archive_jpeg), EmbeddedJpeg.of(v.difference_jpeg)))
        listing.append(ShownMatch(m.sha256, m.item_name, tuple(views), m.note))
    return tuple(listing), tuple(jpegs)


@dataclass(frozen=True)
class Page:
    """What the sections of the page are drawn from: the record, and the parts of it decoded into the model."""

    record: Mapping[str, Any]
    check: Mapping[str, Any]
    meta: Metadata
    matches: tuple[Match, ...]  # in the record's order
    appearance: Appearance | None
    structure: Structure | None  # None when the record holds no structure report
    contact_sheet: bytes | None
    json_name: str
    signer_key_id: str | None
    side_by_side: tuple[ShownMatch, ...] | None = None  # None when the record has no "side_by_side" listing
    pictures: Mapping[str, bytes] = field(default_factory=dict)  # the JPEGs to embed, by SHA-256

    @property
    def evidence(self) -> bool:
        """Whether the record is an evidence report (``provenance report``), which ``verify`` checks, and
        not another record drawn on the same page (a triage file's)."""
        return self.record.get("schema") == EVIDENCE_SCHEMA

    @property
    def still(self) -> bool:
        """Whether the examined file is a single picture."""
        return self.meta.kind == "still"

    @property
    def best(self) -> Match | None:
        """The match with the highest score, None without matches."""
        return max(self.matches, key=lambda m: m.score, default=None)


@dataclass(frozen=True)
class Summary:
    """The conclusion box that opens the page."""

    finding: str
    verdict: str
    best: str | None
    first_when: str | None
    first_where: Markup | None
    first_by: str | None
    first_none: str
    edits: tuple[str, ...]
    edits_none: str
    dates: str


def link(url: str | None, text: str | None = None) -> Markup:
    """``url`` as a link when it is plain http or https (``formatters.web_link``), else as escaped text."""
    safe = fmt.web_link(url)
    if safe is None:
        return escape(fmt.shown_text(url or ""))
    return Markup('<a href="{}" rel="noopener noreferrer">{}</a>').format(safe, fmt.shown_text(text or safe))


def sighting_where_html(s: Sighting) -> Markup:
    """Where a sighting was, as ``formatters.sighting_where`` says it, with its URL as a link."""
    parts = [escape(v) for v in (s.platform or s.platform_raw, s.uploader) if v]
    if s.source_url:
        parts.append(link(s.source_url))
    parts += [escape(v) for v in (fmt.sighting_post(s),) if v]
    parts += [escape(fmt.shown_name(v) if v == s.file_name else v) for v in (s.label, s.file_name) if v]
    return Markup(" ").join(parts)


def place_html(loc: Location) -> Markup:
    """A place: its coordinates linked to OpenStreetMap, then its altitude and the tag it came from."""
    alt = f", altitude {loc.altitude:g} m" if loc.altitude is not None else ""
    shown = f"{loc.latitude:.5f}, {loc.longitude:.5f}"
    return Markup('<a class="osm" href="{}" rel="noopener noreferrer">{}</a>{} <span class="note">(from {}: {})</span>'
                  ).format(fmt.osm_url(loc), shown, alt, loc.source, fmt.shown_text(loc.raw))


def _match_of(raw: Mapping[str, Any]) -> Match:
    """A match of the record (``provenance.report.json.match_record``) as the model's ``Match``."""
    return Match(sha256=raw["sha256"], item_name=raw["name"], score=float(raw["score"]), verdict=raw["verdict"],
                 segments=from_jsonable(tuple[Segment, ...], raw["segments"]),
                 query_coverage=float(raw["query_coverage"]), archive_coverage=float(raw["archive_coverage"]),
                 speed=float(raw["speed"]), matched_frames=int(raw["matched_frames"]),
                 mean_distance=float(raw["mean_distance"]),
                 edits=from_jsonable(tuple[Edit, ...], raw.get("edit_details") or []),
                 sightings=from_jsonable(tuple[Sighting, ...], raw.get("sightings") or []),
                 # records made before soundtracks were compared have neither key: a match by pictures
                 matched_by=str(raw.get("matched_by") or "pictures"),
                 soundtrack=from_jsonable(SoundtrackMatch, raw["soundtrack"]) if raw.get("soundtrack") else None)


def _structure_of(raw: Mapping[str, Any] | None) -> Structure | None:
    if not raw:
        return None
    boxes = raw.get("structure")
    if boxes:
        order = " | ".join(b["type"] for b in boxes.get("top_level") or [])
        faststart = {True: "moov before mdat (faststart)", False: "moov after mdat", None: ""}[boxes.get("faststart")]
        layout = "ISO BMFF / QuickTime: " + "; ".join(p for p in (order, faststart) if p)
    else:
        layout = f"not read: {raw.get('structure_note') or 'not ISO BMFF / QuickTime'}"
    return Structure(layout, from_jsonable(LastWriter, raw["last_writer"]),
                     from_jsonable(tuple[Indicator, ...], raw.get("indicators") or []),
                     from_jsonable(C2paReport, raw["c2pa"]))


def page_of(record: Mapping[str, Any], contact_sheet: bytes | None, *, json_name: str,
            signer_key_id: str | None, pictures: Sequence[bytes] = ()) -> Page:
    """The record (an evidence record, or any record with a "check" of schema ``provenance.check``) decoded
    for the page's sections; ``pictures`` are the JPEGs its "side_by_side" listing names by SHA-256."""
    check = record["check"]
    listed = record.get("side_by_side")
    # the record's metadata is Metadata without the raw ffprobe text, which is kept apart ("ffprobe")
    meta = from_jsonable(Metadata, {**(check.get("metadata") or {}), "raw_probe": ""})
    raw_appearance = check.get("earliest_appearance")
    return Page(record=record, check=check, meta=meta,
                matches=tuple(_match_of(m) for m in check.get("matches") or []),
                appearance=from_jsonable(Appearance, raw_appearance) if raw_appearance else None,
                structure=_structure_of(check.get("structure")), contact_sheet=contact_sheet, json_name=json_name,
                signer_key_id=signer_key_id,
                side_by_side=None if listed is None else from_jsonable(tuple[ShownMatch, ...], listed),
                pictures={hashlib.sha256(jpeg).hexdigest(): jpeg for jpeg in pictures})


def _edit_words(e: Edit) -> str:
    return e.name + (f": {e.details}" if e.details else "")


def _best_words(page: Page, best: Match) -> str:
    still = fmt.still_match_text(best, page.still)
    by = f"; matched by {fmt.matched_by_text(best)}" if best.soundtrack is not None else ""
    return f"{fmt.shown_name(best.item_name)}: {still or VERDICTS.get(best.verdict, best.verdict)} " \
           f"(score {best.score * 100:.0f}%){by}"


def _dates_sentence(appearance: Appearance | None, searched: bool) -> str:
    """The date contradiction in one sentence, else what the date comparisons came to."""
    comparisons = appearance.comparisons if appearance is not None else ()
    contradiction = sorted((c for c in comparisons if c.relation == "before"),
                           key=lambda c: c.evidence_source != EARLIEST_SIGHTING)
    if contradiction:
        return contradiction[0].statement
    if comparisons:
        return comparisons[0].statement
    if not searched:
        return "No date was compared: no archive was consulted, and no date was claimed and compared."
    return "No date was compared: no date was claimed (--claimed-date) and no dated sighting matched."


def summary_of(page: Page) -> Summary:
    """The conclusion box: verdict, first seen, edits and the date contradiction."""
    searched = page.check.get("archive") is not None
    archived = page.check.get("archive_verdict") or {}
    verdict_key = archived.get("verdict") if searched else None
    best = page.best
    first = page.appearance.earliest if page.appearance is not None else None
    if not searched:
        verdict, first_none = "No archive was consulted: this report says only what the file itself says.", \
            "unknown: no archive was consulted"
    else:
        verdict = ARCHIVE_VERDICTS.get(verdict_key or "new", "")
        if page.matches and all(m.matched_by == "soundtrack" for m in page.matches):
            verdict += f"; {fmt.SOUND_ONLY_FINDING}"
        first_none = "no dated sighting of a matched item" if page.matches else "not in the archive"
    return Summary(
        finding=fmt.finding_line(page.meta, verdict_key, page.matches, page.appearance,
                                 coverage=float(archived.get("archive_coverage") or 0.0)),
        verdict=verdict, best=_best_words(page, best) if best is not None else None,
        first_when=fmt.sighting_when(first) if first is not None else None,
        first_where=sighting_where_html(replace(first, uploader=None)) if first is not None else None,
        first_by=first.uploader if first is not None else None, first_none=first_none,
        edits=tuple(_edit_words(e) for e in best.edits) if best is not None else (),
        edits_none="none found (the best match is the footage as archived)" if best is not None else (
            "no match" if searched else "unknown: no archive was consulted"),
        dates=_dates_sentence(page.appearance, searched))


@functools.cache  # compiled once: a triage batch renders a page per file, a dozen sections each
def _macros() -> Any:
    source = resources.files("provenance.report").joinpath("templates", SECTIONS_TEMPLATE).read_text("utf-8")
    return _environment().from_string(source).module


def summary_section(page: Page) -> Markup:
    """The conclusion, first: verdict, first seen (when, where, by whom), the edits, the date contradiction."""
    return Markup(_macros().summary(summary_of(page)))


def integrity_section(page: Page) -> Markup:
    """The file's SHA-256, whether the record is signed, and how to verify it."""
    return Markup(_macros().integrity(page.check["file"], page.signer_key_id, page.json_name, page.evidence))


def identity_section(page: Page) -> Markup:
    """Name, path, size, hashes and file-system times."""
    file = page.check["file"]
    return Markup(_macros().identity(file, _size(file.get("size"))))


def _places(meta: Metadata) -> dict[str, Markup | str]:
    places = fmt.file_locations(meta)
    if len(places) < 2:
        return {"disagree": ""}
    first = places[0]
    apart = [Markup("{} is {:,.1f} km from {}").format(other.source, fmt.distance_km(first, other), first.source)
             for other in places[1:]]
    return {"disagree": Markup("{} places: {}.").format(len(places), Markup("; ").join(apart))}


def metadata_section(page: Page) -> Markup:
    """The fields that matter (highlighted), each location linked to OpenStreetMap, the other facts, the streams."""
    key_rows, other_rows = metadata_rows(page.meta)
    places = fmt.file_locations(page.meta)
    if places:
        shown = Markup("<br>").join(place_html(p) for p in places)
        key_rows = [(label, shown, "") if label == "Location" else (label, value, note)
                    for label, value, note in key_rows]
    streams = [(s.kind, s.index, fmt.stream_text(s)) for s in page.meta.streams]
    return Markup(_macros().metadata(key_rows, other_rows, streams, _places(page.meta)))


def structure_section(page: Page) -> Markup:
    """What the file says about itself: box layout, last writer with its evidence, edit indicators, C2PA."""
    return Markup(_macros().structure(page.structure))


def keyframes_section(page: Page) -> Markup:
    """The contact sheet, embedded, with the SHA-256 the record holds."""
    sheet = page.contact_sheet
    uri = "data:image/jpeg;base64," + base64.b64encode(sheet).decode("ascii") if sheet else None
    return Markup(_macros().keyframes(uri, hashlib.sha256(sheet).hexdigest() if sheet else None,
                                      page.check.get("shots") or [], page.evidence))


def segment_words(s: Segment, side: str = "query") -> str:
    """A segment as the page shows it, "query 0.00–6.00 s = archive 2.00–8.00 s" ("sound ..." for the
    soundtrack's)."""
    return f"{side} {s.query_start:.2f}–{s.query_end:.2f} s = archive {s.archive_start:.2f}–{s.archive_end:.2f} s"


def match_row(page: Page, n: int, m: Match) -> dict[str, Any]:
    """One match as the matches table shows it (still wording for a picture, a timeline for a video), with
    what matched (``formatters.matched_by_text``) and, where the sound matched, the sound's stretches."""
    still = fmt.still_match_text(m, page.still)
    row: dict[str, Any] = {"n": n, "score": f"{m.score * 100:.0f}%", "verdict": still or VERDICTS[m.verdict],
                           "name": fmt.shown_name(m.item_name), "sha256": m.sha256, "still": still is not None,
                           "distance": f"{m.mean_distance:.1f}", "edits": [_edit_words(e) for e in m.edits],
                           "svg": None, "matched_by": m.matched_by, "matched_by_words": fmt.matched_by_text(m),
                           "sound_segments": []}
    if still is None:
        times = {t["sha256"]: t for t in page.record.get("timelines") or []}.get(m.sha256, {})
        query_d = float(times.get("query_duration") or page.check.get("duration") or 0.0)
        archive_d = float(times.get("archive_duration") or 0.0)
        segments = [{"query_start": s.query_start, "query_end": s.query_end, "archive_start": s.archive_start,
                     "archive_end": s.archive_end} for s in m.segments]
        by_sound = m.matched_by == "soundtrack"  # its segments are the sound's; no frame was compared
        frames = ("no frames compared" if by_sound else
                  f"{m.matched_frames} frame{'s' if m.matched_frames != 1 else ''} agree")
        sound = m.soundtrack.segments if m.matched_by == "both" and m.soundtrack is not None else ()
        row.update(segments=[segment_words(s, "sound" if by_sound else "query") for s in m.segments],
                   sound_segments=[segment_words(s, "sound") for s in sound],
                   coverage=f"{m.query_coverage:.0%} of the query, {m.archive_coverage:.0%} of the item",
                   speed=f"x{m.speed:.2f}", frames=frames,
                   # built by timeline_svg, which escapes every text it writes
                   svg=Markup(timeline_svg(segments, query_d, archive_d, title=f"match {n}: {m.item_name}")))
    return row


def matches_section(page: Page) -> Markup:
    """The archived items the file matches, best first as the record lists them."""
    rows = [match_row(page, n, m) for n, m in enumerate(page.matches, 1)]
    return Markup(_macros().matches(page.check.get("archive"), rows, page.still))


def _span(box: tuple[float, float, float, float]) -> str:
    return f"x {box[0]:.2f}–{box[2]:.2f}, y {box[1]:.2f}–{box[3]:.2f} of the picture"


def _mark_words(mark: str) -> str:
    if mark == "mirrored":
        return "marked MIRRORED: it shows the archived picture mirrored left to right"
    return f"marked {mark.upper()}: it shows the archived picture turned"


def _data_uri(page: Page, jpeg: EmbeddedJpeg) -> str | None:
    data = page.pictures.get(jpeg.sha256)
    return None if data is None else "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def _box_attribute(box: tuple[float, float, float, float] | None) -> str | None:
    return None if box is None else " ".join(f"{v:.4f}" for v in box)


def side_by_side_view(page: Page, v: ShownView) -> dict[str, Any]:
    """One matched moment as the side-by-side section shows it: its times, its three pictures, what is drawn."""
    query_words = ["This picture, the file examined" if page.still else "The query's frame"]
    if v.inset_box is not None:
        query_words.append(f"green rectangle: where the archived picture sits in it ({_span(v.inset_box)})")
    query_words += [_mark_words(m) for m in v.marks]
    kind = "a shot's keyframe" if v.picture_kind == "shot" else "one of the pictures kept every few seconds"
    archive_words = [f"The archived picture of that moment ({kind})"]
    archive_words.append(f"green rectangle: the crop window, the part of it the query shows ({_span(v.crop_box)})"
                         if v.crop_box is not None else "the query shows all of it (no crop window)")
    times = (f"this picture = archive {fmt.media_time(v.archive_time)}" if page.still else
             f"query {fmt.media_time(v.query_time)} = archive {fmt.media_time(v.archive_time)}")
    pictures = [("query", v.query, "; ".join(query_words) + "."),
                ("archive", v.archive, "; ".join(archive_words) + "."),
                ("difference", v.difference, "The difference view: the archived picture mapped onto the query "
                 "frame, subtracted from it (bright: what differs).")]
    return {"segment": v.segment, "position": v.position, "query_time": f"{v.query_time:.3f}",
            "archive_time": f"{v.archive_time:.3f}", "times": times, "crop": _box_attribute(v.crop_box),
            "inset": _box_attribute(v.inset_box), "marks": " ".join(v.marks),
            "title": (f"Segment {v.segment + 1}, {v.position}" if not page.still else "The matched moment"),
            "pictures": [{"kind": k, "uri": _data_uri(page, j), "sha256": j.sha256, "words": words}
                         for k, j, words in pictures]}


def side_by_side_section(page: Page) -> Markup:
    """Each match's frames beside the archived pictures of the same moments (none without a listing)."""
    if not page.side_by_side:
        return Markup("")
    numbers = {m.sha256: n for n, m in reversed(list(enumerate(page.matches, 1)))}
    rows = [{"n": numbers.get(m.sha256), "name": fmt.shown_name(m.item_name), "sha256": m.sha256, "note": m.note,
             "none_kept": m.note == NO_PICTURE, "sound_only": m.note == SOUND_ONLY,
             "views": [side_by_side_view(page, v) for v in m.views]}
            for m in page.side_by_side]
    return Markup(_macros().side_by_side(rows, page.still))


def appearance_section(page: Page) -> Markup:
    """The earliest appearance's statement, the dates compared, and every sighting (URLs linked)."""
    appearance = page.appearance
    if appearance is not None:  # with an archive, or a claimed date compared with the file's own creation time
        statement = appearance.statement or "No statement."
    elif page.check.get("archive") is None:
        statement = "No archive was consulted, so this report says nothing about earlier appearances."
    else:
        statement = "No statement."
    sightings = [{"when": fmt.sighting_when(a.sighting), "sha": a.sha256[:12], "where": sighting_where_html(a.sighting)}
                 for a in (appearance.sightings if appearance is not None else ())[:50]]
    comparisons = [fmt.comparison_text(c) for c in (appearance.comparisons if appearance is not None else ())]
    return Markup(_macros().appearance(statement, comparisons, sightings))


def custody_section(page: Page) -> Markup:
    """Every command of the archive's custody log that read this file."""
    custody = page.record.get("custody") or {}
    history: Sequence[Mapping[str, Any]] = custody.get("history") or []
    return Markup(_macros().custody(custody, history, page.check["file"]))


def warnings_section(page: Page) -> Markup:
    """What the examination warned of (nothing when it warned of nothing)."""
    return Markup(_macros().warnings(page.check.get("warnings") or []))


def _plain(value: object) -> str:
    """A value as people read it: lists joined with commas, None as a dash."""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "–" if value is None else str(value)


def _fps_words(v: Any) -> str:
    return (f"{v:g} frames were taken from each second of the file and hashed (one every {1 / v:.2g} s); a match "
            "needs several of them to agree, so a few seconds of shared footage are found") if v else "–"


PARAMETERS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "fps": ("Sampling rate", _fps_words),
    "work_size": ("Working size", lambda v: f"each sampled frame was scaled by ffmpeg to {v} x {v} grey pixels "
                                            "before hashing (squashed: the aspect ratio does not matter)"),
    "phash_size": ("pHash", lambda v: f"a perceptual hash of {v * v} bits (a {v} x {v} cosine transform, as the "
                                      "imagehash library computes it), kept to compare with other tools"),
    "pdq_size": ("PDQ", lambda v: f"Meta's 256-bit perceptual hash, computed on a {v} x {v} brightness picture; two "
                                  "frames are compared by how many of the 256 bits differ"),
    "keyframes_only": ("Frames hashed", lambda v: "only the keyframes (I-frames), at their own times (fast mode)"
                       if v else "every sample, not only the keyframes (the full examination)"),
    "hashes": ("Hashes kept", lambda v: f"per sampled frame: {_plain(v)}"),
    "match_radius_pdq_bits": ("Match threshold", lambda v: f"two frames can match when at most {v} of PDQ's 256 bits "
                              "differ (unrelated frames differ in about 128; re-encodes of one frame in well under "
                              "40); a match then needs its frames to line up in time"),
    "min_pdq_quality": ("Detail threshold", lambda v: f"frames of PDQ quality under {v} (flat: black, a wall, the "
                        "sky) say nothing on their own and are not matched by themselves"),
}
ENVIRONMENT = {"python": ("Python", "the version of Python the tool ran on"),
               "platform": ("Operating system", "the computer's system, as Python reports it"),
               "ffmpeg": ("ffmpeg", "the version of ffmpeg that decoded the file")}


def method_rows(parameters: Mapping[str, Any], environment: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(setting, what it means in words, its value) for each parameter of the examination and its software."""
    rows = []
    for key, value in parameters.items():
        label, words = PARAMETERS.get(key, (key, lambda v: "–"))
        rows.append((label, words(value), f"{key} = {_plain(value)}"))
    for key, value in environment.items():
        label, words_text = ENVIRONMENT.get(key, (key, "–"))
        rows.append((label, words_text, _plain(value)))
    return rows


def method_section(page: Page) -> Markup:
    """How the file was examined: each parameter in words, with its value, and the software it ran on."""
    check = page.check
    decoded = (f"{float(check.get('duration') or 0.0):.2f} s of the file were decoded: {len(check.get('frames') or [])}"
               f" samples hashed, {len(check.get('shots') or [])} shot(s) found")
    if page.still:
        decoded = "a single picture, decoded and hashed once"
    return Markup(_macros().method(method_rows(check.get("parameters") or {}, page.record.get("environment") or {}),
                                   decoded))


SECTIONS: tuple[Callable[[Page], Markup], ...] = (
    summary_section, integrity_section, identity_section, metadata_section, structure_section, keyframes_section,
    matches_section, side_by_side_section, appearance_section, custody_section, warnings_section, method_section,
)
"""The page's sections, in the order it shows them: the conclusion first, then the details."""


def render_html(record: Mapping[str, Any], contact_sheet: bytes | None, *, json_name: str,
                signer_key_id: str | None, pictures: Sequence[bytes] = ()) -> str:
    """The HTML page for ``record`` (an evidence record, not yet signed), with ``contact_sheet`` (JPEG) embedded.

    ``signer_key_id`` is the key the record is about to be signed with (None: it will not be).
    ``pictures`` are the side-by-side JPEGs the record's "side_by_side" listing names by SHA-256
    (``shown_matches``); a listed picture not among them is shown as missing. The page is each of
    ``SECTIONS`` in turn, drawn from ``page_of(record, ...)``.
    """
    page = page_of(record, contact_sheet, json_name=json_name, signer_key_id=signer_key_id, pictures=pictures)
    body = Markup("\n").join(section(page) for section in SECTIONS)
    return _page_template().render(record=record, check=page.check, file=page.check["file"], json_name=json_name,
                                   body=body)


@functools.cache  # compiled once, as the sections' macros are: a triage batch renders a page per file
def _page_template() -> jinja2.Template:
    source = resources.files("provenance.report").joinpath("templates", TEMPLATE).read_text("utf-8")
    return _environment().from_string(source)
