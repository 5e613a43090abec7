"""Any file name works, and every output shows it with one escaping; closed pipes end a command quietly.

A name is bytes on disk: bytes that are not UTF-8, a newline, a leading dash, a name that reads as a
spreadsheet formula. Python gives such a name as ``str`` with surrogate escapes and the library keeps
it that way. What people read shows it through ``provenance.report.formatters.shown_name`` (the
terminal report, error lines, the triage page); the files programs read (the JSON record, the
triage's CSV files) keep it exactly but for the bytes that are not UTF-8, written ``\\xNN`` as on the
terminal, so they are always valid UTF-8; and no CSV cell is a formula. The command line runs in
real subprocesses where the bytes of the terminal matter (the argument vector, stdout, stderr, a
pipe whose reader has gone), else through click's CliRunner.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, run_ffmpeg

from provenance.cli.app import cli
from provenance.report.formatters import shown_name, shown_text, spreadsheet_cell, unescape_name, unicode_safe

BYTES_NAME = os.fsdecode(b"\xff\xfe clip.mp4")  # not UTF-8: Python keeps the bytes as surrogate escapes
NEWLINE_NAME = "two\nlines.mp4"
DASH_NAME = "-dash.mp4"
FORMULA_NAME = '=HYPERLINK("https:evil.example","open").mp4'


def provenance(*args: str | bytes, stdout: int | None = subprocess.PIPE) -> subprocess.Popen[bytes]:
    """Start the command line as a user's shell would, arguments as bytes."""
    argv = [sys.executable, "-m", "provenance", *(os.fsencode(a) for a in args)]
    return subprocess.Popen(argv, cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE)


def run(*args: str | bytes) -> tuple[int, bytes, bytes]:
    """Run the command line to its end: (exit status, stdout bytes, stderr bytes)."""
    proc = provenance(*args)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def hash_archive(folder: Path) -> Path:
    """An archive holding one hash-only item (a PDQ list), made quickly with ``archive import-hashes``."""
    listing = folder / "bank.txt"
    listing.write_text("a" * 64 + "\n")
    archive = folder / "bank.sqlite"
    result = CliRunner().invoke(cli, ["archive", "import-hashes", "--archive", str(archive), "--format", "pdq",
                                      "--label", "bank", str(listing)])
    assert result.exit_code == 0, result.output
    return archive


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 s of lavfi testsrc2 at 160x120, H.264 in MP4."""
    out = tmp_path_factory.mktemp("names-src") / "clip.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-t", "3", "-c:v", "libx264",
               "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(out))
    return out


# -- the escaping ------------------------------------------------------------------------------------


NAMES = {
    BYTES_NAME: "\\xff\\xfe clip.mp4",
    NEWLINE_NAME: "two\\nlines.mp4",
    "tab\tand\rreturn": "tab\\tand\\rreturn",
    "back\\slash \\xff.mp4": "back\\\\slash \\\\xff.mp4",  # a literal backslash is doubled: no mix-up with a byte
    "\x1b[31mred.mp4": "\\x1b[31mred.mp4",  # a terminal escape sequence
    "gpj.\u202eexe.mp4": "gpj.\\u202eexe.mp4",  # a right-to-left override that would reverse the name
    "zero\u200bwidth.mp4": "zero\\u200bwidth.mp4",
    "c1\x85.mp4": "c1\\u0085.mp4",
    "видео копия 🎥.mp4": "видео копия 🎥.mp4",  # letters of any script are kept
    DASH_NAME: DASH_NAME,
    FORMULA_NAME: FORMULA_NAME,
}


@pytest.mark.parametrize("name", list(NAMES), ids=range(len(NAMES)))
def test_shown_name_escapes_what_cannot_be_shown_and_turns_back(name: str) -> None:
    shown = shown_name(name)
    assert shown == NAMES[name]
    shown.encode("utf-8")  # printable UTF-8: no surrogate, no control character
    assert shown.isprintable()
    assert unescape_name(shown) == name
    assert os.fsencode(unescape_name(shown)) == os.fsencode(name)  # the bytes on disk


def test_shown_text_escapes_the_same_but_keeps_backslashes() -> None:
    assert shown_text(f"cannot read /x/{BYTES_NAME}: bad\nthing \\ here") == \
        "cannot read /x/\\xff\\xfe clip.mp4: bad\\nthing \\ here"


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", FORMULA_NAME])
def test_spreadsheet_cells_that_would_be_formulas_get_a_quote(cell: str) -> None:
    assert spreadsheet_cell(cell) == "'" + cell


def test_spreadsheet_cells_that_are_plain_stay_as_they_are() -> None:
    assert [spreadsheet_cell(c) for c in ("a=b", "/tmp/=x.mp4", "1.5", 12, None, "")] == \
        ["a=b", "/tmp/=x.mp4", "1.5", "12", "", ""]


# -- check -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def odd_names(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding copies of the clip under the odd names."""
    folder = tmp_path_factory.mktemp("names")
    for name in (BYTES_NAME, NEWLINE_NAME, DASH_NAME, FORMULA_NAME):
        shutil.copyfile(clip, folder / name)
    return folder


