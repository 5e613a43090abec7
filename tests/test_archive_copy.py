"""``archive copy``: items with their sightings, features, pictures and custody, between SQLite and PostgreSQL
(a real server, tests/postgres_server.py), idempotent, and a subset by date or SHA-256."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import X264, run_ffmpeg
from postgres_server import PostgresServer

from provenance.archive.custody import custody_entries, verify_chain
from provenance.archive.store import ArchiveStore
from provenance.cli.app import cli


def run(*args: str) -> Result:
    """The CLI in-process."""
    return CliRunner().invoke(cli, list(args))


def snapshot(location: str) -> dict[str, object]:
    """Everything an archive holds of its items, keyed by SHA-256 (ids and added-at stamps of the copy aside)."""
    with ArchiveStore.open(location, create=False) as store:
        held: dict[str, object] = {}
        for summary in store.items():
            item = store.get(summary.sha256)
            assert item is not None
            features = [(f.time, f.aspect, f.points.tobytes(), f.descriptors.tobytes(),
                         None if f.grid is None else f.grid.tobytes()) for f in store.features_of(item.sha256)]
            sound = store.soundtrack(item.sha256)
            held[item.sha256] = (item.fingerprint, item.sightings, store.pictures(item.sha256), features,
                                 None if sound is None else (sound.values.tobytes(), sound.start))
        return held


def matches(location: str, clip: Path) -> list[object]:
    """What ``check`` finds for ``clip`` in the archive at ``location``: items, segments, scores, edits."""
    result = run("check", "--archive", location, "--json", str(clip))
    assert result.exit_code == 0, result.output
    return [(m["sha256"], m["segments"], m["score"], m["edits"], m["verdict"])
            for m in json.loads(result.stdout)["matches"]]


@pytest.fixture
def first(tmp_path: Path, mandelbrot_clip: Path, testsrc_clip: Path) -> str:
    """A SQLite archive of two clips with sightings, and a check logged in its custody."""
    archive = str(tmp_path / "first.sqlite")
    added = run("archive", "add", "--archive", archive, "--source-url", "https://t.me/desk/7", "--first-seen",
                "2022-02-24", str(mandelbrot_clip))
    assert added.exit_code == 0, added.output
    added = run("archive", "add", "--archive", archive, "--label", "case 12", str(testsrc_clip))
    assert added.exit_code == 0, added.output
    assert run("check", "--archive", archive, str(mandelbrot_clip)).exit_code == 0
    return archive


def test_sqlite_to_postgresql_to_sqlite_keeps_items_sightings_and_matches(
        first: str, postgres_server: PostgresServer, tmp_path: Path, mandelbrot_clip: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    team = postgres_server.new_database()
    last = str(tmp_path / "last.sqlite")
    trimmed = tmp_path / "trimmed.mp4"
    run_ffmpeg("-ss", "1", "-t", "3", "-i", str(mandelbrot_clip), "-vf", "scale=240:180", *X264, str(trimmed))

    with ArchiveStore.open(first, create=False) as store:
        first_log = custody_entries(store)  # the history of its items (a check of another file comes later)
        first_id = store.archive_id()
    to_team = run("archive", "copy", "--from", first, "--to", team, "--json")
    assert to_team.exit_code == 0, to_team.output
    assert [i["created"] for i in json.loads(to_team.stdout)["items"]] == [True, True]
    back = run("archive", "copy", "--from", team, "--to", last)
    assert back.exit_code == 0, back.output
    assert "2 of 2 item(s) new in" in back.output

    original = snapshot(first)
    assert len(original) == 2
    assert snapshot(team) == original
    assert snapshot(last) == original
    found = matches(first, trimmed)
    assert found and matches(team, trimmed) == found and matches(last, trimmed) == found

    with ArchiveStore.open(last, create=False) as store:
        assert verify_chain(store).ok
        log = custody_entries(store)
    # each original entry reached the last archive with its fields, through the team's, and says so
    for entry in first_log:
        (copy,) = [e for e in log if e.command.startswith(entry.command) and f"archive {first_id} entry #{entry.seq}]"
                   in e.command]
        assert (copy.at, copy.examiner, copy.sha256, copy.path, copy.tool_version) == (
            entry.at, entry.examiner, entry.sha256, entry.path, entry.tool_version)
        assert "[copied from archive" in copy.command.split(f"entry #{entry.seq}]", 1)[1]  # copied twice


def test_copying_again_duplicates_nothing(first: str, tmp_path: Path) -> None:
    target = str(tmp_path / "target.sqlite")
    assert run("archive", "copy", "--from", first, "--to", target).exit_code == 0
    before = snapshot(target)
    with ArchiveStore.open(target, create=False) as store:
        copied = [e for e in custody_entries(store) if "[copied from" in e.command]
    again = run("archive", "copy", "--from", first, "--to", target, "--json")
    assert again.exit_code == 0, again.output
    items = json.loads(again.stdout)["items"]
    assert [(i["created"], i["sightings_added"], i["pictures_added"], i["custody_copied"]) for i in items] == [
        (False, 0, 0, 0), (False, 0, 0, 0)]
    assert snapshot(target) == before
    with ArchiveStore.open(target, create=False) as store:
        assert [e for e in custody_entries(store) if "[copied from" in e.command] == copied
        assert verify_chain(store).ok


def test_a_subset_by_sha256_or_by_date(first: str, tmp_path: Path, mandelbrot_clip: Path) -> None:
    items = list(snapshot(first))
    one = str(tmp_path / "one.sqlite")
    result = run("archive", "copy", "--from", first, "--to", one, items[1][:10])
    assert result.exit_code == 0, result.output
    assert list(snapshot(one)) == [items[1]]
    none = str(tmp_path / "none.sqlite")
    assert run("archive", "copy", "--from", first, "--to", none, "--since", "2999").exit_code == 0
    assert snapshot(none) == {}
    every = str(tmp_path / "every.sqlite")
    assert run("archive", "copy", "--from", first, "--to", every, "--since", "2020-01").exit_code == 0
    assert sorted(snapshot(every)) == sorted(items)


def test_refusals_are_one_line(first: str, tmp_path: Path) -> None:
    unknown = run("archive", "copy", "--from", first, "--to", str(tmp_path / "t.sqlite"), "ab" * 32)
    assert unknown.exit_code == 2 and unknown.output.strip().endswith(f"no archived item with SHA-256 {'ab' * 32} "
                                                                       f"in {first}"), unknown.output
    assert not (tmp_path / "t.sqlite").exists()
    same = run("archive", "copy", "--from", first, "--to", first)
    assert same.exit_code == 2 and "are the same archive" in same.output and len(same.output.splitlines()) == 1
    missing = run("archive", "copy", "--from", str(tmp_path / "absent.sqlite"), "--to", str(tmp_path / "x.sqlite"))
    assert missing.exit_code == 5 and "no archive at" in missing.output
    assert not (tmp_path / "x.sqlite").exists()
