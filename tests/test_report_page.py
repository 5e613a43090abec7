"""The evidence page for people: the conclusion first, links, places, still wording, structure, PDF; the text finding.

Real media (lavfi ``mandelbrot`` and ``testsrc2``), a real archive built with
``provenance.ingest.add.add_files``, the CLI through click's CliRunner, and Debian's ``chromium``
for the rendered page and the PDF (skipped, with the reason, when it is not installed).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import os
import re
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner, Result
from conftest import CHROMIUM, chromium, run_ffmpeg
from postgres_server import PostgresServer

from provenance.archive.copy import copy_between
from provenance.archive.store import ArchiveStore
from provenance.cli.app import cli
from provenance.hashing.pdq import pdq_image
from provenance.ingest.add import add_files
from provenance.match.verdict import ARCHIVE_VERDICTS
from provenance.model import Location, Sighting
from provenance.report.formatters import distance_km, media_time, web_link
from provenance.report.html import render_html

SAFE_URL = "https://youtu.be/abc123?t=1&list=x"
EVIL_URL = "javascript:alert(document.domain)"
PARIS, LONDON = "+48.8584+002.2945/", "+51.5007-000.1246/"


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    """Run the CLI in-process (stdout and stderr kept apart)."""
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


@dataclass(frozen=True)
class Pages:
    """An archive, a signing key, and the reports of a still and of a re-share with two locations."""

    root: Path
    archive: Path
    pub: Path
    still: Path  # the frame at 6.5 s of the archived clip, saved as a JPEG
    still_html: Path
    reshare: Path  # a re-encoded trim, make Apple written by ffmpeg, two locations 340 km apart
    reshare_json: Path
    reshare_html: Path


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory, mandelbrot_clip: Path) -> Pages:
    """The archive holds the 12 s mandelbrot clip, seen on YouTube in 2019 (an https URL) and again in 2020
    under a ``javascript:`` URL; the two pieces of evidence are reported against it, signed."""
    root = tmp_path_factory.mktemp("page")
    evidence = root / "evidence"
    evidence.mkdir()
    still = evidence / "frame.jpg"
    run_ffmpeg("-ss", "6.5", "-i", str(mandelbrot_clip), "-frames:v", "1", "-q:v", "3", str(still))
    reshare = evidence / "reshare.mp4"
    run_ffmpeg("-ss", "2", "-i", str(mandelbrot_clip), "-t", "6", "-c:v", "libx264", "-preset", "veryfast",
               "-crf", "26", "-pix_fmt", "yuv420p", "-metadata", f"location={PARIS}",
               "-metadata", f"com.apple.quicktime.location.ISO6709={LONDON}", "-metadata", "make=Apple",
               "-metadata", "model=iPhone 12", "-movflags", "use_metadata_tags", str(reshare))
    archive = root / "cases.sqlite"
    for seen in (Sighting(platform="YouTube", uploader="@chan", first_seen="2019-11-05", source_url=SAFE_URL),
                 Sighting(platform="forum", uploader="<b>anon</b>", first_seen="2020-01-01", source_url=EVIL_URL)):
        assert add_files(str(archive), [str(mandelbrot_clip)], sighting=seen).failed == 0
    assert invoke("keygen", root / "keys" / "desk").exit_code == 0
    key, pub = root / "keys" / "desk.key", root / "keys" / "desk.pub"
    out = root / "reports"
    for path in (still, reshare):
        result = invoke("report", path, "--archive", archive, "--out", out, "--sign", key,
                        "--claimed-date", "2024-03-01")
        assert result.exit_code == 0, result.output + result.stderr
    return Pages(root, archive, pub, still, out / "frame.jpg.provenance.html", reshare,
                 out / "reshare.mp4.provenance.json", out / "reshare.mp4.provenance.html")


SECTION_ORDER = ("summary", "integrity", "identity", "metadata", "structure", "keyframes", "matches", "earliest",
                 "custody", "method")


def section_positions(page: str) -> list[int]:
    """Where each section of ``SECTION_ORDER`` starts in ``page``."""
    return [page.index(f'id="{name}"') for name in SECTION_ORDER]


def hrefs(page: str) -> list[str]:
    """Every link target of the page, unescaped as a browser reads it."""
    return [html.unescape(h) for h in re.findall(r'href="([^"]*)"', page)]


# -- the conclusion first --------------------------------------------------------------------------


def test_the_summary_box_opens_the_page_with_verdict_first_seen_edits_and_dates(pages: Pages) -> None:
    page = pages.reshare_html.read_text(encoding="utf-8")
    positions = section_positions(page)
    assert positions == sorted(positions) and page.index("<h2") == page.index("Conclusion") - len('<h2 class="plain">')
    box = page[positions[0]:positions[1]]
    assert ARCHIVE_VERDICTS["known"] in box and "Best match: mandelbrot.mp4" in box
    assert "2019-11-05" in box and "@chan" in box and f'href="{html.escape(SAFE_URL)}"' in box
    edits = re.search(r'<ul class="tight edits">(.*?)</ul>', box, re.S)
    assert edits and "<li>reencode" in edits.group(1)  # the edits, as a list
    assert "at least 1578 days before the claimed interval began: it is older than claimed" in box
    finding = re.search(r'<p class="finding">(.*?)</p>', box, re.S)
    assert finding and finding.group(1).startswith("KNOWN: seen 2019-11-05 on youtube by @chan")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (/usr/bin/chromium)")
def test_the_summary_box_comes_first_in_the_page_chromium_renders(pages: Pages, tmp_path: Path) -> None:
    dom = chromium("--dump-dom", pages.reshare_html.as_uri(), profile=tmp_path / "p").stdout
    assert dom.count('id="summary"') == 1
    positions = section_positions(dom)
    assert positions == sorted(positions)
    body = dom[dom.index("<body"):]
    assert body.index('class="summary"') < body.index("<table")  # nothing of the details precedes it


# -- links and places ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [EVIL_URL, "JavaScript:alert(1)", "java\tscript:alert(1)", " https://x.example/",
                                 "data:text/html,<script>alert(1)</script>", "file:///etc/passwd", "http://",
                                 "//evil.example/", "https://x.example/a b", "vbscript:msgbox(1)"])
def test_only_plain_http_and_https_urls_are_links(url: str) -> None:
    assert web_link(url) is None


def test_an_https_url_is_a_link_and_a_javascript_url_is_escaped_text(pages: Pages) -> None:
    assert web_link(SAFE_URL) == SAFE_URL and web_link("http://example.org") == "http://example.org"
    page = pages.reshare_html.read_text(encoding="utf-8")
    links = hrefs(page)
    assert SAFE_URL in links
    assert all(h.startswith(("https://", "http://")) for h in links)  # no javascript:, data: or file: link
    assert EVIL_URL in html.unescape(page)  # still shown, as text
    assert "<b>anon</b>" not in page and "&lt;b&gt;anon&lt;/b&gt;" in page  # every text escaped


def test_a_location_links_to_openstreetmap_with_its_coordinates(pages: Pages) -> None:
    links = hrefs(pages.reshare_html.read_text(encoding="utf-8"))
    for lat, lon in (("51.500700", "-0.124600"), ("48.858400", "2.294500")):
        assert f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=15/{lat}/{lon}" in links


def test_both_locations_show_with_the_distance_between_them_when_they_disagree(pages: Pages) -> None:
    page = pages.reshare_html.read_text(encoding="utf-8")
    assert "51.50070, -0.12460" in page and "48.85840, 2.29450" in page
    said = re.search(r"The file's locations disagree:</strong> 2 places: (\S+) is ([\d,.]+) km from (\S+)\.", page)
    assert said, page[page.index('id="metadata"'):][:3000]
    paris = Location(48.8584, 2.2945, None, "x", PARIS)
    london = Location(51.5007, -0.1246, None, "y", LONDON)
    assert float(said.group(2).replace(",", "")) == pytest.approx(distance_km(paris, london), abs=0.1)
    assert 330 < distance_km(paris, london) < 350  # the two landmarks are about 340 km apart


# -- what the file says about itself ---------------------------------------------------------------


def test_structure_findings_are_on_the_page_and_in_the_signed_record(pages: Pages) -> None:
    record = json.loads(pages.reshare_json.read_text(encoding="utf-8"))
    structure = record["check"]["structure"]
    assert structure["last_writer"]["rule"] == "ffmpeg" and structure["last_writer"]["evidence"]
    codes = {i["code"] for i in structure["indicators"]}
    assert {"camera-claim-with-encoder", "locations-disagree"} <= codes
    assert structure["c2pa"]["state"] == "absent"
    page = pages.reshare_html.read_text(encoding="utf-8")
    section = page[page.index('id="structure"'):page.index('id="keyframes"')]
    assert "most likely last written by ffmpeg" in section and "Lavf" in section
    assert 'data-code="camera-claim-with-encoder"' in section and "camera make/model Apple" in section
    assert 'data-code="locations-disagree"' in section and "C2PA" in section


def test_verify_passes_on_the_report_and_fails_on_an_edited_structure(pages: Pages, tmp_path: Path) -> None:
    result = invoke("verify", pages.reshare_json, pages.reshare, "--key", pages.pub)
    assert result.exit_code == 0 and result.output.startswith("OK: file intact"), result.output + result.stderr
    record = json.loads(pages.reshare_json.read_text(encoding="utf-8"))
    record["check"]["structure"]["indicators"] = []  # hide the edit indicators
    edited = tmp_path / pages.reshare_json.name
    edited.write_text(json.dumps(record, indent=2), encoding="utf-8")
    result = invoke("verify", edited, pages.reshare, "--key", pages.pub)
    assert result.exit_code == 7, result.output + result.stderr


# -- stills ----------------------------------------------------------------------------------------


def test_a_still_matched_to_a_video_reads_as_its_frame(pages: Pages) -> None:
    assert media_time(6.5) == "00:00:06.50" and media_time(3725.257) == "01:02:05.26"
    page = pages.still_html.read_text(encoding="utf-8")
    assert "this picture is the frame at 00:00:06.50 of mandelbrot.mp4" in page
    for video_words in ("query is a clip", "0.00–0.00 s", "0% of the item", "1 frames agree", 'class="timeline"'):
        assert video_words not in page
    result = invoke("check", pages.still, "--archive", pages.archive)
    assert result.exit_code == 0, result.stderr
    assert "this picture is the frame at 00:00:06.50 of mandelbrot.mp4" in result.output
    for video_words in ("query is a clip", "0.00 -", "0% of the item", "frames agree"):
        assert video_words not in result.output


def test_a_still_matched_to_a_still_reads_as_the_same_picture(still_jpeg: Path, tmp_path: Path) -> None:
    archive = tmp_path / "stills.sqlite"
    assert add_files(str(archive), [str(still_jpeg)]).failed == 0
    copy = tmp_path / "copy" / "resaved.jpg"
    copy.parent.mkdir()
    run_ffmpeg("-i", str(still_jpeg), "-q:v", "12", str(copy))
    result = invoke("check", copy, "--archive", archive)
    assert result.exit_code == 0, result.stderr
    assert "this picture is the same picture as still.jpg, re-encoded but otherwise unedited" in result.output
    assert result.output.splitlines()[0].startswith("KNOWN: this picture is the same picture as still.jpg")


# -- the one-line finding --------------------------------------------------------------------------


def test_the_text_report_opens_with_the_finding(pages: Pages, testsrc_clip: Path) -> None:
    result = invoke("check", pages.still, "--archive", pages.archive, "--claimed-date", "2024-03-01")
    assert result.output.splitlines()[0] == ("KNOWN: this picture is the frame at 00:00:06.50 of mandelbrot.mp4; seen "
                                             "2019-11-05 on youtube by @chan; at least 1578 days older than claimed")
    result = invoke("check", testsrc_clip, "--archive", pages.archive)
    assert result.output.splitlines()[0] == "NEW: not in the archive"
    result = invoke("check", pages.reshare)
    first = result.output.splitlines()[0]
    assert first.startswith("NO ARCHIVE CONSULTED: the file says device Apple iPhone 12, written by Lavf")
    assert "2 locations disagree, 340" in first


# -- PDF -------------------------------------------------------------------------------------------


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (/usr/bin/chromium)")
def test_report_pdf_prints_the_page_where_the_reports_go(pages: Pages, tmp_path: Path) -> None:
    before = sorted(p.name for p in pages.reshare.parent.iterdir())
    out = tmp_path / "reports"
    result = invoke("report", pages.reshare, "--out", out, "--pdf", env={"PROVENANCE_CHROMIUM": None})
    assert result.exit_code == 0, result.output + result.stderr
    pdf = out / "reshare.mp4.provenance.pdf"
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 10_000
    assert f"pdf     {pdf}" in result.output
    assert sorted(p.name for p in pages.reshare.parent.iterdir()) == before  # nothing beside the evidence


def test_report_pdf_without_chromium_is_one_line_and_exit_3(pages: Pages, tmp_path: Path) -> None:
    tools = tmp_path / "bin"  # a PATH with ffmpeg and ffprobe but no browser
    tools.mkdir()
    for name in ("ffmpeg", "ffprobe"):
        found = shutil.which(name)
        assert found is not None
        os.symlink(found, tools / name)
    out = tmp_path / "reports"
    result = invoke("report", pages.reshare, "--out", out, "--pdf",
                    env={"PATH": str(tools), "PROVENANCE_CHROMIUM": None})
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 3 and len(lines) == 1 and "Chromium" in lines[0], result.stderr
    assert not out.exists() or not any(out.iterdir())  # refused before the examination: nothing written
    result = invoke("report", pages.reshare, "--out", out, "--pdf", env={"PROVENANCE_CHROMIUM": "no-such-browser"})
    assert result.exit_code == 3 and "PROVENANCE_CHROMIUM=no-such-browser" in result.stderr


# -- matched frames side by side -------------------------------------------------------------------

SBS_SOURCE = "testsrc2=size=400x300:rate=25"  # shapes of every size and a running clock: PDQ stays steady
SBS_X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-crf", "24"]
SBS_CROP = (0.25, 0.10, 0.85, 0.80)  # the window of the archived picture the mirrored re-share keeps
SBS_LOGO = (0.05, 0.05, 0.30, 0.22)  # a white box the re-share adds, in its own frame
DATA_JPEG = re.compile(r'src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"')


@dataclass(frozen=True)
class SideBySidePages:
    """An archived testsrc2 clip, a mirrored and cropped re-share of it and a still of it, with their reports."""

    root: Path
    archive: Path
    bare_archive: Path  # the same archive with its pictures table emptied
    pub: Path
    reshare: Path
    reshare_json: Path
    reshare_html: Path
    bare_html: Path  # the re-share reported against ``bare_archive``
    still_json: Path
    still_html: Path


@pytest.fixture(scope="module")
def sbs(tmp_path_factory: pytest.TempPathFactory) -> SideBySidePages:
    """The archive (made through the CLI) holds 8 s of testsrc2; the re-share is cropped to ``SBS_CROP``,
    mirrored and given a logo; the still is its frame at 4 s. All reported signed, through the CLI."""
    root = tmp_path_factory.mktemp("sbs_page")
    archived = root / "archived" / "testsrc2.mp4"
    archived.parent.mkdir()
    run_ffmpeg("-f", "lavfi", "-i", SBS_SOURCE, "-t", "8", *SBS_X264, str(archived))
    evidence = root / "evidence"
    evidence.mkdir()
    x0, y0, x1, y1 = SBS_CROP
    lx, ly, lr, lb = SBS_LOGO
    graph = (f"[0:v]crop=iw*{x1 - x0}:ih*{y1 - y0}:iw*{x0}:ih*{y0},hflip,"
             f"drawbox=x=iw*{lx}:y=ih*{ly}:w=iw*{lr - lx}:h=ih*{lb - ly}:color=white:t=fill[v]")
    reshare = evidence / "mirrored crop.mp4"
    run_ffmpeg("-i", str(archived), "-filter_complex", graph, "-map", "[v]", "-an", *SBS_X264, str(reshare))
    still = evidence / "frame4.jpg"
    run_ffmpeg("-ss", "4", "-i", str(archived), "-frames:v", "1", "-q:v", "3", str(still))
    archive = root / "archive.sqlite"
    added = invoke("archive", "add", archived, "--archive", archive)
    assert added.exit_code == 0, added.output + added.stderr
    bare = root / "bare.sqlite"
    shutil.copyfile(archive, bare)
    with contextlib.closing(sqlite3.connect(bare)) as db, db:  # Python's sqlite3: no sqlite3 program needed
        assert db.execute("DELETE FROM pictures").rowcount > 0
    assert invoke("keygen", root / "keys" / "desk").exit_code == 0
    key, pub = root / "keys" / "desk.key", root / "keys" / "desk.pub"
    out, bare_out = root / "reports", root / "bare_reports"
    for path, used, folder in ((reshare, archive, out), (still, archive, out), (reshare, bare, bare_out)):
        result = invoke("report", path, "--archive", used, "--out", folder, "--sign", key)
        assert result.exit_code == 0, result.output + result.stderr
    return SideBySidePages(root, archive, bare, pub, reshare, out / f"{reshare.name}.provenance.json",
                           out / f"{reshare.name}.provenance.html", bare_out / f"{reshare.name}.provenance.html",
                           out / f"{still.name}.provenance.json", out / f"{still.name}.provenance.html")


def sbs_listing(record_path: Path) -> tuple[dict, dict]:
    """The record's one match and its side-by-side listing."""
    record = json.loads(record_path.read_text(encoding="utf-8"))
    (match,) = record["check"]["matches"]
    (listed,) = record["side_by_side"]
    assert listed["sha256"] == match["sha256"]
    return match, listed


