"""Matching on generated clips with known offsets: trims, speed, compilations, stills, negatives."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import lavfi_clips, run_ffmpeg

from provenance.checking import check
from provenance.ingest.add import add_files
from provenance.model import Sighting

X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]


@pytest.fixture(scope="module")
def sources(media_dir: Path) -> dict[str, Path]:
    """Three unrelated 20 s sources, and one never archived."""
    specs = {
        "fractal": "mandelbrot=size=320x240:rate=25",  # a slow zoom
        # a new generation every 0.4 s, shown at 25 fps
        "cells": "life=size=160x120:rate=2.5:seed=11:ratio=0.25:mold=8,scale=320:240:flags=neighbor,fps=25",
        "spiral": "mandelbrot=size=320x240:rate=25:start_x=-1.25066:start_y=0.02012:start_scale=0.2",
        "other": "testsrc2=size=320x240:rate=25",
    }
    return lavfi_clips(media_dir, "src_", specs, 20, X264)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, sources: dict[str, Path]) -> str:
    """An archive of the fractal, cells and spiral sources, with dated sightings."""
    path = str(tmp_path_factory.mktemp("arch") / "archive.sqlite")
    add_files(path, [str(sources["fractal"])], sighting=Sighting(platform="youtube", first_seen="2020-10-05"))
    add_files(path, [str(sources["cells"]), str(sources["spiral"])],
              sighting=Sighting(platform="telegram", first_seen="2022-03-01"))
    return path


def edit(src: Path, out: Path, vf: str, *extra: str) -> Path:
    """Apply a video filter chain and re-encode (no audio)."""
    run_ffmpeg("-i", str(src), "-vf", vf, "-an", *X264, "-crf", "28", *extra, str(out))
    return out


def only(report, sha: str):
    found = [m for m in report.matches if m.sha256 == sha]
    assert len(found) == 1, [(m.item_name, m.score) for m in report.matches]
    return found[0]


def sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_identical_file(archive: str, sources: dict[str, Path]) -> None:
    report = check(str(sources["cells"]), archive)
    match = only(report, sha(sources["cells"]))
    assert match.verdict == "identical" and match.score == 1.0
    assert match.edits == ()


def test_trimmed_reencode_with_offset(archive: str, sources: dict[str, Path], media_dir: Path) -> None:
    query = edit(sources["cells"], media_dir / "q_trim.mp4",
                 "trim=start=6.2:end=14.2,setpts=PTS-STARTPTS,scale=240:180,fps=15")
    report = check(str(query), archive)
    match = only(report, sha(sources["cells"]))
    assert len(report.matches) == 1
    assert match.verdict == "clip_of_item"
    (seg,) = match.segments
    assert seg.query_start == pytest.approx(0.0, abs=0.5)
    assert seg.query_end == pytest.approx(8.0, abs=0.6)
    assert seg.archive_start == pytest.approx(6.2, abs=0.6)
    assert seg.archive_end == pytest.approx(14.2, abs=0.6)
    assert match.speed == pytest.approx(1.0, abs=0.03)
    assert {"trim", "reencode"} <= {e.name for e in match.edits}
    assert match.query_coverage > 0.9 and 0.3 < match.archive_coverage < 0.5


def test_speed_change_is_measured(archive: str, sources: dict[str, Path], media_dir: Path) -> None:
    query = edit(sources["spiral"], media_dir / "q_speed.mp4",
                 "trim=start=2.2:end=17,setpts=(PTS-STARTPTS)/1.25")
    match = only(check(str(query), archive), sha(sources["spiral"]))
    assert match.speed == pytest.approx(1.25, abs=0.05)
    assert "speed" in {e.name for e in match.edits}
    assert match.segments[0].archive_start == pytest.approx(2.2, abs=0.7)


def test_compilation_lists_both_sources_with_their_segments(
    archive: str, sources: dict[str, Path], media_dir: Path
) -> None:
    out = media_dir / "q_compilation.mp4"
    run_ffmpeg(
        "-i", str(sources["other"]), "-i", str(sources["cells"]), "-i", str(sources["fractal"]),
        "-filter_complex",
        "[0:v]trim=0:4,setpts=PTS-STARTPTS[a];[1:v]trim=3.3:9.3,setpts=PTS-STARTPTS[b];"
        "[2:v]trim=10:16,setpts=PTS-STARTPTS[c];[a][b][c]concat=n=3:v=1:a=0[v]",
        "-map", "[v]", *X264, str(out),
    )
    report = check(str(out), archive)
    cells, fractal = only(report, sha(sources["cells"])), only(report, sha(sources["fractal"]))
    assert len(report.matches) == 2
    (seg_b,) = cells.segments
    assert (seg_b.query_start, seg_b.archive_start) == (pytest.approx(4.0, abs=0.6), pytest.approx(3.3, abs=0.6))
    assert seg_b.query_end == pytest.approx(10.0, abs=0.6)
    (seg_c,) = fractal.segments
    assert (seg_c.query_start, seg_c.archive_start) == (pytest.approx(10.0, abs=0.6), pytest.approx(10.0, abs=0.8))
    assert cells.verdict == fractal.verdict == "contains_parts"
    # earliest appearance: the fractal was seen in 2020, before the cells (2022)
    assert report.appearance is not None
    assert report.appearance.earliest_sha256 == sha(sources["fractal"])


def test_still_frame_of_archived_video(archive: str, sources: dict[str, Path], media_dir: Path) -> None:
    still = media_dir / "q_frame.jpg"
    run_ffmpeg("-i", str(sources["fractal"]), "-vf", "trim=start=7.1,setpts=PTS-STARTPTS", "-frames:v", "1",
               str(still))
    match = only(check(str(still), archive), sha(sources["fractal"]))
    (seg,) = match.segments
    assert seg.query_start == seg.query_end == 0.0
    assert seg.archive_start == pytest.approx(7.1, abs=1.0)


def test_unrelated_clip_matches_nothing(archive: str, sources: dict[str, Path]) -> None:
    report = check(str(sources["other"]), archive)
    assert report.matches == ()
    assert report.appearance is not None and "No archived item matches" in report.appearance.statement


def test_claimed_date_later_than_earliest_is_stated(archive: str, sources: dict[str, Path], media_dir: Path) -> None:
    query = edit(sources["fractal"], media_dir / "q_claim.mp4", "trim=start=1:end=12,setpts=PTS-STARTPTS")
    report = check(str(query), archive, claimed_date="2024-02-24")
    assert report.appearance is not None
    statement = report.appearance.statement
    assert "2020-10-05" in statement and "2024-02-24" in statement and "older than claimed" in statement
