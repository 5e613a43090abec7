"""``provenance fetch``: yt-dlp against a local HTTP server on 127.0.0.1 (its generic extractor), never the internet."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from provenance.cli.app import cli
from provenance.errors import EXIT_CODES
from provenance.ingest.fetch import fetch_urls, looks_like_url
from provenance.version import __version__

yt_dlp = pytest.importorskip("yt_dlp", reason="yt-dlp is not installed (pip install 'provenance[fetch]')")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hangs up early (yt-dlp probing a 404) is not the test's business


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, testsrc_clip: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, folder) of an HTTP server on 127.0.0.1 serving the test clip as ``clip.mp4``."""
    root = tmp_path_factory.mktemp("www")
    (root / "clip.mp4").write_bytes(testsrc_clip.read_bytes())
    (root / "page.html").write_text("<html><head><title>No video</title></head><body>just text</body></html>")
    server = _Server(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fetch_downloads_with_info_json_and_a_sighting(tmp_path: Path, served: tuple[str, Path]) -> None:
    base, root = served
    into = tmp_path / "footage"
    result = run("fetch", "--into", str(into), "--json", f"{base}/clip.mp4")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (fetched,) = report["files"]
    media = into / "clip [clip].mp4"  # yt-dlp's default name, "%(title)s [%(id)s].%(ext)s"
    assert fetched["path"] == str(media) and media.read_bytes() == (root / "clip.mp4").read_bytes()
    assert fetched["sha256"] == sha256(media) and fetched["size"] == media.stat().st_size
    info = json.loads((into / "clip [clip].info.json").read_text(encoding="utf-8"))
    assert fetched["info_json"] == str(into / "clip [clip].info.json") and info["webpage_url"] == f"{base}/clip.mp4"
    assert sorted(p.name for p in into.iterdir()) == ["clip [clip].info.json", "clip [clip].mp4"]  # no leftovers
    sighting = fetched["sighting"]
    assert sighting["source_url"] == f"{base}/clip.mp4" and sighting["video_id"] == "clip"
    assert sighting["platform"] == "web" and sighting["platform_raw"] == "Generic"  # the generic extractor
    assert sighting["title"] == "clip" and sighting["file_name"] == "clip [clip].mp4"
    assert sighting["first_seen"] is not None  # the server's Last-Modified, as yt-dlp's timestamp
    recorded = sighting["recorded_from"]
    assert recorded.startswith(f"provenance fetch (yt-dlp {yt_dlp.version.__version__}, provenance {__version__}) at ")
    assert recorded.endswith("Z") and report["ytdlp_version"] == yt_dlp.version.__version__
    assert report["failures"] == [] and report["archive"] is None and fetched["archived"] is None


def test_fetch_into_an_archive_adds_the_file_with_its_sighting(tmp_path: Path, served: tuple[str, Path]) -> None:
    base, _ = served
    archive = str(tmp_path / "cases.sqlite")
    result = run("fetch", "--into", str(tmp_path / "in"), "--archive", archive, f"{base}/clip.mp4")
    assert result.exit_code == 0, result.output
    assert "added to" in result.stdout and "(+1 sighting)" in result.stdout
    media = tmp_path / "in" / "clip [clip].mp4"
    shown = json.loads(run("archive", "show", "--archive", archive, "--json", sha256(media)).stdout)
    (sighting,) = shown["sightings"]  # the fetch's; the .info.json beside it is the same sighting, not a second
    assert sighting["platform"] == "web" and sighting["source_url"] == f"{base}/clip.mp4"
    assert sighting["recorded_from"].startswith("provenance fetch (yt-dlp ")
    custody = run("custody", "--sha256", sha256(media), "--archive", archive)
    assert custody.exit_code == 0 and "provenance archive add" in custody.stdout  # the read is in the custody log
    # archive add of the same file later adds nothing twice
    again = run("archive", "add", "--archive", archive, str(media))
    assert again.exit_code == 0 and "(+0 sighting)" in again.stdout


def test_a_url_that_cannot_be_fetched_is_one_line_and_the_batch_goes_on(tmp_path: Path,
                                                                         served: tuple[str, Path]) -> None:
    base, _ = served
    into = tmp_path / "in"
    result = run("fetch", "--into", str(into), f"{base}/missing.mp4", f"{base}/clip.mp4")
    assert result.exit_code == 12 and "could not be fetched" in EXIT_CODES[12]
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    assert failed == [f"FAILED  {base}/missing.mp4: [generic] missing: Unable to download webpage: HTTP Error 404: "
                      "File not found (caused by <HTTPError 404: File not found>)"]
    assert "1 of 2 URL(s) fetched" in result.stdout and "Traceback" not in result.output
    assert sorted(p.name for p in into.iterdir()) == ["clip [clip].info.json", "clip [clip].mp4"]
    report = json.loads(run("fetch", "--into", str(into), "--json", f"{base}/missing.mp4").stdout)
    assert [f["url"] for f in report["failures"]] == [f"{base}/missing.mp4"] and report["files"] == []
    # a refused connection: nothing listens on the port any more
    closed = http.server.HTTPServer(("127.0.0.1", 0), _Quiet)
    port = closed.server_address[1]
    closed.server_close()
    result = run("fetch", "--into", str(into), f"http://127.0.0.1:{port}/clip.mp4")
    assert result.exit_code == 12 and len([x for x in result.stdout.splitlines() if x.startswith("FAILED")]) == 1


def test_an_existing_file_is_never_overwritten(tmp_path: Path, served: tuple[str, Path]) -> None:
    base, root = served
    into = tmp_path / "in"
    into.mkdir()
    (into / "clip [clip].mp4").write_bytes(b"an earlier, different download")
    first = fetch_urls([f"{base}/clip.mp4"], into)
    (fetched,) = first.files
    assert (into / "clip [clip].mp4").read_bytes() == b"an earlier, different download"
    assert fetched.path == str(into / "clip [clip] (2).mp4") and not fetched.already_there
    assert fetched.info_json == str(into / "clip [clip] (2).info.json")
    assert (into / "clip [clip] (2).mp4").read_bytes() == (root / "clip.mp4").read_bytes()
    info_before = (into / "clip [clip] (2).info.json").read_bytes()
    # fetched again: the same bytes are there already, so nothing is placed or rewritten
    (again,) = fetch_urls([f"{base}/clip.mp4"], into).files
    assert again.already_there and again.path == str(into / "clip [clip] (2).mp4") and again.sha256 == fetched.sha256
    assert (into / "clip [clip] (2).info.json").read_bytes() == info_before
    assert sorted(p.name for p in into.iterdir()) == ["clip [clip] (2).info.json", "clip [clip] (2).mp4",
                                                      "clip [clip].mp4"]


def test_check_of_a_url_says_to_fetch_it() -> None:
    for url in ("https://t.me/chan/5", "http://example.org/a.mp4", "HTTPS://X.COM/a/status/1"):
        result = run("check", url)
        assert result.exit_code == 2
        assert result.stderr.strip() == (f"provenance: error: {url}: URLs are not fetched: use `provenance fetch URL "
                                         "--into DIR`, then check the file")
    assert looks_like_url("https://a") and not looks_like_url("clip.mp4") and not looks_like_url("ftp://a")


def test_fetch_help_has_examples_and_exit_codes() -> None:
    text = run("fetch", "--help").output
    assert "Examples:" in text and "pip install 'provenance[fetch]'" in text
    listed = {int(code) for code in re.findall(r"^\s+(\d+)  \S", text.split("Exit codes:", 1)[1], re.M)}
    assert listed == {0, 2, 3, 4, 5, 12, 70, 130}


def test_without_yt_dlp_the_error_names_the_extra(tmp_path: Path) -> None:
    # a fresh interpreter in which `import yt_dlp` fails, as on a machine without the extra
    code = ("import sys; sys.modules['yt_dlp'] = None; sys.modules['yt_dlp.version'] = None; "
            "from provenance.cli.app import main; sys.argv = ['provenance', 'fetch', '--into', sys.argv[1], "
            "'https://example.org/a.mp4']; main()")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "in")], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PROVENANCE_ARCHIVE": ""})
    assert proc.returncode == 3
    assert proc.stderr.strip() == "provenance: error: yt-dlp is not installed: pip install 'provenance[fetch]'"
    assert not (tmp_path / "in").exists()  # nothing was made


