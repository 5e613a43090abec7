"""Last-writer rules and edit indicators, each on a real device file or a file re-written to carry the signature.

Generated files start from ``base``: 2 s of lavfi testsrc2 at 160x120 / 25 fps with a sine tone,
libx264 + AAC, muxed by ffmpeg. Signatures of other writers are re-created the way those writers
leave them: handler names and tags set with ``-metadata``, ffmpeg's own tags dropped with
``-map_metadata -1 -fflags +bitexact``, QuickTime keys with ``-movflags use_metadata_tags``, a
top-level box appended, or (HandBrake) ffmpeg's encoder tag renamed in place, byte for byte.
Corpus files (``../shared/corpus``) are real device and platform files; those tests skip without it.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import corpus_path, run_ffmpeg

from provenance.forensics.indicators import Indicator
from provenance.forensics.lastwriter import RuleSetError, last_writer, load_rules, parse_rules
from provenance.forensics.selfreport import SelfReport, self_report
from provenance.forensics.structure import read_structure
from provenance.forensics.structure.boxes import BoxReader, iter_boxes, read_tree
from provenance.media.probe import probe

GOOGLE = "ISO Media file produced by Google Inc."
APPLE_KEYS = ("-movflags", "use_metadata_tags", "-metadata", "com.apple.quicktime.make=Apple",
              "-metadata", "com.apple.quicktime.model=iPhone 12", "-metadata", "com.apple.quicktime.software=17.1",
              "-metadata", "com.apple.quicktime.creationdate=2024-03-01T10:00:00+0100",
              "-metadata:s:v", "handler_name=Core Media Video", "-metadata:s:a", "handler_name=Core Media Audio")
BARE = ("-map_metadata", "-1", "-fflags", "+bitexact")  # no tags of ffmpeg's own


def report(path: Path) -> SelfReport:
    """The structure report of ``path``, with ffprobe's metadata when ffprobe reads the file."""
    try:
        metadata = probe(path)
    except Exception:  # HEIC: ffmpeg 5.1 cannot read it; EXIF is read from the file instead
        metadata = None
    return self_report(path, metadata, gop=False)


def codes(rep: SelfReport) -> set[str]:
    """The edit indicator codes of a report."""
    return {i.code for i in rep.indicators}


class Files:
    """Generated test files, made on first use and kept for the module."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.base = folder / "base.mp4"
        run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
                   "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p",
                   "-c:a", "aac", "-shortest", str(self.base))

    def remux(self, name: str, *args: str, before: tuple[str, ...] = ()) -> Path:
        """``base`` re-muxed with ``-c copy`` and ``args`` (``before``: input options)."""
        out = self.folder / name
        if not out.exists():
            run_ffmpeg(*before, "-i", str(self.base), "-c", "copy", *args, str(out))
        return out

    def patched(self, name: str, source: Path, edit: Callable[[bytearray], None]) -> Path:
        """A copy of ``source`` with its bytes changed by ``edit`` (sizes unchanged)."""
        out = self.folder / name
        if not out.exists():
            data = bytearray(source.read_bytes())
            edit(data)
            out.write_bytes(bytes(data))
        return out

    def jpeg(self, name: str, *, software: str | None = None, iptc: bytes | None = None) -> Path:
        """A 64x48 JPEG (Pillow), with EXIF Software and an APP13 IPTC block when given."""
        from PIL import Image

        out = self.folder / name
        if not out.exists():
            image = Image.new("RGB", (64, 48), (200, 120, 40))
            exif = Image.Exif()
            if software:
                exif[0x0131] = software
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", exif=exif.tobytes())
            data = buffer.getvalue()
            if iptc is not None:
                app13 = b"Photoshop 3.0\x00" + iptc
                data = data[:2] + b"\xff\xed" + struct.pack(">H", len(app13) + 2) + app13 + data[2:]
            out.write_bytes(data)
        return out


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    """The module's generated files."""
    return Files(tmp_path_factory.mktemp("lastwriter"))


def _rename_encoder(data: bytearray) -> None:
    """HandBrake's tag in the place of ffmpeg's: 'Lavf..' becomes 'HandBrake 1...' of the same length."""
    start = end = data.find(b"Lavf")
    end += 4
    while end < len(data) and (chr(data[end]).isdigit() or data[end] == ord(".")):
        end += 1
    data[start:end] = b"HandBrake 1.6.1 2023012300"[: end - start]


