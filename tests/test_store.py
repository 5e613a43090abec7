"""The SQLite archive, on real files: round trips, idempotency, crashes, concurrency, migrations."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import count_rows, plain_query

from provenance.archive import migrations, open_archive
from provenance.archive.store import ArchiveStore, default_archive_path
from provenance.codec import fingerprint_to_json, to_jsonable
from provenance.errors import ArchiveError, UsageError
from provenance.model import (
    FULL_BOX,
    ContentBox,
    FileIdentity,
    Fingerprint,
    FrameHash,
    HashAlgorithm,
    Metadata,
    SamplingParams,
    Shot,
    Sighting,
    StreamInfo,
)

ROOT = Path(__file__).resolve().parent.parent
WHEN = "2024-05-01T12:00:00Z"


def make_fp(seed: int, *, frames: int = 4, kind: str = "video", sha256: str | None = None,
            box: ContentBox = FULL_BOX, phashes: tuple[str, ...] = ()) -> Fingerprint:
    """A fingerprint with fake but well-formed hashes (these tests are about storage, not media)."""
    rng = random.Random(seed)
    sha = sha256 or hashlib.sha256(f"item {seed}".encode()).hexdigest()
    name = f"clip-{seed}.{'jpg' if kind == 'still' else 'mp4'}"
    count = 1 if kind == "still" else frames
    frame_hashes = tuple(
        FrameHash(index=k, time=k * 0.5,
                  phash=phashes[k] if k < len(phashes) else f"{rng.getrandbits(64):016x}",
                  pdq=f"{rng.getrandbits(256):064x}", pdq_quality=rng.randint(0, 100))
        for k in range(count)
    )
    duration = 0.0 if kind == "still" else count * 0.5
    stream = StreamInfo(0, "video", "h264", None, "High", 320, 240, "1:1", "4:3", 25.0, 25.0, "yuv420p", None,
                        None, None, None, None, duration, None, None, None, None, "VideoHandler", "und", None)
    metadata = Metadata(kind, "mov,mp4,m4a,3gp,3g2,mj2", None, "isom", ("isom", "avc1"), duration, 1000, WHEN,
                        "UTC per spec", "Lavf60", None, None, None, None, None, ("VideoHandler",), (stream,),
                        (("encoder", "Lavf60"),), None, "{}")
    identity = FileIdentity(path=f"/media/{name}", name=name, size=1000 + seed, sha256=sha, sha1="1" * 40,
                            md5="2" * 32, modified=WHEN, changed=WHEN, accessed=WHEN)
    shots = (Shot(0, 0.0, duration, 0.0, 0),)
    return Fingerprint(1, "0.1.0", identity, metadata, SamplingParams(), duration, box, frame_hashes, shots,
                       ("a warning",))


@pytest.fixture
def archive_path(archive_location: str) -> str:
    """A new archive on each store: a SQLite path in a folder that does not exist yet, or an empty
    PostgreSQL database."""
    return archive_location


def count(location: str | Path, table: str) -> int:
    """Rows of a table, read with a plain connection (not through the store)."""
    return count_rows(location, table)


# -- round trips -------------------------------------------------------------------------------


def test_add_then_get_returns_the_exact_fingerprint(archive_path: str) -> None:
    fp = make_fp(1, box=ContentBox(0.0, 0.125, 1.0, 0.875))
    sighting = Sighting(source_url="https://t.me/x/1", platform="telegram", uploader="x",
                        first_seen="2020-10-05", label="case 7", title="fire", video_id="1",
                        file_name="a.mp4", added_at=WHEN)
    with ArchiveStore.open(archive_path) as store:
        result = store.add(fp, [sighting])
        assert (result.sha256, result.created, result.sightings_added) == (fp.identity.sha256, True, 1)
        item = store.get(fp.identity.sha256)
    assert archive_path.startswith("postgresql://") or Path(archive_path).exists()  # the folder was created
    assert item is not None
    assert item.fingerprint == fp
    assert item.sightings == (sighting,)
    assert (item.sha256, item.name, item.kind, item.size, item.duration) == (
        fp.identity.sha256, fp.identity.name, "video", fp.identity.size, fp.duration)
    assert item.added_at.endswith("Z")


def test_get_by_prefix_unknown_ambiguous_and_bad(archive_path: str) -> None:
    with ArchiveStore.open(archive_path) as store:
        store.add(make_fp(1, sha256="ab" * 32))
        store.add(make_fp(2, sha256="ab" + "cd" * 31))
        assert store.get("ABAB").sha256 == "ab" * 32  # type: ignore[union-attr]
        assert store.get("abcd").sha256 == "ab" + "cd" * 31  # type: ignore[union-attr]
        assert store.get("ff") is None
        with pytest.raises(ArchiveError, match="more than one archived item"):
            store.get("ab")
        with pytest.raises(UsageError, match="hex digits"):
            store.get("not-a-hash")
        with pytest.raises(ArchiveError, match="more than one"):
            store.remove("a")


def test_adding_the_same_file_again_is_idempotent(archive_path: str) -> None:
    fp = make_fp(3)
    sighting = Sighting(source_url="https://example.org/v/3", first_seen="2021-01-01")
    with ArchiveStore.open(archive_path) as store:
        store.add(fp, [sighting, Sighting()])
        generation = store.generation()
        again = store.add(fp, [sighting, Sighting(), Sighting(added_at="2030-01-01T00:00:00Z")])
        assert (again.created, again.sightings_added) == (False, 0)
        assert store.generation() == generation  # no item added: an index built before stays current
        assert len(store.items()) == 1
        assert len(store.sightings(fp.identity.sha256)) == 2
    assert count(archive_path, "frames") == len(fp.frames)


def test_same_file_seen_twice_is_one_item_with_two_sightings_oldest_first(archive_path: str) -> None:
    fp = make_fp(4)
    later = Sighting(source_url="https://b.example/2", first_seen="2020-10-04T22:00:00Z")
    # 01:00 at +05:00 is 20:00 UTC the day before: earlier, although its text sorts later
    earlier = Sighting(source_url="https://a.example/1", first_seen="2020-10-05T01:00:00+05:00")
    undated = Sighting(source_url="https://c.example/3")
    with ArchiveStore.open(archive_path) as store:
        assert store.add(fp, [later]).created
        second = store.add(fp, [undated, earlier])
        assert (second.created, second.sightings_added) == (False, 2)
        urls = [s.source_url for s in store.sightings(fp.identity.sha256[:10])]
        assert urls == ["https://a.example/1", "https://b.example/2", "https://c.example/3"]
        (summary,) = store.items()
        assert summary.sightings == 3 and summary.earliest_first_seen == "2020-10-05T01:00:00+05:00"
        assert store.sightings("0" * 64) == ()


def test_items_remove_and_cascade(archive_path: str) -> None:
    a, b = make_fp(5, frames=6), make_fp(6, kind="still")
    with ArchiveStore.open(archive_path) as store:
        store.add(a, [Sighting(first_seen="2019-03-01")])
        store.add(b, [Sighting(label="x"), Sighting(label="y")])
        listing = store.items()
        assert [(i.sha256, i.kind, i.frames, i.sightings) for i in listing] == [
            (a.identity.sha256, "video", 6, 1), (b.identity.sha256, "still", 1, 2)]
        assert listing[0].earliest_first_seen == "2019-03-01" and listing[1].earliest_first_seen is None
        generation = store.generation()
        assert store.remove(b.identity.sha256[:12]) is True
        assert store.generation() == generation + 1
        assert store.remove(b.identity.sha256) is False
        assert store.get(b.identity.sha256) is None
    assert count(archive_path, "frames") == 6
    assert count(archive_path, "sightings") == 1


def test_stats(archive_path: str) -> None:
    with ArchiveStore.open(archive_path) as store:
        empty = store.stats()
        assert (empty.items, empty.frames, empty.earliest_first_seen) == (0, 0, None)
        dated = [Sighting(first_seen="2018-06-01"), Sighting(first_seen="2022-01-01T10:00Z")]
        store.add(make_fp(7, frames=4), dated)
        store.add(make_fp(8, frames=2), [Sighting(first_seen="not a date")])
        store.add(make_fp(9, kind="still"))
        stats = store.stats()
    assert (stats.items, stats.videos, stats.stills, stats.frames, stats.sightings) == (3, 2, 1, 7, 3)
    assert stats.total_duration == pytest.approx(3.0)
    assert stats.schema_version == migrations.LATEST_VERSION
    assert stats.file_size_bytes > 0
    assert (stats.earliest_first_seen, stats.latest_first_seen) == ("2018-06-01", "2022-01-01T10:00Z")


def test_frame_table_holds_every_frame_as_numpy(archive_path: str) -> None:
    high = ("ffffffffffffffff", "8000000000000000", "0000000000000001", "7fffffffffffffff")
    a = make_fp(10, frames=4, phashes=high, box=ContentBox(0.1, 0.0, 0.9, 1.0))
    b = make_fp(11, frames=3)
    with ArchiveStore.open(archive_path) as store:
        assert len(store.frame_table()) == 0
        assert store.frame_table().pdq.shape == (0, 32)
        store.add(a)
        store.add(b)
        table = store.frame_table()
        assert table.generation == store.generation() == 2
        assert table.archive_id == store.archive_id()
    assert table.item_ids.dtype == np.int64 and table.times.dtype == np.float64
    assert table.pdq.dtype == np.uint8 and table.pdq.shape == (7, 32)
    assert table.phash.dtype == np.uint64 and table.quality.dtype == np.int16
    frames = a.frames + b.frames
    assert table.phash.tolist() == [int(f.phash, 16) for f in frames]
    assert [bytes(row).hex() for row in table.pdq] == [f.pdq for f in frames]
    assert table.times.tolist() == [f.time for f in frames]
    assert table.quality.tolist() == [f.pdq_quality for f in frames]
    assert table.samples.tolist() == [0, 1, 2, 3, 0, 1, 2]
    refs = [table.items[int(i)] for i in table.item_ids]
    assert [r.sha256 for r in refs] == [a.identity.sha256] * 4 + [b.identity.sha256] * 3
    first = refs[0]
    assert (first.name, first.duration, first.kind, first.box_full) == (a.identity.name, 2.0, "video", False)
    assert first.content_box == ContentBox(0.1, 0.0, 0.9, 1.0) and refs[-1].box_full
    assert not table.pdq.flags.writeable


def test_malformed_hash_is_refused_and_nothing_is_written(archive_path: str) -> None:
    good = make_fp(12)
    bad_frame = FrameHash(9, 4.5, "xyz", "00" * 32, 50)
    bad = Fingerprint(**{**good.__dict__, "frames": (*good.frames, bad_frame)})
    with ArchiveStore.open(archive_path) as store:
        with pytest.raises(ArchiveError, match=r"frame 9 at 4\.500 s has a malformed hash"):
            store.add(bad, [Sighting(label="x")])
        assert store.items() == [] and store.generation() == 0
    assert count(archive_path, "frames") == 0 and count(archive_path, "sightings") == 0


def test_generation_and_archive_id_persist(archive_path: str) -> None:
    with open_archive(archive_path) as store:
        archive_id = store.archive_id()
        store.add(make_fp(13))
        store.add(make_fp(14))
        store.remove(make_fp(13).identity.sha256)
    with open_archive(archive_path, create=False) as store:
        assert store.generation() == 3
        assert store.archive_id() == archive_id and len(archive_id) == 32


def test_archive_is_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    with ArchiveStore.open(tmp_path / "archive.sqlite") as store:
        conn = store._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 30_000
        assert conn.execute("PRAGMA application_id").fetchone()[0] == migrations.APPLICATION_ID


# -- opening -----------------------------------------------------------------------------------


def test_missing_archive_without_create(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="no archive at"):
        ArchiveStore.open(tmp_path / "absent.sqlite", create=False)
    assert not (tmp_path / "absent.sqlite").exists()


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("these are my notes, not a database\n" * 40)
    with pytest.raises(ArchiveError, match="is not a provenance archive"):
        ArchiveStore.open(path)
    assert path.read_text().startswith("these are my notes")


def test_another_programs_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE contacts (name TEXT)")
    with pytest.raises(ArchiveError, match="another program"):
        ArchiveStore.open(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0  # left untouched


def test_a_newer_schema_asks_to_upgrade(archive_path: str) -> None:
    with ArchiveStore.open(archive_path) as store:
        store.add(make_fp(15))
    newer = migrations.LATEST_VERSION + 1
    plain_query(archive_path, f"UPDATE meta SET value = '{newer}' WHERE key = 'schema_version'"
                if archive_path.startswith("postgresql://") else f"PRAGMA user_version = {newer}")
    with pytest.raises(ArchiveError, match=r"upgrade provenance"):
        ArchiveStore.open(archive_path)


def test_migration_from_version_1_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    fp = make_fp(16, frames=3, box=ContentBox(0.0, 0.1, 1.0, 0.9))
    conn = sqlite3.connect(path, isolation_level=None)
    migrations.migrate(conn, target=1)
    assert migrations.user_version(conn) == 1
    conn.execute(
        "INSERT INTO items (sha256, name, kind, size, duration, added_at, record) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (fp.identity.sha256, fp.identity.name, "video", fp.identity.size, fp.duration, WHEN,
         fingerprint_to_json(fp)),
    )
    for f in fp.frames:
        signed = int(f.phash, 16) - (1 << 64) if int(f.phash, 16) >= 1 << 63 else int(f.phash, 16)
        conn.execute("INSERT INTO frames VALUES (1, ?, ?, ?, ?, ?)",
                     (f.index, f.time, signed, bytes.fromhex(f.pdq), f.pdq_quality))
    dated = [("u1", "2020-10-05T01:00:00+05:00"), ("u2", "2020-10-04T22:00:00Z"), ("u3", None)]
    for url, first_seen in dated:
        conn.execute("INSERT INTO sightings (item_id, source_url, first_seen, added_at) VALUES (1, ?, ?, ?)",
                     (url, first_seen, WHEN))
    conn.execute("UPDATE meta SET value = 1 WHERE key = 'generation'")
    conn.close()

    with ArchiveStore.open(path) as store:
        stats = store.stats()
        item = store.get(fp.identity.sha256)
        table = store.frame_table()
        assert store.generation() == 1
    assert stats.schema_version == migrations.LATEST_VERSION == max(v for v, _ in migrations.MIGRATIONS)
    assert (stats.items, stats.frames, stats.sightings) == (1, 3, 3)
    assert item is not None and item.fingerprint == fp
    assert [s.source_url for s in item.sightings] == ["u1", "u2", "u3"]  # ordered in UTC by the new column
    assert table.items[1].content_box == fp.content_box  # back-filled from the stored record
    assert table.phash.tolist() == [int(f.phash, 16) for f in fp.frames]
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def hash_only(fp: Fingerprint) -> Fingerprint:
    """The fingerprint as a hash-only item (kind 'hashes', as provenance.ingest.interop makes): no pHash."""
    metadata = Metadata(**{**fp.metadata.__dict__, "kind": "hashes", "streams": ()})
    frames = tuple(FrameHash(f.index, f.time, "", f.pdq, f.pdq_quality) for f in fp.frames)
    return Fingerprint(**{**fp.__dict__, "metadata": metadata, "frames": frames, "shots": (),
                          "hash_algorithms": (HashAlgorithm("pdq", 256, 1),)})


def old_record(fp: Fingerprint) -> str:
    """The record as versions before hash algorithms were named wrote it: no "hash_algorithms" key."""
    data = to_jsonable(fp)
    assert isinstance(data, dict)
    del data["hash_algorithms"]
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def item_hash_rows(location: str | Path) -> list[tuple[int, int, str, int, int]]:
    """Every row of item_hashes, read with a plain connection."""
    return plain_query(location, "SELECT item_id, position, algorithm, bits, version FROM item_hashes "
                                 "ORDER BY item_id, position")


def test_migration_from_version_5_names_the_hash_algorithms(tmp_path: Path) -> None:
    path = tmp_path / "v5.sqlite"
    video, hashes = make_fp(17, frames=3), hash_only(make_fp(18, frames=2))
    conn = sqlite3.connect(path, isolation_level=None)
    migrations.migrate(conn, target=5)  # the last version before item_hashes
    assert migrations.user_version(conn) == 5
    for fp in (video, hashes):
        item_id = conn.execute(
            "INSERT INTO items (sha256, name, kind, size, duration, added_at, record) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (fp.identity.sha256, fp.identity.name, fp.metadata.kind, fp.identity.size, fp.duration, WHEN,
             old_record(fp)),
        ).lastrowid
        for f in fp.frames:
            value = int(f.phash, 16) if f.phash else None
            signed = value - (1 << 64) if value is not None and value >= 1 << 63 else value
            conn.execute("INSERT INTO frames VALUES (?, ?, ?, ?, ?, ?)",
                         (item_id, f.index, f.time, signed, bytes.fromhex(f.pdq), f.pdq_quality))
    conn.close()

    with ArchiveStore.open(path) as store:
        assert store.stats().schema_version == migrations.LATEST_VERSION
        got_video, got_hashes = store.get(video.identity.sha256), store.get(hashes.identity.sha256)
        assert store.frame_table().phash.tolist() == [int(f.phash, 16) for f in video.frames] + [0, 0]
    assert item_hash_rows(path) == [(1, 0, "phash", 64, 1), (1, 1, "pdq", 256, 1), (2, 0, "pdq", 256, 1)]
    assert got_video is not None and got_hashes is not None
    assert got_video.fingerprint == video  # the old record decodes with the default: pHash 64 v1, PDQ 256 v1
    assert got_video.fingerprint.hash_algorithms == (HashAlgorithm("phash", 64, 1), HashAlgorithm("pdq", 256, 1))
    assert got_hashes.fingerprint == hashes  # the table says PDQ only, whatever the old record defaults to
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_added_items_store_their_hash_algorithms(archive_path: str) -> None:
    newer = HashAlgorithm("pdq", 256, 2)  # as a changed PDQ hasher would declare itself
    video = Fingerprint(**{**make_fp(30).__dict__, "hash_algorithms": (HashAlgorithm("phash", 64, 1), newer)})
    hashes = hash_only(make_fp(31))
    with ArchiveStore.open(archive_path) as store:
        store.add(video)
        store.add(hashes)
        store.add(video, [Sighting(label="again")])  # known: nothing more is written
        got_video, got_hashes = store.get(video.identity.sha256), store.get(hashes.identity.sha256)
        assert got_video is not None and got_hashes is not None
        assert got_video.fingerprint == video and got_video.fingerprint.hash_algorithms[1] == newer
        assert got_hashes.fingerprint == hashes
        assert item_hash_rows(archive_path) == [(1, 0, "phash", 64, 1), (1, 1, "pdq", 256, 2),
                                                (2, 0, "pdq", 256, 1)]
        store.remove(video.identity.sha256)
    assert item_hash_rows(archive_path) == [(2, 0, "pdq", 256, 1)]  # removed with their item


@pytest.mark.parametrize(
    ("algorithms", "frames_phash", "message"),
    [
        ((HashAlgorithm("phash", 64, 1), HashAlgorithm("pdq", 128, 1)), True, "not pdq of 128 bits"),
        ((HashAlgorithm("dhash", 64, 1), HashAlgorithm("pdq", 256, 1)), True, "not dhash"),
        ((HashAlgorithm("phash", 64, 0), HashAlgorithm("pdq", 256, 1)), True, "version 0"),
        ((HashAlgorithm("phash", 64, 1),), True, "has PDQ hashes"),
        ((HashAlgorithm("pdq", 256, 1), HashAlgorithm("pdq", 256, 1)), False, "each algorithm once"),
        ((HashAlgorithm("pdq", 256, 1),), True, "frame 0 at 0.000 s has a pHash"),
        ((HashAlgorithm("phash", 64, 1), HashAlgorithm("pdq", 256, 1)), False, "frame 0 at 0.000 s has no pHash"),
    ],
)
def test_hash_algorithms_the_archive_cannot_hold_are_refused(
        archive_path: str, algorithms: tuple[HashAlgorithm, ...], frames_phash: bool, message: str) -> None:
    fp = make_fp(32) if frames_phash else hash_only(make_fp(32))
    bad = Fingerprint(**{**fp.__dict__, "hash_algorithms": algorithms})
    with ArchiveStore.open(archive_path) as store:
        with pytest.raises(ArchiveError, match=message):
            store.add(bad, [Sighting(label="x")])
        assert store.items() == [] and store.generation() == 0
    assert count(archive_path, "frames") == 0 and count(archive_path, "item_hashes") == 0


def test_first_seen_normalisation() -> None:
    f = migrations.first_seen_utc
    assert f("2020-10-05") == "2020-10-05T00:00:00.000000Z"
    assert f("20201005") == "2020-10-05T00:00:00.000000Z"
    assert f("2020-10-05T01:00:00+05:00") == "2020-10-04T20:00:00.000000Z"
    assert f("2020-10-05T01:00:00") == "2020-10-05T01:00:00.000000Z"
    assert f("2020") == "2020-01-01T00:00:00.000000Z" and f("2020-10") == "2020-10-01T00:00:00.000000Z"
    assert f("last summer") is None and f(None) is None


def test_default_archive_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROVENANCE_ARCHIVE", str(tmp_path / "mine.sqlite"))
    assert default_archive_path() == tmp_path / "mine.sqlite"
    monkeypatch.delenv("PROVENANCE_ARCHIVE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_archive_path() == tmp_path / "data" / "provenance" / "archive.sqlite"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_archive_path() == tmp_path / "home" / ".local" / "share" / "provenance" / "archive.sqlite"


# -- crashes and concurrency (real child processes) --------------------------------------------

STALLING_CHILD = """
import pathlib, sys, time
from provenance.archive.store import ArchiveStore
from provenance.model import Sighting
from provenance.codec import fingerprint_from_json

