"""Matching by soundtrack, end to end: ``archive add`` then ``check --json`` through the CLI (CliRunner).

A clip with pictures and sound is archived (a lavfi one: mandelbrot pictures over the aperiodic synthetic
sound of ``test_sound_align``; and, when ``../shared`` is there, the corpus's 25 s of documentary speech),
beside a clip whose sound is silence. Then each query says what the soundtrack adds to a picture match:
other sound under the item's pictures is ``audio_replaced``; the item's sound under other pictures is a
match by the soundtrack alone (``audio_only``); a plain re-encode matches by both, where the pictures are;
the pictures without an audio track are ``audio_removed``; unrelated pictures and sound match nothing.
The archive's index of sound keys holds the item's evidence and nothing of the silence.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import X264, cli_json, corpus_path, run_ffmpeg
from test_sound_align import synthetic

from provenance.audio.align import MATCH_BER, informative
from provenance.fingerprinting import fingerprint
from provenance.tools import chromaprint_muxer_available

pytestmark = pytest.mark.skipif(not chromaprint_muxer_available() and shutil.which("fpcalc") is None,
                                reason="neither ffmpeg's chromaprint muxer nor fpcalc is available")

SOUND_ONLY_SECONDS = 10.0  # the stretch of the item's sound put under other pictures
START_TOLERANCE = 0.3  # seconds: where that stretch is found on the item
AAC = ["-c:a", "aac", "-b:a", "128k"]


@dataclass(frozen=True)
class Setup:
    """An archive and the queries made from its item."""

    archive: Path
    item: Path  # the archived clip with pictures and sound
    silent: Path  # the archived clip whose sound is silence
    sound_from: float  # where, in the item's sound, the stretch of the audio-only query starts
    queries: dict[str, Path]


def sha256(path: Path) -> str:
    """The file's SHA-256, as the archive names items."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _queries(folder: Path, item: Path, other_sound: list[str], unrelated_sound: list[str],
             sound_from: float) -> dict[str, Path]:
    """The five queries of an item: ``other_sound`` (one ffmpeg input) replaces its sound;
    ``unrelated_sound`` goes under pictures of nothing archived."""
    q = {name: folder / f"{name}.mp4" for name in ("reencoded", "replaced", "no_audio", "audio_only", "nothing")}
    # a plain re-encode: the pictures at another quality, the sound at another bit rate
    run_ffmpeg("-i", str(item), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "26", "-pix_fmt", "yuv420p",
               "-c:a", "aac", "-b:a", "96k", str(q["reencoded"]))
    run_ffmpeg("-i", str(q["reencoded"]), *other_sound, "-map", "0:v", "-map", "1:a", "-c:v", "copy", *AAC,
               str(q["replaced"]))
    run_ffmpeg("-i", str(q["reencoded"]), "-map", "0:v", "-c:v", "copy", "-an", str(q["no_audio"]))
    end = sound_from + SOUND_ONLY_SECONDS
    run_ffmpeg("-i", str(item), "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:d={SOUND_ONLY_SECONDS:g}",
               "-filter_complex", f"[0:a]atrim=start={sound_from:g}:end={end:g},asetpts=PTS-STARTPTS[a]",
               "-map", "1:v", "-map", "[a]", *X264, *AAC, "-shortest", str(q["audio_only"]))
    run_ffmpeg("-f", "lavfi", "-i", "life=size=320x240:rate=25:mold=10:seed=5", *unrelated_sound,
               "-map", "0:v", "-map", "1:a", "-t", "10", *X264, *AAC, str(q["nothing"]))
    return q


@pytest.fixture(scope="module")
def lavfi_items(media_dir: Path) -> tuple[Path, Path]:
    """(20 s of mandelbrot under 20 s of the synthetic sound, 8 s of cellauto under silence), H.264/AAC."""
    folder = media_dir / "sound_match"
    folder.mkdir(exist_ok=True)
    item, silent = folder / "item.mp4", folder / "silent.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "mandelbrot=size=320x240:rate=25", "-f", "lavfi", "-i", synthetic(20, seed=21),
               "-t", "20", *X264, *AAC, str(item))
    run_ffmpeg("-f", "lavfi", "-i", "cellauto=rule=110:size=320x240:rate=25:seed=6", "-f", "lavfi",
               "-i", "anullsrc=r=44100:cl=stereo", "-t", "8", *X264, *AAC, str(silent))
    return item, silent


