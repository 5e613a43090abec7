"""The versioned JSON record of a check, as printed by ``check --json``.

Schema ``provenance.check`` version ``RECORD_VERSION`` (documented in README.md, "The JSON
record"). The matching contract of ``../shared/bench/README.md`` is kept: top-level ``sha256``,
and ``matches[].sha256``, ``score``, ``segments`` and ``edits`` (a list of edit names).

Names and other text keep their characters (JSON escapes a newline, a control character and a
backslash itself, so ``"a\\nb.mp4"`` reads as the terminal report shows that name). A byte of a name
that is not UTF-8, which no JSON string can hold, is written ``\\xNN`` (``json_text``, through
``provenance.report.formatters.unicode_safe``), the escape the terminal report uses too: the record is
always valid UTF-8 JSON. ``check_record`` itself keeps names exactly, as Python gives them.
"""

from __future__ import annotations

import json

from provenance.codec import to_jsonable
from provenance.hashing.pdq import MIN_QUALITY
from provenance.match.align import CANDIDATE_RADIUS
from provenance.match.verdict import ARCHIVE_VERDICTS, VERDICTS, archive_verdict
from provenance.model import CheckReport, Match
from provenance.report.formatters import unicode_safe
from provenance.timings import Timings
from provenance.version import __version__

RECORD_VERSION = 2
"""The version of the ``provenance.check`` record: raised when a key changes its meaning or its shape
(2: ``earliest_appearance.sightings`` are objects, no longer ``[sha256, sighting]`` pairs), not when a
key is added. The fingerprint inside keeps its own ``provenance.model.SCHEMA_VERSION``."""


def match_record(match: Match) -> dict[str, object]:
    """One match in the contract's shape, with our extra fields beside it."""
    return {
        "sha256": match.sha256,
        "name": match.item_name,
        "score": match.score,
        "verdict": match.verdict,
        "verdict_text": VERDICTS[match.verdict],
        "segments": [to_jsonable(s) for s in match.segments],
        "query_coverage": match.query_coverage,
        "archive_coverage": match.archive_coverage,
        "speed": match.speed,
        "matched_frames": match.matched_frames,
        "mean_distance": match.mean_distance,
        "edits": sorted({e.name for e in match.edits}),
        "edit_details": [to_jsonable(e) for e in match.edits],
        "sightings": [to_jsonable(s) for s in match.sightings],
        "geometry": to_jsonable(match.geometry),
        "matched_by": match.matched_by,
        "soundtrack": to_jsonable(match.soundtrack),
    }


def archive_verdict_record(report: CheckReport) -> dict[str, object]:
    """What the archive knows of the file, in the words and figures ``triage`` gives it."""
    verdict, coverage = archive_verdict(report.fingerprint, report.matches)
    return {"verdict": verdict, "verdict_text": ARCHIVE_VERDICTS[verdict], "archive_coverage": coverage}


def check_record(report: CheckReport, structure: object | None = None,
                 timings: Timings | None = None) -> dict[str, object]:
    """The whole record of a check as plain JSON types: with an archive, an "archive_verdict" key last
    (``archive_verdict_record``); a "side_by_side" key when matched frames were written (``check
    --keyframes`` with an archive); a "structure" key for a ``SelfReport`` when given; a "timings" key,
    last, for the stage timers when given (``check --timings``: seconds per stage, ``provenance.timings``)."""
    fp = report.fingerprint
    metadata = to_jsonable(fp.metadata)
    assert isinstance(metadata, dict)
    raw = metadata.pop("raw_probe")
    record: dict[str, object] = {
        "schema": "provenance.check",
        "schema_version": RECORD_VERSION,
        "tool": {"name": "provenance", "version": __version__},
        "examined_at": report.examined_at,
        "sha256": fp.identity.sha256,
        "file": to_jsonable(fp.identity),
        "parameters": {
            **(to_jsonable(fp.params) or {}),  # type: ignore[dict-item]
            "hashes": [a.name for a in fp.hash_algorithms],  # ["phash", "pdq"]
            "match_radius_pdq_bits": CANDIDATE_RADIUS,
            "min_pdq_quality": MIN_QUALITY,
        },
        "metadata": metadata,
        "ffprobe": json.loads(raw) if raw else None,
        "duration": fp.duration,
        "content_box": to_jsonable(fp.content_box),
        "hash_algorithms": to_jsonable(fp.hash_algorithms),  # what made the frames' phash and pdq
        "frames": [to_jsonable(f) for f in fp.frames],
        "shots": [to_jsonable(s) for s in fp.shots],
        "soundtrack": to_jsonable(fp.soundtrack),  # its fingerprint and what made it, or why there is none
        "keyframes": [to_jsonable(k) for k in report.keyframes],
        "contact_sheet": report.contact_sheet,
        "warnings": list(fp.warnings) + list(report.extra_warnings),
        "archive": report.archive,
        "matches": [match_record(m) for m in report.matches],
        "earliest_appearance": to_jsonable(report.appearance) if report.appearance else None,
    }
    if report.archive is not None:  # what triage would call the file, in its words
        record["archive_verdict"] = archive_verdict_record(report)
    if report.side_by_side:
        record["side_by_side"] = [to_jsonable(s) for s in report.side_by_side]
    if structure is not None:  # check --structure (provenance.forensics.selfreport)
        record["structure"] = to_jsonable(structure)
    if timings is not None:
        record["timings"] = to_jsonable(timings)
    return record


def _valid_unicode(value: object) -> object:
    """``value`` with each byte that is not UTF-8 (a surrogate escape) in its strings written ``\\xNN``."""
    if isinstance(value, str):
        return unicode_safe(value)
    if isinstance(value, dict):
        return {_valid_unicode(k): _valid_unicode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_valid_unicode(v) for v in value]
    return value


def json_text(record: object) -> str:
    """A JSON-ready record as indented, valid UTF-8 JSON text (characters kept, bytes that are not UTF-8 escaped)."""
    return json.dumps(_valid_unicode(record), indent=2, ensure_ascii=False)


def render_json(report: CheckReport, structure: object | None = None, timings: Timings | None = None) -> str:
    """The record as indented JSON text (with the structure report of ``check --structure`` and the stage
    timers of ``check --timings`` when given)."""
    return json_text(check_record(report, structure, timings))
