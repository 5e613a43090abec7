"""What matched, pictures or soundtrack or both, in every output: the text report, the JSON record, the
evidence page and its signed record, and the triage's record, CSV, index and pages.

Real media from ffmpeg lavfi sources. The archived clip's sound is a melody that changes note four to
six times a second at pseudo-random pitches, over a second voice of its own rhythm and a little
seeded pink noise: every Chromaprint value of it carries evidence (none is silence or hum). The
queries: the clip's sound from 3 s to 15 s under other pictures (a match by the soundtrack alone), the
clip's pictures under another melody (the soundtrack replaced), a re-encode of the clip (both), and
the clip's pictures without sound (removed). The archive is built with ``provenance archive add``,
everything runs through the CLI (click's CliRunner), and the page is rendered by Debian's chromium
when it is installed.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import CHROMIUM, X264, chromium, run_ffmpeg

from provenance.audio.align import MATCH_BER
from provenance.checking import check
from provenance.cli.app import cli
from provenance.report.formatters import SOUND_ONLY_FINDING
from provenance.report.html import page_of, render_html
from provenance.report.json import check_record, json_text
from provenance.report.side_by_side import SOUND_ONLY
from provenance.tools import chromaprint_muxer_available

pytestmark = pytest.mark.skipif(not chromaprint_muxer_available() and shutil.which("fpcalc") is None,
                                reason="neither ffmpeg's chromaprint muxer nor fpcalc: no soundtrack fingerprint")

SECONDS = 16
SOUND_FROM, SOUND_SECONDS = 3.0, 12.0  # the stretch of the archived clip's sound the audio-only query carries


def melody(seed_a: float, seed_b: float) -> str:
    """An aevalsrc expression: two voices of decaying notes at pseudo-random pitches (a hash of the note's
    number and ``seed_*``), each with its own irregular rhythm, so the sound changes all the time."""
    lead = "t*4+1.5*sin(t*1.3)"  # notes begin at irregular times (its derivative stays positive)
    bass = "t*2.7+0.9*sin(t*0.7+1)"
    pitch_a = f"(220+660*mod(abs(sin((floor({lead})+{seed_a})*12.9898))*43758.5453,1))"
    pitch_b = f"(110+330*mod(abs(sin((floor({bass})+{seed_b})*78.233))*12345.678,1))"
    return (f"0.35*sin(2*PI*{pitch_a}*t)*exp(-5*mod({lead},1))"
            f"+0.25*sin(2*PI*{pitch_b}*t)*exp(-3*mod({bass},1))")


def _clip(out: Path, pictures: str, tune: str, noise_seed: int) -> Path:
    run_ffmpeg("-f", "lavfi", "-i", f"{pictures}:d={SECONDS}",
               "-f", "lavfi", "-i", f"aevalsrc='{tune}':s=44100:d={SECONDS}",
               "-f", "lavfi", "-i", f"anoisesrc=d={SECONDS}:c=pink:a=0.04:seed={noise_seed}",
               "-filter_complex", "[1:a][2:a]amix=inputs=2:normalize=0[a]", "-map", "0:v", "-map", "[a]",
               *X264, "-c:a", "aac", "-b:a", "128k", "-t", str(SECONDS), str(out))
    return out


def invoke(*args: str | Path) -> Result:
    """Run the CLI in-process (stdout and stderr kept apart)."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@dataclass(frozen=True)
class Sound:
    """The archive, the queries, and each query's text report and JSON record against it."""

    root: Path
    archive: Path
    item: Path
    queries: dict[str, Path]  # "audio_only", "replaced", "both", "removed"
    text: dict[str, str]
    record: dict[str, dict]


