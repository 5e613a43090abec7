"""The archive of known media: its storage, its custody log, and the searchable forms kept beside it.

Modules, in the order the work flows: ``postgres`` (a team's archive on a PostgreSQL server: a connection
that takes the store's SQL, and the schema), ``migrations`` (schema versions and the steps between them),
``store`` (items, frames, features, pictures and sightings in one SQLite file or PostgreSQL database),
``custody`` (the hash-chained log of who read which evidence file), ``copy`` (items moved between
archives), ``arrays`` (folders of ``.npy`` files tagged with the archive
state), ``searchable`` (``ArchiveFrames``, the type the matcher reads), ``frame_cache`` (those frames
kept memory-mapped beside the archive), ``index`` (Hamming-distance indexes over frame hashes),
``descriptor_index`` (the local-feature index), ``search`` (a search function over the frames).

    from provenance.archive import open_archive
    with open_archive("cases.sqlite") as archive:  # or "postgresql://ana@db.desk:5432/incident"
        archive.add(fingerprint, [Sighting(source_url="https://t.me/x/1", first_seen="2020-10-05")])
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from provenance.archive.index import (
        INDEXES,
        HammingIndex,
        IndexHits,
        LinearIndex,
        MultiIndexHashIndex,
        make_index,
    )
    from provenance.archive.store import (
        AddResult,
        ArchivedItem,
        ArchiveStats,
        ArchiveStore,
        FrameTable,
        ItemRef,
        ItemSummary,
        default_archive_path,
    )

__all__ = [
    "INDEXES",
    "AddResult",
    "ArchiveStats",
    "ArchiveStore",
    "ArchivedItem",
    "FrameTable",
    "HammingIndex",
    "IndexHits",
    "ItemRef",
    "ItemSummary",
    "LinearIndex",
    "MultiIndexHashIndex",
    "default_archive_path",
    "make_index",
    "open_archive",
]

# Imported on first use, so that importing one submodule (the custody log, the searchable frames)
# does not import the store and every hash index with it.
_HOMES = {
    **dict.fromkeys(("INDEXES", "HammingIndex", "IndexHits", "LinearIndex", "MultiIndexHashIndex", "make_index"),
                    "provenance.archive.index"),
    **dict.fromkeys(("AddResult", "ArchivedItem", "ArchiveStats", "ArchiveStore", "FrameTable", "ItemRef",
                     "ItemSummary", "default_archive_path"), "provenance.archive.store"),
}


def __getattr__(name: str) -> Any:
    """One of the public names above, imported from its module when first asked for."""
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_archive(path: str | Path | None = None, *, create: bool = True) -> ArchiveStore:
    """Open (or create) the archive at ``path``, by default ``default_archive_path()``.

    Use it as a context manager so the file is closed. Raises ``ArchiveError`` as
    ``ArchiveStore.open`` does.
    """
    from provenance.archive.store import ArchiveStore, default_archive_path

    return ArchiveStore.open(default_archive_path() if path is None else path, create=create)
