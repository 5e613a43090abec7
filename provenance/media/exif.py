"""The EXIF block of a still (JPEG, TIFF, HEIC, WebP, PNG eXIf), read with exifread.

Only the file is read (opened ``rb``); MakerNotes are not decoded (``details=False``) and thumbnails
are not extracted. Odd or damaged files never raise: whatever cannot be read is simply absent.
"""

from __future__ import annotations

import logging
import os
import stat
from typing import Any

from provenance.media.location import location_from_exif_gps
from provenance.model import ExifInfo, Location

MAX_VALUE_CHARS = 200
"""Longest tag value kept in ``ExifInfo.tags``; longer values are cut and end with an ellipsis."""

_BLOB_TAGS = frozenset({"JPEGThumbnail", "TIFFThumbnail", "EXIF MakerNote"})

# exifread logs "File format not recognized" etc. as warnings; with no handler configured they would
# reach stderr through logging's last resort. A NullHandler keeps them quiet but still propagating.
logging.getLogger("exifread").addHandler(logging.NullHandler())


def _text(tag: Any) -> str | None:
    """A tag's printable text, stripped of padding spaces and NULs; None when empty."""
    if tag is None:
        return None
    value = str(getattr(tag, "printable", tag)).replace("\x00", "").strip()
    return value or None


def exif_datetime(text: str | None) -> str | None:
    """EXIF date-time text as written (``YYYY:MM:DD HH:MM:SS``, local camera time, no zone).

    Blank and all-zero values (cameras write them when the clock was never set) give None.
    """
    if not text or not text.strip():
        return None
    if not text.strip(" :0"):
        return None
    return text.strip()


def _orientation(tag: Any) -> int | None:
    """EXIF Orientation 1..8, or None when absent or out of range."""
    values = getattr(tag, "values", None)
    if not values:
        return None
    try:
        value = int(values[0])
    except (TypeError, ValueError):
        return None
    return value if 1 <= value <= 8 else None


def _values(tag: Any) -> Any:
    """The raw values of a tag (a list for rationals), or None."""
    return getattr(tag, "values", None) if tag is not None else None


def _gps(tags: dict[str, Any]) -> Location | None:
    """The EXIF GPS position as decimal degrees, or None when it is absent or malformed."""
    lat, lon = tags.get("GPS GPSLatitude"), tags.get("GPS GPSLongitude")
    if lat is None or lon is None:
        return None
    lat_ref, lon_ref = tags.get("GPS GPSLatitudeRef"), tags.get("GPS GPSLongitudeRef")
    alt, alt_ref = tags.get("GPS GPSAltitude"), tags.get("GPS GPSAltitudeRef")
    raw = f"{_text(lat_ref) or '?'} {_text(lat)} {_text(lon_ref) or '?'} {_text(lon)}"
    if alt is not None:
        raw += f" alt {_text(alt)} ref {_text(alt_ref) or '?'}"
    return location_from_exif_gps(
        _values(lat),
        _text(lat_ref),
        _values(lon),
        _text(lon_ref),
        _values(alt),
        _values(alt_ref),
        source="EXIF GPS",
        raw=raw,
    )


def _tag_list(tags: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """(name, printable value) for every tag but binary blobs, values cut to MAX_VALUE_CHARS."""
    out: list[tuple[str, str]] = []
    for name, tag in tags.items():
        if name in _BLOB_TAGS or "MakerNote" in name or isinstance(tag, (bytes, bytearray)):
            continue
        value = str(getattr(tag, "printable", tag)).replace("\x00", "")
        if len(value) > MAX_VALUE_CHARS:
            value = value[: MAX_VALUE_CHARS - 1] + "…"
        out.append((name, value))
    return tuple(out)


def read_exif(path: str | os.PathLike[str]) -> ExifInfo | None:
    """The EXIF of a still, or None when it has none (or it cannot be read at all). Never raises.

    ``datetime_original`` is EXIF DateTimeOriginal as written (``YYYY:MM:DD HH:MM:SS``, the camera's
    local clock; ``offset_time`` is OffsetTimeOriginal, else OffsetTime, when the camera wrote one).
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None  # a FIFO or device would block or never end
        with open(path, "rb") as handle:
            import exifread  # imported late: only stills need it

            tags = exifread.process_file(
                handle, details=False, extract_thumbnail=False, truncate_tags=False
            )
    except Exception:  # exifread raises many kinds of errors on damaged files; none may escape
        return None
    if not tags:
        return None
    try:
        return ExifInfo(
            datetime_original=exif_datetime(_text(tags.get("EXIF DateTimeOriginal"))),
            offset_time=_text(tags.get("EXIF OffsetTimeOriginal")) or _text(tags.get("EXIF OffsetTime")),
            make=_text(tags.get("Image Make")),
            model=_text(tags.get("Image Model")),
            software=_text(tags.get("Image Software")),
            orientation=_orientation(tags.get("Image Orientation")),
            location=_gps(tags),
            tags=_tag_list(tags),
        )
    except Exception:  # a tag of an unexpected type must not stop the examination
        return None
