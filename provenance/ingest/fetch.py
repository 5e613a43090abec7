"""``provenance fetch``: download footage with yt-dlp, hash it, and record where and when it was fetched.

yt-dlp (the optional extra ``pip install 'provenance[fetch]'``) is imported only when a fetch runs.
Each URL is downloaded with ``--write-info-json`` and yt-dlp's default output template
(``Title [id].ext``) into a fresh hidden folder inside ``DIR`` (``.provenance-fetch-*``), then
its files are placed in ``DIR`` under yt-dlp's names by hard link (or exclusive copy), never over
an existing file:

- when ``DIR`` already holds a file of that name with the same SHA-256, nothing is placed and the
  file there is the result (``already_there``);
- when it holds a different file of that name (the post was edited, say), the new download and its
  info JSON are placed as ``Title [id] (2).ext`` and ``Title [id] (2).info.json`` (the first number
  free), so neither version is lost.

The sighting is the info JSON's (``sidecar.sighting_from_info``: the platform normalised from the
extractor, webpage_url, uploader, the upload time or date as ``first_seen``, title, id) with
``recorded_from`` "provenance fetch (yt-dlp V, provenance V) at FETCH-TIME": the fetch time (UTC) is
part of that note, since ``added_at`` is when a sighting enters the archive, which may be later.
With an archive, the file is added (``add.add_files``, custody logged) with that sighting.

A URL yt-dlp cannot fetch is recorded with yt-dlp's reason in one line, and the batch goes on.
Nothing of a URL that failed is left in ``DIR``; the hidden folder is removed after each URL (or
Ctrl-C). A ``kill -9`` can leave that hidden folder behind, never half a file under a final name.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from provenance.errors import MissingToolError, UsageError
from provenance.ingest.add import AddedFile, add_files
from provenance.ingest.sidecar import sidecar_candidates, sighting_from_info
from provenance.model import Sighting
from provenance.times import utc_now
from provenance.version import __version__

INSTALL_HINT = "pip install 'provenance[fetch]'"
OUTPUT_TEMPLATE = "%(title)s [%(id)s].%(ext)s"
"""yt-dlp's own default output template, spelled out so that the names do not change with yt-dlp's default."""
INFO_SUFFIX = ".info.json"
_URL = re.compile(r"^https?://", re.IGNORECASE)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class FetchedFile:
    """One file a URL gave: where it is in DIR, its info JSON, SHA-256, sighting and, with an archive, the add."""

    url: str
    path: str
    info_json: str | None
    sha256: str
    size: int
    sighting: Sighting
    already_there: bool = False  # DIR held this very file (same name and SHA-256) before the fetch
    archived: AddedFile | None = None


@dataclass(frozen=True)
class FetchFailure:
    """A URL that gave nothing: yt-dlp's (or the placing's) reason, in one line."""

    url: str
    error: str


@dataclass(frozen=True)
class FetchReport:
    """The outcome of a ``fetch`` batch: the files fetched and the URLs that failed, in the order given."""

    into: str
    ytdlp_version: str
    files: tuple[FetchedFile, ...]
    failures: tuple[FetchFailure, ...]
    archive: str | None = None

    @property
    def failed(self) -> int:
        """How many URLs gave nothing, plus the files fetched that the archive could not add."""
        return len(self.failures) + sum(1 for f in self.files if f.archived is not None and f.archived.error)


def looks_like_url(text: str) -> bool:
    """True for an ``http://`` or ``https://`` URL (which ``check`` does not fetch)."""
    return bool(_URL.match(text.strip()))


def ytdlp_version() -> str:
    """The installed yt-dlp's version; ``MissingToolError`` naming the extra to install when it is missing."""
    try:
        from yt_dlp.version import __version__ as version
    except ImportError:
        raise MissingToolError(f"yt-dlp is not installed: {INSTALL_HINT}") from None
    return str(version)