def test_into_a_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    result = run("fetch", "--into", str(tmp_path / "f"), "https://example.org/a.mp4")
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_a_page_without_video_and_what_is_not_a_url_fail_one_line_each(tmp_path: Path,
                                                                      served: tuple[str, Path]) -> None:
    base, _ = served
    report = fetch_urls([f"{base}/page.html", "ftp://example.org/a.mp4", "clip.mp4", "https://[::1", "http://"],
                        tmp_path / "in")
    assert report.files == () and len(report.failures) == 5
    page, ftp, plain, bracket, empty = report.failures
    assert "Unsupported URL" in page.error and "\n" not in page.error
    assert bracket.error == "yt-dlp could not read the URL: ValueError: Invalid IPv6 URL"  # urllib's, not a crash
    assert "No host" in empty.error
    assert ftp.error == plain.error == "not an http:// or https:// URL"
    assert list((tmp_path / "in").iterdir()) == []  # nothing left behind, not even the hidden work folder


def test_a_failed_url_with_control_characters_is_shown_escaped_on_one_line(tmp_path: Path) -> None:
    closed = http.server.HTTPServer(("127.0.0.1", 0), _Quiet)
    port = closed.server_address[1]
    closed.server_close()
    result = run("fetch", "--into", str(tmp_path / "in"), f"http://127.0.0.1:{port}/a\x1b[31mred\nline.mp4")
    assert result.exit_code == 12
    (failed,) = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    assert "\x1b" not in result.stdout and "\\x1b[31mred\\nline.mp4" in failed
