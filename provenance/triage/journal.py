"""The triage journal: what is already done, in one SQLite file in the report folder.

Only the parent process writes it, one transaction per finished path or content, so a ``kill -9``
loses at most the files in flight, never a half-written entry (SQLite's WAL journal). Paths are
keyed by their bytes on disk (any name, newlines included); contents by SHA-256. A path whose
size, times and inode are unchanged since it was hashed is not hashed again, and a content with
a result is not decoded again. ``attempts`` records each time a content was handed to a worker,
and every entry records its run, so a test (or a person) can see that nothing was redone.

Names that are not UTF-8 (Python's surrogate escapes) are kept exactly: in JSON columns as the
JSON escape ``\\udcXX``, which reads back as the same name; an error text shows them ``\\xNN``.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

import numpy as np

from provenance.codec import RecordFormatError, fingerprint_from_json, fingerprint_to_json, from_jsonable, to_jsonable
from provenance.errors import ArchiveError
from provenance.match.appearance import earliest_appearance
from provenance.model import Appearance, FileIdentity, Fingerprint, Match, Sighting
from provenance.report.formatters import unicode_safe
from provenance.times import utc_now
from provenance.triage.results import Candidate, ContentResult, Hashed, StoredContent, StoredPath, WorkerInfo
from provenance.vision.features import FrameFeatures

JOURNAL_NAME = "journal.sqlite"
SCHEMA_VERSION = 3  # 2: contents keep their clustering feature frames; 3: the worker that analysed each
# (an older journal gains the columns; its contents name no worker)
APPLICATION_ID = 0x54524947  # "TRIG": tells our journal from another SQLite file

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL,
                   inputs TEXT NOT NULL, jobs INTEGER NOT NULL, pid INTEGER NOT NULL);
CREATE TABLE paths (path BLOB PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
                    ctime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, sha256 TEXT, identity TEXT,
                    sightings TEXT NOT NULL, error TEXT, warnings TEXT NOT NULL, run_id INTEGER NOT NULL,
                    hashed_at TEXT NOT NULL);
CREATE TABLE contents (sha256 TEXT PRIMARY KEY, path BLOB NOT NULL, error TEXT, fingerprint TEXT,
                       variants BLOB, features BLOB, matches TEXT NOT NULL, appearance TEXT, thumbnail BLOB NOT NULL,
                       run_id INTEGER NOT NULL, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
                       seconds REAL NOT NULL, pid INTEGER NOT NULL, cluster_features BLOB, cluster_mirrored BLOB,
                       worker TEXT);
CREATE TABLE attempts (sha256 TEXT NOT NULL, run_id INTEGER NOT NULL, submitted_at TEXT NOT NULL);
CREATE TABLE added (sha256 TEXT PRIMARY KEY, run_id INTEGER NOT NULL, added_at TEXT NOT NULL,
                    created INTEGER NOT NULL, sightings INTEGER NOT NULL);
"""


def _appearance(text: str | None, matches: tuple[Match, ...], fp: Fingerprint | None) -> Appearance | None:
    """A journaled earliest appearance; one journaled by an older version (sightings as pairs) is made again."""
    if not text:
        return None
    try:
        return from_jsonable(Appearance, json.loads(text))
    except RecordFormatError:
        return earliest_appearance(matches, fp.metadata, None) if fp is not None else None


def _path_key(path: str) -> bytes:
    return os.fsencode(path)


def _storable(text: str) -> str:
    """JSON text SQLite can store: a lone surrogate (a byte of a name that is not UTF-8) as its JSON escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _dumps(value: object) -> str:
    return _storable(json.dumps(to_jsonable(value), separators=(",", ":"), ensure_ascii=False))


def _error(text: str | None) -> str | None:
    return None if text is None else unicode_safe(text)


def _array_bytes(array: np.ndarray) -> bytes:
    """An array as .npy bytes: shape and dtype travel with the data."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _array(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def pack_features(features: Sequence[FrameFeatures]) -> bytes:
    """Local features of one content as one .npz blob (concatenated per-frame arrays, no pickles)."""
    counts = np.array([len(f.points) for f in features], dtype=np.int64)
    grids = [f.grid for f in features if f.grid is not None]
    buffer = io.BytesIO()
    np.savez(buffer, times=np.array([f.time for f in features], dtype=np.float64),
             aspects=np.array([f.aspect for f in features], dtype=np.float64), counts=counts,
             points=np.concatenate([f.points for f in features]).astype(np.float32) if features
             else np.zeros((0, 2), np.float32),
             descriptors=np.concatenate([f.descriptors for f in features]).astype(np.uint8) if features
             else np.zeros((0, 32), np.uint8),
             has_grid=np.array([f.grid is not None for f in features], dtype=bool),
             grids=np.stack(grids).astype(np.float32) if grids else np.zeros((0, 1, 1, 1), np.float32))
    return buffer.getvalue()


