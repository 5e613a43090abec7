"""The custody log: who read which evidence file, when, with which command, and what it hashed to.

The log is the ``custody`` table of the archive (schema version 3). Entries are numbered 1, 2, 3...
and hash-chained: ``entry_hash`` is the SHA-256 of the canonical JSON of the entry's fields together
with ``prev_hash``, the previous entry's hash (64 zeros for the first). Editing an entry changes its
hash; deleting one leaves a gap and a link that no longer fits; the archive's ``meta`` table keeps
the last entry's number and hash, so entries cut from the end are noticed too. Someone able to
write the database can still wipe the log (rows and head) or rebuild it with recomputed hashes, and
nothing inside the file can show that. Anchors kept elsewhere do: a signed checkpoint
(``provenance custody checkpoint``) or an evidence report records the head (number and hash) the
log had then, and ``verify_chain(store, anchors)`` checks that the log still passes through each.
The archive's ``meta`` also keeps the latest checkpoint, which catches a careless wipe only.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from provenance.archive.migrations import write_transaction
from provenance.archive.store import ArchiveStore, archive_location, write_failed
from provenance.canonical import canonical_bytes
from provenance.codec import storable_text
from provenance.times import utc_now_micro
from provenance.version import __version__

GENESIS = "0" * 64
"""The ``prev_hash`` of the first entry."""

HEAD_KEY = "custody_head"
"""The ``meta`` key holding ``"<seq>:<entry_hash>"`` of the last entry."""

CHECKPOINT_KEY = "custody_checkpoint"
"""The ``meta`` key holding the latest signed checkpoint (its JSON text), see ``record_checkpoint``."""

_PUT_META = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"

_COLUMNS = "seq, at, examiner, command, tool_version, sha256, path, case_id, prev_hash, entry_hash"


@dataclass(frozen=True)
class Reading:
    """One evidence file a command read: its SHA-256 as computed, and the path it was read from."""

    sha256: str
    path: str


@dataclass(frozen=True)
class CustodyEntry:
    """One entry of the custody log."""

    seq: int
    at: str  # ISO 8601 UTC
    examiner: str
    command: str  # e.g. "provenance report"
    tool_version: str
    sha256: str  # of the evidence file, as the command computed it
    path: str  # where it was read
    case: str | None
    prev_hash: str
    entry_hash: str


@dataclass(frozen=True)
class CustodyAnchor:
    """A head of the log recorded outside it (a checkpoint, a report): the log must still pass through it."""

    seq: int  # 0 for a log that was empty
    entry_hash: str  # GENESIS when seq is 0
    archive_id: str
    source: str  # what recorded it, for messages: e.g. "checkpoint weekly.json (made 2024-03-01T10:00:00Z)"


@dataclass(frozen=True)
class ChainStatus:
    """The result of ``verify_chain``: intact, or the first entry where the chain breaks and why."""

    ok: bool
    entries: int
    head_seq: int | None
    head_hash: str | None
    broken_at: int | None  # the number of the first broken entry
    reason: str
    anchors: int = 0  # how many anchors the log was checked against


def current_examiner(examiner: str | None = None) -> str:
    """The examiner to record: the one given, else the operating-system user."""
    if examiner and examiner.strip():
        return examiner.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no login name in a bare container
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def entry_hash(seq: int, at: str, examiner: str, command: str, tool_version: str, sha256: str, path: str,
               case: str | None, prev_hash: str) -> str:
    """The SHA-256 (hex) that chains an entry: over the canonical JSON of its fields and ``prev_hash``."""
    fields = {"seq": seq, "at": at, "examiner": examiner, "command": command, "tool_version": tool_version,
              "sha256": sha256, "path": path, "case": case, "prev_hash": prev_hash}
    return hashlib.sha256(canonical_bytes(fields)).hexdigest()


def _entry(row: Sequence[object]) -> CustodyEntry:
    seq, at, examiner, command, version, sha256, path, case, prev_hash, hashed = row
    return CustodyEntry(int(seq), str(at), str(examiner), str(command), str(version), str(sha256), str(path),
                        None if case is None else str(case), str(prev_hash), str(hashed))


def append_entries(store: ArchiveStore, readings: Sequence[Reading], *, command: str, examiner: str | None = None,
                   case: str | None = None) -> tuple[CustodyEntry, ...]:
    """Append one entry per reading to the store's custody log, in one transaction; return them."""
    who = current_examiner(examiner)
    return _append(store, lambda: [(utc_now_micro(), who, command, __version__, reading.sha256,
                                    storable_text(os.path.abspath(reading.path)), case) for reading in readings])


