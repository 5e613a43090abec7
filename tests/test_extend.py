"""Segments carried on by local features where frame hashes stop agreeing: slow zooms, perspective warps.

The archived clip is lavfi ``testsrc2``; the queries zoom slowly into it (``zoompan``, to x1.5) or
warp it like a camcorder filming a screen (``perspective``). Frame hashes agree with the archive
only for the first seconds of such a query; the local features pair every frame with the archived
frame of its moment, so the match covers the whole query, and stops where other footage begins.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import lavfi_clips, run_ffmpeg

from provenance.checking import check
from provenance.ingest.add import add_files
from provenance.match.verdict import union_length
from provenance.model import Match, Segment

X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
SIZE = "640x360"
SECONDS = 12
WALL = "0x8a8478"  # the plain wall's colour (a warm grey)
CROP = "crop=iw*0.6:ih*0.6:iw*0.2:ih*0.2,scale=640:360,setsar=1"  # the middle 60 %: the frame hashes miss it


def zoom(seconds: float, most: float = 1.5) -> str:
    """A Ken Burns zoom into the centre, from x1 to x``most`` over ``seconds`` at 25 fps."""
    return (f"zoompan=z='1+{most - 1}*on/{round(seconds * 25)}':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)'"
            f":d=1:s={SIZE}:fps=25,setsar=1")


@pytest.fixture(scope="module")
def sources(media_dir: Path) -> dict[str, Path]:
    """The archived clips: ``testsrc2``; ``testsrc`` black from 5 s to 7 s; an unrelated fractal; ``life``
    cells with a plain wall from 4 s to 8.5 s."""
    specs = {
        "pattern": f"testsrc2=size={SIZE}:rate=25",
        "blackout": f"testsrc=size={SIZE}:rate=25,drawbox=enable='between(t,5,7)':color=black:t=fill",
        "fractal": f"mandelbrot=size={SIZE}:rate=25",
        # a plain wall fills the picture from 4 s to 8.5 s: too plain for local features
        "wall": f"life=size={SIZE}:rate=25:seed=8:ratio=0.3:mold=10,format=yuv420p,"
                f"drawbox=enable='between(t,4,8.5)':color={WALL}:t=fill",
    }
    return lavfi_clips(media_dir, "extend_", specs, SECONDS, X264)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, sources: dict[str, Path]) -> str:
    """An archive of the four sources."""
    path = str(tmp_path_factory.mktemp("extend") / "archive.sqlite")
    add_files(path, [str(p) for p in sources.values()])
    return path


def edited(media_dir: Path, name: str, *args: str) -> Path:
    """A query made once from ffmpeg arguments (inputs and filters), re-encoded without audio."""
    out = media_dir / f"extend_query_{name}.mp4"
    if not out.exists():
        run_ffmpeg(*args, "-an", *X264, "-crf", "26", str(out))
    return out


def match_of(query: Path, archive: str, source: Path) -> Match:
    """The one match of ``query`` with the archived ``source`` (and no other item matched)."""
    report = check(str(query), archive, log_custody=False)
    assert [m.item_name for m in report.matches] == [source.name], [(m.item_name, m.segments) for m in report.matches]
    return report.matches[0]


def covered(match: Match) -> float:
    """Seconds of the query the match's segments cover."""
    return union_length([(s.query_start, s.query_end) for s in match.segments])


def test_slow_zoom_is_matched_over_the_whole_query(archive: str, sources: dict[str, Path], media_dir: Path) -> None:
    query = edited(media_dir, "zoom", "-i", str(sources["pattern"]), "-vf", zoom(SECONDS))
    match = match_of(query, archive, sources["pattern"])
    assert covered(match) >= 0.95 * SECONDS, match.segments
    assert match.verdict == "same"
    assert match.archive_coverage >= 0.95
    assert "crop" in {e.name for e in match.edits}  # the zoomed frames show part of the archived picture
    assert "trim" not in {e.name for e in match.edits}


