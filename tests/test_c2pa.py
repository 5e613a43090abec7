"""C2PA Content Credentials (provenance.forensics.c2pa): present, absent, tampered; never fetched over the network.

Fixtures are c2pa-rs's test videos in ``../shared/corpus/c2pa-waterfall``: ``video1.mp4`` (a
manifest by c2patool over an Adobe Premiere Rush export), ``legacy.mp4`` (an older manifest
format) and ``video1_no_manifest.mp4`` (the manifest removed, its XMP pointer left). The tampered
file is made here: ``video1.mp4`` copied into tmp_path with bytes flipped inside ``mdat``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import corpus_path, run_ffmpeg

from provenance.cli.app import cli
from provenance.forensics.c2pa import ABSENT, READER_SETTINGS, read_c2pa
from provenance.forensics.selfreport import self_report
from provenance.forensics.structure.boxes import BoxReader, read_tree

pytest.importorskip("c2pa", reason="c2pa-python is not installed")
pytestmark = pytest.mark.corpus


def tampered_copy(source: Path, target: Path) -> Path:
    """A copy of ``source`` with 64 bytes in the middle of its 'mdat' inverted (the file stays the same size)."""
    shutil.copyfile(source, target)
    with BoxReader(str(target)) as reader:
        mdat = next(b for b in read_tree(reader)[0] if b.type == "mdat")
    data = bytearray(target.read_bytes())
    middle = mdat.payload_offset + mdat.payload_size // 2
    for i in range(middle, middle + 64):
        data[i] ^= 0xFF
    target.write_bytes(bytes(data))
    return target


def test_manifest_present_and_valid() -> None:
    report = read_c2pa(corpus_path("c2pa-waterfall/video1.mp4"))
    assert report.present and report.state == "Valid" and report.manifests == 2
    active = report.active
    assert active.claim_generator == "TestApp c2patool/0.6.2 c2pa-rs/0.28.2"
    assert active.signer == "C2PA Test Signing Cert, CN=C2PA Signer" and active.signed_at.startswith("2023-12-02")
    assert [a.label for a in active.assertions] == ["stds.schema-org.CreativeWork", "c2pa.actions.v2", "my.assertion",
                                                    "c2pa.hash.bmff.v2"]
    assert active.actions == ("c2pa.opened",) and active.ingredients == ("video1.mp4 (parentOf)",)
    assert report.statement.startswith("valid: signature and content hashes verify")
    assert "not on a trust list" in report.statement  # test certificates are not trusted, and that is said


def test_legacy_manifest() -> None:
    report = read_c2pa(corpus_path("c2pa-waterfall/legacy.mp4"))
    assert report.state == "Valid" and report.active.claim_generator.startswith("TestApp c2patool/0.3.8")


def test_manifest_absent_is_unknown_provenance(tmp_path: Path) -> None:
    stripped = read_c2pa(corpus_path("c2pa-waterfall/video1_no_manifest.mp4"))
    assert (stripped.state, stripped.statement, stripped.active) == ("absent", ABSENT, None)
    assert ABSENT == "no manifest (unknown provenance)"
    clip = tmp_path / "plain.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x64:rate=10", "-t", "0.5", "-pix_fmt", "yuv420p", str(clip))
    assert read_c2pa(clip).statement == ABSENT
    assert read_c2pa(corpus_path("androidx-stills/tokyo.jpg")).statement == ABSENT  # a still
    rep = self_report(corpus_path("c2pa-waterfall/video1_no_manifest.mp4"), gop=False)
    assert "c2pa-stripped" in {i.code for i in rep.indicators}


def test_tampered_manifest_is_invalid(tmp_path: Path) -> None:
    bad = tampered_copy(corpus_path("c2pa-waterfall/video1.mp4"), tmp_path / "tampered.mp4")
    report = read_c2pa(bad)
    assert report.state == "Invalid" and report.present
    assert any(f.startswith("assertion.bmffHash.mismatch") for f in report.failures)
    assert report.statement.startswith("INVALID: the content no longer matches the manifest")
    rep = self_report(bad, gop=False)
    assert "c2pa-invalid" in {i.code for i in rep.indicators}
    assert rep.last_writer.rule != "c2pa-signed"  # a manifest that no longer covers the file names no last writer


def test_remote_fetches_are_off_and_unsupported_formats_say_so() -> None:
    assert READER_SETTINGS["verify"] == {"remote_manifest_fetch": False, "ocsp_fetch": False}
    mkv = read_c2pa(corpus_path("androidx-sample/sample.mkv"))
    assert mkv.state == "not checked" and "does not read this format" in mkv.statement


def test_signed_file_last_writer_and_cli() -> None:
    path = corpus_path("c2pa-waterfall/video1.mp4")
    rep = self_report(path, gop=False)
    assert rep.last_writer.rule == "c2pa-signed" and rep.last_writer.writer.startswith("TestApp c2patool")
    assert "adobe-xmp" in {m.rule for m in rep.last_writer.also}
    result = CliRunner().invoke(cli, ["check", str(path), "--structure", "--json"], catch_exceptions=False)
    c2pa = json.loads(result.output)["structure"]["c2pa"]
    assert c2pa["state"] == "Valid" and c2pa["active"]["claim_generator"].startswith("TestApp")
