"""The archive: fingerprints of known media and where they were seen, in one SQLite file, or in a
PostgreSQL database for a team (``--archive postgresql://...``: ``provenance.archive.postgres`` gives a
connection that takes the same SQL, and the side files live in a cache folder of each machine).

The file is opened in WAL mode with foreign keys on and a long busy timeout, so several processes
can add to the same archive at once (writers queue; readers never block). Every ``add`` is one
``BEGIN IMMEDIATE`` transaction, so a crash or ``kill -9`` leaves either the whole item or none
of it. The schema is versioned with ``PRAGMA user_version`` and upgraded on open (see
``provenance.archive.migrations``).

Per frame, the pHash is stored as a signed 64-bit integer (SQLite has no unsigned type; the bits
are the same) and the PDQ hash as a 32-byte blob, so ``frame_table`` (every column) and
``usable_frames`` (what the matcher reads, kept beside the archive by ``provenance.archive.frame_cache``)
hand over all hashes as numpy arrays straight from one query. The full fingerprint is kept as canonical JSON in
``items.record`` and is what ``get`` returns. ``item_hashes`` says which algorithm, length and version made
each item's frame hashes (``Fingerprint.hash_algorithms``); ``get`` gives the fingerprint those.
``pictures`` holds each item's small JPEGs (``provenance.frames.pictures``), written with its frames
or later by ``add_pictures`` for an item that had none. ``soundtracks`` holds the Chromaprint values of
each item whose soundtrack was fingerprinted (``soundtrack`` reads them back with their times), kept for
matching by soundtrack, which a later version does.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import re
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType

import numpy as np

from provenance.archive import migrations, postgres
from provenance.archive.migrations import write_transaction
from provenance.archive.postgres import masked_location
from provenance.audio.align import informative, keys
from provenance.codec import (
    RecordFormatError,
    fingerprint_from_json,
    fingerprint_to_json,
    from_jsonable,
    storable_text,
    to_jsonable,
)
from provenance.errors import ArchiveError, UsageError
from provenance.model import (
    FULL_BOX,
    SOUNDTRACK_FINGERPRINTED,
    ArchivedPicture,
    ContentBox,
    Fingerprint,
    FrameHash,
    HashAlgorithm,
    Sighting,
    Soundtrack,
)
from provenance.times import utc_now_micro
from provenance.vision.features import GRID, FrameFeatures

Connection = sqlite3.Connection | postgres.PostgresConnection
"""An open archive database: SQLite's own connection, or a PostgreSQL one taking the same SQL."""

BUSY_TIMEOUT_MS = 30_000
"""How long a writer waits for another process's transaction before giving up."""

_HEX = re.compile(r"[0-9a-f]+")
_HEX16 = re.compile(r"[0-9a-fA-F]{16}")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_SIGHTING_FIELDS = ("source_url", "platform", "uploader", "first_seen", "label", "title", "video_id",
                    "file_name", "platform_raw", "chat", "chat_type", "chat_id", "message_id", "text",
                    "forwarded_from", "record_id", "page_url", "recorded_from")
_HASH_COLUMNS = {"phash": 64, "pdq": 256}
"""The hashes the frames table holds: each algorithm's name (that of its column) and its length in bits."""


class ReadOnlyArchiveError(ArchiveError):
    """The archive may be read but not written by whoever opened it (a PostgreSQL role granted SELECT only)."""


def write_failed(label: str, action: str, exc: sqlite3.Error) -> ArchiveError:
    """The error for a write to the archive ``label`` that failed: ``action`` ("add x") and why, in one line;
    a ``ReadOnlyArchiveError`` when the database refused the privilege."""
    if isinstance(exc, postgres.PermissionDenied):
        return ReadOnlyArchiveError(f"cannot {action}: your database role may only read the archive {label} "
                                    f"({exc}): ask its owner for write rights, or use an archive of your own")
    return ArchiveError(f"could not {action} in the archive {label}: {exc}: check free disk space and that no "
                        "other program holds the archive locked, then retry")


@dataclass(frozen=True)
class AddResult:
    """The outcome of ``ArchiveStore.add``: ``created`` is False when the item was already archived."""

    sha256: str
    created: bool
    sightings_added: int


@dataclass(frozen=True)
class ArchivedItem:
    """One archived item with its full fingerprint and its sightings (oldest first, unknown last)."""

    sha256: str
    name: str
    kind: str
    size: int
    duration: float
    added_at: str
    fingerprint: Fingerprint
    sightings: tuple[Sighting, ...]


@dataclass(frozen=True)
class ItemSummary:
    """One line of the archive listing."""

    sha256: str
    name: str
    kind: str
    size: int
    duration: float
    added_at: str
    frames: int
    sightings: int
    earliest_first_seen: str | None  # the earliest sighting's first_seen, as recorded


@dataclass(frozen=True)
class ArchiveStats:
    """Totals over the whole archive."""

    items: int
    videos: int
    stills: int
    frames: int
    sightings: int
    total_duration: float
    schema_version: int
    file_size_bytes: int  # the database file plus its write-ahead log; on PostgreSQL, the database's size
    earliest_first_seen: str | None
    latest_first_seen: str | None
    unreadable_dates: int = 0  # sightings whose first_seen is kept but cannot be read as a date (first_seen_flag)


@dataclass(frozen=True)
class ItemRef:
    """What the matcher needs to know about an item a frame belongs to."""

    sha256: str
    name: str
    duration: float
    kind: str
    content_box: ContentBox = FULL_BOX

    @property
    def box_full(self) -> bool:
        """True when no border was found in the item (its frames are the whole picture)."""
        return self.content_box.is_full


