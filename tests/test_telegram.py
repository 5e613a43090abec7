"""Telegram Desktop exports: result.json read as the Telegram Data Export Schema documents it, imported through
the CLI, checked against, triaged; dates from Telegram and yt-dlp file names."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import X264, run_ffmpeg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provenance.cli.app import cli
from provenance.ingest.filename_dates import FROM_TELEGRAM_NAME, FROM_YTDLP_NAME, sighting_from_name
from provenance.ingest.telegram import (
    THUMBNAIL_RECORDED_FROM,
    TelegramExport,
    TelegramExportError,
    flatten_text,
    parse_export,
    read_export,
)

CHANNEL_VIDEO = "chats/chat_001/video_files/video_1@05-10-2020_14-03-22.mp4"
GROUP_VIDEO = "chats/chat_002/video_files/video_1@05-10-2020_18-00-00.mp4"
ROUND = "chats/chat_002/round_video_messages/file_1@06-10-2020_09-15-00.mp4"
PHOTO = "chats/chat_001/photos/photo_1@05-10-2020_14-05-00.jpg"
ANIMATION = "chats/chat_002/video_files/animation.mp4"
POSTED = "2020-10-05T12:03:22Z"  # date_unixtime 1601899402: the channel's post, UTC
LINK = "https://t.me/harbourwatch/5"


def run(*args: str):
    """Invoke the CLI in-process."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Short, small lavfi clips and a still: the channel's video, a round video, an animation, a photo."""
    folder = tmp_path_factory.mktemp("telegram-media")
    specs = {"video": "mandelbrot=size=320x240:rate=25", "round": "testsrc2=size=240x240:rate=25",
             "animation": "life=size=320x240:rate=25:seed=8:mold=10:ratio=0.3:death_color=#C83232:life_color=#00ff00"}
    out = {}
    for name, spec in specs.items():
        out[name] = folder / f"{name}.mp4"
        run_ffmpeg("-f", "lavfi", "-i", spec, "-t", "3", *X264, "-an", str(out[name]))
    out["photo"] = folder / "photo.jpg"
    run_ffmpeg("-f", "lavfi", "-i", "smptehdbars=size=320x240", "-frames:v", "1", str(out["photo"]))
    return out


def message(ident: int, unixtime: int, local: str, **fields: object) -> dict[str, object]:
    """A message as Telegram Desktop writes it (``date`` is the exporting machine's local time)."""
    return {"id": ident, "type": "message", "date": local, "date_unixtime": str(unixtime), **fields}