def test_perspective_warp_is_matched_over_the_whole_query(archive: str, sources: dict[str, Path],
                                                          media_dir: Path) -> None:
    warp = "perspective=x0=38:y0=25:x1=600:y1=14:x2=30:y2=340:x3=615:y3=330:sense=destination"
    query = edited(media_dir, "perspective", "-i", str(sources["pattern"]), "-vf", warp)
    match = match_of(query, archive, sources["pattern"])
    assert covered(match) >= 0.95 * SECONDS, match.segments
    assert match.verdict == "same"


def test_zoomed_stretch_is_a_clip_at_its_archive_time(archive: str, sources: dict[str, Path],
                                                      media_dir: Path) -> None:
    query = edited(media_dir, "zoomed-stretch", "-i", str(sources["pattern"]),
                   "-vf", f"trim=start=3:end=9,setpts=PTS-STARTPTS,{zoom(6)}")
    match = match_of(query, archive, sources["pattern"])
    assert match.verdict == "clip_of_item"
    assert len(match.segments) == 1, match.segments
    segment = match.segments[0]
    assert segment.query_start <= 0.3 and segment.query_end >= 5.7, segment
    assert segment.archive_start == pytest.approx(3.0, abs=0.3) and segment.archive_end == pytest.approx(9.0, abs=0.3)


def test_segment_stops_where_other_footage_begins(archive: str, sources: dict[str, Path], media_dir: Path) -> None:
    """6 s zoomed into the archived clip, then 6 s of cells that were never archived."""
    graph = (f"[0:v]trim=end=6,setpts=PTS-STARTPTS,{zoom(6)}[a];"
             f"[1:v]trim=end=6,setpts=PTS-STARTPTS,format=yuv420p,setsar=1[b];[a][b]concat=n=2:v=1[v]")
    query = edited(media_dir, "zoom-then-other", "-i", str(sources["pattern"]), "-f", "lavfi",
                   "-i", f"life=size={SIZE}:rate=25:seed=3:ratio=0.3:mold=10", "-filter_complex", graph,
                   "-map", "[v]")
    match = match_of(query, archive, sources["pattern"])
    assert 5.5 <= max(s.query_end for s in match.segments) <= 6.5, match.segments
    assert covered(match) >= 5.5, match.segments
    assert match.verdict == "contains_parts"


def test_black_stretch_of_the_footage_itself_is_carried_across(archive: str, sources: dict[str, Path],
                                                               media_dir: Path) -> None:
    """Black frames carry no evidence; where the archive is black at the same moments, the frames that
    pair on either side make it one segment."""
    query = edited(media_dir, "zoom-blackout", "-i", str(sources["blackout"]), "-vf", zoom(SECONDS))
    match = match_of(query, archive, sources["blackout"])
    assert len(match.segments) == 1, match.segments
    assert covered(match) >= 0.95 * SECONDS, match.segments
    assert match.verdict == "same"


def test_blacked_out_stretch_is_not_claimed(archive: str, sources: dict[str, Path], media_dir: Path) -> None:
    """Black frames over footage the archive shows with detail are not the archived footage."""
    query = edited(media_dir, "zoom-redacted", "-i", str(sources["pattern"]),
                   "-vf", f"{zoom(SECONDS)},drawbox=enable='between(t,5,7)':color=black:t=fill")
    match = match_of(query, archive, sources["pattern"])
    claimed = union_length([(max(s.query_start, 5.0), min(s.query_end, 7.0)) for s in match.segments
                            if s.query_end > 5.0 and s.query_start < 7.0])
    assert claimed <= 0.5, match.segments


def claimed_between(match: Match, start: float, end: float) -> float:
    """Seconds of the query between ``start`` and ``end`` that the match's segments claim."""
    return union_length([(max(s.query_start, start), min(s.query_end, end)) for s in match.segments
                         if s.query_end > start and s.query_start < end])


