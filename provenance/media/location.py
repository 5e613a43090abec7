"""Places on Earth from the two ways media files carry them: ISO 6709 strings and EXIF GPS rationals.

QuickTime/MP4 files write ISO 6709 text (``com.apple.quicktime.location.ISO6709``, ``location``,
``location-eng``), e.g. ``+48.3896+011.0470/`` or ``+27.1281-082.4536+003.000/``. ISO 6709 lets each
coordinate be decimal degrees (``±DD.D``), degrees and decimal minutes (``±DDMM.M``) or degrees,
minutes and decimal seconds (``±DDMMSS.S``); the number of integer digits tells them apart. EXIF
stores degrees/minutes/seconds as rationals with separate N/S/E/W references.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from provenance.model import Location

_ISO6709 = re.compile(
    r"""^\s*
    (?P<lat_sign>[+-])(?P<lat_int>\d+)(?P<lat_frac>\.\d*)?
    (?P<lon_sign>[+-])(?P<lon_int>\d+)(?P<lon_frac>\.\d*)?
    (?:(?P<alt_sign>[+-])(?P<alt>\d+(?:\.\d*)?))?
    (?:CRS[^/]*)?
    /?\s*$""",
    re.VERBOSE,
)

# Integer digits of each form. Longitudes without the leading zero break the standard but occur:
# Android writes "-74.4999", and ffmpeg's muxer rewrites "+01102.820" as "+1102.8199". Four or six
# digits cannot be plain degrees of longitude, so they are read as unpadded DDMM / DDMMSS.
_LAT_FORMS = {1: "D", 2: "D", 4: "DM", 6: "DMS"}
_LON_FORMS = {1: "D", 2: "D", 3: "D", 4: "DM", 5: "DM", 6: "DMS", 7: "DMS"}


def _coordinate(sign: str, integer: str, fraction: str | None, form: str) -> float | None:
    """Decimal degrees of one ISO 6709 coordinate, or None when minutes/seconds are out of range."""
    frac = float("0" + fraction) if fraction and fraction != "." else 0.0
    if form == "D":
        value = int(integer) + frac
    elif form == "DM":
        degrees, minutes = int(integer[:-2]), int(integer[-2:]) + frac
        if minutes >= 60:
            return None
        value = degrees + minutes / 60
    else:
        degrees, minutes, seconds = int(integer[:-4]), int(integer[-4:-2]), int(integer[-2:]) + frac
        if minutes >= 60 or seconds >= 60:
            return None
        value = degrees + minutes / 60 + seconds / 3600
    return -value if sign == "-" else value


def parse_iso6709(text: str | None, *, source: str = "ISO 6709") -> Location | None:
    """Parse an ISO 6709 point (``+48.3896+011.0470/``, ``+4823.376+01102.820/``, ...) to decimal degrees.

    Returns None for anything that is not a valid point on Earth (wrong shape, latitude beyond
    ±90, longitude beyond ±180, minutes or seconds of 60 or more). ``source`` names the tag the
    text came from; ``raw`` keeps the text as given.
    """
    if not text:
        return None
    match = _ISO6709.match(text)
    if match is None:
        return None
    lat_form = _LAT_FORMS.get(len(match["lat_int"]))
    lon_form = _LON_FORMS.get(len(match["lon_int"]))
    if lat_form is None or lon_form is None:
        return None
    latitude = _coordinate(match["lat_sign"], match["lat_int"], match["lat_frac"], lat_form)
    longitude = _coordinate(match["lon_sign"], match["lon_int"], match["lon_frac"], lon_form)
    if latitude is None or longitude is None or abs(latitude) > 90 or abs(longitude) > 180:
        return None
    altitude = None
    if match["alt"] is not None:
        altitude = float(match["alt"]) * (-1 if match["alt_sign"] == "-" else 1)
    return Location(latitude=latitude, longitude=longitude, altitude=altitude, source=source, raw=text)


def _number(value: object) -> float | None:
    """A finite float from an EXIF rational (exifread Ratio, Fraction, int or float)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None  # exifread keeps 0/0 rationals, which cameras write for "no fix"
    return number if math.isfinite(number) else None


def _dms(values: object) -> float | None:
    """Degrees from 1..3 EXIF rationals (degrees, minutes, seconds)."""
    items = list(values) if isinstance(values, (list, tuple)) else [values]
    if not 1 <= len(items) <= 3:
        return None
    total = 0.0
    for item, scale in zip(items, (1, 60, 3600), strict=False):
        part = _number(item)
        if part is None or part < 0:
            return None
        total += part / scale
    return total


def _ref(value: object) -> str:
    """A GPS reference letter or code as clean text (exifread gives str; others may give bytes)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, (list, tuple)) and value:
        value = value[0]
    return str(value).strip("\x00 ").upper() if value is not None else ""


def location_from_exif_gps(
    latitude: Sequence[object] | None,
    latitude_ref: object,
    longitude: Sequence[object] | None,
    longitude_ref: object,
    altitude: object = None,
    altitude_ref: object = None,
    *,
    source: str = "EXIF GPS",
    raw: str | None = None,
) -> Location | None:
    """Decimal degrees from EXIF GPSLatitude/GPSLongitude (degree, minute, second rationals) and refs.

    ``latitude_ref`` is N or S and ``longitude_ref`` E or W; without them the hemisphere is unknown
    and None is returned rather than a guess. ``altitude_ref`` 1 means below sea level. Zero
    denominators, missing parts and out-of-range values give None (the raw tags stay in the EXIF tag
    list either way).
    """
    if latitude is None or longitude is None:
        return None
    lat_ref, lon_ref = _ref(latitude_ref), _ref(longitude_ref)
    if lat_ref[:1] not in ("N", "S") or lon_ref[:1] not in ("E", "W"):
        return None
    lat, lon = _dms(latitude), _dms(longitude)
    if lat is None or lon is None or lat > 90 or lon > 180:
        return None
    if lat_ref.startswith("S"):
        lat = -lat
    if lon_ref.startswith("W"):
        lon = -lon
    alt = None
    if altitude is not None:
        alt_value = altitude[0] if isinstance(altitude, (list, tuple)) and altitude else altitude
        alt = _number(alt_value)
        if alt is not None and _ref(altitude_ref) in ("1", "\x01"):
            alt = -alt
    if raw is None:
        raw = f"{lat_ref} {_show(latitude)} {lon_ref} {_show(longitude)}"
        if altitude is not None:
            raw += f" alt {_show(altitude)} ref {_ref(altitude_ref) or '?'}"
    return Location(latitude=lat, longitude=lon, altitude=alt, source=source, raw=raw)


def _show(values: object) -> str:
    """Rationals as text, ``[43, 28, 1407/500]`` (the way exifread prints them)."""
    if isinstance(values, (list, tuple)):
        return "[" + ", ".join(str(v) for v in values) + "]"
    return str(values)