def account_export(root: Path, clips: dict[str, Path]) -> dict[str, object]:
    """A full account export (chats.list, left_chats.list): a public channel that names its username and a
    private group that forwards the channel's video; the files laid out as Telegram Desktop lays them out."""
    for relative, clip in ((CHANNEL_VIDEO, "video"), (GROUP_VIDEO, "video"), (ROUND, "round"), (PHOTO, "photo"),
                           (ANIMATION, "animation")):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(clips[clip], root / relative)
    (root / CHANNEL_VIDEO).with_name("video_1@05-10-2020_14-03-22.mp4_thumb.jpg").write_bytes(
        clips["photo"].read_bytes())
    channel = {
        "name": "Harbour Watch", "type": "public_channel", "id": 1234567890, "username": "@harbourwatch",
        "messages": [
            {"id": 1, "type": "service", "date": "2020-10-01T10:00:00", "date_unixtime": "1601539200",
             "actor": "Harbour Watch", "actor_id": "channel1234567890", "action": "create_channel",
             "title": "Harbour Watch", "text": "", "text_entities": []},
            message(5, 1601899402, "2020-10-05T14:03:22", **{
                "from": "Harbour Watch", "from_id": "channel1234567890", "file": CHANNEL_VIDEO,
                "thumbnail": CHANNEL_VIDEO + "_thumb.jpg", "media_type": "video_file", "mime_type": "video/mp4",
                "duration_seconds": 3, "width": 320, "height": 240,
                "text": ["Fire at the harbour, filmed from the pier ", {"type": "hashtag", "text": "#harbour"},
                         " ", {"type": "text_link", "text": "map", "href": "https://example.org/map"}],
                "text_entities": [{"type": "plain", "text": "Fire at the harbour, filmed from the pier "}]}),
            message(6, 1601899500, "2020-10-05T14:05:00", **{
                "from": "Harbour Watch", "from_id": "channel1234567890", "photo": PHOTO, "width": 320,
                "height": 240, "text": ""}),
            message(7, 1601899600, "2020-10-05T14:06:40", **{
                "from": "Harbour Watch", "file": "(File not included. Change data exporting settings to download.)",
                "media_type": "video_file", "mime_type": "video/mp4", "text": "second angle"}),
            message(8, 1601899700, "2020-10-05T14:08:20", **{
                "from": "Harbour Watch", "file": "chats/chat_001/video_files/video_2@05-10-2020_14-08-20.mp4",
                "media_type": "video_file", "mime_type": "video/mp4", "text": "third angle"}),
            message(9, 1601899800, "2020-10-05T14:10:00", **{
                "from": "Harbour Watch", "file": "chats/chat_001/stickers/sticker.webp", "media_type": "sticker",
                "sticker_emoji": "🔥", "text": ""}),
        ]}
    group = {
        "name": "Pier neighbours", "type": "private_group", "id": 4455, "messages": [
            message(31, 1601913600, "2020-10-05T18:00:00", **{
                "from": "Ana", "from_id": "user777", "forwarded_from": "Harbour Watch", "file": GROUP_VIDEO,
                "media_type": "video_file", "mime_type": "video/mp4", "text": "look at this"}),
            message(32, 1601975700, "2020-10-06T11:15:00", **{
                "from": "Ben", "from_id": "user778", "file": ROUND, "media_type": "video_message",
                "mime_type": "video/mp4", "duration_seconds": 3, "text": ""}),
            message(33, 1601976000, "2020-10-06T11:20:00", **{
                "from": "Ben", "file": ANIMATION, "media_type": "animation", "mime_type": "video/mp4", "text": ""}),
            message(34, 1601976100, "2020-10-06T11:21:40", **{
                "from": "Ben", "file": "chats/chat_002/files/notes.pdf", "mime_type": "application/pdf",
                "text": ""}),
        ]}
    return {"about": "Here is the data you requested.",
            "personal_information": {"user_id": 1, "first_name": "Investigator", "last_name": "",
                                     "phone_number": "+00 000 000", "bio": ""},
            "chats": {"about": "This page lists all chats from this export.", "list": [channel, group]},
            "left_chats": {"about": "This page lists all supergroups and channels you've left.", "list": []}}


@pytest.fixture()
def export_dir(tmp_path: Path, clips: dict[str, Path]) -> Path:
    """A Telegram Desktop account export folder."""
    root = tmp_path / "DataExport_2020-10-07"
    root.mkdir()
    (root / "result.json").write_text(json.dumps(account_export(root, clips), ensure_ascii=False, indent=1),
                                      encoding="utf-8")
    return root


def show(archive: str, name: str) -> dict[str, object]:
    """``archive show --json`` of the archived item named ``name``."""
    listing = json.loads(run("archive", "list", "--archive", archive, "--json").stdout)
    sha = next(item["sha256"] for item in listing if item["name"] == name)
    return json.loads(run("archive", "show", "--archive", archive, "--json", sha).stdout)


