"""The record describes exactly the bytes that were hashed, and nothing is written through a planted link.

Adversarial cases on real media: a name ffmpeg would read as a numbered image sequence (``x%d.jpg``
beside ``x1.jpg``) or as a protocol (``pipe:``, ``concat:``) or an option (``-x``); a file renamed
over the evidence's path while it is being checked; symbolic links planted at the predictable
keyframe names; keyframes asked for in the evidence's own folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import run_ffmpeg

import provenance.fingerprinting as fingerprinting
import provenance.media.first_reads as first_reads
from provenance.archive.store import ArchiveStore
from provenance.checking import check
from provenance.cli.app import cli
from provenance.errors import UnreadableMediaError, UsageError
from provenance.times import timestamp_label


def invoke(*args: str):
    """Run the CLI in-process, stderr kept apart from stdout."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def snapshot(path: Path) -> tuple[str, int]:
    """The bytes (as SHA-256) and the mtime of a file, read without following a link at ``path``."""
    return hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path, follow_symlinks=False).st_mtime_ns


def record_of(path: Path, *extra: str) -> dict[str, Any]:
    """The ``check --json`` record of ``path``."""
    result = invoke("check", "--json", *extra, str(path))
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def described(record: dict[str, Any]) -> dict[str, Any]:
    """What a record says about the content: hashes, sizes, streams, frames and shots (not the name)."""
    file = record["file"]
    meta = dict(record["metadata"])
    return {
        "hashes": (file["sha256"], file["sha1"], file["md5"], file["size"]),
        "metadata": meta,
        "duration": record["duration"],
        "frames": record["frames"],
        "shots": record["shots"],
        "warnings": record["warnings"],
    }


@pytest.fixture(scope="module")
def other_still(media_dir: Path) -> Path:
    """A JPEG whose picture is nothing like ``still_jpeg`` (a fractal, not a test card)."""
    out = media_dir / "other_still.jpg"
    if not out.exists():
        run_ffmpeg("-f", "lavfi", "-i", "mandelbrot=size=320x240:rate=1", "-frames:v", "1", str(out))
    return out


@pytest.fixture(scope="module")
def other_png(media_dir: Path) -> Path:
    """A PNG of the same fractal, for the PNG sequence pattern."""
    out = media_dir / "other_still.png"
    if not out.exists():
        run_ffmpeg("-f", "lavfi", "-i", "mandelbrot=size=320x240:rate=1", "-frames:v", "1", str(out))
    return out


@pytest.fixture(scope="module")
def card_png(media_dir: Path) -> Path:
    """A PNG test card."""
    out = media_dir / "card.png"
    if not out.exists():
        run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=1", "-frames:v", "1", str(out))
    return out


@pytest.mark.parametrize("ext", ["jpg", "png"])
def test_sequence_pattern_name_describes_its_own_bytes(
    tmp_path: Path, ext: str, still_jpeg: Path, card_png: Path, other_still: Path, other_png: Path
) -> None:
    own, sibling_source = (still_jpeg, other_still) if ext == "jpg" else (card_png, other_png)
    named = tmp_path / f"x%d.{ext}"
    shutil.copyfile(own, named)
    shutil.copyfile(sibling_source, tmp_path / f"x1.{ext}")  # what ffmpeg reads for "x%d" as a sequence
    plain = tmp_path / "plain" / f"plain.{ext}"
    plain.parent.mkdir()
    shutil.copyfile(own, plain)
    sibling = record_of(tmp_path / f"x1.{ext}")
    expected = record_of(plain)
    got = record_of(named)
    assert got["sha256"] == hashlib.sha256(named.read_bytes()).hexdigest()
    assert got["file"]["name"] == f"x%d.{ext}"
    assert described(got) == described(expected)
    assert got["frames"] != sibling["frames"]  # the pictures differ: the test tells them apart

    # archive add stores the named file's own frames too
    archive = tmp_path / "a.sqlite"
    added = invoke("archive", "add", "--archive", str(archive), str(named))
    assert added.exit_code == 0, added.stdout + added.stderr
    with ArchiveStore.open(archive, create=False) as store:
        item = store.get(got["sha256"])
    assert item is not None
    reference = fingerprinting.fingerprint(str(plain), item.fingerprint.params)
    assert item.fingerprint.frames == reference.frames


