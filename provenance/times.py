"""Moments as the records write them: ISO 8601 UTC with a ``Z``, and media times as labels.

Two precisions, each for a reason: records people read (``examined_at``, triage times) are to the
second; rows whose order matters (archive items, custody entries, file system times) keep
microseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(moment: datetime, *, micro: bool = True) -> str:
    """``moment`` in UTC as ``2020-10-05T12:00:00.000000Z`` (``micro=False``: ``2020-10-05T12:00:00Z``)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def utc_now() -> str:
    """The current time, ISO 8601 UTC to the second."""
    return iso_utc(datetime.now(UTC), micro=False)


def utc_now_micro() -> str:
    """The current time, ISO 8601 UTC with microseconds (for rows whose order matters)."""
    return iso_utc(datetime.now(UTC))


def timestamp_label(seconds: float) -> str:
    """A media time as ``HH-MM-SS.mmm``: safe in a file name."""
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}-{minutes:02d}-{secs:02d}.{millis:03d}"