def _append_beam(data: bytearray) -> None:
    data.extend(struct.pack(">I4s", 24, b"beam") + bytes.fromhex("01000000010000000000000005000000"))


def _fbmd() -> bytes:
    """An IPTC resource block whose Special Instructions (2:40) hold Facebook's FBMD marker."""
    text = b"FBMD01000aa603000004160000b22400001f2600008f270000"
    record = b"\x1c\x02\x28" + struct.pack(">H", len(text)) + text
    return b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(record)) + record


CASES: dict[str, Callable[[Files], Path]] = {
    "c2pa-signed": lambda f: corpus_path("c2pa-waterfall/video1.mp4"),
    "youtube-remux": lambda f: f.remux("yt-remux.mp4", "-metadata:s:v", f"handler_name={GOOGLE}",
                                       "-metadata:s:a", f"handler_name={GOOGLE}"),
    "youtube": lambda f: f.remux("yt.mp4", *BARE, "-metadata:s:v", f"handler_name={GOOGLE}",
                                 "-metadata:s:a", f"handler_name={GOOGLE}"),
    "x-twitter": lambda f: f.remux("x.mp4", *BARE, "-metadata:s:v", "handler_name=Twitter-vork muxer"),
    "tiktok": lambda f: f.remux("tiktok.mp4", "-metadata", "comment=vid:v0d00fg10000abcdefghij"),
    "capcut": lambda f: f.remux("capcut.mp4", "-metadata", "comment=Made with CapCut"),
    "whatsapp": lambda f: f.patched("wa.mp4", f.remux("wa-src.mp4", *BARE), _append_beam),
    "telegram-android": lambda f: f.remux("tg.mp4", *BARE, "-movie_timescale", "900",
                                          "-metadata:s:v", "handler_name=VideoHandle", "-metadata:s:v", "language=eng",
                                          "-metadata:s:a", "handler_name=SoundHandle", "-metadata:s:a", "language=eng"),
    "facebook-instagram-still": lambda f: f.jpeg("fb.jpg", iptc=_fbmd()),
    "instagram-named": lambda f: f.remux("ig.mp4", "-metadata", "comment=Shared from Instagram"),
    "facebook-named": lambda f: f.remux("fbv.mp4", "-metadata", "comment=Downloaded from Facebook"),
    "handbrake": lambda f: f.patched("hb.mp4", f.base, _rename_encoder),
    "adobe-xmp": lambda f: corpus_path("c2pa-waterfall/video1_no_manifest.mp4"),
    "adobe-exif": lambda f: f.jpeg("ps.jpg", software="Adobe Photoshop 25.0 (Windows)"),
    "mainconcept": lambda f: corpus_path("c2pa-waterfall/video1_no_manifest.mp4"),
    "apple-camera-video": lambda f: f.remux("iphone.mp4", *BARE, *APPLE_KEYS),
    "apple-camera-still": lambda f: corpus_path("androidx-stills/tokyo.jpg"),
    "apple-avfoundation": lambda f: corpus_path("androidx-sample/bt601.mov"),
    "samsung-camera": lambda f: corpus_path("office-plant/realshort.mp4"),
    "android-device": lambda f: f.remux("pixel.mp4", *BARE, "-movflags", "use_metadata_tags",
                                        "-metadata", "com.android.manufacturer=Google", "-metadata",
                                        "com.android.model=Pixel 7", "-metadata", "com.android.version=14",
                                        "-metadata:s:v", "handler_name=VideoHandle",
                                        "-metadata:s:a", "handler_name=SoundHandle"),
    "android-mediamuxer": lambda f: corpus_path("bed-dog-rotation/internal_emulator_transformer_output.mp4"),
    "chrome-mediarecorder": lambda f: corpus_path("webcam-wave/test.webm"),
    "dash-remux": lambda f: corpus_path("pancake-kitchen/flipping_a_pancake.mkv"),
    "ffmpeg": lambda f: f.base,
    "exif-software": lambda f: corpus_path("exif-samples/jpg/Canon_40D.jpg"),
    "x264": lambda f: f.base,
    "x265": lambda f: f.remux("hevc.mp4", "-c:v", "libx265", "-x265-params", "log-level=error", "-an"),
    "libavcodec": lambda f: f.base,
    "apple-videotoolbox": lambda f: corpus_path("androidx-sample/bt601.mov"),
    "mainconcept-avc": lambda f: corpus_path("c2pa-waterfall/video1_no_manifest.mp4"),
}
CONCLUSIONS = {  # the rules whose case must also be the conclusion (the rest may be listed beside it)
    "c2pa-signed", "youtube-remux", "youtube", "x-twitter", "tiktok", "capcut", "whatsapp", "telegram-android",
    "facebook-instagram-still", "instagram-named", "facebook-named", "handbrake", "adobe-xmp", "adobe-exif",
    "apple-camera-video", "apple-camera-still", "apple-avfoundation", "samsung-camera", "android-device",
    "android-mediamuxer", "chrome-mediarecorder", "dash-remux", "ffmpeg", "exif-software",
}


