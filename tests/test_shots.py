"""Shot cuts on real decoding: hard cuts where they were made, none in continuous motion, one for a
dissolve, cuts found inside padded pictures; keyframes cut to the picture's content box, the whole
frame kept beside them, and a contact sheet that names its file. The changes the detector compares,
computed as the frames come (``ShotChangeStream``), are bit for bit those of the whole arrays.

Clips are made with ffmpeg's lavfi sources; the corpus tests skip without ``../shared/corpus``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import corpus_path, run_ffmpeg

from provenance.checking import check
from provenance.fingerprinting import PDQ, content_frames, fingerprint
from provenance.frames.borders import border_runs
from provenance.frames.decode import decode_frames
from provenance.frames.keyframes import sheet_header
from provenance.frames.shots import (
    CUT_RATIO,
    ShotChanges,
    ShotChangeStream,
    ShotSignals,
    against_surroundings,
    changes,
    cuts_between,
    find_cuts,
    gradual_lag,
    lags_at,
    sample_rate,
)
from provenance.model import FULL_BOX, Fingerprint, SamplingParams

RATES = [2.0, 8.0]  # check's sampling, and the archive's (what triage takes a query's shots from)
ENCODE = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
SOURCES = {  # lavfi sources that differ from each other, most of them moving
    "testsrc2": "testsrc2=size=320x240:rate=25",
    "mandelbrot": "mandelbrot=size=320x240:rate=25",
    "life": "life=size=320x240:rate=25:seed=4:mold=10:ratio=0.5:life_color=#30d070:death_color=#c03030",
    "bars": "smptehdbars=size=320x240:rate=25",
    "cellauto": "cellauto=size=320x240:rate=25:rule=110:seed=5",
    "gradients": "gradients=size=320x240:rate=25:speed=0.05:seed=6:c0=0x2040a0:c1=0xe0c040",
}


def cut_starts(fp: Fingerprint) -> list[float]:
    """The start time of every shot but the first: where the cuts were placed."""
    return [shot.start for shot in fp.shots[1:]]


def concatenated(out: Path, pieces: list[tuple[str, float]], pad: str = "") -> list[float]:
    """Make ``out`` of lavfi ``pieces`` (source name, seconds) joined by hard cuts; each piece passes
    through ``pad`` first when given. Returns the true cut times."""
    args: list[str] = []
    graph = []
    for i, (name, seconds) in enumerate(pieces):
        args += ["-f", "lavfi", "-t", f"{seconds}", "-i", SOURCES[name]]
        graph.append(f"[{i}:v]setsar=1,format=yuv420p{',' + pad if pad else ''}[p{i}]")
    joined = "".join(f"[p{i}]" for i in range(len(pieces)))
    run_ffmpeg(*args, "-filter_complex", ";".join(graph) + f";{joined}concat=n={len(pieces)}:v=1:a=0[v]",
               "-map", "[v]", *ENCODE, str(out))
    return list(np.cumsum([seconds for _, seconds in pieces])[:-1])


def assert_cuts(found: list[float], truth: list[float]) -> None:
    """Exactly one cut within 0.5 s of each true one, and no other."""
    assert len(found) == len(truth), (found, truth)
    for got, want in zip(found, truth, strict=True):
        assert abs(got - want) <= 0.5, (found, truth)


@pytest.fixture(scope="module")
def hard_cuts(media_dir: Path) -> tuple[Path, list[float]]:
    """Six lavfi sources, 2 to 3.7 s each, cut together at uneven times."""
    out = media_dir / "shots_hard_cuts.mp4"
    pieces = [("testsrc2", 3.3), ("mandelbrot", 2.8), ("life", 3.0), ("bars", 2.2), ("cellauto", 3.7),
              ("gradients", 2.5)]
    return out, concatenated(out, pieces)


@pytest.mark.parametrize("fps", RATES)
def test_hard_cuts_are_found_where_they_were_made(hard_cuts: tuple[Path, list[float]], fps: float) -> None:
    clip, truth = hard_cuts
    assert_cuts(cut_starts(fingerprint(str(clip), SamplingParams(fps=fps))), truth)


@pytest.mark.parametrize("fps", RATES)
def test_a_cut_inside_a_padded_picture_is_found(media_dir: Path, fps: float) -> None:
    # the same black bars on both sides of the cut: the bars must not hide it
    out = media_dir / "shots_letterboxed_cut.mp4"
    truth = concatenated(out, [("testsrc2", 3.6), ("mandelbrot", 3.4), ("life", 3.0)],
                         pad="scale=320:150,pad=320:240:0:45:black")
    assert_cuts(cut_starts(fingerprint(str(out), SamplingParams(fps=fps))), truth)


@pytest.fixture(scope="module")
def moving_clips(media_dir: Path) -> dict[str, Path]:
    """Continuous single-camera motion, no cut: a pan across and a zoom into one picture, a scrolling
    pattern, and the fractal zoom with its exposure jumping up and down each second (a flickering light)."""
    picture = media_dir / "shots_picture.png"
    run_ffmpeg("-f", "lavfi", "-i", "mandelbrot=size=1280x960:end_pts=1:inner=mincol", "-frames:v", "1",
               str(picture))
    clips = {
        "pan": ("-loop", "1", "-framerate", "25", "-t", "12", "-i", str(picture), "-vf",
                "crop=320:240:x='(iw-320)*t/12':y='(ih-240)*t/24'"),
        "zoom": ("-loop", "1", "-framerate", "25", "-t", "10", "-i", str(picture), "-vf",
                 "zoompan=z='1+on/250':d=250:x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':s=320x240:fps=25"),
        "scroll": ("-f", "lavfi", "-t", "12", "-i", "testsrc2=size=320x240:rate=25", "-vf",
                   "scroll=horizontal=0.004:vertical=0.002"),
        "flicker": ("-f", "lavfi", "-t", "12", "-i", "mandelbrot=size=320x240:rate=25", "-vf",
                    "eq=brightness='0.12*(mod(floor(t),2)*2-1)':eval=frame"),
    }
    out = {}
    for name, args in clips.items():
        out[name] = media_dir / f"shots_moving_{name}.mp4"
        run_ffmpeg(*args, *ENCODE, str(out[name]))
    return out


@pytest.mark.parametrize("fps", RATES)
@pytest.mark.parametrize("name", ["pan", "zoom", "scroll", "flicker"])
def test_continuous_motion_makes_no_cut(moving_clips: dict[str, Path], name: str, fps: float) -> None:
    assert cut_starts(fingerprint(str(moving_clips[name]), SamplingParams(fps=fps))) == []


def test_surroundings_near_the_ends_keep_their_size() -> None:
    # a light flickering each second, sampled twice a second: every other step changes a lot; one step from
    # the end, a one-sided median saw only the small steps and made the last flicker a cut
    flicker = np.array([0.8 if i % 2 else 0.06 for i in range(23)])
    assert against_surroundings(flicker, 1, 2).max() < CUT_RATIO
    cut = np.full(23, 0.06)  # a real cut stands out at either end as in the middle
    for at in (1, 11, 21):
        changed = cut.copy()
        changed[at] = 0.8
        assert against_surroundings(changed, 1, 2)[at] >= CUT_RATIO


@pytest.mark.parametrize("fps", RATES)
def test_the_mandelbrot_zoom_is_one_shot(mandelbrot_clip: Path, fps: float) -> None:
    assert cut_starts(fingerprint(str(mandelbrot_clip), SamplingParams(fps=fps))) == []


@pytest.mark.parametrize("fps", RATES)
def test_a_dissolve_makes_at_most_one_cut_and_within_it(media_dir: Path, fps: float) -> None:
    out = media_dir / "shots_dissolve.mp4"
    if not out.exists():  # 4 s of the test pattern, a 1 s dissolve from 4 s, then the fractal
        run_ffmpeg("-f", "lavfi", "-t", "5", "-i", SOURCES["testsrc2"], "-f", "lavfi", "-t", "5",
                   "-i", SOURCES["mandelbrot"], "-filter_complex",
                   "[0:v]settb=AVTB[a];[1:v]settb=AVTB[b];[a][b]xfade=transition=fade:duration=1:offset=4[v]",
                   "-map", "[v]", *ENCODE, str(out))
    cuts = cut_starts(fingerprint(str(out), SamplingParams(fps=fps)))
    assert len(cuts) <= 1, cuts
    assert all(4.0 - 0.5 <= t <= 5.0 + 0.5 for t in cuts), cuts


# --- corpus -----------------------------------------------------------------------------------------------------

WORKSHOP_CUTS = [2.8, 6.8, 12.04, 16.84, 19.36]  # issue-195-aspect-ratio.mp4, each shot change seen on a contact sheet


@pytest.mark.corpus
def test_a_documentary_is_cut_where_its_shots_change() -> None:
    clip = corpus_path("workshop-documentary/issue-195-aspect-ratio.mp4")
    assert_cuts(cut_starts(fingerprint(str(clip))), WORKSHOP_CUTS)


@pytest.mark.corpus
def test_a_cut_between_low_detail_shots_is_found_once() -> None:
    # a plane far off in a grey sky (the first 3.4 s), cut to a field under the same sky
    cuts = cut_starts(fingerprint(str(corpus_path("plane-field/video_with_failing_audio.mp4"))))
    assert len(cuts) == 1 and 3.0 <= cuts[0] <= 4.0, cuts


@pytest.mark.corpus
@pytest.mark.parametrize("relative", ["traffic-camera/traffic_camera.mp4", "campus-surveillance/vtest.avi"])
def test_a_fixed_camera_is_one_shot(relative: str) -> None:
    fp = fingerprint(str(corpus_path(relative)))
    assert cut_starts(fp) == []


# --- keyframes --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def boxed_compilation(media_dir: Path) -> tuple[Path, list[float]]:
    """A letterboxed shot (the picture 320x150 in 320x240, black bars) cut to a pillarboxed one (200x240)."""
    out = media_dir / "shots_boxed_compilation.mp4"
    run_ffmpeg("-f", "lavfi", "-t", "4", "-i", SOURCES["testsrc2"], "-f", "lavfi", "-t", "4",
               "-i", SOURCES["mandelbrot"], "-filter_complex",
               "[0:v]scale=320:150,pad=320:240:0:45:black,setsar=1[a];"
               "[1:v]scale=200:240,pad=320:240:60:0:black,setsar=1[b];[a][b]concat=n=2:v=1:a=0[v]",
               "-map", "[v]", *ENCODE, str(out))
    return out, [4.0]


def test_keyframes_are_cut_to_the_picture_with_the_whole_frame_beside(
    boxed_compilation: tuple[Path, list[float]], tmp_path: Path
) -> None:
    clip, truth = boxed_compilation
    report = check(str(clip), keyframes_dir=str(tmp_path / "keys"))
    fp = report.fingerprint
    assert_cuts(cut_starts(fp), truth)
    assert len(report.keyframes) == 2
    for key, want in zip(report.keyframes, [(320, 150), (200, 240)], strict=True):
        cut = cv2.imread(key.path)
        full = cv2.imread(key.path.removesuffix(".jpg") + "_full.jpg")
        assert full.shape[:2] == (240, 320)
        height, width = cut.shape[:2]
        assert abs(width - want[0]) <= 4 and abs(height - want[1]) <= 4, (key.path, cut.shape)
        # no bar left in the picture: its outermost lines are not black
        edges = [cut[0], cut[-1], cut[:, 0], cut[:, -1]]
        assert min(float(edge.mean()) for edge in edges) > 12, [float(e.mean()) for e in edges]


def test_keyframes_of_a_full_frame_clip_are_not_doubled(mandelbrot_clip: Path, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    report = check(str(mandelbrot_clip), keyframes_dir=str(keys))
    assert len(report.keyframes) == 1
    assert not any(p.name.endswith("_full.jpg") for p in keys.iterdir())  # nothing was cut away: one file
    assert cv2.imread(report.keyframes[0].path).shape[:2] == (240, 320)


def test_the_contact_sheet_names_the_file_its_sha256_and_duration(mandelbrot_clip: Path, tmp_path: Path) -> None:
    digest = hashlib.sha256(mandelbrot_clip.read_bytes()).hexdigest()
    assert sheet_header("clip é.mp4", digest, 12.0, False) == [
        "file clip ?.mp4", f"SHA-256 {digest}", "duration 12.000 s (00:00:12.000)"]
    report = check(str(mandelbrot_clip), keyframes_dir=str(tmp_path / "keys"))
    sheet = cv2.imread(report.contact_sheet)
    thumb = cv2.imread(report.keyframes[0].path)
    # the header band above the thumbnails holds text (white on the dark sheet), and the sheet is wide
    # enough for the SHA-256
    band = sheet[: sheet.shape[0] - round(thumb.shape[0] * 320 / thumb.shape[1]) - 24]
    assert band.shape[0] >= 60 and (band > 200).any()
    assert sheet.shape[1] >= 640


# --- streaming --------------------------------------------------------------------------------------------------

WORK = 128  # SamplingParams().work_size


@pytest.fixture(scope="module")
def mixed_clip(media_dir: Path) -> Path:
    """The test pattern, a hard cut at 4 s to the fractal letterboxed (the borders change with it), and
    a 1 s dissolve from 7 s to the cellular automaton."""
    out = media_dir / "shots_mixed.mp4"
    run_ffmpeg("-f", "lavfi", "-t", "4", "-i", SOURCES["testsrc2"], "-f", "lavfi", "-t", "4",
               "-i", SOURCES["mandelbrot"], "-f", "lavfi", "-t", "5", "-i", SOURCES["cellauto"], "-filter_complex",
               "[0:v]setsar=1,format=yuv420p[a];[1:v]scale=320:150,pad=320:240:0:45:black,setsar=1,format=yuv420p[b];"
               "[a][b]concat=n=2:v=1:a=0,settb=AVTB[ab];[2:v]setsar=1,format=yuv420p,settb=AVTB[c];"
               "[ab][c]xfade=transition=fade:duration=1:offset=7[v]", "-map", "[v]", *ENCODE, str(out))
    return out


@pytest.fixture(scope="module")
def shot_clips(hard_cuts: tuple[Path, list[float]], boxed_compilation: tuple[Path, list[float]],
               mixed_clip: Path) -> dict[str, Path]:
    """Hard cuts; a letterboxed shot cut to a pillarboxed one; hard cut, border change and dissolve."""
    return {"hard cuts": hard_cuts[0], "boxed": boxed_compilation[0], "mixed": mixed_clip}


def detector_input(clip: Path, fps: float, keyframes_only: bool = False) -> tuple[np.ndarray, ...]:
    """What ``analyse`` hands the shot detector, from whole arrays: the sample times, the content and whole
    frames, each frame's border run and the content's packed PDQ hashes."""
    decoded = decode_frames(str(clip), fps=fps, width=WORK, height=WORK, keyframes_only=keyframes_only)
    gray = decoded.pixels
    runs = border_runs(gray, fps)
    content = content_frames(gray, [(a, b) for a, b, _ in runs], [box for _, _, box in runs])
    whole = content_frames(gray, [(0, len(gray))], [FULL_BOX])
    run_of = np.array([n for n, (a, b, _) in enumerate(runs) for _ in range(a, b)])
    return decoded.times, content, whole, run_of, PDQ.batch(content)[0]


def assert_identical(got: ShotChanges, want: ShotChanges) -> None:
    """The same lag, and every array the same dtype, shape and bytes."""
    assert got.lag == want.lag
    for name in ("step", "step_spread", "lagged", "lagged_spread"):
        a, b = getattr(got, name), getattr(want, name)
        assert (a.dtype, a.shape, a.tobytes()) == (b.dtype, b.shape, b.tobytes()), name


@pytest.mark.parametrize("fps", RATES)
def test_streamed_changes_are_the_whole_arrays_ones(shot_clips: dict[str, Path], fps: float) -> None:
    for name, clip in shot_clips.items():
        times, content, whole, run_of, pdq = detector_input(clip, fps)
        n = len(times)
        assert len(set(run_of.tolist())) >= 2 or name == "hard cuts"  # the borders change in the others
        one = ShotChangeStream()  # the whole arrays as one chunk, as find_cuts does
        one.add(content, whole, run_of)
        want = one.changes(times)
        lag = want.lag
        assert lag == gradual_lag(sample_rate(times)) and lags_at(fps) == (lag,)
        # the whole-array computation the detector made before it streamed
        signals = ShotSignals.of(content, whole, run_of)
        step = changes(signals, np.arange(n - 1), np.arange(1, n))
        lagged = changes(signals, np.arange(n - lag), np.arange(lag, n))
        assert_identical(want, ShotChanges(*step, *lagged, lag))
        for size in (1, 2, 5, 16, 128):  # chunk boundaries inside border runs and across them
            stream = ShotChangeStream(lags_at(fps))
            for i in range(0, n, size):
                stream.add(content[i : i + size], whole[i : i + size], run_of[i : i + size])
            assert_identical(stream.changes(times), want)
        stream = ShotChangeStream(lags_at(fps))  # as analyse feeds it: each run in chunks, its number with it
        for run in np.unique(run_of):
            members = np.flatnonzero(run_of == run)
            for i in range(members[0], members[-1] + 1, 3):
                stop = min(i + 3, members[-1] + 1)
                stream.add(content[i:stop], whole[i:stop], int(run))
        got = stream.changes(times)
        assert_identical(got, want)
        assert cuts_between(pdq, got, times) == find_cuts(pdq, content, times, whole=whole, runs=run_of)


@pytest.mark.parametrize("fps", RATES)
def test_analyse_cuts_where_the_whole_arrays_do(shot_clips: dict[str, Path], fps: float) -> None:
    for name, clip in shot_clips.items():
        times, content, whole, run_of, pdq = detector_input(clip, fps)
        cuts = find_cuts(pdq, content, times, whole=whole, runs=run_of)
        assert cuts, name
        assert cut_starts(fingerprint(str(clip), SamplingParams(fps=fps))) == [float(times[k]) for k in cuts], name


def test_fast_mode_cuts_where_the_whole_arrays_do(media_dir: Path) -> None:
    # a keyframe every half second or so, at scene changes too: irregular times, the lag known only at the end
    out = media_dir / "shots_short_gop.mp4"
    truth = concatenated(out, [("testsrc2", 3.3), ("mandelbrot", 2.8), ("life", 3.0), ("cellauto", 3.7)])
    run_ffmpeg("-i", str(out), "-c:v", "libx264", "-preset", "veryfast", "-g", "12", "-pix_fmt", "yuv420p",
               str(media_dir / "shots_short_gop_12.mp4"))
    clip = media_dir / "shots_short_gop_12.mp4"
    fp = fingerprint(str(clip), SamplingParams(keyframes_only=True))
    assert fp.params.keyframes_only and len(fp.frames) >= 20
    times, content, whole, run_of, pdq = detector_input(clip, fp.params.fps, keyframes_only=True)
    assert len(set(np.round(np.diff(times), 3).tolist())) > 1  # irregular
    cuts = find_cuts(pdq, content, times, whole=whole, runs=run_of)
    assert cut_starts(fp) == [float(times[k]) for k in cuts]
    assert_cuts(cut_starts(fp), truth)


def test_the_stream_keeps_only_the_last_lag_of_signals() -> None:
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (300, 32, 32), dtype=np.uint8)
    stream = ShotChangeStream(lags_at(8.0))
    for i in range(0, 300, 7):
        stream.add(frames[i : i + 7], frames[i : i + 7], i // 70)
        assert len(stream.tail.runs) == min(i + len(frames[i : i + 7]), 8) and stream.kept == []
    got = stream.changes(np.arange(300) / 8.0)
    assert (len(got.step), len(got.lagged), got.lag) == (299, 292, 8)


def test_changes_at_a_lag_the_times_do_not_give_are_refused() -> None:
    frames = np.random.default_rng(4).integers(0, 256, (40, 32, 32), dtype=np.uint8)
    stream = ShotChangeStream(lags_at(8.0))
    stream.add(frames, frames, 0)
    with pytest.raises(ValueError, match="lag of 2"):
        stream.changes(np.arange(40) / 2.0)  # the signals are gone: no other lag can be computed
    at_eight = stream.changes(np.arange(40) / 8.0)
    pdq = np.zeros((40, 32), dtype=np.uint8)
    with pytest.raises(ValueError, match="at a lag of 8"):
        cuts_between(pdq, at_eight, np.arange(40) / 2.0)


def test_the_lag_of_samples_at_k_over_fps_is_known_from_fps() -> None:
    # every rate --fps allows (0.1 to 30), on a grid and on the halves where rounding can tip either way
    rates = sorted({*np.round(np.arange(0.1, 30.0001, 0.05), 2).tolist(), *(k + 0.5 for k in range(30))})
    for fps in rates:
        for count in (3, 4, 5, 50, 1001, 28_800):
            assert gradual_lag(sample_rate(np.arange(count) / fps)) in lags_at(fps), (fps, count)
    assert lags_at(2.0) == (2,) and lags_at(8.0) == (8,)
    # at 2.5 a second the times' median spacing really does round both ways
    assert {gradual_lag(sample_rate(np.arange(count) / 2.5)) for count in range(3, 400)} == {2, 3}