def test_import_account_export_then_check_a_reencoded_copy(
        archive_location: str, tmp_path: Path, export_dir: Path) -> None:
    archive = archive_location
    result = run("archive", "import", "telegram", "--archive", archive, str(export_dir), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["shape"], summary["chats"], summary["messages"]) == ("account", 2, 10)
    # the channel's video and the group's forward are the same bytes: one item, two sightings
    assert (summary["added"], summary["known"], summary["failed"], summary["sightings_added"]) == (4, 1, 0, 5)
    reasons = {(s["chat"], s["message_id"]): s["reason"] for s in summary["skipped"]}
    assert reasons[("Harbour Watch", "7")].startswith("left out by the export: File not included.")
    assert reasons[("Harbour Watch", "8")].startswith("missing:")
    assert reasons[("Harbour Watch", "9")] == "not footage: a sticker"
    assert reasons[("Pier neighbours", "34")].startswith("not a video or picture")
    assert len(reasons) == 4

    video = show(archive, Path(CHANNEL_VIDEO).name)
    by_message = {s["message_id"]: s for s in video["sightings"]}
    assert set(by_message) == {"5", "31"}
    post, forward = by_message["5"], by_message["31"]
    assert post["first_seen"] == POSTED and post["source_url"] == LINK
    assert (post["platform"], post["chat"], post["chat_type"], post["chat_id"]) == (
        "telegram", "Harbour Watch", "public_channel", "1234567890")
    assert post["text"] == "Fire at the harbour, filmed from the pier #harbour map (https://example.org/map)"
    assert post["uploader"] == "Harbour Watch" and post["recorded_from"] == "telegram export result.json"
    assert forward["first_seen"] == "2020-10-05T16:00:00Z" and forward["forwarded_from"] == "Harbour Watch"
    assert forward["source_url"] is None  # a private group: no public link
    assert (forward["chat"], forward["chat_type"], forward["uploader"]) == ("Pier neighbours", "private_group", "Ana")
    (round_seen,) = show(archive, Path(ROUND).name)["sightings"]
    assert round_seen["first_seen"] == "2020-10-06T09:15:00Z" and round_seen["message_id"] == "32"
    (photo_seen,) = show(archive, Path(PHOTO).name)["sightings"]
    assert photo_seen["source_url"] == "https://t.me/harbourwatch/6"

    # importing again adds nothing twice
    again = run("archive", "import", "telegram", "--archive", archive, str(export_dir))
    assert again.exit_code == 0, again.output
    assert "0 added, 5 already archived, 0 failed; 0 sighting(s) added" in again.stdout
    assert len(show(archive, Path(CHANNEL_VIDEO).name)["sightings"]) == 2

    # a re-encoded copy of the channel's video: its earliest appearance is the post, to the second, with its link
    copy = tmp_path / "reshared.mp4"
    run_ffmpeg("-i", str(export_dir / CHANNEL_VIDEO), "-vf", "scale=288:216", "-c:v", "libx264", "-crf", "30",
               "-preset", "veryfast", "-pix_fmt", "yuv420p", str(copy))
    checked = run("check", "--archive", archive, "--json", str(copy))
    assert checked.exit_code == 0, checked.output
    earliest = json.loads(checked.stdout)["earliest_appearance"]["earliest"]
    assert (earliest["first_seen"], earliest["source_url"], earliest["message_id"]) == (POSTED, LINK, "5")
    text = run("check", "--archive", archive, str(copy)).stdout
    assert f"{POSTED} on telegram by Harbour Watch ({LINK}) in Harbour Watch" in text
    assert "telegram Ana in Pier neighbours (private_group) message 31, forwarded from Harbour Watch" in text


def test_text_output_lists_skips_and_the_link_note(tmp_path: Path, export_dir: Path) -> None:
    document = json.loads((export_dir / "result.json").read_text(encoding="utf-8"))
    del document["chats"]["list"][0]["username"]  # as Telegram Desktop itself writes it
    (export_dir / "result.json").write_text(json.dumps(document), encoding="utf-8")
    result = run("archive", "import", "telegram", "--archive", str(tmp_path / "a.sqlite"), str(export_dir))
    assert result.exit_code == 0, result.output
    assert "skipped Harbour Watch #7: left out by the export: File not included. Change data exporting" in result.stdout
    assert "note: 1 public chat(s) without a username in the export: their posts have no t.me link" in result.stdout
    assert "account export, 2 chat(s), 10 message(s) read; 5 media file(s): 4 added" in result.stdout
    export = read_export(export_dir)
    assert all(m.sighting.source_url is None for m in export.media)


