"""Edits named on footage of the kinds that were missed: short clips played at another speed,
translucent captions and logos over moving footage, and an inset over other footage that is plain
enough to pass for a border.

Every query is made with ffmpeg from an archived lavfi clip with a known edit; the test checks the
edit's name (and, where one is measured, its size) and that edits that were not made are not named.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import lavfi_clips, run_ffmpeg

from provenance.checking import check
from provenance.ingest.add import add_files
from provenance.vision.features import extract, pair_frames
from provenance.vision.overlays import AlignedFrame, find_overlay

X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-crf", "26"]


@pytest.fixture(scope="module")
def clips(media_dir: Path) -> dict[str, Path]:
    """Three archived 8 s clips and a background that is never archived.

    ``fine`` (Conway's life, ten generations a second) changes at every sample, so its moments are
    told apart finely; ``zoom`` (a Mandelbrot zoom) moves everywhere at once, so nothing in it
    stays at the same pixels; ``flicker`` (another Mandelbrot zoom) flickers like old film. ``haze``
    is other footage with little detail: a camera panning across a test pattern blurred far beyond
    recognition.
    """
    specs = {
        "fine": "life=size=200x150:rate=10:seed=7:ratio=0.3:mold=6:life_color=#40c0e0:death_color=#302010,"
                "scale=400:300:flags=neighbor,fps=25",
        "zoom": "mandelbrot=size=480x270:rate=25:start_x=-1.25066:start_y=0.02012:start_scale=0.2",
        "haze": "testsrc2=size=1600x480:rate=25,gblur=sigma=40,crop=854:480:x=t*60:y=0",
        "flicker": "mandelbrot=size=640x360:rate=25,eq=brightness='0.03*sin(2*PI*t*0.45)':eval=frame",
    }
    return lavfi_clips(media_dir, "name_src_", specs, 8, X264)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, clips: dict[str, Path]) -> str:
    path = str(tmp_path_factory.mktemp("names") / "archive.sqlite")
    add_files(path, [str(clips["fine"]), str(clips["zoom"]), str(clips["flicker"])])
    return path


def query(out: Path, graph: str, *inputs: Path, seconds: float = 8.0) -> Path:
    """A query made with ``graph`` over ``inputs`` (input 0 first; later ones looped)."""
    args: list[str] = []
    for n, path in enumerate(inputs):
        args += (["-stream_loop", "-1"] if n else []) + ["-i", str(path)]
    run_ffmpeg(*args, "-filter_complex", graph, "-map", "[v]", "-an", "-t", f"{seconds:g}", *X264, str(out))
    return out


def match_for(path: Path, archive: str, archived: Path):
    """The one match of ``path`` with the archived clip ``archived``."""
    sha = hashlib.sha256(archived.read_bytes()).hexdigest()
    report = check(str(path), archive)
    found = [m for m in report.matches if m.sha256 == sha]
    assert len(found) == 1, [(m.item_name, m.score) for m in report.matches]
    return found[0]


def names(match) -> set[str]:
    return {e.name for e in match.edits}


@pytest.mark.parametrize(("factor", "start", "length"), [(0.8, 2.0, 2.4), (1.25, 3.0, 3.75), (0.8, 1.0, 5.0)])
def test_speed_is_named_on_a_short_clip(archive: str, clips: dict[str, Path], media_dir: Path, factor: float,
                                        start: float, length: float) -> None:
    """``length`` archive seconds played at x0.8 or x1.25 (3 to 6 s of query): too short for the drift
    to leave the vote's offset bins, so only the residuals of the frame pairs show the speed."""
    out = media_dir / f"n_speed_{factor}_{start}_{length}.mp4"
    q = query(out, f"[0:v]trim=start={start}:end={start + length},setpts=(PTS-STARTPTS)/{factor}[v]", clips["fine"])
    match = match_for(q, archive, clips["fine"])
    assert "speed" in names(match), [(e.name, e.details) for e in match.edits]
    assert match.speed == pytest.approx(factor, abs=0.08)
    assert match.segments[0].archive_start == pytest.approx(start, abs=0.5)


@pytest.mark.parametrize("length", [2.0, 3.0, 6.0])
def test_normal_speed_is_not_named_on_a_short_clip(archive: str, clips: dict[str, Path], media_dir: Path,
                                                   length: float) -> None:
    """A short plain trim, re-encoded at another frame rate: its frame pairs scatter by the sampling,
    which is no speed change."""
    q = query(media_dir / f"n_plain_{length}.mp4", f"[0:v]trim=start=1.3:end={1.3 + length},setpts=PTS-STARTPTS,"
              "fps=24,scale=320:-2[v]", clips["fine"])
    match = match_for(q, archive, clips["fine"])
    assert "speed" not in names(match)
    assert match.speed == 1.0


def test_caption_on_a_translucent_box_over_changing_footage_is_an_overlay(archive: str, clips: dict[str, Path],
                                                                         media_dir: Path) -> None:
    """A caption on a translucent box, as news re-shares burn them in: the footage seen through the
    box changes the keypoints of the letters from frame to frame, but the letters stay at the same pixels."""
    graph = ("[0:v]drawtext=text='EXCLUSIVE FOOTAGE':fontsize=22:fontcolor=white:x=(w-text_w)/2:y=h*0.8:"
             "box=1:boxcolor=black@0.6:boxborderw=6[v]")
    q = query(media_dir / "n_overlay.mp4", graph, clips["fine"])
    match = match_for(q, archive, clips["fine"])
    overlay = [e.details for e in match.edits if e.name == "overlay"]
    assert overlay, [(e.name, e.details) for e in match.edits]
    assert "a band across the bottom" in overlay[0]


def test_plain_copy_of_moving_footage_names_no_overlay(archive: str, clips: dict[str, Path], media_dir: Path) -> None:
    q = query(media_dir / "n_no_overlay.mp4", "[0:v]scale=400:-2,fps=20[v]", clips["zoom"])
    match = match_for(q, archive, clips["zoom"])
    assert not {"overlay", "pip", "pad", "crop", "speed"} & names(match)


def test_centred_inset_over_plain_moving_footage_is_picture_in_picture(archive: str, clips: dict[str, Path],
                                                                       media_dir: Path) -> None:
    """The clip at 45 % of the width, centred over other footage so blurred that the border finder
    takes it for padding: the footage around it changes over time, and not as the picture does."""
    graph = ("[1:v]scale=854:480,setsar=1[bg];[0:v]scale=384:-2[fg];"
             "[bg][fg]overlay=(W-w)/2:(H-h)/2:shortest=1[v]")
    q = query(media_dir / "n_pip_centred.mp4", graph, clips["fine"], clips["haze"])
    match = match_for(q, archive, clips["fine"])
    assert "pip" in names(match) and "pad" not in names(match), [(e.name, e.details) for e in match.edits]


def test_centred_inset_over_a_still_canvas_is_padding(archive: str, clips: dict[str, Path], media_dir: Path) -> None:
    """The same inset over a still, plain picture (one frame of the blurred pattern): a canvas, not footage."""
    graph = ("[1:v]trim=end_frame=1,loop=loop=-1:size=1,scale=854:480,setsar=1[bg];[0:v]scale=384:-2[fg];"
             "[bg][fg]overlay=(W-w)/2:(H-h)/2:shortest=1[v]")
    q = query(media_dir / "n_pad_canvas.mp4", graph, clips["fine"], clips["haze"])
    match = match_for(q, archive, clips["fine"])
    assert "pad" in names(match) and "pip" not in names(match), [(e.name, e.details) for e in match.edits]


def test_vertical_framing_over_its_own_blurred_copy_is_padding(archive: str, clips: dict[str, Path],
                                                              media_dir: Path) -> None:
    """The flickering clip framed for a phone as social media does it: across a 9:16 canvas, over
    itself enlarged to cover the canvas, blurred and darkened. The copy is enlarged three times, more
    than the archived colour grid resolves, but its brightness follows the picture's: padding."""
    graph = ("[0:v]split=2[bgsrc][fgsrc];[bgsrc]scale=720:1280:force_original_aspect_ratio=increase,crop=720:1280,"
             "boxblur=20:2,eq=brightness=-0.08[bg];[fgsrc]scale=720:1088:force_original_aspect_ratio=decrease,"
             "setsar=1[fg];[bg][fg]overlay=(W-w)/2:(H-h)/2,setsar=1,format=yuv420p[v]")
    q = query(media_dir / "n_pad_vertical_copy.mp4", graph, clips["flicker"])
    match = match_for(q, archive, clips["flicker"])
    assert "pad" in names(match) and "pip" not in names(match), [(e.name, e.details) for e in match.edits]


def rgb_frames(path: Path, width: int, height: int) -> np.ndarray:
    """Two frames a second of a clip, decoded by ffmpeg as (N, height, width, 3) RGB."""
    raw = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(path), "-vf", f"fps=2,scale={width}:{height}",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def test_caption_at_the_frame_edge_survives_one_stray_map(media_dir: Path) -> None:
    """A caption band across the bottom eighth of the frame, and one frame pair whose fitted map came
    out 5 % too large (a stray fit puts the archived picture's edge inside the query frame): the
    picture's area is where most frames put it, so the caption at the edge is still seen."""
    source = media_dir / "n_edge_source.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "life=size=160x120:rate=2.5:seed=21:ratio=0.3:mold=6:life_color=#e0c040:"
               "death_color=#203060,scale=640:480:flags=neighbor,fps=25", "-t", "6", *X264, str(source))
    captioned = media_dir / "n_edge_caption.mp4"
    run_ffmpeg("-i", str(source), "-vf", "drawbox=x=0:y=ih*0.88:w=iw:h=ih*0.12:color=black:t=fill,"
               "drawtext=text='BREAKING NEWS FROM THE FRONT':fontsize=26:fontcolor=white:x=(w-text_w)/2:y=h*0.9",
               *X264, str(captioned))
    archived, shown = rgb_frames(source, 640, 480), rgb_frames(captioned, 640, 480)
    count = min(len(archived), len(shown))
    times = np.arange(count) / 2.0
    query_features, archive_features = extract(shown[:count], times), extract(archived[:count], times)
    aligned = [AlignedFrame(q, pair, a) for n, (q, a) in enumerate(zip(query_features, archive_features, strict=True))
               if (pair := pair_frames(q, a, n, False)) is not None]
    assert len(aligned) >= 8
    stray = aligned[2].pair
    aligned[2] = replace(aligned[2], pair=replace(stray, affine=np.hstack([stray.affine[:, :2] * 1.05,
                                                                           stray.affine[:, 2:]])))
    found = find_overlay(aligned)
    assert found is not None and "a band across the bottom" in found.details
