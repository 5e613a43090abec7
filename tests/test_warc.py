"""``archive import warc``: WARC and WACZ web archives written with warcio, imported through the CLI.

The WARC holds what a crawl of a page with footage holds: the request (with its Referer) and the
HTTP response of an MP4, a JPEG, an HTML page (not media), a second video sent with chunked
transfer encoding, and a JPEG whose WARC-Payload-Digest is wrong. The WACZ is the ZIP a crawler
writes (archive/data.warc.gz stored, pages/pages.jsonl, datapackage.json).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import X264, run_ffmpeg
from hypothesis import given, settings
from hypothesis import strategies as st
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from provenance.archive.store import ArchiveStore
from provenance.cli.app import cli
from provenance.errors import UnreadableMediaError
from provenance.ingest.warc import (
    PayloadDigest,
    ReadLimits,
    WebPage,
    import_web_archive,
    parse_pages_line,
    parse_payload_digest,
    warc_date,
)

CLIP_URI = "https://example.org/media/clip.mp4"
CLIP_DATE = "2020-10-05T12:34:56Z"
PAGE = "https://example.org/news/harbour-fire.html"
STILL_URI = "https://cdn.example.org/img/still.jpg?w=320"
CHUNKED_URI = "https://example.org/media/chunked.mp4"
BAD_URI = "https://example.org/img/tampered.jpg"
WACZ_CLIP_URI = "https://t.me/s/harbourwatch/clip2.mp4"
WACZ_PAGE = "https://t.me/s/harbourwatch"


def invoke(*args: str) -> Result:
    """Run the CLI in-process."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small real media: a 6 s testsrc2 MP4 (and a re-encoded copy), a 3 s smptebars MP4 and a JPEG."""
    folder = tmp_path_factory.mktemp("warc-media")
    out = {name: folder / name for name in ("clip.mp4", "copy.mp4", "bars.mp4", "still.jpg", "other.mp4")}
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "6", *X264, str(out["clip.mp4"]))
    run_ffmpeg("-i", str(out["clip.mp4"]), "-vf", "scale=256:192", "-c:v", "libx264", "-crf", "30",
               "-preset", "veryfast", "-pix_fmt", "yuv420p", str(out["copy.mp4"]))
    run_ffmpeg("-f", "lavfi", "-i", "smptebars=size=320x240:rate=25", "-t", "3", *X264, str(out["bars.mp4"]))
    run_ffmpeg("-f", "lavfi", "-i", "mandelbrot=size=320x240:rate=25", "-t", "3", *X264, str(out["other.mp4"]))
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=1", "-frames:v", "1", str(out["still.jpg"]))
    return out


def response(writer: WARCWriter, uri: str, body: bytes, content_type: str, *, date: str | None = None,
             chunked: bool = False, extra: dict[str, str] | None = None, digest: str | None = None) -> str:
    """Write an HTTP 200 response record (with ``digest`` as its WARC-Payload-Digest when given); its id."""
    headers = [("Content-Type", content_type)]
    if chunked:
        body = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 4000]), body[i:i + 4000])
                        for i in range(0, len(body), 4000)) + b"0\r\n\r\n"
        headers.append(("Transfer-Encoding", "chunked"))
    else:
        headers.append(("Content-Length", str(len(body))))
    warc_headers = {**({"WARC-Date": date} if date else {}), **(extra or {})}
    record = writer.create_warc_record(uri, "response", payload=io.BytesIO(body),
                                       http_headers=StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1"),
                                       warc_headers_dict=warc_headers)
    if digest:  # as write_record would do it, then the digest changed (write_record redoes unsized records)
        record.http_headers.compute_headers_buffer(writer.header_filter)
        writer.ensure_digest(record, block=True, payload=True)
        record.length = record.payload_length
        record.rec_headers.replace_header("WARC-Payload-Digest", digest)
    writer.write_record(record)
    return record.rec_headers.get_header("WARC-Record-ID")