class _Log:
    """yt-dlp's logger: its chatter is dropped, its last error kept (the CLI prints one line of its own)."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def debug(self, message: str) -> None:
        """Progress and information lines: dropped."""

    def info(self, message: str) -> None:
        """Information lines: dropped."""

    def warning(self, message: str) -> None:
        """Warnings: dropped (yt-dlp's own; a failure still comes as an error)."""

    def error(self, message: str) -> None:
        """An error line: kept for the failure's message."""
        self.errors.append(message)


def _one_line(message: str) -> str:
    text = _ANSI.sub("", message).strip()
    text = text.removeprefix("ERROR:").strip()
    return " ".join(text.split()) or "yt-dlp gave no reason"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _entries(info: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The videos an extracted info describes: itself, or the entries of a playlist (nested ones too)."""
    entries = info.get("entries")
    if entries is None:
        yield info
        return
    for entry in entries:
        if isinstance(entry, dict):
            yield from _entries(entry)


def _media_path(entry: dict[str, Any]) -> Path | None:
    for download in entry.get("requested_downloads") or ():
        if isinstance(download, dict) and download.get("filepath"):
            return Path(download["filepath"])
    found = entry.get("filepath") or entry.get("_filename")
    return Path(found) if found else None


def _numbered(name: str, prefix: str, number: int) -> str:
    """``name`` with `` (number)`` after ``prefix`` (the media name less its extension); 1 keeps it as it is."""
    return name if number == 1 else f"{prefix} ({number}){name[len(prefix):]}"


def _place(source: Path, target: Path) -> bool:
    """Put ``source`` at ``target`` unless something is there already (False then); never overwrites."""
    try:
        os.link(source, target)
        return True
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: copy, creating the target exclusively
        pass
    try:
        dst = open(target, "xb")  # noqa: SIM115 (closed below, and the target removed when the copy fails)
    except FileExistsError:
        return False
    try:
        with open(source, "rb") as src, dst:
            shutil.copyfileobj(src, dst)
    except BaseException:
        target.unlink(missing_ok=True)  # never half a file under its final name
        raise
    return True


def _settle(media: Path, info: Path | None, into: Path) -> tuple[Path, Path | None, bool]:
    """Place a download's media and its info JSON in ``into``: (media path, info JSON path, already there)."""
    prefix = media.stem or media.name
    if info is not None and media.name.startswith((base := info.name.removesuffix(INFO_SUFFIX)) + "."):
        prefix = base  # "Title [id]" of "Title [id].f137.mp4" and "Title [id].info.json"
    digest = _sha256(media)
    for number in range(1, 1000):
        target = into / _numbered(media.name, prefix, number)
        info_target = into / _numbered(info.name, prefix, number) if info else None
        if target.is_file() and not target.is_symlink() and _sha256(target) == digest:
            return target, info_target if info_target is not None and info_target.is_file() else None, True
        if os.path.lexists(target) or (info_target is not None and os.path.lexists(info_target)):
            continue
        if _place(media, target):
            if info is not None and info_target is not None and not _place(info, info_target):
                info_target = None  # taken between the look and the link: the media is what counts
            return target, info_target, False
    raise _Failed(f"{into}: 999 files already named after {media.name}: fetch into another folder")


def _fetch_one(ytdlp: Any, url: str, into: Path, version: str) -> list[FetchedFile]:
    """Download ``url`` into a hidden folder of ``into``, place its files and return them; raises on failure."""
    work = Path(tempfile.mkdtemp(prefix=".provenance-fetch-", dir=into))
    log = _Log()
    try:
        options = {
            "outtmpl": {"default": OUTPUT_TEMPLATE},
            "paths": {"home": str(work), "temp": str(work)},
            "writeinfojson": True,
            "noplaylist": True,
            "overwrites": False,
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "color": {"stdout": "no_color", "stderr": "no_color"},
            "logger": log,  # the Python API reads no configuration file, so these are all the options
        }
        with ytdlp.YoutubeDL(options) as ydl:
            try:
                info = ydl.extract_info(url, download=True)
            except ytdlp.utils.DownloadError as exc:
                raise _Failed(_one_line(log.errors[-1] if log.errors else str(exc))) from None
            except ytdlp.utils.YoutubeDLError as exc:
                raise _Failed(_one_line(str(exc))) from None
            except (ValueError, TypeError, LookupError, UnicodeError) as exc:  # e.g. a URL urllib cannot parse
                raise _Failed(_one_line(f"yt-dlp could not read the URL: {type(exc).__name__}: {exc}")) from None
            if not isinstance(info, dict):
                raise _Failed(_one_line(log.errors[-1] if log.errors else "yt-dlp found nothing to download"))
            fetched_at = utc_now()
            recorded = f"provenance fetch (yt-dlp {version}, provenance {__version__}) at {fetched_at}"
            results = []
            for entry in _entries(info):
                media = _media_path(entry)
                if media is None or not media.is_file():
                    continue
                clean = ydl.sanitize_info(entry)
                sighting = sighting_from_info(clean) or Sighting(source_url=url)
                info_file = next((p for p in sidecar_candidates(media) if p.is_file()), None)
                placed, info_json, there = _settle(media, info_file, into)
                sighting = replace(sighting, source_url=sighting.source_url or url, file_name=placed.name,
                                   recorded_from=recorded)
                results.append(FetchedFile(url, str(placed), str(info_json) if info_json else None,
                                           _sha256(placed), placed.stat().st_size, sighting, already_there=there))
            if not results:
                raise _Failed(_one_line(log.errors[-1] if log.errors else "yt-dlp downloaded no file"))
            return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _Failed(Exception):
    """One URL failed; its one-line reason."""


def fetch_urls(
    urls: Sequence[str],
    into: str | os.PathLike[str],
    *,
    archive: str | None = None,
    examiner: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> FetchReport:
    """Fetch each of ``urls`` with yt-dlp into the folder ``into`` (created if missing); add each file to ``archive``.

    A URL that fails is recorded in ``failures`` and the batch goes on. Raises ``MissingToolError``
    when yt-dlp is not installed and ``UsageError`` when ``into`` is not a folder.
    """
    version = ytdlp_version()
    import yt_dlp

    folder = Path(into).expanduser()
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--into {folder}: not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--into {folder}: cannot create it ({exc.strerror or exc})") from None
    files: list[FetchedFile] = []
    failures: list[FetchFailure] = []
    for url in urls:
        if progress is not None:
            progress(url)
        if not looks_like_url(url):
            failures.append(FetchFailure(url, "not an http:// or https:// URL"))
            continue
        try:
            fetched = _fetch_one(yt_dlp, url, folder, version)
        except _Failed as exc:
            failures.append(FetchFailure(url, str(exc)))
            continue
        except OSError as exc:
            failures.append(FetchFailure(url, f"cannot write into {folder}: {exc.strerror or exc}"))
            continue
        if archive is not None:
            fetched = [replace(f, archived=_archived(archive, f, examiner)) for f in fetched]
        files.extend(fetched)
    return FetchReport(str(folder), version, tuple(files), tuple(failures), archive)


def _archived(archive: str, fetched: FetchedFile, examiner: str | None) -> AddedFile:
    report = add_files(archive, [fetched.path], sighting=fetched.sighting, examiner=examiner)
    return report.files[0]
