"""``archive pictures``: give the small pictures of the archive to items added before it kept them.

An item archived by an older version has frames, features and sightings but no pictures to show
beside a match. Its record says where its file was read (``FileIdentity.path``) and what it hashed to;
when a file is still there and still hashes to the item's SHA-256, it is opened once, read-only, and
its pictures are made as ``archive add`` makes them (``provenance.fingerprinting.archive_pictures``)
and written in one transaction. Nothing is written beside the file. Every file read is logged in the
archive's custody log with the SHA-256 seen, including a file that turned out to have changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from provenance.archive.custody import Reading, append_entries
from provenance.archive.store import ArchiveStore, masked_location
from provenance.errors import ArchiveError, MissingToolError, ProvenanceError, UsageError
from provenance.fingerprinting import archive_pictures
from provenance.media.identity import file_identity
from provenance.media.source import MediaSource

COMMAND = "provenance archive pictures"

ADDED, ALREADY, MOVED, CHANGED, HASH_ONLY, FAILED = "added", "already", "moved", "changed", "hash-only", "failed"
"""What ``backfill_pictures`` did for an item (``ItemPictures.outcome``)."""


@dataclass(frozen=True)
class ItemPictures:
    """What ``archive pictures`` did for one archived item: ``outcome`` is one of ADDED, ALREADY, MOVED,
    CHANGED, HASH_ONLY, FAILED, ``message`` says it in words, ``pictures`` is how many it has now."""

    sha256: str
    name: str
    path: str  # where the item's file was read when it was archived
    outcome: str
    pictures: int
    message: str


@dataclass(frozen=True)
class PicturesReport:
    """The outcome of ``archive pictures`` over a whole archive, item by item in the listing's order."""

    archive: str
    items: tuple[ItemPictures, ...]

    @property
    def added(self) -> int:
        """How many items were given pictures."""
        return sum(1 for i in self.items if i.outcome == ADDED)

    @property
    def failed(self) -> int:
        """How many items' files were there but could not be read or decoded."""
        return sum(1 for i in self.items if i.outcome == FAILED)


def backfill_pictures(archive: str, *, examiner: str | None = None,
                      progress: Callable[[ItemPictures], None] | None = None) -> PicturesReport:
    """Give pictures to every item of the archive at ``archive`` (which must exist) that has none, when its
    file is still at its recorded path with the item's SHA-256. ``progress`` is called after each item.

    Raises ``ArchiveError`` when the archive cannot be opened or written, ``MissingToolError`` without
    ffmpeg; a file that cannot be read is reported (FAILED), not raised.
    """
    done: list[ItemPictures] = []
    with ArchiveStore.open(archive, create=False) as store:
        for summary in store.items():
            item = _backfill_item(store, summary.sha256, examiner)
            done.append(item)
            if progress is not None:
                progress(item)
    return PicturesReport(archive=masked_location(str(archive)), items=tuple(done))


def _backfill_item(store: ArchiveStore, sha256: str, examiner: str | None) -> ItemPictures:
    """Pictures for one item, if it has none and its file is as archived; what was done."""
    item = store.get(sha256)
    assert item is not None, "an item listed a moment ago is still there (items are removed only by remove)"
    path = item.fingerprint.identity.path

    def outcome(kind: str, message: str, pictures: int = 0) -> ItemPictures:
        return ItemPictures(sha256, item.name, path, kind, pictures, message)

    if item.kind == "hashes":
        return outcome(HASH_ONLY, "no pictures for hash-only items")
    if count := store.picture_count(sha256):
        return outcome(ALREADY, f"has {count} pictures already", count)
    if not path or not os.path.isfile(path):
        return outcome(MOVED, f"file no longer at {path}")
    try:
        with MediaSource.open(path) as source:
            seen = file_identity(source).sha256
            append_entries(store, [Reading(seen, path)], command=COMMAND, examiner=examiner)
            if seen != sha256:
                return outcome(CHANGED, "file changed: SHA-256 differs")
            pictures = archive_pictures(source, item.fingerprint)
    except UsageError:  # gone or replaced by something that is not a file since the check above
        return outcome(MOVED, f"file no longer at {path}")
    except (MissingToolError, ArchiveError):
        raise
    except ProvenanceError as exc:
        return outcome(FAILED, f"cannot make pictures: {exc}")
    added = store.add_pictures(sha256, pictures)
    if not added:
        count = store.picture_count(sha256)
        return outcome(ALREADY, f"has {count} pictures already", count)
    return outcome(ADDED, f"added {added} pictures", added)
