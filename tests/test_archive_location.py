"""An archive location that is a URL (``postgresql://...``) is refused with one line, its password masked,
by every command that takes ``--archive`` (and from ``$PROVENANCE_ARCHIVE``), and nothing is created: it
was once taken for a file path, and ``archive add`` made a SQLite file under a folder named ``postgresql:``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from provenance.archive.store import ArchiveStore, masked_location, refuse_url
from provenance.cli.app import cli
from provenance.errors import ArchiveError

URL = "postgresql://ana:s3cret@db.example:5432/desk"
MASKED = "postgresql://ana:***@db.example:5432/desk"


COMMANDS = ("archive add", "archive list", "archive show", "archive stats", "archive remove", "archive pictures",
            "archive import telegram", "archive import-hashes", "check", "report", "custody", "triage",
            "triage --add-new")


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
    clip_folder = tmp_path / "clips"
    clip_folder.mkdir()
    clip = clip_folder / "clip.mp4"
    clip.write_bytes(mandelbrot_clip.read_bytes())
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
    assert said.splitlines() == [f"provenance: error: {MASKED} is a URL: this version keeps archives only in "
                                 "SQLite files (a PostgreSQL team archive is not supported yet): give the path "
                                 "of an archive file"], said
    assert "s3cret" not in said
    assert os.listdir(work) == []  # no folder named after the scheme, no archive
    assert sorted(os.listdir(tmp_path)) == before


def test_the_library_refuses_it_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ArchiveError, match="is a URL") as raised:
        ArchiveStore.open(URL)
    assert "s3cret" not in str(raised.value) and MASKED in str(raised.value)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(("location", "shown"), [
    (URL, MASKED),
    ("postgresql://ana@db.example/desk", "postgresql://ana@db.example/desk"),  # no password: shown as given
    ("https://user:pw@example.org/a.sqlite", "https://user:***@example.org/a.sqlite"),
    ("postgresql://:pw@/desk?host=/run/postgresql", "postgresql://:***@/desk?host=/run/postgresql"),
])
def test_passwords_are_masked(location: str, shown: str) -> None:
    assert masked_location(location) == shown
    with pytest.raises(ArchiveError) as raised:
        refuse_url(location)
    assert str(raised.value).startswith(f"{shown} is a URL")


@pytest.mark.parametrize("path", ["cases.sqlite", "./postgresql/cases.sqlite", "dir:with:colons/a.sqlite",
                                  "~/archive.sqlite", "C:relative.sqlite"])
def test_paths_are_not_urls(path: str) -> None:
    refuse_url(path)  # no error
