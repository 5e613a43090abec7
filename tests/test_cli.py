"""The command line through click's CliRunner: reports, exit codes, bad input, evidence untouched."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import run_ffmpeg

from provenance import __version__
from provenance.cli.app import cli


def invoke(*args: str, env: dict[str, str] | None = None):
    """Run the CLI in-process, stderr kept apart from stdout."""
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def write(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` and return the path."""
    path.write_bytes(data)
    return path


def snapshot(path: Path) -> tuple[str, int]:
    """The bytes (as SHA-256) and the mtime of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def test_help_lists_commands_examples_and_exit_codes() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for text in ("check", "archive", "Examples:", "Exit codes", "unreadable media"):
        assert text in result.output
    assert "--keyframes" in invoke("check", "--help").output


def test_text_report_has_identity_metadata_and_frames(testsrc_clip: Path) -> None:
    result = invoke("check", str(testsrc_clip))
    assert result.exit_code == 0, result.stderr
    expected = hashlib.sha256(testsrc_clip.read_bytes()).hexdigest()
    out = result.stdout
    assert expected in out
    assert hashlib.md5(testsrc_clip.read_bytes()).hexdigest() in out
    assert hashlib.sha1(testsrc_clip.read_bytes()).hexdigest() in out
    assert "h264" in out and "320x240" in out and "aac" in out
    assert "20 samples at 2 per second" in out
    assert out.splitlines()[0].startswith("NO ARCHIVE CONSULTED: the file says written by Lavf")  # the finding first


def test_json_record_is_versioned_and_complete(testsrc_clip: Path) -> None:
    result = invoke("check", "--json", str(testsrc_clip))
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["schema"] == "provenance.check" and record["schema_version"] == 2
    assert record["tool"] == {"name": "provenance", "version": __version__}
    assert record["sha256"] == hashlib.sha256(testsrc_clip.read_bytes()).hexdigest()
    assert record["file"]["sha256"] == record["sha256"]
    assert record["parameters"]["fps"] == 2.0
    assert record["ffprobe"]["format"]["format_name"].startswith("mov,mp4")
    assert record["metadata"]["streams"][0]["codec"] == "h264"
    assert len(record["frames"]) == 20
    assert {"index", "time", "phash", "pdq", "pdq_quality"} <= set(record["frames"][0])
    assert record["matches"] == [] and record["archive"] is None


def test_keyframes_and_contact_sheet_written_evidence_untouched(
    mandelbrot_clip: Path, tmp_path: Path
) -> None:
    evidence = tmp_path / "evidence" / "clip.mp4"
    evidence.parent.mkdir()
    shutil.copy2(mandelbrot_clip, evidence)
    before = snapshot(evidence)
    out = tmp_path / "keys"
    result = invoke("check", "--json", "--keyframes", str(out), str(evidence))
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert snapshot(evidence) == before
    assert sorted(os.listdir(evidence.parent)) == ["clip.mp4"]  # nothing written beside the evidence
    files = sorted(p.name for p in out.iterdir())
    assert any(name.endswith("_contact_sheet.jpg") for name in files)
    assert len(record["keyframes"]) == len(record["shots"]) >= 1
    first = Path(record["keyframes"][0]["path"])
    assert first.exists() and "_t00-00-" in first.name
    assert first.read_bytes()[:2] == b"\xff\xd8"  # a JPEG


def test_check_without_keyframes_leaves_evidence_untouched(testsrc_clip: Path, tmp_path: Path) -> None:
    evidence = tmp_path / "clip.mp4"
    shutil.copy2(testsrc_clip, evidence)
    before = snapshot(evidence)
    assert invoke("check", str(evidence)).exit_code == 0
    assert snapshot(evidence) == before
    assert os.listdir(tmp_path) == ["clip.mp4"]


@pytest.mark.parametrize(
    ("make", "code", "words"),
    [
        (lambda d: d / "missing.mp4", 2, "no such file"),
        (lambda d: d, 2, "directory"),
        (lambda d: write(d / "empty.mp4", b""), 4, "empty"),
        (lambda d: write(d / "notes.mp4", b"not a video\n"), 4, "Invalid data"),
        (lambda d: write(d / "junk.jpg", os.urandom(3000)), 4, "not a readable"),
    ],
    ids=["missing", "directory", "zero-byte", "text-named-mp4", "random-bytes-jpg"],
)
def test_bad_input_gets_one_line_and_exit_code(tmp_path: Path, make, code: int, words: str) -> None:
    path = make(tmp_path)
    result = invoke("check", str(path))
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("provenance: error:"), result.stderr
    assert words in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_unreadable_file_exit_4(tmp_path: Path, testsrc_clip: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads files without read permission; the permission check cannot fail here")
    locked = tmp_path / "locked.mp4"
    shutil.copy(testsrc_clip, locked)
    locked.chmod(0)
    result = invoke("check", str(locked))
    assert result.exit_code == 4 and "permission" in result.stderr


def test_odd_file_names_are_files_not_protocols(testsrc_clip: Path, tmp_path: Path) -> None:
    for name in ("-rf.mp4", "pipe:1.mp4", "new\nline ünï.mp4", "concat:x.mp4"):
        odd = tmp_path / name
        shutil.copy(testsrc_clip, odd)
        result = invoke("check", "--json", str(odd))
        assert result.exit_code == 0, (name, result.stderr)
        assert json.loads(result.stdout)["file"]["name"] == name


def test_missing_ffmpeg_exits_3(testsrc_clip: Path, tmp_path: Path) -> None:
    result = invoke("check", str(testsrc_clip), env={"PATH": str(tmp_path)})
    assert result.exit_code == 3
    assert "apt-get install ffmpeg" in result.stderr


def test_truncated_video_warns_in_record(media_dir: Path, mandelbrot_clip: Path) -> None:
    fast = media_dir / "cli_faststart.mp4"
    run_ffmpeg("-i", str(mandelbrot_clip), "-c", "copy", "-movflags", "+faststart", str(fast))
    cut = media_dir / "cli_truncated.mp4"
    data = fast.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6)])
    result = invoke("check", "--json", str(cut))
    assert result.exit_code == 0, result.stderr
    warnings = json.loads(result.stdout)["warnings"]
    assert any(w.startswith("decoding stopped at") for w in warnings)


def test_still_with_exif_in_report(still_jpeg: Path) -> None:
    record = json.loads(invoke("check", "--json", str(still_jpeg)).stdout)
    assert record["metadata"]["kind"] == "still"
    assert len(record["frames"]) == 1
