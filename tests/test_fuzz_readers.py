"""Hypothesis drives the readers of untrusted bytes: any input gives a result or one of the library's own errors.

Readers and what they may raise (anything else, such as ``RecursionError``, ``OverflowError``,
``struct.error``, ``IndexError`` or a bare ``OSError``, is a bug):

===========================================  ======================================================
``forensics.structure.boxes.read_tree``      ``StructureError`` (an ``UnreadableMediaError``)
``forensics.structure.read.read_structure``  ``ProvenanceError`` subclasses
``ingest.sidecar.read_ytdlp_sidecar``        nothing: an unusable sidecar is a warning
``codec.fingerprint_from_json``              ``codec.RecordFormatError`` (a ``ValueError``)
``codec.from_jsonable``                      ``codec.RecordFormatError``
``canonical.read_record``                    ``UsageError``, ``ReportIntegrityError``
===========================================  ======================================================

The box inputs are box trees built by a strategy (known container and table types, sizes that
lie: 0, 1 with a 64-bit size, less than the header, past the parent) and single-byte edits and
cuts of small MP4s made with ffmpeg's lavfi sources; the JSON inputs are edits of a real
fingerprint's record, yt-dlp-shaped objects, and text cut or nested without end. Runs are
derandomised (the same examples every run, no example database written) so CI is stable.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_ffmpeg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provenance.canonical import read_record
from provenance.codec import RecordFormatError, fingerprint_from_json, from_jsonable, to_jsonable
from provenance.errors import ProvenanceError, ReportIntegrityError, UsageError
from provenance.forensics.structure.boxes import MAX_BOXES, BoxReader, StructureError, iter_boxes, read_tree
from provenance.forensics.structure.model import BoxStructure
from provenance.forensics.structure.read import read_structure
from provenance.ingest.sidecar import SidecarResult, read_ytdlp_sidecar, sighting_from_info
from provenance.model import Fingerprint, Sighting

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """A folder for the files the readers are given (Hypothesis reuses it across examples)."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        yield Path(folder)


@pytest.fixture(scope="module")
def mp4s(scratch: Path) -> dict[str, bytes]:
    """Small MP4s as ffmpeg writes them: moov last, moov first, fragmented; H.264 and AAC."""
    args = ["-f", "lavfi", "-i", "testsrc2=size=32x24:rate=5", "-f", "lavfi", "-i", "sine=sample_rate=8000",
            "-t", "0.6", "-c:v", "libx264", "-preset", "ultrafast", "-g", "2", "-c:a", "aac", "-shortest"]
    found = {}
    for name, extra in (("plain", []), ("faststart", ["-movflags", "+faststart"]),
                        ("fragmented", ["-movflags", "frag_keyframe+empty_moov"])):
        path = scratch / f"{name}.mp4"
        run_ffmpeg(*args, *extra, str(path))
        found[name] = path.read_bytes()
    return found


# ---------------------------------------------------------------------------------------------- boxes

BOX_TYPES = [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd", b"avc1", b"hvc1", b"mp4a", b"udta", b"meta",
             b"ilst", b"keys", b"hdlr", b"tkhd", b"mdhd", b"mvhd", b"elst", b"edts", b"stts", b"stsz", b"stco",
             b"co64", b"stsc", b"stss", b"ctts", b"avcC", b"hvcC", b"uuid", b"moof", b"traf", b"tfhd", b"trun",
             b"mvex", b"ftyp", b"mdat", b"free", b"iinf", b"iref", b"ipro", b"wave", b"\xa9too", b"\xa9xyz",
             b"loci", b"titl", b"XMP_", b"xml ", b"data", b"----", b"name", b"mean", b"\0\0\0\1", b"dref",
             b"sinf", b"srpp"]
box_types = st.sampled_from(BOX_TYPES) | st.binary(min_size=4, max_size=4)
# how the size field tells the truth or lies
SIZE_MODES = ("true", "true", "true", "zero", "large", "large-huge", "short", "over", "huge")


def encode_box(kind: bytes, payload: bytes, mode: str, extra: int) -> bytes:
    """A box of ``kind`` around ``payload``, its size written as ``mode`` says."""
    true = 8 + len(payload)
    if mode == "zero":
        return struct.pack(">I", 0) + kind + payload
    if mode == "large":
        return struct.pack(">I4sQ", 1, kind, true + 8) + payload
    if mode == "large-huge":
        return struct.pack(">I4sQ", 1, kind, (1 << 64) - 1 - extra) + payload
    if mode == "short":
        return struct.pack(">I", extra % 8) + kind + payload
    if mode == "over":
        return struct.pack(">I", true + 1 + extra % 4096) + kind + payload
    if mode == "huge":
        return struct.pack(">I", 0xFFFFFFFF - extra % 16) + kind + payload
    return struct.pack(">I", true) + kind + payload


