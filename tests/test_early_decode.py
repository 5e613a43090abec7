"""``check`` starts a video's decode as soon as ffprobe has answered, and the analysis takes it over (issue 17).

Real decoding throughout (clips from ffmpeg's lavfi sources):

* the decode started early (``provenance.sampling.start_early_decode``, as ``check`` calls it) is the one
  the analysis asks for, with and without local features, with and without a soundtrack, in fast mode, so
  it is taken over; the analysis is the same, hash for hash, as one that starts its own decode;
* a decode started for other settings is not used: it is stopped, and the analysis decodes afresh;
* a decode nobody takes (the caller fails first) is stopped on leaving: no ffmpeg is left running;
* a still, or a file ffprobe cannot read, starts nothing, and the check says what it always said.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from provenance.audio.methods import METHODS
from provenance.checking import check
from provenance.errors import UnreadableMediaError
from provenance.fingerprinting import Analysis, analyse
from provenance.media.first_reads import start_first_reads
from provenance.media.source import opened
from provenance.model import SamplingParams
from provenance.sampling import start_early_decode
from provenance.vision.on_demand import FeaturesOnDemand


def ffmpeg_children() -> list[int]:
    """The ffmpeg processes this process started that are still running (or not yet reaped)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        if parent == os.getpid() and name == "ffmpeg":
            found.append(int(entry))
    return found


def same_analysis(a: Analysis, b: Analysis) -> None:
    """The two analyses of one file agree: the record (but for when the file was read), the turned hashes and
    the feature frames, pixel for pixel."""
    assert a.fingerprint.frames == b.fingerprint.frames
    assert a.fingerprint.shots == b.fingerprint.shots
    assert a.fingerprint.soundtrack == b.fingerprint.soundtrack
    assert a.fingerprint.identity.sha256 == b.fingerprint.identity.sha256
    assert a.fingerprint.warnings == b.fingerprint.warnings
    assert a.fingerprint.params == b.fingerprint.params
    assert np.array_equal(a.dihedral_pdq, b.dihedral_pdq)
    assert len(a.fingerprint.frames) > 0
    assert len(a.features) == len(b.features)
    if isinstance(a.features, FeaturesOnDemand) and isinstance(b.features, FeaturesOnDemand):
        assert a.features.times == b.features.times
        assert all(np.array_equal(a.features.picture(i), b.features.picture(i)) for i in range(len(a.features)))


def early_analysis(path: Path, started_for: SamplingParams, params: SamplingParams,
                   features: str) -> tuple[Analysis, bool, bool]:
    """The analysis of ``path`` with ``params``, given a decode started early for ``started_for``, as ``check``
    starts it: the analysis, whether a decode was started, and whether the analysis took it over."""
    with opened(str(path)) as source:
        reads = start_first_reads(source)
        with start_early_decode(source, reads, started_for, features, METHODS) as early:
            analysis = analyse(source, params, features=features, first_reads=reads, early=early)
            return analysis, early.started, early.taken


@pytest.mark.parametrize("features", ["query", "none"])
@pytest.mark.parametrize("params", [SamplingParams(), SamplingParams(keyframes_only=True)], ids=["usual", "fast"])
@pytest.mark.parametrize("clip", ["testsrc_clip", "mandelbrot_clip"], ids=["with-sound", "silent"])
def test_the_analysis_takes_over_the_decode_started_early(clip: str, params: SamplingParams, features: str,
                                                          request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(clip)
    analysis, started, taken = early_analysis(path, params, params, features)
    assert started and taken
    same_analysis(analysis, analyse(str(path), params, features=features))
    if features == "query":
        assert len(analysis.features) > 0
    assert ffmpeg_children() == []


def test_a_decode_started_for_other_settings_is_stopped_and_not_used(testsrc_clip: Path) -> None:
    params = SamplingParams(fps=2.0)
    analysis, started, taken = early_analysis(testsrc_clip, SamplingParams(fps=4.0), params, "query")
    assert started and not taken
    same_analysis(analysis, analyse(str(testsrc_clip), params, features="query"))
    assert [f.time for f in analysis.fingerprint.frames[:3]] == [0.0, 0.5, 1.0]
    assert ffmpeg_children() == []


def test_a_decode_nobody_takes_is_stopped_on_leaving(testsrc_clip: Path) -> None:
    with pytest.raises(RuntimeError, match="the caller failed"), opened(str(testsrc_clip)) as source:
        reads = start_first_reads(source)
        with reads, start_early_decode(source, reads, SamplingParams(), "query", METHODS) as early:
            assert early.started
            assert ffmpeg_children() != []  # running, or done and waiting to be reaped
            raise RuntimeError("the caller failed")
    assert ffmpeg_children() == []


def test_a_still_starts_no_early_decode(still_jpeg: Path) -> None:
    analysis, started, taken = early_analysis(still_jpeg, SamplingParams(), SamplingParams(), "query")
    assert not started and not taken
    assert len(analysis.fingerprint.frames) == 1


def test_a_file_ffprobe_cannot_read_starts_nothing_and_fails_as_before(tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video\n")
    with opened(str(bad)) as source:
        reads = start_first_reads(source)
        with reads, start_early_decode(source, reads, SamplingParams(), "none", METHODS) as early:
            assert not early.started
    with pytest.raises(UnreadableMediaError, match="ffprobe cannot read"):
        check(str(bad))
    assert ffmpeg_children() == []
