"""Hash-bank interop (provenance.ingest.interop): PDQ / vPDQ line formats, export, import-hashes, matching.

The line formats are checked with hypothesis (parse is the exact inverse of the string form) and
on ThreatExchange's own vPDQ hash files in ``../shared/corpus/threatexchange-vpdq``. The round
trip is the command line: ``export`` a generated clip, ``archive import-hashes`` the lines into a
new archive, ``check`` the clip against it.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CORPUS, corpus_path, run_ffmpeg
from hypothesis import given
from hypothesis import strategies as st

from provenance.archive import migrations
from provenance.archive.store import ArchiveStore
from provenance.cli.app import cli
from provenance.ingest.interop import HashListError, PdqLine, VpdqLine, hash_list_item, parse_list
from provenance.model import HashAlgorithm

hexes = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
qualities = st.integers(0, 100)
pdq_lines = st.builds(PdqLine, hexes, st.none() | qualities)
vpdq_lines = st.builds(VpdqLine, st.integers(0, 10**7), qualities, hexes,
                       st.integers(0, 10**9).map(lambda ms: round(ms / 1000, 3)))


def invoke(*args: str):
    """Run the CLI in-process."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@given(pdq_lines)
def test_pdq_line_round_trip(line: PdqLine) -> None:
    text = str(line)
    assert PdqLine.parse(text) == line and str(PdqLine.parse(text)) == text


@given(vpdq_lines)
def test_vpdq_line_round_trip(line: VpdqLine) -> None:
    text = str(line)
    assert VpdqLine.parse(text) == line and str(VpdqLine.parse(text)) == text
    assert text.count(",") == 3 and text.rsplit(",", 1)[1].split(".")[1].__len__() == 3


@pytest.mark.parametrize("text", [
    "", "abc", "0" * 63, "0" * 65, "g" * 64, "0" * 64 + ",101", "0" * 64 + ",-1", "0" * 64 + ",50,x", " " + "0" * 64,
    "0" * 64 + ", 50", "0" * 64 + ",050",
])
def test_pdq_line_rejects(text: str) -> None:
    with pytest.raises(HashListError):
        PdqLine.parse(text)


@pytest.mark.parametrize("text", [
    "0,100," + "a" * 64, "0,100," + "a" * 64 + ",0.0001", "-1,100," + "a" * 64 + ",0.000",
    "0,101," + "a" * 64 + ",0.000", "0,100," + "a" * 63 + ",0.000", "0,100," + "a" * 64 + ",-1.000",
    "01,100," + "a" * 64 + ",0.000", "0,100," + "a" * 64 + ",1e3", "0,100," + "a" * 64 + ",nan",
])
def test_vpdq_line_rejects(text: str) -> None:
    with pytest.raises(HashListError):
        VpdqLine.parse(text)


def test_constructors_validate() -> None:
    with pytest.raises(HashListError):
        VpdqLine(0, 100, "A" * 64, 0.0)  # canonical hex is lower case
    with pytest.raises(HashListError):
        VpdqLine(0, 100, "a" * 64, 0.0004)
    with pytest.raises(HashListError):
        PdqLine("a" * 64, True)  # type: ignore[arg-type]
    assert PdqLine.parse("A" * 64).pdq == "a" * 64  # upper case is read, written lower case


def test_parse_list_names_the_bad_line() -> None:
    good = "0,100," + "a" * 64 + ",0.000"
    assert len(parse_list(f"# a comment\n\n{good}\n{good}\n", "vpdq")) == 2
    with pytest.raises(HashListError, match="line 3"):
        parse_list(f"{good}\n\nnot a hash\n", "vpdq")
    with pytest.raises(HashListError, match="no pdq hashes"):
        parse_list("# nothing\n", "pdq")


