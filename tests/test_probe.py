"""ffprobe metadata, normalised: generated clips, odd inputs, and the shared corpus (INVENTORY.md values)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from conftest import corpus_path, run_ffmpeg
from PIL import Image

from provenance.errors import MissingToolError, UnreadableMediaError, UsageError
from provenance.media.probe import MAX_PIXELS, MAX_SIDE, _check_dimensions, parse_rate, probe
from provenance.model import Metadata, StreamInfo

LAVFI_SMALL = ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10", "-t", "1"]
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


# --- generated media -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def located_mp4(media_dir: Path) -> Path:
    """An MP4 with a container creation_time and an ISO 6709 location (the Eiffel Tower)."""
    out = media_dir / "located.mp4"
    run_ffmpeg(*LAVFI_SMALL, *X264, "-metadata", "creation_time=2020-10-05T12:00:00Z",
               "-metadata", "location=+48.8583+002.2945/", str(out))
    return out


@pytest.fixture(scope="module")
def rotated_mov(media_dir: Path) -> Path:
    """A MOV whose display matrix turns the picture by 90 degrees (ffmpeg 5.1 has no -display_rotation)."""
    plain = media_dir / "unrotated.mov"
    out = media_dir / "rotated.mov"
    run_ffmpeg(*LAVFI_SMALL, *X264, str(plain))
    # The muxer turns the "rotate" tag into a display matrix only when the stream is copied.
    run_ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(out))
    return out


@pytest.fixture(scope="module")
def apple_mov(media_dir: Path) -> Path:
    """A MOV with the mdta keys an iPhone writes (make, model, software, creationdate, ISO 6709)."""
    out = media_dir / "apple.mov"
    run_ffmpeg(*LAVFI_SMALL, *X264, "-movflags", "use_metadata_tags",
               "-metadata", "com.apple.quicktime.make=Apple",
               "-metadata", "com.apple.quicktime.model=iPhone 12",
               "-metadata", "com.apple.quicktime.software=16.1",
               "-metadata", "com.apple.quicktime.creationdate=2022-06-01T10:11:12+0200",
               "-metadata", "com.apple.quicktime.location.ISO6709=+27.1281-082.4536+003.000/",
               "-metadata", "creation_time=2022-06-01T10:11:12Z", str(out))
    return out


@pytest.fixture(scope="module")
def android_mp4(media_dir: Path) -> Path:
    """An MP4 with the com.android.* keys Android's MediaRecorder writes."""
    out = media_dir / "android.mp4"
    run_ffmpeg(*LAVFI_SMALL, *X264, "-movflags", "use_metadata_tags",
               "-metadata", "com.android.version=13",
               "-metadata", "com.android.manufacturer=Google",
               "-metadata", "com.android.model=Pixel 7",
               "-metadata", "com.android.capture.fps=30.000000",
               "-metadata", "location=+48.3896+011.0470/", str(out))
    return out


@pytest.fixture(scope="module")
def png_still(media_dir: Path) -> Path:
    out = media_dir / "still.png"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=200x150:rate=1", "-frames:v", "1", str(out))
    return out


@pytest.fixture(scope="module")
def animated_gif(media_dir: Path) -> Path:
    out = media_dir / "animated.gif"
    run_ffmpeg(*LAVFI_SMALL, "-f", "gif", str(out))
    return out


@pytest.fixture(scope="module")
def single_gif(media_dir: Path) -> Path:
    out = media_dir / "single.gif"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10", "-frames:v", "1", str(out))
    return out


@pytest.fixture(scope="module")
def audio_m4a(media_dir: Path) -> Path:
    out = media_dir / "tone.m4a"
    run_ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "1", "-c:a", "aac",
               str(out))
    return out


@pytest.fixture(scope="module")
def hevc_mp4(media_dir: Path) -> Path:
    encoders = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    if "libx265" not in encoders:
        pytest.skip("this ffmpeg has no libx265 encoder")
    out = media_dir / "hevc.mp4"
    run_ffmpeg(*LAVFI_SMALL, "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
               "-tag:v", "hvc1", str(out))
    return out


