"""Walk input folders and tell media by content (magic bytes), not by file name.

Folders are walked recursively in name order, following symbolic links to folders but never into
a folder already walked, so a link loop (``a/loop -> ..``) ends at once and is listed. A file that
is another name of one already found (a hard or symbolic link) is listed, not triaged twice.

What the first bytes say decides: a video container or picture format is a candidate; audio,
documents, text and anything unrecognised are skipped and listed with the reason. A file whose
name promises media (``.mp4``, ``.jpg``...) but whose content is not recognised (an HTML error
page saved by a failed download, garbage) is still a candidate, so that it ends as an error row
instead of vanishing. Empty and unreadable files are candidates for the same reason. Files are
only opened read-only (without updating their access time where the kernel allows).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence

from provenance.media.sniff import sniff
from provenance.triage.results import Candidate, Skipped, WalkResult

HEADER_BYTES = 512  # enough for every signature below, including three MPEG-TS packets

MEDIA_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".qt", ".3gp", ".3g2", ".mkv", ".webm", ".avi", ".flv", ".f4v", ".ts", ".m2ts", ".mts",
    ".mpg", ".mpeg", ".vob", ".wmv", ".asf", ".ogv", ".gif", ".jpg", ".jpeg", ".jfif", ".png", ".webp", ".tif",
    ".tiff", ".bmp", ".heic", ".heif", ".avif",
})
"""Names that promise media: used only to flag unrecognised content as an error rather than skip it."""

def _describe_unknown(path: str, head: bytes) -> str:
    """A reason to skip an unrecognised file, as specific as the content allows."""
    if path.endswith(".info.json"):
        return "yt-dlp sidecar (read as the sighting of its video)"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        # a multi-byte character cut at the end of the header still counts as text
        try:
            head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return "not a video or picture (unrecognised binary content)"
    return "not a video or picture (text)"


def _read_head(path: str) -> bytes:
    """The first HEADER_BYTES of ``path``, opened read-only and without touching its access time."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    try:
        fd = os.open(path, flags | noatime)
    except PermissionError:
        fd = os.open(path, flags)  # O_NOATIME needs ownership; plain reading may still be allowed
    try:
        return os.read(fd, HEADER_BYTES)
    finally:
        os.close(fd)


def classify(path: str, info: os.stat_result) -> Candidate | Skipped:
    """A regular file as a media candidate or a skipped path, by its first bytes."""

    def candidate(detected: str) -> Candidate:
        """This file as a candidate, with what its bytes say."""
        return Candidate(path=path, size=info.st_size, mtime_ns=info.st_mtime_ns, ctime_ns=info.st_ctime_ns,
                         inode=info.st_ino, detected=detected)

    if info.st_size == 0:
        return candidate("empty")
    try:
        head = _read_head(path)
    except OSError:
        return candidate("unreadable")
    name, media = sniff(head)
    if media:
        return candidate(name)
    extension = os.path.splitext(path)[1].lower()
    if extension in MEDIA_EXTENSIONS:
        return candidate(f"unknown ({name or 'unrecognised content'}, named {extension})")
    if name:
        kind = "audio only" if name.startswith("audio/") else "not a video or picture"
        return Skipped(path, f"{kind} ({name})")
    return Skipped(path, _describe_unknown(path, head))


def _key(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


def walk(inputs: Sequence[str], exclude: Iterable[str] = ()) -> WalkResult:
    """Find the media candidates under ``inputs`` (folders or files) and list what is skipped.

    ``exclude`` are paths never to look into (the report folder, the archive). Inputs that do not
    exist are listed as skipped; the caller decides whether that is a usage error.
    """
    excluded: set[tuple[int, int]] = set()
    for path in exclude:
        try:
            excluded.add(_key(os.stat(path)))
        except OSError:
            continue
    candidates: list[Candidate] = []
    skipped: list[Skipped] = []
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: dict[tuple[int, int], str] = {}

    def visit_file(path: str, info: os.stat_result) -> None:
        """Classify a regular file, once per file (not per name)."""
        key = _key(info)
        if key in excluded:
            skipped.append(Skipped(path, "the archive or a file of the report folder: not evidence"))
            return
        if key in seen_files:
            skipped.append(Skipped(path, f"another name (link) of a file already found: {seen_files[key]}"))
            return
        seen_files[key] = path
        found = classify(path, info)
        (candidates if isinstance(found, Candidate) else skipped).append(found)  # type: ignore[arg-type]

    def visit(path: str, is_link: bool) -> None:
        """Look at one path: a folder to walk, a file to classify, or something to list as skipped."""
        try:
            info = os.stat(path)
        except FileNotFoundError:
            skipped.append(Skipped(path, "broken symbolic link" if is_link else "no such file or folder"))
            return
        except OSError as exc:
            if exc.errno == 40:  # ELOOP: a link that points at itself through other links
                skipped.append(Skipped(path, "symbolic link loop: not followed"))
            else:
                skipped.append(Skipped(path, f"cannot reach it: {exc.strerror or exc}"))
            return
        if stat.S_ISDIR(info.st_mode):
            walk_dir(path, info, is_link)
        elif stat.S_ISREG(info.st_mode):
            visit_file(path, info)
        else:
            skipped.append(Skipped(path, "not a regular file (a FIFO, socket or device)"))

    def walk_dir(path: str, info: os.stat_result, is_link: bool) -> None:
        """Walk a folder in name order, unless it was walked already (a link loop)."""
        key = _key(info)
        if key in excluded:
            skipped.append(Skipped(path, "the report folder or a folder the archive keeps beside it: not evidence"))
            return
        if key in seen_dirs:
            why = "symbolic link loop (to a folder already walked): not followed" if is_link else \
                "a folder already walked"
            skipped.append(Skipped(path, why))
            return
        seen_dirs.add(key)
        try:
            with os.scandir(path) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            skipped.append(Skipped(path, f"cannot list the folder: {exc.strerror or exc}"))
            return
        for entry in entries:
            try:
                link = entry.is_symlink()
            except OSError:
                link = False
            visit(entry.path, link)

    for given in inputs:
        visit(os.path.abspath(given), os.path.islink(given))
    return WalkResult(tuple(candidates), tuple(skipped))
