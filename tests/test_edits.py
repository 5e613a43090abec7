"""Edits that re-shared footage suffers, on generated clips with known parameters.

Each query is made from an archived clip with one ffmpeg edit; the test checks that it still
matches, that the named edit is reported, and that its parameters are right within a tolerance.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import lavfi_clips, run_ffmpeg

from provenance.checking import check
from provenance.ingest.add import add_files
from provenance.vision.features import FrameFeatures, fit, inverse_box

X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-crf", "24"]


@pytest.fixture(scope="module")
def clips(media_dir: Path) -> dict[str, Path]:
    """Three archived 8 s clips and an unrelated background.

    ``deep`` (Conway's life, a generation every 0.4 s) changes locally without moving as a whole,
    so a crop of it cannot pass for another moment of it, as a crop of a zoom or a pan could.
    ``fine`` is life at ten generations a second: fine steps in time, for measuring speed.
    """
    specs = {
        "deep": "life=size=200x150:rate=2.5:seed=21:ratio=0.3:mold=6:life_color=#e0c040:death_color=#203060,"
                "scale=400:300:flags=neighbor,fps=25",
        "edge": "mandelbrot=size=400x300:rate=25:start_x=-1.25066:start_y=0.02012:start_scale=0.2",
        "fine": "life=size=200x150:rate=10:seed=5:ratio=0.3:mold=6:life_color=#40c0e0:death_color=#302010,"
                "scale=400:300:flags=neighbor,fps=25",
        "background": "testsrc2=size=640x360:rate=25",
    }
    return lavfi_clips(media_dir, "edit_src_", specs, 8, X264)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, clips: dict[str, Path]) -> str:
    path = str(tmp_path_factory.mktemp("edits") / "archive.sqlite")
    add_files(path, [str(clips["deep"]), str(clips["edge"]), str(clips["fine"])])
    return path


def query(src: Path, out: Path, graph: str, *inputs: Path) -> Path:
    """Make a query with a filter graph over ``src`` (input 0) and optional other inputs."""
    args = ["-i", str(src)]
    for extra in inputs:
        args += ["-stream_loop", "-1", "-i", str(extra)]
    run_ffmpeg(*args, "-filter_complex", graph, "-map", "[v]", "-an", "-t", "8", *X264, str(out))
    return out


def still(src: Path, out: Path, at: float, graph: str = "null") -> Path:
    """Grab the frame shown at ``at`` seconds of ``src`` as an image, through a filter graph."""
    run_ffmpeg("-ss", f"{at}", "-i", str(src), "-frames:v", "1", "-vf", graph, str(out))
    return out


def match_for(report, path: Path):
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    found = [m for m in report.matches if m.sha256 == sha]
    assert len(found) == 1, [(m.item_name, m.score) for m in report.matches]
    return found[0]


def numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+\.\d+", text)]


def assert_window(details: str, x0: float, x1: float, y0: float, y1: float, tolerance: float = 0.04) -> None:
    """The first four numbers of an edit's details are the window x0-x1, y0-y1, within ``tolerance``."""
    window = numbers(details)[:4]
    assert window == [pytest.approx(v, abs=tolerance) for v in (x0, x1, y0, y1)], details


def edit(match, name: str) -> str:
    details = [e.details for e in match.edits if e.name == name]
    assert details, f"{name} not among {[e.name for e in match.edits]}"
    return details[0]


def test_crop_is_found_with_its_window(archive: str, clips: dict[str, Path], media_dir: Path) -> None:
    # keep x 0.10-0.80 and y 0.15-0.85 of the picture
    q = query(clips["deep"], media_dir / "e_crop.mp4", "[0:v]crop=iw*0.7:ih*0.7:iw*0.1:ih*0.15,scale=400:-2[v]")
    match = match_for(check(str(q), archive), clips["deep"])
    assert_window(edit(match, "crop"), 0.10, 0.80, 0.15, 0.85)
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


def test_caption_and_logo_are_named_overlay(archive: str, clips: dict[str, Path], media_dir: Path) -> None:
    # a caption box over y 0.78-0.94 and a translucent logo box in the top right corner
    graph = ("[0:v]drawbox=x=0:y=ih*0.78:w=iw:h=ih*0.16:color=white@1:t=fill,"
             "drawbox=x=iw*0.82:y=ih*0.04:w=iw*0.14:h=ih*0.12:color=red@0.6:t=fill[v]")
    q = query(clips["deep"], media_dir / "e_overlay.mp4", graph)
    match = match_for(check(str(q), archive), clips["deep"])
    details = edit(match, "overlay")
    assert "bottom" in details
    _, _, y0, y1 = numbers(details)
    assert y0 <= 0.8 and y1 >= 0.9


def test_thin_caption_is_found_by_its_fixed_keypoints(archive: str, clips: dict[str, Path],
                                                      media_dir: Path) -> None:
    # a caption box over x 0.20-0.80, y 0.84-0.92: too thin to change the tone of a colour-grid cell much
    graph = ("[0:v]drawbox=x=iw*0.2:y=ih*0.84:w=iw*0.6:h=ih*0.08:color=black:t=fill,"
             "drawtext=text='BREAKING NEWS':x=w*0.22:y=h*0.85:fontsize=20:fontcolor=white[v]")
    q = query(clips["edge"], media_dir / "e_thin_caption.mp4", graph)
    match = match_for(check(str(q), archive), clips["edge"])
    details = edit(match, "overlay")
    x0, x1, y0, y1 = numbers(details)[:4]
    assert x0 == pytest.approx(0.2, abs=0.07) and x1 <= 0.85
    assert (y0, y1) == (pytest.approx(0.84, abs=0.07), pytest.approx(0.92, abs=0.07))


def test_plain_reencode_claims_no_overlay_or_colour(archive: str, clips: dict[str, Path], media_dir: Path) -> None:
    q = query(clips["edge"], media_dir / "e_plain.mp4", "[0:v]scale=320:-2[v]")
    match = match_for(check(str(q), archive), clips["edge"])
    assert not {"overlay", "color", "crop", "pip", "pad"} & {e.name for e in match.edits}


@pytest.mark.parametrize(("graph", "words", "size", "tolerance"), [
    ("eq=brightness=0.15:contrast=1.3", "contrast", 1.3, 0.1),
    # eq scales chroma; the grid's HSV saturation of a pixel grows less than linearly with chroma
    ("eq=saturation=0.4", "saturation", 0.4, 0.12),
    ("hue=h=90", "hue turned", 90.0, 10.0),
    ("hue=s=0", "made greyscale", None, None),
])
def test_colour_changes_are_named_with_their_size(archive: str, clips: dict[str, Path], media_dir: Path, graph: str,
                                                  words: str, size: float | None, tolerance: float | None) -> None:
    q = query(clips["deep"], media_dir / f"e_colour_{abs(hash(graph))}.mp4", f"[0:v]{graph}[v]")
    match = match_for(check(str(q), archive), clips["deep"])
    details = edit(match, "color")
    assert words in details
    if size is not None:
        measured = float(re.search(re.escape(words) + r" x?([+-]?\d+(?:\.\d+)?)", details).group(1))
        assert measured == pytest.approx(size, abs=tolerance), details
    if words != "hue turned":
        assert "hue" not in details  # no turn is claimed where none was made


def test_half_turn_is_named_rotate(archive: str, clips: dict[str, Path], media_dir: Path) -> None:
    q = query(clips["deep"], media_dir / "e_rot180.mp4", "[0:v]transpose=1,transpose=1[v]")
    match = match_for(check(str(q), archive), clips["deep"])
    assert "180" in edit(match, "rotate")


@pytest.mark.parametrize("factor", [0.8, 1.5])
def test_speed_factor_and_trim_are_measured(archive: str, clips: dict[str, Path], media_dir: Path,
                                            factor: float) -> None:
    # archive seconds 1.0-7.0 played at ``factor``: the query lasts 6 / factor seconds
    q = query(clips["fine"], media_dir / f"e_speed_{factor}.mp4",
              f"[0:v]trim=start=1:end=7,setpts=(PTS-STARTPTS)/{factor}[v]")
    match = match_for(check(str(q), archive), clips["fine"])
    assert match.speed == pytest.approx(factor, rel=0.05)
    assert numbers(edit(match, "speed"))[0] == pytest.approx(factor, rel=0.05)
    assert "trim" in {e.name for e in match.edits}
    seg = match.segments[0]
    assert seg.archive_start == pytest.approx(1.0, abs=0.5)
    # the query ends where the archive's 7.0 s plays: its last sample stands for what is left of the
    # query after it, up to the container's duration, not a whole sampling step beyond the end
    assert match.segments[-1].archive_end == pytest.approx(7.0, abs=0.3)


def test_crop_mirror_caption_and_trim_together(archive: str, clips: dict[str, Path], media_dir: Path) -> None:
    graph = ("[0:v]trim=start=1.6:end=7.6,setpts=PTS-STARTPTS,crop=iw*0.84:ih*0.84:iw*0.08:ih*0.08,hflip,"
             "drawbox=x=0:y=ih*0.8:w=iw:h=ih*0.15:color=white:t=fill,scale=320:-2,fps=20[v]")
    q = query(clips["deep"], media_dir / "e_combo_all.mp4", graph)
    match = match_for(check(str(q), archive), clips["deep"])
    assert {"hflip", "crop", "overlay", "trim"} <= {e.name for e in match.edits}
    assert_window(edit(match, "crop"), 0.08, 0.92, 0.08, 0.92)
    assert match.segments[0].archive_start == pytest.approx(1.6, abs=0.7)


def test_cropped_captioned_screenshot_matches_at_its_moment(archive: str, clips: dict[str, Path],
                                                          media_dir: Path) -> None:
    shot = still(clips["deep"], media_dir / "e_screenshot.png", 5.3,
                 "crop=iw*0.8:ih*0.8:iw*0.1:ih*0.05,drawbox=x=0:y=ih*0.82:w=iw:h=ih*0.18:color=black:t=fill")
    match = match_for(check(str(shot), archive), clips["deep"])
    (seg,) = match.segments
    assert seg.query_start == seg.query_end == 0.0
    assert seg.archive_start == pytest.approx(5.3, abs=0.5)
    assert_window(edit(match, "crop"), 0.10, 0.90, 0.05, 0.85)
    assert "trim" not in {e.name for e in match.edits}


def test_video_matches_an_archived_photo(clips: dict[str, Path], media_dir: Path,
                                         tmp_path: Path) -> None:
    photo = still(clips["deep"], media_dir / "e_photo.png", 3.0)
    photo_archive = str(tmp_path / "photos.sqlite")
    add_files(photo_archive, [str(photo)])
    q = query(clips["deep"], media_dir / "e_small.mp4", "[0:v]scale=320:-2[v]")
    match = match_for(check(str(q), photo_archive), photo)
    (seg,) = match.segments
    assert seg.archive_start == seg.archive_end == 0.0
    assert seg.query_start == pytest.approx(3.0, abs=0.5)


def test_aspect_change_is_not_mistaken_for_a_stretch() -> None:
    """A 16:9 picture framed across a 9:16 canvas: in 0..1 coordinates it is scaled three times more
    down than across, but in pixels it keeps its proportions, so the fit must accept it."""
    rng = np.random.default_rng(3)
    archived_pts = rng.uniform(0.05, 0.95, size=(200, 2)).astype(np.float32)
    top = (1 - (9 / 16) ** 2) / 2  # the picture's height share of the canvas is (9/16) / (16/9)
    query_pts = np.column_stack([archived_pts[:, 0], top + archived_pts[:, 1] * (9 / 16) ** 2]).astype(np.float32)
    descriptors = np.zeros((200, 32), np.uint8)
    query_frame = FrameFeatures(0.0, query_pts, descriptors, 9 / 16)
    archived_frame = FrameFeatures(0.0, archived_pts, descriptors, 16 / 9)
    pair = fit(query_frame, archived_frame, query_pts, archived_pts, 0, False)
    assert pair is not None and pair.inliers >= 190
    x0, y0, x1, y1 = inverse_box(pair.affine)
    assert (x0, x1) == (pytest.approx(0.0, abs=0.01), pytest.approx(1.0, abs=0.01))
    assert (y0, y1) == (pytest.approx(top, abs=0.01), pytest.approx(1 - top, abs=0.01))