def test_testsrc_clip(testsrc_clip: Path) -> None:
    meta = probe(str(testsrc_clip))
    assert meta.kind == "video"
    assert meta.format_name == "mov,mp4,m4a,3gp,3g2,mj2"
    assert meta.major_brand == "isom"
    assert meta.compatible_brands == ("isom", "iso2", "avc1", "mp41")
    assert meta.duration == pytest.approx(10.0, abs=0.1)
    assert meta.bit_rate and meta.bit_rate > 0
    assert meta.encoder and meta.encoder.startswith("Lavf")
    video = meta.video_stream
    assert video is not None
    assert (video.codec, video.width, video.height) == ("h264", 320, 240)
    assert video.avg_frame_rate == 25.0 and video.real_frame_rate == 25.0
    assert video.frame_count == 250
    assert video.pix_fmt == "yuv420p"
    assert video.sample_aspect_ratio == "1:1" and video.display_aspect_ratio == "4:3"
    assert video.rotation is None
    audio = [s for s in meta.streams if s.kind == "audio"]
    assert len(audio) == 1
    assert (audio[0].codec, audio[0].sample_rate, audio[0].channels) == ("aac", 44100, 1)
    assert audio[0].avg_frame_rate is None  # "0/0"
    assert meta.handler_names == ("VideoHandler", "SoundHandler")
    assert meta.creation_time is None and meta.creation_time_note is None
    assert meta.location is None and meta.exif is None
    raw = json.loads(meta.raw_probe)
    assert meta.raw_probe == json.dumps(raw, sort_keys=True)
    assert raw["format"]["filename"] == "file:" + str(testsrc_clip.resolve())


def test_creation_time_and_location(located_mp4: Path) -> None:
    meta = probe(str(located_mp4))
    assert meta.creation_time == "2020-10-05T12:00:00.000000Z"
    note = meta.creation_time_note or ""
    assert "UTC" in note and "local" in note
    assert meta.location is not None
    assert (meta.location.latitude, meta.location.longitude) == pytest.approx((48.8583, 2.2945))
    assert meta.location.altitude is None
    assert meta.location.source == "location"
    assert meta.location.raw == "+48.8583+002.2945/"
    assert ("location", "+48.8583+002.2945/") in meta.tags


def test_rotation_read_back(rotated_mov: Path) -> None:
    meta = probe(str(rotated_mov))
    video = meta.video_stream
    assert video is not None
    assert (video.width, video.height) == (160, 120)  # rotation is metadata; the coded size stays
    # ffprobe reports the matrix counter-clockwise; ffmpeg 5.1's muxer writes rotate=90 as +90.
    assert video.rotation is not None and abs(video.rotation) == 90.0
    raw = json.loads(meta.raw_probe)
    side = raw["streams"][0]["side_data_list"][0]
    assert side["side_data_type"] == "Display Matrix"
    assert video.rotation == float(side["rotation"])


def test_apple_keys(apple_mov: Path) -> None:
    meta = probe(str(apple_mov))
    assert (meta.make, meta.model, meta.software) == ("Apple", "iPhone 12", "16.1")
    assert meta.device_creation_date == "2022-06-01T10:11:12+0200"
    assert meta.creation_time is not None and meta.creation_time.startswith("2022-06-01T10:11:12")
    assert "creationdate" in (meta.creation_time_note or "")
    assert meta.major_brand == "qt  "  # FourCCs keep their padding
    loc = meta.location
    assert loc is not None
    assert (loc.latitude, loc.longitude, loc.altitude) == pytest.approx((27.1281, -82.4536, 3.0))
    assert loc.source == "com.apple.quicktime.location.ISO6709"


def test_android_keys(android_mp4: Path) -> None:
    meta = probe(str(android_mp4))
    assert (meta.make, meta.model, meta.software) == ("Google", "Pixel 7", "Android 13")
    assert ("com.android.capture.fps", "30.000000") in meta.tags
    loc = meta.location
    assert loc is not None
    assert (loc.latitude, loc.longitude) == pytest.approx((48.3896, 11.0470))


