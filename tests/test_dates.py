"""Dates as intervals: every form accepted and refused, "older than claimed" on real media, old archives migrated."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import lavfi_clips

from provenance.archive import migrations
from provenance.archive.store import ArchiveStore
from provenance.checking import check
from provenance.codec import to_jsonable
from provenance.dates import ACCEPTED_FORMS, DateError, describe, order, parse_date, read_recorded
from provenance.ingest.sidecar import sighting_from_info
from provenance.match.appearance import earliest_appearance, sighting_date, sighting_when
from provenance.model import DateInterval, Metadata, Sighting
from provenance.triage.journal import Journal
from provenance.triage.results import ContentResult

X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
CREATED = "2023-06-01T12:00:00Z"  # the creation_time written into the dated clip


def run(*args: str):
    """Invoke the CLI in-process."""
    from provenance.cli.app import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def plain(media_dir: Path) -> Path:
    """6 s of lavfi ``mandelbrot`` (320x240, H.264), with no creation time."""
    return lavfi_clips(media_dir, "dates_", {"plain": "mandelbrot=size=320x240:rate=25"}, 6, X264)["plain"]


@pytest.fixture(scope="module")
def dated(media_dir: Path) -> Path:
    """6 s of a zoomed-in lavfi ``mandelbrot``, with ``creation_time`` 2023-06-01T12:00:00Z in the container."""
    spec = {"created": "mandelbrot=size=320x240:rate=25:start_x=-1.25066:start_y=0.02012:start_scale=0.2"}
    return lavfi_clips(media_dir, "dates_", spec, 6, [*X264, "-metadata", f"creation_time={CREATED}"])["created"]


def archive_of(folder: Path, clip: Path, *first_seen: str) -> str:
    """An archive holding ``clip``, with one sighting per ``first_seen`` date, added through the CLI."""
    path = str(folder / "archive.sqlite")
    for when in first_seen:
        result = run("archive", "add", "--archive", path, "--platform", "telegram", "--first-seen", when, str(clip))
        assert result.exit_code == 0, result.stderr
    return path


def check_json(*args: str) -> dict:
    """``provenance check ... --json`` as the record it prints."""
    result = run("check", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# -- the forms -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "start", "end", "precision", "zone_known"), [
    ("2024", "2024-01-01T00:00:00Z", "2024-12-31T23:59:59Z", "year", False),
    ("2024-02", "2024-02-01T00:00:00Z", "2024-02-29T23:59:59Z", "month", False),
    ("2024-03", "2024-03-01T00:00:00Z", "2024-03-31T23:59:59Z", "month", False),
    ("2024-03-01", "2024-03-01T00:00:00Z", "2024-03-01T23:59:59Z", "day", False),
    ("2024-03-01T10:00", "2024-03-01T10:00:00Z", "2024-03-01T10:00:59Z", "minute", False),  # local, zone unknown
    ("2024-03-01 10:00:30", "2024-03-01T10:00:30Z", "2024-03-01T10:00:30Z", "second", False),
    ("2024-03-01T10:00Z", "2024-03-01T10:00:00Z", "2024-03-01T10:00:59Z", "minute", True),
    ("2024-03-01T10:00:00+01:00", "2024-03-01T09:00:00Z", "2024-03-01T09:00:00Z", "second", True),
    ("2024-03-01T10:00:00.250-05:30", "2024-03-01T15:30:00Z", "2024-03-01T15:30:00Z", "second", True),
    ("2024-03-01T10:00+0100", "2024-03-01T09:00:00Z", "2024-03-01T09:00:59Z", "minute", True),
    ("2024-03-01T00:30+01", "2024-02-29T23:30:00Z", "2024-02-29T23:30:59Z", "minute", True),
])
def test_every_accepted_form_is_its_interval(text: str, start: str, end: str, precision: str,
                                              zone_known: bool) -> None:
    assert parse_date(text) == DateInterval(text, start, end, precision, zone_known)
    assert read_recorded(text) == parse_date(text)  # what is accepted is read back from a record alike


def test_the_interval_is_said_plainly() -> None:
    assert describe(parse_date("2024")) == "2024 (2024-01-01..2024-12-31)"
    assert describe(parse_date("2024-03-01")) == "2024-03-01"
    assert describe(parse_date("2024-03-01T10:00")) == "2024-03-01T10:00 (local time, zone unknown)"
    assert describe(parse_date("2024-03-01T10:00+01:00")) == "2024-03-01T10:00+01:00 (2024-03-01T09:00Z)"


@pytest.mark.parametrize(("text", "reason"), [
    ("03/2019", "is ambiguous"),
    ("14/06/2022", "is ambiguous"),
    ("06.14.2022", "is ambiguous"),
    ("2024-13-45", "is not a real date (month must be in 1..12)"),
    ("2023-02-29", "is not a real date (day is out of range for month)"),
    ("2024-03-01T24:00", "is not a real date (hour must be in 0..23)"),
    ("2024-03-01T10:00+15:70", "has no real zone offset"),
    ("24 Feb 2024", "is not a date in a form this tool reads"),
    ("", "is not a date in a form this tool reads"),
])
def test_refused_forms_say_why_and_name_the_accepted_ones(text: str, reason: str) -> None:
    with pytest.raises(DateError) as refused:
        parse_date(text)
    assert refused.value.reason.startswith(reason) and refused.value.exit_code == 2
    assert str(refused.value) == f"{text!r} {refused.value.reason}: give the date as {ACCEPTED_FORMS}"
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("text", ["03/2019", "14/06/2022", "2024-13-45", "24 Feb 2024"])
@pytest.mark.parametrize("command", ["check", "archive add", "report"])
def test_the_command_line_refuses_a_date_with_one_line_and_exit_2(tmp_path: Path, plain: Path, text: str,
                                                                  command: str) -> None:
    archive = tmp_path / "a.sqlite"
    option = "--first-seen" if command == "archive add" else "--claimed-date"
    extra = ["--out", str(tmp_path / "out")] if command == "report" else []
    result = run(*command.split(), "--archive", str(archive), *extra, option, text, str(plain))
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"'{text}'" in errors[0] and option in errors[0]
    assert ACCEPTED_FORMS in errors[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not archive.exists() and not (tmp_path / "out").exists()  # refused before anything was done


def test_the_library_refuses_a_date_before_examining(tmp_path: Path) -> None:
    with pytest.raises(DateError, match="ambiguous"):  # the path does not even exist: the date is read first
        check(str(tmp_path / "missing.mp4"), None, claimed_date="14/06/2022")


# -- older than claimed ------------------------------------------------------------------------------

def test_a_claim_of_a_year_is_older_only_before_the_year(tmp_path: Path, plain: Path) -> None:
    early = tmp_path / "early"
    early.mkdir()
    record = check_json(str(plain), "--archive", archive_of(early, plain, "2023-12-31"), "--claimed-date", "2024")
    appearance = record["earliest_appearance"]
    assert appearance["claimed_interval"] == {"text": "2024", "start": "2024-01-01T00:00:00Z",
                                              "end": "2024-12-31T23:59:59Z", "precision": "year",
                                              "zone_known": False}
    assert appearance["older_than_claimed_days"] == 1
    [against_sighting] = appearance["comparisons"]  # the clip has no creation time of its own
    assert against_sighting["claim_source"] == "--claimed-date"
    assert against_sighting["evidence_source"] == "earliest sighting"
    assert against_sighting["evidence"]["start"] == "2023-12-31T00:00:00Z"
    assert (against_sighting["evidence_by"], against_sighting["claimed_from"]) == \
        ("2023-12-31T23:59:59Z", "2024-01-01T00:00:00Z")
    assert against_sighting["relation"] == "before" and against_sighting["older_than_claimed_days"] == 1
    assert "older than claimed" in appearance["statement"] and "at least 1 day before" in appearance["statement"]
    assert "no creation time of its own" in appearance["statement"]

    later = tmp_path / "later"
    later.mkdir()
    record = check_json(str(plain), "--archive", archive_of(later, plain, "2024-06-01"), "--claimed-date", "2024")
    appearance = record["earliest_appearance"]
    assert appearance["older_than_claimed_days"] is None
    assert appearance["comparisons"][0]["relation"] == "within"
    assert "older than claimed" not in appearance["statement"]
    assert "is not contradicted by the archive" in appearance["statement"]


def test_the_comparison_widens_a_date_without_zone_only_against_a_time_with_one() -> None:
    year = parse_date("2024")
    assert order(year, parse_date("2023-12-31")).days == 1  # calendar dates: as written
    late_evening = read_recorded("2023-12-31T20:00:00Z")  # already 2024 east of UTC+4
    assert order(year, late_evening).relation == "within"
    assert order(year, read_recorded("2023-12-31T09:00:00Z")).relation == "before"  # 2023 in every zone
    local = parse_date("2024-03-01T10:00")
    assert order(local, parse_date("2024-03-01T09:00Z")).relation == "within"  # 10:00 local may be 09:00 UTC
    assert order(parse_date("2024-03-01T10:00Z"), parse_date("2024-03-01T09:00Z")).days == 0


def test_the_creation_time_is_compared_even_with_a_claimed_date(tmp_path: Path, dated: Path) -> None:
    archive = archive_of(tmp_path, dated, "2024-06-01")
    record = check_json(str(dated), "--archive", archive, "--claimed-date", "2024")
    appearance = record["earliest_appearance"]
    by_pair = {(c["claim_source"], c["evidence_source"]): c for c in appearance["comparisons"]}
    assert set(by_pair) == {("--claimed-date", "earliest sighting"),
                            ("creation_time (container)", "earliest sighting"),
                            ("--claimed-date", "creation_time (container)")}
    created = by_pair["--claimed-date", "creation_time (container)"]
    assert created["evidence"]["start"] == "2023-06-01T12:00:00Z" and created["evidence"]["zone_known"]
    # 2024 in any zone starts 2023-12-31T10:00Z: the creation time is 213 UTC days before it
    assert created["relation"] == "before" and created["older_than_claimed_days"] == 213
    assert created["claimed_from"] == "2023-12-31T10:00:00Z"
    assert by_pair["creation_time (container)", "earliest sighting"]["relation"] == "after"
    assert appearance["older_than_claimed_days"] is None  # the claim itself: not contradicted by the archive
    statement = appearance["statement"]
    assert "creation_time (container), 2023-06-01T12:00:00.000000Z" in statement
    assert "the file says it was made before the date claimed" in statement

    text = run("check", str(dated), "--archive", archive, "--claimed-date", "2024").stdout
    assert "dates compared (UTC):" in text
    assert "--claimed-date 2024 (2024-01-01..2024-12-31) against the creation_time (container)" in text
    assert "older than claimed by 213 days" in text

    alone = check_json(str(dated), "--claimed-date", "2024")  # no archive: the creation time is still compared
    [only] = alone["earliest_appearance"]["comparisons"]
    assert (only["evidence_source"], only["older_than_claimed_days"]) == ("creation_time (container)", 213)
    assert alone["earliest_appearance"]["statement"].startswith("No archive was consulted")


def test_a_month_first_seen_counts_and_sightings_are_objects(tmp_path: Path, plain: Path) -> None:
    archive = archive_of(tmp_path, plain, "2020-01-01", "2019-03")
    appearance = check_json(str(plain), "--archive", archive)["earliest_appearance"]
    assert appearance["earliest"]["first_seen"] == "2019-03"
    first, second = appearance["sightings"]
    assert set(first) == {"sha256", "sighting", "seen", "date_note"}
    assert first["sighting"]["first_seen"] == "2019-03" and first["sighting"]["platform"] == "telegram"
    assert first["seen"] == {"text": "2019-03", "start": "2019-03-01T00:00:00Z", "end": "2019-03-31T23:59:59Z",
                             "precision": "month", "zone_known": False}
    assert second["seen"]["precision"] == "day" and first["sha256"] == second["sha256"]
    assert "Earliest known appearance: 2019-03 on telegram" in appearance["statement"]


# -- dates already stored -----------------------------------------------------------------------------

OLD_DATES = ["03/2019", "24 Feb 2024", "2019-03", "20190301", "2020-10-05T01:00:00+05:00"]


def as_schema_6(path: str) -> None:
    """Take an archive back to schema 6, as an older version left it: no interval columns, dates unchecked."""
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE sightings DROP COLUMN first_seen_end")
        conn.execute("ALTER TABLE sightings DROP COLUMN first_seen_flag")
        for n, text in enumerate(OLD_DATES):  # what `archive add --first-seen` took before dates were read
            conn.execute("INSERT INTO sightings (item_id, source_url, first_seen, added_at, first_seen_utc) "
                         "VALUES (1, ?, ?, '2024-01-01T00:00:00.000000Z', ?)",
                         (f"https://t.me/c/{n}", text, migrations.first_seen_utc(text)))
        conn.execute("PRAGMA user_version = 6")


def test_an_archive_of_schema_6_keeps_its_dates_and_flags_those_it_cannot_read(tmp_path: Path, plain: Path) -> None:
    archive = archive_of(tmp_path, plain, "2021-01-01")
    as_schema_6(archive)
    with ArchiveStore.open(archive) as store:
        stats = store.stats()
        rows = store.connection.execute(
            "SELECT first_seen, first_seen_utc, first_seen_end, first_seen_flag FROM sightings ORDER BY id").fetchall()
    assert stats.schema_version == migrations.LATEST_VERSION == 12 and stats.sightings == 6
    assert stats.unreadable_dates == 2
    by_text = {text: (start, end, flag) for text, start, end, flag in rows}
    assert [text for text, *_ in rows] == ["2021-01-01", *OLD_DATES]  # every date kept, as written
    assert by_text["03/2019"][:2] == (None, None) and by_text["03/2019"][2].startswith("is ambiguous")
    assert by_text["24 Feb 2024"][2] == "is not a date in a form this tool reads"
    assert by_text["2019-03"] == ("2019-03-01T00:00:00.000000Z", "2019-03-31T23:59:59.000000Z", None)
    assert by_text["20190301"] == ("2019-03-01T00:00:00.000000Z", "2019-03-01T23:59:59.000000Z", None)
    assert by_text["2020-10-05T01:00:00+05:00"] == ("2020-10-04T20:00:00.000000Z", "2020-10-04T20:00:00.000000Z",
                                                    None)
    assert by_text["2021-01-01"] == ("2021-01-01T00:00:00.000000Z", "2021-01-01T23:59:59.000000Z", None)

    appearance = check(str(plain), archive).appearance
    assert appearance is not None and appearance.earliest is not None
    assert appearance.earliest.first_seen == "20190301"  # the day ends before the month "2019-03" does
    assert [a.sighting.first_seen for a in appearance.sightings][-2:] == ["03/2019", "24 Feb 2024"]
    assert [a.date_note is not None for a in appearance.sightings] == [False] * 4 + [True] * 2
    assert "2 sighting(s) have a first-seen date this tool cannot read ('03/2019', '24 Feb 2024')" \
        in appearance.statement
    shown = run("archive", "show", "--archive", archive, appearance.sightings[0].sha256).stdout
    assert "03/2019 (date not read)" in shown and "2019-03 " in shown
    assert "unreadable dates" in run("archive", "stats", "--archive", archive).stdout


def test_new_sightings_store_their_interval(tmp_path: Path, plain: Path) -> None:
    archive = archive_of(tmp_path, plain, "2024-03-01T10:00+01:00")
    with sqlite3.connect(archive) as conn:
        row = conn.execute("SELECT first_seen, first_seen_utc, first_seen_end, first_seen_flag "
                           "FROM sightings").fetchone()
    assert row == ("2024-03-01T10:00+01:00", "2024-03-01T09:00:00.000000Z", "2024-03-01T09:00:59.000000Z", None)


def test_sidecar_dates_are_read_as_intervals() -> None:
    by_day = sighting_from_info({"id": "a1", "upload_date": "20201005"})
    by_time = sighting_from_info({"id": "a1", "timestamp": 1601890215, "upload_date": "20201005"})
    assert by_day is not None and by_time is not None
    assert sighting_date(by_day) == (DateInterval("2020-10-05", "2020-10-05T00:00:00Z", "2020-10-05T23:59:59Z",
                                                  "day", False), None)
    assert sighting_date(by_time) == (DateInterval("2020-10-05T09:30:15Z", "2020-10-05T09:30:15Z",
                                                   "2020-10-05T09:30:15Z", "second", True), None)
    assert read_recorded("20201005") == replace(sighting_date(by_day)[0], text="20201005")
    assert sighting_when(Sighting(first_seen="last summer")) == "last summer (date not read)"


def test_a_triage_journal_of_an_older_version_still_reads(tmp_path: Path, plain: Path) -> None:
    """An appearance journaled with sightings as [sha, sighting] pairs is made again from the matches."""
    archive = archive_of(tmp_path, plain, "2019-03")
    report = check(str(plain), archive)
    assert report.appearance is not None
    out = tmp_path / "out"
    out.mkdir()
    journal = Journal.open(out)
    result = ContentResult(sha256=report.fingerprint.identity.sha256, path=str(plain), error=None,
                           fingerprint=report.fingerprint, variants=None, features=(), matches=report.matches,
                           appearance=report.appearance, thumbnail=b"", started_at="", finished_at="", seconds=0.0,
                           pid=1)
    journal.record_content(1, result)
    old = to_jsonable(report.appearance)
    assert isinstance(old, dict)
    old = {key: old[key] for key in ("earliest", "earliest_sha256", "claimed_date", "claimed_source", "statement")}
    old["sightings"] = [[a.sha256, to_jsonable(a.sighting)] for a in report.appearance.sightings]
    with sqlite3.connect(out / "journal.sqlite") as conn:
        conn.execute("UPDATE contents SET appearance = ?", (json.dumps(old),))
    stored = journal.load_content(result.sha256)
    assert stored is not None and stored.result.appearance is not None
    assert stored.result.appearance.sightings == report.appearance.sightings
    assert stored.result.appearance.earliest == Sighting(platform="telegram", first_seen="2019-03",
                                                         file_name=plain.name,
                                                         added_at=report.appearance.earliest.added_at)


def test_an_exif_offset_makes_the_zone_known() -> None:
    from provenance.model import ExifInfo

    exif = ExifInfo("2024:03:01 10:00:00", "+01:00", None, None, None, None, None)
    metadata = Metadata("still", None, None, None, (), None, None, None, None, None, None, None, None, None, None,
                        (), (), (), exif, "")
    appearance = earliest_appearance((), metadata, "2024-03-01T10:00Z", searched=False)
    [compared] = appearance.comparisons
    assert compared.evidence == DateInterval("2024-03-01 10:00:00+01:00", "2024-03-01T09:00:00Z",
                                             "2024-03-01T09:00:00Z", "second", True)
    assert compared.relation == "before" and compared.older_than_claimed_days == 0


def test_the_evidence_report_states_each_comparison(tmp_path: Path, dated: Path) -> None:
    from provenance.evidence.report import make_report

    archive = archive_of(tmp_path, dated, "2023-03")
    files = make_report(str(dated), archive=archive, out_dir=str(tmp_path / "reports"), claimed_date="2024")
    appearance = json.loads(Path(files.json_path).read_text(encoding="utf-8"))["check"]["earliest_appearance"]
    assert appearance["older_than_claimed_days"] == 276  # the last day of 2023-03 to 2024-01-01
    assert {c["evidence_source"] for c in appearance["comparisons"]} == {"earliest sighting",
                                                                         "creation_time (container)"}
    page = Path(files.html_path).read_text(encoding="utf-8")
    assert "Dates compared (UTC)" in page
    assert ("--claimed-date 2024 (2024-01-01..2024-12-31) against the earliest sighting 2023-03 "
            "(2023-03-01..2023-03-31)") in page
    assert "older than claimed by 276 days" in page and "older than claimed by 213 days" in page
    assert "older than claimed" in appearance["statement"] and "2023-03" in appearance["statement"]
