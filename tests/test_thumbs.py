"""The triage thumbnail chosen among the frames the analysis kept, without decoding the file again."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from provenance.fingerprinting import Analysis, analyse
from provenance.ingest.add import ARCHIVE_FPS
from provenance.model import SamplingParams
from provenance.triage.thumbs import candidate_samples, thumbnail_jpeg
from provenance.vision.on_demand import FeaturesOnDemand
from tests.conftest import X264, run_ffmpeg


def _picture(jpeg: bytes) -> np.ndarray:
    """The thumbnail as RGB pixels."""
    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert bgr is not None
    return bgr[:, :, ::-1].astype(np.float64)


def _analysed(path: Path) -> tuple[Analysis, FeaturesOnDemand]:
    """The clip analysed as a triage worker analyses it, and the feature frames that analysis kept."""
    analysis = analyse(str(path), SamplingParams(fps=ARCHIVE_FPS), features="query")
    kept = analysis.mirrored_features
    assert isinstance(kept, FeaturesOnDemand) and len(kept) > 0
    return analysis, kept


@pytest.fixture(scope="module")
def bars(media_dir: Path) -> Path:
    """6 s of lavfi colour bars at 320x240: every frame the same picture."""
    out = media_dir / "thumb_bars.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "smptebars=size=320x240:rate=25", "-t", "6", *X264, str(out))
    return out


@pytest.fixture(scope="module")
def dark_start(media_dir: Path) -> Path:
    """3 s of black, then 3 s of lavfi testsrc2, at 320x240."""
    out = media_dir / "thumb_dark_start.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "color=c=black:size=320x240:rate=25:duration=3",
               "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=3",
               "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0", *X264, str(out))
    return out


def test_kept_frame_thumbnail_is_the_picture_decoded(bars: Path) -> None:
    analysis, kept = _analysed(bars)
    fp = analysis.fingerprint
    made = _picture(thumbnail_jpeg(str(bars), fp, kept=kept))
    decoded = _picture(thumbnail_jpeg(str(bars), fp))
    assert made.shape == decoded.shape == (120, 160, 3)
    # the same picture, colours in the same order: only the shrinking (OpenCV's, ffmpeg's) differs
    assert float(np.abs(made - decoded).mean()) < 4.0
    yellow = made[20:60, 30:40].mean(axis=(0, 1))  # the second of the seven bars
    assert yellow[0] > 150 and yellow[1] > 150 and yellow[2] < 80, yellow


def test_kept_frame_thumbnail_is_not_the_black_start(dark_start: Path) -> None:
    analysis, kept = _analysed(dark_start)
    picture = _picture(thumbnail_jpeg(str(dark_start), analysis.fingerprint, kept=kept))
    assert picture.shape == (120, 160, 3)
    assert picture.mean() > 40 or picture.std() > 6  # what shows_something asks


def test_candidates_among_kept_samples_are_kept_samples(dark_start: Path) -> None:
    analysis, kept = _analysed(dark_start)
    fp = analysis.fingerprint
    by_time = {round(f.time * 1e6): f.index for f in fp.frames}
    among = [by_time[round(t * 1e6)] for t in kept.times]
    assert len(among) < len(fp.frames)  # features are sampled more sparsely than the hashes
    first, later = candidate_samples(fp, among)
    assert first and set(first) | set(later) <= set(among)
    everything = candidate_samples(fp)
    good = next(f.index for f in fp.frames if f.pdq_quality >= 50)
    assert everything[0][0] == good  # without ``among`` the earliest detailed sample comes first, as before
    assert first[0] == next(k for k in among if fp.frames[k].pdq_quality >= 50)
