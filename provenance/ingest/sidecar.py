"""Read the ``.info.json`` that yt-dlp writes beside a download (``--write-info-json``) as a Sighting.

yt-dlp names it after the output file with the extension replaced (``Title [id].info.json`` beside
``Title [id].mp4``); some setups keep the extension (``Title [id].mp4.info.json``), and an unmerged
format download carries a ``.fNNN`` suffix (``Title [id].f137.mp4``). All three are looked for.
The file is only read. Fields used::

    webpage_url (else original_url)       -> source_url
    extractor_key (else extractor)        -> platform, normalised (``platforms``); the name as platform_raw
    uploader (else channel, uploader_id)  -> uploader
    timestamp (epoch s) else upload_date  -> first_seen (UTC date-time, or YYYY-MM-DD)
    title (else fulltitle)                -> title
    id                                    -> video_id

A sidecar that is unreadable or not yt-dlp's shape gives no sighting and a warning, never an error;
a FIFO or device under a sidecar's name, or a name too long for the file system, is not a sidecar
(it is never opened for a blocking read), and text fields that JSON escapes as lone surrogates are
kept with U+FFFD in their place, so that the sighting can be stored.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from provenance.model import Sighting
from provenance.platforms import kept_raw, normalise

MAX_SIDECAR_BYTES = 64 << 20
"""Larger files are not yt-dlp sidecars we want to parse (a video's is usually well under 1 MB)."""

_FORMAT_SUFFIX = re.compile(r"\.f[0-9]+[a-z0-9-]*$")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class SidecarResult:
    """What the sidecar said: a sighting (or None), the sidecar read, and a warning if it was unusable."""

    sighting: Sighting | None
    path: str | None = None
    warning: str | None = None


def sidecar_candidates(media_path: str | Path) -> tuple[Path, ...]:
    """The paths where yt-dlp's info JSON for ``media_path`` may be, most specific first."""
    media = Path(media_path)
    stem = media.stem if media.suffix else media.name
    names = [f"{media.name}.info.json", f"{stem}.info.json"]
    trimmed = _FORMAT_SUFFIX.sub("", stem)
    if trimmed != stem:
        names.append(f"{trimmed}.info.json")
    unique = list(dict.fromkeys(names))
    return tuple(media.with_name(name) for name in unique)


def _text(info: dict[str, object], *keys: str) -> str | None:
    for key in keys:
        value = info.get(key)
        if isinstance(value, str) and value.strip():
            # JSON may escape a lone surrogate (\ud800), which no UTF-8 text (nor SQLite) can hold
            return _LONE_SURROGATE.sub("\ufffd", value.strip())
        if isinstance(value, int) and not isinstance(value, bool) and key in ("id", "uploader_id"):
            return str(value)
    return None


def _epoch_utc(timestamp: object) -> str | None:
    """An epoch time in seconds as ``YYYY-MM-DDTHH:MM:SSZ``, or None when it is not a usable number."""
    if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
        try:  # an integer of hundreds of digits is valid JSON, but math.isfinite cannot take it
            moment = datetime.fromtimestamp(timestamp, UTC) if math.isfinite(timestamp) else None
        except (OverflowError, OSError, ValueError):
            moment = None
        if moment is not None:
            return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    return None


def _first_seen(info: dict[str, object]) -> str | None:
    if (moment := _epoch_utc(info.get("timestamp"))) is not None:
        return moment
    upload_date = info.get("upload_date")
    if isinstance(upload_date, str) and re.fullmatch(r"[0-9]{8}", upload_date):
        try:
            return date(int(upload_date[:4]), int(upload_date[4:6]), int(upload_date[6:])).isoformat()
        except ValueError:
            return None
    return None


def _platform(info: dict[str, object], source_url: str | None) -> tuple[str | None, str | None]:
    """``(platform, raw)`` from the extractor's names; from the page's URL only when neither is given."""
    raw = _text(info, "extractor_key", "extractor")
    if raw is None:
        return normalise(source_url)[0], None
    for key in ("extractor_key", "extractor"):
        if (platform := normalise(_text(info, key))[0]) is not None:
            return platform, kept_raw(platform, raw)
    return None, raw


def _recorded_from(info: dict[str, object]) -> str:
    tool = info.get("_version")
    version = _text(tool, "version") if isinstance(tool, dict) else None
    extracted = _epoch_utc(info.get("epoch"))
    said = ", ".join(part for part in (f"yt-dlp {version}" if version else None,
                                       f"extracted {extracted}" if extracted else None) if part)
    return f"yt-dlp info.json ({said})" if said else "yt-dlp info.json"


def sighting_from_info(info: dict[str, object]) -> Sighting | None:
    """The sighting a yt-dlp info dict describes, or None when it names neither a URL nor an id.

    Its ``recorded_from`` is "yt-dlp info.json", with the yt-dlp version and the time it read the page
    (``_version``, ``epoch``) when the info gives them: "yt-dlp info.json (yt-dlp 2024.08.06, extracted
    2023-11-14T22:13:20Z)".
    """
    source_url = _text(info, "webpage_url", "original_url")
    platform, platform_raw = _platform(info, source_url)
    sighting = Sighting(
        source_url=source_url,
        platform=platform,
        uploader=_text(info, "uploader", "channel", "uploader_id"),
        first_seen=_first_seen(info),
        title=_text(info, "title", "fulltitle"),
        video_id=_text(info, "id"),
        platform_raw=platform_raw,
        recorded_from=_recorded_from(info),
    )
    if sighting.source_url is None and sighting.video_id is None:
        return None
    return sighting


def _read_regular(path: Path) -> bytes | None:
    """At most ``MAX_SIDECAR_BYTES + 1`` bytes of ``path``, or None when what opened is not a regular file.

    Opened without blocking, so a FIFO put in the sidecar's place after it was looked at cannot hang us.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        os.set_blocking(fd, True)
        chunks, total = [], 0
        while total <= MAX_SIDECAR_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_SIDECAR_BYTES + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_ytdlp_sidecar(media_path: str | Path) -> SidecarResult:
    """Look for yt-dlp's ``.info.json`` beside ``media_path`` and read it (read-only) as a Sighting.

    Returns ``SidecarResult(None)`` when there is no sidecar, and ``SidecarResult(None, path,
    warning)`` when there is one that cannot be used (unreadable, bad JSON, a playlist, too large).
    ``file_name`` and ``added_at`` of the sighting are left for the caller to fill.
    """
    for candidate in sidecar_candidates(media_path):
        try:
            entry = os.stat(candidate)
        except OSError:
            continue  # missing, or a name the file system cannot hold (too long with the suffix)
        if not stat.S_ISREG(entry.st_mode):
            continue  # a FIFO or device under a sidecar's name could block or never end
        where = str(candidate)
        if entry.st_size > MAX_SIDECAR_BYTES:
            return SidecarResult(None, where, f"{where}: too large for a yt-dlp info file; ignored")
        try:
            raw = _read_regular(candidate)
        except OSError as exc:
            return SidecarResult(None, where, f"{where}: cannot read it ({exc.strerror or exc}); ignored")
        if raw is None:
            continue
        if len(raw) > MAX_SIDECAR_BYTES:
            return SidecarResult(None, where, f"{where}: too large for a yt-dlp info file; ignored")
        try:
            info = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return SidecarResult(None, where, f"{where}: not valid JSON ({exc}); ignored")
        except RecursionError:
            return SidecarResult(None, where, f"{where}: JSON nested too deeply to be a yt-dlp info file; ignored")
        if not isinstance(info, dict):
            return SidecarResult(None, where, f"{where}: not a yt-dlp info object; ignored")
        kind = info.get("_type", "video")
        if kind not in ("video", None):
            return SidecarResult(None, where, f"{where}: describes a {str(kind)[:40]}, not one video; ignored")
        sighting = sighting_from_info(info)
        if sighting is None:
            return SidecarResult(None, where, f"{where}: has neither webpage_url nor id; ignored")
        return SidecarResult(sighting, where)
    return SidecarResult(None)
