"""An archive location that is a URL other than PostgreSQL's (``mysql://...``) is refused with one line, its
password masked, by every command that takes ``--archive`` (and from ``$PROVENANCE_ARCHIVE``), and nothing is
created: a URL was once taken for a file path, and ``archive add`` made a SQLite file under a folder named
``postgresql:``. A PostgreSQL URL is an archive (``tests/test_postgres_store.py``); one whose server cannot be
reached fails in one line, its password masked, and nothing is created either."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from provenance.archive.store import ArchiveStore, masked_location, refuse_url
from provenance.cli.app import cli
from provenance.errors import ArchiveError

URL = "mysql://ana:s3cret@db.example:5432/desk"
MASKED = "mysql://ana:***@db.example:5432/desk"
UNREACHABLE = "postgresql://ana:s3cret@127.0.0.1:1/desk"  # port 1: refused at once, no server there
UNREACHABLE_MASKED = "postgresql://ana:***@127.0.0.1:1/desk"


COMMANDS = ("archive add", "archive list", "archive show", "archive stats", "archive remove", "archive pictures",
            "archive import telegram", "archive import-hashes", "check", "report", "custody", "triage",
            "triage --add-new")


def copied_clip(folder: Path, source: Path) -> Path:
    """A copy of ``source`` as ``folder/clips/clip.mp4``, alone in its folder (what triage is given)."""
    clips = folder / "clips"
    clips.mkdir()
    clip = clips / "clip.mp4"
    clip.write_bytes(source.read_bytes())
    return clip


def commands(clip: Path, folder: Path) -> dict[str, list[str]]:
    """Every command that takes --archive (``COMMANDS``), with what else it needs (made in ``folder``)."""
    export = folder / "ChatExport"
    export.mkdir(exist_ok=True)
    (export / "result.json").write_text('{"name": "x", "type": "public_channel", "id": 1, "messages": []}')
    hashes = folder / "hashes.txt"
    hashes.write_text("0" * 64 + "\n")
    return {
        "archive add": ["archive", "add", str(clip)],
        "archive list": ["archive", "list"],
        "archive show": ["archive", "show", "abc123"],
        "archive stats": ["archive", "stats"],
        "archive remove": ["archive", "remove", "abc123"],
        "archive pictures": ["archive", "pictures"],
        "archive import telegram": ["archive", "import", "telegram", str(export)],
        "archive import-hashes": ["archive", "import-hashes", str(hashes), "--format", "pdq", "--label", "x"],
        "check": ["check", str(clip)],
        "report": ["report", str(clip), "--out", str(folder / "report")],
        "custody": ["custody"],
        "triage": ["triage", str(clip.parent), "--out", str(folder / "triage")],
        "triage --add-new": ["triage", str(clip.parent), "--out", str(folder / "triage2"), "--add-new"],
    }


@pytest.mark.parametrize("name", COMMANDS)
@pytest.mark.parametrize("given", ["option", "environment"])
def test_every_command_refuses_a_url_in_one_line_and_creates_nothing(
        name: str, given: str, mandelbrot_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    clip = copied_clip(tmp_path, mandelbrot_clip)
    made = commands(clip, tmp_path)
    assert set(made) == set(COMMANDS)
    args = made[name]
    monkeypatch.chdir(work)
    env = {"PROVENANCE_ARCHIVE": URL} if given == "environment" else {}
    if given == "option":
        args = [*args, "--archive", URL]
    before = sorted(os.listdir(tmp_path))
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    assert result.exit_code == 5, result.output
    said = (result.stdout + result.stderr).strip()
    assert said.splitlines() == [f"provenance: error: {MASKED} is a URL that is no archive: give the path of an "
                                 "archive file (SQLite) or a PostgreSQL URL (postgresql://USER@HOST:PORT/DB)"], said
    assert "s3cret" not in said
    assert os.listdir(work) == []  # no folder named after the scheme, no archive
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("name", COMMANDS)
def test_an_unreachable_server_fails_in_one_line_with_its_password_masked(
        name: str, mandelbrot_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    clip = copied_clip(tmp_path, mandelbrot_clip)
    args = [*commands(clip, tmp_path)[name], "--archive", UNREACHABLE]
    monkeypatch.chdir(work)
    before = sorted(os.listdir(tmp_path))
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    said = (result.stdout + result.stderr).strip()
    assert result.exit_code == 5, said
    assert len(said.splitlines()) == 1 and said.startswith(
        f"provenance: error: cannot connect to the archive {UNREACHABLE_MASKED}: "), said
    assert "s3cret" not in said
    assert os.listdir(work) == []
    assert sorted(os.listdir(tmp_path)) == before


def test_the_library_refuses_it_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ArchiveError, match="is a URL") as raised:
        ArchiveStore.open(URL)
    assert "s3cret" not in str(raised.value) and MASKED in str(raised.value)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(("location", "shown"), [
    (URL, MASKED),
    ("mysql://ana@db.example/desk", "mysql://ana@db.example/desk"),  # no password: shown as given
    ("https://user:pw@example.org/a.sqlite", "https://user:***@example.org/a.sqlite"),
    ("mysql://:pw@/desk?host=/run/mysql", "mysql://:***@/desk?host=/run/mysql"),
])
def test_passwords_are_masked(location: str, shown: str) -> None:
    assert masked_location(location) == shown
    with pytest.raises(ArchiveError) as raised:
        refuse_url(location)
    assert str(raised.value).startswith(f"{shown} is a URL")


@pytest.mark.parametrize(("location", "shown"), [
    (UNREACHABLE, UNREACHABLE_MASKED),
    ("postgresql://ana@db.example/desk", "postgresql://ana@db.example/desk"),
    ("postgresql://:pw@/desk?host=/run/postgresql", "postgresql://:***@/desk?host=/run/postgresql"),
    ("postgres://ana@/desk?host=/tmp&password=s3cret", "postgres://ana@/desk?host=/tmp&password=***"),
])
def test_postgresql_urls_are_archives_shown_masked(location: str, shown: str) -> None:
    refuse_url(location)  # no error: a PostgreSQL archive
    assert masked_location(location) == shown


@pytest.mark.parametrize("path", ["cases.sqlite", "./postgresql/cases.sqlite", "dir:with:colons/a.sqlite",
                                  "~/archive.sqlite", "C:relative.sqlite"])
def test_paths_are_not_urls(path: str) -> None:
    refuse_url(path)  # no error
