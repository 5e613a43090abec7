"""yt-dlp ``.info.json`` sidecars, written in the shape yt-dlp writes them, read as Sightings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from provenance.ingest.sidecar import SidecarResult, read_ytdlp_sidecar, sidecar_candidates
from provenance.model import Sighting


def ytdlp_info(**overrides: object) -> dict[str, object]:
    """A trimmed but faithful ``--write-info-json`` document for one YouTube video."""
    info: dict[str, object] = {
        "id": "dQw4w9WgXcQ",
        "title": "Harbour fire, 5 Oct 2020",
        "formats": [
            {"format_id": "18", "ext": "mp4", "width": 640, "height": 360, "vcodec": "avc1.42001E",
             "acodec": "mp4a.40.2", "url": "https://rr1---sn.example/videoplayback?id=1",
             "protocol": "https"},
            {"format_id": "137", "ext": "mp4", "width": 1920, "height": 1080, "vcodec": "avc1.640028",
             "acodec": "none", "url": "https://rr1---sn.example/videoplayback?id=2", "protocol": "https"},
        ],
        "thumbnails": [{"url": "https://i.ytimg.com/vi/dQw4w9WgXcQ/maxresdefault.jpg", "id": "0"}],
        "thumbnail": "https://i.ytimg.com/vi/dQw4w9WgXcQ/maxresdefault.jpg",
        "description": "Filmed from the pier.",
        "channel_id": "UCuAXFkgsw1L7xaCfnd5JJOw",
        "channel_url": "https://www.youtube.com/channel/UCuAXFkgsw1L7xaCfnd5JJOw",
        "duration": 212,
        "view_count": 1234,
        "age_limit": 0,
        "webpage_url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "categories": ["News & Politics"],
        "tags": ["fire", "harbour"],
        "live_status": "not_live",
        "channel": "Harbour Watch",
        "channel_follower_count": 5000,
        "upload_date": "20201005",
        "timestamp": 1601890215,
        "uploader": "Harbour Watch",
        "uploader_id": "@harbourwatch",
        "uploader_url": "https://www.youtube.com/@harbourwatch",
        "original_url": "https://youtu.be/dQw4w9WgXcQ",
        "webpage_url_basename": "watch",
        "webpage_url_domain": "youtube.com",
        "extractor": "youtube",
        "extractor_key": "Youtube",
        "playlist": None,
        "playlist_index": None,
        "display_id": "dQw4w9WgXcQ",
        "fulltitle": "Harbour fire, 5 Oct 2020",
        "duration_string": "3:32",
        "requested_subtitles": None,
        "_has_drm": None,
        "epoch": 1700000000,
        "format_id": "137+140",
        "ext": "mp4",
        "filename": "Harbour fire, 5 Oct 2020 [dQw4w9WgXcQ].mp4",
        "_filename": "Harbour fire, 5 Oct 2020 [dQw4w9WgXcQ].mp4",
        "_type": "video",
        "_version": {"version": "2024.08.06", "current_git_head": None, "release_git_head": "4d9231208332d4c32364b8cd814bff8b20232cae", "repository": "yt-dlp/yt-dlp"},  # noqa: E501
    }
    info.update(overrides)
    return info


def write_pair(folder: Path, media_name: str, sidecar_name: str, info: object) -> Path:
    """A fake media file and its sidecar (yt-dlp writes the JSON with ensure_ascii=False)."""
    media = folder / media_name
    media.write_bytes(b"\x00\x00\x00\x18ftypisom")
    text = info if isinstance(info, str) else json.dumps(info, ensure_ascii=False)
    (folder / sidecar_name).write_text(text, encoding="utf-8")
    return media


NAME = "Harbour fire, 5 Oct 2020 [dQw4w9WgXcQ]"


def test_default_ytdlp_naming_gives_a_full_sighting(tmp_path: Path) -> None:
    media = write_pair(tmp_path, f"{NAME}.mp4", f"{NAME}.info.json", ytdlp_info())
    result = read_ytdlp_sidecar(str(media))
    assert result == SidecarResult(
        Sighting(source_url="https://www.youtube.com/watch?v=dQw4w9WgXcQ", platform="youtube",
                 uploader="Harbour Watch", first_seen="2020-10-05T09:30:15Z",
                 title="Harbour fire, 5 Oct 2020", video_id="dQw4w9WgXcQ", platform_raw="Youtube",
                 recorded_from="yt-dlp info.json (yt-dlp 2024.08.06, extracted 2023-11-14T22:13:20Z)"),
        str(tmp_path / f"{NAME}.info.json"),
    )


def test_sidecar_named_with_the_media_extension_is_found(tmp_path: Path) -> None:
    media = write_pair(tmp_path, "clip.webm", "clip.webm.info.json", ytdlp_info())
    result = read_ytdlp_sidecar(media)
    assert result.sighting is not None and result.path == str(tmp_path / "clip.webm.info.json")


def test_the_more_specific_sidecar_wins(tmp_path: Path) -> None:
    write_pair(tmp_path, "clip.mp4", "clip.info.json", ytdlp_info(id="generic"))
    (tmp_path / "clip.mp4.info.json").write_text(json.dumps(ytdlp_info(id="specific")), encoding="utf-8")
    result = read_ytdlp_sidecar(tmp_path / "clip.mp4")
    assert result.sighting is not None and result.sighting.video_id == "specific"


def test_unmerged_format_download_finds_the_sidecar(tmp_path: Path) -> None:
    media = write_pair(tmp_path, f"{NAME}.f137.mp4", f"{NAME}.info.json", ytdlp_info())
    assert read_ytdlp_sidecar(media).sighting is not None
    names = [p.name for p in sidecar_candidates(media)]
    assert names == [f"{NAME}.f137.mp4.info.json", f"{NAME}.f137.info.json", f"{NAME}.info.json"]


def test_upload_date_alone_gives_a_date(tmp_path: Path) -> None:
    info = ytdlp_info(timestamp=None)
    media = write_pair(tmp_path, "a.mp4", "a.info.json", info)
    sighting = read_ytdlp_sidecar(media).sighting
    assert sighting is not None and sighting.first_seen == "2020-10-05"


def test_fallbacks_for_platform_uploader_and_url(tmp_path: Path) -> None:
    info = ytdlp_info()
    for key in ("extractor_key", "uploader", "webpage_url", "timestamp", "upload_date"):
        del info[key]
    media = write_pair(tmp_path, "a.mp4", "a.info.json", info)
    sighting = read_ytdlp_sidecar(media).sighting
    assert sighting == Sighting(source_url="https://youtu.be/dQw4w9WgXcQ", platform="youtube",
                                uploader="Harbour Watch", first_seen=None, title="Harbour fire, 5 Oct 2020",
                                video_id="dQw4w9WgXcQ",
                                recorded_from="yt-dlp info.json (yt-dlp 2024.08.06, extracted 2023-11-14T22:13:20Z)")
    del info["channel"]
    (tmp_path / "a.info.json").write_text(json.dumps(info), encoding="utf-8")
    sighting = read_ytdlp_sidecar(media).sighting
    assert sighting is not None and sighting.uploader == "@harbourwatch"


def test_non_ascii_text_is_kept(tmp_path: Path) -> None:
    info = ytdlp_info(title="Пожар в порту 🔥", uploader="Łódź TV")
    media = write_pair(tmp_path, "a.mp4", "a.info.json", info)
    sighting = read_ytdlp_sidecar(media).sighting
    assert sighting is not None and sighting.title == "Пожар в порту 🔥" and sighting.uploader == "Łódź TV"


def test_no_sidecar_is_no_sighting_and_no_warning(tmp_path: Path) -> None:
    media = tmp_path / "lonely.mp4"
    media.write_bytes(b"x")
    assert read_ytdlp_sidecar(media) == SidecarResult(None)


@pytest.mark.parametrize(
    ("content", "warning"),
    [
        ('{"id": "abc", "title": ', "not valid JSON"),
        ("[1, 2, 3]", "not a yt-dlp info object"),
        (json.dumps({"_type": "playlist", "id": "PL1", "entries": []}), "describes a playlist"),
        (json.dumps({"title": "no url, no id"}), "neither webpage_url nor id"),
    ],
)
def test_unusable_sidecar_gives_a_warning_not_an_exception(
    tmp_path: Path, content: str, warning: str
) -> None:
    media = write_pair(tmp_path, "a.mp4", "a.info.json", content)
    result = read_ytdlp_sidecar(media)
    assert result.sighting is None
    assert result.warning is not None and warning in result.warning
    assert result.path == str(tmp_path / "a.info.json")


def test_invalid_utf8_gives_a_warning(tmp_path: Path) -> None:
    media = tmp_path / "a.mp4"
    media.write_bytes(b"x")
    (tmp_path / "a.info.json").write_bytes(b'{"id": "\xff\xfe"}')
    result = read_ytdlp_sidecar(media)
    assert result.sighting is None and result.warning is not None


def test_odd_field_values_are_tolerated(tmp_path: Path) -> None:
    info = ytdlp_info(timestamp="yesterday", upload_date="20201399", uploader=["not", "text"], id=12345)
    media = write_pair(tmp_path, "a.mp4", "a.info.json", info)
    sighting = read_ytdlp_sidecar(media).sighting
    assert sighting is not None
    assert sighting.first_seen is None and sighting.video_id == "12345"
    assert sighting.uploader == "Harbour Watch"


def test_sidecar_is_only_read(tmp_path: Path) -> None:
    media = write_pair(tmp_path, "a.mp4", "a.info.json", ytdlp_info())
    sidecar = tmp_path / "a.info.json"
    os.utime(sidecar, (1_000_000_000, 1_000_000_000))
    sidecar.chmod(0o444)
    before = (sidecar.read_bytes(), sidecar.stat().st_mtime)
    assert read_ytdlp_sidecar(media).sighting is not None
    assert (sidecar.read_bytes(), sidecar.stat().st_mtime) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.info.json", "a.mp4"]