def test_png_still(png_still: Path) -> None:
    meta = probe(str(png_still))
    assert meta.kind == "still"
    assert meta.format_name == "png_pipe"
    video = meta.video_stream
    assert video is not None and (video.codec, video.width, video.height) == ("png", 200, 150)
    assert meta.exif is None  # no EXIF in a PNG made by ffmpeg


def test_jpeg_still(still_jpeg: Path) -> None:
    meta = probe(str(still_jpeg))
    assert meta.kind == "still"
    assert meta.video_stream is not None and meta.video_stream.codec == "mjpeg"


def test_animated_gif_is_video(animated_gif: Path) -> None:
    meta = probe(str(animated_gif))
    assert meta.kind == "video"
    video = meta.video_stream
    assert video is not None and video.codec == "gif" and video.frame_count == 10
    assert meta.duration == pytest.approx(1.0)


def test_single_frame_gif_is_still(single_gif: Path) -> None:
    assert probe(str(single_gif)).kind == "still"


def test_hevc(hevc_mp4: Path) -> None:
    meta = probe(str(hevc_mp4))
    video = meta.video_stream
    assert video is not None
    assert (video.codec, video.width, video.height, video.avg_frame_rate) == ("hevc", 160, 120, 10.0)
    assert "hvc1" in (meta.raw_probe or "")


def test_audio_only(audio_m4a: Path) -> None:
    with pytest.raises(UnreadableMediaError, match="no video or image stream"):
        probe(str(audio_m4a))
    meta = probe(str(audio_m4a), require_visual=False)
    assert meta.kind == "audio" and meta.video_stream is None


def test_text_file_named_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("this is a text file, not a video\n" * 20)
    with pytest.raises(UnreadableMediaError) as info:
        probe(str(path))
    message = str(info.value)
    assert "Invalid data found when processing input" in message
    assert str(path) in message and "\n" not in message


def test_missing_ffprobe(testsrc_clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no ffmpeg, no ffprobe
    with pytest.raises(MissingToolError, match="not found on PATH"):
        probe(str(testsrc_clip))


def test_zero_bytes(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(UnreadableMediaError, match=r"is empty \(0 bytes\)"):
        probe(str(path))


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        probe(str(tmp_path / "absent.mp4"))
    with pytest.raises(UsageError, match="is a directory"):
        probe(str(tmp_path))


def test_names_that_look_like_protocols_or_patterns(
    tmp_path: Path, testsrc_clip: Path, still_jpeg: Path
) -> None:
    # "pipe:..." must not be read as ffmpeg's pipe protocol, "-i" not as an option, and "a%d.jpg"
    # not as a numbered image sequence (which would read other files, or none).
    for name, source in (("pipe:0", testsrc_clip), ("-i", testsrc_clip), ("a%d.jpg", still_jpeg)):
        target = tmp_path / name
        shutil.copyfile(source, target)
        meta = probe(str(target))
        assert meta.video_stream is not None, name
        assert json.loads(meta.raw_probe)["format"]["filename"] == "file:" + str(target)


def test_too_wide_is_absurd(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    Image.new("L", (MAX_SIDE + 7232, 1)).save(path)  # 40000 x 1: small file, absurd picture
    with pytest.raises(UnreadableMediaError, match="absurd picture dimensions 40000x1"):
        probe(str(path))


def test_header_beyond_ffmpeg_limits_is_refused(tmp_path: Path) -> None:
    # A PNG header claiming 30000 x 30000: ffprobe refuses to size it and reports 0 x 0.
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0))
    body = chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    path = tmp_path / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + header + body)
    with pytest.raises(UnreadableMediaError, match=r"not a readable image or video: .* png stream .*\(0x0\)"):
        probe(str(path))


def test_random_bytes_named_jpg(tmp_path: Path) -> None:
    # The image2 demuxer trusts the extension; the decoder then finds no picture and sizes it 0x0.
    path = tmp_path / "junk.jpg"
    path.write_bytes(bytes((i * 7919 + 13) % 251 for i in range(3000)))
    with pytest.raises(UnreadableMediaError, match="not a readable image or video"):
        probe(str(path))


