"""An archive opened once for matching many files (``MatchingArchive``, as triage's workers keep it)
gives the matches a fresh open gives, and knows when the archive has changed under it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import X264, run_ffmpeg
from postgres_server import PostgresServer

from provenance.archive.copy import copy_between
from provenance.fingerprinting import Analysis, analyse, as_query
from provenance.ingest.add import add_files
from provenance.match.against_archive import MatchingArchive, match_against
from provenance.model import SamplingParams


@pytest.fixture(scope="module")
def scene(testsrc_clip: Path, mandelbrot_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An archive of two clips, and queries: a crop (found by local features), a mirrored trim, an unrelated clip."""
    base = tmp_path_factory.mktemp("matching_archive")
    archive = base / "archive.sqlite"
    add_files(str(archive), [str(testsrc_clip), str(mandelbrot_clip)])
    crop, flip, other = base / "crop.mp4", base / "flip.mp4", base / "other.mp4"
    run_ffmpeg("-i", str(testsrc_clip), "-vf", "crop=192:144:64:48,scale=320:240", "-an", *X264, str(crop))
    run_ffmpeg("-ss", "2", "-t", "5", "-i", str(mandelbrot_clip), "-vf", "hflip", *X264, str(flip))
    run_ffmpeg("-f", "lavfi", "-i", "life=size=320x240:rate=25:seed=3", "-t", "4", *X264, str(other))
    return {"archive": archive, "crop": crop, "flip": flip, "other": other, "base": base}


def _query(path: Path) -> Analysis:
    return as_query(analyse(str(path), SamplingParams(fps=8.0), features="query"))


def test_an_archive_kept_open_gives_the_matches_of_a_fresh_open(scene: dict[str, Path]) -> None:
    queries = [_query(scene[name]) for name in ("crop", "flip", "other", "crop")]
    fresh = [match_against(q, str(scene["archive"])) for q in queries]
    with MatchingArchive(str(scene["archive"])) as opened:
        kept = [match_against(q, opened) for q in queries]
    assert kept == fresh
    assert [len(m) for m in fresh[:3]] == [1, 1, 0]  # the crop and the mirrored trim are found; life is not
    assert {e.name for e in fresh[0][0].edits} >= {"crop"} and {e.name for e in fresh[1][0].edits} >= {"hflip"}


def test_it_knows_when_the_archive_changed(scene: dict[str, Path], still_jpeg: Path) -> None:
    archive = scene["base"] / "changing.sqlite"
    shutil.copy(scene["archive"], archive)
    with MatchingArchive(str(archive)) as opened:
        assert opened.current()
        add_files(str(archive), [str(still_jpeg)])
        assert not opened.current()
    with MatchingArchive(str(archive)) as opened:
        assert opened.current()
        replacement = scene["base"] / "replacement.sqlite"
        shutil.copy(scene["archive"], replacement)
        replacement.replace(archive)  # another archive moved over the path
        assert not opened.current()


def test_the_team_archive_gives_the_same_matches_and_knows_when_it_changed(
        scene: dict[str, Path], still_jpeg: Path, postgres_server: PostgresServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    team = postgres_server.new_database()
    copy_between(str(scene["archive"]), team)
    queries = [_query(scene[name]) for name in ("crop", "flip", "other")]
    with MatchingArchive(team) as opened:
        kept = [match_against(q, opened) for q in queries]
        assert opened.current()
        add_files(team, [str(still_jpeg)])  # another member of the desk adds meanwhile
        assert not opened.current()
    assert kept == [match_against(q, str(scene["archive"])) for q in queries]
    assert [len(m) for m in kept] == [1, 1, 0]
