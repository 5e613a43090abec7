"""Soundtrack alignment (``provenance.audio.align``) on real audio with known truth.

Each query is cut from a reference soundtrack with ffmpeg (decoded, then ``atrim``: never ``-ss``
seeking, so the true offset is the cut's start), changed the way a re-upload changes it (re-encoded,
resampled, made mono, mixed with noise or music, sped up) and put under a small grey picture, since a
file with sound only is not a video the toolkit reads. Both sides are fingerprinted as ``check`` does
(``fingerprinting.fingerprint(path).soundtrack``), and :func:`align` must find the cut's start within
:data:`OFFSET_TOLERANCE` with segments that cover the query's sound (IoU at least :data:`MIN_IOU`).

The references are the corpus clips with sound when ``../shared`` is there, and a lavfi soundtrack of
aperiodic sweeps with a changing rhythm over seeded noise, so the core cases hold without the corpus.
Silence and hum carry no evidence and align with nothing; unrelated soundtracks never align.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import X264, corpus_path, run_ffmpeg
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.audio.align import FLAT_BITS, FLAT_RUN, KEY_BITS, SoundAlignment, align, informative, keys
from provenance.audio.chromaprint import ITEM_DURATION
from provenance.fingerprinting import fingerprint
from provenance.tools import chromaprint_muxer_available

STEP = ITEM_DURATION  # seconds from one Chromaprint value to the next
OFFSET_TOLERANCE = 0.15  # seconds: about one value step (0.124 s), the resolution of an offset
MIN_IOU = 0.9  # of the matched stretch against the query's whole sound
RELATIVE_DB = -10.0  # added noise or music, against the sound it is added to (mean power)

pytestmark = pytest.mark.skipif(not chromaprint_muxer_available() and shutil.which("fpcalc") is None,
                                reason="neither ffmpeg's chromaprint muxer nor fpcalc is available")

SPEECH = "workshop-documentary/issue-195-aspect-ratio.mp4"  # 25 s of AAC speech, 48 kHz stereo
FILM = "chaplin/chaplin.mp4"  # 9.6 s of MP3 film music, 44.1 kHz stereo
UNRELATED = (SPEECH, FILM, "pancake-kitchen/flipping_a_pancake.mkv", "vlog-makeup/tests_data_test.avi",
             "plane-field/video_with_failing_audio.mp4", "goldeneye/issue-134-rotate.mp4")
"""Corpus soundtracks of different sources: no two share any sound."""


def synthetic(seconds: float, seed: int, variant: int = 0) -> str:
    """A lavfi graph (one ``-f lavfi -i`` input) of ``seconds`` of aperiodic sound at 44.1 kHz: two voices
    sweeping at incommensurate rates (their phase is the integral of the frequency, so the pitch stays in
    130-870 Hz and 800-1600 Hz), gated on and off at a rhythm that itself drifts, over seeded pink noise.
    Unlike a steady chirp it never repeats, so every stretch of it lies at one offset only. ``variant``
    changes every rate: another soundtrack, unrelated to the first."""
    f1, p1, p2, f2, p3, g1, g2 = [
        (500, 3.7, 1.3, 1200, 2.9, 5.3, 4.1), (380, 4.3, 1.7, 950, 3.3, 6.1, 3.7)][variant]
    voice = (f"0.35*sin(2*PI*{f1}*t-250*{p1}*cos(2*PI*t/{p1})-120*{p2}*cos(2*PI*t/{p2}))"
             f"*(0.5+0.5*gt(sin(2*PI*t*(1.7+0.6*sin(2*PI*t/{g1}))),0))"
             f"+0.25*sin(2*PI*{f2}*t-400*{p3}*cos(2*PI*t/{p3}))*gt(sin(2*PI*t*(0.9+0.4*sin(2*PI*t/{g2}))),0.2)")
    return (f"aevalsrc='{voice}':s=44100:d={seconds:g}[v];"
            f"anoisesrc=c=pink:a=0.04:r=44100:seed={seed}:d={seconds:g}[n];[v][n]amix=inputs=2:normalize=0[out0]")


def sound_of(path: Path) -> np.ndarray:
    """The file's Chromaprint values, as ``check`` fingerprints it."""
    sound = fingerprint(path).soundtrack
    assert sound is not None and sound.status == "fingerprinted", (path, sound)
    assert sound.item_duration == pytest.approx(STEP)
    return np.asarray(sound.items(), dtype=np.uint32)


