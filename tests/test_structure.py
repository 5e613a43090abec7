"""The box parser (provenance.forensics.structure) on real device files, files ffmpeg writes, and hand-built boxes.

Generated clips: ``base`` is 2 s of lavfi testsrc2 at 160x120 / 25 fps with a sine tone, libx264
(GOP of 10) + AAC in MP4, muxed by ffmpeg; the others are re-muxes of it (``-c copy``) with
``-movflags +faststart``, movie fragments, or a cut (``-ss``). Synthetic files are built box by box
to pin exact header values (64-bit times, edit lists) and malformed layouts.
"""

from __future__ import annotations

import json
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import corpus_path, run_ffmpeg

from provenance.cli.app import cli
from provenance.errors import UnreadableMediaError
from provenance.forensics.structure import StructureError, read_structure
from provenance.forensics.structure.boxes import MAX_DEPTH
from provenance.forensics.structure.fields import EPOCH_1904, mp4_time


def box(kind: bytes, payload: bytes = b"") -> bytes:
    """One box: 32-bit size, type, payload."""
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mvhd_v1(created: int, modified: int, timescale: int, duration: int, next_track: int) -> bytes:
    """A version-1 'mvhd' (64-bit times)."""
    return box(b"mvhd", b"\x01\0\0\0" + struct.pack(">QQIQ", created, modified, timescale, duration)
               + b"\0" * 76 + struct.pack(">I", next_track))


def tkhd_v1(created: int, track_id: int, duration: int, width: int, height: int) -> bytes:
    """A version-1 'tkhd' of an enabled track."""
    return box(b"tkhd", b"\x01\0\0\x03" + struct.pack(">QQIIQ", created, created, track_id, 0, duration)
               + b"\0" * 8 + b"\0" * 8 + b"\0" * 36 + struct.pack(">II", width << 16, height << 16))


def mdhd_v1(created: int, timescale: int, duration: int) -> bytes:
    """A version-1 'mdhd', language 'eng'."""
    lang = ((ord("e") - 0x60) << 10) | ((ord("n") - 0x60) << 5) | (ord("g") - 0x60)
    return box(b"mdhd", b"\x01\0\0\0" + struct.pack(">QQIQHH", created, created, timescale, duration, lang, 0))


def hdlr(kind: bytes, name: bytes) -> bytes:
    """An ISO 'hdlr' with a NUL-terminated name."""
    return box(b"hdlr", b"\0" * 4 + b"\0" * 4 + kind + b"\0" * 12 + name + b"\0")


def elst_v1(*entries: tuple[int, int]) -> bytes:
    """A version-1 'elst' of (segment duration, media time) entries at rate 1."""
    body = b"".join(struct.pack(">QqhH", d, m, 1, 0) for d, m in entries)
    return box(b"elst", b"\x01\0\0\0" + struct.pack(">I", len(entries)) + body)


