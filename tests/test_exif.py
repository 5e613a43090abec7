"""EXIF of stills (exifread) and the two location parsers: ISO 6709 text and EXIF GPS rationals."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from conftest import corpus_path, run_ffmpeg
from hypothesis import given
from hypothesis import strategies as st

from provenance.media.exif import MAX_VALUE_CHARS, exif_datetime, read_exif
from provenance.media.location import location_from_exif_gps, parse_iso6709

# --- EXIF on the shared corpus -------------------------------------------------------------------


@pytest.mark.corpus
def test_nikon_gps_decimal_degrees() -> None:
    exif = read_exif(str(corpus_path("exif-samples/jpg/gps/DSCN0010.jpg")))
    assert exif is not None
    assert (exif.make, exif.model) == ("NIKON", "COOLPIX P6000")
    assert exif.datetime_original == "2008:10:22 16:28:39"
    assert exif.location is not None
    # N [43, 28, 1407/500], E [11, 53, 645599999/100000000]: Tuscany
    assert exif.location.latitude == pytest.approx(43 + 28 / 60 + 2.814 / 3600, abs=1e-9)
    assert exif.location.longitude == pytest.approx(11 + 53 / 60 + 6.45599999 / 3600, abs=1e-9)
    assert exif.location.latitude == pytest.approx(43.467448, abs=1e-6)
    assert exif.location.longitude == pytest.approx(11.885127, abs=1e-6)
    assert exif.location.source == "EXIF GPS"
    assert exif.location.raw.startswith("N [43, 28, 1407/500] E [11, 53,")


@pytest.mark.corpus
@pytest.mark.parametrize("shape", ["landscape", "portrait"])
def test_orientation_values(shape: str) -> None:
    found = []
    for value in range(1, 9):
        exif = read_exif(str(corpus_path(f"exif-samples/jpg/orientation/{shape}_{value}.jpg")))
        assert exif is not None
        found.append(exif.orientation)
    assert found == [1, 2, 3, 4, 5, 6, 7, 8]


@pytest.mark.corpus
def test_iphone_6s_tokyo() -> None:
    exif = read_exif(str(corpus_path("androidx-stills/tokyo.jpg")))
    assert exif is not None
    assert (exif.make, exif.model, exif.software) == ("Apple", "iPhone 6s", "11.2.5")
    assert exif.datetime_original == "2018:02:17 16:39:33"
    assert exif.orientation == 1
    loc = exif.location
    assert loc is not None
    assert loc.latitude == pytest.approx(35 + 39 / 60 + 26.03 / 3600, abs=1e-9)  # 35.657231 N
    assert loc.longitude == pytest.approx(139 + 44 / 60 + 58.74 / 3600, abs=1e-9)  # 139.749650 E
    # Tokyo Tower (35.6586 N, 139.7454 E) is about 400 m away.
    assert abs(loc.latitude - 35.6586) < 0.01 and abs(loc.longitude - 139.7454) < 0.01
    # GPSAltitudeRef 1 (below sea level) with 659/153 m: recorded as written, i.e. negative.
    assert loc.altitude == pytest.approx(-659 / 153)


@pytest.mark.corpus
def test_heic_iphone_11() -> None:
    exif = read_exif(str(corpus_path("exif-samples/heic/IMG_5195.HEIC")))
    assert exif is not None
    assert (exif.make, exif.model, exif.software) == ("Apple", "iPhone 11 Pro Max", "14.4.2")
    assert exif.datetime_original == "2021:04:11 15:47:53"
    assert exif.offset_time == "-05:00"
    loc = exif.location
    assert loc is not None
    assert loc.latitude == pytest.approx(39 + 3 / 60 + 4.84 / 3600, abs=1e-9)  # 39.051344 N
    assert loc.longitude == pytest.approx(-(94 + 17 / 60 + 19.58 / 3600), abs=1e-9)  # 94.288772 W
    assert loc.altitude == pytest.approx(244927 / 940)


@pytest.mark.corpus
def test_canon_40d() -> None:
    exif = read_exif(str(corpus_path("exif-samples/jpg/Canon_40D.jpg")))
    assert exif is not None
    assert (exif.make, exif.model) == ("Canon", "Canon EOS 40D")
    assert exif.datetime_original == "2008:05:30 15:56:01"
    assert exif.software == "GIMP 2.4.5"
    assert exif.orientation == 1
    assert exif.location is None  # only GPSVersionID, no position
    names = dict(exif.tags)
    assert names["EXIF DateTimeOriginal"] == "2008:05:30 15:56:01"
    assert "JPEGThumbnail" not in names
    assert not any("MakerNote" in name for name in names)


@pytest.mark.corpus
def test_long_values_are_cut() -> None:
    exif = read_exif(str(corpus_path("exif-samples/jpg/long_description.jpg")))
    assert exif is not None
    description = dict(exif.tags)["Image ImageDescription"]
    assert len(description) == MAX_VALUE_CHARS
    assert description.endswith("…")
    assert all(len(value) <= MAX_VALUE_CHARS for _, value in exif.tags)


@pytest.mark.corpus
def test_corpus_png_without_exif() -> None:
    assert read_exif(str(corpus_path("threatexchange-pdq/misc-images/c.png"))) is None


# --- EXIF on generated and odd files -------------------------------------------------------------


def test_generated_png_and_jpeg_have_no_exif(media_dir: Path, still_jpeg: Path) -> None:
    png = media_dir / "exif-none.png"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x48:rate=1", "-frames:v", "1", str(png))
    assert read_exif(str(png)) is None
    assert read_exif(str(still_jpeg)) is None


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"plain text, not an image\n",
        b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00MM\x00\x2a\xff\xff\xff\xff",  # EXIF pointing nowhere
        b"\xff\xd8\xff\xe1\xff\xffExif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff" + b"\x00" * 40,
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\xff" * 64,  # HEIC brand, junk boxes
        bytes(range(256)) * 8,
    ],
)
def test_odd_files_never_raise(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "odd.jpg"
    path.write_bytes(content)
    assert read_exif(str(path)) is None


def test_missing_file_is_none(tmp_path: Path) -> None:
    assert read_exif(str(tmp_path / "absent.jpg")) is None


def test_exif_datetime_blank_and_zero() -> None:
    assert exif_datetime("2008:05:30 15:56:01") == "2008:05:30 15:56:01"
    assert exif_datetime("0000:00:00 00:00:00") is None
    assert exif_datetime("    :  :     :  :  ") is None
    assert exif_datetime(None) is None


# --- ISO 6709 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lat", "lon", "alt"),
    [
        ("+48.3896+011.0470/", 48.3896, 11.0470, None),
        ("+27.1281-082.4536+003.000/", 27.1281, -82.4536, 3.0),
        ("+4823.376+01102.820/", 48 + 23.376 / 60, 11 + 2.82 / 60, None),  # DDMM.mm
        ("+482322.56+0110249.2/", 48 + 23 / 60 + 22.56 / 3600, 11 + 2 / 60 + 49.2 / 3600, None),  # DDMMSS.ss
        ("+40.6892-074.0445+10.000/", 40.6892, -74.0445, 10.0),
        ("+40.6800-74.4999/", 40.68, -74.4999, None),  # Android writes 2-digit longitudes
        ("+4823.3760+1102.8199/", 48 + 23.376 / 60, 11 + 2.8199 / 60, None),  # ffmpeg's rewrite of DDMM
        ("-33.8688+151.2093-012.5CRSWGS_84/", -33.8688, 151.2093, -12.5),
        ("+48+011/", 48.0, 11.0, None),
        (" +54.1843-002.7189/ ", 54.1843, -2.7189, None),
    ],
)
def test_parse_iso6709(text: str, lat: float, lon: float, alt: float | None) -> None:
    loc = parse_iso6709(text, source="location")
    assert loc is not None
    assert loc.latitude == pytest.approx(lat, abs=1e-9)
    assert loc.longitude == pytest.approx(lon, abs=1e-9)
    assert loc.altitude == (pytest.approx(alt) if alt is not None else None)
    assert loc.source == "location"
    assert loc.raw == text


def test_dm_form_equals_decimal_form() -> None:
    decimal = parse_iso6709("+48.3896+011.0470/")
    minutes = parse_iso6709("+4823.376+01102.820/")
    assert decimal is not None and minutes is not None
    assert minutes.latitude == pytest.approx(decimal.latitude, abs=1e-9)
    assert minutes.longitude == pytest.approx(decimal.longitude, abs=1e-9)


@pytest.mark.parametrize(
    "text",
    [None, "", "hello", "48.3896,11.0470", "+91.0000+000.0000/", "+00.0000+181.0000/",
     "+4860.000+01102.820/", "+482360+0110200/", "+123.4+011.0/", "+004.3896+011.0/", "+48.3896/",
     "+48.3896+01107000.0/"],
)
def test_parse_iso6709_rejects(text: str | None) -> None:
    assert parse_iso6709(text) is None


@given(
    lat=st.floats(min_value=-90, max_value=90, allow_nan=False),
    lon=st.floats(min_value=-180, max_value=180, allow_nan=False),
    alt=st.one_of(st.none(), st.floats(min_value=-500, max_value=9000, allow_nan=False)),
    places=st.integers(min_value=1, max_value=7),
)
def test_iso6709_round_trip(lat: float, lon: float, alt: float | None, places: int) -> None:
    width_lat, width_lon = 3 + places + 1, 4 + places + 1  # sign, 2 or 3 digits, point, decimals
    text = f"{lat:+0{width_lat}.{places}f}{lon:+0{width_lon}.{places}f}"
    if alt is not None:
        text += f"{alt:+.3f}"
    text += "/"
    loc = parse_iso6709(text)
    assert loc is not None, text
    tolerance = 0.5 * 10**-places + 1e-12
    assert abs(loc.latitude - lat) <= tolerance
    assert abs(loc.longitude - lon) <= tolerance
    if alt is None:
        assert loc.altitude is None
    else:
        assert loc.altitude is not None and abs(loc.altitude - alt) <= 0.0005 + 1e-9


# --- EXIF GPS rationals --------------------------------------------------------------------------------


def test_exif_gps_hemispheres() -> None:
    dms = [Fraction(10), Fraction(30), Fraction(36)]  # 10.51 degrees
    north_east = location_from_exif_gps(dms, "N", dms, "E")
    south_west = location_from_exif_gps(dms, "S", dms, "W", [Fraction(5)], [1])
    assert north_east is not None and south_west is not None
    assert (north_east.latitude, north_east.longitude) == pytest.approx((10.51, 10.51))
    assert (south_west.latitude, south_west.longitude) == pytest.approx((-10.51, -10.51))
    assert north_east.altitude is None
    assert south_west.altitude == -5.0
    assert north_east.source == "EXIF GPS"


def test_exif_gps_unusable() -> None:
    good = [Fraction(10), Fraction(0), Fraction(0)]
    assert location_from_exif_gps(good, "", good, "E") is None  # hemisphere unknown: no guess
    assert location_from_exif_gps(None, "N", good, "E") is None
    assert location_from_exif_gps([95, 0, 0], "N", good, "E") is None

    class ZeroOverZero:  # how exifread holds a 0/0 rational ("no fix")
        def __float__(self) -> float:
            raise ZeroDivisionError

    assert location_from_exif_gps([ZeroOverZero(), 0, 0], "N", good, "E") is None
