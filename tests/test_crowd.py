"""Answers that do not depend on what else is archived: a match found against a small archive is still
found after other footage of the same scene is added.

A still that crops an archived clip's picture is found by local features; once a re-share of that
cropped picture is archived too, its frame hashes match the still, and the crop of the original must
not be lost for it. Made with ffmpeg lavfi sources, archived (real SQLite) and checked through the CLI.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import X264, cli_json, run_ffmpeg


@pytest.fixture(scope="module")
def clips(media_dir: Path) -> dict[str, Path]:
    """A 6 s mandelbrot clip; a still cropping the middle of its frame at 3 s, enlarged; a 3 s clip
    of that cropped picture (a re-share of the still)."""
    d = media_dir / "crowd"
    d.mkdir(exist_ok=True)
    out = {"original": d / "original.mp4", "still": d / "crop.jpg", "reshare": d / "reshare.mp4"}
    run_ffmpeg("-f", "lavfi", "-i", "mandelbrot=size=480x360:rate=25", "-t", "6", *X264, str(out["original"]))
    run_ffmpeg("-ss", "3", "-i", str(out["original"]), "-frames:v", "1", "-vf",
               "crop=iw*0.55:ih*0.55:iw*0.2:ih*0.25,scale=640:480", "-q:v", "2", str(out["still"]))
    run_ffmpeg("-loop", "1", "-i", str(out["still"]), "-t", "3", "-r", "25", *X264, str(out["reshare"]))
    return out


def names(record: dict) -> set[str]:
    """The names of the matched items."""
    return {m["name"] for m in record["matches"]}


def test_a_cropped_still_keeps_its_original_when_a_reshare_of_it_is_archived(
        clips: dict[str, Path], tmp_path: Path) -> None:
    small = tmp_path / "small.sqlite"
    cli_json("archive", "add", "--archive", str(small), "--json", str(clips["original"]))
    alone = cli_json("check", str(clips["still"]), "--archive", str(small), "--json")
    assert names(alone) == {"original.mp4"}, alone["matches"]
    crowded = tmp_path / "crowded.sqlite"
    shutil.copyfile(small, crowded)
    for side in small.parent.glob("small.sqlite.*"):  # the side files of the archive's indexes
        if side.is_dir():
            shutil.copytree(side, crowded.parent / side.name.replace("small", "crowded"))
    cli_json("archive", "add", "--archive", str(crowded), "--json", str(clips["reshare"]))
    record = cli_json("check", str(clips["still"]), "--archive", str(crowded), "--json")
    assert names(record) == {"original.mp4", "reshare.mp4"}, record["matches"]
    first = next(m for m in alone["matches"] if m["name"] == "original.mp4")
    again = next(m for m in record["matches"] if m["name"] == "original.mp4")
    assert again["verdict"] == first["verdict"]
    assert again["segments"] == first["segments"]
    assert {e for e in again["edits"]} == {e for e in first["edits"]}
