"""Coverage counts evidence, not frames: footage with long stretches of no detail (a fixed camera over a
flat car park), its identical copy and its re-encoded trim; a loop of a short clip; and ``check`` and
``triage`` saying the same of the same files.

The car park is made with ffmpeg lavfi sources: a faint grey gradient with a little sensor noise and
a small dark box moving across (its frames fall below the PDQ quality cut), and a patterned "car"
(``testsrc2``) crossing for 3 s in every 6 (its frames carry detail). Everything is decoded, hashed,
archived (real SQLite) and checked for real, through the CLI.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import corpus_path, run_ffmpeg

from provenance.cli.app import cli
from provenance.codec import from_jsonable
from provenance.fingerprinting import fingerprint
from provenance.hashing.pdq import MIN_QUALITY
from provenance.model import Segment

X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
CAR_PARK = ("gradients=s=320x240:c0=0x5a5a5a:c1=0x6e6e6e:x0=0:y0=0:x1=320:y1=240:speed=0.0001:r=25:seed=1")


def invoke(*args: str) -> dict:
    """Run the CLI in-process and parse its JSON output."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def check(path: Path, archive: Path) -> dict:
    """``provenance check PATH --archive ARCHIVE --json``, parsed."""
    return invoke("check", str(path), "--archive", str(archive), "--json")


def archive_add(archive: Path, *paths: Path) -> None:
    """``provenance archive add`` of the paths."""
    invoke("archive", "add", "--archive", str(archive), "--json", *map(str, paths))


def only_match(record: dict) -> dict:
    """The one match of a check record."""
    assert len(record["matches"]) == 1, [(m["name"], m["verdict"]) for m in record["matches"]]
    return record["matches"][0]


@pytest.fixture(scope="module")
def clips(media_dir: Path) -> dict[str, Path]:
    """The car park (20 s), its copy, its trim, a mirrored, cropped and captioned re-share of it and an
    edit; a 3 s textured clip and its 8x loop; a clip with no detail at all and its copy; an unrelated clip."""
    d = media_dir / "low_detail"
    d.mkdir(exist_ok=True)
    out = {name: d / f"{name}.mp4" for name in
           ("carpark", "copy", "trim", "reshared", "replaced", "short", "loop", "flat", "flat_copy", "unrelated")}
    run_ffmpeg("-f", "lavfi", "-i", CAR_PARK, "-f", "lavfi", "-i", "testsrc2=s=120x90:r=25",
               "-f", "lavfi", "-i", "color=c=0x303030:s=6x12:r=25", "-filter_complex",
               "[0]format=yuv420p,noise=alls=2:allf=t[bg];"
               "[bg][1]overlay=x='mod(t,6)*90-120':y=80:enable='lt(mod(t,6),3)'[a];"
               "[a][2]overlay=x='40+t*8':y=180[v]", "-map", "[v]", "-t", "20", *X264, str(out["carpark"]))
    shutil.copyfile(out["carpark"], out["copy"])
    run_ffmpeg("-ss", "4", "-t", "10", "-i", str(out["carpark"]), *X264, str(out["trim"]))
    # 2-16 s mirrored, cropped to its middle 80 %, a caption bar across the bottom
    run_ffmpeg("-ss", "2", "-t", "14", "-i", str(out["carpark"]), "-vf",
               "hflip,crop=iw*0.8:ih*0.8:iw*0.1:ih*0.1,drawbox=x=0:y=ih*0.82:w=iw:h=ih*0.12:color=white:t=fill,"
               "scale=320:240,setsar=1", *X264, "-crf", "24", str(out["reshared"]))
    # the same footage, but its flat stretch 9-12 s shows another flat picture (the gradient the other
    # way) and 15-18 s black: at the aligned times the archive is flat too, but not that flat picture
    run_ffmpeg("-i", str(out["carpark"]), "-f", "lavfi", "-i", CAR_PARK.replace("x0=0:", "x0=320:").replace(
        "x1=320:", "x1=0:"), "-filter_complex",
        "[1]format=yuv420p,noise=alls=2:allf=t[o];[0][o]overlay=enable='between(t,8.9,12.2)',"
        "drawbox=c=black:t=fill:enable='between(t,14.9,18.2)'[v]", "-map", "[v]", "-t", "20", *X264,
        str(out["replaced"]))
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "3", *X264, str(out["short"]))
    run_ffmpeg("-stream_loop", "7", "-i", str(out["short"]), *X264, str(out["loop"]))
    run_ffmpeg("-f", "lavfi", "-i", "color=c=0x646464:s=320x240:r=25", "-vf", "noise=alls=2:allf=t", "-t", "4",
               *X264, str(out["flat"]))
    shutil.copyfile(out["flat"], out["flat_copy"])
    run_ffmpeg("-f", "lavfi", "-i", "mandelbrot=size=320x240:rate=25", "-t", "4", *X264, str(out["unrelated"]))
    return out


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, clips: dict[str, Path]) -> Path:
    """An archive of the car park, the short textured clip and the flat clip (each once)."""
    path = tmp_path_factory.mktemp("low_detail_archive") / "archive.sqlite"
    archive_add(path, clips["carpark"], clips["short"], clips["flat"])
    return path