def request(writer: WARCWriter, uri: str, referer: str, concurrent_to: str | None = None) -> None:
    """Write the GET request record of ``uri``, sent from ``referer``."""
    http = StatusAndHeaders(f"GET {uri.split('example.org', 1)[-1]} HTTP/1.1",
                            [("Host", "example.org"), ("Referer", referer)], is_http_request=True)
    warc_headers = {"WARC-Concurrent-To": concurrent_to} if concurrent_to else {}
    writer.write_record(writer.create_warc_record(uri, "request", http_headers=http,
                                                  warc_headers_dict=warc_headers))


def sha1_b32(data: bytes) -> str:
    """The WARC-Payload-Digest form warcio writes."""
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


@pytest.fixture(scope="module")
def crawl(media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A .warc.gz written with warcio, and the record ids of what it holds."""
    path = tmp_path_factory.mktemp("warc") / "crawl.warc.gz"
    ids: dict[str, object] = {"path": path}
    with path.open("wb") as f:
        writer = WARCWriter(f, gzip=True)
        request(writer, CLIP_URI, PAGE)
        ids["clip"] = response(writer, CLIP_URI, media["clip.mp4"].read_bytes(), "video/mp4", date=CLIP_DATE)
        ids["still"] = response(writer, STILL_URI, media["still.jpg"].read_bytes(), "image/jpeg",
                                date="2021-03-01T08:00:00.250000Z")
        ids["page"] = response(writer, PAGE, b"<html><body><video src='/media/clip.mp4'></video></body></html>",
                               "text/html; charset=utf-8", date=CLIP_DATE)
        ids["chunked"] = response(writer, CHUNKED_URI, media["bars.mp4"].read_bytes(), "video/mp4", chunked=True,
                                  date="2020-10-06T00:00:00Z")
        ids["bad"] = response(writer, BAD_URI, media["still.jpg"].read_bytes() + b"tampered", "image/jpeg",
                              date="2020-10-07T00:00:00Z", digest=sha1_b32(b"other bytes"))
    return ids


def test_a_warc_imports_its_videos_and_pictures_with_their_sightings(archive_location: str, crawl: dict[str, object],
                                                                      media: dict[str, Path],
                                                                      tmp_path: Path) -> None:
    archive = archive_location
    before = Path(str(crawl["path"])).read_bytes()
    result = invoke("archive", "import", "warc", "--archive", str(archive), str(crawl["path"]), "--json")
    assert result.exit_code == 4, result.output  # the tampered record failed; the rest is imported
    report = json.loads(result.stdout)
    by_uri = {r["uri"]: r for r in report["records"]}
    assert set(by_uri) == {CLIP_URI, STILL_URI, CHUNKED_URI, BAD_URI}  # the HTML page is not media
    assert report["not_media"] >= 2  # the page, and the request record
    assert [by_uri[u]["outcome"] for u in (CLIP_URI, STILL_URI, CHUNKED_URI)] == ["added"] * 3
    assert by_uri[BAD_URI]["outcome"] == "failed" and "digest mismatch" in by_uri[BAD_URI]["reason"]
    assert report["imported"] == 3 and report["failed"] == 1 and report["stopped"] is None
    clip_sha = hashlib.sha256(media["clip.mp4"].read_bytes()).hexdigest()
    assert by_uri[CLIP_URI]["sha256"] == clip_sha
    # the chunked body is decoded: the item is the file as served, not the chunks
    assert by_uri[CHUNKED_URI]["sha256"] == hashlib.sha256(media["bars.mp4"].read_bytes()).hexdigest()
    with ArchiveStore.open(str(archive), create=False) as store:
        assert len(store.items()) == 3
        item = store.get(clip_sha)
        assert item is not None and item.kind == "video"
        (sighting,) = item.sightings
        assert (sighting.source_url, sighting.first_seen, sighting.record_id) == (CLIP_URI, CLIP_DATE, crawl["clip"])
        assert (sighting.platform, sighting.platform_raw, sighting.recorded_from) == ("web", "example.org", "warc")
        assert sighting.page_url == PAGE  # the request's Referer
        assert sighting.file_name == "clip.mp4"
        still = store.get(by_uri[STILL_URI]["sha256"])
        assert still is not None and still.kind == "still"
        assert still.sightings[0].first_seen == "2021-03-01T08:00:00.250000Z"
        assert still.sightings[0].record_id == crawl["still"] and still.sightings[0].page_url is None
        custody = [row[0] for row in store.connection.execute("SELECT path FROM custody ORDER BY seq")]
    assert f"{os.path.abspath(str(crawl['path']))}#{crawl['clip']}" in custody
    assert Path(str(crawl["path"])).read_bytes() == before  # the evidence is only read
    assert sorted(p.name for p in Path(str(crawl["path"])).parent.iterdir()) == ["crawl.warc.gz"]

    again = invoke("archive", "import", "warc", "--archive", str(archive), str(crawl["path"]), "--json")
    assert again.exit_code == 4
    records = json.loads(again.stdout)["records"]
    assert [r["outcome"] for r in records if r["uri"] != BAD_URI] == ["known"] * 3
    assert all(r["sightings_added"] == 0 for r in records)
    with ArchiveStore.open(str(archive), create=False) as store:
        assert sum(len(it.sightings) for it in (store.get(i.sha256) for i in store.items()) if it) == 3

    shown = invoke("archive", "show", "--archive", str(archive), clip_sha).stdout
    assert f"{CLIP_URI} on page {PAGE}, WARC record {crawl['clip']}" in shown

    text = invoke("archive", "import", "warc", "--archive", str(archive), str(crawl["path"]))
    assert f"FAILED  {BAD_URI}: payload digest mismatch" in text.stdout
    assert "3 of 4 media record(s)" in text.stdout


def wacz(path: Path, warc_bytes: bytes, pages: list[dict[str, object]], extra: dict[str, bytes] | None = None) -> Path:
    """A WACZ as crawlers write it: the WARC stored, pages.jsonl and datapackage.json deflated."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zipfile.ZipInfo("archive/data.warc.gz"), warc_bytes, compress_type=zipfile.ZIP_STORED)
        lines = [{"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}, *pages]
        zf.writestr("pages/pages.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n",
                    compress_type=zipfile.ZIP_DEFLATED)
        resources = [{"name": "data.warc.gz", "path": "archive/data.warc.gz", "bytes": len(warc_bytes)}]
        zf.writestr("datapackage.json", json.dumps({"profile": "data-package", "wacz_version": "1.1.1",
                                                    "resources": resources}), compress_type=zipfile.ZIP_DEFLATED)
        for name, data in (extra or {}).items():
            zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return path


@pytest.mark.slow
def test_kill_9_keeps_what_was_imported_and_a_rerun_finishes(media: dict[str, Path], tmp_path: Path) -> None:
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    clips = []
    for i in range(4):
        clip = tmp_path / f"k{i}.mp4"
        run_ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25,hue=h={i * 80}", "-t", "8", *X264, str(clip))
        clips.append(clip)
    path = tmp_path / "many.warc.gz"
    with path.open("wb") as f:
        writer = WARCWriter(f, gzip=True)
        for i, clip in enumerate(clips):
            response(writer, f"https://example.org/v/k{i}.mp4", clip.read_bytes(), "video/mp4",
                     date=f"2020-10-0{i + 1}T00:00:00Z")
    archive = tmp_path / "a.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "provenance", "archive", "import", "warc", "--archive",
                             str(archive), str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "TMPDIR": str(tmp_path)})  # what the kill leaves goes with tmp_path
    try:
        deadline = time.monotonic() + 120
        done = 0
        while done < 1 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
            if archive.exists():
                with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(archive)) as conn:
                    done = conn.execute("SELECT count(*) FROM items").fetchone()[0]
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the import ended before it could be killed"
    with ArchiveStore.open(str(archive), create=False) as store:
        kept = {it.sha256 for it in store.items()}
    assert 1 <= len(kept) < 4
    report = json.loads(invoke("archive", "import", "warc", "--archive", str(archive), str(path), "--json").stdout)
    outcomes = sorted(r["outcome"] for r in report["records"])
    assert outcomes == sorted(["known"] * len(kept) + ["added"] * (4 - len(kept)))
    with ArchiveStore.open(str(archive), create=False) as store:
        assert sum(len(store.sightings(it.sha256)) for it in store.items()) == 4