@pytest.mark.parametrize(
    ("width", "height", "ok"),
    [(1920, 1080, True), (MAX_SIDE, 1, True), (MAX_SIDE + 1, 10, False), (0, 10, False), (10, -1, False),
     (22000, 22000, True), (22400, 22400, False), (None, 10, False)],
)
def test_dimension_limits(width: int | None, height: int | None, ok: bool) -> None:
    assert MAX_PIXELS == 500_000_000
    nothing: dict[str, None] = dict.fromkeys(
        ("codec_long", "profile", "sample_aspect_ratio", "display_aspect_ratio", "avg_frame_rate",
         "real_frame_rate", "pix_fmt", "color_range", "color_space", "color_transfer", "color_primaries",
         "rotation", "duration", "bit_rate", "frame_count", "sample_rate", "channels", "handler_name",
         "language", "creation_time")
    )
    stream = StreamInfo(index=0, kind="video", codec="h264", width=width, height=height, **nothing)
    if ok:
        _check_dimensions(stream, "x.mp4")
    else:
        with pytest.raises(UnreadableMediaError):
            _check_dimensions(stream, "x.mp4")


def test_parse_rate() -> None:
    assert parse_rate("30000/1001") == pytest.approx(29.97003)
    assert parse_rate("25/1") == 25.0
    assert parse_rate("0/0") is None
    assert parse_rate("N/A") is None
    assert parse_rate(None) is None
    assert parse_rate("12.5") == 12.5


# --- the shared corpus -------------------------------------------------------------------------------

# (file, container family, codec, width, height, avg fps from INVENTORY.md, rotation, duration)
CORPUS_CLIPS = [
    ("bed-dog-rotation/internal_emulator_transformer_output.mp4", "mp4", "h264", 1280, 720, 29.97, None,
     4.97),
    ("bed-dog-rotation/internal_emulator_transformer_output_180_rotated.mp4", "mp4", "h264", 1280, 720, 29.97,
     -180.0, 4.97),
    ("bed-dog-rotation/internal_emulator_transformer_output_270_rotated.mp4", "mp4", "h264", 1280, 720, 29.97,
     90.0, 4.97),
    ("androidx-sample/sample_rotate_and_reflect.mp4", "mp4", "h264", 1080, 720, 29.97, -90.0, 1.00),
    ("androidx-sample/sample_portrait.mp4", "mp4", "h264", 720, 1080, 29.97, None, 1.00),
    ("goldeneye/issue-134-rotate.mp4", "mp4", "h264", 1280, 544, 23.98, -90.0, 10.01),
    ("fire-dog-phone/fire2.mp4", "mp4", "h264", 1280, 720, 10.51, -180.0, 2.38),
    ("smartwatch/trim_optimization_failure.mp4", "mp4", "h264", 518, 488, 29.88, None, 5.59),
    ("androidx-sample/sample_with_metadata.mp4", "mp4", "h264", 1080, 720, 29.97, None, 1.00),
    ("androidx-sample/sample.mkv", "matroska", "h264", 1080, 720, 1000.00, None, 1.07),
    ("intel-asl/again.mkv", "matroska", "h264", 640, 480, 30.00, None, 2.60),
    ("big-buck-bunny/big_buck_bunny_0_30.webm", "matroska", "vp8", 1280, 720, 24.00, None, 30.00),
    ("zoo-bear/bear-vp9.webm", "matroska", "vp9", 320, 240, 29.97, None, 2.70),
    ("webcam-wave/test.webm", "matroska", "h264", 640, 480, 30.30, None, None),
    ("vlog-makeup/tests_data_test.avi", "avi", "mpeg4", 320, 240, 25.00, None, 6.56),
    ("campus-surveillance/vtest.avi", "avi", "msmpeg4v3", 768, 576, 10.00, None, 79.50),
    ("window-tree/tree.avi", "avi", "cinepak", 320, 240, 15.00, None, 29.60),
    ("mountain-av1/sample_with_colr_mdcv_and_clli.mp4", "mp4", "av1", 1920, 1080, 59.94, None, 1.00),
    ("androidx-sample/sample_av1.mp4", "mp4", "av1", 1080, 720, 29.97, None, 1.00),
    ("androidx-sample/bt601.mov", "mp4", "h264", 640, 428, 29.41, None, 1.02),
    ("office-plant/realshort.mp4", "mp4", "h264", 320, 240, 30.02, None, 1.20),
    ("pigs-cartoon/pigs_in_a_polka.gif", "gif", "gif", 314, 273, 10.00, None, 3.00),
    ("intel-bottles/bottle-detection.gif", "gif", "gif", 480, 270, 15.00, None, 2.99),
    ("workshop-documentary/issue-195-aspect-ratio.mp4", "mp4", "h264", 704, 576, 25.00, None, 25.12),
]


