"""Folders of ``.npy`` files kept beside the archive, tagged with the archive state they were made from.

A folder holds one ``NAME.npy`` per array and a ``key`` file, written last, that names the archive
state (its id and generation, plus whatever else the contents depend on). It is written in a
temporary folder and swapped in whole, so a reader sees the old folder or the new one, never a mix;
a folder whose key differs is stale. Arrays are opened memory-mapped: a reader pays for the pages
it touches, not for the whole folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np


def save_arrays(folder: Path, key: str, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` as ``.npy`` files into ``folder`` tagged with ``key``, replacing it whole.

    Raises ``OSError`` when the folder cannot be written; nothing is left behind then.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", suffix=".tmp", dir=folder.parent))
    try:
        for name, array in arrays.items():
            np.save(tmp / f"{name}.npy", np.require(array, requirements="C"), allow_pickle=False)  # keeps 0-d
        (tmp / "key").write_text(key, encoding="utf-8")  # written last: a folder with it is complete
        old = folder.with_name(folder.name + f".old{os.getpid()}")
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def saved_key(folder: Path) -> str | None:
    """The key ``folder`` was saved with, or None when it is missing or unreadable."""
    try:
        return (folder / "key").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def load_array(folder: Path, name: str) -> np.ndarray:
    """The array ``name`` of ``folder``, memory-mapped read-only. Raises ``OSError`` or ``ValueError``
    when it is missing or damaged."""
    return np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