def test_an_unreadable_file_fails_alone_exit_4(archive_location: str, tmp_path: Path, export_dir: Path) -> None:
    document = json.loads((export_dir / "result.json").read_text(encoding="utf-8"))
    (export_dir / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    document["chats"]["list"][1]["messages"].append(message(40, 1601980000, "2020-10-06T12:26:40", **{
        "from": "Ben", "file": "broken.mp4", "media_type": "video_file", "mime_type": "video/mp4"}))
    (export_dir / "result.json").write_text(json.dumps(document), encoding="utf-8")
    archive = archive_location
    result = run("archive", "import", "telegram", "--archive", archive, str(export_dir))
    assert result.exit_code == 4
    assert "FAILED  broken.mp4: " in result.stdout and "4 added, 1 already archived, 1 failed" in result.stdout
    assert len(json.loads(run("archive", "list", "--archive", archive, "--json").stdout)) == 4


@pytest.mark.slow
def test_kill_9_keeps_what_was_imported_and_a_rerun_finishes(tmp_path: Path, export_dir: Path) -> None:
    archive = tmp_path / "a.sqlite"
    command = [sys.executable, "-m", "provenance.cli.app", "archive", "import", "telegram", "--archive",
               str(archive), str(export_dir)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if archive.exists():
                with contextlib.closing(sqlite3.connect(archive, timeout=10)) as conn, contextlib.suppress(
                        sqlite3.Error):
                    if conn.execute("SELECT count(*) FROM items").fetchone()[0] >= 1:
                        break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    with contextlib.closing(sqlite3.connect(archive)) as conn:
        kept = conn.execute("SELECT count(*) FROM items").fetchone()[0]
    assert 1 <= kept < 4  # killed part-way
    again = run("archive", "import", "telegram", "--archive", str(archive), str(export_dir), "--json")
    assert again.exit_code == 0, again.output
    with contextlib.closing(sqlite3.connect(archive)) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 4
        assert conn.execute("SELECT count(*) FROM sightings").fetchone()[0] == 5


def test_single_chat_export_and_local_dates(tmp_path: Path, clips: dict[str, Path]) -> None:
    root = tmp_path / "ChatExport_2020-10-07"
    (root / "video_files").mkdir(parents=True)
    shutil.copy(clips["round"], root / "video_files" / "video_1@05-10-2020_14-03-22.mp4")
    (root / "result.json").write_text(json.dumps({
        "name": "Harbour Watch", "type": "public_channel", "id": 1234567890, "messages": [
            {"id": 5, "type": "message", "date": "2020-10-05T14:03:22", "from": "Harbour Watch",
             "file": "video_files/video_1@05-10-2020_14-03-22.mp4", "media_type": "video_file",
             "mime_type": "video/mp4", "text": "old export, no date_unixtime"}]}), encoding="utf-8")
    export = read_export(root / "result.json")  # the index given for its folder
    assert export.root == str(root)
    assert (export.shape, export.chats, export.messages) == ("single chat", 1, 1)
    (media,) = export.media
    assert media.sighting.first_seen == "2020-10-05T14:03:22"  # the exporting machine's clock, zone unknown
    assert media.path == str(root / "video_files" / "video_1@05-10-2020_14-03-22.mp4")


@pytest.mark.parametrize(("content", "said"), [
    (None, "truncated"),
    (b"\x89PNG\r\n\x1a\n not json", "not UTF-8"),
    (b"<html>Telegram export</html>", "not valid JSON"),
    (b"[1, 2, 3]", "not a JSON object"),
    (b'{"name": "x", "chats": {"list": 3}}', "holds no list of chats"),
    (b'{"frames": []}', "is not a Telegram Desktop export"),
])
def test_bad_result_json_is_one_line_exit_2_and_loses_nothing(
        archive_location: str, tmp_path: Path, export_dir: Path, content: bytes | None,
                                                            said: str) -> None:
    archive = archive_location
    assert run("archive", "import", "telegram", "--archive", archive, str(export_dir)).exit_code == 0
    raw = (export_dir / "result.json").read_bytes()
    (export_dir / "result.json").write_bytes(raw[: len(raw) // 2] if content is None else content)
    result = run("archive", "import", "telegram", "--archive", archive, str(export_dir))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("provenance: error: ")
    assert said in result.stderr and "Traceback" not in result.output
    assert len(json.loads(run("archive", "list", "--archive", archive, "--json").stdout)) == 4


def test_missing_result_json_and_not_a_folder(tmp_path: Path) -> None:
    archive = tmp_path / "cases.sqlite"
    for folder in (tmp_path, tmp_path / "nowhere"):
        result = run("archive", "import", "telegram", "--archive", str(archive), str(folder))
        assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert not archive.exists()  # nothing to import: no archive made


def test_paths_that_climb_out_are_refused(tmp_path: Path, clips: dict[str, Path]) -> None:
    root = tmp_path / "export"
    root.mkdir()
    shutil.copy(clips["video"], tmp_path / "outside.mp4")
    os.symlink(tmp_path / "outside.mp4", root / "link.mp4")
    files = ["../outside.mp4", str(tmp_path / "outside.mp4"), "link.mp4", "a/../../outside.mp4", "C:\\x.mp4"]
    (root / "result.json").write_text(json.dumps({"name": "c", "type": "private_group", "id": 1, "messages": [
        {"id": i, "type": "message", "date_unixtime": "1601899402", "file": f, "media_type": "video_file"}
        for i, f in enumerate(files)]}), encoding="utf-8")
    export = read_export(root)
    assert export.media == ()
    assert [s.reason.split(":")[0] for s in export.skipped] == ["refused"] * len(files)
    result = run("archive", "import", "telegram", "--archive", str(tmp_path / "a.sqlite"), str(root))
    assert result.exit_code == 0 and "0 media file(s)" in result.stdout
    assert "climbs out of the export folder" in result.stdout


def test_every_placeholder_is_a_listed_skip(tmp_path: Path) -> None:
    said = ["(File not included. Change data exporting settings to download.)",
            "(File exceeds maximum size. Change data exporting settings to download.)",
            "(File unavailable, please try again later)"]
    document = {"name": "c", "type": "public_supergroup", "id": 9, "messages": [
        *({"id": i, "type": "message", "date_unixtime": "1601899402", "file": f, "media_type": "video_file"}
          for i, f in enumerate(said)),
        {"id": 7, "type": "message", "date_unixtime": "1601899402", "photo": said[0]}]}
    export = parse_export(document, tmp_path)
    assert export.media == ()
    assert [s.reason for s in export.skipped] == [f"left out by the export: {t[1:-1]}" for t in [*said, said[0]]]
    assert export.link_note is not None and export.link_note.startswith("1 public chat(s) without a username")


def test_a_post_is_shown_where_sightings_are() -> None:
    from provenance.model import Sighting
    from provenance.report.formatters import sighting_detail, sighting_short, sighting_where
    from provenance.report.html import sighting_where_html

    post = Sighting(source_url=LINK, platform="telegram", uploader="Ana", first_seen=POSTED, chat="Pier <neighbours>",
                    chat_type="private_group", chat_id="4455", message_id="31", forwarded_from="Harbour Watch")
    said = "in Pier <neighbours> (private_group) message 31, forwarded from Harbour Watch"
    for text in (sighting_where(post), sighting_short(post), sighting_detail(post)):
        assert f"telegram Ana {LINK} {said}" in text
    page = str(sighting_where_html(post))
    assert f'<a href="{LINK}"' in page and "in Pier &lt;neighbours&gt; (private_group) message 31, forwarded" in page


def test_flatten_text() -> None:
    assert flatten_text("plain") == "plain"
    assert flatten_text(["a ", {"type": "bold", "text": "b"}, {"type": "link", "text": "https://x.org"}]) == \
        "a bhttps://x.org"
    assert flatten_text([{"type": "text_link", "text": "here", "href": "https://x.org"}]) == "here (https://x.org)"
    assert flatten_text("") is None and flatten_text(3) is None and flatten_text([{"type": "bold"}]) is None


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20)
MESSAGES_TEXT = st.lists(st.text(max_size=5) | st.fixed_dictionaries(
    {"type": st.sampled_from(["plain", "text_link", "bold"]), "text": st.text(max_size=5)},
    optional={"href": st.text(max_size=5) | JSON}), max_size=4)
KEYS = st.sampled_from(["id", "type", "date", "date_unixtime", "from", "forwarded_from", "text", "file", "photo",
                        "media_type", "mime_type", "username", "name", "messages"])
VALUES = JSON | st.sampled_from(["message", "video_file", "video/mp4", "../x", "/etc/passwd", "(File not included)",
                                 "1601899402", "video_message", "sticker", "public_channel", "a.mp4", ""])
FILES = st.just("a.mp4") | st.sampled_from(["./a.mp4", "../a.mp4", "/a.mp4", "b.mp4", "a.mp4/..", "(File unavailable)"])
LIKELY = st.fixed_dictionaries(  # close to a real media message, so the parser's deeper paths are reached
    {"id": st.integers(-3, 10**12) | VALUES, "type": st.just("message"), "file": FILES | VALUES},
    optional={"date_unixtime": st.integers(-10**15, 10**15).map(str) | VALUES, "media_type": VALUES,
              "mime_type": VALUES, "from": VALUES, "forwarded_from": VALUES, "text": VALUES | MESSAGES_TEXT,
              "photo": FILES, "date": st.sampled_from(["2020-10-05T14:03:22", "2020-13-45T99:99:99"]) | VALUES})
MESSAGES = st.lists(LIKELY | st.dictionaries(KEYS, VALUES, max_size=8) | JSON, max_size=5)
CHATS = st.fixed_dictionaries({"messages": MESSAGES}, optional={"name": VALUES, "type": VALUES, "id": VALUES,
                                                                "username": VALUES})
DOCUMENTS = (JSON | CHATS | st.fixed_dictionaries({}, optional={
    "chats": st.fixed_dictionaries({}, optional={"list": st.lists(CHATS | JSON, max_size=3)}) | JSON,
    "left_chats": st.fixed_dictionaries({"list": st.lists(CHATS, max_size=2)}) | JSON,
    "personal_information": JSON}))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_parser_never_raises_but_the_house_error(document: object) -> None:
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "a.mp4").write_bytes(b"x")
        try:
            export = parse_export(document, root)
        except TelegramExportError as exc:
            assert "\n" not in str(exc)
            return
        assert isinstance(export, TelegramExport)
        for media in export.media:
            assert Path(media.path).resolve().is_relative_to(Path(root).resolve())
            assert media.sighting.platform == "telegram"


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200) | JSON.map(lambda d: json.dumps(d).encode()[:60]))
def test_reading_any_bytes_never_raises_but_the_house_error(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "result.json").write_bytes(raw)
        try:
            read_export(root)
        except TelegramExportError as exc:
            assert "\n" not in str(exc)