@pytest.mark.parametrize("name", ["pipe:x.mp4", "concat:a|b", "-x.mp4", "--json", "file:y.mp4"])
def test_protocol_and_option_names_are_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, testsrc_clip: Path, mandelbrot_clip: Path, name: str
) -> None:
    # siblings a protocol would read instead: "a" and "b" for concat:, "y.mp4" for file:
    for sibling in ("a", "b", "x.mp4", "y.mp4"):
        shutil.copyfile(mandelbrot_clip, tmp_path / sibling)
    shutil.copyfile(testsrc_clip, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    expected = check(str(testsrc_clip)).fingerprint
    got = check(name).fingerprint  # relative, as a user types it
    assert got.identity.name == name and got.identity.path == str(tmp_path / name)
    assert got.identity.sha256 == expected.identity.sha256
    assert got.frames == expected.frames and got.shots == expected.shots
    result = invoke("check", "--json", "--", name)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["frames"] == [
        {"index": f.index, "time": f.time, "phash": f.phash, "pdq": f.pdq, "pdq_quality": f.pdq_quality}
        for f in expected.frames
    ]


def swap_during_probe(monkeypatch: pytest.MonkeyPatch, replacement: Path, target: Path) -> list[bool]:
    """Rename ``replacement`` over ``target`` as the check starts to probe: after it opened the file."""
    real_probe = first_reads.probe
    swapped: list[bool] = []

    def probe_after_swap(*args: Any, **kwargs: Any) -> Any:
        if not swapped:
            os.replace(replacement, target)
            swapped.append(True)
        return real_probe(*args, **kwargs)

    monkeypatch.setattr(first_reads, "probe", probe_after_swap)
    return swapped


def test_file_renamed_over_mid_check_is_described_as_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mandelbrot_clip: Path, testsrc_clip: Path
) -> None:
    reference = tmp_path / "reference" / "clip.mp4"
    reference.parent.mkdir()
    shutil.copyfile(mandelbrot_clip, reference)
    expected = record_of(reference, "--keyframes", str(tmp_path / "reference_keys"))

    evidence = tmp_path / "evidence" / "clip.mp4"
    evidence.parent.mkdir()
    shutil.copyfile(mandelbrot_clip, evidence)
    intruder = tmp_path / "evidence" / "intruder.mp4"
    shutil.copyfile(testsrc_clip, intruder)
    swapped = swap_during_probe(monkeypatch, intruder, evidence)
    keys = tmp_path / "keys"
    got = record_of(evidence, "--keyframes", str(keys))
    assert swapped == [True]
    assert hashlib.sha256(evidence.read_bytes()).hexdigest() != expected["sha256"]  # the path now holds another file
    assert got["sha256"] == expected["sha256"] == hashlib.sha256(mandelbrot_clip.read_bytes()).hexdigest()
    assert described(got) == described(expected)
    assert got["ffprobe"]["streams"] == expected["ffprobe"]["streams"]
    # the keyframes are the original's pictures too, byte for byte
    mine = {Path(k["path"]).name: Path(k["path"]).read_bytes() for k in got["keyframes"]}
    theirs = {Path(k["path"]).name: Path(k["path"]).read_bytes() for k in expected["keyframes"]}
    assert mine == theirs and len(mine) >= 1
    assert Path(got["contact_sheet"]).read_bytes() == Path(expected["contact_sheet"]).read_bytes()