def test_a_wacz_is_read_as_a_zip_and_its_page_is_the_sightings_page_and_check_finds_it(
        archive_location: str, media: dict[str, Path], tmp_path: Path) -> None:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    clip_id = response(writer, WACZ_CLIP_URI, media["clip.mp4"].read_bytes(), "video/mp4", date="2020-10-06T21:00:00Z")
    response(writer, WACZ_PAGE, b"<html>channel</html>", "text/html", date="2020-10-06T21:00:00Z")
    path = wacz(tmp_path / "crawl.wacz", buf.getvalue(),
                [{"id": "p1", "url": WACZ_PAGE, "ts": "2020-10-06T21:00:00Z", "title": "Harbour Watch"}])
    archive = archive_location
    report = json.loads(invoke("archive", "import", "warc", "--archive", str(archive), str(path), "--json").stdout)
    assert report["kind"] == "wacz" and report["pages"] == 1 and report["failed"] == 0
    (record,) = report["records"]
    assert (record["outcome"], record["page_url"], record["member"]) == ("added", WACZ_PAGE, "archive/data.warc.gz")
    with ArchiveStore.open(str(archive), create=False) as store:
        (sighting,) = store.get(record["sha256"]).sightings
    assert (sighting.record_id, sighting.page_url, sighting.title) == (clip_id, WACZ_PAGE, "Harbour Watch")
    assert sighting.source_url == WACZ_CLIP_URI and (sighting.platform, sighting.platform_raw) == ("telegram", "t.me")

    # the same clip, earlier, in a plain WARC: check of a re-encoded copy names the earliest appearance
    older = tmp_path / "older.warc"
    with older.open("wb") as f:
        response(WARCWriter(f, gzip=False), CLIP_URI, media["clip.mp4"].read_bytes(), "video/mp4", date=CLIP_DATE)
    assert invoke("archive", "import", "warc", "--archive", str(archive), str(older)).exit_code == 0
    checked = invoke("check", str(media["copy.mp4"]), "--archive", str(archive), "--json")
    assert checked.exit_code == 0, checked.output
    appearance = json.loads(checked.stdout)["earliest_appearance"]
    assert appearance["earliest"]["first_seen"] == CLIP_DATE
    assert appearance["earliest"]["source_url"] == CLIP_URI
    assert appearance["earliest"]["recorded_from"] == "warc"
    assert {s["sighting"]["source_url"] for s in appearance["sightings"]} == {CLIP_URI, WACZ_CLIP_URI}
    text = invoke("check", str(media["copy.mp4"]), "--archive", str(archive)).stdout
    assert f"on page {WACZ_PAGE}, WARC record {clip_id}" in text


