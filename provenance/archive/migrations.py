"""Schema versions of the archive database and the steps between them.

``MIGRATIONS`` is an ordered list of ``(version, step)``; a step is an SQL script or a callable
taking the open connection. ``PRAGMA user_version`` holds the version a database is at, and each
step runs in its own ``BEGIN IMMEDIATE`` transaction together with the ``user_version`` bump, so a
crash leaves the database at the previous version, never half-way. Steps must never be edited once
released: a new change is a new version.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time

from provenance.archive import postgres
from provenance.dates import DateError, moment, read_recorded
from provenance.errors import ArchiveError
from provenance.platforms import kept_raw, normalise
from provenance.times import iso_utc

APPLICATION_ID = 0x50524F56
"""``PRAGMA application_id`` of a provenance archive ("PROV"), so other SQLite files are recognised."""

Step = str | Callable[[sqlite3.Connection], None]

SCHEMA_V1 = f"""
PRAGMA application_id = {APPLICATION_ID};

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value
);
INSERT INTO meta (key, value) VALUES ('generation', 0);
INSERT INTO meta (key, value) VALUES ('archive_id', lower(hex(randomblob(16))));

CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE CHECK (length(sha256) = 64),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    duration REAL NOT NULL,
    added_at TEXT NOT NULL,           -- ISO 8601 UTC
    record TEXT NOT NULL              -- canonical Fingerprint JSON (provenance.codec)
);

