"""The band print (``provenance.audio.bands``): the fingerprint of sound too short for Chromaprint.

On real decoding: the values made as ffmpeg decodes (``fingerprint``) are those of the whole samples,
bit for bit, in every block size (a property test), and the same on every run and in fast mode;
silence and hum carry no evidence; two seconds of a soundtrack, re-encoded (AAC, MP3, Opus, mono,
resampled) or under noise at -10 dB, are the same sound at their offset, and unrelated sound is other
sound. End to end, against a real SQLite archive of a two-second clip with sound (no Chromaprint
value at all): a re-encode matches by pictures and soundtrack, a swapped soundtrack is
``audio_replaced``, and so are its pictures under silence (the query's silence where the item has
sound counts as chance), a silent copy ``audio_removed``, a sped-up copy is not compared by the band
print; and an archive made at schema 11 migrates, its items compared by Chromaprint alone.

The synthetic sound is ``test_sound_align.synthetic``; the corpus speech is skipped without ``../shared``.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import X264, corpus_path, run_ffmpeg
from hypothesis import given, settings
from hypothesis import strategies as st
from test_sound_align import SPEECH, synthetic, with_picture

from provenance.archive import migrations
from provenance.archive.store import ArchiveStore
from provenance.audio import bands
from provenance.cli.app import cli
from provenance.fingerprinting import fingerprint
from provenance.match.soundtrack import BAND_SHIFT_SECONDS
from provenance.model import SOUND_BY_BANDS, SamplingParams

CLIP_SECONDS = 2.0  # the archived clip: under Chromaprint's shortest (about 2.7 s)
SHIFTS = round(BAND_SHIFT_SECONDS / bands.STEP)  # values either way, as match.soundtrack tries them


def pcm(path: Path) -> np.ndarray:
    """The file's first audio stream as int16 mono samples at the band print's rate (ffmpeg decodes it)."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "a:0", "-ac", "1",
                          "-ar", str(bands.SAMPLE_RATE), "-f", "s16le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype="<i2")


def band_values(path: Path, **params: object) -> np.ndarray:
    """The band print ``check`` makes of the file."""
    sound = fingerprint(str(path), SamplingParams(**params)).soundtrack  # type: ignore[arg-type]
    assert sound is not None and sound.band_step == pytest.approx(bands.STEP), sound
    return np.asarray(sound.band_items(), dtype=np.uint32)


@pytest.fixture(scope="module")
def folder(media_dir: Path) -> Path:
    out = media_dir / "bands"
    out.mkdir(exist_ok=True)
    return out


@pytest.fixture(scope="module")
def reference(folder: Path) -> Path:
    """12 s of the synthetic sound, AAC 128 kb/s."""
    return with_picture(folder / "reference.mp4", ["-f", "lavfi", "-i", synthetic(12, seed=11)], "[0:a]anull[a]",
                        ["-c:a", "aac", "-b:a", "128k"], 12)


# -- the values ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def samples(reference: Path) -> np.ndarray:
    return pcm(reference)


def test_the_decode_gives_the_values_of_the_whole_samples(reference: Path, samples: np.ndarray) -> None:
    made = band_values(reference)
    whole = bands.band_print(samples)
    assert len(made) == len(whole) == 1 + (len(samples) - bands.WINDOW) // bands.HOP - 1
    assert np.array_equal(made, whole)
    assert np.count_nonzero(made) > 0.9 * len(made)  # sound all through: nearly every value carries evidence


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(st.lists(st.integers(min_value=1, max_value=20000), min_size=1, max_size=40))
def test_any_blocks_give_the_same_values(sizes: list[int]) -> None:
    samples = _property_samples()
    raw = samples.tobytes()
    printer = bands.BandPrinter()
    at = 0
    for size in sizes:
        printer.feed(raw[at:at + size])
        at += size
    printer.feed(raw[at:])
    assert np.array_equal(printer.values(), bands.band_print(samples))


_PROPERTY: list[np.ndarray] = []


def _property_samples() -> np.ndarray:
    """3 s of varied int16 samples (a chirp under seeded noise), made once: numbers, not a decode."""
    if not _PROPERTY:
        t = np.arange(3 * bands.SAMPLE_RATE) / bands.SAMPLE_RATE
        rng = np.random.default_rng(5)
        wave = 0.4 * np.sin(2 * np.pi * (300 * t + 200 * t ** 2)) + 0.05 * rng.standard_normal(len(t))
        _PROPERTY.append((wave * 32767).astype(np.int16))
    return _PROPERTY[0]