def with_picture(out: Path, inputs: list[str], graph: str, codec: list[str], seconds: float) -> Path:
    """``out``: ``seconds`` of a small grey picture under the sound ``graph`` makes (a filter graph over
    ``inputs``, ending in ``[a]``), encoded with ``codec``. Made once per session."""
    if not out.exists():
        picture = inputs.count("-i")
        run_ffmpeg(*inputs, "-f", "lavfi", "-i", f"color=c=gray:s=64x48:r=5:d={seconds:g}",
                   "-filter_complex", graph, "-map", f"{picture}:v", "-map", "[a]", *X264, *codec,
                   "-shortest", str(out))
    return out


def cut(start: float, end: float | None = None, label: str = "0:a") -> str:
    """A filter taking ``start``-``end`` seconds of the decoded sound, its time line restarted at 0."""
    bounds = f"start={start:g}" + (f":end={end:g}" if end is not None else "")
    return f"[{label}]atrim={bounds},asetpts=PTS-STARTPTS"


def mean_volume(inputs: list[str], graph: str) -> float:
    """Mean power in dBFS of the sound ``graph`` makes from ``inputs`` (ffmpeg's volumedetect)."""
    proc = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", *inputs, "-filter_complex", f"{graph},volumedetect",
                           "-f", "null", "-"], capture_output=True, text=True, check=True)
    found = re.search(r"mean_volume: (-?[\d.]+) dB", proc.stderr)
    assert found is not None, proc.stderr
    return float(found.group(1))


