"""The JSON codec: every Fingerprint survives to_jsonable → json → from_jsonable unchanged."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provenance.codec import (
    RecordFormatError,
    fingerprint_from_json,
    fingerprint_to_json,
    from_jsonable,
    to_jsonable,
)
from provenance.model import (
    LEGACY_HASH_ALGORITHMS,
    CheckReport,
    ContentBox,
    ExifInfo,
    FileIdentity,
    Fingerprint,
    FrameHash,
    HashAlgorithm,
    Location,
    Metadata,
    SamplingParams,
    Shot,
    Sighting,
    StreamInfo,
)
from provenance.report.json import check_record

floats = st.floats(allow_nan=False, allow_infinity=False)
opt_float = st.none() | floats
opt_int = st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
text = st.text(max_size=12)
opt_text = st.none() | text
tags = st.lists(st.tuples(text, text), max_size=3).map(tuple)
hexes = st.integers(min_value=0, max_value=2**256 - 1)

locations = st.builds(Location, latitude=floats, longitude=floats, altitude=opt_float, source=text, raw=text)
streams = st.builds(
    StreamInfo,
    index=st.integers(0, 20), kind=st.sampled_from(["video", "audio", "subtitle", "data"]), codec=opt_text,
    codec_long=opt_text, profile=opt_text, width=opt_int, height=opt_int, sample_aspect_ratio=opt_text,
    display_aspect_ratio=opt_text, avg_frame_rate=opt_float, real_frame_rate=opt_float, pix_fmt=opt_text,
    color_range=opt_text, color_space=opt_text, color_transfer=opt_text, color_primaries=opt_text,
    rotation=opt_float, duration=opt_float, bit_rate=opt_int, frame_count=opt_int, sample_rate=opt_int,
    channels=opt_int, handler_name=opt_text, language=opt_text, creation_time=opt_text, tags=tags,
)
exifs = st.builds(
    ExifInfo, datetime_original=opt_text, offset_time=opt_text, make=opt_text, model=opt_text,
    software=opt_text, orientation=st.none() | st.integers(1, 8), location=st.none() | locations, tags=tags,
)
metadatas = st.builds(
    Metadata,
    kind=st.sampled_from(["video", "still", "audio"]), format_name=opt_text, format_long_name=opt_text,
    major_brand=opt_text, compatible_brands=st.lists(text, max_size=3).map(tuple), duration=opt_float,
    bit_rate=opt_int, creation_time=opt_text, creation_time_note=opt_text, encoder=opt_text, make=opt_text,
    model=opt_text, software=opt_text, device_creation_date=opt_text, location=st.none() | locations,
    handler_names=st.lists(text, max_size=2).map(tuple), streams=st.lists(streams, max_size=2).map(tuple),
    tags=tags, exif=st.none() | exifs, raw_probe=text,
)
identities = st.builds(
    FileIdentity, path=text, name=text, size=st.integers(0, 2**62), sha256=hexes.map(lambda v: f"{v:064x}"),
    sha1=text, md5=text, modified=text, changed=text, accessed=text,
)
frame_hashes = st.builds(
    FrameHash, index=st.integers(0, 10**6), time=floats,
    phash=st.integers(0, 2**64 - 1).map(lambda v: f"{v:016x}"), pdq=hexes.map(lambda v: f"{v:064x}"),
    pdq_quality=st.integers(0, 100),
)
shots = st.builds(Shot, index=st.integers(0, 100), start=floats, end=floats, keyframe_time=floats,
                  keyframe_sample=st.integers(0, 1000))
hash_algorithms = st.builds(HashAlgorithm, name=text, bits=st.integers(1, 4096), version=st.integers(1, 99))
fingerprints = st.builds(
    Fingerprint,
    schema_version=st.integers(1, 3), tool_version=text, identity=identities, metadata=metadatas,
    params=st.builds(SamplingParams, fps=floats, work_size=st.integers(1, 512), phash_size=st.integers(1, 32),
                     pdq_size=st.integers(1, 128)),
    duration=floats, content_box=st.builds(ContentBox, floats, floats, floats, floats),
    frames=st.lists(frame_hashes, max_size=4).map(tuple), shots=st.lists(shots, max_size=3).map(tuple),
    warnings=st.lists(text, max_size=2).map(tuple),
    hash_algorithms=st.lists(hash_algorithms, max_size=3).map(tuple),
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(fingerprints)
def test_fingerprint_round_trips_through_json(fp: Fingerprint) -> None:
    assert from_jsonable(Fingerprint, json.loads(json.dumps(to_jsonable(fp)))) == fp


@SETTINGS
@given(fingerprints)
def test_canonical_text_round_trips_and_is_stable(fp: Fingerprint) -> None:
    text_form = fingerprint_to_json(fp)
    back = fingerprint_from_json(text_form)
    assert back == fp
    assert fingerprint_to_json(back) == text_form


@SETTINGS
@given(fingerprints, st.sampled_from(["plain.mp4", "caf\u00e9 \u0627.mp4", "bad \udcff name.mp4"]))
def test_canonical_text_is_json_dumps_of_the_record(fp: Fingerprint, name: str) -> None:
    """The record's text is made frame by frame (an archived hour holds 28,800 frames), and is exactly
    the canonical dump of the whole record: sorted keys, no spaces, non-ASCII kept unless a lone surrogate."""
    fp = dataclasses.replace(fp, identity=dataclasses.replace(fp.identity, name=name))
    data = to_jsonable(fp)
    whole = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if "\udcff" in name:
        whole = json.dumps(data, sort_keys=True, separators=(",", ":"))
    assert fingerprint_to_json(fp) == whole


@SETTINGS
@given(fingerprints)
def test_floats_keep_every_bit(fp: Fingerprint) -> None:
    back = fingerprint_from_json(fingerprint_to_json(fp))
    assert [f.time for f in back.frames] == [f.time for f in fp.frames]
    assert back.duration.hex() == float(fp.duration).hex()


def _fingerprint(kind: str = "video") -> Fingerprint:
    when = "2020-01-01T00:00:00Z"
    ident = FileIdentity(path="/m/a.mp4", name="a.mp4", size=10, sha256="ab" * 32, sha1="c" * 40,
                         md5="d" * 32, modified=when, changed=when, accessed=when)
    stream = StreamInfo(0, "video", "h264", None, None, 320, 240, None, None, 25.0, 25.0, "yuv420p", None,
                        None, None, None, None, 10.0, None, 250, None, None, None, None, None, (("k", "v"),))
    meta = Metadata(kind, "mov,mp4", None, "isom", ("isom", "avc1"), 10.0, 1000, None, None, None, None, None,
                    None, None, None, ("VideoHandler",), (stream,), (("major_brand", "isom"),), None, "{}")
    frame = FrameHash(0, 0.0, "0123456789abcdef", "f" * 64, 100)
    return Fingerprint(1, "0.1.0", ident, meta, SamplingParams(), 10.0, ContentBox(0.0, 0.0, 1.0, 1.0),
                       (frame,), (Shot(0, 0.0, 10.0, 0.0, 0),))


def test_canonical_form_sorts_keys_without_spaces() -> None:
    text_form = fingerprint_to_json(_fingerprint())
    data = json.loads(text_form)
    assert text_form == json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert list(data) == sorted(data)
    assert ", " not in text_form and '": ' not in text_form


def test_properties_are_not_written() -> None:
    data = to_jsonable(_fingerprint("still"))
    assert isinstance(data, dict)
    assert "is_still" not in data
    assert "video_stream" not in data["metadata"]
    assert "is_full" not in data["content_box"]
    assert data["metadata"]["tags"] == [["major_brand", "isom"]]


def test_integer_json_number_is_accepted_for_a_float_field() -> None:
    data = to_jsonable(_fingerprint())
    assert isinstance(data, dict)
    data["duration"] = 10
    back = from_jsonable(Fingerprint, data)
    assert isinstance(back.duration, float) and back.duration == 10.0


def test_missing_defaulted_field_takes_default_and_unknown_keys_are_ignored() -> None:
    data = to_jsonable(_fingerprint())
    assert isinstance(data, dict)
    del data["warnings"]
    data["added_by_a_newer_version"] = {"x": 1}
    assert from_jsonable(Fingerprint, data) == _fingerprint()


def test_record_names_its_hash_algorithms_and_an_old_record_takes_the_default() -> None:
    fp = _fingerprint()
    data = to_jsonable(fp)
    assert isinstance(data, dict)
    assert data["hash_algorithms"] == [{"name": "phash", "bits": 64, "version": 1},
                                       {"name": "pdq", "bits": 256, "version": 1}]
    newer = Fingerprint(**{**fp.__dict__, "hash_algorithms": (HashAlgorithm("pdq", 256, 2),)})
    assert fingerprint_from_json(fingerprint_to_json(newer)) == newer  # round-trips with its metadata
    del data["hash_algorithms"]  # as every version before the field wrote it
    old = from_jsonable(Fingerprint, data)
    assert old == fp and old.hash_algorithms == LEGACY_HASH_ALGORITHMS
    assert old.hash_algorithms == (HashAlgorithm("phash", 64, 1), HashAlgorithm("pdq", 256, 1))


def test_check_record_keys_are_kept_and_name_the_hash_algorithms() -> None:
    record = check_record(CheckReport(_fingerprint(), None, (), None, examined_at="2024-01-01T00:00:00Z"))
    assert list(record) == [
        "schema", "schema_version", "tool", "examined_at", "sha256", "file", "parameters", "metadata",
        "ffprobe", "duration", "content_box", "hash_algorithms", "frames", "shots", "soundtrack", "keyframes",
        "contact_sheet", "warnings", "archive", "matches", "earliest_appearance",
    ]
    assert record["schema_version"] == 2  # an added key is not a breaking change; sightings as objects were
    assert record["hash_algorithms"] == [{"name": "phash", "bits": 64, "version": 1},
                                         {"name": "pdq", "bits": 256, "version": 1}]
    parameters = record["parameters"]
    assert isinstance(parameters, dict)
    assert list(parameters) == ["fps", "work_size", "phash_size", "pdq_size", "keyframes_only", "hashes",
                                "match_radius_pdq_bits", "min_pdq_quality"]
    assert parameters["hashes"] == ["phash", "pdq"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("identity"), "missing field 'identity'"),
        (lambda d: d["frames"][0].__setitem__("phash", 5), "Fingerprint.frames[0].phash"),
        (lambda d: d["metadata"].__setitem__("duration", "long"), "Fingerprint.metadata.duration"),
        (lambda d: d["metadata"]["tags"].append(["a", "b", "c"]), "expected 2 items"),
        (lambda d: d.__setitem__("schema_version", True), "Fingerprint.schema_version"),
        (lambda d: d.__setitem__("frames", {}), "Fingerprint.frames: expected a list"),
        (lambda d: d["hash_algorithms"][0].__setitem__("bits", "64"), "Fingerprint.hash_algorithms[0].bits"),
    ],
)
def test_wrong_shapes_name_the_field(mutate, message: str) -> None:
    data = to_jsonable(_fingerprint())
    mutate(data)
    with pytest.raises(RecordFormatError, match=message.replace("[", r"\[").replace("]", r"\]")):
        from_jsonable(Fingerprint, data)


def test_bad_json_text_raises_record_format_error() -> None:
    with pytest.raises(RecordFormatError, match="not valid JSON"):
        fingerprint_from_json("{not json")


def test_optional_nested_dataclass_round_trips() -> None:
    sighting = Sighting(source_url="https://example.org/v/1", first_seen="2020-10-05")
    assert from_jsonable(Sighting, json.loads(json.dumps(to_jsonable(sighting)))) == sighting
    exif = ExifInfo(None, None, "Apple", None, None, 6, Location(1.5, -2.25, None, "EXIF GPS", "raw"))
    assert from_jsonable(ExifInfo, json.loads(json.dumps(to_jsonable(exif)))) == exif