def leaf_box() -> st.SearchStrategy[bytes]:
    """A box without children: a type, a payload of a few fields, a size that may lie."""
    payload = st.binary(max_size=96) | st.lists(st.sampled_from([0, 1, 2, 0xFF, 0xFFFF, 0xFFFFFFFF, 1 << 31]),
                                                 max_size=12).map(lambda v: b"".join(struct.pack(">I", x) for x in v))
    return st.builds(encode_box, box_types, payload, st.sampled_from(SIZE_MODES), st.integers(0, 1 << 16))


def box_tree() -> st.SearchStrategy[bytes]:
    """Boxes nested in boxes, each container with a short preamble (stsd counts, sample-entry headers)."""
    def container(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
        return st.builds(lambda kind, pre, kids, mode, extra: encode_box(kind, pre + b"".join(kids), mode, extra),
                         box_types, st.binary(max_size=80), st.lists(children, max_size=4),
                         st.sampled_from(SIZE_MODES), st.integers(0, 1 << 16))
    return st.recursive(leaf_box(), container, max_leaves=24)


FTYP = struct.pack(">I4s4sI4s", 20, b"ftyp", b"isom", 0x200, b"isom")


@st.composite
def box_files(draw: st.DrawFn) -> bytes:
    """A file of boxes: often opened by a real 'ftyp', then a list of box trees, sometimes cut."""
    head = draw(st.sampled_from([FTYP, FTYP, b""]))
    data = head + b"".join(draw(st.lists(box_tree(), min_size=1, max_size=4)))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


@st.composite
def edited_mp4s(draw: st.DrawFn, samples: dict[str, bytes]) -> bytes:
    """One of the ffmpeg MP4s with a few bytes overwritten (sizes, counts, offsets) and perhaps cut."""
    data = bytearray(samples[draw(st.sampled_from(sorted(samples)))])
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data) - 1))
        value = draw(st.sampled_from([b"\0\0\0\0", b"\0\0\0\1", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff",
                                      b"\0\0\0\x07", b"\0\0\0\x08"]) | st.binary(min_size=1, max_size=4))
        data[at: at + len(value)] = value
    if draw(st.booleans()):
        del data[draw(st.integers(1, len(data))):]
    return bytes(data)


def write(folder: Path, name: str, data: bytes) -> Path:
    """``data`` as the file ``folder/name`` (replaced each example)."""
    path = folder / name
    path.write_bytes(data)
    return path


def check_tree(path: Path) -> None:
    """``read_tree`` and ``iter_boxes`` on ``path``: a bounded tree inside the file, or ``StructureError``."""
    try:
        with BoxReader(str(path)) as reader:
            tree, problems = read_tree(reader)
            size = reader.size
    except StructureError:
        return
    boxes = list(iter_boxes(tree))
    assert len(boxes) <= MAX_BOXES + 1
    assert all(isinstance(p, str) and p for p in problems)
    for b in boxes:
        assert 0 <= b.offset < size and b.header_size >= 8 and b.size >= b.header_size
        for child in b.children:
            assert b.payload_offset <= child.offset < min(b.end, size)


def check_structure(path: Path) -> None:
    """``read_structure`` without the ffprobe scan: a ``BoxStructure`` or a ``ProvenanceError``."""
    try:
        found = read_structure(path, gop=False)
    except ProvenanceError:
        return
    assert isinstance(found, BoxStructure)
    json.dumps(to_jsonable(found))  # what a report will print: every field is plain JSON


@FUZZ
@given(data=box_files())
def test_box_trees_with_lying_sizes(scratch: Path, data: bytes) -> None:
    path = write(scratch, "tree.mp4", data)
    check_tree(path)
    check_structure(path)


@settings(FUZZ, max_examples=250)
@given(data=st.data())
def test_edited_ffmpeg_mp4s(scratch: Path, mp4s: dict[str, bytes], data: st.DataObject) -> None:
    path = write(scratch, "edited.mp4", data.draw(edited_mp4s(mp4s)))
    check_tree(path)
    check_structure(path)


@settings(FUZZ, max_examples=60)
@given(data=st.binary(max_size=64))
def test_arbitrary_bytes_as_a_box_file(scratch: Path, data: bytes) -> None:
    path = write(scratch, "bytes.mp4", data)
    check_tree(path)
    check_structure(path)


@settings(FUZZ, max_examples=15)
@given(data=st.data())
def test_read_structure_with_the_ffprobe_scan(scratch: Path, mp4s: dict[str, bytes], data: st.DataObject) -> None:
    """A few examples through the GOP scan too (each runs ffprobe)."""
    path = write(scratch, "gop.mp4", data.draw(edited_mp4s(mp4s)))
    with contextlib.suppress(ProvenanceError):
        read_structure(path)


