"""The local features an item keeps wait on disk (``FeatureSpool``) and come back bit for bit.

``archive add`` of a long clip must not hold two features a second in memory until its one write, so
``analyse(features="archive")`` spools them to an unlinked temporary file and ``ArchiveStore.add``
writes them one at a time. Checked here: the spool gives back exactly what was appended (a property
test), pickles as a plain tuple, and the archive stores the same features the decode computed.
"""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from provenance.archive.store import ArchiveStore
from provenance.fingerprinting import analyse
from provenance.ingest.add import ARCHIVE_FPS, add_files
from provenance.model import SamplingParams
from provenance.vision.feature_spool import FeatureSpool
from provenance.vision.features import GRID, GRID_CHANNELS, FrameFeatures


def same(a: FrameFeatures, b: FrameFeatures) -> bool:
    """Every field equal, arrays bit for bit (NaN included)."""
    grids = (a.grid is None and b.grid is None) or (
        a.grid is not None and b.grid is not None and a.grid.tobytes() == b.grid.tobytes())
    return (a.time == b.time and a.aspect == b.aspect and a.points.tobytes() == b.points.tobytes()
            and a.points.shape == b.points.shape and a.descriptors.tobytes() == b.descriptors.tobytes()
            and a.descriptors.shape == b.descriptors.shape and grids)


@st.composite
def frame_features(draw: st.DrawFn) -> FrameFeatures:
    n = draw(st.integers(0, 40))
    points = draw(arrays(np.float32, (n, 2)))
    descriptors = draw(arrays(np.uint8, (n, 32)))
    grid = draw(st.none() | arrays(np.float32, (GRID, GRID, GRID_CHANNELS)))
    return FrameFeatures(draw(st.floats(allow_nan=False)), points, descriptors,
                         draw(st.floats(0.1, 10.0)), grid)


@settings(max_examples=60, deadline=None)
@given(st.lists(frame_features(), max_size=12))
def test_a_spool_gives_back_what_was_appended(frames: list[FrameFeatures]) -> None:
    spool = FeatureSpool()
    for f in frames:
        spool.append(f)
    assert len(spool) == len(frames)
    assert all(same(a, b) for a, b in zip(spool, frames, strict=True))
    assert all(same(spool[i], frames[i]) for i in range(len(frames)))
    assert all(same(a, b) for a, b in zip(spool[::-2], frames[::-2], strict=True))
    back = pickle.loads(pickle.dumps(spool))
    assert isinstance(back, tuple) and all(same(a, b) for a, b in zip(back, frames, strict=True))
    spool.retimed([float(i) for i in range(len(frames))])
    assert [f.time for f in spool] == [float(i) for i in range(len(frames))]


def test_arrays_read_back_are_writable() -> None:
    spool = FeatureSpool()
    spool.append(FrameFeatures(0.0, np.zeros((3, 2), np.float32), np.zeros((3, 32), np.uint8), 1.5, None))
    got = spool[0]
    got.points[0, 0] = 1.0  # what extract gives is writable, and so is what comes back
    assert got.grid is None and got.points.shape == (3, 2)


def test_malformed_features_are_refused() -> None:
    spool = FeatureSpool()
    try:
        spool.append(FrameFeatures(0.0, np.zeros((3, 2), np.float32), np.zeros((2, 32), np.uint8), 1.0))
    except ValueError as exc:
        assert "3 points" in str(exc)
    else:
        raise AssertionError("a frame of 3 points with 2 descriptors was taken")
    assert len(spool) == 0


def test_the_archive_stores_the_features_the_decode_computed(testsrc_clip: Path) -> None:
    params = SamplingParams(fps=ARCHIVE_FPS)
    for_archive = analyse(str(testsrc_clip), params, features="archive")
    full = analyse(str(testsrc_clip), params, features="all")
    item, both = for_archive.features, full.features
    # made for the archive, the record is the same; only the turned hashes, never matched, are left out
    assert for_archive.fingerprint.frames == full.fingerprint.frames
    assert for_archive.fingerprint.shots == full.fingerprint.shots
    assert for_archive.fingerprint.content_box == full.fingerprint.content_box
    assert for_archive.dihedral_pdq.shape == (0, 8, 32) and full.dihedral_pdq.shape[0] == len(full.fingerprint.frames)
    assert isinstance(item, FeatureSpool) and len(item) > 5
    assert all(same(a, b) for a, b in zip(item, both, strict=True))
    assert [f.time for f in item] == sorted(f.time for f in item) and item[1].time > 0
    with tempfile.TemporaryDirectory() as work:
        archive = str(Path(work) / "a.sqlite")
        report = add_files(archive, [str(testsrc_clip)])
        assert report.failed == 0
        with ArchiveStore.open(archive, create=False) as store:
            _, stored = store.feature_frames()
    assert len(stored) == len(item) and all(same(a, b) for a, b in zip(stored, item, strict=True))