@pytest.fixture(scope="module")
def sound(tmp_path_factory: pytest.TempPathFactory) -> Sound:
    root = tmp_path_factory.mktemp("sound_outputs")
    media = root / "media"
    media.mkdir()
    item = _clip(media / "item.mp4", "testsrc2=size=320x240:rate=25", melody(0, 0), 11)
    other = _clip(media / "other.mp4", "testsrc2=size=320x240:rate=25", melody(7.3, 3.1), 29)
    queries = {name: media / f"{name}.mp4" for name in ("audio_only", "replaced", "both", "removed")}
    run_ffmpeg("-f", "lavfi", "-i", "mandelbrot=size=320x240:rate=25", "-ss", str(SOUND_FROM), "-i", str(item),
               "-map", "0:v", "-map", "1:a", "-t", str(SOUND_SECONDS), *X264, "-c:a", "aac", "-b:a", "96k",
               str(queries["audio_only"]))
    run_ffmpeg("-i", str(item), "-i", str(other), "-map", "0:v", "-map", "1:a", *X264, "-crf", "26",
               "-c:a", "aac", "-b:a", "128k", str(queries["replaced"]))
    run_ffmpeg("-i", str(item), *X264, "-crf", "28", "-c:a", "aac", "-b:a", "64k", str(queries["both"]))
    run_ffmpeg("-i", str(item), "-c:v", "copy", "-an", str(queries["removed"]))
    archive = root / "cases.sqlite"
    added = invoke("archive", "add", "--archive", archive, item)
    assert added.exit_code == 0, added.output + added.stderr
    text, record = {}, {}
    for name, path in queries.items():
        result = invoke("check", "--archive", archive, path)
        assert result.exit_code == 0, result.output + result.stderr
        text[name] = result.stdout
        result = invoke("check", "--archive", archive, "--json", path)
        assert result.exit_code == 0, result.output + result.stderr
        record[name] = json.loads(result.stdout)
    return Sound(root, archive, item, queries, text, record)


def only_match(sound: Sound, name: str) -> dict:
    """The record's one match (the archive holds one item)."""
    matches = sound.record[name]["matches"]
    assert len(matches) == 1, matches
    return matches[0]


def match_block(text: str) -> list[str]:
    """The lines of the text report's first match."""
    lines = text.split("MATCHES in ")[1].split("\n\n")[0].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  1. "))
    return lines[start:]


SEGMENT = re.compile(r"^ {5}(query|sound) +([\d.]+) - +([\d.]+) s  =  archive +([\d.]+) - +([\d.]+) s")


def segment_lines(lines: list[str]) -> list[tuple[str, float, float, float, float]]:
    """(side, query start, query end, archive start, archive end) of each segment line of a match."""
    found = [SEGMENT.match(line) for line in lines]
    return [(m.group(1), *(float(m.group(k)) for k in range(2, 6))) for m in found if m]


# -- the text report and the JSON record ------------------------------------------------------------------


def test_audio_only_match_says_soundtrack_only_with_the_sound_segments(sound: Sound) -> None:
    match = only_match(sound, "audio_only")
    assert match["matched_by"] == "soundtrack" and "audio_only" in match["edits"]
    track = match["soundtrack"]
    assert track["status"] == "matched" and track["segments"] == match["segments"]
    assert track["bit_error_rate"] <= MATCH_BER and track["offset_agrees"] is None
    lines = match_block(sound.text["audio_only"])
    assert lines[2] == (f"     matched by  soundtrack only ({track['bit_error_rate']:.0%} of its bits differ): "
                        "the pictures are not the item's")
    segments = segment_lines(lines)
    assert segments and {side for side, *_ in segments} == {"sound"}  # its segments are the sound's, said so
    _side, q0, q1, a0, a1 = segments[0]
    # the query's sound is the item's from 3 s: each sound second is the item's 3 s later
    assert a0 - q0 == pytest.approx(SOUND_FROM, abs=0.2) and a1 - q1 == pytest.approx(SOUND_FROM, abs=0.2)
    assert sum(s[2] - s[1] for s in segments) > SOUND_SECONDS - 3  # less the first value's 2.6 s of sound at most
    assert "no frames compared: the pictures are not the item's" in lines[len(segments) + 3]
    assert "mean PDQ distance" not in "\n".join(lines)  # no picture was compared: no distance to show
    assert any(line.startswith("     edit: audio_only - ") for line in lines)
    first = sound.text["audio_only"].splitlines()[0]
    assert SOUND_ONLY_FINDING in first, first
    # its sound is archived, not its pictures: partly known, never known
    assert first.startswith("PARTLY KNOWN"), first
    assert sound.record["audio_only"]["archive_verdict"]["verdict"] == "partly_known"
    assert sound.record["both"]["archive_verdict"]["verdict"] == "known"
    assert ", by its soundtrack only)" in sound.text["audio_only"]  # the archive verdict line says so too


