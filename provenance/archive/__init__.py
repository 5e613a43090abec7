"""The archive of known media: SQLite storage (``store``), its schema versions (``migrations``),
Hamming-distance indexes over frame hashes (``index``) and yt-dlp sidecar reading (``sidecar``).

    from provenance.archive import open_archive
    with open_archive("cases.sqlite") as archive:
        archive.add(fingerprint, [Sighting(source_url="https://t.me/x/1", first_seen="2020-10-05")])
"""

from __future__ import annotations

from pathlib import Path

from provenance.archive.index import (
    INDEXES,
    HammingIndex,
    IndexHits,
    LinearIndex,
    MultiIndexHashIndex,
    make_index,
)
from provenance.archive.sidecar import SidecarResult, read_ytdlp_sidecar
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
    "SidecarResult",
    "default_archive_path",
    "make_index",
    "open_archive",
    "read_ytdlp_sidecar",
]


def open_archive(path: str | Path | None = None, *, create: bool = True) -> ArchiveStore:
    """Open (or create) the archive at ``path``, by default ``default_archive_path()``.

    Use it as a context manager so the file is closed. Raises ``ArchiveError`` as
    ``ArchiveStore.open`` does.
    """
    return ArchiveStore.open(default_archive_path() if path is None else path, create=create)