archive, fp_file, ready = sys.argv[1:4]
fp = fingerprint_from_json(pathlib.Path(fp_file).read_text())
original = ArchiveStore._insert_sightings

def stall(self, item_id, sightings):
    # item, frames and sightings are written; the COMMIT has not happened yet
    added = original(self, item_id, sightings)
    pathlib.Path(ready).write_text("in transaction")
    time.sleep(120)
    return added

ArchiveStore._insert_sightings = stall
with ArchiveStore.open(archive) as store:
    store.add(fp, [Sighting(source_url="https://example.org/killed")])
"""

ADDING_CHILD = """
import pathlib, sys, time
from provenance.archive.store import ArchiveStore
from provenance.model import Sighting
from provenance.codec import fingerprint_from_json

archive, fp_lines, ready, go, me = sys.argv[1:6]
fps = [fingerprint_from_json(line) for line in pathlib.Path(fp_lines).read_text().splitlines()]
pathlib.Path(ready).write_text("ready")
while not pathlib.Path(go).exists():
    time.sleep(0.002)
with ArchiveStore.open(archive) as store:
    for fp in fps:
        store.add(fp, [Sighting(label=me)])
"""


def child_env() -> dict[str, str]:
    """The environment for a child Python that imports this checkout of provenance."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def wait_for(path: Path, proc: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    """Wait until the child creates ``path``; fail if it dies or takes too long."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"child exited early: {proc.stderr.read().decode() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"child never reached {path.name}")
        time.sleep(0.01)


