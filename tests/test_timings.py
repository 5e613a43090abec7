"""Stage timers (``check --json --timings``, ``provenance.timings``): present when asked, sound, and without
effect on the record otherwise."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import X264, cli_json, run_ffmpeg

from provenance.checking import examine
from provenance.cli.app import cli
from provenance.fingerprinting import analyse
from provenance.report.json import check_record
from provenance.timings import STAGES, Timings, collecting, process_started, stage

VOLATILE = ("examined_at",)  # the time of the run


def _stable(record: dict) -> dict:
    """The record without the time of the run (and the file's access time, which reading may move)."""
    kept = {k: v for k, v in record.items() if k not in VOLATILE}
    kept["file"] = {k: v for k, v in record["file"].items() if "access" not in k}
    return kept


@pytest.fixture(scope="module")
def archived(media_dir: Path, mandelbrot_clip: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(archive, query): an archive of the mandelbrot clip, and a cropped re-encode of its middle."""
    archive = tmp_path_factory.mktemp("timings") / "archive.sqlite"
    cli_json("archive", "add", "--archive", str(archive), "--json", str(mandelbrot_clip))
    query = media_dir / "timings_crop.mp4"
    if not query.exists():
        run_ffmpeg("-ss", "2", "-i", str(mandelbrot_clip), "-t", "6", "-vf", "crop=240:180:40:30", *X264, str(query))
    return archive, query


def _figures(timings: dict) -> tuple[float, float]:
    """The stages' sum (with start-up and other) and the total, after checking every figure is a number >= 0."""
    assert set(timings) == {"startup", *STAGES, "other", "total"}
    for name, seconds in timings.items():
        if name == "startup" and seconds is None:
            continue  # the Python API: no process start of its own
        assert isinstance(seconds, float | int) and seconds >= 0, (name, seconds)
    return sum(v or 0.0 for k, v in timings.items() if k != "total"), timings["total"]


def test_check_json_timings_lists_every_stage(archived: tuple[Path, Path]) -> None:
    archive, query = archived
    record = cli_json("check", "--archive", str(archive), "--json", "--timings", str(query))
    timings = record["timings"]
    parts, total = _figures(timings)
    assert parts <= total + 1e-9
    assert timings["decode"] > 0 and timings["hashing"] > 0 and timings["features"] >= 0
    assert timings["candidates"] > 0 and timings["report"] > 0
    assert list(record)[-1] == "timings"  # the last key, after what the record holds without it
    assert record["matches"], "the crop is matched: the timers ran along the whole search"


def test_record_without_timings_is_unchanged(archived: tuple[Path, Path]) -> None:
    archive, query = archived
    plain = cli_json("check", "--archive", str(archive), "--json", str(query))
    again = cli_json("check", "--archive", str(archive), "--json", str(query))
    timed = cli_json("check", "--archive", str(archive), "--json", "--timings", str(query))
    assert "timings" not in plain
    assert _stable(plain) == _stable(again)  # the same file, the same record
    timed.pop("timings")
    assert _stable(timed) == _stable(plain)  # the timers add their key and change nothing else


def test_timings_needs_json(testsrc_clip: Path) -> None:
    result = CliRunner().invoke(cli, ["check", "--timings", str(testsrc_clip)])
    assert result.exit_code == 2
    assert "--timings" in result.output and "--json" in result.output
    assert "Traceback" not in result.output


def test_examine_returns_timings(archived: tuple[Path, Path]) -> None:
    archive, query = archived
    timed = examine(str(query), str(archive), timings=True, log_custody=False)
    assert isinstance(timed.timings, Timings)
    assert timed.timings.startup is None  # the Python API has no process start of its own
    parts, total = _figures(json.loads(json.dumps(check_record(timed.report, timings=timed.timings)))["timings"])
    assert parts <= total + 1e-9 and timed.timings.decode > 0
    plain = examine(str(query), str(archive), log_custody=False)
    assert plain.timings is None
    assert _stable(check_record(plain.report)) == _stable(check_record(timed.report))


def test_decode_and_hashing_are_told_apart(mandelbrot_clip: Path) -> None:
    with collecting() as clock:
        analyse(str(mandelbrot_clip), features="all")
    figures = clock.finish()
    assert figures.decode > 0 and figures.hashing > 0 and figures.probe > 0
    assert figures.features > 0  # the side thread's ORB extraction for the archive, while the decode waited for it
    assert sum(s for _, s in figures.stages()) <= figures.total + 1e-9


def test_nested_stages_count_once() -> None:
    with collecting() as clock:
        with stage("decode"):
            time.sleep(0.05)
            with stage("hashing"):
                time.sleep(0.05)
        with stage("hashing"):
            time.sleep(0.02)
    figures = clock.finish()
    assert 0.045 <= figures.decode < 0.09  # the hashing inside it is not the decode's
    assert 0.065 <= figures.hashing < 0.12
    assert figures.decode + figures.hashing + figures.other <= figures.total + 1e-9


def test_background_work_is_charged_from_the_wait_it_overlaps() -> None:
    with collecting() as clock:
        def work() -> None:
            with clock.background("features"):
                time.sleep(0.06)

        with stage("decode"):
            helper = threading.Thread(target=work)
            helper.start()
            helper.join()  # waiting: the helper's work is what the wait was for
        with stage("hashing"):
            helper = threading.Thread(target=work)
            helper.start()
            time.sleep(0.01)  # the rest of its work runs beside other work, at no cost in time
        helper.join()
    figures = clock.finish()
    assert 0.05 <= figures.features < 0.1
    assert figures.decode < 0.03
    assert figures.decode + figures.hashing + figures.features + figures.other <= figures.total + 1e-9


def test_stages_cost_nothing_without_a_clock() -> None:
    seen: list[float] = []
    with stage("decode"):  # no clock: nothing kept, nothing raised
        seen.append(1.0)
    with collecting() as clock:
        def elsewhere() -> None:
            with stage("hashing"):  # another thread's stage is not this clock's
                time.sleep(0.02)

        helper = threading.Thread(target=elsewhere)
        helper.start()
        helper.join()
    assert seen == [1.0] and clock.finish().hashing == 0


def test_process_start_is_before_now() -> None:
    started = process_started()
    assert started is not None and started < time.perf_counter()
