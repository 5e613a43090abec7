"""The archive's small pictures: made during ``archive add``, stored, migrated, and back-filled for old items.

Real media from ffmpeg's lavfi sources, real SQLite, the CLI through click's CliRunner.
"""

from __future__ import annotations

import json
import pickle
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import count_rows, run_ffmpeg

from provenance.archive import migrations
from provenance.archive.custody import custody_entries, verify_chain
from provenance.archive.store import ArchiveStore
from provenance.cli.app import cli
from provenance.fingerprinting import analyse
from provenance.frames.pictures import PICTURE_SPACING, picture_moments
from provenance.hashing import get_hasher, hamming_bytes
from provenance.ingest.add import ARCHIVE_FPS
from provenance.model import ArchivedPicture, SamplingParams
from provenance.vision.feature_image import FEATURE_FPS

PDQ = get_hasher("pdq")


def run(*args: str):
    """Invoke the CLI in-process."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """9 s at 640x360, 25 fps, H.264: 4.5 s of testsrc2 cut hard to 4.5 s of colour bars (two shots)."""
    out = tmp_path_factory.mktemp("pictures") / "cut.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=4.5",
               "-f", "lavfi", "-i", "smptehdbars=size=640x360:rate=25:duration=4.5",
               "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-t", "9",
               "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(out))
    return out


def added(archive: str | Path, *files: Path) -> list[str]:
    """``archive add`` FILES through the CLI; their SHA-256s."""
    result = run("archive", "add", "--archive", str(archive), "--json", *map(str, files))
    assert result.exit_code == 0, result.output
    return [f["sha256"] for f in json.loads(result.stdout)["files"]]


def stored_pictures(archive: str | Path, sha256: str) -> tuple[ArchivedPicture, ...]:
    with ArchiveStore.open(archive, create=False) as store:
        return store.pictures(sha256)


def as_schema_7(archive: Path) -> None:
    """Make the archive what an archive of schema 7 (before pictures) was: no pictures table."""
    with sqlite3.connect(archive, isolation_level=None) as conn:
        conn.execute("DROP TABLE pictures")
        conn.execute("PRAGMA user_version = 7")
    sqlite3.connect(archive).close()


def picture_pdq(picture: ArchivedPicture) -> np.ndarray:
    """The PDQ hash of a picture as the archive hashes a frame: grey, squashed to 64 x 64 by area."""
    import cv2

    bgr = cv2.imdecode(np.frombuffer(picture.jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert bgr is not None and bgr.shape == (picture.height, picture.width, 3)
    gray = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), (64, 64), interpolation=cv2.INTER_AREA)
    return PDQ.hash_frames(gray[None])[0][0]


def test_archive_add_keeps_a_picture_of_each_shot_and_every_two_seconds(archive_location: str,
                                                                        cut_clip: Path) -> None:
    archive = archive_location
    (sha,) = added(archive, cut_clip)
    with ArchiveStore.open(archive, create=False) as store:
        pictures = store.pictures(sha)
        fp = store.get(sha).fingerprint
        table = store.frame_table()
    assert len(fp.shots) >= 2  # the cut was found
    times = [p.time for p in pictures]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert all((p.width, p.height) == (320, 180) for p in pictures)  # 640 x 360 shrunk to 320 on the long side
    side = np.arange(int(fp.duration * FEATURE_FPS)) / FEATURE_FPS  # the side frames: two a second
    shots = {float(side[np.argmin(np.abs(side - s.keyframe_time))]) for s in fp.shots}
    every = {k * PICTURE_SPACING for k in range(5)}  # 0, 2, 4, 6, 8 s of a 9 s clip
    assert {p.time for p in pictures if p.kind == "shot"} == shots
    assert {p.time for p in pictures if p.kind == "every"} == every - shots  # a frame kept for both: once, "shot"
    assert set(times) == shots | every
    # each picture is the archived frame of its moment: its PDQ is within 30 bits of the stored one
    for picture in pictures:
        (row,) = np.flatnonzero(np.isclose(table.times, picture.time))
        assert hamming_bytes(picture_pdq(picture), table.pdq[row]) <= 30, picture.time


def test_a_still_gets_its_one_picture(archive_location: str, still_jpeg: Path) -> None:
    archive = archive_location
    (sha,) = added(archive, still_jpeg)
    (picture,) = stored_pictures(archive, sha)
    assert (picture.time, picture.kind, picture.width, picture.height) == (0.0, "shot", 320, 240)
    with ArchiveStore.open(archive, create=False) as store:
        stored = store.frame_table().pdq[0]
    assert hamming_bytes(picture_pdq(picture), stored) <= 30


def test_pictures_are_the_same_bytes_each_time_and_an_analysis_pickles_with_them(tmp_path: Path,
                                                                                 testsrc_clip: Path) -> None:
    (sha,) = added(tmp_path / "one.sqlite", testsrc_clip)
    (again,) = added(tmp_path / "two.sqlite", testsrc_clip)
    first, second = stored_pictures(tmp_path / "one.sqlite", sha), stored_pictures(tmp_path / "two.sqlite", again)
    assert first and first == second  # same times, kinds, sizes and JPEG bytes
    assert {(p.width, p.height) for p in first} == {(320, 240)}  # a 320 x 240 clip is kept at its size

    analysis = analyse(testsrc_clip, SamplingParams(fps=ARCHIVE_FPS), features="archive")
    assert tuple(analysis.pictures) == first
    assert pickle.loads(pickle.dumps(analysis)).pictures == first  # triage workers return analyses
    assert analyse(testsrc_clip, features="query").pictures == ()  # a query keeps none


def test_picture_moments_of_a_still_and_of_a_clip() -> None:
    times = np.arange(20) / 2.0  # 10 s of side frames
    moments = picture_moments(times, [3.125, 7.0])
    assert [(m.time, m.kind) for m in moments] == [(0.0, "every"), (2.0, "every"), (3.0, "shot"), (4.0, "every"),
                                                   (6.0, "every"), (7.0, "shot"), (8.0, "every")]
    assert [(m.frame, m.kind) for m in picture_moments(np.zeros(3), [0.0], still=True)] == [(0, "shot")]
    assert picture_moments(np.zeros(0), [1.0]) == ()


def test_removing_an_item_removes_its_pictures(archive_location: str, testsrc_clip: Path) -> None:
    archive = archive_location
    (sha,) = added(archive, testsrc_clip)
    assert count_rows(archive, "pictures") > 0
    assert run("archive", "remove", "--archive", str(archive), sha).exit_code == 0
    assert count_rows(archive, "pictures") == 0


def test_an_archive_of_schema_7_migrates_and_its_items_have_no_pictures(tmp_path: Path, testsrc_clip: Path) -> None:
    archive = tmp_path / "old.sqlite"
    (sha,) = added(archive, testsrc_clip)
    as_schema_7(archive)
    with ArchiveStore.open(archive, create=False) as store:
        assert store.stats().schema_version == migrations.LATEST_VERSION == 12
        assert store.pictures(sha) == () and store.picture_count(sha) == 0
        assert store.get(sha) is not None and len(store.frame_table()) > 0
    with sqlite3.connect(archive) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_backfill_gives_old_items_their_pictures_and_says_why_others_get_none(
        tmp_path: Path, testsrc_clip: Path, mandelbrot_clip: Path, still_jpeg: Path) -> None:
    folder = tmp_path / "evidence"
    folder.mkdir()
    present, moved, changed, still = (folder / "present.mp4", folder / "moved.mp4", folder / "changed.mp4",
                                      folder / "still.jpg")
    shutil.copy(testsrc_clip, present)
    shutil.copy(mandelbrot_clip, moved)
    shutil.copy(testsrc_clip, changed)
    with changed.open("ab") as f:
        f.write(b"\x00")  # a byte more than present.mp4: another item
    shutil.copy(still_jpeg, still)
    archive = tmp_path / "old.sqlite"
    names = ("present", "moved", "changed", "still")
    shas = dict(zip(names, added(archive, present, moved, changed, still), strict=True))
    assert len(set(shas.values())) == 4
    expected = {name: stored_pictures(archive, sha) for name, sha in shas.items()}
    listing = tmp_path / "bank.pdq.txt"
    assert run("export", str(testsrc_clip), "--format", "pdq", "--out", str(listing)).exit_code == 0
    assert run("archive", "import-hashes", "--archive", str(archive), "--format", "pdq", str(listing)).exit_code == 0
    as_schema_7(archive)
    moved.rename(tmp_path / "elsewhere.mp4")
    changed.unlink()
    shutil.copy(still_jpeg, changed)  # another file at the recorded path
    files_before = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir())
    with ArchiveStore.open(archive) as store:
        custody_before = len(custody_entries(store))

    result = run("archive", "pictures", "--archive", str(archive), "--json", "--examiner", "desk 4")
    assert result.exit_code == 0, result.output
    report = {item["sha256"]: item for item in json.loads(result.stdout)["items"]}
    by_name = {name: report[sha] for name, sha in shas.items()}
    assert by_name["present"]["outcome"] == "added"
    assert by_name["present"]["message"] == f"added {len(expected['present'])} pictures"
    assert by_name["still"]["message"] == "added 1 pictures"
    assert by_name["moved"] == {**by_name["moved"], "outcome": "moved", "pictures": 0,
                                "message": f"file no longer at {moved}"}
    assert (by_name["changed"]["outcome"], by_name["changed"]["message"]) == ("changed",
                                                                               "file changed: SHA-256 differs")
    (hash_only,) = [item for sha, item in report.items() if sha not in shas.values()]
    assert (hash_only["outcome"], hash_only["message"]) == ("hash-only", "no pictures for hash-only items")

    with ArchiveStore.open(archive, create=False) as store:
        # the same pictures, byte for byte, as archive add made
        assert store.pictures(shas["present"]) == expected["present"]
        assert store.pictures(shas["still"]) == expected["still"]
        assert store.pictures(shas["moved"]) == store.pictures(shas["changed"]) == ()
        entries = custody_entries(store)[custody_before:]
        assert verify_chain(store).ok
    # every file read is logged, with the SHA-256 seen: the two given pictures and the changed file
    assert {(e.command, e.examiner) for e in entries} == {("provenance archive pictures", "desk 4")}
    assert sorted((Path(e.path).name, e.sha256 == shas.get(Path(e.path).stem)) for e in entries) == [
        ("changed.mp4", False), ("present.mp4", True), ("still.jpg", True)]
    assert sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()) == files_before

    again = run("archive", "pictures", "--archive", str(archive))
    assert again.exit_code == 0
    assert f"{shas['present'][:16]}  present.mp4: has {len(expected['present'])} pictures already" in again.stdout
    assert "0 of 5 item(s) given pictures" in again.stdout


def test_backfill_of_a_missing_archive_is_an_archive_error(tmp_path: Path) -> None:
    result = run("archive", "pictures", "--archive", str(tmp_path / "none.sqlite"))
    assert result.exit_code == 5 and "no archive at" in result.output
    assert "Traceback" not in result.output
