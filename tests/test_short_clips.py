"""Clips of a second or two, and clips of one unchanging picture: their re-encodes are the same footage.

A one-second clip gives the query two or three samples; when its picture does not change, every
archived sample resembles every query sample, and only the moments that agree exactly tell the
offset. Its duration is what the container says when that fits the samples, not a whole sample step
more. Everything is made with ffmpeg lavfi sources, archived (real SQLite) and checked through the CLI.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import X264, cli_json, run_ffmpeg

from provenance.fingerprinting import fingerprint


@pytest.fixture(scope="module")
def clips(media_dir: Path) -> dict[str, Path]:
    """A 1.001 s clip of one unchanging testsrc2 picture at 29.97 fps and its re-encode (another
    quality, in Matroska); a moving 1.6 s clip and its re-encode."""
    d = media_dir / "short_clips"
    d.mkdir(exist_ok=True)
    out = {name: d / name for name in ("static.mp4", "static_again.mkv", "moving.mp4", "moving_again.mp4")}
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30000/1001", "-vf", "trim=end_frame=1,loop=29:1",
               "-frames:v", "30", *X264, str(out["static.mp4"]))
    run_ffmpeg("-i", str(out["static.mp4"]), "-c:v", "libx264", "-crf", "30", "-pix_fmt", "yuv420p",
               str(out["static_again.mkv"]))
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "1.6", *X264, str(out["moving.mp4"]))
    run_ffmpeg("-i", str(out["moving.mp4"]), "-c:v", "libx264", "-crf", "30", "-pix_fmt", "yuv420p",
               str(out["moving_again.mp4"]))
    return out


@pytest.fixture(scope="module")
def archive(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("short_clips_archive") / "archive.sqlite"
    cli_json("archive", "add", "--archive", str(path), "--json", str(clips["static.mp4"]), str(clips["moving.mp4"]))
    return path


def test_the_duration_is_the_containers_when_the_samples_allow_it(clips: dict[str, Path]) -> None:
    # 30 frames at 29.97 fps last 1.001 s; sampled twice a second that is 3 samples (0, 0.5, 1.0 s),
    # which allow any length from 1.0 to 1.5 s: the container's 1.001 s is taken, not 1.5
    fp = fingerprint(str(clips["static.mp4"]))
    assert len(fp.frames) == 3
    assert fp.duration == pytest.approx(1.001, abs=0.002)


def test_a_reencoded_one_second_still_picture_clip_is_the_same_footage(clips: dict[str, Path],
                                                                      archive: Path) -> None:
    record = cli_json("check", str(clips["static_again.mkv"]), "--archive", str(archive), "--json")
    (match,) = [m for m in record["matches"] if m["name"] == "static.mp4"]
    assert match["verdict"] == "same", match["segments"]
    (segment,) = match["segments"]
    assert segment["query_start"] == segment["archive_start"] == 0.0  # no trim that nothing shows
    assert segment["archive_end"] == pytest.approx(1.0, abs=0.08)
    assert match["query_coverage"] >= 0.95 and match["archive_coverage"] >= 0.9


def test_a_reencoded_short_moving_clip_is_the_same_footage(clips: dict[str, Path], archive: Path) -> None:
    record = cli_json("check", str(clips["moving_again.mp4"]), "--archive", str(archive), "--json")
    (match,) = [m for m in record["matches"] if m["name"] == "moving.mp4"]
    assert match["verdict"] == "same", match["segments"]
    (segment,) = match["segments"]
    assert segment["archive_start"] == pytest.approx(0.0, abs=0.07)
    assert segment["query_end"] == pytest.approx(1.6, abs=0.05)
