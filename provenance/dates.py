"""Dates as intervals: what a date given on the command line, or held in a record, can mean in UTC.

A date names a stretch of time as long as its precision: ``2024`` is every second of 2024,
``2024-03-01T10:00Z`` one minute (``provenance.model.DateInterval``). Two readers:

- ``parse_date``: a date a person gives (``--claimed-date``, ``--first-seen``), in one of the forms
  ``ACCEPTED_FORMS`` names: ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM[:SS]`` (a local
  time, zone unknown) or an ISO 8601 time with its zone. ``03/2019`` and ``14/06/2022`` are refused
  as ambiguous (countries write day, month and year in different orders), ``2024-13-45`` as no real
  date: ``DateError``, a usage error whose one-line message names the forms accepted.
- ``read_recorded``: a date as a record holds it (a stored sighting, a sidecar, the file's metadata):
  the forms above, and what earlier versions stored (``YYYYMMDD``, any ISO 8601 form Python reads).
  What it cannot read raises ``DateError`` too; its ``reason`` is the flag the archive stores.

The comparison behind "older than claimed" (``order``): evidence that the footage existed (a
sighting, a creation time) comes before a claim only when its latest moment is before the claim's
earliest. A side without a zone (a calendar date, a local time) is widened by every zone's offset,
UTC-12 to UTC+14, when the other side has a zone; two sides without one are compared as written
(the same clock), so a claim of ``2024`` is older than a sighting of ``2023-12-31`` by 1 day.
Days are counted between the UTC dates of the two moments compared.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from provenance.errors import UsageError
from provenance.model import DateInterval

__all__ = ["ACCEPTED_FORMS", "DateError", "DateInterval", "DateOrder", "describe", "iso", "moment", "order",
           "parse_date", "read_recorded"]

ACCEPTED_FORMS = ("YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] (local time, zone unknown) or an ISO 8601 "
                  "time with its zone (2024-03-01T10:00Z, 2024-03-01T10:00+01:00)")
"""The date forms ``parse_date`` accepts, as every refusal names them."""

AHEAD_OF_UTC = timedelta(hours=14)  # UTC+14 (Line Islands): a local clock shows at most this much more
BEHIND_UTC = timedelta(hours=12)  # UTC-12 (Baker Island): and at most this much less

_CALENDAR = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")
_CLOCK = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,][0-9]{1,9})?)?"
                    r"(Z|z|[+-][0-9]{2}(?::?[0-9]{2})?)?")
_BASIC_DATE = re.compile(r"[0-9]{8}")
_SLASHED = re.compile(r"[0-9]{1,4}([/.])[0-9]{1,4}(?:\1[0-9]{1,4})?")
_SHOWN = 40  # characters of a refused text quoted in the message


class DateError(UsageError):
    """A date that cannot be read: ambiguous, impossible, or in no form accepted. One line; exit 2."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        shown = text if len(text) <= _SHOWN else text[:_SHOWN] + "..."
        super().__init__(f"{shown!r} {reason}: give the date as {ACCEPTED_FORMS}")


@dataclass(frozen=True)
class DateOrder:
    """How evidence (a moment the footage existed) lies against a claimed interval, as ``order`` found it."""

    relation: str  # "before" (older than claimed), "within" (cannot be told apart) or "after"
    claimed_from: datetime  # the claim's earliest moment, UTC, widened where needed
    evidence_by: datetime  # the evidence's latest moment, UTC, widened where needed
    days: int | None  # UTC days from evidence_by to claimed_from when "before", else None