@dataclass(frozen=True, eq=False)
class FrameTable:
    """Every archived frame as parallel read-only numpy arrays, ordered by (item_id, sample).

    ``generation`` and ``archive_id`` identify the archive state the table was read from (see
    ``ArchiveStore.generation``), so an index built from it can be persisted and checked for staleness.
    """

    item_ids: np.ndarray  # (N,) int64, keys of ``items``
    samples: np.ndarray  # (N,) int64, FrameHash.index
    times: np.ndarray  # (N,) float64 seconds
    pdq: np.ndarray  # (N, 32) uint8
    phash: np.ndarray  # (N,) uint64; 0 for the frames of hash-only items, which have no pHash
    quality: np.ndarray  # (N,) int16
    items: Mapping[int, ItemRef]
    generation: int
    archive_id: str
    removed_generation: int = 0  # the generation of the last removal (0: none recorded)
    earlier_items: int = 0  # with ``frame_table(after_item=k)``: the items with ids up to k, not read

    def __len__(self) -> int:
        """The number of frames."""
        return int(self.item_ids.shape[0])


@dataclass(frozen=True, eq=False)
class UsableFrames:
    """What matching reads of the archive, read lean: the frames of at least a PDQ quality, in
    (item_id, sample) order, as the row of their item in ``item_ids``, their time and their hash.

    Identity and state fields are ``FrameTable``'s. Nothing else is held, so a million items (60
    million frames) read in about 3 GB where the full ``FrameTable`` took 4 GB.
    """

    item_ids: np.ndarray  # (I,) int64, sorted: every item read, with or without usable frames
    item_rows: np.ndarray  # (N,) int64: the item of each frame, as its index in ``item_ids``
    times: np.ndarray  # (N,) float64 seconds
    pdq: np.ndarray  # (N, 32) uint8
    items: Mapping[int, ItemRef]
    generation: int
    archive_id: str
    removed_generation: int = 0
    earlier_items: int = 0


FRAME_BATCH = 65_536  # frame rows fetched from SQLite at a time


def default_archive_path() -> Path:
    """Where the archive lives unless told: ``$PROVENANCE_ARCHIVE``, else the XDG data directory.

    That is ``$XDG_DATA_HOME/provenance/archive.sqlite``, by default
    ``~/.local/share/provenance/archive.sqlite``.
    """
    explicit = os.environ.get("PROVENANCE_ARCHIVE")
    if explicit:
        return Path(explicit).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME")
    base = Path(data_home).expanduser() if data_home else Path.home() / ".local" / "share"
    return base / "provenance" / "archive.sqlite"


@dataclass(frozen=True)
class StoredSoundtrack:
    """An archived item's soundtrack fingerprint: Chromaprint's raw values (uint32) and what made them."""

    method: str
    algorithm: int
    sample_rate: int
    item_duration: float  # seconds from one value to the next
    values: np.ndarray  # (N,) uint32
    start: float = 0.0  # seconds of the item's video time line at which value 0's sound starts
    bands: np.ndarray | None = None  # (M,) uint32 band-print values (audio.bands), None: stored before them
    band_step: float = 0.0  # seconds from one band-print value to the next

    @property
    def times(self) -> np.ndarray:
        """(N,) float64: the second of the item's video time line each value's sound starts at."""
        return self.start + np.arange(len(self.values), dtype=np.float64) * self.item_duration


def _frame_row(item_id: int, frame: FrameHash) -> tuple[int, int, float, int | None, bytes, int]:
    # int(x, 16) and bytes.fromhex also take "0x", "_", "+" and spaces: insist on plain hex digits
    if frame.phash == "" and _HEX64.fullmatch(frame.pdq):  # a hash-only item (provenance.ingest.interop) has no pHash
        return (item_id, frame.index, float(frame.time), None, bytes.fromhex(frame.pdq), int(frame.pdq_quality))
    if not _HEX16.fullmatch(frame.phash) or not _HEX64.fullmatch(frame.pdq):
        raise ArchiveError(
            f"frame {frame.index} at {frame.time:.3f} s has a malformed hash (pHash must be 16 and PDQ 64 "
            "hex digits): fingerprint the file again with this version of provenance"
        )
    value = int(frame.phash, 16)
    phash = value - (1 << 64) if value >= 1 << 63 else value  # SQLite integers are signed 64-bit
    return (item_id, frame.index, float(frame.time), phash, bytes.fromhex(frame.pdq), int(frame.pdq_quality))


def _picture_row(item_id: int, picture: ArchivedPicture) -> tuple[int, float, str, int, int, bytes]:
    if picture.kind not in ("shot", "every") or picture.width <= 0 or picture.height <= 0 or not picture.jpeg:
        raise ArchiveError(
            f"a picture at {picture.time:.3f} s is malformed (kind {picture.kind!r}, {picture.width} x "
            f"{picture.height}, {len(picture.jpeg)} bytes): add the file again with this version of provenance"
        )
    return (item_id, float(picture.time), picture.kind, int(picture.width), int(picture.height), bytes(picture.jpeg))


