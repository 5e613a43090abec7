"""What a file is, byte for byte: SHA-256, SHA-1 and MD5 in one read-only pass, plus its file system times.

The file is opened once, read-only, and never written or touched (no ``utime``). The times come
from ``fstat`` on the open descriptor before the first byte is read, so they describe the file as it
was found. Where the platform allows it (Linux, file owned by the examiner) the file is opened with
``O_NOATIME`` so that reading it does not even move its access time.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from datetime import UTC, datetime, timedelta

from provenance.errors import UnreadableMediaError, UsageError
from provenance.model import FileIdentity
from provenance.times import iso_utc

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


def validate_input_path(path: str | os.PathLike[str]) -> str:
    """Check that ``path`` is a readable, non-empty regular file and return its absolute path.

    Raises UsageError when it is missing, a directory or not a regular file (a FIFO or device could
    block or never end), and UnreadableMediaError when it cannot be read or holds no bytes. Nothing
    is opened here; this runs before any other stage.
    """
    text = os.fspath(path)
    if not text:
        raise UsageError("no input path given")
    absolute = os.path.abspath(text)
    try:
        info = os.stat(absolute)
    except FileNotFoundError:
        raise UsageError(f"no such file: {absolute}") from None
    except PermissionError:
        raise UnreadableMediaError(f"permission denied: {absolute} (cannot reach the file)") from None
    except NotADirectoryError:
        raise UsageError(f"no such file: {absolute} (a parent of it is not a folder)") from None
    except OSError as exc:
        raise UnreadableMediaError(f"cannot stat {absolute}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{absolute} is a directory; give a media file")
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{absolute} is not a regular file (a device, FIFO or socket)")
    if not os.access(absolute, os.R_OK):
        raise UnreadableMediaError(f"permission denied: {absolute} (no read permission)")
    if info.st_size == 0:
        raise UnreadableMediaError(f"{absolute} is empty (0 bytes)")
    return absolute


def _open_read_only(path: str) -> int:
    """A read-only descriptor for ``path``, without access-time updates where the kernel allows it."""
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    try:
        if noatime:
            try:
                return os.open(path, flags | noatime)
            except PermissionError as exc:
                # O_NOATIME needs ownership of the file: EPERM. No read permission is EACCES.
                if exc.errno != errno.EPERM:
                    raise
        return os.open(path, flags)
    except PermissionError:
        raise UnreadableMediaError(f"permission denied: {path} (no read permission)") from None
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory; give a media file") from None
    except OSError as exc:
        raise UnreadableMediaError(f"cannot open {path}: {exc.strerror or exc}") from None


def file_identity(path: str | os.PathLike[str]) -> FileIdentity:
    """Hash ``path`` (SHA-256, SHA-1, MD5 in one pass of 1 MiB reads) and record its size and times.

    Raises the same errors as :func:`validate_input_path`, and UnreadableMediaError when the file
    changes size while it is being read (the hashes would describe no single version of it).
    """
    absolute = validate_input_path(path)
    fd = _open_read_only(absolute)
    try:
        info = os.fstat(fd)  # the opened file, before the first read
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{absolute} is not a regular file")
        if info.st_size == 0:
            raise UnreadableMediaError(f"{absolute} is empty (0 bytes)")
        # SHA-1 and MD5 are recorded for matching other tools' case records, not for security.
        sha256 = hashlib.sha256()
        sha1 = hashlib.sha1(usedforsecurity=False)
        md5 = hashlib.md5(usedforsecurity=False)
        total = 0
        while True:
            try:
                chunk = os.read(fd, CHUNK_SIZE)
            except OSError as exc:
                raise UnreadableMediaError(f"read error in {absolute}: {exc.strerror or exc}") from None
            if not chunk:
                break
            total += len(chunk)
            sha256.update(chunk)
            sha1.update(chunk)
            md5.update(chunk)
    finally:
        os.close(fd)
    if total != info.st_size:
        raise UnreadableMediaError(
            f"{absolute} changed while being read ({info.st_size} bytes at open, {total} read); "
            "copy it somewhere stable and try again"
        )
    return FileIdentity(
        path=absolute,
        name=os.path.basename(absolute),
        size=info.st_size,
        sha256=sha256.hexdigest(),
        sha1=sha1.hexdigest(),
        md5=md5.hexdigest(),
        modified=iso_from_ns(info.st_mtime_ns),
        changed=iso_from_ns(info.st_ctime_ns),
        accessed=iso_from_ns(info.st_atime_ns),
    )