def test_every_rule_has_a_case() -> None:
    assert set(CASES) == {rule.id for rule in load_rules()}


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule(rule_id: str, files: Files) -> None:
    path = CASES[rule_id](files)
    writer = report(path).last_writer
    matched = {writer.rule} | {m.rule for m in writer.also} | {m.rule for m in writer.encoders}
    assert rule_id in matched, (writer.rule, writer.evidence, matched)
    if rule_id in CONCLUSIONS:
        assert writer.rule == rule_id and writer.evidence, (writer.writer, writer.evidence)


def test_named_writers_and_evidence(files: Files) -> None:
    w = report(files.base).last_writer
    assert w.writer.startswith("ffmpeg (libavformat 5") and any("encoder tag 'Lavf" in e for e in w.evidence)
    assert any(m.writer.startswith("x264 core ") for m in w.encoders)
    hevc = report(CASES["x265"](files)).last_writer
    assert any(m.rule == "x265" and m.writer.startswith("x265 3.") for m in hevc.encoders)
    iphone = report(CASES["apple-camera-video"](files)).last_writer
    assert iphone.writer == "Apple camera (iPhone 12, iOS 17.1)"
    tg = report(CASES["telegram-android"](files)).last_writer
    assert any("movie timescale (mvhd) '900'" in e for e in tg.evidence)


def test_unknown_is_said_plainly(files: Files) -> None:
    bare = files.remux("bare.mp4", *BARE)
    w = report(bare).last_writer
    assert (w.writer, w.rule, w.evidence) == ("unknown", None, ())
    assert w.statement.startswith("unknown")


def test_rule_file_is_validated(tmp_path: Path) -> None:
    good = {"rules": [{"id": "a", "writer": "A", "kind": "muxer", "require": [{"fact": "brand", "equals": "x"}]}]}
    assert parse_rules(good)[0].id == "a"
    def rule(kind: str = "muxer", **condition: str) -> dict:
        return {"rules": [{"id": "a", "writer": "A", "kind": kind, "require": [condition]}]}

    for bad in (rule(fact="nope", equals="x"), rule(fact="brand", matches="("), rule("odd", fact="brand", equals="x"),
                rule(fact="brand"), {"rules": [{"id": "a", "writer": "A", "kind": "muxer"}]}, {"rules": "x"}):
        with pytest.raises(RuleSetError):
            parse_rules(bad)


def test_a_rule_file_can_be_extended(tmp_path: Path, files: Files) -> None:
    from provenance.forensics.lastwriter import collect_facts

    extra = tmp_path / "rules.json"
    extra.write_text('{"rules": [{"id": "lab", "writer": "Our lab encoder {v}", "kind": "editor", "priority": 99,'
                     ' "require": [{"fact": "meta:©cmt", "matches": "^lab (?P<v>[0-9]+)$", "why": "our tag"}]}]}')
    tagged = files.remux("lab.mp4", "-metadata", "comment=lab 7")
    from provenance.forensics.lastwriter import load_rules as load

    w = last_writer(collect_facts(read_structure(tagged, gop=False)), load(extra) + load())
    assert w.writer == "Our lab encoder 7" and w.also[0].rule == "ffmpeg"


# -- edit indicators -------------------------------------------------------------------------------------------------


def _tkhd_time(data: bytearray, seconds: int) -> None:
    """Set the creation time of the first 'tkhd' (version 0) to ``seconds`` after 1904."""
    offset = data.find(b"tkhd") + 4
    struct.pack_into(">I", data, offset + 4, seconds)


def indicator(rep: SelfReport, code: str) -> Indicator:
    """The first indicator with ``code``."""
    return next(i for i in rep.indicators if i.code == code)