def test_plain_stretch_of_a_crop_is_bridged_by_its_tone(archive: str, sources: dict[str, Path],
                                                        media_dir: Path) -> None:
    """A crop matched by local features only: its 4.5 s of plain wall have no keypoints to pair, but
    their colour grids agree with the archive's at the aligned moments under the measured crop, so
    the match is one segment over the whole query, the wall counted as low-detail."""
    query = edited(media_dir, "crop-wall", "-i", str(sources["wall"]), "-vf", CROP)
    match = match_of(query, archive, sources["wall"])
    assert match.geometry is not None and match.geometry.crop is not None and match.geometry.pairs > 0, match
    assert len(match.segments) == 1, match.segments
    assert covered(match) >= 0.95 * SECONDS, match.segments
    assert 3.0 <= match.segments[0].low_detail <= 4.5 + 0.5, match.segments
    assert match.verdict == "same"
    assert "trim" not in {e.name for e in match.edits}


def test_a_crop_that_begins_on_the_plain_wall_is_matched_from_its_start(archive: str, sources: dict[str, Path],
                                                                        media_dir: Path) -> None:
    """The crop of 5-12 s opens on 3.5 s of the plain wall: the match runs from the query's start,
    at the archive's 5 s, the wall counted as low-detail."""
    query = edited(media_dir, "crop-wall-start", "-ss", "5", "-i", str(sources["wall"]), "-vf", CROP)
    match = match_of(query, archive, sources["wall"])
    assert len(match.segments) == 1, match.segments
    segment = match.segments[0]
    assert segment.query_start <= 0.3 and segment.archive_start == pytest.approx(5.0, abs=0.3), segment
    assert segment.query_end >= 6.5 and 2.5 <= segment.low_detail <= 4.0, segment
    assert match.verdict == "clip_of_item"


@pytest.mark.parametrize("over", ["wall", "pattern"])
def test_a_plain_stretch_of_another_tone_is_not_bridged(over: str, archive: str, sources: dict[str, Path],
                                                        media_dir: Path) -> None:
    """The crop with its 4-8.5 s painted dark grey: over the wall (another tone than the archive's) or
    over the pattern (the archive shows detail there), the painted stretch is not the archived footage."""
    query = edited(media_dir, f"crop-painted-{over}", "-i", str(sources[over]),
                   "-vf", f"{CROP},drawbox=enable='between(t,4,8.5)':color=0x303030:t=fill")
    match = match_of(query, archive, sources[over])
    assert claimed_between(match, 4.5, 8.0) <= 0.5, match.segments
    assert match.verdict == "contains_parts"


def test_of_two_alignments_of_an_item_the_one_covering_more_of_the_query_is_kept() -> None:
    """Where the hashes explained little of the query, local features align the items afresh: per
    item, the feature match replaces the hash match only when it covers more of the query."""
    from dataclasses import replace

    from provenance.match.against_archive import better_aligned

    def match(sha: str, coverage: float, score: float) -> Match:
        return Match(sha256=sha, item_name=f"{sha}.mp4", score=score, verdict="contains_parts",
                     segments=(Segment(0.0, 10 * coverage, 0.0, 10 * coverage),), query_coverage=coverage,
                     archive_coverage=coverage, speed=1.0, matched_frames=3, mean_distance=40.0, edits=(),
                     sightings=())

    hashed = (match("aa", 0.3, 0.5), match("bb", 0.4, 0.4))
    found = (match("aa", 0.9, 0.3), replace(match("bb", 0.4, 0.3), speed=0.8), match("cc", 0.2, 0.2))
    kept = {m.sha256: m for m in better_aligned(hashed, found)}
    assert kept["aa"] is found[0]  # the features cover more of the query
    assert kept["bb"] is hashed[1]  # the same coverage: the hash match stays
    assert kept["cc"] is found[2]  # an item only the features found
    assert len(kept) == 3
