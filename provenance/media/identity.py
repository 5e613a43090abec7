"""What a file is, byte for byte: SHA-256, SHA-1 and MD5 in one read-only pass, plus its file system times.

The file is opened once, read-only (a ``provenance.media.source.MediaSource``, which a check shares
with ffprobe and ffmpeg so that all of them read the very bytes hashed), and never written or
touched (no ``utime``). The times come from ``fstat`` on the open descriptor before the first byte
is read, so they describe the file as it was found. Where the platform allows it (Linux, file owned
by the examiner) the file is opened with ``O_NOATIME`` so that reading it does not even move its
access time.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from provenance.errors import UnreadableMediaError
from provenance.media.source import MediaSource, reads_source, validate_input_path
from provenance.model import FileIdentity
from provenance.times import iso_utc

__all__ = ["CHUNK_SIZE", "file_identity", "iso_from_ns", "validate_input_path"]

CHUNK_SIZE = 1024 * 1024
"""Bytes per read (1 MiB)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_from_ns(ns: int) -> str:
    """A POSIX timestamp in nanoseconds as ISO 8601 UTC with microseconds: ``2020-10-05T12:00:00.000000Z``."""
    try:
        when = _EPOCH + timedelta(microseconds=ns // 1000)
    except OverflowError:
        # A crafted or corrupt time beyond year 9999 still deserves to be recorded, not to crash us.
        return f"@{ns / 1e9:.6f} (out of range)"
    return iso_utc(when)


@reads_source
def file_identity(source: MediaSource) -> FileIdentity:
    """Hash the file (SHA-256, SHA-1, MD5 in one pass of 1 MiB reads) and record its size and times.

    Takes a path or an open :class:`~provenance.media.source.MediaSource`; with a source, the bytes
    hashed are those of its descriptor (``os.pread``, so a thread can hash while ffmpeg decodes the
    same file), and the size and times are its ``fstat`` at open. Raises the errors of
    :func:`validate_input_path`, and UnreadableMediaError when the file changes size while it is
    being read (the hashes would describe no single version of it).
    """
    info = source.stat_at_open  # the opened file, before the first read
    # SHA-1 and MD5 are recorded for matching other tools' case records, not for security.
    sha256 = hashlib.sha256()
    sha1 = hashlib.sha1(usedforsecurity=False)
    md5 = hashlib.md5(usedforsecurity=False)
    total = 0
    while True:
        try:
            chunk = source.pread(CHUNK_SIZE, total)
        except OSError as exc:
            raise UnreadableMediaError(f"read error in {source.path}: {exc.strerror or exc}") from None
        if not chunk:
            break
        total += len(chunk)
        sha256.update(chunk)
        sha1.update(chunk)
        md5.update(chunk)
    if total != info.st_size:
        raise UnreadableMediaError(
            f"{source.path} changed while being read ({info.st_size} bytes at open, {total} read); "
            "copy it somewhere stable and try again"
        )
    return FileIdentity(
        path=source.path,
        name=source.name,
        size=info.st_size,
        sha256=sha256.hexdigest(),
        sha1=sha1.hexdigest(),
        md5=md5.hexdigest(),
        modified=iso_from_ns(info.st_mtime_ns),
        changed=iso_from_ns(info.st_ctime_ns),
        accessed=iso_from_ns(info.st_atime_ns),
    )
