"""Shared fixtures: real media made with ffmpeg's lavfi sources, and the shared corpus when present.

Generated clips live in a per-session temporary folder; the corpus (``../shared/corpus`` beside the
project root) is only read, and every test that needs it skips cleanly when it is absent.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres_server import REQUIRED_ENV, PostgresServer, start_server
from postgres_server import required as postgres_required

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"


def corpus_path(relative: str) -> Path:
    """A file of the shared corpus, or skip the test when the corpus (or the file) is absent."""
    path = CORPUS / relative
    if not path.exists():
        pytest.skip(f"shared corpus file not present: {relative}")
    return path


CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
"""Debian's headless browser, for the tests that load pages; None when it is not installed."""


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with no network, sync or updates."""
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


def run_ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly; fail the test with its message when it fails."""
    proc = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise AssertionError(f"ffmpeg failed: {proc.stderr.strip()}")


X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
"""H.264 in yuv420p, fast: how the tests encode the clips they make."""


def cli_json(*args: str) -> dict:
    """Run the CLI in-process (click's CliRunner), expect exit 0, and parse its JSON output."""
    import json

    from click.testing import CliRunner

    from provenance.cli.app import cli

    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def lavfi_clips(media_dir: Path, prefix: str, specs: dict[str, str], seconds: float,
                encode: list[str]) -> dict[str, Path]:
    """``{name: clip}`` made once per session from ffmpeg ``lavfi`` sources, ``seconds`` long."""
    out = {}
    for name, spec in specs.items():
        path = media_dir / f"{prefix}{name}.mp4"
        if not path.exists():
            run_ffmpeg("-f", "lavfi", "-i", spec, "-t", f"{seconds:g}", *encode, str(path))
        out[name] = path
    return out


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide folder for generated clips."""
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is required for the tests (Debian: apt-get install ffmpeg)")
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def mandelbrot_clip(media_dir: Path) -> Path:
    """12 s of lavfi ``mandelbrot`` at 320x240, 25 fps, H.264 in MP4 (a slowly zooming fractal)."""
    out = media_dir / "mandelbrot.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "mandelbrot=size=320x240:rate=25", "-t", "12",
               "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(out))
    return out


@pytest.fixture(scope="session")
def testsrc_clip(media_dir: Path) -> Path:
    """10 s of lavfi ``testsrc2`` at 320x240, 25 fps, with a 440 Hz sine audio track, H.264/AAC MP4."""
    out = media_dir / "testsrc2.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi",
               "-i", "sine=frequency=440:sample_rate=44100", "-t", "10", "-c:v", "libx264",
               "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(out))
    return out


@pytest.fixture(scope="session")
def still_jpeg(media_dir: Path) -> Path:
    """One 320x240 JPEG frame of lavfi ``testsrc2`` (no EXIF)."""
    out = media_dir / "still.jpg"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=1", "-frames:v", "1", str(out))
    return out


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for this test process (``tests/postgres_server.py``); the test skips
    when none can be started, or fails when ``PROVENANCE_TEST_POSTGRES=required`` (CI)."""
    server = start_server()
    if isinstance(server, str):
        if postgres_required():
            pytest.fail(f"PostgreSQL is required ({REQUIRED_ENV}=required) but: {server}")
        pytest.skip(f"no PostgreSQL server: {server}")
    try:
        yield server
    finally:
        server.stop()


STORES = ("sqlite", "postgresql")
"""The archive stores every store-independent archive test runs on (``archive_location``)."""


@pytest.fixture(params=STORES)
def archive_location(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where a new, empty archive is to be: a SQLite file in a folder not made yet, or an empty database on
    the test server (its side files then in this test's own cache folder)."""
    if request.param == "sqlite":
        return str(tmp_path / "cases" / "archive.sqlite")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return server.new_database()


def plain_query(location: str | Path, sql: str) -> list[tuple]:
    """Run one statement on an archive with a plain connection of its own (not through the store), in a
    transaction committed at the end; its rows, if it returns any."""
    if str(location).startswith("postgresql://"):
        import psycopg

        with psycopg.connect(str(location)) as conn:
            cursor = conn.execute(sql)
            return [tuple(r) for r in cursor.fetchall()] if cursor.description else []
    import sqlite3

    conn = sqlite3.connect(location)
    try:
        with conn:
            return conn.execute(sql).fetchall()
    finally:
        conn.close()


def count_rows(location: str | Path, table: str) -> int:
    """Rows of an archive's table, read with a plain connection (``plain_query``)."""
    return int(plain_query(location, f"SELECT count(*) FROM {table}")[0][0])


SLOW_FIXTURES = {"triaged"}  # a whole triage of the generated batch (about a minute)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``slow`` every test that needs a slow fixture, so ``-m "not slow"`` gives a quick loop."""
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