def _hash_algorithm_rows(item_id: int, fp: Fingerprint) -> list[tuple[int, int, str, int, int]]:
    """The ``item_hashes`` rows of a fingerprint; ArchiveError when its hash algorithms do not fit the
    frames table or do not describe its frames (a pHash named but missing, or there but not named)."""
    named = [a.name for a in fp.hash_algorithms]
    for a in fp.hash_algorithms:
        version_ok = isinstance(a.version, int) and not isinstance(a.version, bool) and a.version >= 1
        if _HASH_COLUMNS.get(a.name) != a.bits or not version_ok:
            raise ArchiveError(
                f"{fp.identity.name}: the archive holds pHash (64 bits) and PDQ (256 bits) frame hashes, not "
                f"{a.name} of {a.bits} bits version {a.version}: fingerprint the file again with this version "
                "of provenance"
            )
    if "pdq" not in named or len(set(named)) != len(named):
        raise ArchiveError(
            f"{fp.identity.name}: the record names its hash algorithms as {named}; an archived item has PDQ "
            "hashes and names each algorithm once: fingerprint the file again with this version of provenance"
        )
    for frame in fp.frames:
        if bool(frame.phash) != ("phash" in named):
            state = "has a pHash" if frame.phash else "has no pHash"
            raise ArchiveError(
                f"frame {frame.index} at {frame.time:.3f} s {state}, but the record's hash algorithms are "
                f"{named}: fingerprint the file again with this version of provenance"
            )
    return [(item_id, position, a.name, int(a.bits), int(a.version))
            for position, a in enumerate(fp.hash_algorithms)]


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def refuse_url(location: str) -> None:
    """Raise ``ArchiveError`` when ``location`` is a URL other than a PostgreSQL archive's
    (``https://...``, ``mysql://...``), never taking it for a file path (which would make a SQLite file
    in a folder named after the scheme)."""
    if not _URL.match(location) or postgres.is_server(location):
        return
    try:
        shown = masked_location(location)
    except ValueError:  # not even a well-formed URL: show only its scheme
        shown = location.split("://", 1)[0] + "://..."
    raise ArchiveError(f"{shown} is a URL that is no archive: give the path of an archive file (SQLite) or a "
                       "PostgreSQL URL (postgresql://USER@HOST:PORT/DB)")


def make_archive_folder(location: str | Path) -> None:
    """Make the folder an archive file is to be created in (``refuse_url`` first: a URL is no path);
    nothing for a PostgreSQL archive."""
    refuse_url(str(location))
    if not postgres.is_server(location):
        Path(location).expanduser().parent.mkdir(parents=True, exist_ok=True)


def archive_location(location: str | Path) -> str:
    """``location`` as the archive commands use it: a path with ``~`` expanded, a PostgreSQL URL as it is
    (``refuse_url`` first)."""
    refuse_url(str(location))
    return str(location) if postgres.is_server(location) else str(Path(location).expanduser())


def shown_location(location: str | Path) -> str:
    """How an archive location is written into evidence records: a path made absolute (``~`` expanded), a
    PostgreSQL URL with its password masked (``masked_location``)."""
    if postgres.is_server(location):
        return masked_location(str(location))
    return os.path.abspath(Path(location).expanduser())


def archive_exists(location: str | Path) -> bool:
    """True when there may be an archive at ``location``: an existing path, or any PostgreSQL URL (opening
    it with ``create=False`` tells whether the database holds one)."""
    return postgres.is_server(location) or Path(location).expanduser().exists()


def server_cache_base(archive_id: str) -> Path:
    """Where a PostgreSQL archive's side files are named from on this machine:
    ``$XDG_CACHE_HOME/provenance/archives/ID/archive`` (``~/.cache`` by default), ``ID`` its archive id."""
    if not _HEX.fullmatch(archive_id):
        raise ArchiveError(f"the archive's id {archive_id!r} is not hexadecimal: the database is damaged")
    cache_home = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache_home).expanduser() if cache_home else Path.home() / ".cache"
    return base / "provenance" / "archives" / archive_id / "archive"


def _cannot_open(path: Path, exc: Exception) -> str:
    return f"cannot open the archive {path}: {exc}: check the path, its permissions and free disk space"


def _storable(value: str | None) -> str | None:
    return None if value is None else storable_text(value)


def _canonical_json(data: object) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _content_box(text: str) -> ContentBox:
    try:
        return from_jsonable(ContentBox, json.loads(text))
    except ValueError:
        return FULL_BOX  # an unreadable box is treated as none found: the matcher then compares whole frames


def _sighting_from_row(row: Sequence[object]) -> Sighting:
    """Build a Sighting from (source_url, ..., recorded_from, added_at): ``_SIGHTING_FIELDS`` then added_at."""
    return Sighting(**dict(zip((*_SIGHTING_FIELDS, "added_at"), row, strict=True)))  # type: ignore[arg-type]