def test_file_rewritten_in_place_mid_check_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mandelbrot_clip: Path
) -> None:
    evidence = tmp_path / "clip.mp4"
    shutil.copyfile(mandelbrot_clip, evidence)
    os.utime(evidence, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    real_probe = first_reads.probe

    def probe_after_rewrite(*args: Any, **kwargs: Any) -> Any:
        with open(evidence, "r+b") as handle:  # same size, other bytes, a new modification time
            handle.seek(evidence.stat().st_size // 2)
            handle.write(b"\x00" * 16)
        return real_probe(*args, **kwargs)

    monkeypatch.setattr(first_reads, "probe", probe_after_rewrite)
    with pytest.raises(UnreadableMediaError, match="changed while"):
        check(str(evidence))


def keyframe_names(record: dict[str, Any]) -> list[str]:
    """The names ``check --keyframes`` gives the keyframes and the contact sheet of ``record``'s file."""
    stem = record["sha256"][:12]
    names = [f"{stem}_shot{s['index'] + 1:03d}_t{timestamp_label(s['keyframe_time'])}.jpg" for s in record["shots"]]
    return [*names, f"{stem}_contact_sheet.jpg"]


def test_links_planted_at_keyframe_names_are_not_followed(
    tmp_path: Path, mandelbrot_clip: Path, testsrc_clip: Path
) -> None:
    evidence_dir = tmp_path / "evidence"
    evidence_dir.mkdir()
    clip = evidence_dir / "clip.mp4"
    shutil.copyfile(mandelbrot_clip, clip)
    victim = evidence_dir / "other.mp4"
    shutil.copyfile(testsrc_clip, victim)
    before = {p.name: snapshot(p) for p in evidence_dir.iterdir()}
    names = keyframe_names(record_of(clip))
    keys = tmp_path / "keys"
    keys.mkdir()
    for i, name in enumerate(names):
        # every other link dangles: writing through it would create a file beside the evidence
        target = victim if i % 2 == 0 else evidence_dir / f"planted{i}.jpg"
        (keys / name).symlink_to(target)
    got = record_of(clip, "--keyframes", str(keys))
    assert {p.name: snapshot(p) for p in evidence_dir.iterdir()} == before  # nothing changed, nothing added
    assert sorted(p.name for p in keys.iterdir()) == sorted(names)
    for name in names:
        written = keys / name
        assert not written.is_symlink() and written.read_bytes()[:2] == b"\xff\xd8", name
    assert [Path(k["path"]).name for k in got["keyframes"]] == names[:-1]


def test_keyframes_into_the_evidence_folder_need_beside(tmp_path: Path, mandelbrot_clip: Path) -> None:
    evidence_dir = tmp_path / "evidence"
    evidence_dir.mkdir()
    clip = evidence_dir / "clip.mp4"
    shutil.copyfile(mandelbrot_clip, clip)
    alias = tmp_path / "alias"
    alias.symlink_to(evidence_dir, target_is_directory=True)
    for folder in (str(evidence_dir), str(alias), os.path.join(str(evidence_dir), ".")):
        result = invoke("check", "--keyframes", folder, str(clip))
        assert result.exit_code == 2, (folder, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "--beside" in lines[0] and "evidence" in lines[0], result.stderr
        assert os.listdir(evidence_dir) == ["clip.mp4"]
    with pytest.raises(UsageError, match="--beside"):
        check(str(clip), keyframes_dir=str(evidence_dir))
    beside = invoke("check", "--keyframes", str(evidence_dir), "--beside", str(clip))
    assert beside.exit_code == 0, beside.stderr
    assert any(name.endswith("_contact_sheet.jpg") for name in os.listdir(evidence_dir))
    lone = invoke("check", "--beside", str(clip))
    assert lone.exit_code == 2 and "--keyframes" in lone.stderr


def test_keyframes_into_the_real_files_folder_need_beside(tmp_path: Path, mandelbrot_clip: Path) -> None:
    # the evidence given through a link elsewhere: its real folder is protected too
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    shutil.copyfile(mandelbrot_clip, real_dir / "clip.mp4")
    (tmp_path / "link.mp4").symlink_to(real_dir / "clip.mp4")
    result = invoke("check", "--keyframes", str(real_dir), str(tmp_path / "link.mp4"))
    assert result.exit_code == 2, result.stderr
    assert os.listdir(real_dir) == ["clip.mp4"]


def test_failed_keyframe_write_leaves_nothing_behind(tmp_path: Path, mandelbrot_clip: Path) -> None:
    clip = tmp_path / "evidence" / "clip.mp4"
    clip.parent.mkdir()
    shutil.copyfile(mandelbrot_clip, clip)
    names = keyframe_names(record_of(clip))
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / names[-1]).mkdir()  # the contact sheet, written last, cannot take the place of a folder
    result = invoke("check", "--keyframes", str(keys), str(clip))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write" in lines[0], result.stderr
    assert os.listdir(keys) == [names[-1]]  # no keyframe, no temporary file
    assert os.listdir(keys / names[-1]) == []


def test_failed_check_creates_no_keyframe_folder(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video\n" * 100)
    keys = tmp_path / "keys"
    assert invoke("check", "--keyframes", str(keys), str(junk)).exit_code == 4
    assert not keys.exists()


def test_ffmpegs_private_links_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mandelbrot_clip: Path, still_jpeg: Path
) -> None:
    # ffmpeg reads the opened file through a link in a private temporary folder: none may be left
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video\n" * 100)
    assert invoke("check", "--structure", "--keyframes", str(tmp_path / "keys"), str(mandelbrot_clip)).exit_code == 0
    assert invoke("check", "--structure", str(still_jpeg)).exit_code == 0
    assert invoke("check", str(junk)).exit_code == 4
    assert os.listdir(scratch) == []


def test_temporary_folder_with_a_pattern_in_its_name_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, still_jpeg: Path
) -> None:
    # the link's own name must hold no pattern either: a TMPDIR of "t%d" would bring one back
    scratch = tmp_path / "t%d"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    result = invoke("check", str(still_jpeg))
    assert result.exit_code == 4, result.stderr
    assert "TMPDIR" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert os.listdir(scratch) == []


def test_triage_thumbnail_is_of_the_file_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mandelbrot_clip: Path, testsrc_clip: Path
) -> None:
    from provenance.media.identity import file_identity
    from provenance.triage.results import AnalyseTask
    from provenance.triage.thumbs import thumbnail_jpeg
    from provenance.triage.worker import analyse_content

    evidence = tmp_path / "clip.mp4"
    shutil.copyfile(mandelbrot_clip, evidence)
    sha = file_identity(str(evidence)).sha256
    honest = analyse_content(AnalyseTask(str(evidence), sha, None))
    intruder = tmp_path / "intruder.mp4"
    shutil.copyfile(testsrc_clip, intruder)
    swapped = swap_during_probe(monkeypatch, intruder, evidence)
    got = analyse_content(AnalyseTask(str(evidence), sha, None))
    assert swapped == [True] and got.error is None and got.fingerprint is not None
    assert got.fingerprint.identity.sha256 == sha
    # the thumbnail is the opened file's picture, not the intruder's now at that name
    assert got.thumbnail and got.thumbnail == honest.thumbnail
    assert got.thumbnail != thumbnail_jpeg(str(evidence), got.fingerprint)


