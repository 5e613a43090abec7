"""Platform names normalised: yt-dlp extractors, URLs and typed options map to one vocabulary, the raw word kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from provenance.cli.app import cli
from provenance.ingest.sidecar import sighting_from_info
from provenance.model import Sighting
from provenance.platforms import PLATFORMS, kept_raw, normalise, normalised_sighting
from provenance.report.formatters import sighting_detail, sighting_short, sighting_where


def test_the_vocabulary_is_the_issues() -> None:
    assert PLATFORMS == ("youtube", "x", "telegram", "tiktok", "facebook", "instagram", "vk", "web")


@pytest.mark.parametrize(("raw", "platform"), [
    # yt-dlp extractor_key and extractor (IE_NAME) values, as yt-dlp 2026.10 names them
    ("Youtube", "youtube"), ("YoutubeTab", "youtube"), ("youtube:tab", "youtube"), ("YoutubeClip", "youtube"),
    ("YoutubeWebArchive", "youtube"), ("web.archive:youtube", "youtube"),
    ("Twitter", "x"), ("twitter:broadcast", "x"), ("TwitterCard", "x"), ("TwitterSpaces", "x"),
    ("TikTok", "tiktok"), ("TikTokUser", "tiktok"), ("tiktok:live", "tiktok"), ("TikTokVM", "tiktok"),
    ("vm.tiktok", "tiktok"),
    ("Facebook", "facebook"), ("FacebookReel", "facebook"), ("facebook:reel", "facebook"),
    ("Instagram", "instagram"), ("InstagramStory", "instagram"), ("instagram:user", "instagram"),
    ("VK", "vk"), ("VKUserVideos", "vk"), ("vk:wallpost", "vk"),
    ("TelegramEmbed", "telegram"), ("telegram:embed", "telegram"),
    ("Generic", "web"), ("generic", "web"), ("generic:quoted-html", "web"),
    # typed as --platform
    ("youtube", "youtube"), ("YouTube", "youtube"), ("yt", "youtube"), ("twitter", "x"), ("X", "x"),
    ("tg", "telegram"), ("Telegram", "telegram"), ("  TikTok  ", "tiktok"), ("fb", "facebook"),
    ("ig", "instagram"), ("VKontakte", "vk"), ("ВКонтакте", "vk"), ("WEB", "web"), ("warc", "web"),
    # URLs and host names
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "youtube"), ("https://youtu.be/dQw4w9WgXcQ", "youtube"),
    ("m.youtube.com", "youtube"), ("https://twitter.com/a/status/1", "x"), ("x.com", "x"),
    ("https://mobile.x.com/a/status/1", "x"), ("https://t.me/chan/5", "telegram"), ("t.me/chan/5", "telegram"),
    ("https://www.tiktok.com/@a/video/1", "tiktok"), ("https://vm.tiktok.com/ZM/", "tiktok"),
    ("https://fb.watch/abc/", "facebook"), ("https://m.facebook.com/watch?v=1", "facebook"),
    ("https://www.instagram.com/reel/abc/", "instagram"), ("https://vk.com/video-1_2", "vk"),
    ("HTTPS://WWW.YOUTUBE.COM/", "youtube"),
])
def test_known_names_normalise_and_keep_the_raw_value(raw: str, platform: str) -> None:
    assert normalise(raw) == (platform, raw.strip())


@pytest.mark.parametrize("raw", [
    "Rumble", "Odysee", "Twitch", "TwitchVod", "Telegraaf", "XHamster", "Douyin", "forum",
    "https://rumble.com/v1-clip.html", "https://example.org/clip.mp4", "http://127.0.0.1:8000/clip.mp4",
    "https://notyoutube.com/", "https://youtube.com.evil.example/", "https://[::1", "abc.net.au",
])
def test_an_unknown_platform_or_host_is_none_not_web(raw: str) -> None:
    assert normalise(raw) == (None, raw)


def test_nothing_normalises_to_nothing() -> None:
    assert normalise(None) == (None, None)
    assert normalise("") == (None, None)
    assert normalise("  \t") == (None, None)


@given(st.text())
def test_normalise_never_raises_and_answers_in_the_vocabulary(raw: str) -> None:
    platform, kept = normalise(raw)
    assert platform is None or platform in PLATFORMS
    assert kept == (raw.strip() or None)


@given(st.sampled_from(PLATFORMS), st.sampled_from(["", " ", "\t"]))
def test_every_vocabulary_word_normalises_to_itself(word: str, pad: str) -> None:
    assert normalise(pad + word + pad)[0] == word
    assert normalise(word.upper())[0] == word


@given(st.text())
def test_normalising_twice_changes_nothing(raw: str) -> None:
    platform, _ = normalise(raw)
    if platform is not None:
        assert normalise(platform)[0] == platform


def test_a_sighting_keeps_the_raw_word_only_when_it_says_more() -> None:
    assert kept_raw("youtube", "youtube") is None
    assert kept_raw("youtube", "YouTube") == "YouTube"
    assert normalised_sighting(Sighting(platform="YouTube")) == Sighting(platform="youtube", platform_raw="YouTube")
    assert normalised_sighting(Sighting(platform="telegram")) == Sighting(platform="telegram")
    assert normalised_sighting(Sighting(platform="Rumble")) == Sighting(platform=None, platform_raw="Rumble")
    assert normalised_sighting(Sighting(platform="x", platform_raw="Twitter")) == Sighting(platform="x",
                                                                                           platform_raw="Twitter")
    assert normalised_sighting(Sighting(uploader="@a")) == Sighting(uploader="@a")


def test_sidecar_platforms_are_normalised_from_the_extractor() -> None:
    base = {"id": "1", "webpage_url": "https://x.com/a/status/1"}
    assert sighting_from_info({**base, "extractor_key": "Twitter", "extractor": "twitter"}).platform == "x"
    seen = sighting_from_info({**base, "extractor_key": "Twitter"})
    assert (seen.platform, seen.platform_raw, seen.recorded_from) == ("x", "Twitter", "yt-dlp info.json")
    seen = sighting_from_info({**base, "extractor_key": "Twitter", "_version": {"version": "2026.10.26"},
                               "epoch": 1796180834})
    assert seen.recorded_from == "yt-dlp info.json (yt-dlp 2026.10.26, extracted 2026-12-02T03:07:14Z)"
    for odd in ({"_version": "2026.10.26", "epoch": "yesterday"}, {"_version": {"version": 7}, "epoch": 10 ** 400},
                {"_version": None, "epoch": float("nan")}):
        assert sighting_from_info({**base, **odd}).recorded_from == "yt-dlp info.json"
    seen = sighting_from_info({**base, "extractor_key": "Rumble"})
    assert (seen.platform, seen.platform_raw) == (None, "Rumble")
    seen = sighting_from_info(base)  # no extractor named: the page's host says it
    assert (seen.platform, seen.platform_raw) == ("x", None)


def test_archive_add_platform_option_is_normalised(tmp_path: Path, testsrc_clip: Path) -> None:
    archive = str(tmp_path / "a.sqlite")
    runner = CliRunner()
    for typed in ("YouTube", "youtube", "Rumble"):
        result = runner.invoke(cli, ["archive", "add", "--archive", archive, "--platform", typed,
                                     "--first-seen", "2020-01-02", "--fps", "1", str(testsrc_clip)])
        assert result.exit_code == 0, result.output
    listing = json.loads(runner.invoke(cli, ["archive", "list", "--archive", archive, "--json"]).stdout)
    shown = json.loads(runner.invoke(cli, ["archive", "show", "--archive", archive, "--json",
                                           listing[0]["sha256"]]).stdout)
    # "YouTube" and "youtube" are one sighting (the identity holds the normalised platform); Rumble is kept as said
    assert sorted((s["platform"] or "-", s["platform_raw"] or "-") for s in shown["sightings"]) == [
        ("-", "Rumble"), ("youtube", "YouTube")]
    table = runner.invoke(cli, ["archive", "list", "--archive", archive]).stdout
    assert "youtube,Rumble" in table.splitlines()[1]


def test_a_platform_outside_the_vocabulary_is_shown_as_the_source_said() -> None:
    seen = Sighting(platform=None, platform_raw="Rumble", uploader="@a", source_url="https://rumble.com/v1")
    assert sighting_short(seen) == "Rumble @a https://rumble.com/v1"
    assert sighting_where(seen).startswith("Rumble @a") and sighting_detail(seen).startswith("Rumble @a")
    assert sighting_short(Sighting(platform="youtube", platform_raw="Youtube", uploader="@a")) == "youtube @a"


def test_an_archive_of_schema_9_has_its_platforms_normalised_and_no_sighting_doubled(
        tmp_path: Path, testsrc_clip: Path) -> None:
    import sqlite3

    from provenance.archive import migrations
    from provenance.archive.store import ArchiveStore
    from provenance.ingest.add import add_files

    archive = tmp_path / "old.sqlite"
    add_files(str(archive), [str(testsrc_clip)], sighting=Sighting(platform="youtube", source_url="https://y/1"))
    add_files(str(archive), [str(testsrc_clip)], sighting=Sighting(platform="youtube", source_url="https://y/2"))
    add_files(str(archive), [str(testsrc_clip)], sighting=Sighting(source_url="https://r/3"))
    conn = sqlite3.connect(archive)
    # as schema 9 stored them, before platforms were normalised: the words as the sources gave them
    conn.execute("UPDATE sightings SET platform = 'Youtube', platform_raw = NULL WHERE source_url = 'https://y/1'")
    conn.execute("UPDATE sightings SET platform = 'Rumble', platform_raw = NULL WHERE source_url = 'https://r/3'")
    # and the same sighting stored twice: once as it was, once normalised (re-added after the change)
    conn.execute("INSERT INTO sightings (item_id, source_url, platform, uploader, first_seen, label, title, video_id, "
                 "file_name, added_at) SELECT item_id, source_url, 'YouTube', uploader, first_seen, label, title, "
                 "video_id, file_name, added_at FROM sightings WHERE source_url = 'https://y/2'")
    conn.execute("PRAGMA user_version = 9")
    conn.commit()
    conn.close()
    with ArchiveStore.open(archive) as store:
        assert migrations.user_version(store.connection) == migrations.LATEST_VERSION == 12
        (item,) = store.items()
        got = sorted(((s.source_url, s.platform, s.platform_raw) for s in store.sightings(item.sha256)
                      if s.source_url), key=str)
    assert got == [("https://r/3", None, "Rumble"), ("https://y/1", "youtube", "Youtube"),
                   ("https://y/2", "youtube", None)]