CREATE TABLE frames (
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    sample INTEGER NOT NULL,
    time REAL NOT NULL,
    phash INTEGER NOT NULL,           -- the uint64 pHash stored as signed 64-bit (two's complement)
    pdq BLOB NOT NULL CHECK (length(pdq) = 32),
    pdq_quality INTEGER NOT NULL,
    PRIMARY KEY (item_id, sample)
) WITHOUT ROWID;

CREATE TABLE sightings (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    source_url TEXT,
    platform TEXT,
    uploader TEXT,
    first_seen TEXT,
    label TEXT,
    title TEXT,
    video_id TEXT,
    file_name TEXT,
    added_at TEXT NOT NULL
);
-- NULLs are distinct in a plain UNIQUE constraint, so the sighting's identity is compared with
-- NULL folded to '' and re-adding the same sighting is a no-op (INSERT ... ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX sightings_identity ON sightings (
    item_id, ifnull(source_url, ''), ifnull(platform, ''), ifnull(uploader, ''), ifnull(first_seen, ''),
    ifnull(label, ''), ifnull(title, ''), ifnull(video_id, ''), ifnull(file_name, '')
);
"""


def first_seen_utc(first_seen: str | None) -> str | None:
    """A sortable UTC form of a sighting's ``first_seen``, or None when it is absent or unparseable.

    Accepts ISO 8601 dates and date-times (extended or basic form, with or without offset), plus
    ``YYYY`` and ``YYYY-MM``. A date without time is taken as midnight UTC, a date-time without
    offset as UTC. The result has a fixed width (``YYYY-MM-DDTHH:MM:SS.ffffffZ``), so text order
    is time order, which ISO strings with mixed offsets or precisions do not give.
    """
    if first_seen is None:
        return None
    text = first_seen.strip()
    if len(text) == 4 and text.isdigit():
        text += "-01-01"
    elif len(text) == 7 and text[:4].isdigit() and text[4] == "-" and text[5:].isdigit():
        text += "-01"
    try:
        if len(text) in (8, 10) and "T" not in text and " " not in text:
            moment = datetime.combine(datetime.fromisoformat(text).date(), time(0), tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso_utc(moment)


FULL_BOX_JSON = '{"bottom":1.0,"left":0.0,"right":1.0,"top":0.0}'


def _v2_first_seen_and_box(conn: sqlite3.Connection) -> None:
    """Add ``sightings.first_seen_utc`` (normalised, indexed) and ``items.content_box``; fill both.

    ``first_seen_utc`` lets the archive order sightings by time in SQL, which the raw ISO text with
    mixed offsets and precisions does not. ``content_box`` (canonical JSON of the ContentBox) lets
    the matcher know which items had borders without parsing every full record.
    """
    conn.execute("ALTER TABLE sightings ADD COLUMN first_seen_utc TEXT")
    rows = conn.execute("SELECT id, first_seen FROM sightings WHERE first_seen IS NOT NULL").fetchall()
    conn.executemany(
        "UPDATE sightings SET first_seen_utc = ? WHERE id = ?",
        [(first_seen_utc(first_seen), row_id) for row_id, first_seen in rows],
    )
    # the earliest appearance of footage is the question investigators ask most: make it an index seek
    conn.execute("CREATE INDEX sightings_first_seen_utc ON sightings (first_seen_utc)")

    conn.execute(f"ALTER TABLE items ADD COLUMN content_box TEXT NOT NULL DEFAULT '{FULL_BOX_JSON}'")
    updates = []
    for item_id, record in conn.execute("SELECT id, record FROM items"):
        try:
            box = json.loads(record)["content_box"]
            updates.append((json.dumps(box, sort_keys=True, separators=(",", ":")), item_id))
        except (ValueError, KeyError, TypeError):
            continue  # an unreadable record keeps the default; get() reports it when asked
    conn.executemany("UPDATE items SET content_box = ? WHERE id = ?", updates)


SCHEMA_V3_CUSTODY = """
-- The custody log (provenance.archive.custody): who read which evidence file, when, with which
-- command, and the SHA-256 seen. Entries are hash-chained: entry_hash = SHA-256 of the canonical JSON
-- of the entry's fields with prev_hash, so an edited or deleted entry breaks the chain.
CREATE TABLE custody (
    seq INTEGER PRIMARY KEY CHECK (seq >= 1),   -- 1, 2, 3, ... without gaps
    at TEXT NOT NULL,                           -- ISO 8601 UTC
    examiner TEXT NOT NULL,
    command TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    path TEXT NOT NULL,
    case_id TEXT,
    prev_hash TEXT NOT NULL CHECK (length(prev_hash) = 64),
    entry_hash TEXT NOT NULL UNIQUE CHECK (length(entry_hash) = 64)
);
CREATE INDEX custody_sha256 ON custody (sha256, seq);
-- Append-only for ordinary use; the hash chain, not these triggers, is what detects a determined edit.
CREATE TRIGGER custody_no_update BEFORE UPDATE ON custody
BEGIN
    SELECT RAISE(ABORT, 'the custody log is append-only');
END;
CREATE TRIGGER custody_no_delete BEFORE DELETE ON custody
BEGIN
    SELECT RAISE(ABORT, 'the custody log is append-only');
END;
"""

SCHEMA_V4_FEATURES = """
-- Local features (provenance.vision.features): ORB keypoints of one frame a second of each item, for the
-- matches hashes cannot make (crops, picture-in-picture). points: K x 2 float32 (0..1);
-- descriptors: K x 32 bytes; aspect: width / height of the picture they were found in; grid: the
-- 8 x 8 x 5 float32 colour grid (provenance.vision.features.colour_grid).
CREATE TABLE features (
    item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    time REAL NOT NULL,
    aspect REAL NOT NULL,
    points BLOB NOT NULL,
    descriptors BLOB NOT NULL,
    grid BLOB,
    PRIMARY KEY (item_id, time)
) WITHOUT ROWID;
"""

SCHEMA_V5_HASH_ONLY = """
-- Hash-only items (kind 'hashes', imported from a PDQ / vPDQ hash list by provenance.ingest.interop): they
-- have no media, so no pHash; frames.phash becomes nullable. SQLite cannot drop a NOT NULL
-- constraint in place, so the table is rebuilt with the same rows.
CREATE TABLE frames_v5 (
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    sample INTEGER NOT NULL,
    time REAL NOT NULL,
    phash INTEGER,                    -- signed 64-bit pHash; NULL for hash-only items
    pdq BLOB NOT NULL CHECK (length(pdq) = 32),
    pdq_quality INTEGER NOT NULL,
    PRIMARY KEY (item_id, sample)
) WITHOUT ROWID;
INSERT INTO frames_v5 (item_id, sample, time, phash, pdq, pdq_quality)
    SELECT item_id, sample, time, phash, pdq, pdq_quality FROM frames;
DROP TABLE frames;
ALTER TABLE frames_v5 RENAME TO frames;
"""

SCHEMA_V6_ITEM_HASHES = """
-- Which hash algorithm, length and version made each item's frame hashes (Fingerprint.hash_algorithms,
-- from provenance.hashing's registry): one row per algorithm, named as the frames column it describes
-- ('phash', 'pdq'), at its place in the record's tuple. Lets an archive tell its hashes from those of a
-- changed hasher without parsing every record.
CREATE TABLE item_hashes (
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    position INTEGER NOT NULL CHECK (position >= 0),
    algorithm TEXT NOT NULL,
    bits INTEGER NOT NULL CHECK (bits > 0),
    version INTEGER NOT NULL CHECK (version >= 1),
    PRIMARY KEY (item_id, position),
    UNIQUE (item_id, algorithm)
) WITHOUT ROWID;
-- every earlier version wrote pHash 64 v1 and PDQ 256 v1; hash-only items (kind 'hashes', imported
-- from PDQ / vPDQ lists) have no pHash, only PDQ
INSERT INTO item_hashes (item_id, position, algorithm, bits, version)
    SELECT id, 0, 'phash', 64, 1 FROM items WHERE kind <> 'hashes';
INSERT INTO item_hashes (item_id, position, algorithm, bits, version)
    SELECT id, CASE kind WHEN 'hashes' THEN 0 ELSE 1 END, 'pdq', 256, 1 FROM items;
"""

def first_seen_columns(first_seen: str | None) -> tuple[str | None, str | None, str | None]:
    """``sightings.first_seen_utc``, ``first_seen_end`` and ``first_seen_flag`` of a sighting's ``first_seen``.

    The date is read as an interval (``provenance.dates.read_recorded``): ``first_seen_utc`` is its
    start (``first_seen_utc()``, as every version wrote it), ``first_seen_end`` its last second, in the
    same fixed-width UTC form. A date that cannot be read gets no interval and the reason in
    ``first_seen_flag`` ("is ambiguous (...)"); its text is kept as given all the same.
    """
    if first_seen is None or not first_seen.strip():
        return None, None, None
    try:
        interval = read_recorded(first_seen)
    except DateError as exc:
        return first_seen_utc(first_seen), None, exc.reason
    return (first_seen_utc(first_seen) or iso_utc(moment(interval.start)), iso_utc(moment(interval.end)), None)


def _v7_first_seen_intervals(conn: sqlite3.Connection) -> None:
    """Add ``sightings.first_seen_end`` and ``first_seen_flag`` and fill them; every stored date is kept.

    Earlier versions stored any text as a first-seen date (``03/2019``, ``24 Feb 2024``) and left
    what they could not read out of the earliest appearance, silently. A date is now an interval: its
    start stays in ``first_seen_utc``, its last second goes into ``first_seen_end``; a date that cannot
    be read keeps its text and gets the reason in ``first_seen_flag``, so it is shown flagged.
    """
    conn.execute("ALTER TABLE sightings ADD COLUMN first_seen_end TEXT")
    conn.execute("ALTER TABLE sightings ADD COLUMN first_seen_flag TEXT")
    rows = conn.execute("SELECT id, first_seen FROM sightings WHERE first_seen IS NOT NULL").fetchall()
    conn.executemany(
        "UPDATE sightings SET first_seen_utc = ?, first_seen_end = ?, first_seen_flag = ? WHERE id = ?",
        [(*first_seen_columns(first_seen), row_id) for row_id, first_seen in rows],
    )


SCHEMA_V8_PICTURES = """
-- Small pictures of each item (provenance.frames.pictures), to show beside a match: a JPEG (long side at
-- most 320 px) of each shot's keyframe (kind 'shot') and of one frame every 2 s (kind 'every'), at the
-- time of the frame it shows. Items archived before have none until ``provenance archive pictures``
-- gives them some; hash-only items never have any. A plain rowid table: its rows are a few KB each.
-- IF NOT EXISTS: an archive marked down to an earlier version by hand (tests do) keeps its table.
CREATE TABLE IF NOT EXISTS pictures (
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    time REAL NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('shot', 'every')),
    width INTEGER NOT NULL CHECK (width > 0),
    height INTEGER NOT NULL CHECK (height > 0),
    jpeg BLOB NOT NULL,
    UNIQUE (item_id, time)
);
"""


POST_COLUMNS = ("platform_raw", "chat", "chat_type", "chat_id", "message_id", "text", "forwarded_from", "record_id",
                "page_url", "recorded_from")


def _v9_posts(conn: sqlite3.Connection) -> None:
    """Add the sighting columns that say where it was posted and how it was learnt (``model.Sighting``).

    The platform as the source named it, a Telegram chat and message, a web archive's record and page.
    The sighting's identity takes in the chat, message and record, so one file posted in two messages is
    two sightings, and importing the same export or WARC twice adds none. A column already there (an
    archive marked down to an earlier version by hand, as tests do) is kept.
    """
    have = {row[1] for row in conn.execute("PRAGMA table_info(sightings)")}
    for column in POST_COLUMNS:
        if column not in have:
            conn.execute(f"ALTER TABLE sightings ADD COLUMN {column} TEXT")
    conn.execute("DROP INDEX IF EXISTS sightings_identity")
    conn.execute(
        "CREATE UNIQUE INDEX sightings_identity ON sightings (item_id, ifnull(source_url, ''), "
        "ifnull(platform, ''), ifnull(uploader, ''), ifnull(first_seen, ''), ifnull(label, ''), ifnull(title, ''), "
        "ifnull(video_id, ''), ifnull(file_name, ''), ifnull(chat_id, ''), ifnull(message_id, ''), "
        "ifnull(record_id, ''))")


def _v10_platforms(conn: sqlite3.Connection) -> None:
    """Normalise the platforms of the sightings stored before platform names were (``provenance.platforms``).

    A sighting stored as ``Youtube`` becomes ``youtube``, the word it had kept in ``platform_raw``;
    one of a platform outside the vocabulary (``Rumble``) keeps its word in ``platform_raw`` only,
    as a sighting made now does. Nothing is lost; a sighting that, normalised, is one already stored
    (the same file added again since, its platform normalised) is that one, and is dropped.
    """
    rows = conn.execute("SELECT id, platform, platform_raw FROM sightings WHERE platform IS NOT NULL").fetchall()
    for row_id, platform, raw in rows:
        word, given = normalise(platform)
        if word == platform:
            continue
        try:
            conn.execute("UPDATE sightings SET platform = ?, platform_raw = ? WHERE id = ?",
                         (word, raw if raw is not None else kept_raw(word, given), row_id))
        except sqlite3.IntegrityError:  # the sighting is stored already, as it now reads
            conn.execute("DELETE FROM sightings WHERE id = ?", (row_id,))


SCHEMA_V11_SOUNDTRACKS = """
-- The soundtrack fingerprint of each item (provenance.model.Soundtrack): Chromaprint's raw 32-bit values,
-- ``count`` of them as one BLOB of little-endian uint32; value i describes the sound from start + i *
-- item_duration seconds of the item's video time line. Only items whose soundtrack was fingerprinted
-- have a row: not items archived before this version, files without audio, nor hash-only items.
-- soundtrack_keys is the index over them (provenance.audio.align): the top KEY_BITS bits of each value
-- that carries evidence (not silence or hum), with the item and the value's position.
-- IF NOT EXISTS: an archive marked down to an earlier version by hand (tests do) keeps its tables.
CREATE TABLE IF NOT EXISTS soundtracks (
    item_id INTEGER PRIMARY KEY REFERENCES items (id) ON DELETE CASCADE,
    method TEXT NOT NULL,
    algorithm INTEGER NOT NULL,
    sample_rate INTEGER NOT NULL,
    item_duration REAL NOT NULL CHECK (item_duration > 0),
    count INTEGER NOT NULL CHECK (count >= 0),
    vals BLOB NOT NULL CHECK (length(vals) = 4 * count),
    start REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS soundtrack_keys (
    sound_key INTEGER NOT NULL,
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    position INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS soundtrack_keys_by_key ON soundtrack_keys (sound_key);
CREATE INDEX IF NOT EXISTS soundtrack_keys_by_item ON soundtrack_keys (item_id);
"""


def _v12_band_prints(conn: sqlite3.Connection) -> None:
    """Give each soundtrack row the band print of its sound (``provenance.audio.bands``): ``band_count``
    little-endian uint32 values every ``band_step`` seconds from ``start``, 0 where silence or hum.
    Rows stored before have none (``band_count`` 0, ``bands`` NULL): their items are compared by
    Chromaprint alone. Columns already there (an archive marked down by hand, as tests do) are kept."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(soundtracks)")}
    for name, kind in (("band_step", "REAL"), ("band_count", "INTEGER NOT NULL DEFAULT 0"), ("bands", "BLOB")):
        if name not in have:
            conn.execute(f"ALTER TABLE soundtracks ADD COLUMN {name} {kind}")


MIGRATIONS: list[tuple[int, Step]] = [
    (1, SCHEMA_V1),
    (2, _v2_first_seen_and_box),
    (3, SCHEMA_V3_CUSTODY),
    (4, SCHEMA_V4_FEATURES),
    (5, SCHEMA_V5_HASH_ONLY),
    (6, SCHEMA_V6_ITEM_HASHES),
    (7, _v7_first_seen_intervals),
    (8, SCHEMA_V8_PICTURES),
    (9, _v9_posts),
    (10, _v10_platforms),
    (11, SCHEMA_V11_SOUNDTRACKS),
    (12, _v12_band_prints),
]

LATEST_VERSION = MIGRATIONS[-1][0]

POSTGRES_FIRST_VERSION = 12
"""The schema version PostgreSQL archives are created at (``postgres.SCHEMA``); steps after it run on both stores."""


def split_sql(script: str) -> list[str]:
    """Split an SQL script into complete statements (semicolons inside strings/triggers respected)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in buffer.splitlines()
    ):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {buffer.strip()[:80]!r}")
    return statements


def user_version(conn: sqlite3.Connection | postgres.PostgresConnection) -> int:
    """The schema version recorded in the database: SQLite's header, PostgreSQL's ``meta``."""
    if isinstance(conn, postgres.PostgresConnection):
        return postgres.schema_version(conn)
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection | postgres.PostgresConnection, target: int = LATEST_VERSION, *,
            label: str = "archive") -> int:
    """Bring the database up to ``target`` and return the version it was at before.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Each step re-reads the version
    inside its write transaction, so two processes opening a fresh archive at once do not both
    apply a step. A database newer than this code knows raises ``ArchiveError``.
    """
    before = user_version(conn)
    if before > LATEST_VERSION:
        raise ArchiveError(
            f"{label} has archive schema version {before}, but this provenance only knows versions up to "
            f"{LATEST_VERSION}: upgrade provenance (pip install --upgrade provenance) to open it"
        )
    if isinstance(conn, postgres.PostgresConnection):
        # a PostgreSQL archive is created at the version of its first release (postgres.SCHEMA); later
        # versions add their steps for both stores
        if before < min(target, POSTGRES_FIRST_VERSION):
            raise ArchiveError(f"{label} has archive schema version {before}, older than any PostgreSQL archive "
                               f"(version {POSTGRES_FIRST_VERSION}): it was not made by provenance")
        return before
    for version, step in MIGRATIONS:
        if version > target:
            break
        if version <= before:
            continue
        with write_transaction(conn):
            if user_version(conn) >= version:  # another process got there first
                continue
            if isinstance(step, str):
                for statement in split_sql(step):
                    conn.execute(statement)
            else:
                step(conn)
            conn.execute(f"PRAGMA user_version = {int(version)}")
    return before


@contextmanager
def write_transaction(conn: sqlite3.Connection | postgres.PostgresConnection) -> Iterator[None]:
    """A write transaction: committed when the block ends, rolled back if it raises.

    It takes the write lock at the start (SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's advisory lock), so
    two writers queue instead of failing half-way. ``conn`` must be in autocommit mode
    (``isolation_level=None``).
    """
    if isinstance(conn, postgres.PostgresConnection):
        conn.begin_write()
    else:
        conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