def write(path: Path, data: bytes) -> Path:
    """Write bytes and return the path."""
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s testsrc2 160x120 25 fps, libx264 (-g 10, ultrafast) + AAC, MP4 written by ffmpeg."""
    out = tmp_path_factory.mktemp("structure") / "base.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
               "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p",
               "-c:a", "aac", "-shortest", str(out))
    return out


def remux(base: Path, name: str, *args: str) -> Path:
    """``base`` re-muxed by ffmpeg with ``-c copy`` and ``args``."""
    out = base.parent / name
    if not out.exists():
        run_ffmpeg("-i", str(base), "-c", "copy", *args, str(out))
    return out


def test_ffmpeg_file_layout_headers_sei_and_gop(base: Path) -> None:
    s = read_structure(base)
    assert s.file_type is not None and s.file_type.major_brand == "isom" and s.file_type.minor_version == 512
    assert s.file_type.compatible_brands == ("isom", "iso2", "avc1", "mp41")
    assert [b.type for b in s.top_level] == ["ftyp", "free", "mdat", "moov"] and s.faststart is False
    assert s.movie is not None and s.movie.timescale == 1000 and s.movie.seconds == pytest.approx(2.02, abs=0.05)
    video, audio = s.video_tracks[0], s.audio_tracks[0]
    assert (video.handler_name, audio.handler_name) == ("VideoHandler", "SoundHandler")
    assert video.sample_entries[0].format == "avc1" and video.sample_entries[0].compressor_name.startswith("Lavc")
    assert (video.sample_entries[0].width, video.sample_entries[0].height) == (160, 120)
    assert video.sample_count == 50 and video.sync_samples == 5
    assert audio.edits and audio.edits[0].media_time == 1024  # AAC priming, not a trim
    assert s.meta("©too")[0].startswith("Lavf")
    x264 = [x for x in s.sei if x.encoder == "x264"]
    assert x264 and x264[0].text.startswith("x264 - core ") and " options: " in x264[0].text
    assert s.gop is not None and (s.gop.packets, s.gop.keyframes, s.gop.gop_min, s.gop.gop_max) == (50, 5, 10, 10)
    assert s.gop.regular and s.gop.first_packet_keyframe and s.gop.keyframe_interval_seconds == pytest.approx(0.4)
    assert s.problems == ()


def test_faststart_and_fragments(base: Path) -> None:
    fast = read_structure(remux(base, "fast.mp4", "-movflags", "+faststart"), gop=False)
    assert [b.type for b in fast.top_level][:2] == ["ftyp", "moov"] and fast.faststart is True
    frag = read_structure(remux(base, "frag.mp4", "-movflags", "frag_keyframe+empty_moov"), gop=False)
    assert frag.fragmented and "moof" in [b.type for b in frag.top_level]
    assert any(x.encoder == "x264" for x in frag.sei)  # found through the first 'trun', not the empty sample tables


def test_cut_with_stream_copy_gets_an_edit_list(base: Path) -> None:
    cut = read_structure(remux(base, "cut.mp4", "-ss", "0.5", "-copyinkf"), gop=True)
    assert cut.gop is not None and not cut.gop.first_packet_keyframe
    assert any(e.media_time < 0 for e in cut.video_tracks[0].edits)


def test_hevc_sei_from_hvcc(tmp_path: Path) -> None:
    out = tmp_path / "hevc.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x64:rate=10", "-t", "0.3", "-c:v", "libx265",
               "-x265-params", "log-level=error", "-pix_fmt", "yuv420p", str(out))
    s = read_structure(out, gop=False)
    x265 = [x for x in s.sei if x.encoder == "x265"]
    assert x265 and x265[0].text.startswith("x265 (build ") and x265[0].sample == -1


@pytest.mark.corpus
def test_android_camera_original() -> None:
    s = read_structure(corpus_path("fire-dog-phone/fire2.mp4"))
    assert s.file_type.major_brand == "mp42" and s.file_type.compatible_brands == ("isom", "mp42")
    assert [b.type for b in s.top_level] == ["ftyp", "moov", "free", "mdat"]
    assert s.movie.creation_time == "2017-01-05T18:32:43Z" == s.tracks[0].creation_time
    assert [t.handler_name for t in s.tracks] == ["VideoHandle", "SoundHandle"]
    assert s.meta("©xyz") == ("+54.1843-002.7189/",)
    assert s.sei == () and s.gop.keyframes == 1
    watch = read_structure(corpus_path("smartwatch/trim_optimization_failure.mp4"), gop=False)
    assert watch.meta("loci") == ("+48.3896+011.0470+0.000/",)  # a 3GPP location box, decoded


@pytest.mark.corpus
def test_apple_quicktime_and_keyed_metadata() -> None:
    mov = read_structure(corpus_path("androidx-sample/bt601.mov"), gop=False)
    assert mov.file_type.major_brand == "qt  " and [t.handler_manufacturer for t in mov.tracks] == ["appl", "appl"]
    assert [t.handler_name for t in mov.tracks] == ["Core Media Audio", "Core Media Video"]
    assert mov.tracks[0].data_handler_names == ("Core Media Data Handler",)
    assert mov.tracks[0].edits[0].media_time == -1  # an empty edit delays the audio
    android = read_structure(corpus_path("bed-dog-rotation/internal_emulator_transformer_output.mp4"), gop=False)
    assert [(m.source, m.key, m.value) for m in android.metadata] == [("keys", "com.android.version", "13")]


@pytest.mark.corpus
def test_xmp_and_uuid_boxes() -> None:
    s = read_structure(corpus_path("c2pa-waterfall/video1.mp4"), gop=False)
    assert [b.label for b in s.top_level if b.type == "uuid"] == ["C2PA manifest store", "XMP"]
    assert s.xmp is not None and s.xmp.history_agents == ("Adobe Premiere Rush (Macintosh)",)
    assert s.meta("©TIM") == ("00:00:00:00",)


def test_version1_headers_and_1904_epoch(tmp_path: Path) -> None:
    created = int((datetime(2100, 1, 2, 3, 4, 5, tzinfo=UTC) - EPOCH_1904).total_seconds())  # past 2040: 64 bits
    trak = box(b"trak", tkhd_v1(created, 1, 5000, 320, 240) + box(b"edts", elst_v1((1000, -1), (4000, 9000)))
               + box(b"mdia", mdhd_v1(created, 90000, 450000) + hdlr(b"vide", b"My Handler")))
    data = box(b"ftyp", b"mp42" + struct.pack(">I", 1) + b"mp42isom") + box(
        b"moov", mvhd_v1(created, created + 3600, 1000, 5000, 2) + trak)
    s = read_structure(write(tmp_path / "v1.mp4", data), gop=False)
    assert s.movie.version == 1 and s.movie.creation_time == "2100-01-02T03:04:05Z"
    assert s.movie.modification_time == "2100-01-02T04:04:05Z" and s.movie.seconds == 5.0
    t = s.tracks[0]
    assert (t.tkhd_version, t.mdhd_version, t.track_id, t.width, t.height) == (1, 1, 1, 320.0, 240.0)
    assert (t.creation_time, t.timescale, t.media_seconds, t.language) == ("2100-01-02T03:04:05Z", 90000, 5.0, "eng")
    assert t.handler_name == "My Handler"
    assert [(e.media_time, e.segment_seconds, e.media_seconds) for e in t.edits] == [(-1, 1.0, None), (9000, 4.0, 0.1)]
    assert mp4_time(0) is None


def test_not_iso_bmff_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StructureError, match="not an ISO BMFF"):
        read_structure(write(tmp_path / "a.txt", b"hello, this is text and not a video file\n"))
    assert issubclass(StructureError, UnreadableMediaError)


def test_truncated_file_is_read_as_far_as_it_goes(base: Path, tmp_path: Path) -> None:
    data = base.read_bytes()
    s = read_structure(write(tmp_path / "cut.mp4", data[: len(data) // 2]), gop=False)
    assert any("truncated" in p for p in s.problems) and s.movie is None
    assert any(b.truncated for b in s.tree)


def test_malformed_sizes_loops_and_depth(tmp_path: Path) -> None:
    ftyp = box(b"ftyp", b"isom\0\0\0\0isom")
    small = ftyp + struct.pack(">I4s", 4, b"free") + b"junkjunk"
    s = read_structure(write(tmp_path / "small.mp4", small), gop=False)
    assert any("less than its own" in p for p in s.problems)
    huge = ftyp + box(b"moov", struct.pack(">I4s", 0x7FFFFFFF, b"trak") + b"\0" * 16)
    s = read_structure(write(tmp_path / "huge.mp4", huge), gop=False)
    assert any("'trak'" in p and "declares" in p for p in s.problems)
    nested = box(b"free")
    for _ in range(MAX_DEPTH + 5):
        nested = box(b"udta", nested)
    s = read_structure(write(tmp_path / "deep.mp4", ftyp + box(b"moov", nested)), gop=False)
    assert any("nested deeper" in p for p in s.problems)
    large = ftyp + struct.pack(">I4sQ", 1, b"free", 16 + 4) + b"abcd" + struct.pack(">I4s", 0, b"mdat") + b"x" * 10
    s = read_structure(write(tmp_path / "large.mp4", large), gop=False)
    assert [(b.type, b.header_size, b.size) for b in s.tree][1:] == [("free", 16, 20), ("mdat", 8, 18)]
    garbage = ftyp + box(b"moov", b"\x00\x00\x00\x10\x01\x02\x03\x04" + b"\0" * 8)
    s = read_structure(write(tmp_path / "garbage.mp4", garbage), gop=False)
    assert any("not a box" in p for p in s.problems)


def test_check_structure_text_and_json(base: Path) -> None:
    runner = CliRunner()
    text = runner.invoke(cli, ["check", str(base), "--structure"], catch_exceptions=False)
    assert text.exit_code == 0, text.output
    for heading in ("STRUCTURE (ISO BMFF / QuickTime)", "LAST WRITER", "EDIT INDICATORS", "C2PA", "box tree"):
        assert heading in text.output
    assert "ffmpeg (libavformat" in text.output and "x264 settings: cabac=" in text.output
    record = json.loads(runner.invoke(cli, ["check", str(base), "--structure", "--json"]).output)
    assert record["structure"]["last_writer"]["rule"] == "ffmpeg"
    assert record["structure"]["structure"]["file_type"]["major_brand"] == "isom"
    assert record["structure"]["c2pa"]["statement"] == "no manifest (unknown provenance)"
    assert "structure" not in json.loads(runner.invoke(cli, ["check", str(base), "--json"]).output)