def low_share(path: Path) -> float:
    """The share of a clip's 2-per-second samples below the PDQ quality cut, with the real hashing."""
    frames = fingerprint(str(path)).frames
    return sum(f.pdq_quality < MIN_QUALITY for f in frames) / len(frames)


def test_the_car_park_is_mostly_low_detail(clips: dict[str, Path]) -> None:
    share = low_share(clips["carpark"])
    assert 0.4 <= share <= 0.7, share  # measured 0.55: long flat stretches, and the car's stretches
    assert low_share(clips["flat"]) == 1.0


def test_identical_copy_covers_all_of_both_in_one_segment(clips: dict[str, Path], archive: Path) -> None:
    record = check(clips["copy"], archive)
    match = only_match(record)
    assert match["verdict"] == "identical"
    assert match["query_coverage"] == 1.0 and match["archive_coverage"] == 1.0
    (segment,) = match["segments"]
    assert (segment["query_start"], segment["archive_start"]) == (0.0, 0.0)
    assert segment["query_end"] == pytest.approx(20.0, abs=0.1)
    assert segment["archive_end"] == pytest.approx(20.0, abs=0.1)
    assert segment["low_detail"] == pytest.approx(low_share(clips["copy"]) * 20.0, abs=0.6)
    assert record["archive_verdict"]["verdict"] == "known"


def test_identical_copy_of_a_clip_with_no_detail_at_all_is_found(clips: dict[str, Path], archive: Path) -> None:
    match = only_match(check(clips["flat_copy"], archive))
    assert match["verdict"] == "identical" and match["query_coverage"] == 1.0 and match["archive_coverage"] == 1.0


def test_reencoded_trim_is_a_clip_covering_the_whole_query(clips: dict[str, Path], archive: Path) -> None:
    record = check(clips["trim"], archive)
    match = only_match(record)
    assert match["verdict"] == "clip_of_item", match["segments"]
    assert match["query_coverage"] == 1.0
    assert match["archive_coverage"] == pytest.approx(0.5, abs=0.03)
    (segment,) = match["segments"]
    assert segment["archive_start"] == pytest.approx(4.0, abs=0.3)
    assert segment["query_end"] - segment["query_start"] == pytest.approx(10.0, abs=0.1)
    assert 3.0 <= segment["low_detail"] <= 7.0  # the flat stretches 4-6 and 9-12 s of the item, and 14 s
    trim = next(e for e in match["edit_details"] if e["name"] == "trim")
    assert trim["details"].endswith("0.0-4.0, 14.0-20.0")


def test_mirrored_cropped_captioned_reshare_is_described(clips: dict[str, Path], archive: Path) -> None:
    """Its detail is the car alone, 3 s in every 6: the mirror, the crop window (within 0.05) and the
    caption band are measured on the frames that carry it, and the plain stretches between are covered."""
    match = only_match(check(clips["reshared"], archive))
    assert match["verdict"] == "clip_of_item", match["segments"]
    assert match["query_coverage"] >= 0.95, match["segments"]
    (segment,) = match["segments"]
    assert segment["archive_start"] == pytest.approx(2.0, abs=0.3) and segment["low_detail"] >= 3.0, segment
    details = {e["name"]: e["details"] for e in match["edit_details"]}
    assert {"hflip", "crop", "overlay"} <= set(details), details
    window = [float(v) for v in re.findall(r"\d\.\d\d", details["crop"])]
    assert window == pytest.approx([0.10, 0.90, 0.10, 0.90], abs=0.05), details["crop"]
    assert details["overlay"].startswith("something covers a band across the bottom"), details["overlay"]


def test_another_flat_picture_at_the_aligned_times_is_not_bridged(clips: dict[str, Path], archive: Path) -> None:
    match = only_match(check(clips["replaced"], archive))
    covered = [(s["query_start"], s["query_end"]) for s in match["segments"]]
    for t in (10.5, 16.5):  # inside the replaced stretches
        assert not any(a <= t < b for a, b in covered), covered
    assert any(a <= 4.5 < b for a, b in covered)  # the car park's own flat stretch still counts
    assert match["verdict"] == "contains_parts"


