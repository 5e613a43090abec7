"""Writing output files so that a reader never sees half of one, and nothing is written through a link."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` through a new temporary file beside it and a rename.

    The temporary name is created exclusively (``open(..., "x")``: ``O_CREAT | O_EXCL``, which never
    follows a link planted under that name), with the usual permissions rather than ``mkstemp``'s
    0600, so a report can be shared like any other file. Lone surrogates (undecodable bytes of a
    file name) are written as ``\\udcXX``, which JSON reads back. On any failure the temporary file
    is removed and ``path`` is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8", errors="backslashreplace", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