def coverage_iou(found: SoundAlignment, seconds: float) -> float:
    """Intersection over union of the segments' query stretches with the query's whole sound, 0-``seconds``."""
    spans = sorted((s.query_start, s.query_end) for s in found.segments)
    merged: list[list[float]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    inter = sum(max(0.0, min(hi, seconds) - max(lo, 0.0)) for lo, hi in merged)
    union = seconds + sum(hi - lo for lo, hi in merged) - inter
    return inter / union


def assert_found(found: SoundAlignment | None, offset: float, seconds: float, speed: float = 1.0) -> None:
    """The query's sound was found at ``offset`` item seconds, along ``speed``, over its ``seconds``."""
    assert found is not None, "no alignment"
    segments = [(s.query_start, s.query_end, s.archive_start, s.bit_error_rate) for s in found.segments]
    report = f"offset {found.offset}, BER {found.bit_error_rate}, votes {found.votes}, segments {segments}"
    assert found.offset == pytest.approx(offset, abs=OFFSET_TOLERANCE), report
    assert found.speed == speed, report
    for s in found.segments:  # each stretch lies where the truth puts it on the item
        assert s.archive_start == pytest.approx(offset + speed * s.query_start, abs=OFFSET_TOLERANCE), report
    assert coverage_iou(found, seconds) >= MIN_IOU, report


@pytest.fixture(scope="module")
def folder(media_dir: Path) -> Path:
    """Where this module's generated clips go (each made once, by name)."""
    d = media_dir / "sound_align"
    d.mkdir(exist_ok=True)
    return d


# -- the corpus: speech and film music, with every change a re-upload makes -----------------------------

@pytest.fixture(scope="module")
def unrelated() -> dict[str, np.ndarray]:
    """The values of every unrelated corpus soundtrack (skips without the corpus)."""
    return {name: sound_of(corpus_path(name)) for name in UNRELATED}


@pytest.fixture(scope="module")
def references() -> dict[str, np.ndarray]:
    """The values of the two reference soundtracks (skips without the corpus)."""
    return {name: sound_of(corpus_path(name)) for name in (SPEECH, FILM)}


AAC = ["-c:a", "aac", "-b:a", "128k"]
ROBUSTNESS = {  # name: (reference, cut start, cut end, filters after the cut, codec)
    "aac-32k": (SPEECH, 4.0, 20.0, "", ["-c:a", "aac", "-b:a", "32k"]),
    "aac-64k": (SPEECH, 4.0, 20.0, "", ["-c:a", "aac", "-b:a", "64k"]),
    "aac-128k": (SPEECH, 4.0, 20.0, "", AAC),
    "mp3": (SPEECH, 4.0, 20.0, "", ["-c:a", "libmp3lame", "-b:a", "128k"]),
    "opus": (SPEECH, 4.0, 20.0, "", ["-c:a", "libopus", "-b:a", "64k"]),
    "mono": (SPEECH, 4.0, 20.0, ",pan=mono|c0=0.5*c0+0.5*c1", AAC),
    "resampled-22050": (SPEECH, 4.0, 20.0, ",aresample=22050", AAC),
    "resampled-44100": (SPEECH, 4.0, 20.0, ",aresample=44100", AAC),
    # the speech is 48 kHz already: the film music (44.1 kHz) is the one to resample to 48 kHz
    "film-resampled-48000": (FILM, 1.0, 9.0, ",aresample=48000", AAC),
    "film-resampled-22050": (FILM, 1.0, 9.0, ",aresample=22050", AAC),
}


@pytest.mark.parametrize("case", list(ROBUSTNESS))
def test_a_changed_copy_of_a_stretch_is_found_at_its_offset(case: str, references: dict[str, np.ndarray],
                                                            folder: Path) -> None:
    reference, start, end, filters, codec = ROBUSTNESS[case]
    query = with_picture(folder / f"{case}.mp4", ["-i", str(corpus_path(reference))],
                         f"{cut(start, end)}{filters}[a]", codec, end - start)
    assert_found(align(sound_of(query), references[reference], STEP), start, end - start)


@pytest.mark.parametrize("start", [0.0, 2.5, 7.3, 12.55, 14.9])
def test_a_trim_is_found_at_its_start(start: float, references: dict[str, np.ndarray], folder: Path) -> None:
    query = with_picture(folder / f"trim-{start:g}.mp4", ["-i", str(corpus_path(SPEECH))],
                         f"{cut(start, start + 10)}[a]", AAC, 10)
    assert_found(align(sound_of(query), references[SPEECH], STEP), start, 10)


def _mixed(out: Path, added: list[str], added_label: str, start: float, end: float) -> Path:
    """The speech's ``start``-``end`` with the sound of input 1 (``added``) mixed in at RELATIVE_DB."""
    inputs = ["-i", str(corpus_path(SPEECH)), *added]
    speech = mean_volume(inputs, cut(start, end))
    other = mean_volume(inputs, cut(0, end - start, added_label))
    gain = speech - other + RELATIVE_DB
    graph = (f"{cut(start, end)}[s];{cut(0, end - start, added_label)},aresample=48000,"
             f"aformat=channel_layouts=stereo,volume={gain:.2f}dB[m];[s][m]amix=inputs=2:normalize=0[a]")
    return with_picture(out, inputs, graph, AAC, end - start)


def test_speech_under_pink_noise_at_minus_10_db_is_found(references: dict[str, np.ndarray], folder: Path) -> None:
    noise = ["-f", "lavfi", "-i", "anoisesrc=c=pink:a=0.2:r=48000:seed=3:d=20"]
    query = _mixed(folder / "speech-under-pink-noise.mp4", noise, "1:a", 5.0, 17.0)
    assert_found(align(sound_of(query), references[SPEECH], STEP), 5.0, 12.0)


def test_speech_under_film_music_at_minus_10_db_is_found(references: dict[str, np.ndarray], folder: Path) -> None:
    query = _mixed(folder / "speech-under-film-music.mp4", ["-i", str(corpus_path(FILM))], "1:a", 8.0, 17.0)
    assert_found(align(sound_of(query), references[SPEECH], STEP), 8.0, 9.0)


def test_a_5_percent_tempo_change_is_found_along_the_speed(references: dict[str, np.ndarray],
                                                          folder: Path) -> None:
    query = with_picture(folder / "tempo-1.05.mp4", ["-i", str(corpus_path(SPEECH))],
                         f"{cut(4.0, 20.0)},atempo=1.05[a]", AAC, 16.0)
    values = sound_of(query)
    along = align(values, references[SPEECH], STEP, speed=1.05)
    assert_found(along, 4.0, 16.0 / 1.05, speed=1.05)
    # Without the speed the query drifts 5% against the item, 0.76 s over its 15.2 s; the values still
    # agree within a few steps (each hears 21 steps of sound), so an offset is found all the same: the
    # one in the middle of the drift, about 0.3 s late, with more differing bits (measured here: 4.33 s
    # at 0.19, against 4.09 s at 0.085 along the speed). Hence the pictures' speed is given to align.
    plain = align(values, references[SPEECH], STEP)
    assert along is not None
    assert plain is None or (abs(plain.offset - 4.0) > OFFSET_TOLERANCE
                             and plain.bit_error_rate > along.bit_error_rate), plain


# -- silence and hum: no evidence -------------------------------------------------------------------------

FLAT = {
    "silence": "anullsrc=r=44100:cl=stereo",
    "hum": "aevalsrc='0.3*sin(2*PI*50*t)+0.15*sin(2*PI*100*t)+0.1*sin(2*PI*150*t)+0.05*sin(2*PI*250*t)':s=44100",
    "held-tone": "sine=frequency=440:sample_rate=44100",
}


FlatSounds = dict[str, tuple[np.ndarray, np.ndarray]]


@pytest.fixture(scope="module")
def flat(folder: Path) -> FlatSounds:
    """{name: (values, values of its 64 kb/s re-encode)} of 12 s of each flat sound."""
    out = {}
    for name, source in FLAT.items():
        first = with_picture(folder / f"{name}.mp4", ["-f", "lavfi", "-i", source], "[0:a]atrim=end=12[a]", AAC, 12)
        again = with_picture(folder / f"{name}-64k.mp4", ["-i", str(first)], "[0:a]anull[a]",
                             ["-c:a", "aac", "-b:a", "64k"], 12)
        out[name] = (sound_of(first), sound_of(again))
    return out


@pytest.fixture(scope="module")
def synth(folder: Path) -> np.ndarray:
    """The values of 30 s of the synthetic soundtrack, AAC 128k."""
    return sound_of(with_picture(folder / "synthetic.mp4", ["-f", "lavfi", "-i", synthetic(30, seed=11)],
                                 "[0:a]anull[a]", AAC, 30))


@pytest.mark.parametrize("name", list(FLAT))
def test_flat_sound_carries_no_evidence_and_aligns_with_nothing(name: str, flat: FlatSounds,
                                                             synth: np.ndarray) -> None:
    values, again = flat[name]
    assert len(values) > 50
    assert informative(values).mean() <= 0.05, informative(values).sum()
    assert informative(again).mean() <= 0.05, informative(again).sum()
    others = [v for other, pair in flat.items() if other != name for v in pair]
    for item in (values, again, synth, *others):  # not even itself: the same value step after step says nothing
        assert align(values, item, STEP) is None
        assert align(item, values, STEP) is None


@pytest.mark.parametrize("name", list(FLAT))
def test_flat_sound_aligns_with_no_corpus_soundtrack(name: str, flat: FlatSounds,
                                                     unrelated: dict[str, np.ndarray]) -> None:
    values, _ = flat[name]
    for item in unrelated.values():
        assert align(values, item, STEP) is None
        assert align(item, values, STEP) is None


# -- unrelated sound never aligns --------------------------------------------------------------------------

def test_unrelated_corpus_soundtracks_never_align(unrelated: dict[str, np.ndarray]) -> None:
    for name, values in unrelated.items():
        assert informative(values).sum() * STEP >= 3.0, name  # each has sound that could vote
    found = {(a, b): align(unrelated[a], unrelated[b], STEP) for a, b in itertools.permutations(unrelated, 2)}
    assert {pair: f for pair, f in found.items() if f is not None} == {}


def test_pink_noise_and_white_noise_never_align(folder: Path) -> None:
    pink, white = (sound_of(with_picture(folder / f"{colour}-noise.mp4",
                                         ["-f", "lavfi", "-i", f"anoisesrc=c={colour}:a=0.3:r=44100:seed={seed}"],
                                         "[0:a]atrim=end=12[a]", AAC, 12))
                   for colour, seed in (("pink", 1), ("white", 2)))
    assert informative(pink).sum() >= 20 and informative(white).sum() >= 20
    assert align(pink, white, STEP) is None
    assert align(white, pink, STEP) is None
    # noise is evidence all the same: it finds itself (where its values are not flat: 61 of its 75 here)
    itself = align(pink, pink, STEP)
    assert itself is not None and itself.offset == 0.0 and itself.bit_error_rate == 0.0


# -- the same core cases on lavfi sound alone (no corpus) ------------------------------------------------

@pytest.mark.parametrize("start", [0.0, 4.2, 13.65])
def test_synthetic_trim_is_found_at_its_start(start: float, synth: np.ndarray, folder: Path) -> None:
    query = with_picture(folder / f"synthetic-trim-{start:g}.mp4", ["-i", str(folder / "synthetic.mp4")],
                         f"{cut(start, start + 10)}[a]", AAC, 10)
    assert_found(align(sound_of(query), synth, STEP), start, 10)


def test_synthetic_reencoded_at_64k_is_found(synth: np.ndarray, folder: Path) -> None:
    query = with_picture(folder / "synthetic-64k.mp4", ["-i", str(folder / "synthetic.mp4")],
                         f"{cut(5.0, 25.0)}[a]", ["-c:a", "aac", "-b:a", "64k"], 20)
    assert_found(align(sound_of(query), synth, STEP), 5.0, 20.0)


def test_unrelated_synthetic_sound_never_aligns(synth: np.ndarray, folder: Path) -> None:
    other = sound_of(with_picture(folder / "synthetic-other.mp4", ["-f", "lavfi", "-i", synthetic(30, 12, variant=1)],
                                  "[0:a]anull[a]", AAC, 30))
    noise = sound_of(with_picture(folder / "synthetic-noise.mp4",
                                  ["-f", "lavfi", "-i", "anoisesrc=c=pink:a=0.3:r=44100:seed=5"],
                                  "[0:a]atrim=end=20[a]", AAC, 20))
    assert informative(other).mean() > 0.9 and informative(synth).mean() > 0.9
    for a, b in itertools.permutations((synth, other, noise), 2):
        assert align(a, b, STEP) is None


def test_a_soundtrack_shorter_than_a_window_is_compared_either_way(synth: np.ndarray, folder: Path) -> None:
    """3 s of the sound (fewer values than one bit-error window) against the whole of it and the
    other way round: compared without error (an archived 1.5 s piece once stopped every check)."""
    short = sound_of(with_picture(folder / "synthetic-short.mp4", ["-i", str(folder / "synthetic.mp4")],
                                  f"{cut(6.0, 9.0)}[a]", AAC, 3.0))
    assert 0 < len(short) < 16
    # where the pictures put it (``near``), as ``check`` asks, and by the sound's own votes
    for found in (align(short, synth, STEP), align(short, synth, STEP, near=6.0), align(synth, short, STEP),
                  align(synth, short, STEP, near=-6.0)):
        assert found is None or isinstance(found, SoundAlignment)


def test_silence_never_aligns_with_the_synthetic_sound(synth: np.ndarray, folder: Path) -> None:
    silence = sound_of(with_picture(folder / "synthetic-silence.mp4", ["-f", "lavfi", "-i", FLAT["silence"]],
                                    "[0:a]atrim=end=12[a]", AAC, 12))
    assert not informative(silence).any()
    assert align(silence, synth, STEP) is None and align(synth, silence, STEP) is None


# -- properties of the functions themselves ----------------------------------------------------------------

UINT32 = st.integers(min_value=0, max_value=2**32 - 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(UINT32, max_size=300))
def test_keys_are_the_top_bits(values: list[int]) -> None:
    found = keys(np.asarray(values, dtype=np.uint32))
    assert found.shape == (len(values),)
    assert ((found >= 0) & (found < 2**KEY_BITS)).all()
    assert found.tolist() == [v >> (32 - KEY_BITS) for v in values]


@settings(max_examples=60, deadline=None)
@given(UINT32, st.integers(min_value=FLAT_RUN, max_value=400))
def test_a_constant_is_never_informative(value: int, length: int) -> None:
    assert not informative(np.full(length, value, dtype=np.uint32)).any()


def flat_by_walking(values: list[int]) -> list[bool]:
    """Which values are flat, found by walking the runs one value at a time (the definition, spelt out)."""
    flat = [False] * len(values)
    start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or bin(values[i] ^ values[i - 1]).count("1") > FLAT_BITS:
            if i - start >= FLAT_RUN:
                flat[start:i] = [True] * (i - start)
            start = i
    return flat


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(UINT32, st.sampled_from([0, 1, 3, 7, 2**31, 2**31 + 1])), max_size=200))
def test_informative_is_the_values_outside_flat_runs(values: list[int]) -> None:
    # runs of near-equal values are likely among the few sampled ones: both kinds of value get tried
    found = informative(np.asarray(values, dtype=np.uint32)).tolist()
    assert found == [not f for f in flat_by_walking(values)]