class ArchiveStore:
    """An open archive. Use ``ArchiveStore.open(path)``, ideally as a context manager.

    One instance belongs to one thread; separate processes (or threads with their own instances)
    may use the same file at once.
    """

    def __init__(self, conn: Connection, path: Path, *, label: str | None = None) -> None:
        """Wrap an already opened and migrated connection (use ``ArchiveStore.open`` instead).

        ``path`` is the SQLite file, or for a PostgreSQL archive the base its local side files are
        named from (``side_files``: a cache folder of this machine, keyed by the archive's id);
        ``label`` is how the archive is shown (a URL with its password masked), the path by default.
        """
        self._conn = conn
        self.path = path
        self.label = str(path) if label is None else label
        self.dialect = "sqlite" if isinstance(conn, sqlite3.Connection) else conn.dialect
        self._bump_generation = ("UPDATE meta SET value = value + 1 WHERE key = 'generation'"
                                 if self.dialect == "sqlite" else
                                 "UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'generation'")

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, create: bool = True) -> ArchiveStore:
        """Open the archive at ``path``, creating it (and its folder) if ``create`` and it is missing.

        An older schema is upgraded in place. Raises ``ArchiveError`` when the file is missing and
        ``create`` is False, is not a provenance archive, or was written by a newer provenance.
        """
        if postgres.is_server(path):
            return cls._open_server(str(path), create=create)
        refuse_url(str(path))
        path = Path(path).expanduser()
        if path.is_dir():
            raise ArchiveError(f"{path} is a directory, not a provenance archive: give the path of a file")
        if not path.exists():
            if not create:
                raise ArchiveError(
                    f"no archive at {path}: check the path, or add an item to create it"
                )
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ArchiveError(
                    f"cannot create the folder for the archive {path}: {exc.strerror}: choose another path"
                ) from exc
        try:
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise ArchiveError(_cannot_open(path, exc)) from exc
        try:
            cls._configure(conn, path)
            migrations.migrate(conn, label=str(path))
        except sqlite3.DatabaseError as exc:
            conn.close()
            if "not a database" in str(exc) or "malformed" in str(exc):
                raise ArchiveError(
                    f"{path} is not a provenance archive (not an SQLite database, or a damaged one): "
                    "give the path of an archive, or a new file name to create one"
                ) from exc
            raise ArchiveError(_cannot_open(path, exc)) from exc
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    @classmethod
    def _open_server(cls, location: str, *, create: bool) -> ArchiveStore:
        """Open the PostgreSQL archive at the URL ``location``, creating its tables when ``create`` and
        the database has none. Its side files live in this machine's cache, keyed by the archive's id."""
        conn = postgres.connect(location)
        try:
            version = postgres.schema_version(conn)
            if version == 0:
                if not create:
                    raise ArchiveError(f"no archive at {conn.label}: the database has no archive tables: check the "
                                       "URL, or add an item to create them")
                postgres.create_schema(conn, migrations.LATEST_VERSION)
            postgres.identify(conn)
            migrations.migrate(conn, label=conn.label)
            archive_id = str(conn.execute("SELECT value FROM meta WHERE key = 'archive_id'").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise ArchiveError(f"cannot open the archive {conn.label}: {exc}: check the URL and your rights on "
                               "the database") from exc
        except BaseException:
            conn.close()
            raise
        base = server_cache_base(archive_id)
        try:
            base.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            conn.close()
            raise ArchiveError(f"cannot make the cache folder {base.parent} for the archive {conn.label}: "
                               f"{exc.strerror}: set XDG_CACHE_HOME to a writable folder") from exc
        return cls(conn, base, label=conn.label)

    @classmethod
    def _configure(cls, conn: sqlite3.Connection, path: Path) -> None:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        # Switching a new file to WAL needs an exclusive lock and fails at once, without waiting
        # for the busy timeout, while another process is creating the same archive: retry it.
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                cls._identify(conn, path)
                cls._use_wal(conn, path)
                break
            except sqlite3.OperationalError as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.005, 0.05))
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable at checkpoints, never corrupt

    @staticmethod
    def _identify(conn: sqlite3.Connection, path: Path) -> None:
        """Refuse an SQLite file of another program; a new, empty file is fine."""
        # one read transaction, so a process creating the archive meanwhile is seen entirely or not at all
        conn.execute("BEGIN")
        try:
            app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
            version = migrations.user_version(conn)
            has_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")
        if app_id != migrations.APPLICATION_ID and (app_id != 0 or version != 0 or has_tables):
            raise ArchiveError(
                f"{path} is not a provenance archive (an SQLite database of another program): "
                "give the path of an archive, or a new file name to create one"
            )

    @staticmethod
    def _use_wal(conn: sqlite3.Connection, path: Path) -> None:
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
            return
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower()
        if mode != "wal":
            raise ArchiveError(
                f"cannot switch the archive {path} to WAL journal mode (got {mode!r}): "
                "keep the archive on a local file system"
            )

    @property
    def connection(self) -> Connection:
        """The open connection (autocommit mode), for modules that keep their own tables here (custody log)."""
        return self._conn

    def close(self) -> None:
        """Close the database connection. The store cannot be used afterwards."""
        self._conn.close()

    def __enter__(self) -> ArchiveStore:
        """Return the store itself."""
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the store."""
        self.close()

    # -- writing -----------------------------------------------------------------------------

    def add(self, fp: Fingerprint, sightings: Sequence[Sighting] = (),
            features: Iterable[FrameFeatures] = (), pictures: Iterable[ArchivedPicture] = ()) -> AddResult:
        """Archive a fingerprint with its sightings, local features and pictures, in one transaction;
        idempotent by SHA-256.

        When the item (same SHA-256) is already archived, only the sightings not yet recorded are
        added. A sighting without ``added_at`` is stamped with the current UTC time. Returns what
        was done. Raises ``ArchiveError`` for malformed hashes or pictures, or when the write fails.
        """
        sha256 = fp.identity.sha256.lower()
        if len(sha256) != 64 or not _HEX.fullmatch(sha256):
            raise ArchiveError(
                f"{fp.identity.name}: the fingerprint's SHA-256 {fp.identity.sha256!r} is not 64 hex digits: "
                "fingerprint the file again"
            )
        conn = self._conn
        try:
            with write_transaction(conn):
                row = conn.execute("SELECT id FROM items WHERE sha256 = ?", (sha256,)).fetchone()
                created = row is None
                if created:
                    item_id = self._insert_item(sha256, fp)
                    self._insert_frames(item_id, fp.frames)
                    self._conn.executemany(
                        "INSERT INTO item_hashes (item_id, position, algorithm, bits, version) VALUES (?, ?, ?, ?, ?)",
                        _hash_algorithm_rows(item_id, fp),
                    )
                    self._conn.executemany(
                        "INSERT INTO features (item_id, time, aspect, points, descriptors, grid) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        # a generator: one frame's bytes at a time, however long the item
                        ((item_id, f.time, f.aspect, f.points.astype(np.float32).tobytes(),
                          f.descriptors.astype(np.uint8).tobytes(),
                          None if f.grid is None else f.grid.astype(np.float32).tobytes()) for f in features),
                    )
                    self._insert_pictures(item_id, pictures)
                    self._insert_soundtrack(item_id, fp.soundtrack)
                    conn.execute(self._bump_generation)
                else:
                    item_id = int(row[0])
                added = self._insert_sightings(item_id, sightings)
        except sqlite3.Error as exc:
            raise write_failed(self.label, f"add {fp.identity.name}", exc) from exc
        return AddResult(sha256=sha256, created=created, sightings_added=added)

    def _insert_item(self, sha256: str, fp: Fingerprint) -> int:
        cur = self._conn.execute(
            "INSERT INTO items (sha256, name, kind, size, duration, added_at, record, content_box) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (sha256, storable_text(fp.identity.name), fp.metadata.kind, int(fp.identity.size), float(fp.duration),
             utc_now_micro(), fingerprint_to_json(fp), _canonical_json(to_jsonable(fp.content_box))),
        )
        return int(cur.fetchone()[0])

    def _insert_frames(self, item_id: int, frames: Sequence[FrameHash]) -> None:
        self._conn.executemany(
            "INSERT INTO frames (item_id, sample, time, phash, pdq, pdq_quality) VALUES (?, ?, ?, ?, ?, ?)",
            (_frame_row(item_id, frame) for frame in frames),
        )

    def _insert_soundtrack(self, item_id: int, sound: Soundtrack | None) -> None:
        """Write an item's soundtrack values and their index keys, when its soundtrack was fingerprinted."""
        if sound is None or sound.status != SOUNDTRACK_FINGERPRINTED or not sound.item_duration:
            return
        values = np.asarray(sound.items(), dtype=np.uint32)
        bands = np.asarray(sound.band_items(), dtype=np.uint32)
        self._conn.execute(
            "INSERT INTO soundtracks (item_id, method, algorithm, sample_rate, item_duration, count, vals, start, "
            "band_step, band_count, bands) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (item_id, sound.method or "", int(sound.algorithm or 0), int(sound.sample_rate or 0),
             float(sound.item_duration), len(values), values.astype("<u4").tobytes(), float(sound.start),
             sound.band_step, len(bands), bands.astype("<u4").tobytes() if sound.band_step else None))
        positions = np.nonzero(informative(values))[0]
        self._conn.executemany(
            "INSERT INTO soundtrack_keys (sound_key, item_id, position) VALUES (?, ?, ?)",
            zip(keys(values[positions]).tolist(), itertools.repeat(item_id), positions.tolist()))

    def soundtrack_candidates(self, sound_keys: Iterable[int], limit: int) -> list[tuple[str, int]]:
        """(SHA-256, how many of ``sound_keys`` its index rows hold), most first, at most ``limit`` items:
        the items whose soundtracks may hold the query's sound (``audio.align`` then measures them)."""
        wanted = sorted({int(k) for k in sound_keys})
        if not wanted:
            return []
        conn = self._conn
        hits: dict[int, int] = {}
        for start in range(0, len(wanted), 500):  # under SQLite's limit of bound parameters
            chunk = wanted[start:start + 500]
            rows = conn.execute(
                f"SELECT item_id, COUNT(*) FROM soundtrack_keys WHERE sound_key IN ({','.join('?' * len(chunk))}) "
                "GROUP BY item_id", chunk).fetchall()
            for item_id, count in rows:
                hits[int(item_id)] = hits.get(int(item_id), 0) + int(count)
        ranked = sorted(hits.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        if not ranked:
            return []
        names = dict(conn.execute(
            f"SELECT id, sha256 FROM items WHERE id IN ({','.join('?' * len(ranked))})", [i for i, _ in ranked]))
        return [(str(names[i]), count) for i, count in ranked if i in names]

    def _insert_pictures(self, item_id: int, pictures: Iterable[ArchivedPicture]) -> int:
        """Write an item's pictures (one at a time, however many); how many were written."""
        cur = self._conn.executemany(
            "INSERT INTO pictures (item_id, time, kind, width, height, jpeg) VALUES (?, ?, ?, ?, ?, ?)",
            (_picture_row(item_id, p) for p in pictures),
        )
        return max(0, cur.rowcount)

    def add_pictures(self, sha256: str, pictures: Iterable[ArchivedPicture]) -> int:
        """Give pictures to an archived item (full SHA-256) that has none, in one transaction; how many were
        written: 0 when the item already has some (another process gave them meanwhile).

        Raises ``ArchiveError`` when no item has that SHA-256, it is a hash-only item, a picture is
        malformed, or the write fails. The generation is not bumped: matching never reads pictures.
        """
        key = sha256.strip().lower()
        conn = self._conn
        try:
            with write_transaction(conn):
                row = conn.execute("SELECT id, kind FROM items WHERE sha256 = ?", (key,)).fetchone()
                if row is None:
                    raise ArchiveError(f"no archived item with SHA-256 {sha256} in {self.label}")
                if row[1] == "hashes":
                    raise ArchiveError(f"{sha256} is a hash-only item (imported hashes, no media): it has no pictures")
                if conn.execute("SELECT 1 FROM pictures WHERE item_id = ? LIMIT 1", (row[0],)).fetchone():
                    return 0
                return self._insert_pictures(int(row[0]), pictures)
        except sqlite3.Error as exc:
            raise write_failed(self.label, f"add pictures of {sha256}", exc) from exc

    def _insert_sightings(self, item_id: int, sightings: Sequence[Sighting]) -> int:
        added = 0
        now = utc_now_micro()
        for s in sightings:
            cur = self._conn.execute(
                f"INSERT INTO sightings (item_id, {', '.join(_SIGHTING_FIELDS)}, added_at, first_seen_utc, "
                f"first_seen_end, first_seen_flag) VALUES ({', '.join('?' * (len(_SIGHTING_FIELDS) + 5))}) "
                "ON CONFLICT DO NOTHING",
                (item_id, *(_storable(getattr(s, name)) for name in _SIGHTING_FIELDS), s.added_at or now,
                 *migrations.first_seen_columns(s.first_seen)),
            )
            added += cur.rowcount
        return added

    def remove(self, sha256_or_prefix: str) -> bool:
        """Delete an item with its frames and sightings. Returns False when no item matches.

        Raises ``ArchiveError`` when the prefix matches more than one item.
        """
        conn = self._conn
        try:
            with write_transaction(conn):
                found = self._resolve(sha256_or_prefix)
                if found is not None:
                    conn.execute("DELETE FROM items WHERE id = ?", (found[0],))
                    conn.execute(self._bump_generation)
                    # kept copies of the frames (provenance.archive.frame_cache) may be extended only past this
                    conn.execute("INSERT INTO meta (key, value) SELECT 'removed_generation', value FROM meta "
                                 "WHERE key = 'generation' ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        except sqlite3.Error as exc:
            raise write_failed(self.label, f"remove {sha256_or_prefix}", exc) from exc
        return found is not None

    # -- reading -----------------------------------------------------------------------------

    def _resolve(self, sha256_or_prefix: str) -> tuple[int, str] | None:
        """(item id, sha256) for a full SHA-256 or a unique prefix of one."""
        prefix = sha256_or_prefix.strip().lower()
        if not prefix or len(prefix) > 64 or not _HEX.fullmatch(prefix):
            raise UsageError(
                f"{sha256_or_prefix!r} is not a SHA-256 or the start of one: give hex digits (0-9, a-f)"
            )
        # 'g' sorts after every hex digit, so this range is exactly the strings starting with prefix
        rows = self._conn.execute(
            "SELECT id, sha256 FROM items WHERE sha256 >= ? AND sha256 < ? ORDER BY sha256 LIMIT 3",
            (prefix, prefix + "g"),
        ).fetchall()
        if not rows:
            return None
        if len(rows) > 1:
            shown = ", ".join(r[1][: len(prefix) + 4] for r in rows)
            raise ArchiveError(
                f"the prefix {prefix} matches more than one archived item ({shown}...): give more digits"
            )
        return int(rows[0][0]), str(rows[0][1])

    def get(self, sha256_or_prefix: str) -> ArchivedItem | None:
        """The archived item with this SHA-256 (or unique prefix of one), or None.

        Raises ``ArchiveError`` when the prefix is ambiguous or the stored record cannot be read,
        ``UsageError`` when the argument is not hexadecimal.
        """
        conn = self._conn
        conn.execute("BEGIN")
        try:
            found = self._resolve(sha256_or_prefix)
            if found is None:
                return None
            item_id, sha256 = found
            row = conn.execute(
                "SELECT name, kind, size, duration, added_at, record FROM items WHERE id = ?", (item_id,)
            ).fetchone()
            sightings = self._sightings_of(item_id)
            algorithms = tuple(HashAlgorithm(str(a), int(b), int(v)) for a, b, v in conn.execute(
                "SELECT algorithm, bits, version FROM item_hashes WHERE item_id = ? ORDER BY position", (item_id,)))
        finally:
            conn.execute("COMMIT")
        name, kind, size, duration, added_at, record = row
        try:
            fingerprint = fingerprint_from_json(record)
        except RecordFormatError as exc:
            raise ArchiveError(
                f"the stored record of {sha256} in {self.label} is unreadable ({exc}): "
                "remove the item and add the file again"
            ) from exc
        if algorithms:  # the table, not the record, for items archived before records named them
            fingerprint = replace(fingerprint, hash_algorithms=algorithms)
        return ArchivedItem(sha256=sha256, name=name, kind=kind, size=int(size), duration=float(duration),
                            added_at=added_at, fingerprint=fingerprint, sightings=sightings)

    def pictures(self, sha256: str) -> tuple[ArchivedPicture, ...]:
        """The small pictures of one item (SHA-256 or unique prefix), in time order; empty when it has none
        (an item archived before pictures were kept, a hash-only item) or no item matches."""
        found = self._resolve(sha256)
        if found is None:
            return ()
        rows = self._conn.execute(
            "SELECT time, kind, width, height, jpeg FROM pictures WHERE item_id = ? ORDER BY time", (found[0],))
        return tuple(ArchivedPicture(time=float(t), kind=str(k), width=int(w), height=int(h), jpeg=bytes(j))
                     for t, k, w, h, j in rows)

    def soundtrack(self, sha256: str) -> StoredSoundtrack | None:
        """The soundtrack values of one item (SHA-256 or unique prefix) with their times; None when it has
        none (no audio, archived before soundtracks were kept, hash-only) or no item matches."""
        found = self._resolve(sha256)
        if found is None:
            return None
        row = self._conn.execute(
            "SELECT method, algorithm, sample_rate, item_duration, count, vals, start, band_step, band_count, bands "
            "FROM soundtracks WHERE item_id = ?", (found[0],)).fetchone()
        if row is None:
            return None
        method, algorithm, rate, step, count, vals, start, band_step, band_count, band_blob = row
        values = np.frombuffer(bytes(vals), dtype="<u4", count=int(count)).astype(np.uint32)
        bands = (np.frombuffer(bytes(band_blob), dtype="<u4", count=int(band_count)).astype(np.uint32)
                 if band_blob is not None and band_step else None)
        return StoredSoundtrack(method=str(method), algorithm=int(algorithm), sample_rate=int(rate),
                                item_duration=float(step), values=values, start=float(start), bands=bands,
                                band_step=float(band_step or 0.0))

    def picture_count(self, sha256: str) -> int:
        """How many pictures one item (SHA-256 or unique prefix) has; 0 when no item matches."""
        found = self._resolve(sha256)
        if found is None:
            return 0
        return int(self._conn.execute("SELECT count(*) FROM pictures WHERE item_id = ?", (found[0],)).fetchone()[0])

    def _sightings_of(self, item_id: int) -> tuple[Sighting, ...]:
        rows = self._conn.execute(
            f"SELECT {', '.join(_SIGHTING_FIELDS)}, added_at FROM sightings WHERE item_id = ? "
            "ORDER BY first_seen_utc IS NULL, first_seen_utc, first_seen IS NULL, first_seen, id",
            (item_id,),
        ).fetchall()
        return tuple(_sighting_from_row(r) for r in rows)

    def sightings(self, sha256: str) -> tuple[Sighting, ...]:
        """The sightings of one item (SHA-256 or unique prefix), oldest first, unknown dates last.

        Dates are compared in UTC; an unparseable ``first_seen`` sorts after all parseable ones.
        Returns an empty tuple for an unknown item.
        """
        found = self._resolve(sha256)
        return () if found is None else self._sightings_of(found[0])

    def items(self) -> list[ItemSummary]:
        """A summary of every archived item, oldest sighting first.

        Items are ordered by their earliest dated sighting (compared in UTC); items with no dated
        sighting come last; ties and the undated keep the order they were added in.
        """
        rows = self._conn.execute(
            """
            SELECT sha256, name, kind, size, duration, added_at, frames, sightings, earliest FROM (
                SELECT i.id, i.sha256, i.name, i.kind, i.size, i.duration, i.added_at,
                       (SELECT count(*) FROM frames f WHERE f.item_id = i.id) AS frames,
                       (SELECT count(*) FROM sightings s WHERE s.item_id = i.id) AS sightings,
                       (SELECT s.first_seen FROM sightings s WHERE s.item_id = i.id AND s.first_seen IS NOT NULL
                        ORDER BY s.first_seen_utc IS NULL, s.first_seen_utc, s.first_seen LIMIT 1) AS earliest,
                       (SELECT min(s.first_seen_utc) FROM sightings s WHERE s.item_id = i.id) AS earliest_utc
                FROM items i
            ) AS listed ORDER BY earliest_utc IS NULL, earliest_utc, added_at, id
            """
        ).fetchall()
        return [
            ItemSummary(sha256=r[0], name=r[1], kind=r[2], size=int(r[3]), duration=float(r[4]),
                        added_at=r[5], frames=int(r[6]), sightings=int(r[7]), earliest_first_seen=r[8])
            for r in rows
        ]

    def stats(self) -> ArchiveStats:
        """Totals over the archive, its schema version and its size on disk."""
        conn = self._conn
        conn.execute("BEGIN")
        try:
            items, videos, stills, total = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE kind = 'video'), "
                "count(*) FILTER (WHERE kind = 'still'), coalesce(sum(duration), 0.0) FROM items"
            ).fetchone()
            frames = conn.execute("SELECT count(*) FROM frames").fetchone()[0]
            sightings = conn.execute("SELECT count(*) FROM sightings").fetchone()[0]
            unreadable = conn.execute("SELECT count(*) FROM sightings WHERE first_seen_flag IS NOT NULL").fetchone()[0]
            earliest = conn.execute(
                "SELECT first_seen FROM sightings WHERE first_seen_utc IS NOT NULL "
                "ORDER BY first_seen_utc LIMIT 1"
            ).fetchone()
            latest = conn.execute(
                "SELECT first_seen FROM sightings WHERE first_seen_utc IS NOT NULL "
                "ORDER BY first_seen_utc DESC LIMIT 1"
            ).fetchone()
            version = migrations.user_version(conn)
        finally:
            conn.execute("COMMIT")
        size = 0
        if isinstance(conn, postgres.PostgresConnection):
            size = postgres.database_size(conn)
        for suffix in ("", "-wal") if self.dialect == "sqlite" else ():
            with contextlib.suppress(FileNotFoundError):
                size += os.stat(f"{self.path}{suffix}").st_size
        return ArchiveStats(items=int(items), videos=int(videos), stills=int(stills), frames=int(frames),
                            sightings=int(sightings), total_duration=float(total), schema_version=version,
                            file_size_bytes=size,
                            earliest_first_seen=earliest[0] if earliest else None,
                            latest_first_seen=latest[0] if latest else None, unreadable_dates=int(unreadable))

    def generation(self) -> int:
        """A counter bumped in the same transaction as every item added or removed.

        Together with ``archive_id`` it tells whether an index built earlier is still current.
        """
        return int(self._conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    def archive_id(self) -> str:
        """A random identifier chosen when the archive was created (tells archives apart)."""
        return str(self._conn.execute("SELECT value FROM meta WHERE key = 'archive_id'").fetchone()[0])

    def feature_frames(self, item_id: int | None = None) -> tuple[np.ndarray, list[FrameFeatures]]:
        """Every archived feature frame, or those of one item: the item id of each (array) and the
        frames, in one read."""
        where, args = ("WHERE item_id = ?", (item_id,)) if item_id is not None else ("", ())
        rows = self._conn.execute(
            f"SELECT item_id, time, aspect, points, descriptors, grid FROM features {where} ORDER BY item_id, time",
            args,
        ).fetchall()
        frames = [
            FrameFeatures(float(t), np.frombuffer(pts, dtype=np.float32).reshape(-1, 2),
                          np.frombuffer(desc, dtype=np.uint8).reshape(-1, 32), float(aspect),
                          None if grid is None else np.frombuffer(grid, dtype=np.float32).reshape(GRID, GRID, -1))
            for _, t, aspect, pts, desc, grid in rows
        ]
        return np.array([r[0] for r in rows], dtype=np.int64), frames

    def features_of(self, sha256: str) -> list[FrameFeatures]:
        """The local-feature frames of one item (SHA-256 or unique prefix), in time order; empty when it has
        none or no item matches."""
        found = self._resolve(sha256)
        return [] if found is None else self.feature_frames(found[0])[1]

    def _item_refs(self, after_item: int) -> dict[int, ItemRef]:
        """The items whose ids are greater than ``after_item``, in id order (inside a reading transaction)."""
        rows = self._conn.execute(
            "SELECT id, sha256, name, duration, kind, content_box FROM items WHERE id > ? ORDER BY id", (after_item,))
        return {int(r[0]): ItemRef(sha256=r[1], name=r[2], duration=float(r[3]), kind=r[4],
                                   content_box=_content_box(r[5])) for r in rows}

    def _read_state(self, after_item: int) -> tuple[int, str, int, int]:
        """(generation, archive id, generation of the last removal or 0, items with ids up to
        ``after_item``), inside a reading transaction."""
        removed = self._conn.execute("SELECT value FROM meta WHERE key = 'removed_generation'").fetchone()
        (earlier,) = self._conn.execute("SELECT COUNT(*) FROM items WHERE id <= ?", (after_item,)).fetchone()
        return self.generation(), self.archive_id(), int(removed[0]) if removed else 0, int(earlier)

    def usable_frames(self, min_quality: int, after_item: int = 0) -> UsableFrames:
        """The frames of PDQ quality ``min_quality`` or more, lean (see ``UsableFrames``); with
        ``after_item``, only those of the items whose ids are greater, as ``frame_table`` does.

        One transaction; rows arrive in batches straight into arrays sized from a count.
        """
        conn = self._conn
        conn.execute("BEGIN")
        try:
            items = self._item_refs(after_item)
            item_ids = np.fromiter(items, dtype=np.int64, count=len(items))
            where = "WHERE item_id > ? AND pdq_quality >= ?"
            (n,) = conn.execute(f"SELECT COUNT(*) FROM frames {where}", (after_item, min_quality)).fetchone()
            item_rows = np.empty(n, dtype=np.int64)
            times = np.empty(n, dtype=np.float64)
            pdq = np.empty((n, 32), dtype=np.uint8)
            cursor = conn.execute(f"SELECT item_id, time, pdq FROM frames {where} ORDER BY item_id, sample",
                                  (after_item, min_quality))
            done = 0
            while batch := cursor.fetchmany(FRAME_BATCH):
                stop = done + len(batch)
                ids, seconds, pdqs = zip(*batch, strict=True)
                item_rows[done:stop] = np.searchsorted(item_ids, np.array(ids, dtype=np.int64))
                times[done:stop] = seconds
                pdq[done:stop] = np.frombuffer(b"".join(pdqs), dtype=np.uint8).reshape(-1, 32)
                done = stop
            generation, archive_id, removed, earlier = self._read_state(after_item)
        finally:
            conn.execute("COMMIT")
        return UsableFrames(item_ids, item_rows, times, pdq, items=items, generation=generation,
                            archive_id=archive_id, removed_generation=removed, earlier_items=earlier)

    def frame_table(self, after_item: int = 0) -> FrameTable:
        """All archived frames as numpy arrays, with the items they belong to; with ``after_item``,
        only those of the items whose ids are greater (the items added since, when none was removed:
        new items get ids above every existing one, and archived items never change).

        Read in one transaction, so the arrays, the item map and ``generation`` agree even while
        another process is adding. Rows arrive in batches straight into arrays sized from a count,
        so a large archive never sits in memory as Python objects.
        """
        conn = self._conn
        conn.execute("BEGIN")
        try:
            (n,) = conn.execute("SELECT COUNT(*) FROM frames WHERE item_id > ?", (after_item,)).fetchone()
            item_ids = np.empty(n, dtype=np.int64)
            samples = np.empty(n, dtype=np.int64)
            times = np.empty(n, dtype=np.float64)
            pdq = np.empty((n, 32), dtype=np.uint8)
            phash = np.empty(n, dtype=np.uint64)
            quality = np.empty(n, dtype=np.int16)
            cursor = conn.execute(
                "SELECT item_id, sample, time, phash, pdq, pdq_quality FROM frames WHERE item_id > ? "
                "ORDER BY item_id, sample", (after_item,)
            )
            done = 0
            while batch := cursor.fetchmany(FRAME_BATCH):
                stop = done + len(batch)
                ids, numbers, seconds, phashes, pdqs, qualities = zip(*batch, strict=True)
                item_ids[done:stop] = ids
                samples[done:stop] = numbers
                times[done:stop] = seconds
                pdq[done:stop] = np.frombuffer(b"".join(pdqs), dtype=np.uint8).reshape(-1, 32)
                # 0: no pHash (hash-only items); stored signed, read back as the same 64 bits
                phash[done:stop] = np.array([0 if v is None else v for v in phashes], dtype=np.int64).view(np.uint64)
                quality[done:stop] = qualities
                done = stop
            items = self._item_refs(after_item)
            generation, archive_id, removed, earlier = self._read_state(after_item)
        finally:
            conn.execute("COMMIT")
        arrays = (item_ids, samples, times, pdq, phash, quality)
        for array in arrays:
            array.flags.writeable = False
        return FrameTable(*arrays, items=items, generation=generation, archive_id=archive_id,
                          removed_generation=removed, earlier_items=earlier)