def test_same_values_every_run_and_in_fast_mode(reference: Path) -> None:
    first = band_values(reference)
    assert np.array_equal(first, band_values(reference))
    assert np.array_equal(first, band_values(reference, keyframes_only=True))


@pytest.mark.parametrize("name,source", [
    ("silence", "anullsrc=r=44100:cl=stereo"),
    ("hum", "aevalsrc='0.3*sin(2*PI*50*t)+0.15*sin(2*PI*100*t)+0.1*sin(2*PI*150*t)':s=44100"),
    ("held tone", "sine=frequency=440:sample_rate=44100"),
])
def test_silence_and_hum_carry_no_evidence(name: str, source: str, folder: Path) -> None:
    values = band_values(with_picture(folder / f"flat-{name}.mp4", ["-f", "lavfi", "-i", source], "[0:a]anull[a]",
                                      ["-c:a", "aac", "-b:a", "96k"], 4))
    assert len(values) > 100
    assert bands.evidence_seconds(values) < 0.1 * len(values) * bands.STEP, np.count_nonzero(values)


# -- two seconds, changed: the same sound; unrelated: other sound ---------------------------------------------

OFFSET = 3.37  # where the two seconds are cut from
CHANGES = {
    "aac 64k": ("anull", ["-c:a", "aac", "-b:a", "64k"]),
    "mp3 64k": ("anull", ["-c:a", "libmp3lame", "-b:a", "64k"]),
    "opus 48k": ("anull", ["-c:a", "libopus", "-b:a", "48k"]),
    "mono 22 kHz": ("aresample=22050,pan=mono|c0=0.5*c0+0.5*c1", ["-c:a", "aac", "-b:a", "64k"]),
}


def two_seconds(folder: Path, source: Path, name: str, graph: str, codec: list[str]) -> Path:
    trimmed = f"atrim=start={OFFSET}:end={OFFSET + CLIP_SECONDS},asetpts=PTS-STARTPTS,{graph}"
    return with_picture(folder / f"cut-{source.stem}-{name.replace(' ', '_')}.mkv", ["-i", str(source)],
                        f"[0:a]{trimmed}[a]", codec, CLIP_SECONDS)


def rate_at(query: np.ndarray, item: np.ndarray, offset: float) -> float:
    rate, count = bands.bit_error_rate(query, item, offset, 1.0, 0.0, CLIP_SECONDS, SHIFTS)
    assert rate is not None and count * bands.STEP >= bands.MIN_SECONDS, (rate, count)
    return rate


@pytest.mark.parametrize("change", list(CHANGES))
def test_two_seconds_changed_are_the_same_sound(change: str, folder: Path, reference: Path) -> None:
    graph, codec = CHANGES[change]
    query = band_values(two_seconds(folder, reference, change, graph, codec))
    assert rate_at(query, band_values(reference), OFFSET) <= bands.SAME_BER


def test_two_seconds_under_noise_at_minus_10_db_are_the_same_sound(folder: Path, reference: Path) -> None:
    # the synthetic sound's mean power is about -19 dBFS; pink noise at amplitude 0.03 is about -29 dBFS
    noisy = with_picture(folder / "cut-noisy.mkv", ["-i", str(reference)],
                         f"[0:a]atrim=start={OFFSET}:end={OFFSET + CLIP_SECONDS},asetpts=PTS-STARTPTS[s];"
                         "anoisesrc=c=pink:a=0.03:r=44100:seed=21[n];[s][n]amix=inputs=2:duration=first:normalize=0[a]",
                         ["-c:a", "aac", "-b:a", "96k"], CLIP_SECONDS)
    assert rate_at(band_values(noisy), band_values(reference), OFFSET) <= bands.SAME_BER


def test_corpus_speech_changed_is_the_same_sound_and_unrelated_is_not(folder: Path, reference: Path) -> None:
    speech = corpus_path(SPEECH)
    whole = band_values(speech)
    for change, (graph, codec) in CHANGES.items():
        query = band_values(two_seconds(folder, speech, change, graph, codec))
        assert rate_at(query, whole, OFFSET) <= bands.SAME_BER, change
        assert rate_at(query, band_values(reference), OFFSET) >= bands.OTHER_BER, change


