"""The files and folders kept beside an archive ``ARCHIVE`` (its SQLite file), named in one place.

Each is derived from the archive, tagged with the archive state it was made from, and rebuilt when
it is missing or stale, so any of them may be deleted (at the cost of a slower next check):

* ``ARCHIVE.frames`` (``frames_folder``): the usable frames (PDQ hashes, times, item rows) as
  ``.npy`` files, memory-mapped by ``provenance.archive.frame_cache``.
* ``ARCHIVE.idx`` (``index_folder``): the ``SampledBitsIndex`` over those frames, kept by
  ``provenance.archive.search`` for archives too large to scan.
* ``ARCHIVE.idx.npz`` (``legacy_index_file``): where earlier versions kept that index, as one file;
  deleted when found.
* ``ARCHIVE.features`` (``features_folder``): the local-feature descriptor index of
  ``provenance.archive.descriptor_index``, kept by ``provenance.match.against_archive``.

``SUFFIXES`` lists them all, and ``side_files`` gives their paths. SQLite's own companions
(``-wal``, ``-shm``, ``-journal``) are not among them: they are part of the database.
"""

from __future__ import annotations

import os
from pathlib import Path

FRAMES_SUFFIX = ".frames"
"""The archive's searchable frames, a folder (``frames_folder``)."""

INDEX_SUFFIX = ".idx"
"""The hash index over those frames, a folder (``index_folder``)."""

LEGACY_INDEX_SUFFIX = ".idx.npz"
"""The hash index as earlier versions kept it, one file (``legacy_index_file``)."""

FEATURES_SUFFIX = ".features"
"""The local-feature descriptor index, a folder (``features_folder``)."""

SUFFIXES = (INDEX_SUFFIX, LEGACY_INDEX_SUFFIX, FEATURES_SUFFIX, FRAMES_SUFFIX)
"""Every side file's suffix, appended to the archive's path as it is."""


def beside(archive_path: str | os.PathLike[str], suffix: str) -> Path:
    """The path of the archive at ``archive_path`` with ``suffix`` appended (``a.sqlite`` → ``a.sqlite.idx``)."""
    return Path(f"{os.fspath(archive_path)}{suffix}")


def frames_folder(archive_path: str | os.PathLike[str]) -> Path:
    """``ARCHIVE.frames``: the folder of the archive's usable frames, memory-mapped."""
    return beside(archive_path, FRAMES_SUFFIX)


def index_folder(archive_path: str | os.PathLike[str]) -> Path:
    """``ARCHIVE.idx``: the folder of the ``SampledBitsIndex`` over the archive's frames."""
    return beside(archive_path, INDEX_SUFFIX)


def legacy_index_file(archive_path: str | os.PathLike[str]) -> Path:
    """``ARCHIVE.idx.npz``: the single file earlier versions kept the index in (deleted when found)."""
    return beside(archive_path, LEGACY_INDEX_SUFFIX)


def features_folder(archive_path: str | os.PathLike[str]) -> Path:
    """``ARCHIVE.features``: the folder of the local-feature descriptor index."""
    return beside(archive_path, FEATURES_SUFFIX)


def side_files(archive_path: str | os.PathLike[str]) -> tuple[Path, ...]:
    """The paths of every side file of the archive at ``archive_path``, in the order of ``SUFFIXES``."""
    return tuple(beside(archive_path, suffix) for suffix in SUFFIXES)
