"""Earliest known appearance: the matched items' sightings in time order, against what is claimed.

Old footage re-shared as new is the commonest deception, so the statement says plainly when the
query's own metadata (or the date a user was told) is later than an archived earlier sighting.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from provenance.model import Appearance, Match, Metadata, Sighting


def parse_when(text: str | None) -> datetime | None:
    """Parse an ISO 8601 date or date-time (also ``YYYYMMDD``) as UTC; None when it is not one."""
    if not text:
        return None
    value = text.strip().replace("Z", "+00:00")
    if len(value) == 8 and value.isdigit():
        value = f"{value[:4]}-{value[4:6]}-{value[6:]}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(value[:10]), datetime.min.time())
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def claimed_from_metadata(metadata: Metadata) -> tuple[str | None, str | None]:
    """The date the file itself claims, and which field says so."""
    if metadata.device_creation_date:
        return metadata.device_creation_date, "com.apple.quicktime.creationdate"
    if metadata.exif and metadata.exif.datetime_original:
        raw = metadata.exif.datetime_original  # "YYYY:MM:DD HH:MM:SS"
        return raw.replace(":", "-", 2), "EXIF DateTimeOriginal"
    if metadata.creation_time:
        return metadata.creation_time, "creation_time (container)"
    return None, None


def sighting_when(sighting: Sighting) -> str:
    """When a sighting was first seen, as recorded, or "undated"."""
    return sighting.first_seen or "undated"


def sighting_sentence(sighting: Sighting) -> str:
    """A sighting in a sentence: ``DATE on PLATFORM by UPLOADER (URL) [LABEL]``, the parts that are known.

    The earliest appearance's statement says it; the other texts of a sighting are in
    ``provenance.report.formatters``, which re-exports this one.
    """
    forms = (("on {}", sighting.platform), ("by {}", sighting.uploader), ("({})", sighting.source_url),
             ("[{}]", sighting.label))
    return " ".join([sighting_when(sighting), *(form.format(value) for form, value in forms if value)])


def earliest_appearance(matches: tuple[Match, ...], metadata: Metadata, claimed_date: str | None) -> Appearance:
    """Order every sighting of the matched items and state the earliest, and any contradiction."""
    claimed_source = "--claimed-date" if claimed_date else None
    if not claimed_date:
        claimed_date, claimed_source = claimed_from_metadata(metadata)
    dated: list[tuple[datetime, str, Sighting]] = []
    undated: list[tuple[str, Sighting]] = []
    for match in matches:
        for sighting in match.sightings:
            when = parse_when(sighting.first_seen)
            if when is None:
                undated.append((match.sha256, sighting))
            else:
                dated.append((when, match.sha256, sighting))
    dated.sort(key=lambda row: (row[0], row[1]))
    ordered = tuple((sha, s) for _, sha, s in dated) + tuple(undated)
    if not matches:
        statement = "No archived item matches: no earlier appearance is known to this archive."
        return Appearance(None, None, (), claimed_date, claimed_source, statement)
    if not dated:
        statement = (f"Matches {len(matches)} archived item(s), but none has a dated sighting: "
                     "the earliest appearance is unknown.")
        return Appearance(None, None, ordered, claimed_date, claimed_source, statement)
    first_when, first_sha, first = dated[0]
    statement = f"Earliest known appearance: {sighting_sentence(first)}, archived item {first_sha[:12]}."
    claimed_when = parse_when(claimed_date)
    if claimed_when is not None and claimed_when.date() > first_when.date():
        days = (claimed_when.date() - first_when.date()).days
        statement += (f" The query's {claimed_source} says {claimed_date}, but this footage was already "
                      f"seen on {first.first_seen}: it is at least {days} days older than claimed.")
    return Appearance(first, first_sha, ordered, claimed_date, claimed_source, statement)
