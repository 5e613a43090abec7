"""A query's local features made on demand (``provenance.vision.on_demand``), on real decoded frames.

The features a query is matched with are extracted when first asked for. These tests pin down that
this changes no answer: each frame's features are what ``extract`` gives for the same frame; asking
for a frame's time extracts nothing; and what a match needs is all that is extracted (a re-encoded trim
the hashes explain extracts no mirrored feature and few upright ones), while a mirrored crop is still
found and named from mirrored features made on demand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import run_ffmpeg

from provenance.archive.store import ArchiveStore
from provenance.fingerprinting import analyse, fingerprint
from provenance.frames.decode import decode_frames
from provenance.ingest.add import add_files
from provenance.match.against_archive import match_against
from provenance.match.verdict import archive_verdict
from provenance.media.display import display_dims
from provenance.media.identity import file_identity
from provenance.media.probe import probe
from provenance.triage.assemble import query_view
from provenance.triage.cluster import CLUSTER_FEATURE_FRAMES, cluster_features
from provenance.triage.results import AnalyseTask
from provenance.triage.worker import analyse_content
from provenance.vision.feature_image import FEATURE_FPS, feature_size
from provenance.vision.features import FrameFeatures, extract
from provenance.vision.on_demand import FeaturesOnDemand, times_of


def same(a: FrameFeatures, b: FrameFeatures) -> bool:
    """Whether two frames' features are equal, array for array."""
    return (a.time == b.time and a.aspect == b.aspect and np.array_equal(a.points, b.points)
            and np.array_equal(a.descriptors, b.descriptors) and a.grid is not None and b.grid is not None
            and np.array_equal(a.grid, b.grid))


@pytest.fixture(scope="module")
def feature_frames(mandelbrot_clip: Path) -> np.ndarray:
    """The first 6 feature frames of the mandelbrot clip, decoded as the side output is (fps, then area scaling)."""
    width, height = feature_size(*display_dims(probe(str(mandelbrot_clip))))
    return decode_frames(str(mandelbrot_clip), fps=FEATURE_FPS, width=width, height=height, color=True,
                         max_frames=6).pixels


@pytest.mark.parametrize("mirror", [False, True])
def test_features_on_demand_equal_extract_of_the_same_frames(feature_frames: np.ndarray, mirror: bool) -> None:
    on_demand = FeaturesOnDemand(mirror=mirror)
    for frame in feature_frames:
        on_demand.add(frame)
    times = [k / FEATURE_FPS for k in range(len(feature_frames))]
    with pytest.raises(RuntimeError, match="not sealed"):
        on_demand[0]
    with pytest.raises(ValueError, match="one time per feature frame"):
        on_demand.seal(times[:-1])
    on_demand.seal(times)
    assert on_demand.times == tuple(times) and times_of(on_demand) == times
    assert on_demand.extracted == 0  # the times, the length: nothing extracted for them
    assert len(on_demand) == len(feature_frames)
    made = extract(feature_frames, np.array(times), mirror=mirror)
    assert same(on_demand[3], made[3]) and on_demand.extracted == 1
    assert on_demand[-3] is on_demand[3] and on_demand[1:3] == (on_demand[1], on_demand[2])
    assert all(same(lazy, eager) for lazy, eager in zip(on_demand, made, strict=True))
    with pytest.raises(IndexError):
        on_demand[len(feature_frames)]