def test_unrelated_sound_is_other_sound(folder: Path, reference: Path) -> None:
    other = with_picture(folder / "unrelated.mp4", ["-f", "lavfi", "-i", synthetic(12, seed=12, variant=1)],
                         "[0:a]anull[a]", ["-c:a", "aac", "-b:a", "128k"], 12)
    item = band_values(reference)
    for start in (0.0, 2.5, 5.0, 8.0):
        query = band_values(other)
        rate, _ = bands.bit_error_rate(query, item, start, 1.0, 1.0, 1.0 + CLIP_SECONDS, SHIFTS)
        assert rate is not None and rate >= bands.OTHER_BER, (start, rate)


# -- end to end: a two-second clip ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def short(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An archive of a 2 s clip (testsrc2 under the synthetic sound) and its queries."""
    item = folder / "short-item.mp4"
    run_ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:d={CLIP_SECONDS}", "-f", "lavfi",
               "-i", synthetic(CLIP_SECONDS, seed=11), "-map", "0:v", "-map", "1:a", *X264,
               "-c:a", "aac", "-b:a", "128k", "-t", str(CLIP_SECONDS), str(item))
    other = folder / "short-other.mp4"
    run_ffmpeg("-f", "lavfi", "-t", str(CLIP_SECONDS), "-i", "mandelbrot=size=320x240:rate=25", "-f", "lavfi",
               "-i", synthetic(CLIP_SECONDS, seed=12, variant=1), "-map", "0:v", "-map", "1:a", *X264,
               "-c:a", "aac", "-b:a", "128k", "-t", str(CLIP_SECONDS), str(other))
    out = {"item": item}
    out["reencode"] = folder / "short-reencode.mp4"
    run_ffmpeg("-i", str(item), *X264, "-crf", "28", "-c:a", "aac", "-b:a", "48k", str(out["reencode"]))
    out["swapped"] = folder / "short-swapped.mp4"
    run_ffmpeg("-i", str(item), "-i", str(other), "-map", "0:v", "-map", "1:a", *X264, "-crf", "26",
               "-c:a", "aac", "-b:a", "96k", str(out["swapped"]))
    out["muted"] = folder / "short-muted.mp4"  # the pictures under digital silence
    run_ffmpeg("-i", str(item), "-f", "lavfi", "-i", f"anullsrc=r=44100:cl=stereo:d={CLIP_SECONDS}",
               "-map", "0:v", "-map", "1:a", *X264, "-c:a", "aac", "-b:a", "96k", "-t", str(CLIP_SECONDS),
               str(out["muted"]))
    out["mostly-muted"] = folder / "short-mostly-muted.mp4"  # 0.7 s of other sound, then silence
    run_ffmpeg("-i", str(item), "-i", str(other), "-filter_complex",
               f"[1:a]atrim=end=0.7,apad=whole_dur={CLIP_SECONDS}[a]", "-map", "0:v", "-map", "[a]", *X264,
               "-c:a", "aac", "-b:a", "96k", "-t", str(CLIP_SECONDS), str(out["mostly-muted"]))
    out["silent"] = folder / "short-silent.mp4"
    run_ffmpeg("-i", str(item), "-c:v", "copy", "-an", str(out["silent"]))
    out["faster"] = folder / "short-faster.mp4"
    run_ffmpeg("-i", str(item), "-filter_complex", "[0:v]setpts=PTS/1.25[v];[0:a]atempo=1.25[a]",
               "-map", "[v]", "-map", "[a]", *X264, "-c:a", "aac", "-b:a", "96k", str(out["faster"]))
    archive = tmp_path_factory.mktemp("bands-archive") / "archive.sqlite"
    result = CliRunner().invoke(cli, ["archive", "add", "--archive", str(archive), str(item), str(other)])
    assert result.exit_code == 0, result.output
    out["archive"] = archive
    return out


def the_match(short: dict[str, Path], query: str) -> dict:
    result = CliRunner().invoke(cli, ["check", "--json", "--archive", str(short["archive"]), str(short[query])])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    if query != "silent":
        assert record["soundtrack"]["count"] == 0 and record["soundtrack"]["band_count"] > 0  # no Chromaprint value
    found = [m for m in record["matches"] if m["name"] == short["item"].name]
    assert len(found) == 1, [(m["name"], m["matched_by"]) for m in record["matches"]]
    return found[0]