@settings(max_examples=40, deadline=None)
@given(seed=UINT32, shift=st.integers(min_value=-150, max_value=150), length=st.integers(min_value=40, max_value=200))
def test_a_random_fingerprint_is_found_shifted(seed: int, shift: int, length: int) -> None:
    rng = np.random.default_rng(seed)
    item = rng.integers(0, 2**32, size=400, dtype=np.uint32)
    if shift >= 0:  # the query is the item from step `shift` on
        query = item[shift:shift + length]
    else:  # the query starts with -shift steps of other sound, then the item from its start
        query = np.concatenate([rng.integers(0, 2**32, size=-shift, dtype=np.uint32), item[:length]])
    found = align(query, item, STEP)
    assert found is not None
    assert found.offset == pytest.approx(shift * STEP, abs=1e-3)
    if shift >= 0:  # every value is the item's, bit for bit
        assert found.bit_error_rate == 0.0 and found.matched_values == len(query)
    else:  # the item's part is all matched (the other sound's edge may be, inside a window of mostly matches)
        assert found.matched_values >= length and found.segments[-1].query_end >= len(query) * STEP


@settings(max_examples=60, deadline=None)
@given(seed=UINT32, query_length=st.integers(min_value=0, max_value=40),
       item_length=st.integers(min_value=0, max_value=60), shared=st.booleans())
def test_soundtracks_of_any_length_are_compared(seed: int, query_length: int, item_length: int,
                                                shared: bool) -> None:
    """However short either side (none, one value, less than a window), ``align`` answers: an
    alignment or None. With ``shared`` the query is the start of the item, bit for bit."""
    rng = np.random.default_rng(seed)
    item = rng.integers(0, 2**32, size=item_length, dtype=np.uint32)
    query = item[:query_length] if shared else rng.integers(0, 2**32, size=query_length, dtype=np.uint32)
    for found in (align(query, item, STEP), align(item, query, STEP), align(query, item, STEP, near=0.0)):
        assert found is None or isinstance(found, SoundAlignment)
        if found is not None:
            assert found.bit_error_rate <= 0.5


@settings(max_examples=40, deadline=None)
@given(seed=UINT32, query_length=st.integers(min_value=20, max_value=300),
       item_length=st.integers(min_value=20, max_value=600))
def test_independent_random_fingerprints_never_align(seed: int, query_length: int, item_length: int) -> None:
    rng = np.random.default_rng(seed)
    query = rng.integers(0, 2**32, size=query_length, dtype=np.uint32)
    item = rng.integers(0, 2**32, size=item_length, dtype=np.uint32)
    assert align(query, item, STEP) is None
