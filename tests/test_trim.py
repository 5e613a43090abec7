"""The trim edit names the archived seconds a query leaves out once they can be measured, even when the
query holds enough of the item for the verdict of the same footage; a plain re-encode names none.
Made with ffmpeg lavfi sources, archived (real SQLite) and checked through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import X264, cli_json, run_ffmpeg


@pytest.fixture(scope="module")
def clips(media_dir: Path) -> dict[str, Path]:
    """A 20 s testsrc2 clip; its re-encode; the same without its first 1.5 s (92.5% of it)."""
    d = media_dir / "trim"
    d.mkdir(exist_ok=True)
    out = {name: d / f"{name}.mp4" for name in ("item", "reencoded", "late_start")}
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "20", *X264, str(out["item"]))
    run_ffmpeg("-i", str(out["item"]), "-c:v", "libx264", "-crf", "30", "-pix_fmt", "yuv420p", str(out["reencoded"]))
    run_ffmpeg("-ss", "1.5", "-i", str(out["item"]), *X264, str(out["late_start"]))
    return out


@pytest.fixture(scope="module")
def archive(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("trim_archive") / "archive.sqlite"
    cli_json("archive", "add", "--archive", str(path), "--json", str(clips["item"]))
    return path


def match_of(clip: Path, archive: Path) -> dict:
    """The one match of ``check clip --archive archive --json``."""
    (match,) = cli_json("check", str(clip), "--archive", str(archive), "--json")["matches"]
    return match


def test_seconds_cut_from_the_start_are_a_trim_though_the_query_is_the_same_footage(
        clips: dict[str, Path], archive: Path) -> None:
    match = match_of(clips["late_start"], archive)
    assert match["verdict"] == "same" and match["archive_coverage"] >= 0.9
    (trim,) = [e for e in match["edit_details"] if e["name"] == "trim"]
    stretch = trim["details"].rsplit(": ", 1)[1]
    start, stop = (float(v) for v in stretch.split("-"))
    assert start == 0.0 and stop == pytest.approx(1.5, abs=0.3)


def test_a_reencode_of_the_whole_item_names_no_trim(clips: dict[str, Path], archive: Path) -> None:
    match = match_of(clips["reencoded"], archive)
    assert match["verdict"] == "same"
    assert "trim" not in match["edits"]