def test_a_wacz_record_finds_its_page_by_page_id_and_by_referer(media: dict[str, Path], tmp_path: Path) -> None:
    first, second = "https://example.org/a.html", "https://example.org/b.html"
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    response(writer, STILL_URI, media["still.jpg"].read_bytes(), "image/jpeg", extra={"WARC-Page-ID": "p2"})
    request(writer, CHUNKED_URI, first)
    response(writer, CHUNKED_URI, media["bars.mp4"].read_bytes(), "video/mp4")
    path = wacz(tmp_path / "two.wacz", buf.getvalue(), [{"id": "p1", "url": first}, {"id": "p2", "url": second}])
    result = import_web_archive(str(tmp_path / "a.sqlite"), str(path))
    assert [(r.uri, r.page_url) for r in result.records] == [(STILL_URI, second), (CHUNKED_URI, first)]
    assert result.pages == 2 and result.kind == "wacz"


def test_a_truncated_gzip_member_keeps_what_came_before(
        archive_location: str, media: dict[str, Path], tmp_path: Path) -> None:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    response(writer, STILL_URI, media["still.jpg"].read_bytes(), "image/jpeg", date="2021-01-01T00:00:00Z")
    cut = len(buf.getvalue())
    response(writer, CLIP_URI, media["other.mp4"].read_bytes(), "video/mp4", date=CLIP_DATE)
    response(writer, CHUNKED_URI, media["bars.mp4"].read_bytes(), "video/mp4", date=CLIP_DATE)
    data = buf.getvalue()
    path = tmp_path / "cut.warc.gz"
    path.write_bytes(data[: cut + (len(data) - cut) // 4])
    archive = archive_location
    result = invoke("archive", "import", "warc", "--archive", str(archive), str(path), "--json")
    assert result.exit_code == 4
    report = json.loads(result.stdout)
    assert [r["outcome"] for r in report["records"]] == ["added", "failed"]
    assert "truncated" in report["records"][1]["reason"] and "cut short" in report["stopped"]
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("provenance: error: ")
    with ArchiveStore.open(str(archive), create=False) as store:
        assert [it.kind for it in store.items()] == ["still"]


@pytest.mark.parametrize("tail", [b"garbage, not a record\r\n\r\n",
                                  b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 99999\r\n\r\nxxxx"],
                         ids=["garbage", "no-target-uri"])
def test_a_bad_record_stops_the_reading_and_keeps_what_came_before(
        archive_location: str, tail: bytes, media: dict[str, Path],
                                                                   tmp_path: Path) -> None:
    buf = io.BytesIO()
    response(WARCWriter(buf, gzip=False), STILL_URI, media["still.jpg"].read_bytes(), "image/jpeg")
    path = tmp_path / "bad.warc"
    path.write_bytes(buf.getvalue() + tail + buf.getvalue())
    archive = archive_location
    result = invoke("archive", "import", "warc", "--archive", str(archive), str(path), "--json")
    assert result.exit_code == 4
    report = json.loads(result.stdout)
    assert [r["outcome"] for r in report["records"]] == ["added"] and "a bad record" in report["stopped"]
    assert result.stderr.startswith("provenance: error: ") and result.stderr.count("\n") == 1
    with ArchiveStore.open(str(archive), create=False) as store:
        assert len(store.items()) == 1


def test_a_resource_record_is_media_by_its_bytes_and_a_zip_payload_does_not_make_a_wacz(
        media: dict[str, Path], tmp_path: Path) -> None:
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("a.txt", "x")
    path = tmp_path / "resources.warc"
    with path.open("wb") as f:
        writer = WARCWriter(f, gzip=False)
        for uri, body, kind in (("urn:x-screenshot:1", media["still.jpg"].read_bytes(), "application/octet-stream"),
                                ("https://example.org/files/all.zip", zipped.getvalue(), "application/zip")):
            writer.write_record(writer.create_warc_record(uri, "resource", payload=io.BytesIO(body),
                                                          warc_content_type=kind))
    report = json.loads(invoke("archive", "import", "warc", "--archive", str(tmp_path / "a.sqlite"), str(path),
                               "--json").stdout)
    assert report["kind"] == "warc" and report["not_media"] == 1  # the ZIP, whose end is the file's end
    assert [(r["uri"], r["outcome"]) for r in report["records"]] == [("urn:x-screenshot:1", "added")]


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_any_bytes_after_a_record_give_a_stop_or_a_clean_end(tail: bytes, compressed: bool) -> None:
    import tempfile

    buf = io.BytesIO()
    response(WARCWriter(buf, gzip=compressed), PAGE, b"<html></html>", "text/html", date=CLIP_DATE)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.warc"
        path.write_bytes(buf.getvalue() + tail)
        try:
            result = import_web_archive(str(Path(tmp) / "a.sqlite"), str(path))
        except UnreadableMediaError as exc:
            assert "\n" not in str(exc)
        else:
            assert result.not_media >= 1 and (result.stopped is None or "\n" not in result.stopped)


@pytest.mark.parametrize("content", [b"", b"hello, this is not a web archive\n" * 20, b"\x1f\x8b\x08\x00garbage"],
                         ids=["empty", "text", "bad-gzip"])
def test_a_file_that_is_not_a_warc_is_one_line_exit_4(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "not.warc.gz"
    path.write_bytes(content)
    result = invoke("archive", "import", "warc", "--archive", str(tmp_path / "a.sqlite"), str(path))
    assert result.exit_code == 4, result.output
    assert result.stderr.startswith("provenance: error: ") and result.stderr.count("\n") == 1
    assert "not a WARC" in result.stderr


def test_a_wacz_member_that_climbs_out_is_refused_and_nothing_is_written(media: dict[str, Path],
                                                                          tmp_path: Path) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    buf = io.BytesIO()
    response(WARCWriter(buf, gzip=True), CLIP_URI, media["still.jpg"].read_bytes(), "image/jpeg")
    path = wacz(inner / "evil.wacz", buf.getvalue(), [], extra={"../evil": b"x", "/abs/evil": b"y"})
    result = invoke("archive", "import", "warc", "--archive", str(tmp_path / "a.sqlite"), str(path))
    assert result.exit_code == 4
    assert "climbs out" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "evil").exists() and sorted(p.name for p in inner.iterdir()) == ["evil.wacz"]
    with ArchiveStore.open(str(tmp_path / "a.sqlite"), create=False) as store:
        assert store.items() == []


def test_a_zip_bomb_is_refused_before_it_is_read(media: dict[str, Path], tmp_path: Path) -> None:
    buf = io.BytesIO()
    response(WARCWriter(buf, gzip=True), CLIP_URI, media["still.jpg"].read_bytes(), "image/jpeg")
    bomb = wacz(tmp_path / "bomb.wacz", buf.getvalue(), [], extra={"archive/zeros.warc": bytes(4 << 20)})
    result = invoke("archive", "import", "warc", "--archive", str(tmp_path / "a.sqlite"), str(bomb))
    assert result.exit_code == 4
    assert "ZIP bomb" in result.stderr and "expands" in result.stderr and result.stderr.count("\n") == 1
    # the limits are the library's parameters: the total and the member count
    plain = wacz(tmp_path / "plain.wacz", buf.getvalue(), [])
    with pytest.raises(UnreadableMediaError, match="ZIP bomb"):
        import_web_archive(str(tmp_path / "b.sqlite"), str(plain), limits=ReadLimits(max_total_bytes=100))
    with pytest.raises(UnreadableMediaError, match="members"):
        import_web_archive(str(tmp_path / "b.sqlite"), str(plain), limits=ReadLimits(max_members=2))
    assert ReadLimits().max_total_bytes >= 8 << 30 and ReadLimits().max_ratio == 100


def test_a_gzip_bomb_stops_the_reading_and_a_content_encoding_bomb_fails_its_record(media: dict[str, Path],
                                                                                     tmp_path: Path) -> None:
    import gzip

    fake_video = media["clip.mp4"].read_bytes()[:64] + bytes(8 << 20)  # an MP4's head, then 8 MiB of zeros
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    response(writer, STILL_URI, media["still.jpg"].read_bytes(), "image/jpeg")
    response(writer, CLIP_URI, fake_video, "video/mp4")
    bomb = tmp_path / "bomb.warc.gz"
    bomb.write_bytes(buf.getvalue())
    assert bomb.stat().st_size < 100_000
    result = invoke("archive", "import", "warc", "--archive", str(tmp_path / "a.sqlite"), str(bomb), "--json")
    assert result.exit_code == 4
    report = json.loads(result.stdout)
    assert [r["uri"] for r in report["records"]] == [STILL_URI] and "gzip bomb" in report["stopped"]

    plain = tmp_path / "encoded.warc"
    with plain.open("wb") as f:
        writer = WARCWriter(f, gzip=False)
        body = gzip.compress(fake_video)
        record = writer.create_warc_record(
            CLIP_URI, "response", payload=io.BytesIO(body),
            http_headers=StatusAndHeaders("200 OK", [("Content-Type", "video/mp4"), ("Content-Encoding", "gzip"),
                                                     ("Content-Length", str(len(body)))], protocol="HTTP/1.1"))
        writer.write_record(record)
    result = invoke("archive", "import", "warc", "--archive", str(tmp_path / "a.sqlite"), str(plain), "--json")
    assert result.exit_code == 4
    (failed,) = json.loads(result.stdout)["records"]
    assert failed["outcome"] == "failed" and "compression bomb" in failed["reason"]


def test_a_zip_that_is_not_a_wacz_and_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "photos.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.txt", "hello")
    result = invoke("archive", "import", "warc", "--archive", str(tmp_path / "a.sqlite"), str(path))
    assert result.exit_code == 4 and "not a WACZ" in result.stderr
    missing = invoke("archive", "import", "warc", "--archive", str(tmp_path / "a.sqlite"), str(tmp_path / "no.warc"))
    assert missing.exit_code == 2 and missing.stderr.count("\n") == 1


def test_help_has_examples_and_exit_codes() -> None:
    text = invoke("archive", "import", "warc", "--help").output
    assert "Examples:" in text and "Exit codes:" in text and "ZIP bomb" in text


ALGORITHMS = {"sha1": 20, "sha256": 32, "sha512": 64, "md5": 16}


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(ALGORITHMS)), st.data(), st.sampled_from(["b32", "b32lower", "hex", "HEX", "b64",
                                                                         "b64url", "b64nopad"]),
       st.booleans())
