"""The archive's searchable frames, kept beside it as the folder ``ARCHIVE.frames``.

Reading every frame row out of SQLite costs about 2 s per million frames, and decoding the items'
facts more: at 100,000 archived videos (6 million frames) every check spent 10-14 s there before it
compared a single hash. So ``open_archive_frames`` keeps what matching reads (each usable frame's
item number, time and PDQ hash, and each item's id, SHA-256, name, duration, kind and picture box)
as ``.npy`` files tagged with the archive's id, generation and schema (``provenance.archive.arrays``).
A check opens them memory-mapped. The first check after items were added reads only theirs and
rewrites the folder; after a removal it reads everything again. Deleting the folder is always safe,
and an archive in a read-only folder still works, only without the shortcut."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from provenance.archive.arrays import load_array, save_arrays, saved_key
from provenance.archive.migrations import LATEST_VERSION
from provenance.archive.searchable import ArchiveFrames
from provenance.archive.side_files import frames_folder
from provenance.archive.store import ArchiveStore, FrameTable, ItemRef, UsableFrames
from provenance.hashing.pdq import MIN_QUALITY

FORMAT = "frames-1"
"""Changes whenever the folder's layout does, so an older folder is rebuilt rather than misread."""


def state_key(archive_id: str, generation: int) -> str:
    """The archive state that the usable frames depend on: its id, generation and schema version (an
    upgrade may fill in item facts without a new generation), and the quality floor."""
    return f"{archive_id}:{generation}:schema{LATEST_VERSION}:quality>={MIN_QUALITY}"


def _with_items(item_rows: np.ndarray, times: np.ndarray, pdq: np.ndarray, ids: list[int],
                items: Mapping[int, ItemRef]) -> ArchiveFrames:
    """``ArchiveFrames`` of frame arrays whose ``item_rows`` index ``ids``, with those items' facts."""
    infos = [items[i] for i in ids]
    return ArchiveFrames(
        item_rows=item_rows, times=times, pdq=pdq,
        sha256=tuple(info.sha256 for info in infos), names=tuple(info.name for info in infos),
        durations=tuple(float(info.duration or 0.0) for info in infos),
        stills=tuple(info.kind == "still" for info in infos), boxes_full=tuple(info.box_full for info in infos),
        ids=tuple(ids))


def frames_from_table(table: FrameTable) -> ArchiveFrames:
    """The usable frames of a full frame table (PDQ quality at least ``MIN_QUALITY``) and every item's
    facts: what ``frames_from_usable`` gives from the lean read, made the long way (tests and
    ``bench/open.py`` compare against it)."""
    keep = table.quality >= MIN_QUALITY
    everything = bool(keep.all())  # the usual case: no copies of the arrays
    ids = sorted(table.items)
    kept_ids = table.item_ids if everything else table.item_ids[keep]
    item_rows = np.searchsorted(np.array(ids, dtype=np.int64), kept_ids)  # item id -> its number in ``ids``
    return _with_items(item_rows, table.times if everything else table.times[keep],
                       table.pdq if everything else table.pdq[keep], ids, table.items)


def frames_from_usable(usable: UsableFrames) -> ArchiveFrames:
    """``ArchiveFrames`` of a lean read (the arrays as they are, the items' facts as tuples)."""
    return _with_items(usable.item_rows, usable.times, usable.pdq, usable.item_ids.tolist(), usable.items)


def save_frames(folder: Path, key: str, frames: ArchiveFrames) -> None:
    """Write ``frames`` into ``folder`` for archive state ``key``, replacing it whole (``OSError`` if it cannot)."""
    names = [name.encode("utf-8", "surrogatepass") for name in frames.names]
    save_arrays(folder, f"{FORMAT}:{key}", {
        "item_rows": np.asarray(frames.item_rows, dtype=np.int64),
        "times": np.asarray(frames.times, dtype=np.float64),
        "pdq": np.asarray(frames.pdq, dtype=np.uint8).reshape(-1, 32),
        "ids": np.array(frames.ids, dtype=np.int64),
        "sha256": np.array([s.encode("ascii") for s in frames.sha256], dtype="S64"),
        "name_bytes": np.frombuffer(b"".join(names), dtype=np.uint8),
        "name_ends": np.cumsum([len(n) for n in names], dtype=np.int64),
        "durations": np.array(frames.durations, dtype=np.float64),
        "stills": np.array(frames.stills, dtype=bool),
        "boxes_full": np.array(frames.boxes_full, dtype=bool),
    })