def test_box_parser_bounds_hold_for_the_known_traps(scratch: Path) -> None:
    """Pinned cases: 64-bit sizes beyond any file, deep nesting, a box count past the limit."""
    for name, data in (
        ("huge64.mp4", FTYP + struct.pack(">I4sQ", 1, b"moov", (1 << 64) - 1) + bytes(40)),
        ("deep.mp4", FTYP + b"".join(struct.pack(">I4s", 0xFFFFFFFF - 8 * i, b"moov") for i in range(3000))),
        ("many.mp4", FTYP + struct.pack(">I4s", 8, b"free") * (MAX_BOXES + 10)),
    ):
        path = write(scratch, name, data)
        check_tree(path)
        check_structure(path)


# ---------------------------------------------------------------------------------------------- JSON

json_scalars = (st.none() | st.booleans() | st.integers() | st.integers(-(10 ** 400), 10 ** 400)
                | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20)
                | st.sampled_from(["\ud800", "\udfff x", "\0", "20201005", "99999999", "video", "playlist"]))
json_values = st.recursive(json_scalars, lambda kids: st.lists(kids, max_size=4)
                           | st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=20)

YTDLP_KEYS = ["id", "webpage_url", "original_url", "extractor_key", "extractor", "uploader", "channel",
              "uploader_id", "timestamp", "upload_date", "title", "fulltitle", "_type"]


def dumps(value: object, ascii_only: bool = True) -> str:
    """JSON text of ``value`` as Python writes it (NaN and Infinity included, as other tools also write)."""
    return json.dumps(value, allow_nan=True, ensure_ascii=ascii_only)


@st.composite
def jsonish(draw: st.DrawFn, objects: st.SearchStrategy[object]) -> bytes:
    """Bytes that are JSON, nearly JSON, or not at all: an object's text, cut, spliced, nested, or raw bytes."""
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return draw(st.binary(max_size=200))
    if choice == 1:
        depth = draw(st.integers(1, 200_000))
        return (draw(st.sampled_from(["[", '{"id":', '{"a":['])) * depth).encode()
    text = dumps(draw(objects), draw(st.booleans())).encode("utf-8", "surrogatepass")
    if choice == 2:
        return text[: draw(st.integers(0, len(text)))]
    if choice == 3 and text:
        at = draw(st.integers(0, len(text) - 1))
        return text[:at] + draw(st.binary(min_size=1, max_size=6)) + text[at + 1:]
    return text


ytdlp_objects = st.dictionaries(st.sampled_from(YTDLP_KEYS) | st.text(max_size=6), json_values, max_size=10)


def assert_valid_text(sighting: Sighting) -> None:
    """Every text field of the sighting can be stored (UTF-8, as SQLite and JSON reports need)."""
    for value in vars(sighting).values():
        if isinstance(value, str):
            value.encode("utf-8")


@settings(FUZZ, max_examples=300)
@given(raw=jsonish(ytdlp_objects | json_values))
def test_ytdlp_sidecar_never_raises(scratch: Path, raw: bytes) -> None:
    media = write(scratch, "clip.mp4", b"\0\0\0\x18ftypisom")
    write(scratch, "clip.info.json", raw)
    result = read_ytdlp_sidecar(media)
    assert isinstance(result, SidecarResult)
    assert (result.sighting is None) == (result.warning is not None or result.path is None)
    if result.sighting is not None:
        assert_valid_text(result.sighting)


@settings(FUZZ, max_examples=300)
@given(info=ytdlp_objects)
def test_sighting_from_any_ytdlp_shaped_object(info: dict[str, object]) -> None:
    sighting = sighting_from_info(info)
    assert sighting is None or isinstance(sighting, Sighting)
    if sighting is not None:
        assert_valid_text(sighting)


SIDECAR_TRAPS = {
    "nested": b'{"id": ' + b"[" * 100_000,
    "surrogate": b'{"id": "x", "webpage_url": "https://e.org/x", "title": "\\ud800 cut"}',
    "huge-timestamp": json.dumps({"id": "t", "timestamp": 10 ** 400}).encode(),
}


@pytest.mark.parametrize("trap", sorted(SIDECAR_TRAPS))
def test_sidecar_pinned_traps(tmp_path: Path, trap: str) -> None:
    """Each gave RecursionError, UnicodeEncodeError (at the SQLite insert) or OverflowError before the fix."""
    media = write(tmp_path, "a.mp4", b"x")
    write(tmp_path, "a.info.json", SIDECAR_TRAPS[trap])
    result = read_ytdlp_sidecar(media)
    if trap == "nested":
        assert result.sighting is None and result.warning is not None and "nested too deeply" in result.warning
    elif trap == "surrogate":
        assert result.sighting is not None and result.sighting.title == "\ufffd cut"
        assert_valid_text(result.sighting)
    else:
        assert result.sighting == Sighting(video_id="t", recorded_from="yt-dlp info.json")


