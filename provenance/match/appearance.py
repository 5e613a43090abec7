"""Earliest known appearance: the matched items' sightings in time order, against what is claimed.

Old footage re-shared as new is the commonest deception, so the statement says plainly when the
query's claimed date (``--claimed-date``) or its own creation time is later than an archived earlier
sighting, and how the creation time lies against the claimed date. Dates are intervals
(``provenance.dates``): a claim of ``2024`` is contradicted only by a sighting before 2024-01-01.
Each comparison is stated, with the interval used, the sighting or creation time compared and the
days between them. A sighting whose recorded date cannot be read is listed and flagged, never dropped.
"""

from __future__ import annotations

from datetime import datetime

from provenance.dates import DateError, describe, iso, moment, order, parse_date, read_recorded
from provenance.model import Appearance, AppearanceSighting, DateComparison, DateInterval, Match, Metadata, Sighting

CLAIMED = "--claimed-date"
EARLIEST_SIGHTING = "earliest sighting"


def parse_when(text: str | None) -> datetime | None:
    """The first moment (UTC) of a date or date-time as records hold it; None when it is not one.

    Reads what ``provenance.dates.read_recorded`` reads: ISO 8601 dates and date-times, ``YYYY``,
    ``YYYY-MM`` and ``YYYYMMDD``.
    """
    if not text:
        return None
    try:
        return moment(read_recorded(text).start)
    except DateError:
        return None


def sighting_date(sighting: Sighting) -> tuple[DateInterval | None, str | None]:
    """A sighting's ``first_seen`` as an interval, or (None, why it cannot be read); (None, None) when it has none."""
    if not sighting.first_seen:
        return None, None
    try:
        return read_recorded(sighting.first_seen), None
    except DateError as exc:
        return None, exc.reason


def claimed_from_metadata(metadata: Metadata) -> tuple[str | None, str | None]:
    """The date the file itself claims, and which field says so."""
    if metadata.device_creation_date:
        return metadata.device_creation_date, "com.apple.quicktime.creationdate"
    if metadata.exif and metadata.exif.datetime_original:
        raw = metadata.exif.datetime_original  # "YYYY:MM:DD HH:MM:SS"
        offset = (metadata.exif.offset_time or "").strip()  # EXIF OffsetTimeOriginal, "+01:00", when written
        return raw.replace(":", "-", 2) + offset, "EXIF DateTimeOriginal"
    if metadata.creation_time:
        return metadata.creation_time, "creation_time (container)"
    return None, None


def sighting_when(sighting: Sighting) -> str:
    """When a sighting was first seen, as recorded ("... (date not read)" when it is no date read), or "undated"."""
    if not sighting.first_seen:
        return "undated"
    return sighting.first_seen if sighting_date(sighting)[0] else f"{sighting.first_seen} (date not read)"


def sighting_sentence(sighting: Sighting) -> str:
    """A sighting in a sentence: ``DATE on PLATFORM by UPLOADER (URL) in CHAT forwarded from X [LABEL]``, the parts
    that are known.

    The earliest appearance's statement says it; the other texts of a sighting are in
    ``provenance.report.formatters``, which re-exports this one.
    """
    forms = (("on {}", sighting.platform), ("by {}", sighting.uploader), ("({})", sighting.source_url),
             ("in {}", sighting.chat), ("forwarded from {}", sighting.forwarded_from), ("[{}]", sighting.label))
    return " ".join([sighting_when(sighting), *(form.format(value) for form, value in forms if value)])


def _days(days: int | None) -> str:
    if not days:
        return "less than a day"
    return f"at least {days} day{'s' if days != 1 else ''}"


def _statement(claim_source: str, claimed: DateInterval, evidence_source: str, evidence: DateInterval,
               sha256: str | None, relation: str, days: int | None) -> str:
    """One comparison in words: the dates compared, as intervals, and what follows from them."""
    when, seen = describe(claimed), describe(evidence)
    if evidence_source == EARLIEST_SIGHTING:
        item = f" (archived item {(sha256 or '')[:12]})"
        if claim_source == CLAIMED:
            if relation == "before":
                return (f"The claimed date is {when}, but this footage was already seen on {seen}{item}, "
                        f"{_days(days)} before the claimed interval began: it is older than claimed.")
            return (f"The claimed date, {when}, is not contradicted by the archive: the earliest sighting, "
                    f"{seen}{item}, is not before the claimed interval began.")
        if relation == "before":
            return (f"The file's {claim_source} says {when}, but this footage was already seen on {seen}{item}: "
                    f"it is {_days(days)} older than claimed.")
        return f"The file's {claim_source}, {when}, is not later than the earliest sighting, {seen}{item}."
    if relation == "before":
        return (f"The file's {evidence_source}, {seen}, is {_days(days)} earlier than the claimed date, "
                f"{when}: the file says it was made before the date claimed.")
    if relation == "after":
        return (f"The file's {evidence_source}, {seen}, is after the claimed date, {when}: a copy or "
                "re-encode made later, or footage newer than claimed.")
    return f"The file's {evidence_source}, {seen}, is consistent with the claimed date, {when}."