@pytest.mark.corpus
def test_threatexchange_vpdq_files_are_canonical() -> None:
    folder = corpus_path("threatexchange-vpdq/vpdq-sample-hashes")
    files = sorted(folder.glob("*.txt"))
    assert files
    for path in files:
        text = path.read_text()
        lines = parse_list(text, "vpdq")
        assert [str(line) for line in lines] == [ln for ln in text.splitlines() if ln.strip()], path.name
    needles = parse_list((CORPUS / "threatexchange-pdq/reg-test-input/needles.txt").read_text(), "pdq")
    assert needles and all(line.quality is None for line in needles)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s of lavfi mandelbrot at 160x120, 25 fps, libx264 (a slow zoom: frames change steadily)."""
    out = tmp_path_factory.mktemp("interop") / "zoom.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "mandelbrot=size=160x120:rate=25", "-t", "6", "-c:v", "libx264",
               "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(out))
    return out


@pytest.mark.parametrize("fmt", ["vpdq", "pdq"])
def test_export_import_check_round_trip(archive_location: str, fmt: str, clip: Path, tmp_path: Path) -> None:
    listing = tmp_path / f"zoom.{fmt}.txt"
    result = invoke("export", str(clip), "--format", fmt, "--out", str(listing))
    assert result.exit_code == 0, result.output
    lines = listing.read_text().splitlines()
    assert len(lines) == 6 and parse_list(listing.read_text(), fmt)
    if fmt == "vpdq":
        assert [ln.split(",")[0] for ln in lines[:3]] == ["0", "25", "50"]  # source frame numbers at 25 fps
        assert [ln.rsplit(",", 1)[1] for ln in lines[:3]] == ["0.000", "1.000", "2.000"]
    archive = archive_location
    result = invoke("archive", "import-hashes", "--archive", str(archive), "--format", fmt, "--label", "bank 7",
                    str(listing))
    assert result.exit_code == 0 and result.output.startswith("added"), result.output
    again = invoke("archive", "import-hashes", "--archive", str(archive), "--format", fmt, "--label", "bank 7",
                   str(listing))
    assert again.output.startswith("known")
    with ArchiveStore.open(archive, create=False) as store:
        [item] = store.items()
        assert (item.kind, item.name, item.frames, item.size) == ("hashes", "bank 7", 6, listing.stat().st_size)
        archived = store.get(item.sha256).fingerprint
        assert archived.metadata.tags[0] == ("hash_format", fmt)
        assert archived.hash_algorithms == (HashAlgorithm("pdq", 256, 1),)  # PDQ only: no pHash
        assert store.frame_table().phash.tolist() == [0] * 6  # no pHash for hash-only frames
    record = json.loads(invoke("check", str(clip), "--archive", str(archive), "--json").output)
    [match] = record["matches"]
    assert match["name"] == "bank 7" and match["query_coverage"] >= 0.8 and match["score"] > 0.3
    assert match["sightings"][0]["label"] == "bank 7"


def test_export_refuses_to_overwrite(clip: Path, tmp_path: Path) -> None:
    taken = tmp_path / "taken.txt"
    taken.write_text("x")
    result = CliRunner().invoke(cli, ["export", str(clip), "--format", "pdq", "--out", str(taken)])
    assert result.exit_code == 2 and taken.read_text() == "x"
    stdout = invoke("export", str(clip), "--format", "pdq", "--fps", "2")
    assert len(stdout.output.splitlines()) == 12


def test_export_out_refuses_the_evidence_folder_unless_beside(clip: Path) -> None:
    beside = clip.parent / "zoom.pdq.txt"
    before = sorted(p.name for p in clip.parent.iterdir())
    refused = CliRunner().invoke(cli, ["export", str(clip), "--format", "pdq", "--out", str(beside)])
    assert refused.exit_code == 2 and "--beside" in refused.output, refused.output
    assert sorted(p.name for p in clip.parent.iterdir()) == before  # nothing written beside the evidence
    itself = CliRunner().invoke(cli, ["export", str(clip), "--format", "pdq", "--out", str(clip), "--beside"])
    assert itself.exit_code == 2 and "input file itself" in itself.output
    try:
        result = invoke("export", str(clip), "--format", "pdq", "--out", str(beside), "--beside")
        assert result.exit_code == 0 and len(beside.read_text().splitlines()) == 6
    finally:
        beside.unlink(missing_ok=True)


def test_export_out_into_a_missing_folder_is_a_usage_error(clip: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["export", str(clip), "--format", "pdq", "--out", str(tmp_path / "no" / "x.txt")])
    assert result.exit_code == 2 and "does not exist" in result.output, result.output
    assert not (tmp_path / "no").exists()


def test_hash_item_key_and_times(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("a" * 64 + "\n" + "b" * 64 + ",80\n")
    one, two = hash_list_item(listing, "pdq", "x", fps=2.0), hash_list_item(listing, "pdq", "y", fps=2.0)
    assert one.identity.sha256 != two.identity.sha256 and one.metadata.kind == "hashes"
    assert [(f.time, f.pdq_quality, f.phash) for f in one.frames] == [(0.0, 100, ""), (0.5, 80, "")]
    assert one.duration == 1.0
    assert one.hash_algorithms == (HashAlgorithm("pdq", 256, 1),)


def test_migration_keeps_frames_and_allows_hash_only_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    migrations.migrate(conn, target=4)
    conn.execute("INSERT INTO items (sha256, name, kind, size, duration, added_at, record) "
                 "VALUES (?, 'a', 'video', 1, 1.0, 'now', '{}')", ("1" * 64,))
    conn.execute("INSERT INTO frames VALUES (1, 0, 0.0, -5, ?, 90)", (b"\1" * 32,))
    conn.close()
    with ArchiveStore.open(path, create=False) as store:
        assert migrations.user_version(store.connection) == migrations.LATEST_VERSION >= 5
        store.connection.execute("INSERT INTO frames VALUES (1, 1, 0.5, NULL, ?, 90)", (b"\2" * 32,))
        rows = store.connection.execute("SELECT sample, phash FROM frames ORDER BY sample").fetchall()
        named = store.connection.execute(
            "SELECT algorithm, bits, version FROM item_hashes ORDER BY position").fetchall()
    assert rows == [(0, -5), (1, None)]
    assert named == [("phash", 64, 1), ("pdq", 256, 1)]  # what every version before wrote


@pytest.mark.corpus
def test_threatexchange_vpdq_list_matches_the_video(tmp_path: Path) -> None:
    listing = corpus_path("threatexchange-vpdq/vpdq-sample-hashes/pattern-longer-no-bar.txt")
    video = corpus_path("threatexchange-vpdq/pattern-hd-no-bar.mp4")
    archive = tmp_path / "te.sqlite"
    assert invoke("archive", "import-hashes", "--archive", str(archive), "--format", "vpdq", "--label",
                  "TE pattern", str(listing)).exit_code == 0
    record = json.loads(invoke("check", str(video), "--archive", str(archive), "--json").output)
    [match] = record["matches"]
    assert match["name"] == "TE pattern" and match["query_coverage"] > 0.9
    assert match["segments"][0]["archive_start"] == pytest.approx(0.0, abs=0.2)
