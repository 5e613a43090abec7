"""Fingerprinting real clips of the shared corpus: many codecs and containers, rotations, odd sizes.

Skips cleanly when ``../shared/corpus`` is absent.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import corpus_path

from provenance.checking import check
from provenance.fingerprinting import analyse, fingerprint
from provenance.hashing.pdq import hamming_bytes

# (file, codec, container family, duration the decoder should reach in seconds)
CLIPS = [
    ("threatexchange-vpdq/chair-orig-22-sd-bar.mp4", "h264", "mp4", 22.43),
    ("androidx-sample/sample.mkv", "h264", "matroska", 1.07),
    ("androidx-sample/sample_av1.mp4", "av1", "mp4", 1.0),
    ("big-buck-bunny/big_buck_bunny_0_30.webm", "vp8", "matroska", None),
    ("campus-surveillance/vtest.avi", "msmpeg4v3", "avi", None),
    ("vlog-makeup/tests_data_test.avi", "mpeg4", "avi", 6.56),
    ("webcam-wave/test.webm", "h264", "matroska", 3.1),
    ("mountain-av1/sample_with_colr_mdcv_and_clli.mp4", "av1", "mp4", 1.0),
    ("smartwatch/trim_optimization_failure.mp4", "h264", "mp4", 5.59),
    ("intel-office/one-by-one-person-detection.gif", "gif", "gif", 3.9),
    ("androidx-sample/bt601.mov", "h264", "mov", 1.02),
    ("bed-dog-rotation/internal_emulator_transformer_output_270_rotated.mp4", "h264", "mp4", 4.97),
]


@pytest.mark.parametrize(("rel", "codec", "family", "seconds"), CLIPS, ids=[c[0].split("/")[-1] for c in CLIPS])
def test_corpus_clip_fingerprints(rel: str, codec: str, family: str, seconds: float | None) -> None:
    path = corpus_path(rel)
    fp = fingerprint(str(path))
    video = fp.metadata.video_stream
    assert video is not None and video.codec == codec
    assert family in (fp.metadata.format_name or "")
    assert fp.metadata.kind == "video"
    assert len(fp.frames) >= 2
    if seconds is not None:
        assert fp.duration == pytest.approx(seconds, abs=0.75)
    assert [f.time for f in fp.frames] == [i / 2 for i in range(len(fp.frames))]
    assert fp.shots and fp.shots[0].start == 0.0


def test_rotated_remux_decodes_upright_and_matches_its_source_turned() -> None:
    source = analyse(str(corpus_path("bed-dog-rotation/internal_emulator_transformer_output.mp4")))
    turned = analyse(str(corpus_path("bed-dog-rotation/internal_emulator_transformer_output_180_rotated.mp4")))
    assert turned.fingerprint.metadata.video_stream.rotation in (180.0, -180.0)
    n = min(len(source.fingerprint.frames), len(turned.fingerprint.frames))
    upright = hamming_bytes(turned.dihedral_pdq[:n, 0], source.dihedral_pdq[:n, 0])
    undone = hamming_bytes(turned.dihedral_pdq[:n, 2], source.dihedral_pdq[:n, 0])  # rotate180 variant
    assert np.median(undone) < 40 < np.median(upright)


def test_still_with_gps_and_orientation() -> None:
    fp = fingerprint(str(corpus_path("exif-samples/jpg/gps/DSCN0010.jpg")))
    assert fp.is_still and len(fp.frames) == 1
    assert fp.metadata.location is not None
    assert fp.metadata.location.latitude == pytest.approx(43.4674, abs=0.001)


def test_threatexchange_trimmed_variant_matches_with_offset(tmp_path) -> None:
    from provenance.ingest.add import add_files

    archive = str(tmp_path / "te.sqlite")
    add_files(archive, [str(corpus_path("threatexchange-vpdq/chair-orig-22-sd-bar.mp4"))])
    report = check(str(corpus_path("threatexchange-vpdq/chair-19-sd-bar.mp4")), archive)
    (match,) = report.matches
    # INVENTORY.md: q 0.00-18.73 = a 3.70-22.43
    (seg,) = match.segments
    assert seg.archive_start == pytest.approx(3.7, abs=0.6)
    assert seg.query_end == pytest.approx(18.8, abs=0.6)
    assert match.verdict == "clip_of_item"