def test_a_loop_lists_every_stretch(clips: dict[str, Path], archive: Path) -> None:
    match = only_match(check(clips["loop"], archive))
    segments = match["segments"]
    assert len(segments) == 8, segments
    for n, s in enumerate(segments):
        assert s["query_start"] == pytest.approx(3.0 * n, abs=0.3)
        assert s["archive_start"] == pytest.approx(0.0, abs=0.3)
    assert match["query_coverage"] >= 0.95


def test_check_and_triage_give_the_same_verdicts(clips: dict[str, Path], archive: Path, tmp_path: Path) -> None:
    batch = tmp_path / "batch"
    batch.mkdir()
    names = ("copy", "trim", "replaced", "loop", "unrelated")
    for name in names:
        shutil.copyfile(clips[name], batch / f"{name}.mp4")
    out = tmp_path / "triage"
    result = CliRunner().invoke(cli, ["triage", str(batch), "--archive", str(archive), "--out", str(out),
                                      "--jobs", "2"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {Path(r["path"]).stem: r for r in
            csv.DictReader(io.StringIO((out / "summary.csv").read_text(encoding="utf-8"), newline=""))}
    for name in names:
        record = check(batch / f"{name}.mp4", archive)
        row = rows[name]
        assert row["verdict"] == record["archive_verdict"]["verdict"], name
        assert float(row["archive_coverage"]) == pytest.approx(record["archive_verdict"]["archive_coverage"],
                                                               abs=0.01), name
        triaged = json.loads((out / row["report"]).read_text(encoding="utf-8"))
        assert [m["verdict"] for m in triaged["matches"]] == [m["verdict"] for m in record["matches"]], name
        assert triaged["triage"]["verdict_text"] == record["archive_verdict"]["verdict_text"]
    assert {n: rows[n]["verdict"] for n in names} == {
        "copy": "known", "trim": "known", "replaced": "partly_known", "loop": "known", "unrelated": "new"}


def test_segments_written_before_low_detail_was_measured_still_read() -> None:
    old = {"query_start": 0.0, "query_end": 4.0, "archive_start": 2.0, "archive_end": 6.0}
    assert from_jsonable(Segment, old) == Segment(0.0, 4.0, 2.0, 6.0, 0.0)


def test_text_report_says_how_much_is_low_detail(clips: dict[str, Path], archive: Path) -> None:
    result = CliRunner().invoke(cli, ["check", str(clips["trim"]), "--archive", str(archive)],
                                catch_exceptions=False)
    assert "s of it low-detail, consistent)" in result.output
    assert "verdict: known: the archive already holds this footage" in result.output


@pytest.fixture(scope="module")
def foggy(media_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The campus camera of the corpus seen through fog 5 s in every 8 (contrast cut to a tenth, which
    brings its frames below the quality cut while they keep the scene), archived; a copy and a trim."""
    source = corpus_path("campus-surveillance/vtest.avi")
    d = tmp_path_factory.mktemp("foggy")
    out = {"item": d / "vtest_fog.mp4", "copy": d / "copy.mp4", "trim": d / "trim.mp4", "archive": d / "a.sqlite"}
    run_ffmpeg("-t", "24", "-i", str(source), "-vf", "eq=contrast='if(lt(mod(t,8),3),1,0.1)':eval=frame",
               *X264, str(out["item"]))
    shutil.copyfile(out["item"], out["copy"])
    run_ffmpeg("-ss", "4", "-t", "12", "-i", str(out["item"]), *X264, "-crf", "30", str(out["trim"]))
    archive_add(out["archive"], out["item"])
    return out


def test_corpus_camera_in_fog_copy_and_trim_are_covered_whole(foggy: dict[str, Path]) -> None:
    assert low_share(foggy["item"]) >= 0.5
    copy = only_match(check(foggy["copy"], foggy["archive"]))
    assert copy["verdict"] == "identical" and copy["query_coverage"] == copy["archive_coverage"] == 1.0
    assert len(copy["segments"]) == 1
    trim = only_match(check(foggy["trim"], foggy["archive"]))
    assert trim["verdict"] == "clip_of_item" and trim["query_coverage"] == 1.0, trim["segments"]
    (segment,) = trim["segments"]
    assert segment["archive_start"] == pytest.approx(4.0, abs=0.3) and segment["low_detail"] >= 5.0
