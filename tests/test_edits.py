"""Edits that re-shared footage suffers, on generated clips with known parameters.

Each query is made from an archived clip with one ffmpeg edit; the test checks that it still
matches, that the named edit is reported, and that its parameters are right within a tolerance.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from conftest import run_ffmpeg

from provenance.check import check
from provenance.ingest import add_files

X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-crf", "24"]


@pytest.fixture(scope="module")
def clips(media_dir: Path) -> dict[str, Path]:
    """Two archived 8 s clips and an unrelated background.

    ``cells`` (Conway's life, a generation every 0.4 s) changes locally without moving as a whole,
    so a crop of it cannot pass for another moment of it, as a crop of a zoom or a pan could.
    """
    specs = {
        "deep": "life=size=200x150:rate=2.5:seed=21:ratio=0.3:mold=6:life_color=#e0c040:death_color=#203060,"
                "scale=400:300:flags=neighbor,fps=25",
        "edge": "mandelbrot=size=400x300:rate=25:start_x=-1.25066:start_y=0.02012:start_scale=0.2",
        "background": "testsrc2=size=640x360:rate=25",
    }
    out = {}
    for name, spec in specs.items():
        path = media_dir / f"edit_src_{name}.mp4"
        if not path.exists():
            run_ffmpeg("-f", "lavfi", "-i", spec, "-t", "8", *X264, str(path))
        out[name] = path
    return out


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, clips: dict[str, Path]) -> str:
    path = str(tmp_path_factory.mktemp("edits") / "archive.sqlite")
    add_files(path, [str(clips["deep"]), str(clips["edge"])])
    return path


def query(src: Path, out: Path, graph: str, *inputs: Path) -> Path:
    """Make a query with a filter graph over ``src`` (input 0) and optional other inputs."""
    args = ["-i", str(src)]
    for extra in inputs:
        args += ["-stream_loop", "-1", "-i", str(extra)]
    run_ffmpeg(*args, "-filter_complex", graph, "-map", "[v]", "-an", "-t", "8", *X264, str(out))
    return out


def match_for(report, path: Path):
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    found = [m for m in report.matches if m.sha256 == sha]
    assert len(found) == 1, [(m.item_name, m.score) for m in report.matches]
    return found[0]


def numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+\.\d+", text)]


def edit(match, name: str) -> str:
    details = [e.details for e in match.edits if e.name == name]
    assert details, f"{name} not among {[e.name for e in match.edits]}"
    return details[0]


def test_crop_is_found_with_its_window(archive: str, clips: dict[str, Path], media_dir: Path) -> None:
    # keep x 0.10-0.80 and y 0.15-0.85 of the picture
    q = query(clips["deep"], media_dir / "e_crop.mp4", "[0:v]crop=iw*0.7:ih*0.7:iw*0.1:ih*0.15,scale=400:-2[v]")
    match = match_for(check(str(q), archive), clips["deep"])
    x0, x1, y0, y1 = numbers(edit(match, "crop"))
    assert (x0, x1, y0, y1) == (pytest.approx(0.10, abs=0.04), pytest.approx(0.80, abs=0.04),
                                pytest.approx(0.15, abs=0.04), pytest.approx(0.85, abs=0.04))
    assert match.segments[0].archive_start == pytest.approx(0.0, abs=1.0)


def test_picture_in_picture_is_found_with_its_place(archive: str, clips: dict[str, Path],
                                                    media_dir: Path) -> None:
    # the clip at 45 % of the width, in the top right corner of another video
    q = query(clips["deep"], media_dir / "e_pip.mp4",
              "[1:v]scale=640:360[bg];[0:v]scale=288:-2[fg];[bg][fg]overlay=W-w-16:16[v]", clips["background"])
    match = match_for(check(str(q), archive), clips["deep"])
    x0, x1, y0, y1 = numbers(edit(match, "pip"))
    assert x0 == pytest.approx((640 - 16 - 288) / 640, abs=0.04) and x1 == pytest.approx((640 - 16) / 640, abs=0.04)
    assert y0 == pytest.approx(16 / 360, abs=0.04) and y1 == pytest.approx((16 + 216) / 360, abs=0.05)


def test_mirrored_crop_names_both(archive: str, clips: dict[str, Path], media_dir: Path) -> None:
    q = query(clips["deep"], media_dir / "e_combo.mp4", "[0:v]crop=iw*0.8:ih*0.8:iw*0.1:ih*0.1,hflip[v]")
    match = match_for(check(str(q), archive), clips["deep"])
    names = {e.name for e in match.edits}
    assert {"hflip", "crop"} <= names


@pytest.mark.parametrize(("graph", "name", "words"), [
    ("[0:v]hflip[v]", "hflip", "mirrored"),
    ("[0:v]vflip[v]", "vflip", "upside down"),
    ("[0:v]transpose=1[v]", "rotate", "clockwise"),
    ("[0:v]transpose=2[v]", "rotate", "anticlockwise"),
    ("[0:v]scale=400:226,pad=400:300:0:37:black[v]", "pad", "y 0.12-0.88"),
])
def test_orientation_and_padding(archive: str, clips: dict[str, Path], media_dir: Path, graph: str, name: str,
                                 words: str) -> None:
    q = query(clips["deep"], media_dir / f"e_{name}_{abs(hash(graph))}.mp4", graph)
    match = match_for(check(str(q), archive), clips["deep"])
    assert words in edit(match, name)
    assert match.segments[0].archive_start == pytest.approx(0.0, abs=0.6)


def test_vertical_framing_over_blurred_copy(archive: str, clips: dict[str, Path], media_dir: Path) -> None:
    graph = ("[0:v]split=2[a][b];[a]scale=540:960:force_original_aspect_ratio=increase,crop=540:960,"
             "boxblur=20:2[bg];[b]scale=540:-2[fg];[bg][fg]overlay=(W-w)/2:(H-h)/2[v]")
    q = query(clips["edge"], media_dir / "e_vertical.mp4", graph)
    match = match_for(check(str(q), archive), clips["edge"])
    assert "pad" in {e.name for e in match.edits}


def test_unrelated_video_matches_nothing(archive: str, clips: dict[str, Path]) -> None:
    assert check(str(clips["background"]), archive).matches == ()