def load_frames(folder: Path, key: str) -> ArchiveFrames | None:
    """The frames saved in ``folder`` for archive state ``key``, the per-frame arrays memory-mapped;
    None when the folder is missing, stale or damaged."""
    if saved_key(folder) != f"{FORMAT}:{key}":
        return None
    try:
        item_rows, times, pdq = (load_array(folder, n) for n in ("item_rows", "times", "pdq"))
        per_item = ("ids", "sha256", "durations", "stills", "boxes_full", "name_ends")
        ids, sha256, durations, stills, boxes_full, name_ends = (np.array(load_array(folder, n)) for n in per_item)
        name_bytes = bytes(load_array(folder, "name_bytes"))
    except (OSError, ValueError):
        return None
    items = len(sha256)  # ids may be empty: frames made from fingerprints have no archive ids
    if not (item_rows.shape == times.shape == pdq.shape[:1] and pdq.shape[1:] == (32,) and len(ids) in (0, items)
            and sha256.shape == durations.shape == stills.shape == boxes_full.shape == name_ends.shape == (items,)
            and (items == 0 or int(name_ends[-1]) == len(name_bytes))):
        return None
    try:
        starts = np.r_[0, name_ends[:-1]] if items else name_ends
        names = tuple(name_bytes[a:b].decode("utf-8", "surrogatepass") for a, b in zip(starts, name_ends, strict=True))
        shas = tuple(s.decode("ascii") for s in sha256.tolist())
    except UnicodeDecodeError:
        return None
    if saved_key(folder) != f"{FORMAT}:{key}":  # swapped while it was opened: its files may mix two states
        return None
    return ArchiveFrames(item_rows=item_rows, times=times, pdq=pdq, sha256=shas, names=names,
                         durations=tuple(durations.tolist()), stills=tuple(stills.tolist()),
                         boxes_full=tuple(boxes_full.tolist()), ids=tuple(ids.tolist()))


def _earlier(folder: Path, archive_id: str) -> tuple[ArchiveFrames, int] | None:
    """The frames kept in ``folder`` for an earlier state of the same archive, and that state's generation."""
    saved, prefix = saved_key(folder), f"{FORMAT}:{archive_id}:"
    if saved is None or not saved.startswith(prefix):
        return None
    try:
        generation = int(saved[len(prefix):].split(":", 1)[0])
    except ValueError:
        return None
    key = state_key(archive_id, generation)
    frames = load_frames(folder, key) if saved == f"{FORMAT}:{key}" else None  # not another schema or floor
    return (frames, generation) if frames is not None else None


def _extended(old: ArchiveFrames, new: ArchiveFrames) -> ArchiveFrames:
    """The frames of ``old`` followed by those of ``new``, whose items all come after old's."""
    return ArchiveFrames(
        item_rows=np.concatenate([old.item_rows, new.item_rows + len(old.ids)]),
        times=np.concatenate([old.times, new.times]), pdq=np.concatenate([old.pdq, new.pdq]),
        sha256=old.sha256 + new.sha256, names=old.names + new.names, durations=old.durations + new.durations,
        stills=old.stills + new.stills, boxes_full=old.boxes_full + new.boxes_full, ids=old.ids + new.ids)


@dataclass(frozen=True)
class KeptFrames:
    """The archive's usable frames, the state they were read in, and the state they grew from."""

    frames: ArchiveFrames
    key: str  # ``state_key`` of the archive state the frames are
    grown_from: str | None = None  # the key of the earlier state whose frames these extend, if they do
    earlier_rows: int = 0  # the frames of that state: the first rows of these


def open_archive_frames(store: ArchiveStore) -> KeptFrames:
    """The archive's usable frames, with the key of the state they were read in.

    From ``ARCHIVE.frames`` when it was saved for the archive's current state. When it was saved
    for an earlier state and no item was removed since, only the items added since are read from
    SQLite (archived items never change, and new ones get higher ids); otherwise all of them, in
    one transaction. The result is saved there (unless the folder cannot be written).
    """
    folder = frames_folder(store.path)
    archive_id = store.archive_id()
    key = state_key(archive_id, store.generation())
    frames = load_frames(folder, key)
    if frames is not None:
        return KeptFrames(frames, key)
    frames, grown_from, earlier_rows = None, None, 0
    earlier = _earlier(folder, archive_id)
    if earlier is not None:
        old, old_generation = earlier
        table = store.usable_frames(MIN_QUALITY, after_item=old.ids[-1] if old.ids else 0)
        # the removal marker and the count are read in the same transaction as the new rows
        if table.removed_generation <= old_generation and table.earlier_items == len(old.ids):
            frames = _extended(old, frames_from_usable(table))
            grown_from, earlier_rows = state_key(archive_id, old_generation), len(old.pdq)
    if frames is None:
        table = store.usable_frames(MIN_QUALITY)
        frames = frames_from_usable(table)
    key = state_key(table.archive_id, table.generation)  # the state actually read, should it have moved on
    with contextlib.suppress(OSError):  # an archive in a read-only folder works, only slower
        save_frames(folder, key, frames)
        frames = load_frames(folder, key) or frames  # memory-mapped: the copy read from SQLite can go
    return KeptFrames(frames, key, grown_from, earlier_rows)