def test_link_folders_left_by_killed_processes_are_swept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mandelbrot_clip: Path
) -> None:
    import subprocess
    import sys

    import provenance.media.source as source_module
    from provenance.media.source import MediaSource

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(source_module, "_swept", set())
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(dead.stdout)
    kept_file = tmp_path / "evidence.mp4"
    kept_file.write_bytes(b"not to be touched")
    stale = tmp_path / f"provenance-input-{dead_pid}-abc123"
    stale.mkdir()
    (stale / "input.mp4").symlink_to(kept_file)  # what kill -9 leaves: a folder with the one link
    crowded = tmp_path / f"provenance-input-{dead_pid}-def456"
    crowded.mkdir()
    (crowded / "notes.txt").write_text("someone else's")  # not only a link: left alone
    live = tmp_path / f"provenance-input-{os.getpid()}-ghi789"
    live.mkdir()
    (live / "input.mp4").symlink_to(kept_file)  # a live process's link: left alone
    with MediaSource.open(mandelbrot_clip) as source:
        made = Path(source.link).parent
        assert made.name.startswith(f"provenance-input-{os.getpid()}-") and made.parent == tmp_path
        assert not stale.exists() and crowded.exists() and live.exists()
    assert not made.exists() and kept_file.read_bytes() == b"not to be touched"


def test_structure_is_read_from_the_file_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mandelbrot_clip: Path, still_jpeg: Path
) -> None:
    evidence = tmp_path / "clip.mp4"
    shutil.copyfile(mandelbrot_clip, evidence)
    expected = record_of(evidence, "--structure")
    intruder = tmp_path / "intruder.mp4"
    shutil.copyfile(still_jpeg, intruder)  # another kind of file altogether: no boxes, a JPEG
    swapped = swap_during_probe(monkeypatch, intruder, evidence)
    got = record_of(evidence, "--structure")
    assert swapped == [True] and got["sha256"] == expected["sha256"]
    assert got["structure"]["structure"] is not None  # the MP4 that was hashed, not the JPEG now named so
    assert got["structure"]["structure"] == expected["structure"]["structure"]
    assert got["structure"]["last_writer"] == expected["structure"]["last_writer"]
    assert got["structure"]["path"] == str(evidence)