def section_of(page: str, name: str = "side-by-side") -> str:
    """The part of ``page`` from section ``name`` to the next section heading."""
    start = page.index(f'id="{name}"')
    end = page.find("<h2", start + 1)
    return page[start:end if end > 0 else len(page)]


def jpeg_bits(data: bytes) -> np.ndarray:
    """A JPEG decoded by OpenCV, as RGB (fails when it does not decode)."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert bgr is not None, "an embedded picture does not decode"
    return bgr[:, :, ::-1]


def test_the_record_lists_each_view_shown_with_the_sha256_of_its_pictures(sbs: SideBySidePages) -> None:
    _, listed = sbs_listing(sbs.reshare_json)
    assert listed["note"] is None and listed["item_name"] == "testsrc2.mp4"
    views = listed["views"]
    assert [v["position"] for v in views] == ["start", "middle", "end"] and {v["segment"] for v in views} == {0}
    page = sbs.reshare_html.read_text(encoding="utf-8")
    section = section_of(page)
    embedded = {hashlib.sha256(base64.b64decode(b)).hexdigest() for b in DATA_JPEG.findall(section)}
    for v in views:
        assert v["picture_kind"] in ("shot", "every") and v["marks"] == ["mirrored"]
        assert abs(v["query_time"] - v["archive_time"]) <= 0.15  # the re-share runs at the archive's time
        for kind in ("query", "archive", "difference"):
            assert v[kind]["media_type"] == "image/jpeg" and v[kind]["sha256"] in embedded
        said = f"query {media_time(v['query_time'])} = archive {media_time(v['archive_time'])}"
        assert said in section
    assert len(embedded) == 3 * len(views)
    # what is drawn, in words
    assert "MIRRORED" in section and "crop window" in section and "difference" in section


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (/usr/bin/chromium)")
def test_the_side_by_side_pictures_chromium_shows_decode_and_are_the_archived_frames(
        sbs: SideBySidePages, tmp_path: Path) -> None:
    match, listed = sbs_listing(sbs.reshare_json)
    dom = chromium("--dump-dom", sbs.reshare_html.as_uri(), profile=tmp_path / "p").stdout
    section = section_of(dom)
    shown = {hashlib.sha256(raw).hexdigest(): raw for raw in
             (base64.b64decode(b) for b in DATA_JPEG.findall(section))}
    with ArchiveStore.open(str(sbs.archive), create=False) as store:
        item = store.get(match["sha256"])
    assert item is not None
    stored = item.fingerprint.frames
    for v in listed["views"]:
        query, archived, difference = (jpeg_bits(shown[v[k]["sha256"]]) for k in ("query", "archive", "difference"))
        assert query.shape == difference.shape and max(archived.shape[:2]) == 480
        # the archived picture shown is the archived frame of that moment
        nearest = min(stored, key=lambda f: abs(f.time - v["archive_time"]))
        assert abs(nearest.time - v["archive_time"]) <= 0.07
        assert (int(pdq_image(archived)[0], 16) ^ int(nearest.pdq, 16)).bit_count() <= 30
        # the crop rectangle drawn is the measured window, which is the re-share's crop
        assert all(abs(a - b) <= 0.05 for a, b in zip(v["crop_box"], match["geometry"]["crop"], strict=True))
        assert all(abs(a - b) <= 0.05 for a, b in zip(v["crop_box"], SBS_CROP, strict=True))
    boxes = [tuple(float(x) for x in c.split()) for c in re.findall(r'data-crop="([^"]*)"', section)]
    assert len(boxes) == len(listed["views"])
    assert all(abs(a - b) <= 0.05 for box in boxes for a, b in zip(box, match["geometry"]["crop"], strict=True))


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (/usr/bin/chromium)")
def test_the_report_with_side_by_side_views_fits_1366_px(sbs: SideBySidePages, tmp_path: Path) -> None:
    measured = tmp_path / "measured.html"
    script = ("<script>document.body.dataset.scrollWidth = document.documentElement.scrollWidth;"
              "document.body.dataset.images = Array.from(document.images).filter(i => i.naturalWidth > 0).length;"
              "</script>")
    page = sbs.reshare_html.read_text(encoding="utf-8")
    measured.write_text(page.replace("</body>", script + "</body>"), encoding="utf-8")
    dom = chromium("--window-size=1366,900", "--dump-dom", measured.as_uri(), profile=tmp_path / "p").stdout
    found = re.search(r'data-scroll-width="(\d+)"', dom)
    assert found, dom[-2000:]
    assert int(found.group(1)) <= 1366
    images = re.search(r'data-images="(\d+)"', dom)
    assert images and int(images.group(1)) >= 1 + 3 * 3  # the contact sheet and every view's pictures decoded


def test_verify_passes_on_the_report_with_views_and_fails_on_a_changed_picture(sbs: SideBySidePages,
                                                                               tmp_path: Path) -> None:
    result = invoke("verify", sbs.reshare_json, sbs.reshare, "--key", sbs.pub)
    assert result.exit_code == 0 and result.output.startswith("OK: file intact"), result.output + result.stderr
    copy = tmp_path / "reports"
    copy.mkdir()
    shutil.copy(sbs.reshare_json, copy)
    page = sbs.reshare_html.read_text(encoding="utf-8")
    first = DATA_JPEG.search(section_of(page))
    assert first is not None
    changed = bytearray(base64.b64decode(first.group(1)))
    changed[len(changed) // 2] ^= 0x10  # one bit of the picture's coded data: it still decodes, differently
    other = base64.b64encode(bytes(changed)).decode("ascii")
    assert other != first.group(1)
    (copy / sbs.reshare_html.name).write_text(page.replace(first.group(1), other, 1), encoding="utf-8")
    result = invoke("verify", copy / sbs.reshare_json.name, sbs.reshare, "--key", sbs.pub)
    assert result.exit_code == 7 and "PAGE ALTERED" in result.output + result.stderr, result.output + result.stderr


def test_an_item_without_pictures_says_no_archived_picture(sbs: SideBySidePages) -> None:
    page = sbs.bare_html.read_text(encoding="utf-8")
    section = section_of(page)
    assert "no archived picture" in section and "testsrc2.mp4" in section
    assert not DATA_JPEG.search(section)
    record = json.loads(sbs.bare_html.with_name(sbs.bare_html.name.replace(".html", ".json")).read_text("utf-8"))
    (listed,) = record["side_by_side"]
    assert listed["views"] == [] and listed["note"] == "no archived picture"


def test_a_still_matched_to_a_video_item_shows_one_view(sbs: SideBySidePages) -> None:
    _, listed = sbs_listing(sbs.still_json)
    (view,) = listed["views"]
    assert view["query_time"] == 0.0 and abs(view["archive_time"] - 4.0) <= 0.5
    section = section_of(sbs.still_html.read_text(encoding="utf-8"))
    assert len(DATA_JPEG.findall(section)) == 3
    assert f"this picture = archive {media_time(view['archive_time'])}" in section
    assert "query 00:00" not in section


def test_a_listed_picture_not_given_to_the_page_is_named_missing(sbs: SideBySidePages) -> None:
    record = json.loads(sbs.reshare_json.read_text(encoding="utf-8"))
    page = render_html(record, None, json_name=sbs.reshare_json.name, signer_key_id=None)
    section = section_of(page)
    assert not DATA_JPEG.search(section)
    (listed,) = record["side_by_side"]
    assert section.count("picture not embedded") == 3 * len(listed["views"])
    del record["side_by_side"]  # a record without the listing (made before it, or by triage): no section
    assert 'id="side-by-side"' not in render_html(record, None, json_name="x.json", signer_key_id=None)


def test_a_report_against_the_team_archive_says_what_the_sqlite_one_says(
        pages: Pages, postgres_server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    team = postgres_server.new_database()
    copy_between(str(pages.archive), team)
    out = tmp_path / "reports"
    key = pages.root / "keys" / "desk.key"
    result = invoke("report", pages.reshare, "--archive", team, "--out", out, "--sign", key,
                    "--claimed-date", "2024-03-01")
    assert result.exit_code == 0, result.output + result.stderr
    mine = json.loads((out / "reshare.mp4.provenance.json").read_text(encoding="utf-8"))
    theirs = json.loads(pages.reshare_json.read_text(encoding="utf-8"))
    for field in ("matches", "earliest_appearance", "archive_verdict", "sha256"):
        assert mine["check"][field] == theirs["check"][field], field
    assert mine["check"]["archive"] == team and mine["custody"]["archive"] == team
    with ArchiveStore.open(team, create=False) as store:
        assert mine["custody"]["archive_id"] == store.archive_id()
    verified = invoke("verify", out / "reshare.mp4.provenance.json", pages.reshare, "--key", pages.pub,
                      "--archive", team)
    assert verified.exit_code == 0, verified.output + verified.stderr