def _archive(path: Path, *clips: Path) -> Path:
    """``path``, an archive of ``clips`` made by ``archive add``."""
    for clip in clips:
        cli_json("archive", "add", "--archive", str(path), "--json", str(clip))
    return path


@pytest.fixture(scope="module")
def lavfi_setup(lavfi_items: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Setup:
    """The lavfi item and the silent clip archived; queries of the item (no corpus needed)."""
    item, silent = lavfi_items
    folder = tmp_path_factory.mktemp("sound_match_lavfi")
    queries = _queries(folder, item, ["-f", "lavfi", "-i", "anoisesrc=c=pink:a=0.3:r=44100:seed=8:d=20"],
                       ["-f", "lavfi", "-i", synthetic(10, seed=22, variant=1)], sound_from=6.0)
    return Setup(_archive(folder / "archive.sqlite", item, silent), item, silent, 6.0, queries)


@pytest.fixture(scope="module")
def corpus_setup(lavfi_items: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Setup:
    """The corpus documentary archived beside the lavfi item and the silent clip; queries of the documentary,
    with film music (Chaplin) for the replaced sound and kitchen sound (the pancake clip) for the unrelated."""
    item = corpus_path("workshop-documentary/issue-195-aspect-ratio.mp4")
    music = corpus_path("chaplin/chaplin.mp4")
    kitchen = corpus_path("pancake-kitchen/flipping_a_pancake.mkv")
    folder = tmp_path_factory.mktemp("sound_match_corpus")
    queries = _queries(folder, item, ["-i", str(music)], ["-i", str(kitchen)], sound_from=8.0)
    archive = _archive(folder / "archive.sqlite", item, *lavfi_items)
    return Setup(archive, item, lavfi_items[1], 8.0, queries)


@pytest.fixture(scope="module", params=["lavfi", "corpus"])
def setup(request: pytest.FixtureRequest) -> Setup:
    """Each case on the lavfi archive, then on the corpus one (skipped without ../shared)."""
    return request.getfixturevalue(f"{request.param}_setup")


def record_of(setup: Setup, query: str) -> dict:
    """The JSON record of ``check --archive --json`` of the query."""
    return cli_json("check", "--archive", str(setup.archive), "--json", str(setup.queries[query]))


def the_match(record: dict, setup: Setup) -> dict:
    """The one match of the record, which must be the item."""
    matches = record["matches"]
    assert [m["sha256"] for m in matches] == [sha256(setup.item)], matches
    return matches[0]


def test_other_sound_under_the_pictures_is_audio_replaced(setup: Setup) -> None:
    match = the_match(record_of(setup, "replaced"), setup)
    assert match["matched_by"] == "pictures"
    assert "audio_replaced" in match["edits"]
    sound = match["soundtrack"]
    assert sound["status"] == "differs" and sound["segments"] == []
    assert sound["bit_error_rate"] > MATCH_BER, sound  # chance agreement, not the item's sound


def test_the_items_sound_under_other_pictures_matches_by_soundtrack_alone(setup: Setup) -> None:
    match = the_match(record_of(setup, "audio_only"), setup)
    assert match["matched_by"] == "soundtrack"
    assert "audio_only" in match["edits"]
    assert match["verdict"] == "clip_of_item"
    assert match["soundtrack"]["status"] == "matched"
    assert match["segments"], match
    first = min(match["segments"], key=lambda s: s["query_start"])
    # the sound's segment starts where the cut did, on both time lines
    assert first["archive_start"] - first["query_start"] == pytest.approx(setup.sound_from, abs=START_TOLERANCE)
    for s in match["segments"]:
        assert s["archive_start"] - s["query_start"] == pytest.approx(setup.sound_from, abs=START_TOLERANCE), s
    covered = sum(s["query_end"] - s["query_start"] for s in match["segments"])
    assert covered >= 0.9 * SOUND_ONLY_SECONDS and match["query_coverage"] >= 0.9, match["segments"]


def test_a_plain_reencode_matches_by_both_where_the_pictures_are(setup: Setup) -> None:
    record = record_of(setup, "reencoded")
    match = the_match(record, setup)
    assert match["matched_by"] == "both"
    sound = match["soundtrack"]
    assert sound["status"] == "matched" and sound["offset_agrees"] is True
    assert not {"audio_replaced", "audio_only", "audio_removed"} & set(match["edits"]), match["edits"]
    covered = sum(s["query_end"] - s["query_start"] for s in sound["segments"])
    assert covered >= 0.9 * record["duration"], sound["segments"]
    for s in sound["segments"]:  # a re-encode moves nothing
        assert s["archive_start"] == pytest.approx(s["query_start"], abs=START_TOLERANCE), s


def test_the_pictures_without_an_audio_track_are_audio_removed(setup: Setup) -> None:
    match = the_match(record_of(setup, "no_audio"), setup)
    assert match["matched_by"] == "pictures"
    assert "audio_removed" in match["edits"]
    assert match["soundtrack"]["status"] == "removed"


def test_unrelated_pictures_and_sound_match_nothing(setup: Setup) -> None:
    assert record_of(setup, "nothing")["matches"] == []


def test_the_sound_index_holds_the_items_evidence_and_none_of_the_silence(setup: Setup) -> None:
    conn = sqlite3.connect(f"file:{setup.archive}?mode=ro", uri=True)
    try:
        def rows(table: str, clip: Path) -> int:
            return conn.execute(f"SELECT count(*) FROM {table} JOIN items ON items.id = {table}.item_id "
                                "WHERE items.sha256 = ?", (sha256(clip),)).fetchone()[0]

        sound = fingerprint(setup.item).soundtrack
        assert sound is not None
        evidence = int(informative(np.asarray(sound.items(), dtype=np.uint32)).sum())
        assert evidence > 40
        assert rows("soundtrack_keys", setup.item) == evidence  # one key for every value that carries evidence
        assert rows("soundtracks", setup.silent) == 1  # its silence was fingerprinted...
        assert rows("soundtrack_keys", setup.silent) == 0  # ...and gives no key
    finally:
        conn.close()


def test_a_clip_with_too_little_sound_for_chromaprint_matches_by_its_band_print(setup: Setup,
                                                                             tmp_path: Path) -> None:
    # 2 s of the item, sound and all: Chromaprint gives no value under about 3 s (a benchmark trim once
    # crashed the comparison on its empty fingerprint); the band print compares it where the pictures are
    short = tmp_path / "short.mp4"
    run_ffmpeg("-i", str(setup.item), "-filter_complex",
               "[0:v]trim=start=4:duration=2,setpts=PTS-STARTPTS[v];[0:a]atrim=start=4:duration=2,asetpts=PTS-STARTPTS[a]",
               "-map", "[v]", "-map", "[a]", *X264, *AAC, str(short))
    record = cli_json("check", "--archive", str(setup.archive), "--json", str(short))
    assert (record["soundtrack"]["status"], record["soundtrack"]["count"]) == ("fingerprinted", 0)
    match = the_match(record, setup)
    assert match["matched_by"] == "both"
    assert match["soundtrack"]["status"] == "matched" and match["soundtrack"]["fingerprint"] == "band print"
    assert "too short for Chromaprint" in match["soundtrack"]["details"]
    assert not {"audio_replaced", "audio_removed"} & set(match["edits"])


def test_the_pictures_under_silence_where_the_item_has_sound_are_audio_replaced(setup: Setup, tmp_path: Path) -> None:
    muted = tmp_path / "muted.mp4"
    run_ffmpeg("-i", str(setup.queries["reencoded"]), "-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo",
               "-map", "0:v", "-map", "1:a", "-c:v", "copy", *AAC, "-shortest", str(muted))
    match = the_match(cli_json("check", "--archive", str(setup.archive), "--json", str(muted)), setup)
    assert match["matched_by"] == "pictures" and "audio_replaced" in match["edits"]
    assert match["soundtrack"]["status"] == "differs" and match["soundtrack"]["bit_error_rate"] > MATCH_BER


def test_a_match_by_the_soundtrack_alone_gives_the_earliest_appearance(
        archive_location: str, lavfi_setup: Setup, tmp_path: Path) -> None:
    archive = archive_location
    cli_json("archive", "add", "--archive", str(archive), "--json", "--platform", "telegram",
             "--first-seen", "2019-03-01", str(lavfi_setup.item))
    record = cli_json("check", "--archive", str(archive), "--json", "--claimed-date", "2024-05-01",
                      str(lavfi_setup.queries["audio_only"]))
    (match,) = record["matches"]
    assert match["matched_by"] == "soundtrack"
    earliest = record["earliest_appearance"]
    assert earliest["earliest_sha256"] == sha256(lavfi_setup.item)
    assert earliest["earliest"]["first_seen"] == "2019-03-01"
    assert earliest["older_than_claimed_days"] is not None and earliest["older_than_claimed_days"] > 1800
    assert record["archive_verdict"]["verdict"] == "partly_known"  # its sound is archived, not its pictures