def test_payload_digests_parse_in_every_encoding(algorithm: str, data: st.DataObject, form: str, dash: bool) -> None:
    value = data.draw(st.binary(min_size=ALGORITHMS[algorithm], max_size=ALGORITHMS[algorithm]))
    encoded = {"b32": base64.b32encode(value).decode(), "b32lower": base64.b32encode(value).decode().lower(),
               "hex": value.hex(), "HEX": value.hex().upper(), "b64": base64.b64encode(value).decode(),
               "b64url": base64.urlsafe_b64encode(value).decode(),
               "b64nopad": base64.b64encode(value).decode().rstrip("=")}[form]
    name = algorithm.replace("sha", "sha-") if dash and algorithm.startswith("sha") else algorithm.upper()
    assert parse_payload_digest(f"{name}:{encoded}") == PayloadDigest(algorithm, value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_digest_text_parses_or_is_none(text: str) -> None:
    parsed = parse_payload_digest(text)
    assert parsed is None or len(parsed.value) == ALGORITHMS.get(parsed.algorithm, len(parsed.value))


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                max_size=3), max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), JSON.map(json.dumps), st.binary(max_size=100)))
def test_any_pages_line_parses_or_is_none(line: str | bytes) -> None:
    page = parse_pages_line(line)
    assert page is None or (isinstance(page, WebPage) and page.url.strip() == page.url and page.url)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=60).filter(str.strip), st.none() | st.text(max_size=20),
       st.none() | st.text(max_size=40))
def test_a_page_line_gives_its_url_id_and_title(url: str, page_id: str | None, title: str | None) -> None:
    line = json.dumps({"id": page_id, "url": url, "ts": "2020-10-06T21:00:00Z", "title": title})
    page = parse_pages_line(line)
    assert page == WebPage(url.strip(), (page_id or "").strip() or None, "2020-10-06T21:00:00Z",
                           (title or "").strip() or None)


def test_warc_dates_are_utc() -> None:
    assert warc_date("2020-10-05T12:34:56Z") == "2020-10-05T12:34:56Z"
    assert warc_date("2020-10-05T14:34:56.5+02:00") == "2020-10-05T12:34:56.500000Z"
    assert warc_date("yesterday") is None and warc_date(None) is None
