"""The ``archive`` commands and ``check --archive`` through the CLI, on real media, on both stores (SQLite and
a real PostgreSQL server)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import run_ffmpeg

from provenance.cli.app import cli


def run(*args: str, env: dict[str, str] | None = None):
    """Invoke the CLI in-process."""
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.fixture()
def downloads(tmp_path: Path, mandelbrot_clip: Path, testsrc_clip: Path) -> Path:
    """A download folder: a clip with a yt-dlp sidecar, another clip, and a corrupt file."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    shutil.copy(mandelbrot_clip, folder / "Strike on the bridge [abc123].mp4")
    (folder / "Strike on the bridge [abc123].info.json").write_text(json.dumps({
        "id": "abc123", "title": "Strike on the bridge", "webpage_url": "https://www.youtube.com/watch?v=abc123",
        "extractor": "youtube", "extractor_key": "Youtube", "uploader": "Some Channel", "upload_date": "20200417",
    }))
    shutil.copy(testsrc_clip, folder / "second.mp4")
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    return folder


def test_add_list_show_stats_remove(archive_location: str, downloads: Path) -> None:
    archive = archive_location
    clip = downloads / "Strike on the bridge [abc123].mp4"
    result = run("archive", "add", "--archive", archive, str(clip), str(downloads / "broken.mp4"),
                 str(downloads / "second.mp4"))
    assert result.exit_code == 4  # one file failed; the others were added
    assert "FAILED" in result.stdout and "2 of 3 file(s)" in result.stdout

    listing = json.loads(run("archive", "list", "--archive", archive, "--json").stdout)
    assert len(listing) == 2
    sha = next(it["sha256"] for it in listing if it["name"] == clip.name)

    shown = json.loads(run("archive", "show", "--archive", archive, "--json", sha[:10]).stdout)
    (sighting,) = shown["sightings"]
    assert sighting["source_url"] == "https://www.youtube.com/watch?v=abc123"
    assert sighting["first_seen"].startswith("2020-04-17")
    assert sighting["uploader"] == "Some Channel" and sighting["video_id"] == "abc123"

    # the same file seen again elsewhere: one item, two sightings
    again = run("archive", "add", "--archive", archive, "--platform", "telegram", "--first-seen", "2021-01-02",
                "--source-url", "https://t.me/chan/9", str(clip))
    assert again.exit_code == 0 and "known" in again.stdout
    shown = json.loads(run("archive", "show", "--archive", archive, "--json", sha).stdout)
    assert len(shown["sightings"]) == 2  # the sidecar (read again, not duplicated) and the new one
    assert len(json.loads(run("archive", "list", "--archive", archive, "--json").stdout)) == 2

    stats = json.loads(run("archive", "stats", "--archive", archive, "--json").stdout)
    assert stats["items"] == 2 and stats["videos"] == 2

    assert run("archive", "remove", "--archive", archive, sha).exit_code == 0
    assert len(json.loads(run("archive", "list", "--archive", archive, "--json").stdout)) == 1
    missing = run("archive", "show", "--archive", archive, sha)
    assert missing.exit_code == 2


def test_archive_from_environment_and_check_matches(archive_location: str, downloads: Path,
                                                    mandelbrot_clip: Path) -> None:
    archive = archive_location
    env = {"PROVENANCE_ARCHIVE": archive}
    assert run("archive", "add", str(downloads / "Strike on the bridge [abc123].mp4"), env=env).exit_code == 0
    result = run("check", "--json", str(mandelbrot_clip), env=env)
    record = json.loads(result.stdout)
    assert record["archive"] == archive
    (match,) = record["matches"]
    assert match["verdict"] == "identical" and match["score"] == 1.0
    assert "2020-04-17" in record["earliest_appearance"]["statement"]
    assert run("check", "--fail-on-match", str(mandelbrot_clip), env=env).exit_code == 1


def test_list_is_oldest_sighting_first_with_a_header_and_platforms(archive_location: str, tmp_path: Path) -> None:
    stills = {}
    for name, source in {"a": "testsrc2=size=320x240", "b": "mandelbrot=size=320x240",
                         "c": "smptebars=size=320x240", "d": "rgbtestsrc=size=320x240",
                         "e": "cellauto=rule=110:size=320x240:seed=5"}.items():
        stills[name] = tmp_path / f"{name}.jpg"
        run_ffmpeg("-f", "lavfi", "-i", source, "-frames:v", "1", str(stills[name]))
    archive = archive_location

    def add(name: str, *options: str) -> None:
        assert run("archive", "add", "--archive", archive, *options, str(stills[name])).exit_code == 0

    add("a")  # no sighting date: listed after every dated item
    add("b", "--platform", "telegram", "--first-seen", "2022-06-14")
    add("c", "--platform", "x", "--first-seen", "2019-01-01T10:00:00+05:00")  # 05:00 UTC
    add("d")
    add("e", "--first-seen", "2019-01-01T06:00:00Z")  # after c in time, before it as text
    add("b", "--platform", "youtube", "--first-seen", "2018-03-01")  # an earlier sighting moves b first

    listing = json.loads(run("archive", "list", "--archive", archive, "--json").stdout)
    assert [it["name"] for it in listing] == ["b.jpg", "c.jpg", "e.jpg", "a.jpg", "d.jpg"]

    lines = run("archive", "list", "--archive", archive).stdout.splitlines()
    assert lines[0].split() == ["SHA-256", "KIND", "DURATION", "FIRST", "SEEN", "PLATFORM", "NAME"]
    assert [line.split()[-1] for line in lines[1:-1]] == ["b.jpg", "c.jpg", "e.jpg", "a.jpg", "d.jpg"]
    platform_at = lines[0].index("PLATFORM")
    assert [line[platform_at:].split()[0] for line in lines[1:-1]] == ["youtube,telegram", "x", "-", "-", "-"]
    assert lines[-1] == "5 item(s)"


def test_archive_errors_are_one_line(tmp_path: Path, testsrc_clip: Path) -> None:
    not_db = tmp_path / "notes.sqlite"
    not_db.write_text("hello")
    result = run("archive", "list", "--archive", str(not_db))
    assert result.exit_code == 5 and len(result.stderr.strip().splitlines()) == 1
    result = run("check", "--archive", str(tmp_path / "missing.sqlite"), str(testsrc_clip))
    assert result.exit_code == 5 and "archive not found" in result.stderr