def test_replaced_soundtrack_says_pictures_and_the_bits_that_differ(sound: Sound) -> None:
    match = only_match(sound, "replaced")
    track = match["soundtrack"]
    assert match["matched_by"] == "pictures" and "audio_replaced" in match["edits"]
    assert track["status"] == "differs" and track["segments"] == [] and track["bit_error_rate"] > MATCH_BER
    lines = match_block(sound.text["replaced"])
    assert lines[2] == f"     matched by  pictures (soundtrack replaced: {track['bit_error_rate']:.0%} of bits differ)"
    assert {side for side, *_ in segment_lines(lines)} == {"query"}  # no sound segment: none matched
    assert any(line.startswith("     edit: audio_replaced - ") for line in lines)
    assert SOUND_ONLY_FINDING not in sound.text["replaced"]


def test_reencode_says_pictures_and_soundtrack_where_the_pictures_are(sound: Sound) -> None:
    match = only_match(sound, "both")
    track = match["soundtrack"]
    assert match["matched_by"] == "both" and track["status"] == "matched" and track["offset_agrees"] is True
    assert not {"audio_only", "audio_replaced", "audio_removed"} & set(match["edits"])
    lines = match_block(sound.text["both"])
    assert lines[2] == (f"     matched by  pictures and soundtrack (the sound where the pictures are, "
                        f"{track['bit_error_rate']:.0%} of its bits differ)")
    segments = segment_lines(lines)
    sides = [side for side, *_ in segments]
    assert sides == ["query"] * len(match["segments"]) + ["sound"] * len(track["segments"])
    for (_side, q0, q1, a0, a1), seg in zip(segments[len(match["segments"]):], track["segments"], strict=True):
        assert (q0, q1, a0, a1) == pytest.approx(
            (seg["query_start"], seg["query_end"], seg["archive_start"], seg["archive_end"]), abs=0.005)
        assert a0 - q0 == pytest.approx(0.0, abs=0.2)  # a re-encode: the sound at its own time


def test_no_soundtrack_says_pictures_and_that_the_query_has_none(sound: Sound) -> None:
    match = only_match(sound, "removed")
    assert match["matched_by"] == "pictures" and "audio_removed" in match["edits"]
    assert match["soundtrack"]["status"] == "removed"
    lines = match_block(sound.text["removed"])
    assert lines[2] == "     matched by  pictures (the query has no soundtrack)"


def test_every_match_record_has_the_soundtrack_keys(sound: Sound) -> None:
    for name in sound.queries:
        match = only_match(sound, name)
        assert match["matched_by"] in ("pictures", "soundtrack", "both")
        assert set(match["soundtrack"]) == {"status", "segments", "bit_error_rate", "offset_agrees", "details",
                                            "fingerprint"}
        assert match["soundtrack"]["details"]  # each status says why in words


def test_side_by_side_of_an_audio_only_match_writes_nothing_and_says_why(sound: Sound, tmp_path: Path) -> None:
    out = tmp_path / "frames"
    result = invoke("check", "--archive", sound.archive, "--keyframes", out, "--json", sound.queries["audio_only"])
    assert result.exit_code == 0, result.output + result.stderr
    record = json.loads(result.stdout)
    assert "side_by_side" not in record  # no matched frame was written
    assert not [p for p in out.iterdir() if p.is_dir()]  # no match folder, only the keyframes
    assert any(SOUND_ONLY in w for w in record["warnings"]), record["warnings"]


# -- the evidence page and its signed record --------------------------------------------------------------


@dataclass(frozen=True)
class Reports:
    """The signed evidence reports of the audio-only and the replaced query, and the key to check them."""

    pub: Path
    audio_only_json: Path
    audio_only_html: Path
    replaced_json: Path
    replaced_html: Path


@pytest.fixture(scope="module")
def reports(sound: Sound) -> Reports:
    keys = sound.root / "keys"
    assert invoke("keygen", keys / "desk").exit_code == 0
    out = sound.root / "reports"
    for name in ("audio_only", "replaced"):
        result = invoke("report", sound.queries[name], "--archive", sound.archive, "--out", out,
                        "--sign", keys / "desk.key")
        assert result.exit_code == 0, result.output + result.stderr
    return Reports(keys / "desk.pub", out / "audio_only.mp4.provenance.json", out / "audio_only.mp4.provenance.html",
                   out / "replaced.mp4.provenance.json", out / "replaced.mp4.provenance.html")