def _iso(moment_: datetime) -> str:
    return moment_.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def moment(text: str) -> datetime:
    """An interval bound (``DateInterval.start`` or ``.end``) as an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _calendar_interval(text: str, year: int, month: int | None, day: int | None) -> DateInterval:
    try:
        first = date(year, month or 1, day or 1)
    except ValueError as exc:
        raise DateError(text, f"is not a real date ({exc})") from None
    if day is not None:
        last, precision = first, "day"
    elif month is not None:
        last, precision = date(year, month, calendar.monthrange(year, month)[1]), "month"
    else:
        last, precision = date(year, 12, 31), "year"
    return DateInterval(text, f"{first.isoformat()}T00:00:00Z", f"{last.isoformat()}T23:59:59Z", precision, False)


def _zone(text: str, zone: str) -> timezone:
    if zone in ("Z", "z"):
        return UTC
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise DateError(text, f"has no real zone offset ({zone})")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if zone[0] == "-" else offset)


def _clock_interval(text: str, found: re.Match[str]) -> DateInterval:
    year, month, day, hour, minute = (int(found.group(i)) for i in range(1, 6))
    seconds, zone = found.group(6), found.group(7)
    try:
        local = datetime(year, month, day, hour, minute, int(seconds or 0))
    except ValueError as exc:
        raise DateError(text, f"is not a real date ({exc})") from None
    try:
        start = local.replace(tzinfo=_zone(text, zone)).astimezone(UTC) if zone else local.replace(tzinfo=UTC)
        end = start + timedelta(seconds=0 if seconds is not None else 59)
    except OverflowError:
        raise DateError(text, "is out of the range of dates this tool reads (years 1 to 9999)") from None
    return DateInterval(text, _iso(start), _iso(end), "second" if seconds is not None else "minute", bool(zone))


def parse_date(text: str) -> DateInterval:
    """A date a person gives, in one of the ``ACCEPTED_FORMS``, as its interval; ``DateError`` otherwise.

    ``2024`` is the year, ``2024-03`` the month, ``2024-03-01`` the day (calendar dates, no zone);
    ``2024-03-01T10:00`` (or with a space, or with seconds) is that minute of a local clock whose zone is
    unknown; with ``Z`` or an offset (``+01:00``, ``+0100``, ``+01``) it is that minute in UTC.
    """
    given = text.strip()
    calendar_date = _CALENDAR.fullmatch(given)
    if calendar_date:
        year, month, day = calendar_date.groups()
        return _calendar_interval(text, int(year), int(month) if month else None, int(day) if day else None)
    clock = _CLOCK.fullmatch(given)
    if clock:
        return _clock_interval(text, clock)
    if _SLASHED.fullmatch(given):
        raise DateError(text, "is ambiguous (countries write day, month and year in different orders)")
    raise DateError(text, "is not a date in a form this tool reads")


def read_recorded(text: str) -> DateInterval:
    """A date as a record holds it, as its interval; ``DateError`` (its ``reason`` the flag) when it cannot be read.

    Reads every ``parse_date`` form, and what earlier versions stored: ``YYYYMMDD`` (yt-dlp's
    ``upload_date``) and any other ISO 8601 form Python reads (a date-time to the second, its zone as
    written; a date as the day).
    """
    try:
        return parse_date(text)
    except DateError as refused:
        refusal = refused
    given = text.strip()
    if _BASIC_DATE.fullmatch(given):
        return _calendar_interval(text, int(given[:4]), int(given[4:6]), int(given[6:]))
    try:
        parsed = datetime.fromisoformat(given)
    except ValueError:
        raise refusal from None
    if "T" not in given.upper() and " " not in given:
        return _calendar_interval(text, parsed.year, parsed.month, parsed.day)
    try:
        start = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except OverflowError:
        raise DateError(text, "is out of the range of dates this tool reads (years 1 to 9999)") from None
    return DateInterval(text, _iso(start), _iso(start), "second", parsed.tzinfo is not None)


def _widened(interval: DateInterval, other: DateInterval) -> tuple[datetime, datetime]:
    """``interval``'s first and last moments in UTC, widened by the zone offsets when only ``other`` has a zone."""
    start, end = moment(interval.start), moment(interval.end)
    if not interval.zone_known and other.zone_known:
        start = start - AHEAD_OF_UTC if start - datetime.min.replace(tzinfo=UTC) > AHEAD_OF_UTC else start
        end = end + BEHIND_UTC if datetime.max.replace(tzinfo=UTC) - end > BEHIND_UTC else end
    return start, end


def order(claimed: DateInterval, evidence: DateInterval) -> DateOrder:
    """Where ``evidence`` (a moment the footage existed) lies against ``claimed``: before it, within, or after.

    "before" (the footage is older than claimed) only when the evidence's latest moment is before the
    claim's earliest; ``days`` then counts the UTC dates between them (2023-12-31 against 2024: 1).
    """
    claimed_from, claimed_to = _widened(claimed, evidence)
    evidence_from, evidence_by = _widened(evidence, claimed)
    if evidence_by < claimed_from:
        return DateOrder("before", claimed_from, evidence_by, (claimed_from.date() - evidence_by.date()).days)
    relation = "after" if evidence_from > claimed_to else "within"
    return DateOrder(relation, claimed_from, evidence_by, None)


def iso(moment_: datetime) -> str:
    """A UTC moment as ``DateInterval`` bounds are written (``2024-01-01T00:00:00Z``)."""
    return _iso(moment_.astimezone(UTC))


def describe(interval: DateInterval) -> str:
    """The interval for people: ``2024 (2024-01-01..2024-12-31)``, ``2024-03-01``, or the time with its UTC
    moment, or said to be local (``2024-03-01T10:00 (local time, zone unknown)``)."""
    given = interval.text.strip()
    if interval.precision in ("year", "month"):
        return f"{given} ({interval.start[:10]}..{interval.end[:10]})"
    if interval.precision == "day":
        return interval.start[:10] if given == interval.start[:10] else f"{given} ({interval.start[:10]})"
    if not interval.zone_known:
        return f"{given} (local time, zone unknown)"
    if given.endswith(("Z", "z", "+00:00")):  # written in UTC already
        return given
    utc = interval.start if interval.precision == "second" else interval.start[:16] + "Z"
    return f"{given} ({utc})"