@pytest.mark.parametrize(("name", "first_seen", "recorded_from"), [
    ("video_1@05-10-2020_14-03-22.mp4", "2020-10-05T14:03:22", FROM_TELEGRAM_NAME),
    ("photo_12@05-10-2020_14-03-22.jpg", "2020-10-05T14:03:22", FROM_TELEGRAM_NAME),
    ("file_3@31-12-2021_23-59-59 (1).MOV", "2021-12-31T23:59:59", FROM_TELEGRAM_NAME),
    ("chats/chat_01/round_video_messages/file_1@06-10-2020_09-15-00.mp4", "2020-10-06T09:15:00", FROM_TELEGRAM_NAME),
    ("Harbour fire [dQw4w9WgXcQ] [upload_date=20201005].mp4", "2020-10-05", FROM_YTDLP_NAME),
    ("Harbour fire [upload_date=2020-10-05].webm", "2020-10-05", FROM_YTDLP_NAME),
    ("a [upload_date=20201005] b [upload_date=20201005].mp4", "2020-10-05", FROM_YTDLP_NAME),
])
def test_dates_from_file_names(name: str, first_seen: str, recorded_from: str) -> None:
    sighting = sighting_from_name(name)
    assert sighting is not None
    assert (sighting.first_seen, sighting.recorded_from, sighting.file_name) == (first_seen, recorded_from,
                                                                                 Path(name).name)