def compare_dates(claim_source: str, claimed: DateInterval, evidence_source: str, evidence: DateInterval,
                  sha256: str | None = None) -> DateComparison:
    """``claimed`` tested against ``evidence`` (``provenance.dates.order``), stated."""
    found = order(claimed, evidence)
    return DateComparison(
        claim_source=claim_source, claimed=claimed, evidence_source=evidence_source, evidence=evidence,
        evidence_sha256=sha256, claimed_from=iso(found.claimed_from), evidence_by=iso(found.evidence_by),
        relation=found.relation, older_than_claimed_days=found.days,
        statement=_statement(claim_source, claimed, evidence_source, evidence, sha256, found.relation, found.days))


def _against_sightings(source: str, claimed: DateInterval,
                       dated: list[tuple[DateInterval, AppearanceSighting]]) -> DateComparison:
    """``claimed`` against the sighting that shows the footage earliest for sure (the first to end)."""
    seen, best = min(dated, key=lambda pair: order(claimed, pair[0]).evidence_by)
    return compare_dates(source, claimed, EARLIEST_SIGHTING, seen, best.sha256)


def _file_date(metadata: Metadata) -> tuple[str | None, str | None, DateInterval | None, str | None]:
    """The file's own creation time: its text, field, interval, and why it cannot be read (when it cannot)."""
    text, source = claimed_from_metadata(metadata)
    if text is None:
        return None, None, None, None
    try:
        return text, source, read_recorded(text), None
    except DateError as exc:
        return text, source, None, exc.reason


def earliest_appearance(matches: tuple[Match, ...], metadata: Metadata, claimed_date: DateInterval | str | None,
                        *, searched: bool = True) -> Appearance:
    """Order every sighting of the matched items, state the earliest, and compare the dates said of the query.

    ``claimed_date`` (``--claimed-date``; text is read by ``provenance.dates.parse_date``, which raises
    ``DateError``, a usage error, when it cannot) and the file's own creation time are each compared
    with the earliest sighting, and the creation time with the claimed date; every comparison is
    stated. ``searched`` false: no archive was consulted (only the creation time and the claim are
    compared).
    """
    claimed = parse_date(claimed_date) if isinstance(claimed_date, str) else claimed_date
    file_text, file_source, file_date, file_problem = _file_date(metadata)
    listed = [AppearanceSighting(match.sha256, s, *sighting_date(s)) for match in matches for s in match.sightings]
    dated = sorted(((a.seen, a) for a in listed if a.seen is not None),
                   key=lambda pair: (pair[0].start, pair[0].end, pair[1].sha256))
    ordered = (*(a for _, a in dated), *(a for a in listed if a.seen is None))
    first = dated[0][1] if dated else None
    if not searched:
        parts = ["No archive was consulted: nothing is known here of earlier appearances."]
    elif not matches:
        parts = ["No archived item matches: no earlier appearance is known to this archive."]
    elif first is None:
        parts = [f"Matches {len(matches)} archived item(s), but none has a dated sighting: "
                 "the earliest appearance is unknown."]
    else:
        parts = [f"Earliest known appearance: {sighting_sentence(first.sighting)}, archived item {first.sha256[:12]}."]
    comparisons = []
    if claimed is not None and dated:
        comparisons.append(_against_sightings(CLAIMED, claimed, dated))
    if file_date is not None and file_source is not None and dated:
        comparisons.append(_against_sightings(file_source, file_date, dated))
    if claimed is not None and file_date is not None and file_source is not None:
        comparisons.append(compare_dates(CLAIMED, claimed, file_source, file_date))
    parts += [c.statement for c in comparisons]
    if file_problem is not None:
        parts.append(f"The file's {file_source}, {file_text!r}, {file_problem}: it was not compared.")
    elif claimed is not None and file_date is None:
        parts.append("The file holds no creation time of its own to compare with the claimed date.")
    unread = [a for a in listed if a.date_note]
    if unread:
        shown = ", ".join(repr(a.sighting.first_seen) for a in unread[:3]) + (", ..." if len(unread) > 3 else "")
        parts.append(f"{len(unread)} sighting(s) have a first-seen date this tool cannot read ({shown}): "
                     "they are listed but not compared; check them by hand.")
    main_source = CLAIMED if claimed is not None else file_source
    older = next((c.older_than_claimed_days for c in comparisons
                  if c.claim_source == main_source and c.evidence_source == EARLIEST_SIGHTING), None)
    return Appearance(
        earliest=first.sighting if first else None, earliest_sha256=first.sha256 if first else None,
        sightings=tuple(ordered), claimed_date=claimed.text if claimed is not None else file_text,
        claimed_source=main_source if (claimed is not None or file_text) else None, statement=" ".join(parts),
        claimed_interval=claimed if claimed is not None else file_date, older_than_claimed_days=older,
        comparisons=tuple(comparisons))