def test_creation_times_disagree(files: Files) -> None:
    stamped = files.remux("stamped.mp4", "-metadata", "creation_time=2024-03-01T12:00:00Z")
    patched = files.patched("tkhd.mp4", stamped, lambda d: _tkhd_time(d, 3_800_000_000))
    assert "creation-times-disagree" not in codes(report(stamped))
    found = indicator(report(patched), "creation-times-disagree")
    assert "track 1 tkhd creation" in found.detail and "mvhd creation 2024-03-01T12:00:00Z" in found.detail
    device = files.remux("device-date.mp4", *BARE, *APPLE_KEYS, "-metadata", "creation_time=2024-03-01T12:00:00Z")
    found = indicator(report(device), "creation-times-disagree")
    assert "com.apple.quicktime.creationdate" in found.detail and "3.0 h apart" in found.detail


def test_edit_list_that_trims(files: Files) -> None:
    cut = files.remux("cut.mp4", before=("-ss", "0.7"))
    found = indicator(report(cut), "edit-list-trims")
    assert "are skipped" in found.detail
    assert "edit-list-trims" not in codes(report(files.base))  # B-frame delay and AAC priming are not trims


def test_camera_claim_with_encoder_string(files: Files) -> None:
    forged = files.remux("forged.mp4", *APPLE_KEYS)  # an "iPhone" file that ffmpeg wrote
    rep = report(forged)
    assert rep.last_writer.rule == "ffmpeg"
    assert "Apple iPhone 12" in indicator(rep, "camera-claim-with-encoder").detail


def test_track_durations_differ(files: Files) -> None:
    out = files.folder / "short-audio.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-f", "lavfi", "-t", "0.5", "-i",
               "sine=frequency=440", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(out))
    assert "the tracks have different lengths" in {i.title for i in report(out).indicators}


def test_camera_metadata_missing_where_the_brand_implies_it(files: Files) -> None:
    phone = files.remux("plain.3gp", *BARE, "-f", "3gp")
    assert "3GPP brand" in indicator(report(phone), "camera-metadata-missing").title


def test_stream_copy_cut_without_keyframe(files: Files) -> None:
    cut = files.remux("nokey.mp4", "-ss", "0.5", "-copyinkf")
    rep = self_report(cut, probe(cut))
    assert "starts-without-keyframe" in codes(rep)


def test_damaged_structure(files: Files) -> None:
    data = files.base.read_bytes()
    half = files.folder / "half.mp4"
    half.write_bytes(data[: len(data) // 2])
    assert "structure-damaged" in codes(self_report(half, gop=False))


@pytest.mark.corpus
def test_indicators_on_real_files() -> None:
    assert codes(report(corpus_path("fire-dog-phone/fire2.mp4"))) == set()
    assert codes(report(corpus_path("bed-dog-rotation/internal_emulator_transformer_output.mp4"))) == set()
    empty = report(corpus_path("androidx-sample/sample_empty_track.mp4"))
    assert {"implausible-time", "track-durations-differ"} <= codes(empty)
    assert "2033-05-18T03:33:20Z" in indicator(empty, "implausible-time").detail
    assert "modified-after-creation" in codes(report(corpus_path("androidx-sample/sample_with_metadata.mp4")))
    assert "locations-disagree" in codes(report(corpus_path("androidx-sample/sample.mp4")))
    apple = report(corpus_path("androidx-sample/bt601.mov"))
    assert {"camera-metadata-missing", "several-writers"} <= codes(apple)
    assert "ffmpeg (libavformat 56.1.0)" in indicator(apple, "several-writers").detail
    assert "camera-claim-with-encoder" in codes(report(corpus_path("exif-samples/jpg/Canon_40D.jpg")))
    remuxed = report(corpus_path("bed-dog-rotation/internal_emulator_transformer_output_180_rotated.mp4"))
    assert "not ffmpeg's own" in indicator(remuxed, "several-writers").detail  # an ffmpeg remux of an Android file
    heic = report(corpus_path("exif-samples/heic/IMG_5195.HEIC"))
    assert heic.last_writer.writer == "Apple camera (iPhone 11 Pro Max, iOS 14.4.2)"
    assert heic.structure is not None and heic.structure.file_type.major_brand == "heic"


def test_box_walk_helpers_agree(files: Files) -> None:
    with BoxReader(str(files.base)) as reader:
        tree, problems = read_tree(reader)
    assert problems == () and sum(1 for b in iter_boxes(tree) if b.type == "trak") == 2