def page_text(page: str, start: str, end: str) -> str:
    """The words of the page from section ``start`` to section ``end``, tags dropped, spaces collapsed."""
    part = page[page.index(f'id="{start}"'):page.index(f'id="{end}"')]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", part)))


def test_the_page_says_what_matched_and_shows_no_frames_for_an_audio_only_match(reports: Reports) -> None:
    page = reports.audio_only_html.read_text(encoding="utf-8")
    record = json.loads(reports.audio_only_json.read_text(encoding="utf-8"))
    (match,) = record["check"]["matches"]
    rate = f"{match['soundtrack']['bit_error_rate']:.0%}"
    summary = page_text(page, "summary", "integrity")
    assert SOUND_ONLY_FINDING in summary
    assert f"matched by soundtrack only ({rate} of its bits differ): the pictures are not the item's" in summary
    matches = page_text(page, "matches", "side-by-side")
    seg = match["segments"][0]
    assert (f"Matched by soundtrack only ({rate} of its bits differ)" in matches
            and f"sound {seg['query_start']:.2f}–{seg['query_end']:.2f} s = archive "
                f"{seg['archive_start']:.2f}–{seg['archive_end']:.2f} s" in matches
            and "no frames compared" in matches), matches
    assert 'data-matched-by="soundtrack"' in page
    side = page_text(page, "side-by-side", "earliest")
    assert "Matched by the soundtrack only: no matched pictures to show." in side
    assert 'class="sbs-view"' not in page and record["side_by_side"] == [
        {"sha256": match["sha256"], "item_name": "item.mp4", "views": [], "note": SOUND_ONLY}]


def test_the_page_of_a_replaced_soundtrack_says_so(reports: Reports) -> None:
    matches = page_text(reports.replaced_html.read_text(encoding="utf-8"), "matches", "side-by-side")
    assert re.search(r"Matched by pictures \(soundtrack replaced: \d+% of bits differ\)", matches), matches
    assert "audio_replaced: the pictures match but the soundtrack is not the item's" in matches
    assert "The soundtrack matches over" not in matches


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (/usr/bin/chromium)")
def test_chromium_renders_the_audio_only_page_with_its_words(reports: Reports, tmp_path: Path) -> None:
    dom = chromium("--dump-dom", reports.audio_only_html.as_uri(), profile=tmp_path / "p").stdout
    assert dom.count('id="matches"') == 1 and dom.count('id="side-by-side"') == 1
    words = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom)))
    assert "Matched by soundtrack only" in words and "Matched by the soundtrack only: no matched pictures" in words
    assert re.search(r"sound \d+\.\d\d–\d+\.\d\d s = archive", words)


def test_the_signature_covers_what_matched(reports: Reports, sound: Sound, tmp_path: Path) -> None:
    result = invoke("verify", reports.audio_only_json, sound.queries["audio_only"], "--key", reports.pub)
    assert result.exit_code == 0 and result.output.startswith("OK: file intact"), result.output + result.stderr
    record = json.loads(reports.audio_only_json.read_text(encoding="utf-8"))
    record["check"]["matches"][0]["matched_by"] = "both"  # claim the pictures matched too
    edited = tmp_path / reports.audio_only_json.name
    edited.write_text(json.dumps(record, indent=2), encoding="utf-8")
    shutil.copy(reports.audio_only_html, tmp_path / reports.audio_only_html.name)
    result = invoke("verify", edited, sound.queries["audio_only"], "--key", reports.pub)
    assert result.exit_code == 7, result.output + result.stderr


def test_the_page_reads_matched_by_and_soundtrack_back_from_the_record(sound: Sound) -> None:
    report = check(str(sound.queries["audio_only"]), archive=str(sound.archive))
    record = {"schema": "provenance.check", "check": json.loads(json_text(check_record(report)))}
    read = page_of(record, None, json_name="x.json", signer_key_id=None).matches
    assert [(m.matched_by, m.soundtrack) for m in read] == [(m.matched_by, m.soundtrack) for m in report.matches]
    assert read[0].soundtrack is not None and read[0].soundtrack.segments  # not an empty round trip