@pytest.mark.slow
def test_kill_9_inside_the_transaction_leaves_no_partial_item(tmp_path: Path) -> None:
    archive = tmp_path / "archive.sqlite"
    with ArchiveStore.open(archive) as store:
        store.add(make_fp(20), [Sighting(label="survivor")])
    # enough frames that SQLite spills uncommitted pages into the WAL before COMMIT: the hard case
    victim = make_fp(21, frames=20_000)
    fp_file = tmp_path / "victim.json"
    fp_file.write_text(fingerprint_to_json(victim))
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", STALLING_CHILD, str(archive), str(fp_file), str(ready)],
                            env=child_env(), stderr=subprocess.PIPE)
    try:
        wait_for(ready, proc)
        assert Path(f"{archive}-wal").stat().st_size > 1_000_000  # uncommitted pages are on disk
        with ArchiveStore.open(archive) as reader:  # readers are not blocked by the open write
            assert reader.get(victim.identity.sha256) is None
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    with ArchiveStore.open(archive) as store:
        assert store.get(victim.identity.sha256) is None
        assert [i.name for i in store.items()] == [make_fp(20).identity.name]
        assert store.stats().frames == len(make_fp(20).frames)
        assert store.generation() == 1
        assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.add(victim).created  # and the archive still takes writes
    assert count(archive, "sightings") == 1


