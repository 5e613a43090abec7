"""Writing output files so that a reader never sees half of one, and nothing is written through a link."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
"""Flags of a file that must be new: never an existing file, never through a link planted at its name."""


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` through a new temporary file beside it and a rename.

    The folder is made when missing; the rest is :func:`write_all_atomic` of one file: the temporary
    name is created exclusively (never through a link planted there), with the usual permissions, and
    on any failure it is removed and ``path`` is left as it was. Lone surrogates (undecodable bytes of
    a file name) are written as ``\\udcXX``, which JSON reads back.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    write_all_atomic([(path, text.encode("utf-8", "backslashreplace"))])


def _temporary_beside(path: Path) -> Path:
    """A new temporary name in ``path``'s folder: ``.<name>.<random>.tmp``."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def write_new(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, which must not exist yet (``O_CREAT | O_EXCL | O_NOFOLLOW``).

    Raises ``FileExistsError`` when anything, a planted link included, is at ``path`` already; a
    partly written file is removed.
    """
    fd = os.open(path, _NEW_FILE, 0o666)  # the umask applies, as for any file the examiner makes
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def write_all_atomic(files: Sequence[tuple[Path, bytes]]) -> None:
    """Write each ``(path, data)`` of ``files``, all of them or none.

    Every file is first written under a new temporary name beside it (:func:`write_new`), then each is
    renamed over its path. A rename replaces whatever is at the path (a link planted there is replaced,
    never written through, so its target is untouched); nothing is ever written to an existing file.
    On any failure the temporary files, and the files this call has already renamed into place, are
    removed, and the error is raised. The folders must exist.
    """
    pending: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        for path, data in files:
            tmp = _temporary_beside(path)
            write_new(tmp, data)
            pending.append((tmp, path))
        for tmp, path in pending:
            os.replace(tmp, path)
            placed.append(path)
    except BaseException:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
        for path in placed:
            with contextlib.suppress(OSError):
                path.unlink()
        raise
