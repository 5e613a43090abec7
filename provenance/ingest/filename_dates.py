"""Dates a file's name carries: a Telegram Desktop export's message time, a marked yt-dlp upload date.

Only two explicit patterns are read; a run of digits that merely looks like a date is not evidence of
when anything was posted, so ``IMG_20201005.jpg`` or ``clip 05-10-2020.mp4`` give nothing.

- **Telegram Desktop export**: the files of an export are named after their message's time,
  ``<kind>_<n>@DD-MM-YYYY_hh-mm-ss.<ext>`` with kind ``photo``, ``video``, ``file`` or ``story``
  (``photo_12@05-10-2020_14-03-22.jpg``, ``video_1@05-10-2020_14-03-22.mp4``; a name Telegram made
  unique ends `` (1)`` before the extension). Telegram Desktop writes that time on the exporting
  machine's clock, whose zone the export does not record, so the sighting's ``first_seen`` is the
  local time without a zone (``2020-10-05T14:03:22``), which ``provenance.dates`` reads as a local time
  of unknown zone (widened by every zone's offset when compared with a zoned date), and its
  ``recorded_from`` says so. Thumbnails (``video_1@...mp4_thumb.jpg``) are not matched. The export's
  ``result.json``, when it is there, gives the exact UTC time instead (``provenance.ingest.telegram``).
- **yt-dlp**: its default output template (``%(title)s [%(id)s].%(ext)s``) carries no date. A name
  carries the upload date only when the template marks it, as ``[upload_date=%(upload_date)s]``
  (``Harbour fire [dQw4w9WgXcQ] [upload_date=20201005].mp4``) or
  ``[upload_date=%(upload_date>%Y-%m-%d)s]`` (``[upload_date=2020-10-05]``). yt-dlp's ``upload_date``
  is a UTC calendar date; the sighting's ``first_seen`` is that date (``2020-10-05``). Two markings
  that disagree give nothing.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from provenance.model import Sighting
from provenance.platforms import normalise

__all__ = ["FROM_TELEGRAM_NAME", "FROM_YTDLP_NAME", "sighting_from_name"]

FROM_TELEGRAM_NAME = "file name (Telegram export pattern; the exporting machine's local time, zone unknown)"
"""``recorded_from`` of a sighting read from a Telegram export's file name."""
FROM_YTDLP_NAME = "file name (yt-dlp [upload_date=...] marking; a UTC date)"
"""``recorded_from`` of a sighting read from a yt-dlp file name's upload-date marking."""

_TELEGRAM_PLATFORM = normalise("telegram")[0]
_TELEGRAM = re.compile(r"(?:photo|video|file|story)_[0-9]{1,9}@([0-9]{2})-([0-9]{2})-([0-9]{4})_([0-9]{2})-([0-9]{2})-"
                       r"([0-9]{2})(?: \([0-9]{1,6}\))?\.[A-Za-z0-9]{1,8}")
_UPLOAD_DATE = re.compile(r"\[upload_date=([0-9]{4})-?([0-9]{2})-?([0-9]{2})\]")


def _telegram_time(name: str) -> str | None:
    found = _TELEGRAM.fullmatch(name)
    if found is None:
        return None
    day, month, year, hour, minute, second = (int(part) for part in found.groups())
    try:
        return datetime(year, month, day, hour, minute, second).isoformat(timespec="seconds")
    except ValueError:
        return None


def _upload_date(name: str) -> str | None:
    days = set()
    for found in _UPLOAD_DATE.finditer(name):
        text = found.group(0)
        if text.count("-") not in (0, 2):
            return None  # 2020-1005: neither form
        try:
            days.add(date(*(int(part) for part in found.groups())).isoformat())
        except ValueError:
            return None
    return days.pop() if len(days) == 1 else None


def sighting_from_name(name: str) -> Sighting | None:
    """The sighting a file name's own date makes (see the module notes), or None when it carries none.

    ``name`` is a file name or a path (only its last part is read). The sighting holds ``first_seen``,
    ``file_name`` and ``recorded_from``; a Telegram name also ``platform`` "telegram".
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    when = _telegram_time(base)
    if when is not None:
        return Sighting(platform=_TELEGRAM_PLATFORM, first_seen=when, file_name=base, recorded_from=FROM_TELEGRAM_NAME)
    day = _upload_date(base)
    if day is not None:
        return Sighting(first_seen=day, file_name=base, recorded_from=FROM_YTDLP_NAME)
    return None