def test_check_of_a_name_that_is_not_utf8(odd_names: Path) -> None:
    path = odd_names / BYTES_NAME
    code, out, err = run("check", str(path))
    assert code == 0, err
    text = out.decode("utf-8")  # strict: no raw byte of the name reaches the terminal
    assert "check of \\xff\\xfe clip.mp4," in text and "  name        \\xff\\xfe clip.mp4\n" in text
    code, out, err = run("check", "--json", str(path))
    assert code == 0, err
    record = json.loads(out.decode("utf-8"))
    assert record["file"]["name"] == "\\xff\\xfe clip.mp4" == unicode_safe(BYTES_NAME)
    assert record["file"]["path"] == unicode_safe(str(path))
    assert b"\\udc" not in out  # no lone surrogate escapes either: valid Unicode throughout



def test_archive_add_and_check_of_a_name_that_is_not_utf8(odd_names: Path, tmp_path: Path) -> None:
    """The archive stores such a file (its exact name kept in the record), and matches and logs it."""
    from provenance.archive.store import ArchiveStore

    path, archive = odd_names / BYTES_NAME, tmp_path / "names.sqlite"
    code, out, err = run("archive", "add", "--archive", str(archive), str(path), str(odd_names / NEWLINE_NAME))
    assert code == 0, err
    lines = out.decode("utf-8").splitlines()  # strict: no raw byte of a name reaches the terminal
    assert lines[0].startswith("added  ") and lines[0].endswith("\\xff\\xfe clip.mp4  (+1 sighting)")
    assert lines[1].startswith("known  ") and lines[1].endswith("two\\nlines.mp4  (+1 sighting)")  # one line
    code, out, err = run("check", "--json", "--archive", str(archive), str(path))
    assert code == 0, err
    (match,) = json.loads(out.decode("utf-8"))["matches"]
    assert match["verdict"] == "identical"
    with ArchiveStore.open(archive, create=False) as store:
        (item,) = store.items()
        assert store.get(item.sha256).fingerprint.identity.name == BYTES_NAME  # the exact name, bytes and all
    code, out, err = run("custody", "--verify", "--archive", str(archive))
    assert code == 0 and b"intact: 3 entries" in out, err