@pytest.mark.corpus
@pytest.mark.parametrize(("rel", "family", "codec", "width", "height", "fps", "rotation", "duration"),
                         CORPUS_CLIPS, ids=[c[0] for c in CORPUS_CLIPS])
def test_corpus_clip(rel: str, family: str, codec: str, width: int, height: int, fps: float,
                     rotation: float | None, duration: float | None) -> None:
    meta = probe(str(corpus_path(rel)))
    assert meta.kind == "video"
    assert family in (meta.format_name or "").split(",")
    video = meta.video_stream
    assert video is not None
    assert (video.codec, video.width, video.height) == (codec, width, height)
    assert video.avg_frame_rate == pytest.approx(fps, abs=0.006)
    assert video.rotation == rotation
    if duration is None:
        assert meta.duration is None
    else:
        # INVENTORY gives the video track's length for some MP4s and the container's for others.
        assert any(d is not None and abs(d - duration) <= 0.03 for d in (meta.duration, video.duration))


def _probe_corpus(rel: str) -> Metadata:
    return probe(str(corpus_path(rel)))


@pytest.mark.corpus
def test_corpus_smartwatch_location() -> None:
    meta = _probe_corpus("smartwatch/trim_optimization_failure.mp4")
    assert meta.location is not None
    assert (meta.location.latitude, meta.location.longitude) == pytest.approx((48.3896, 11.0470))
    assert meta.location.raw == "+48.3896+011.0470/"
    audio = [s for s in meta.streams if s.kind == "audio"]
    assert audio and (audio[0].codec, audio[0].channels) == ("aac", 2)


@pytest.mark.corpus
def test_corpus_sample_with_metadata() -> None:
    meta = _probe_corpus("androidx-sample/sample_with_metadata.mp4")
    tags = dict(meta.tags)
    assert tags["genre"] == "Gorpcore"
    assert tags["date"].startswith("2024")
    assert meta.creation_time == "2016-05-31T17:01:35.000000Z"
    assert meta.location is not None
    assert (meta.location.latitude, meta.location.longitude) == pytest.approx((40.680, -74.500))
    assert meta.encoder == "Lavf56.1.0"


@pytest.mark.corpus
def test_corpus_fire2_phone_original() -> None:
    meta = _probe_corpus("fire-dog-phone/fire2.mp4")
    assert meta.creation_time is not None and meta.creation_time.startswith("2017-01-05")
    assert meta.location is not None
    assert (meta.location.latitude, meta.location.longitude) == pytest.approx((54.1843, -2.7189))
    assert [(s.codec, s.channels) for s in meta.streams if s.kind == "audio"] == [("aac", 1)]


@pytest.mark.corpus
def test_corpus_bt601_mov_conflicting_metadata() -> None:
    meta = _probe_corpus("androidx-sample/bt601.mov")
    assert meta.major_brand == "qt  "
    assert meta.creation_time is not None and meta.creation_time.startswith("2024-02-12")
    loc = meta.location
    assert loc is not None
    assert (loc.latitude, loc.longitude, loc.altitude) == pytest.approx((40.6892, -74.0445, 10.0))
    assert meta.handler_names == ("Core Media Audio", "Core Media Video")