def test_a_record_made_before_soundtracks_reads_as_matched_by_pictures(reports: Reports) -> None:
    record = json.loads(reports.replaced_json.read_text(encoding="utf-8"))
    for match in record["check"]["matches"]:
        del match["matched_by"], match["soundtrack"]
        match["edits"] = [e for e in match["edits"] if e != "audio_replaced"]
        match["edit_details"] = [e for e in match["edit_details"] if e["name"] != "audio_replaced"]
    page = render_html(record, None, json_name="old.json", signer_key_id=None)
    said = re.findall(r'<div class="matched-by"><strong>Matched by</strong> (.*?)</div>', page)
    assert said == ["pictures"] and 'data-matched-by="pictures"' in page


# -- triage ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def triaged(sound: Sound) -> Path:
    batch = sound.root / "batch"
    batch.mkdir()
    for name in ("audio_only", "replaced"):
        shutil.copy(sound.queries[name], batch / f"{name}.mp4")
    out = sound.root / "triage"
    result = invoke("triage", batch, "--archive", sound.archive, "--out", out, "--jobs", "1")
    assert result.exit_code == 0, result.output + result.stderr
    return out


def triage_rows(out: Path) -> dict[str, dict[str, str]]:
    """summary.csv by file name."""
    rows = csv.DictReader(io.StringIO((out / "summary.csv").read_text(encoding="utf-8"), newline=""))
    return {row["name"]: row for row in rows}


def test_triage_record_and_csv_carry_matched_by(triaged: Path) -> None:
    rows = triage_rows(triaged)
    assert {name: row["matched_by"] for name, row in rows.items()} == {
        "audio_only.mp4": "soundtrack", "replaced.mp4": "pictures"}
    for name, by, edit in (("audio_only.mp4", "soundtrack", "audio_only"), ("replaced.mp4", "pictures",
                                                                              "audio_replaced")):
        record = json.loads((triaged / rows[name]["report"]).read_text(encoding="utf-8"))
        (match,) = record["matches"]
        assert record["triage"]["matched_by"] == by == match["matched_by"] and edit in match["edits"]
    record = json.loads((triaged / rows["audio_only.mp4"]["report"]).read_text(encoding="utf-8"))
    assert [m["note"] for m in record["side_by_side"]] == [SOUND_ONLY]


def test_triage_index_says_matched_by_flags_the_sound_edits_and_explains_them(triaged: Path) -> None:
    index = (triaged / "index.html").read_text(encoding="utf-8")
    legend = index.split('id="legend"')[1].split("</p>")[0]
    for name in ("audio_only", "audio_replaced", "audio_removed"):
        assert f'<span class="edit sound">{name}</span>' in legend
    rows = triage_rows(triaged)
    for name, words, edit in (("audio_only.mp4", "matched by soundtrack only", "audio_only"),
                              ("replaced.mp4", "matched by pictures (soundtrack replaced: ", "audio_replaced")):
        row = index.split(f'data-name="{rows[name]["path"]}"')[1].split("</tr>")[0]
        assert html.escape(words, quote=False) in row, row[-1500:]
        assert f'<span class="edit sound">{edit}</span>' in row
    audio_row = index.split(f'data-name="{rows["audio_only.mp4"]["path"]}"')[1].split("</tr>")[0]
    assert re.search(r'<span class="small">sound \d+\.\d–\d+\.\d s = archive', audio_row)


def test_triage_page_says_what_matched(triaged: Path) -> None:
    record = json.loads((triaged / triage_rows(triaged)["audio_only.mp4"]["report"]).read_text(encoding="utf-8"))
    page = (triaged / record["triage"]["page"]).read_text(encoding="utf-8")
    assert "Matched by soundtrack only" in page_text(page, "matches", "side-by-side")
    assert "Matched by the soundtrack only: no matched pictures to show." in page_text(page, "side-by-side",
                                                                                          "earliest")


def test_triage_clusters_by_pictures_not_by_a_shared_soundtrack(triaged: Path) -> None:
    # both match the same archived item at overlapping times, one by its pictures, one by its sound
    # alone: other footage that reuses the sound is not the same footage, so not one cluster
    rows = triage_rows(triaged)
    assert rows["replaced.mp4"]["cluster"] and rows["audio_only.mp4"]["cluster"]
    assert rows["replaced.mp4"]["cluster"] != rows["audio_only.mp4"]["cluster"], rows