def test_two_processes_creating_and_adding_at_once(tmp_path: Path) -> None:
    archive = tmp_path / "archive.sqlite"  # not there yet: both processes race to create it too
    shared = make_fp(99)
    go = tmp_path / "go"
    procs, readies = [], []
    for n in range(2):
        fps = [make_fp(100 + 20 * n + k, frames=30) for k in range(20)] + [shared]
        lines = tmp_path / f"fps-{n}.jsonl"
        lines.write_text("\n".join(fingerprint_to_json(fp) for fp in fps))
        ready = tmp_path / f"ready-{n}"
        readies.append(ready)
        procs.append(subprocess.Popen(
            [sys.executable, "-c", ADDING_CHILD, str(archive), str(lines), str(ready), str(go), f"proc-{n}"],
            env=child_env(), stderr=subprocess.PIPE))
    try:
        for ready, proc in zip(readies, procs, strict=True):
            wait_for(ready, proc)
        go.write_text("go")
        for proc in procs:
            assert proc.wait(timeout=60) == 0, proc.stderr.read().decode() if proc.stderr else ""
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stderr:
                proc.stderr.close()
    with ArchiveStore.open(archive) as store:
        items = store.items()
        assert len(items) == 41
        assert store.stats().frames == 40 * 30 + len(shared.frames)
        assert store.generation() == 41
        labels = sorted(s.label or "" for s in store.sightings(shared.identity.sha256))
        assert labels == ["proc-0", "proc-1"]
    expected = {make_fp(100 + k).identity.sha256 for k in range(40)} | {shared.identity.sha256}
    assert {i.sha256 for i in items} == expected


def test_record_column_is_canonical_json(archive_path: str) -> None:
    fp = make_fp(30)
    with ArchiveStore.open(archive_path) as store:
        store.add(fp)
    ((record,),) = plain_query(archive_path, "SELECT record FROM items")
    assert record == fingerprint_to_json(fp)
    assert json.loads(record)["identity"]["sha256"] == fp.identity.sha256