@pytest.mark.corpus
def test_corpus_mkv_creation_time_and_audio() -> None:
    meta = _probe_corpus("androidx-sample/sample.mkv")
    assert meta.creation_time == "2016-05-31 17:01:35"
    assert "Matroska" in (meta.creation_time_note or "")
    assert meta.major_brand is None  # the leftover MP4 brand tags stay in tags only
    assert [(s.codec, s.channels) for s in meta.streams if s.kind == "audio"] == [("ac3", 1)]


@pytest.mark.corpus
def test_corpus_realshort_3gp_brand() -> None:
    meta = _probe_corpus("office-plant/realshort.mp4")
    assert "3gp4" in meta.compatible_brands
    assert meta.creation_time is not None and meta.creation_time.startswith("2014-11-05")
    assert [(s.codec, s.channels) for s in meta.streams if s.kind == "audio"] == [("aac", 1)]


@pytest.mark.corpus
def test_corpus_empty_track_future_date() -> None:
    meta = _probe_corpus("androidx-sample/sample_empty_track.mp4")
    assert meta.creation_time is not None and meta.creation_time.startswith("2033-05-18")
    assert [s.kind for s in meta.streams].count("video") == 2
    assert meta.video_stream is not None and meta.video_stream.avg_frame_rate == pytest.approx(31.0, abs=0.01)
    assert meta.software == "Android 13"


@pytest.mark.corpus
def test_corpus_av1_hdr_colour() -> None:
    video = _probe_corpus("mountain-av1/sample_with_colr_mdcv_and_clli.mp4").video_stream
    assert video is not None
    colour = (video.color_primaries, video.color_transfer, video.color_space)
    assert colour == ("bt2020", "smpte2084", "bt2020nc")
    assert video.pix_fmt == "yuv420p10le"


@pytest.mark.corpus
def test_corpus_anamorphic() -> None:
    video = _probe_corpus("workshop-documentary/issue-195-aspect-ratio.mp4").video_stream
    assert video is not None
    assert (video.sample_aspect_ratio, video.display_aspect_ratio) == ("16:11", "16:9")


@pytest.mark.corpus
def test_corpus_fragmented_bogus_duration_is_reported_as_is() -> None:
    # INVENTORY: headers claim 143165 s for 30 frames (~1 s); probe reports, decoding decides.
    meta = _probe_corpus("androidx-sample/sample_fragmented.mp4")
    assert meta.duration == pytest.approx(143165.6, abs=1)


@pytest.mark.corpus
def test_corpus_tree_avi_header_frames() -> None:
    # INVENTORY: header says 444 frames though only 68 decode.
    video = _probe_corpus("window-tree/tree.avi").video_stream
    assert video is not None and video.frame_count == 444


@pytest.mark.corpus
def test_corpus_iphone_still_takes_exif() -> None:
    meta = _probe_corpus("androidx-stills/tokyo.jpg")
    assert meta.kind == "still"
    assert (meta.make, meta.model, meta.software) == ("Apple", "iPhone 6s", "11.2.5")
    assert meta.exif is not None and meta.exif.datetime_original == "2018:02:17 16:39:33"
    assert meta.location is not None and meta.location.source == "EXIF GPS"
    assert meta.location.latitude == pytest.approx(35.657231, abs=1e-6)
    assert meta.video_stream is not None and (meta.video_stream.width, meta.video_stream.height) == (600, 800)


@pytest.mark.corpus
def test_corpus_png_still() -> None:
    meta = _probe_corpus("threatexchange-pdq/misc-images/c.png")
    assert meta.kind == "still" and meta.exif is None
    video = meta.video_stream
    assert video is not None and (video.width, video.height) == (1432, 812)


@pytest.mark.corpus
def test_corpus_heic() -> None:
    path = corpus_path("exif-samples/heic/IMG_5195.HEIC")
    try:
        meta = probe(str(path))
    except UnreadableMediaError as exc:
        # FFmpeg before 7.0 has no HEIF demuxer; the message says so instead of a bare "moov atom".
        assert "HEIF" in str(exc) and "\n" not in str(exc)
    else:
        assert meta.kind == "still"
        assert meta.exif is not None and meta.exif.model == "iPhone 11 Pro Max"
