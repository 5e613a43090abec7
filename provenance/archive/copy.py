"""``archive copy``: items moved from one archive to another, either store to either store.

Each item goes with its fingerprint, sightings (their ``added_at`` kept), local features, pictures,
soundtrack and custody history, in one transaction per item on the target (``ArchiveStore.add``), so a
copy stopped half-way leaves whole items and the rerun finishes the rest. It is idempotent: an item the
target has is not added again (only the sightings it lacks, and its pictures when it has none), and a
custody entry copied before is not copied again.

The custody log is a hash chain of its own archive, so entries cannot be moved as they are: each is
appended to the target's chain with its time, examiner, version, SHA-256, path and case, and a command
that names the archive and entry it copies (``custody.copied_command``). Then one entry of the copy
itself is logged per item ("provenance archive copy", the source archive as its path).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from provenance.archive.custody import Reading, append_copies, append_entries, custody_entries
from provenance.archive.store import ArchiveStore, archive_location, make_archive_folder
from provenance.errors import UsageError
from provenance.model import DateInterval

COMMAND = "provenance archive copy"


@dataclass(frozen=True)
class CopiedItem:
    """What the copy did with one item: ``created`` False when the target had it already."""

    sha256: str
    name: str
    created: bool
    sightings_added: int
    pictures_added: int
    custody_copied: int


@dataclass(frozen=True)
class CopyReport:
    """The outcome of ``copy_items``: the two archives as shown (passwords masked) and every item."""

    source: str
    target: str
    items: tuple[CopiedItem, ...]

    @property
    def created(self) -> int:
        """How many items the target did not have."""
        return sum(1 for i in self.items if i.created)


def copy_items(source: ArchiveStore, target: ArchiveStore, *, since: DateInterval | None = None,
               only: Sequence[str] = (), examiner: str | None = None) -> CopyReport:
    """Copy the items of ``source`` to ``target``: all, those archived since ``since`` began (compared in
    UTC), and/or those named in ``only`` (SHA-256 or unique prefix; ``UsageError`` for one not in
    ``source``). Returns what was done for each, in the source's listing order."""
    if source.archive_id() == target.archive_id():
        raise UsageError(f"{source.label} and {target.label} are the same archive (id {source.archive_id()}): "
                         "give two different archives")
    chosen = _chosen(source, since, only)
    source_id = source.archive_id()
    done: list[CopiedItem] = []
    for sha256 in chosen:
        item = source.get(sha256)
        if item is None:  # removed from the source meanwhile
            continue
        pictures = source.pictures(sha256)
        result = target.add(item.fingerprint, item.sightings, source.features_of(sha256), pictures)
        pictures_added = len(pictures) if result.created else (
            target.add_pictures(sha256, pictures) if pictures and item.kind != "hashes" else 0)
        copied = append_copies(target, custody_entries(source, sha256), source_id)
        append_entries(target, [Reading(sha256, source.label)], command=COMMAND, examiner=examiner)
        done.append(CopiedItem(sha256, item.name, result.created, result.sightings_added, pictures_added,
                               len(copied)))
    return CopyReport(source.label, target.label, tuple(done))


def copy_between(source: str, target: str, *, since: DateInterval | None = None, only: Sequence[str] = (),
                 examiner: str | None = None) -> CopyReport:
    """Open the archive at ``source`` (which must exist) and at ``target`` (created if missing), and
    ``copy_items`` from one to the other."""
    with ArchiveStore.open(archive_location(source), create=False) as opened_source:
        _chosen(opened_source, since, only)  # a SHA-256 the source lacks is refused before the target is made
        make_archive_folder(target)
        with ArchiveStore.open(archive_location(target), create=True) as opened_target:
            return copy_items(opened_source, opened_target, since=since, only=only, examiner=examiner)


def _chosen(source: ArchiveStore, since: DateInterval | None, only: Sequence[str]) -> list[str]:
    """The SHA-256 of every item to copy, in the source's listing order."""
    listing = source.items()
    if only:
        wanted = set()
        for given in only:
            found = source.get(given)
            if found is None:
                raise UsageError(f"no archived item with SHA-256 {given} in {source.label}")
            wanted.add(found.sha256)
        listing = [i for i in listing if i.sha256 in wanted]
    if since is not None:
        listing = [i for i in listing if i.added_at >= since.start]
    return [i.sha256 for i in listing]