def test_check_of_names_with_a_newline_and_a_leading_dash(odd_names: Path) -> None:
    result = CliRunner().invoke(cli, ["check", str(odd_names / NEWLINE_NAME)])
    assert result.exit_code == 0, result.output
    assert "check of two\\nlines.mp4," in result.output and "  name        two\\nlines.mp4\n" in result.output
    record = json.loads(CliRunner().invoke(cli, ["check", "--json", str(odd_names / NEWLINE_NAME)]).stdout)
    assert record["file"]["name"] == NEWLINE_NAME  # JSON keeps it exactly (and writes it "two\\nlines.mp4")
    proc = subprocess.run([sys.executable, "-m", "provenance", "check", "--", DASH_NAME], cwd=odd_names,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert b"check of -dash.mp4," in proc.stdout


def test_error_line_shows_the_name_escaped_on_one_line(tmp_path: Path) -> None:
    missing = tmp_path / os.fsdecode(b"gone\n\xff.mp4")
    code, out, err = run("check", str(missing))
    assert code == 2 and out == b""
    line = err.decode("utf-8")  # strict
    assert line.count("\n") == 1 and line.startswith("provenance: error: no such file: ")
    assert "gone\\n\\xff.mp4" in line


# -- triage ------------------------------------------------------------------------------------------


def test_triage_of_any_name_gives_one_row_each(clip: Path, tmp_path: Path) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    for name in (BYTES_NAME, NEWLINE_NAME, DASH_NAME, FORMULA_NAME):
        shutil.copyfile(clip, folder / name)
    (folder / os.fsdecode(b"bad \xff.mp4")).write_bytes(b"<html>not a video</html>\n")  # an error row
    (folder / "=cmd.txt").write_text("notes\n")  # skipped, not media
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["triage", str(folder), "--archive", str(hash_archive(tmp_path)),
                                      "--out", str(out), "--jobs", "1"])
    assert result.exit_code == 4, result.output  # the HTML page saved as .mp4 is an error row; the rest triaged
    assert "5 media files" in result.output
    summary = (out / "summary.csv").read_bytes().decode("utf-8")  # strict
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(summary, newline=""))}
    assert set(rows) == {"\\xff\\xfe clip.mp4", NEWLINE_NAME, "'-dash.mp4", "'" + FORMULA_NAME, "bad \\xff.mp4"}
    assert rows["bad \\xff.mp4"]["verdict"] == "error"
    assert {rows[n]["verdict"] for n in rows if n != "bad \\xff.mp4"} == {"new"}
    assert len({rows[n]["cluster"] for n in rows if n != "bad \\xff.mp4"}) == 1  # one footage, four names
    assert rows["\\xff\\xfe clip.mp4"]["path"] == unicode_safe(str(folder / BYTES_NAME))
    for row in rows.values():
        record = json.loads((out / row["report"]).read_bytes().decode("utf-8"))
        assert record["file"]["name"] == row["name"].removeprefix("'")
    skipped = list(csv.DictReader(io.StringIO((out / "skipped.csv").read_bytes().decode("utf-8"), newline="")))
    assert [Path(s["path"]).name for s in skipped] == ["=cmd.txt"]
    page = (out / "index.html").read_bytes().decode("utf-8")
    assert "\\xff\\xfe clip.mp4" in page and "two\\nlines.mp4" in page


def test_summary_csv_cells_are_never_formulas(clip: Path, tmp_path: Path) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    for name in (FORMULA_NAME, DASH_NAME, "+1.mp4", "@SUM(A1).mp4", "plain.mp4"):
        shutil.copyfile(clip, folder / name)
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["triage", str(folder), "--archive", str(hash_archive(tmp_path)),
                                      "--out", str(out), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO((out / "summary.csv").read_text(encoding="utf-8"), newline="")))
    names = sorted(row[1] for row in rows[1:])
    assert names == sorted(["'" + FORMULA_NAME, "'-dash.mp4", "'+1.mp4", "'@SUM(A1).mp4", "plain.mp4"])
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


# -- closed pipes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["check --json", "archive list", "export"])
def test_stdout_closed_before_anything_is_written_ends_quietly(command: str, clip: Path, tmp_path: Path) -> None:
    """``provenance ... | true``: the reader is gone before the command writes."""
    args = {"check --json": ("check", "--json", str(clip)),
            "archive list": ("archive", "list", "--archive", str(hash_archive(tmp_path))),
            "export": ("export", str(clip), "--format", "pdq")}[command]
    proc = provenance(*args)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0 and err == b""