def test_a_reencode_of_a_short_clip_matches_by_pictures_and_band_print(short: dict[str, Path]) -> None:
    match = the_match(short, "reencode")
    assert match["matched_by"] == "both" and "audio_replaced" not in match["edits"]
    sound = match["soundtrack"]
    assert sound["status"] == "matched" and sound["fingerprint"] == SOUND_BY_BANDS
    assert sound["bit_error_rate"] <= bands.SAME_BER and sound["offset_agrees"] is True


def test_a_swapped_soundtrack_of_a_short_clip_is_audio_replaced(short: dict[str, Path]) -> None:
    match = the_match(short, "swapped")
    assert match["matched_by"] == "pictures" and "audio_replaced" in match["edits"]
    sound = match["soundtrack"]
    assert sound["status"] == "differs" and sound["fingerprint"] == SOUND_BY_BANDS
    assert sound["bit_error_rate"] >= bands.OTHER_BER
    text = CliRunner().invoke(cli, ["check", "--archive", str(short["archive"]), str(short["swapped"])]).output
    assert "soundtrack replaced by the band print" in text and "band print   " in text


@pytest.mark.parametrize("query", ["muted", "mostly-muted"])
def test_the_pictures_of_a_short_clip_under_silence_are_audio_replaced(short: dict[str, Path], query: str) -> None:
    # the query's silence where the item has sound counts as chance, not as nothing compared
    match = the_match(short, query)
    assert match["matched_by"] == "pictures" and "audio_replaced" in match["edits"]
    sound = match["soundtrack"]
    assert sound["status"] == "differs" and sound["fingerprint"] == SOUND_BY_BANDS
    assert sound["bit_error_rate"] >= bands.OTHER_BER


def test_a_query_of_no_evidence_against_the_items_sound_is_chance(reference: Path) -> None:
    item = band_values(reference)
    heard = item != bands.NO_EVIDENCE
    rate, count = bands.bit_error_rate(np.zeros_like(item), item, 0.0, 1.0, 0.0, len(item) * bands.STEP, 0)
    assert rate == 0.5 and count == int(heard.sum())
    rate, count = bands.bit_error_rate(item, np.zeros_like(item), 0.0, 1.0, 0.0, len(item) * bands.STEP, 0)
    assert rate is None and count == 0  # the item has no sound to look for


def test_a_silent_copy_of_a_short_clip_is_audio_removed(short: dict[str, Path]) -> None:
    match = the_match(short, "silent")
    assert match["soundtrack"]["status"] == "removed" and "audio_removed" in match["edits"]


def test_a_sped_up_short_clip_is_not_compared_by_the_band_print(short: dict[str, Path]) -> None:
    match = the_match(short, "faster")
    assert match["speed"] > 1.1  # the pictures found the speed-up (roughly, on 1.6 s)
    assert match["soundtrack"]["status"] == "not compared" and "audio_replaced" not in match["edits"]


def test_an_archive_of_schema_11_migrates_and_its_items_keep_chromaprint_only(short: dict[str, Path],
                                                                            tmp_path: Path) -> None:
    archive = tmp_path / "old.sqlite"
    archive.write_bytes(short["archive"].read_bytes())
    with sqlite3.connect(archive) as conn:  # as schema 11 left it: no band print columns
        for column in ("bands", "band_count", "band_step"):
            conn.execute(f"ALTER TABLE soundtracks DROP COLUMN {column}")
        conn.execute("PRAGMA user_version = 11")
    with ArchiveStore.open(archive, create=False) as store:
        assert migrations.user_version(store.connection) == migrations.LATEST_VERSION == 12
        sha = store.items()[0].sha256
        kept = store.soundtrack(sha)
        assert kept is not None and kept.bands is None
    result = CliRunner().invoke(cli, ["check", "--json", "--archive", str(archive), str(short["swapped"])])
    assert result.exit_code == 0, result.output
    (match,) = [m for m in json.loads(result.output)["matches"] if m["name"] == short["item"].name]
    assert match["soundtrack"]["status"] == "not compared" and "audio_replaced" not in match["edits"]