def unpack_features(data: bytes) -> tuple[FrameFeatures, ...]:
    """The inverse of ``pack_features``."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        times, aspects, counts, points, descriptors = z["times"], z["aspects"], z["counts"], z["points"], \
            z["descriptors"]
        has_grid, grids = z["has_grid"], z["grids"]
    ends = np.cumsum(counts)
    starts = ends - counts
    grid_of = np.cumsum(has_grid) - 1
    return tuple(
        FrameFeatures(float(times[i]), points[starts[i]:ends[i]], descriptors[starts[i]:ends[i]],
                      float(aspects[i]), grids[grid_of[i]] if has_grid[i] else None)
        for i in range(len(times)))


class Journal:
    """The journal of one report folder. Use ``Journal.open(out_dir)`` as a context manager."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        """Wrap an open connection (use ``Journal.open``)."""
        self._conn = conn
        self.path = path

    @classmethod
    def open(cls, out_dir: str | Path) -> Journal:
        """Open or create the journal in ``out_dir`` (which must exist). Raises ``ArchiveError`` if unusable."""
        path = Path(out_dir) / JOURNAL_NAME
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=30)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # a killed process loses nothing committed
            app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version == 0 and app_id == 0:
                if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                    raise ArchiveError(f"{path} is an SQLite file of another program: choose another --out folder")
                conn.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            elif app_id == APPLICATION_ID and version in (1, 2):
                conn.execute("BEGIN IMMEDIATE")
                if version == 1:  # analysed before features were kept for clustering: they join by hashes only
                    conn.execute("ALTER TABLE contents ADD COLUMN cluster_features BLOB")
                    conn.execute("ALTER TABLE contents ADD COLUMN cluster_mirrored BLOB")
                conn.execute("ALTER TABLE contents ADD COLUMN worker TEXT")  # analysed by a worker not named
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            elif app_id != APPLICATION_ID or version != SCHEMA_VERSION:
                raise ArchiveError(
                    f"{path} is not a triage journal of this version of provenance: choose another --out folder"
                )
        except sqlite3.Error as exc:
            raise ArchiveError(f"cannot open the triage journal {path}: {exc}: check the --out folder") from exc
        return cls(conn, path)

    def close(self) -> None:
        """Close the journal."""
        self._conn.close()

    def __enter__(self) -> Journal:
        """Return the journal itself."""
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Close the journal."""
        self.close()

    def _write(self, sql: str, params: Iterable[object]) -> None:
        """One statement, committed on its own (autocommit): all of it is journaled, or none."""
        try:
            self._conn.execute(sql, tuple(params))
        except sqlite3.Error as exc:
            raise ArchiveError(f"cannot write the triage journal {self.path}: {exc}: check free disk space") from exc

    def is_empty(self) -> bool:
        """True when no path or content is journaled (nothing a rerun could resume from)."""
        row = self._conn.execute("SELECT (SELECT count(*) FROM paths) + (SELECT count(*) FROM contents)").fetchone()
        return int(row[0]) == 0

    # -- the archive the results were matched against --------------------------------------------

    def check_archive(self, archive_id: str | None) -> None:
        """Refuse to mix results matched against different archives in one report folder."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'archive_id'").fetchone()
        if row is None:
            if archive_id is not None:
                self._write("INSERT INTO meta (key, value) VALUES ('archive_id', ?)", (archive_id,))
            return
        if archive_id is not None and row[0] != archive_id:
            raise ArchiveError(
                f"the report folder {self.path.parent} holds results matched against another archive: "
                "give a new --out folder for this archive"
            )

    # -- runs -------------------------------------------------------------------------------------

    def begin_run(self, inputs: Iterable[str], jobs: int) -> int:
        """Record the start of a run; returns its id."""
        self._write("INSERT INTO runs (started_at, status, inputs, jobs, pid) VALUES (?, 'running', ?, ?, ?)",
                    (utc_now(), _dumps(list(inputs)), jobs, os.getpid()))
        return int(self._conn.execute("SELECT max(id) FROM runs").fetchone()[0])

    def end_run(self, run_id: int, status: str) -> None:
        """Record how a run ended: "finished", "interrupted" (Ctrl-C) or "failed" (ffmpeg missing, archive error)."""
        self._write("UPDATE runs SET finished_at = ?, status = ? WHERE id = ?", (utc_now(), status, run_id))

    # -- paths ------------------------------------------------------------------------------------

    def stored_path(self, candidate: Candidate) -> StoredPath | None:
        """The journal's entry for a path, if the file is unchanged since it was hashed."""
        row = self._conn.execute(
            "SELECT size, mtime_ns, ctime_ns, inode, identity, sightings, error, warnings, run_id FROM paths "
            "WHERE path = ?", (_path_key(candidate.path),)).fetchone()
        if row is None or tuple(row[:4]) != (candidate.size, candidate.mtime_ns, candidate.ctime_ns,
                                             candidate.inode):
            return None
        identity = from_jsonable(FileIdentity, json.loads(row[4])) if row[4] else None
        hashed = Hashed(candidate.path, identity, from_jsonable(tuple[Sighting, ...], json.loads(row[5])),
                        error=row[6], warnings=tuple(json.loads(row[7])))
        return StoredPath(candidate.path, row[0], row[1], row[2], row[3], hashed, int(row[8]))

    def record_path(self, run_id: int, candidate: Candidate, hashed: Hashed) -> None:
        """Journal one hashed path (or its error), replacing an older entry for the same path."""
        sha = hashed.identity.sha256 if hashed.identity else None
        self._write(
            "INSERT OR REPLACE INTO paths (path, size, mtime_ns, ctime_ns, inode, sha256, identity, sightings, "
            "error, warnings, run_id, hashed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (_path_key(candidate.path), candidate.size, candidate.mtime_ns, candidate.ctime_ns, candidate.inode,
             sha, _dumps(hashed.identity) if hashed.identity else None, _dumps(hashed.sightings),
             _error(hashed.error), _dumps(list(hashed.warnings)), run_id, utc_now()))

    # -- contents ---------------------------------------------------------------------------------

    def has_content(self, sha256: str) -> bool:
        """True when the content already has a result (fingerprint or error)."""
        return self._conn.execute("SELECT 1 FROM contents WHERE sha256 = ?", (sha256,)).fetchone() is not None

    def record_attempt(self, run_id: int, sha256: str) -> None:
        """Journal that a content was handed to a worker in this run."""
        self._write("INSERT INTO attempts (sha256, run_id, submitted_at) VALUES (?, ?, ?)",
                    (sha256, run_id, utc_now()))

    def record_content(self, run_id: int, result: ContentResult) -> None:
        """Journal a content's result, in one transaction."""
        variants = None if result.variants is None else _array_bytes(result.variants)
        features = pack_features(result.features) if result.features else None
        kept = [pack_features(f) if f else None for f in (result.cluster_features, result.cluster_mirrored)]
        self._write(
            "INSERT OR REPLACE INTO contents (sha256, path, error, fingerprint, variants, features, matches, "
            "appearance, thumbnail, run_id, started_at, finished_at, seconds, pid, cluster_features, "
            "cluster_mirrored, worker) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (result.sha256, _path_key(result.path), _error(result.error),
             _storable(fingerprint_to_json(result.fingerprint)) if result.fingerprint else None, variants, features,
             _dumps(result.matches), _dumps(result.appearance) if result.appearance else None,
             result.thumbnail, run_id, result.started_at, result.finished_at, result.seconds, result.pid, *kept,
             _dumps(result.worker) if result.worker else None))

    def load_content(self, sha256: str) -> StoredContent | None:
        """A content's journaled result, or None."""
        row = self._conn.execute(
            "SELECT path, error, fingerprint, variants, features, matches, appearance, thumbnail, run_id, "
            "started_at, finished_at, seconds, pid, cluster_features, cluster_mirrored, worker FROM contents "
            "WHERE sha256 = ?", (sha256,)).fetchone()
        if row is None:
            return None
        (path, error, fingerprint, variants, features, matches, appearance, thumbnail, run_id, started_at,
         finished_at, seconds, pid, kept, kept_mirrored, worker) = row
        fp = fingerprint_from_json(fingerprint) if fingerprint else None
        found = from_jsonable(tuple[Match, ...], json.loads(matches))
        result = ContentResult(
            sha256=sha256, path=os.fsdecode(path), error=error, fingerprint=fp,
            variants=None if variants is None else _array(variants),
            features=unpack_features(features) if features else (),
            matches=found, appearance=_appearance(appearance, found, fp),
            thumbnail=bytes(thumbnail), started_at=started_at, finished_at=finished_at, seconds=float(seconds),
            pid=int(pid), cluster_features=unpack_features(kept) if kept else (),
            cluster_mirrored=unpack_features(kept_mirrored) if kept_mirrored else (),
            worker=from_jsonable(WorkerInfo, json.loads(worker)) if worker else None)
        return StoredContent(result, int(run_id))

    # -- the archive additions of --add-new -------------------------------------------------------

    def added(self) -> frozenset[str]:
        """The contents this report folder has added to the archive."""
        return frozenset(r[0] for r in self._conn.execute("SELECT sha256 FROM added"))

    def record_added(self, run_id: int, sha256: str, created: bool, sightings: int) -> None:
        """Journal that a content was added to the archive (or its sightings recorded)."""
        self._write("INSERT OR REPLACE INTO added (sha256, run_id, added_at, created, sightings) "
                    "VALUES (?, ?, ?, ?, ?)", (sha256, run_id, utc_now(), int(created), sightings))