@pytest.mark.parametrize("name", [
    "video_1@05-10-2020_14-03-22.mp4_thumb.jpg",  # a thumbnail
    "video_1@31-02-2020_14-03-22.mp4",  # no such day
    "video_1@05-10-2020_25-03-22.mp4",
    "IMG_20201005_140322.jpg", "clip 05-10-2020.mp4", "Harbour fire [dQw4w9WgXcQ].mp4", "20201005.mp4",
    "upload_date=20201005.mp4",  # not marked as yt-dlp's template would mark it
    "a [upload_date=20201005] [upload_date=20201006].mp4",  # two markings that disagree
    "a [upload_date=2020-1005].mp4", "a [upload_date=20201345].mp4", "holiday@home.mp4",
])
def test_no_date_from_other_names(name: str) -> None:
    assert sighting_from_name(name) is None


@pytest.mark.slow
def test_triage_of_an_export_folder_uses_its_dates(tmp_path: Path, export_dir: Path, clips: dict[str, Path]) -> None:
    loose = tmp_path / "loose"
    loose.mkdir()
    run_ffmpeg("-f", "lavfi", "-i", "cellauto=size=320x240:rate=25:rule=110:seed=9", "-t", "2", *X264,
               str(loose / "video_7@05-10-2020_14-03-22.mp4"))
    archive = tmp_path / "cases.sqlite"
    out = tmp_path / "report"
    result = run("triage", str(export_dir), str(loose), "--out", str(out), "--archive", str(archive), "--add-new",
                 "--jobs", "1")
    assert result.exit_code == 0, result.output
    print(result.stdout)  # the summary line, for the record
    summary = (out / "summary.csv").read_text(encoding="utf-8")
    assert POSTED in summary and LINK in summary
    skipped = (out / "skipped.csv").read_text(encoding="utf-8")
    assert "Telegram export index, read: the sightings of its 5 media file(s) (4 message(s) skipped)" in skipped
    assert "result.json" in skipped and "(text)" not in skipped.split("result.json", 1)[1].splitlines()[0]
    assert "2020-10-05T14:03:22" in summary  # the loose file: the date its Telegram name carries
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(summary, newline=""))}
    thumb = rows[Path(CHANNEL_VIDEO).name + "_thumb.jpg"]  # the thumbnail Telegram made of the post's video
    assert (thumb["earliest_in_batch"], thumb["source_url"]) == (POSTED, LINK)
    (thumb_seen,) = [m.sighting for m in read_export(export_dir).thumbnails]
    assert (thumb_seen.recorded_from, thumb_seen.message_id, thumb_seen.first_seen) == (THUMBNAIL_RECORDED_FROM,
                                                                                        "5", POSTED)
    video = show(str(archive), Path(CHANNEL_VIDEO).name)
    assert {(s["message_id"], s["first_seen"]) for s in video["sightings"]} >= {("5", POSTED)}
    (loose_seen,) = show(str(archive), "video_7@05-10-2020_14-03-22.mp4")["sightings"]
    assert (loose_seen["first_seen"], loose_seen["recorded_from"]) == ("2020-10-05T14:03:22", FROM_TELEGRAM_NAME)