def test_sidecar_name_too_long_for_the_file_system(tmp_path: Path) -> None:
    """NAME.info.json of a 254-character media name is longer than a name may be: OSError before the fix."""
    assert read_ytdlp_sidecar(write(tmp_path, "L" * 250 + ".mp4", b"x")) == SidecarResult(None)


def test_sidecar_that_is_a_fifo_is_not_opened(tmp_path: Path) -> None:
    """Nothing writes to the FIFO, so opening it for reading would block (a regression guard)."""
    os.mkfifo(tmp_path / "a.info.json")
    assert read_ytdlp_sidecar(write(tmp_path, "a.mp4", b"x")) == SidecarResult(None)


@pytest.fixture(scope="module")
def fingerprint_record(scratch: Path) -> object:
    """The JSON values of a real fingerprint (of a 1 s lavfi clip with audio)."""
    from provenance import fingerprint

    path = scratch / "fp.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10", "-f", "lavfi", "-i", "sine=sample_rate=8000",
               "-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(path))
    return to_jsonable(fingerprint(str(path)))


DELETE = object()


def edit(record: object, route: list[int], replacement: object) -> object:
    """A deep copy of ``record`` with the node reached by ``route`` replaced (or deleted with ``DELETE``)."""
    copy = json.loads(json.dumps(record))
    parent, key = None, None
    node = copy
    for step in route:
        if isinstance(node, dict) and node:
            parent, key = node, sorted(node)[step % len(node)]
        elif isinstance(node, list) and node:
            parent, key = node, step % len(node)
        else:
            break
        node = parent[key]
    if parent is None:
        return replacement if replacement is not DELETE else {}
    if replacement is DELETE:
        del parent[key]
    else:
        parent[key] = replacement
    return copy


@st.composite
def edited_records(draw: st.DrawFn, record: object) -> object:
    """The fingerprint record with a few nodes replaced by other JSON values or deleted."""
    for _ in range(draw(st.integers(1, 4))):
        route = draw(st.lists(st.integers(0, 1000), min_size=1, max_size=5))
        record = edit(record, route, draw(json_values | st.just(DELETE)))
    return record


def decode_or_format_error(text: str | bytes) -> None:
    """``fingerprint_from_json``: a Fingerprint or ``RecordFormatError``, nothing else."""
    with contextlib.suppress(RecordFormatError):
        assert isinstance(fingerprint_from_json(text), Fingerprint)


def test_the_unedited_record_reads_back(fingerprint_record: object) -> None:
    assert isinstance(fingerprint_from_json(json.dumps(fingerprint_record)), Fingerprint)


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_edited_fingerprint_records(fingerprint_record: object, data: st.DataObject) -> None:
    record = data.draw(edited_records(fingerprint_record))
    with contextlib.suppress(RecordFormatError):
        assert isinstance(from_jsonable(Fingerprint, record), Fingerprint)
    decode_or_format_error(dumps(record))


@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_fingerprint_json_text_cut_spliced_or_nested(fingerprint_record: object, data: st.DataObject) -> None:
    raw = data.draw(jsonish(st.just(fingerprint_record) | json_values))
    decode_or_format_error(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return
    decode_or_format_error(text)


@settings(FUZZ, max_examples=100)
@given(value=json_values)
def test_from_jsonable_of_any_json_value(value: object) -> None:
    for cls in (Fingerprint, Sighting):
        with contextlib.suppress(RecordFormatError):
            from_jsonable(cls, value)


def test_fingerprint_json_nested_without_end() -> None:
    """RecursionError before the fix."""
    with pytest.raises(RecordFormatError, match="nested too deeply"):
        fingerprint_from_json("[" * 100_000)


def test_integer_too_large_for_a_float_field() -> None:
    """OverflowError before the fix (JSON integers have no size limit; a float field cannot hold 10^400)."""
    with pytest.raises(RecordFormatError, match="too large"):
        from_jsonable(float, 10 ** 400)


@settings(FUZZ, max_examples=250)
@given(raw=jsonish(json_values | ytdlp_objects))
def test_read_record_of_any_bytes(scratch: Path, raw: bytes) -> None:
    path = write(scratch, "report.json", raw)
    with contextlib.suppress(UsageError, ReportIntegrityError):
        assert isinstance(read_record(path), dict)


def test_read_record_pinned_traps(tmp_path: Path) -> None:
    """Nested without end gave RecursionError before the fix; a folder is a usage error."""
    with pytest.raises(ReportIntegrityError, match="nested too deeply"):
        read_record(write(tmp_path, "deep.json", b'{"a":' * 100_000))
    with pytest.raises(UsageError):
        read_record(tmp_path)