def test_a_trim_the_hashes_explain_extracts_no_mirrored_feature(tmp_path: Path, mandelbrot_clip: Path) -> None:
    archive = tmp_path / "cases.sqlite"
    with ArchiveStore.open(archive) as store:
        store.add(fingerprint(str(mandelbrot_clip)))
    trim = tmp_path / "trim.mp4"
    run_ffmpeg("-ss", "2", "-t", "6", "-i", str(mandelbrot_clip), "-c:v", "libx264", "-preset", "veryfast",
               "-crf", "30", str(trim))
    analysis = analyse(str(trim), features="query")
    upright, mirrored = analysis.features, analysis.mirrored_features
    assert isinstance(upright, FeaturesOnDemand) and isinstance(mirrored, FeaturesOnDemand)
    assert len(mirrored) == len(upright) == round(6 * FEATURE_FPS)
    (match,) = match_against(analysis, str(archive))
    assert "hflip" not in {e.name for e in match.edits} and match.query_coverage > 0.9
    assert mirrored.extracted == 0 and upright.extracted < len(upright)  # a few frames describe the match
    # the frames the decode kept are the side output's: their features are those of the same frames decoded alone
    width, height = feature_size(*display_dims(probe(str(trim))))
    frames = decode_frames(str(trim), fps=FEATURE_FPS, width=width, height=height, color=True).pixels
    rows = [round(t * FEATURE_FPS) for t in upright.times]
    for on_demand, mirror in ((upright, False), (mirrored, True)):
        made = extract(frames[rows], np.array(on_demand.times), mirror=mirror)
        assert all(same(lazy, eager) for lazy, eager in zip(on_demand, made, strict=True))


def test_triage_keeps_mirrored_features_only_for_a_content_it_will_search(tmp_path: Path,
                                                                         mandelbrot_clip: Path) -> None:
    archive = tmp_path / "cases.sqlite"
    add_files(str(archive), [str(mandelbrot_clip)])
    trim = tmp_path / "trim.mp4"  # known: the archived item holds all of it
    run_ffmpeg("-ss", "2", "-t", "6", "-i", str(mandelbrot_clip), "-c:v", "libx264", "-preset", "veryfast",
               "-crf", "30", str(trim))
    other = tmp_path / "other.mp4"  # new: not archived
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "10", "-c:v", "libx264",
               "-preset", "veryfast", "-pix_fmt", "yuv420p", str(other))
    kept = {}
    for path in (trim, other):
        result = analyse_content(AnalyseTask(str(path), file_identity(str(path)).sha256, str(archive)))
        assert result.error is None and result.fingerprint is not None
        kept[path] = (archive_verdict(query_view(result.fingerprint), result.matches)[0], result.cluster_features,
                      result.cluster_mirrored)
    verdict, upright, mirrored = kept[trim]
    assert verdict == "known" and len(upright) == round(6 * FEATURE_FPS) and mirrored == ()
    verdict, upright, mirrored = kept[other]
    assert verdict == "new" and len(upright) == len(mirrored) == CLUSTER_FEATURE_FRAMES  # of 20 frames
    assert [f.time for f in upright] == [f.time for f in mirrored]
    # the frames kept are chosen by time alone: not searched, no mirrored frame is extracted for them
    analysis = analyse(str(other), features="query")
    picked, none = cluster_features(analysis.features, analysis.mirrored_features, searched=False)
    assert isinstance(analysis.mirrored_features, FeaturesOnDemand) and analysis.mirrored_features.extracted == 0
    assert none == () and [f.time for f in picked] == [f.time for f in kept[other][1]]


def test_a_mirrored_copy_is_named_from_features_made_on_demand(tmp_path: Path, media_dir: Path) -> None:
    life = media_dir / "on_demand_life.mp4"  # changes locally without moving: a crop is not another moment
    if not life.exists():
        run_ffmpeg("-f", "lavfi", "-i", "life=size=200x150:rate=2.5:seed=21:ratio=0.3:mold=6:life_color=#e0c040:"
                   "death_color=#203060,scale=400:300:flags=neighbor,fps=25", "-t", "8", "-c:v", "libx264",
                   "-preset", "veryfast", "-pix_fmt", "yuv420p", str(life))
    archive = tmp_path / "cases.sqlite"
    add_files(str(archive), [str(life)])  # with the item's features, as `archive add` keeps them
    flipped = tmp_path / "flipped_crop.mp4"
    run_ffmpeg("-i", str(life), "-vf", "crop=iw*0.8:ih*0.8:iw*0.1:ih*0.1,hflip", "-c:v", "libx264",
               "-preset", "veryfast", "-crf", "23", str(flipped))
    analysis = analyse(str(flipped), features="query")
    (match,) = match_against(analysis, str(archive))
    assert {"hflip", "crop"} <= {e.name for e in match.edits}
    assert isinstance(analysis.mirrored_features, FeaturesOnDemand) and analysis.mirrored_features.extracted > 0
