"""The HTML evidence report for people: one self-contained file rendered from the JSON record.

Everything is inline: CSS in the page, the contact sheet as a ``data:`` URI, each match's timeline
as SVG. Nothing is fetched when it is opened, so it reads the same offline, years later. The page
is built only from the (signed) JSON record and the contact sheet whose SHA-256 that record holds.
It is rendered before the page's own SHA-256 is put into the record and the record is signed, so
it names the signing key but cannot show the signature or any digest over the finished record.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from provenance.codec import from_jsonable
from provenance.model import AppearanceSighting, DateComparison, Metadata
from provenance.report import formatters as fmt
from provenance.report.timeline import timeline_svg

TEMPLATE = "report.html.j2"


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


def _matches(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    check = record["check"]
    durations = {t["sha256"]: t for t in record.get("timelines") or []}
    out = []
    for n, m in enumerate(check.get("matches") or [], 1):
        times = durations.get(m["sha256"], {})
        query_d = float(times.get("query_duration") or check.get("duration") or 0.0)
        archive_d = float(times.get("archive_duration") or 0.0)
        svg = timeline_svg(m["segments"], query_d, archive_d, title=f"match {n}: {m['name']}")
        out.append({
            "n": n, "score": f"{m['score'] * 100:.0f}%", "verdict": m["verdict_text"], "name": m["name"],
            "sha256": m["sha256"],
            "segments": [f"query {s['query_start']:.2f}–{s['query_end']:.2f} s = archive "
                         f"{s['archive_start']:.2f}–{s['archive_end']:.2f} s" for s in m["segments"]],
            "coverage": f"{m['query_coverage']:.0%} of the query, {m['archive_coverage']:.0%} of the item",
            "speed": f"x{m['speed']:.2f}", "frames": m["matched_frames"],
            "edits": [f"{e['name']}" + (f": {e['details']}" if e.get("details") else "") for e in m["edit_details"]],
            "svg": Markup(svg),  # built by timeline_svg, which escapes every text it writes
        })
    return out


def _plain(values: Mapping[str, Any]) -> dict[str, str]:
    """Values as people read them: lists joined with commas, None as a dash."""
    out = {}
    for key, value in values.items():
        if isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value)
        out[key] = "–" if value is None else str(value)
    return out


def _environment() -> jinja2.Environment:
    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True)


def render_html(record: Mapping[str, Any], contact_sheet: bytes | None, *, json_name: str,
                signer_key_id: str | None) -> str:
    """The HTML page for ``record`` (an evidence record, not yet signed), with ``contact_sheet`` (JPEG) embedded.

    ``signer_key_id`` is the key the record is about to be signed with (None: it will not be).
    """
    check = record["check"]
    fp_file = check["file"]
    # the record's metadata is Metadata without the raw ffprobe text, which is kept apart ("ffprobe")
    meta = from_jsonable(Metadata, {**(check.get("metadata") or {}), "raw_probe": ""})
    key_rows, other_rows = metadata_rows(meta)
    sheet_uri = None
    if contact_sheet:
        sheet_uri = "data:image/jpeg;base64," + base64.b64encode(contact_sheet).decode("ascii")
    appearance = check.get("earliest_appearance")
    if appearance:  # with an archive, or a claimed date compared with the file's own creation time
        statement = appearance.get("statement") or "No statement."
    elif check.get("archive") is None:
        statement = "No archive was consulted, so this report says nothing about earlier appearances."
    else:
        statement = "No statement."
    sightings = []
    for raw in ((appearance or {}).get("sightings") or [])[:50]:
        listed = from_jsonable(AppearanceSighting, raw)
        sightings.append({"when": fmt.sighting_when(listed.sighting), "sha": listed.sha256[:12],
                          "where": fmt.sighting_where(listed.sighting)})
    comparisons = [fmt.comparison_text(from_jsonable(DateComparison, raw))
                   for raw in (appearance or {}).get("comparisons") or []]
    custody = record.get("custody") or {}
    history: Sequence[Mapping[str, Any]] = custody.get("history") or []
    template = resources.files("provenance.report").joinpath("templates", TEMPLATE).read_text("utf-8")
    context = {
        "record": record, "check": check, "file": fp_file, "size": _size(fp_file.get("size")),
        "key_rows": key_rows, "other_rows": other_rows,
        "streams": [(s.kind, s.index, fmt.stream_text(s)) for s in meta.streams],
        "sheet_uri": sheet_uri,
        "sheet_sha256": hashlib.sha256(contact_sheet).hexdigest() if contact_sheet else None,
        "shots": check.get("shots") or [], "matches": _matches(record), "statement": statement,
        "appearance": appearance, "sightings": sightings, "comparisons": comparisons,
        "signer_key_id": signer_key_id, "custody": custody,
        "history": history, "warnings": check.get("warnings") or [], "json_name": json_name,
        "parameters": _plain(check.get("parameters") or {}),
        "environment": _plain(record.get("environment") or {}),
    }
    return _environment().from_string(template).render(**context)