def copied_command(entry: CustodyEntry, archive_id: str) -> str:
    """The command a copied entry is logged with: the original's, and where it was copied from."""
    return f"{entry.command} [copied from archive {archive_id} entry #{entry.seq}]"


def append_copies(store: ArchiveStore, entries: Sequence[CustodyEntry], archive_id: str) -> tuple[CustodyEntry, ...]:
    """Append to the store's custody log the entries of another archive's log (``archive_id``), in one
    transaction: each keeps its time, examiner, version, SHA-256, path and case, and its command says which
    entry of which archive it copies (``copied_command``). An entry copied before is not copied again."""
    def rows() -> list[tuple[str, str, str, str, str, str, str | None]]:
        done = {str(c) for (c,) in store.connection.execute(
            "SELECT command FROM custody WHERE command LIKE ?", (f"%[copied from archive {archive_id} entry #%",))}
        return [(e.at, e.examiner, copied_command(e, archive_id), e.tool_version, e.sha256, e.path, e.case)
                for e in entries if copied_command(e, archive_id) not in done]

    return _append(store, rows)


def _append(store: ArchiveStore, rows: Callable[[], Sequence[tuple[str, str, str, str, str, str, str | None]]]
            ) -> tuple[CustodyEntry, ...]:
    """Append entries made of ``rows()`` (at, examiner, command, version, SHA-256, path, case), read inside
    the write transaction, after the log's head, in one transaction; return them."""
    conn = store.connection
    added: list[CustodyEntry] = []
    try:
        with write_transaction(conn):
            last = conn.execute("SELECT seq, entry_hash FROM custody ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (int(last[0]), str(last[1])) if last else (0, GENESIS)
            for at, who, command, version, sha256, path, case in rows():
                seq += 1
                hashed = entry_hash(seq, at, who, command, version, sha256, path, case, prev)
                conn.execute(f"INSERT INTO custody ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (seq, at, who, command, version, sha256, path, case, prev, hashed))
                added.append(CustodyEntry(seq, at, who, command, version, sha256, path, case, prev, hashed))
                prev = hashed
            if added:
                conn.execute(_PUT_META, (HEAD_KEY, f"{seq}:{prev}"))
    except sqlite3.Error as exc:
        raise write_failed(store.label, "write the custody log", exc) from exc
    return tuple(added)


def record_custody(archive: str | os.PathLike[str], readings: Sequence[Reading], *, command: str,
                   examiner: str | None = None, case: str | None = None) -> tuple[CustodyEntry, ...]:
    """Open the archive at ``archive`` (which must exist) and append entries for ``readings``."""
    if not readings:
        return ()
    with ArchiveStore.open(archive_location(archive), create=False) as store:
        return append_entries(store, readings, command=command, examiner=examiner, case=case)


def custody_entries(store: ArchiveStore, sha256: str | None = None) -> tuple[CustodyEntry, ...]:
    """The log's entries in order; only those for ``sha256`` when given."""
    if sha256 is None:
        rows = store.connection.execute(f"SELECT {_COLUMNS} FROM custody ORDER BY seq").fetchall()
    else:
        rows = store.connection.execute(f"SELECT {_COLUMNS} FROM custody WHERE sha256 = ? ORDER BY seq",
                                        (sha256.lower(),)).fetchall()
    return tuple(_entry(r) for r in rows)


def record_checkpoint(store: ArchiveStore, text: str) -> None:
    """Keep ``text`` (a signed checkpoint's JSON) in the archive's ``meta`` as the latest checkpoint."""
    try:
        with write_transaction(store.connection):
            store.connection.execute(_PUT_META, (CHECKPOINT_KEY, text))
    except sqlite3.Error as exc:
        raise write_failed(store.label, "record the checkpoint", exc) from exc


def recorded_checkpoint(store: ArchiveStore) -> str | None:
    """The latest checkpoint's JSON text kept in the archive's ``meta``, or None."""
    row = store.connection.execute("SELECT value FROM meta WHERE key = ?", (CHECKPOINT_KEY,)).fetchone()
    return None if row is None else str(row[0])


def _anchor_break(entries: Sequence[CustodyEntry], archive_id: str, anchor: CustodyAnchor) -> ChainStatus | None:
    if anchor.archive_id != archive_id:
        return ChainStatus(False, len(entries), None, None, None,
                           f"{anchor.source} is of archive {anchor.archive_id}, but this archive's id is "
                           f"{archive_id}: the archive was recreated, or it is not the one {anchor.source} is of")
    if anchor.seq > len(entries):
        return ChainStatus(False, len(entries), None, None, len(entries) + 1,
                           f"the log has {len(entries)} entries, but {anchor.source} recorded entry #{anchor.seq} "
                           "as its head: entries were removed (the log was wiped or cut short, and its head rewritten)")
    found = entries[anchor.seq - 1].entry_hash if anchor.seq else GENESIS
    if found != anchor.entry_hash:
        return ChainStatus(False, len(entries), None, None, anchor.seq,
                           f"entry #{anchor.seq} hashes to {found[:16]}…, but {anchor.source} recorded "
                           f"{anchor.entry_hash[:16]}…: the log up to it was rebuilt (entries rewritten, their hashes "
                           "recomputed)")
    return None


def verify_chain(store: ArchiveStore, anchors: Sequence[CustodyAnchor] = ()) -> ChainStatus:
    """Check every link of the custody log, its recorded head, and that it passes through each of ``anchors``.

    Reports the first broken entry, or the first anchor the log no longer agrees with.
    """
    conn = store.connection
    conn.execute("BEGIN")  # one snapshot, even while another process appends
    try:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM custody ORDER BY seq").fetchall()
        head = conn.execute("SELECT value FROM meta WHERE key = ?", (HEAD_KEY,)).fetchone()
        archive_id = conn.execute("SELECT value FROM meta WHERE key = 'archive_id'").fetchone()
    finally:
        conn.execute("COMMIT")
    prev, expected = GENESIS, 1
    entries = [_entry(r) for r in rows]

    def broken(seq: int, reason: str) -> ChainStatus:
        return ChainStatus(False, len(entries), None, None, seq, reason)

    for e in entries:
        if e.seq != expected:
            return broken(expected, f"entry #{expected} is missing (the log jumps from #{expected - 1} to #{e.seq}): "
                                    "it was deleted")
        if e.prev_hash != prev:
            return broken(e.seq, f"entry #{e.seq} does not link to entry #{e.seq - 1}: an entry before it was "
                                 "deleted, replaced or altered")
        recomputed = entry_hash(e.seq, e.at, e.examiner, e.command, e.tool_version, e.sha256, e.path, e.case,
                                e.prev_hash)
        if recomputed != e.entry_hash:
            return broken(e.seq, f"entry #{e.seq} was altered: its fields no longer match its hash")
        prev, expected = e.entry_hash, expected + 1
    last = f"{entries[-1].seq}:{entries[-1].entry_hash}" if entries else None
    recorded = str(head[0]) if head else None
    if recorded != last:
        said = recorded.split(":", 1)[0] if recorded else "none"
        return broken(expected, f"the log ends at entry #{expected - 1}, but the archive recorded #{said} as its "
                                "last entry: entries were removed from the end")
    for anchor in anchors:
        failed = _anchor_break(entries, "" if archive_id is None else str(archive_id[0]), anchor)
        if failed is not None:
            return failed
    named = ", ".join(a.source for a in anchors) if len(anchors) <= 3 else f"{len(anchors)} checkpoints and reports"
    through = f"; it passes through the head recorded by {named}" if anchors else ""
    return ChainStatus(True, len(entries), entries[-1].seq if entries else None,
                       entries[-1].entry_hash if entries else None, None,
                       f"custody log intact: {len(entries)} entries, every link and hash checked{through}",
                       len(anchors))
