"""Evidence reports: signing, verification, tamper detection, the custody chain, RFC 3161 and the HTML page.

Real media (lavfi ``mandelbrot``), a real archive built with ``provenance.ingest.add.add_files``, the
CLI through click's CliRunner, a local OpenSSL time-stamping authority, and Debian's ``chromium``
for the page (skipped, with the reason, when it is not installed).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from conftest import CHROMIUM, chromium, plain_query, run_ffmpeg

from provenance import __version__
from provenance.archive import migrations
from provenance.archive.custody import Reading, append_entries, custody_entries, verify_chain
from provenance.archive.store import ArchiveStore
from provenance.canonical import canonical_bytes
from provenance.cli.app import cli
from provenance.evidence.signing import load_private_key, load_public_key, sign_record
from provenance.evidence.timestamp import report_digest, timestamp_request_der
from provenance.evidence.trust import trusted_key_line
from provenance.ingest.add import add_files
from provenance.model import Sighting
from provenance.report.timeline import timeline_svg


def invoke(*args: str | Path) -> Result:
    """Run the CLI in-process (stdout and stderr kept apart)."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def snapshot(path: Path) -> tuple[str, int, int]:
    """The bytes (as SHA-256), mtime and size of a file."""
    info = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), info.st_mtime_ns, info.st_size


@dataclass(frozen=True)
class Case:
    """One examined clip with its archive, keys and reports (built once for the module)."""

    root: Path
    evidence: Path  # the query clip, alone in its folder
    before: tuple[str, int, int]  # its snapshot before any command ran
    original: Path
    archive: Path
    key: Path
    pub: Path
    signed: Path  # signed JSON report
    html: Path
    unsigned: Path  # unsigned JSON report (another folder)


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory, mandelbrot_clip: Path) -> Case:
    """An archive holding the 12 s original, and a 6 s re-encoded trim of it (from 3 s) as evidence.

    The evidence claims 2024 in its container ``creation_time``; the archive saw the original in 2020.
    """
    root = tmp_path_factory.mktemp("evidence")
    folder = root / "evidence"
    folder.mkdir()
    evidence = folder / "reshared.mp4"
    run_ffmpeg("-ss", "3", "-i", str(mandelbrot_clip), "-t", "6", "-c:v", "libx264", "-preset", "veryfast",
               "-crf", "28", "-pix_fmt", "yuv420p", "-metadata", "creation_time=2024-03-01T10:00:00Z", str(evidence))
    before = snapshot(evidence)
    archive = root / "cases.sqlite"
    added = add_files(str(archive), [str(mandelbrot_clip)],
                      sighting=Sighting(platform="telegram", uploader="@chan", first_seen="2020-10-05"))
    assert added.failed == 0
    assert invoke("keygen", root / "keys" / "desk").exit_code == 0
    key, pub = root / "keys" / "desk.key", root / "keys" / "desk.pub"
    out = root / "reports"
    result = invoke("report", evidence, "--archive", archive, "--out", out, "--examiner", "A. Analyst",
                    "--case", "case-17", "--sign", key)
    assert result.exit_code == 0, result.output + result.stderr
    unsigned_out = root / "unsigned"
    result = invoke("report", evidence, "--archive", archive, "--out", unsigned_out, "--examiner", "B. Second")
    assert result.exit_code == 0, result.output + result.stderr
    return Case(root, evidence, before, mandelbrot_clip, archive, key, pub,
                out / "reshared.mp4.provenance.json", out / "reshared.mp4.provenance.html",
                unsigned_out / "reshared.mp4.provenance.json")


@pytest.fixture(autouse=True)
def config_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty $XDG_CONFIG_HOME for every test: no key is trusted unless the test lists it."""
    home = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


def trust(config_home: Path, *pubs: Path) -> Path:
    """List ``pubs`` in the trusted-keys file under ``config_home`` (replacing it), one line each."""
    path = config_home / "provenance" / "trusted_keys"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [trusted_key_line(load_public_key(pub), pub.stem) for pub in pubs]
    path.write_text("# keys this desk trusts\n\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def tampered(case: Case, name: str, change: Callable[[dict[str, Any]], object]) -> Path:
    """A copy of the signed report with ``change`` applied to its parsed JSON."""
    record = json.loads(case.signed.read_text(encoding="utf-8"))
    change(record)
    path = case.root / "tampered" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


# -- keys and the report ------------------------------------------------------------------------


def test_keygen_makes_a_private_key_only_its_owner_reads_and_never_overwrites(case: Case) -> None:
    assert case.key.stat().st_mode & 0o777 == 0o600
    assert b"BEGIN PRIVATE KEY" in case.key.read_bytes() and b"BEGIN PUBLIC KEY" in case.pub.read_bytes()
    old = case.key.read_bytes()
    result = invoke("keygen", case.root / "keys" / "desk")
    assert result.exit_code == 2 and "never overwritten" in result.stderr
    assert case.key.read_bytes() == old


def test_report_json_holds_the_check_examiner_case_and_signature(case: Case) -> None:
    record = json.loads(case.signed.read_text(encoding="utf-8"))
    sha = hashlib.sha256(case.evidence.read_bytes()).hexdigest()
    assert record["schema"] == "provenance.evidence" and record["schema_version"] == 1
    assert record["examiner"] == "A. Analyst" and record["case"] == "case-17"
    assert record["tool"] == {"name": "provenance", "version": __version__}
    assert record["sha256"] == sha == record["check"]["file"]["sha256"]
    check = record["check"]
    assert check["schema"] == "provenance.check" and check["examined_at"].endswith("Z")
    assert check["parameters"]["fps"] == 2.0
    assert check["matches"] and check["matches"][0]["sha256"] == hashlib.sha256(case.original.read_bytes()).hexdigest()
    segment = check["matches"][0]["segments"][0]
    assert segment["archive_start"] == pytest.approx(3.0, abs=0.6)  # the trim is seen as an offset
    assert "2020-10-05" in check["earliest_appearance"]["statement"]
    assert "older than claimed" in check["earliest_appearance"]["statement"]
    assert record["timelines"][0]["archive_duration"] == pytest.approx(12.0, abs=0.1)
    assert record["custody"]["entry"]["command"] == "provenance report"
    assert record["custody"]["entry"]["examiner"] == "A. Analyst"
    assert record["custody"]["entry"]["case"] == "case-17"
    signature = record["signature"]
    assert signature["algorithm"] == "Ed25519" and len(signature["key_id"]) == 64
    assert signature["signed_digest"] == hashlib.sha256(canonical_bytes(record)).hexdigest()
    assert check["keyframes"] == [] and check["contact_sheet"] is None  # keyframes were temporary
    assert record["contact_sheet"]["media_type"] == "image/jpeg"
    page = case.html.read_bytes()  # the page's digest is in the signed record
    assert record["page"] == {"name": case.html.name, "sha256": hashlib.sha256(page).hexdigest(), "bytes": len(page),
                              "media_type": "text/html"}
    entry = record["custody"]["entry"]  # and the custody log's head when the report was made
    assert record["custody"]["head"] == {"seq": entry["seq"], "entry_hash": entry["entry_hash"]}


def test_canonical_form_sorts_keys_drops_whitespace_and_the_signature() -> None:
    record = {"b": [1, 2.5, "é"], "a": {"z": None, "y": True}, "signature": {"value": "x"}}
    assert canonical_bytes(record) == '{"a":{"y":true,"z":null},"b":[1,2.5,"é"]}'.encode()
    assert b"signature" in canonical_bytes(record, exclude_signature=False)


def test_a_file_name_that_is_not_utf8_is_signed_and_verified(case: Case, tmp_path: Path) -> None:
    """An undecodable byte of a name reaches the record as a lone surrogate, which UTF-8 cannot encode."""
    assert canonical_bytes({"path": "/x/clip\udcff.mp4"}) == b'{"path":"/x/clip\\udcff.mp4"}'
    folder = tmp_path / "odd"
    folder.mkdir()
    odd = Path(os.fsdecode(bytes(folder) + b"/clip\xff.mp4"))
    shutil.copyfile(case.evidence, odd)
    # through the library: printing such a name is the command line's own matter
    from provenance.evidence.report import make_report
    from provenance.evidence.verify import verify_report

    made = make_report(str(odd), out_dir=str(tmp_path / "r"), key_path=str(case.key))
    result = verify_report(made.json_path, odd, public_key=case.pub)
    assert result.exit_code == 0 and result.page_intact and result.line.startswith("OK: file intact")


def test_html_is_self_contained_with_contact_sheet_and_timelines(case: Case) -> None:
    page = case.html.read_text(encoding="utf-8")
    record = json.loads(case.signed.read_text(encoding="utf-8"))
    # nothing is fetched: links may lead away (sightings, OpenStreetMap), but no source loads from elsewhere
    assert not re.search(r"""src=["'](https?:|//)""", page) and "<link" not in page and "<script" not in page
    images = [base64.b64decode(b) for b in re.findall(r'src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', page)]
    assert all(jpeg[:2] == b"\xff\xd8" for jpeg in images)
    assert hashlib.sha256(images[0]).hexdigest() == record["contact_sheet"]["sha256"]  # the contact sheet first
    # every other image is a side-by-side view the signed record lists, each once
    listed = [v[kind]["sha256"] for m in record["side_by_side"] for v in m["views"]
              for kind in ("query", "archive", "difference")]
    assert sorted(hashlib.sha256(jpeg).hexdigest() for jpeg in images[1:]) == sorted(listed)
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" class="timeline"') == len(record["check"]["matches"])
    for text in ("Creation time (container)", "Device (make / model)", "Encoder", "Location", "A. Analyst",
                 "case-17", record["sha256"], record["signature"]["key_id"], "at least"):
        assert text in page
    assert 'class="key' in page  # the fields that matter are highlighted


def test_timeline_draws_offset_and_speed_as_line_geometry() -> None:
    svg = timeline_svg([{"query_start": 0.0, "query_end": 4.0, "archive_start": 2.0, "archive_end": 10.0}], 4.0, 12.0)
    x1, y1, x2, y2 = (float(v) for v in re.search(
        r'class="segment" x1="([\d.]+)" y1="([\d.]+)" x2="([\d.]+)" y2="([\d.]+)"', svg).groups())
    plot_w, plot_h = 380 - 56 - 14, 260 - 14 - 44
    slope = ((y1 - y2) / plot_h * 12.0) / ((x2 - x1) / plot_w * 4.0)
    assert slope == pytest.approx(2.0, rel=0.02)  # archive seconds per query second: played at double speed
    assert (260 - 44 - y1) / plot_h * 12.0 == pytest.approx(2.0, abs=0.05)  # starts 2 s into the archived item


def test_report_never_writes_beside_the_evidence_unless_asked(case: Case, tmp_path: Path) -> None:
    folder = case.evidence.parent
    result = invoke("report", case.evidence, "--out", folder)
    assert result.exit_code == 2 and "--beside" in result.stderr
    result = invoke("report", case.evidence)
    assert result.exit_code == 2 and "--out DIR" in result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["reshared.mp4"]
    copy = tmp_path / "copy.mp4"
    shutil.copyfile(case.evidence, copy)
    result = invoke("report", copy, "--beside")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "copy.mp4", "copy.mp4.provenance.html", "copy.mp4.provenance.json"]
    again = invoke("report", copy, "--beside")
    assert again.exit_code == 2 and "--overwrite" in again.stderr


def test_report_refuses_a_dangling_link_at_its_target_without_overwrite(case: Case, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    link, nowhere = out / "reshared.mp4.provenance.json", tmp_path / "nowhere.json"
    link.symlink_to(nowhere)
    refused = invoke("report", case.evidence, "--out", out)
    assert refused.exit_code == 2 and "--overwrite" in refused.stderr and str(link) in refused.stderr
    assert link.is_symlink() and not nowhere.exists() and not (out / "reshared.mp4.provenance.html").exists()
    replaced = invoke("report", case.evidence, "--out", out, "--overwrite")
    assert replaced.exit_code == 0, replaced.stderr
    assert link.is_file() and not link.is_symlink() and not nowhere.exists()  # the link replaced, not followed


# -- verify ---------------------------------------------------------------------------------------


def test_verify_says_intact_in_one_line(case: Case, config_home: Path) -> None:
    result = invoke("verify", case.signed, case.evidence, "--key", case.pub)
    assert result.exit_code == 0, result.output + result.stderr
    assert result.output.count("\n") == 1 and result.output.startswith("OK: file intact")
    assert "report intact" in result.output and "given key" in result.output
    assert "page intact (reshared.mp4.provenance.html)" in result.output
    untrusted = invoke("verify", case.signed)  # FILE defaults to the path in the report
    assert untrusted.exit_code == 10 and "signature valid but by an untrusted key" in untrusted.output
    trust(config_home, case.pub)
    recorded_path = invoke("verify", case.signed)
    assert recorded_path.exit_code == 0 and "file intact" in recorded_path.output
    assert "a trusted key (desk, trusted_keys line 3)" in recorded_path.output


def test_verify_accepts_the_report_reindented(case: Case) -> None:
    path = tampered(case, "reindented.json", lambda record: None)  # same content, other layout
    assert path.read_bytes() != case.signed.read_bytes()
    assert invoke("verify", path, case.evidence, "--key", case.pub).exit_code == 0


def test_verify_detects_one_changed_byte_in_the_file(case: Case, tmp_path: Path) -> None:
    copy = tmp_path / "reshared.mp4"
    data = bytearray(case.evidence.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    result = invoke("verify", case.signed, copy, "--key", case.pub)
    assert result.exit_code == 6
    assert result.output.startswith("FILE ALTERED") and "SHA-256" in result.output


@pytest.mark.parametrize("change", [
    pytest.param(lambda r: r.__setitem__("examiner", "Someone Else"), id="examiner"),
    pytest.param(lambda r: r["check"]["matches"][0].__setitem__("score", 0.01), id="match-score"),
    pytest.param(lambda r: r["check"]["earliest_appearance"].__setitem__("statement", "New footage."),
                 id="statement"),
])
def test_verify_detects_a_changed_report_field(case: Case, change: Callable[[dict[str, Any]], object]) -> None:
    path = tampered(case, "field.json", change)
    result = invoke("verify", path, case.evidence)
    assert result.exit_code == 7
    assert result.output.startswith("REPORT ALTERED") and "signature does not match" in result.output


def test_verify_detects_a_changed_file_hash_in_the_report(case: Case, tmp_path: Path) -> None:
    other = tmp_path / "other.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10", "-t", "1", "-pix_fmt", "yuv420p", str(other))
    sha = hashlib.sha256(other.read_bytes()).hexdigest()
    path = tampered(case, "swapped.json", lambda r: (r.__setitem__("sha256", sha),
                                                     r["check"]["file"].__setitem__("sha256", sha)))
    assert invoke("verify", path, other).exit_code == 7  # the hashes were re-pointed, the signature says no


def test_verify_detects_a_changed_signature(case: Case) -> None:
    def flip(record: dict[str, Any]) -> None:
        value = bytearray(base64.b64decode(record["signature"]["value"]))
        value[0] ^= 0x80
        record["signature"]["value"] = base64.b64encode(bytes(value)).decode()

    result = invoke("verify", tampered(case, "signature.json", flip), case.evidence)
    assert result.exit_code == 7 and "REPORT ALTERED" in result.output


def test_verify_detects_the_wrong_key(case: Case) -> None:
    assert invoke("keygen", case.root / "keys" / "other").exit_code == 0
    result = invoke("verify", case.signed, case.evidence, "--key", case.root / "keys" / "other.pub")
    assert result.exit_code == 7 and "wrong key" in result.output


def test_verify_refuses_a_report_re_signed_by_a_key_it_does_not_trust(case: Case, config_home: Path) -> None:
    """A forger who edits the report and signs it with their own key gets a valid signature, and no trust."""
    assert invoke("keygen", case.root / "keys" / "forger").exit_code == 0
    forger_pub = case.root / "keys" / "forger.pub"
    forger = load_private_key(case.root / "keys" / "forger.key")
    path = tampered(case, "forged.json", lambda r: r.update(sign_record({**r, "examiner": "Forger"}, forger)))
    result = invoke("verify", path, case.evidence)
    assert result.exit_code == 10 and result.output.startswith("UNTRUSTED KEY")
    assert "signature valid but by an untrusted key" in result.output and "trusted_keys" in result.output
    assert invoke("verify", path, case.evidence, "--key", case.pub).exit_code == 7  # not by the desk's key
    assert invoke("verify", path, case.evidence, "--key", forger_pub).exit_code == 0  # by the key given
    trust(config_home, forger_pub)  # whoever lists the forger's key trusts the forger
    listed = invoke("verify", path, case.evidence)
    assert listed.exit_code == 0 and "a trusted key (forger, trusted_keys line 3)" in listed.output
    assert invoke("verify", case.signed, case.evidence).exit_code == 10  # the desk's key is not listed there


def test_keygen_prints_the_trusted_keys_line_verify_honours(case: Case, config_home: Path, tmp_path: Path) -> None:
    made = invoke("keygen", tmp_path / "keys" / "field")
    assert made.exit_code == 0, made.stderr
    line = made.output.splitlines()[-1]
    assert re.fullmatch(r"ed25519 [A-Za-z0-9+/]{43}= field", line)
    assert str(config_home / "provenance" / "trusted_keys") in made.output
    field = load_private_key(tmp_path / "keys" / "field.key")
    path = tampered(case, "field-signed.json", lambda r: r.update(sign_record(r, field)))
    assert invoke("verify", path, case.evidence).exit_code == 10
    listed = config_home / "provenance" / "trusted_keys"
    listed.parent.mkdir(parents=True)
    listed.write_text(line + "\n", encoding="utf-8")
    assert invoke("verify", path, case.evidence).exit_code == 0
    listed.write_text("ed25519 not-a-key field\n", encoding="utf-8")
    bad = invoke("verify", path, case.evidence)
    assert bad.exit_code == 2 and "trusted_keys line 1 is not a trusted key" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("old", "new"), [
    pytest.param('\n  "examiner": ', '\n  "examiner": "Mallory",\n  "examiner": ', id="top-level"),
    pytest.param('"file": {\n', '"file": {\n      "sha256": "' + "0" * 64 + '",\n', id="nested"),
])
def test_verify_refuses_a_report_with_a_key_twice(case: Case, tmp_path: Path, old: str, new: str) -> None:
    """Python keeps the last of two equal keys (the signed one), other readers the first (the forgery)."""
    text = case.signed.read_text(encoding="utf-8")
    assert text.count(old) >= 1
    forged = tmp_path / "twice.json"
    forged.write_text(text.replace(old, new, 1), encoding="utf-8")
    assert json.loads(forged.read_text(encoding="utf-8")) == json.loads(text)  # a plain reader sees no difference
    result = invoke("verify", forged, case.evidence, "--key", case.pub)
    assert result.exit_code == 7 and result.output.startswith("REPORT REFUSED") and "appears twice" in result.output
    assert result.output.count("\n") == 1
    assert invoke("timestamp-request", forged).exit_code == 7  # nothing is built on it either


def test_verify_checks_the_html_page_beside_the_report(case: Case, tmp_path: Path) -> None:
    report, page = tmp_path / case.signed.name, tmp_path / case.html.name
    shutil.copyfile(case.signed, report)
    shutil.copyfile(case.html, page)
    assert invoke("verify", report, case.evidence, "--key", case.pub).exit_code == 0
    data = bytearray(page.read_bytes())
    at = data.index(b"Evidence report") + 1
    data[at] ^= 0x01  # one byte: "Evidence" -> "Dvidence"
    page.write_bytes(bytes(data))
    altered = invoke("verify", report, case.evidence, "--key", case.pub)
    assert altered.exit_code == 7 and "page altered" in altered.output.lower()
    assert case.html.name in altered.output and "file and the JSON record are intact" in altered.output
    page.unlink()
    missing = invoke("verify", report, case.evidence, "--key", case.pub)
    assert missing.exit_code == 0 and f"page {case.html.name} not beside the report" in missing.output

    def as_made_before_page_digests(record: dict[str, Any]) -> None:
        record.pop("page")
        record.update(sign_record(record, load_private_key(case.key)))

    older = tampered(case, "older.json", as_made_before_page_digests)
    said = invoke("verify", older, case.evidence, "--key", case.pub)  # a report made before pages had digests
    assert said.exit_code == 0 and "records no page digest" in said.output


def test_verify_refuses_an_unsigned_report_unless_allowed(case: Case) -> None:
    result = invoke("verify", case.unsigned, case.evidence)
    assert result.exit_code == 11 and "NOT SIGNED" in result.output and "file intact" in result.output
    assert result.output.startswith("REPORT UNSIGNED") and "ALTERED" not in result.output
    assert invoke("verify", case.unsigned, case.evidence, "--allow-unsigned").exit_code == 0
    keyed = invoke("verify", case.unsigned, case.evidence, "--key", case.pub)
    assert keyed.exit_code == 11 and keyed.output.startswith("REPORT UNSIGNED") and "ALTERED" not in keyed.output


def test_verify_of_something_that_is_not_json(case: Case, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(case.signed.read_bytes()[:-40])
    result = invoke("verify", path, case.evidence)
    assert result.exit_code == 7 and "not valid JSON" in result.output


# -- the custody log ------------------------------------------------------------------------------


def test_commands_that_read_the_evidence_log_custody(case: Case, archive_location: str) -> None:
    archive = archive_location
    add = invoke("archive", "add", "--archive", archive, "--examiner", "carol", case.original)
    assert add.exit_code == 0, add.stderr
    plain = invoke("check", "--json", "--archive", archive, case.evidence)
    examined = invoke("check", "--json", "--archive", archive, "--examiner", "dave", case.evidence)
    assert plain.exit_code == examined.exit_code == 0
    first, second = json.loads(plain.stdout), json.loads(examined.stdout)
    for record in (first, second):
        record.pop("examined_at")
        record["file"].pop("accessed")
    assert first == second  # --examiner changes nothing printed
    assert invoke("verify", case.signed, case.evidence, "--key", case.pub, "--archive", archive,
                  "--examiner", "erin").exit_code == 0
    shown = invoke("custody", case.evidence, "--archive", archive, "--json")
    assert shown.exit_code == 0, shown.stderr
    entries = json.loads(shown.stdout)
    sha = hashlib.sha256(case.evidence.read_bytes()).hexdigest()
    assert [(e["command"], e["sha256"]) for e in entries] == [
        ("provenance check", sha), ("provenance check", sha), ("provenance verify", sha), ("provenance custody", sha)]
    assert entries[1]["examiner"] == "dave" and entries[2]["examiner"] == "erin"
    assert entries[0]["examiner"]  # the OS user when none is given
    assert all(e["tool_version"] == __version__ and e["at"].endswith("Z") for e in entries)
    with ArchiveStore.open(archive, create=False) as store:
        everything = custody_entries(store)
    assert everything[0].command == "provenance archive add" and everything[0].examiner == "carol"
    text = invoke("custody", "--sha256", sha, "--archive", archive)
    assert "4 entries" in text.output and "dave" in text.output
    ok = invoke("custody", "--verify", "--archive", archive)
    assert ok.exit_code == 0 and "intact: 5 entries" in ok.output



def test_the_python_api_logs_custody_as_the_command_line_does(case: Case, archive_location: str) -> None:
    """``provenance.check`` and ``add_files`` called from Python log the same entries as the CLI."""
    from provenance import check
    from provenance.ingest import add_files

    archive = archive_location
    added = add_files(str(archive), [str(case.original)], examiner="carol")
    assert added.failed == 0
    report = check(str(case.evidence), str(archive), examiner="dave", case="17")
    check(str(case.evidence))  # no archive: nothing to log in
    with ArchiveStore.open(archive, create=False) as store:
        entries = custody_entries(store)
    sha_original = hashlib.sha256(case.original.read_bytes()).hexdigest()
    assert [(e.command, e.sha256, e.examiner, e.case) for e in entries] == [
        ("provenance archive add", sha_original, "carol", None),
        ("provenance check", report.fingerprint.identity.sha256, "dave", "17"),
    ]
    with ArchiveStore.open(archive, create=False) as store:
        assert verify_chain(store).ok

def _log(path: str, n: int = 5) -> str:
    with ArchiveStore.open(path) as store:
        readings = [Reading(hashlib.sha256(str(i).encode()).hexdigest(), f"/evidence/{i}.mp4") for i in range(n)]
        append_entries(store, readings[:2], command="provenance check", examiner="alice", case="c1")
        append_entries(store, readings[2:], command="provenance report", examiner="bob")
    return path


def _attack(path: str | Path, *statements: str) -> None:
    """Edit the log as someone with the file (or the database's owner) would: drop the guard triggers first."""
    if str(path).startswith("postgresql://"):
        plain_query(path, "ALTER TABLE custody DISABLE TRIGGER USER")
        for statement in statements:
            plain_query(path, statement)
        return
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS custody_no_update")
    conn.execute("DROP TRIGGER IF EXISTS custody_no_delete")
    for statement in statements:
        conn.execute(statement)
    conn.close()


def test_custody_log_is_append_only_for_ordinary_sql(archive_location: str) -> None:
    path = _log(archive_location)
    with pytest.raises(Exception, match="append-only"):  # sqlite3's error, or psycopg's
        plain_query(path, "UPDATE custody SET examiner = 'mallory' WHERE seq = 2")
    with pytest.raises(Exception, match="append-only"):
        plain_query(path, "DELETE FROM custody WHERE seq = 2")
    with ArchiveStore.open(path) as store:
        assert verify_chain(store).ok


@pytest.mark.parametrize(("statements", "broken_at", "words"), [
    pytest.param(["DELETE FROM custody WHERE seq = 3"], 3, "missing", id="deleted"),
    pytest.param(["UPDATE custody SET examiner = 'mallory' WHERE seq = 2"], 2, "altered", id="altered"),
    pytest.param(["UPDATE custody SET sha256 = '" + "0" * 64 + "' WHERE seq = 4"], 4, "altered", id="sha-altered"),
    # renumbered in two steps: PostgreSQL checks the key row by row, so seq - 1 in one step may collide
    pytest.param(["DELETE FROM custody WHERE seq = 3", "UPDATE custody SET seq = seq + 1000 WHERE seq > 3",
                  "UPDATE custody SET seq = seq - 1001 WHERE seq > 1000"], 3,
                 "does not link", id="deleted-and-renumbered"),
    pytest.param(["DELETE FROM custody WHERE seq = 5"], 5, "removed from the end", id="tail-cut"),
])
def test_custody_chain_catches_a_deleted_or_altered_entry(archive_location: str, statements: list[str],
                                                          broken_at: int, words: str) -> None:
    path = _log(archive_location)
    with ArchiveStore.open(path) as store:
        assert verify_chain(store).ok
    _attack(path, *statements)
    with ArchiveStore.open(path) as store:
        status = verify_chain(store)
    assert not status.ok and status.broken_at == broken_at and words in status.reason
    result = invoke("custody", "--verify", "--archive", path)
    assert result.exit_code == 9 and f"BROKEN at entry #{broken_at}" in result.output


def test_custody_chain_catches_an_entry_altered_with_its_hash_recomputed(archive_location: str) -> None:
    from provenance.archive.custody import entry_hash

    path = _log(archive_location)
    with ArchiveStore.open(path) as store:
        e = custody_entries(store)[1]
    forged = entry_hash(e.seq, e.at, "mallory", e.command, e.tool_version, e.sha256, e.path, e.case, e.prev_hash)
    _attack(path, f"UPDATE custody SET examiner = 'mallory', entry_hash = '{forged}' WHERE seq = 2")
    with ArchiveStore.open(path) as store:
        status = verify_chain(store)
    assert not status.ok and status.broken_at == 3 and "does not link to entry #2" in status.reason


def _checkpoint(archive: str | Path, case: Case, out: Path) -> Path:
    """A signed checkpoint of ``archive``'s custody log, written to ``out`` with the CLI."""
    result = invoke("custody", "checkpoint", "--sign", case.key, "--out", out, "--archive", archive)
    assert result.exit_code == 0, result.output + result.stderr
    return out


def _anchored(archive: str | Path, case: Case, *anchors: str | Path) -> Result:
    return invoke("custody", "--verify", "--archive", archive, "--key", case.pub, *anchors)


def test_custody_checkpoint_is_a_signed_record_of_the_head(
        tmp_path: Path, archive_location: str, case: Case, config_home: Path) -> None:
    path = _log(archive_location)
    out = _checkpoint(path, case, tmp_path / "safe" / "week12.json")
    record = json.loads(out.read_text(encoding="utf-8"))
    with ArchiveStore.open(path, create=False) as store:
        last, archive_id = custody_entries(store)[-1], store.archive_id()
    assert record["schema"] == "provenance.custody-checkpoint" and record["entries"] == 5
    assert record["head"] == {"seq": 5, "entry_hash": last.entry_hash} and record["archive_id"] == archive_id
    assert record["made_at"].endswith("Z") and record["signature"]["algorithm"] == "Ed25519"
    ((kept,),) = plain_query(path, "SELECT value FROM meta WHERE key = 'custody_checkpoint'")
    assert json.loads(kept) == record  # also kept in the archive

    again = invoke("custody", "checkpoint", "--sign", case.key, "--out", out, "--archive", path)
    assert again.exit_code == 2 and "--overwrite" in again.stderr
    assert invoke("custody", "checkpoint", "--sign", case.key, "--archive", path).exit_code == 2  # --out is required

    ok = _anchored(path, case, "--checkpoint", out)
    assert ok.exit_code == 0 and "intact: 5 entries" in ok.output and "checkpoint week12.json (made" in ok.output
    untrusted = invoke("custody", "--verify", "--archive", path, "--checkpoint", out)
    assert untrusted.exit_code == 10 and "signature valid but by an untrusted key" in untrusted.stderr
    trust(config_home, case.pub)
    assert invoke("custody", "--verify", "--archive", path, "--checkpoint", out).exit_code == 0
    forged = tmp_path / "forged.json"
    forged.write_text(out.read_text(encoding="utf-8").replace('"entries": 5', '"entries": 4'), encoding="utf-8")
    altered = invoke("custody", "--verify", "--archive", path, "--checkpoint", forged)
    assert altered.exit_code == 7 and "signature does not match" in altered.stderr

    helped = invoke("custody", "--help")  # the log command's own help, as before
    assert " custody [OPTIONS] [FILE]" in helped.output and "custody checkpoint" in helped.output
    assert " custody checkpoint [OPTIONS]" in invoke("custody", "checkpoint", "--help").output


def test_no_checkpoint_of_a_broken_log(
        tmp_path: Path, archive_location: str, case: Case) -> None:
    path = _log(archive_location)
    _attack(path, "DELETE FROM custody WHERE seq = 3")
    result = invoke("custody", "checkpoint", "--sign", case.key, "--out", tmp_path / "c.json", "--archive", path)
    assert result.exit_code == 9 and "no checkpoint written" in result.stderr
    assert not (tmp_path / "c.json").exists()


def test_a_wiped_custody_log_is_detected_against_a_checkpoint(
        tmp_path: Path, archive_location: str, case: Case) -> None:
    path = _log(archive_location)
    saved = _checkpoint(path, case, tmp_path / "safe.json")
    _attack(path, "DELETE FROM custody", "DELETE FROM meta WHERE key = 'custody_head'")
    kept = invoke("custody", "--verify", "--archive", path)  # the copy kept in the archive catches a careless wipe
    assert kept.exit_code == 9 and "checkpoint kept in the archive" in kept.output
    _attack(path, "DELETE FROM meta WHERE key = 'custody_checkpoint'")
    alone = invoke("custody", "--verify", "--archive", path)
    assert alone.exit_code == 0 and "intact: 0 entries" in alone.output  # the log alone cannot tell...
    assert "not proven complete" in alone.output  # ...and says so
    anchored = _anchored(path, case, "--checkpoint", saved)
    assert anchored.exit_code == 9 and anchored.output.startswith("CUSTODY LOG BROKEN at entry #1")
    assert "the log has 0 entries, but checkpoint safe.json" in anchored.output and "wiped" in anchored.output


def test_a_truncated_custody_log_is_detected_against_a_checkpoint(
        tmp_path: Path, archive_location: str, case: Case) -> None:
    path = _log(archive_location)
    saved = _checkpoint(path, case, tmp_path / "safe.json")
    with ArchiveStore.open(path, create=False) as store:
        third = custody_entries(store)[2]
    _attack(path, "DELETE FROM custody WHERE seq > 3", f"UPDATE meta SET value = '3:{third.entry_hash}' "
                  "WHERE key = 'custody_head'", "DELETE FROM meta WHERE key = 'custody_checkpoint'")
    assert invoke("custody", "--verify", "--archive", path).exit_code == 0  # consistent as far as it goes
    anchored = _anchored(path, case, "--checkpoint", saved)
    assert anchored.exit_code == 9 and "BROKEN at entry #4" in anchored.output
    assert "the log has 3 entries, but checkpoint safe.json" in anchored.output and "entry #5" in anchored.output


def test_a_rebuilt_custody_log_is_detected_against_a_checkpoint(
        tmp_path: Path, archive_location: str, case: Case) -> None:
    """Entry #2 rewritten and every hash after it recomputed, head included: only the checkpoint knows."""
    from provenance.archive.custody import GENESIS, entry_hash

    path = _log(archive_location)
    older = _checkpoint(path, case, tmp_path / "older.json")
    with ArchiveStore.open(path, create=False) as store:
        append_entries(store, [Reading("a" * 64, "/evidence/late.mp4")], command="provenance check")
        entries = custody_entries(store)
    newer = _checkpoint(path, case, tmp_path / "newer.json")
    rows, prev = [], GENESIS
    for e in entries:
        who = "mallory" if e.seq == 2 else e.examiner
        hashed = entry_hash(e.seq, e.at, who, e.command, e.tool_version, e.sha256, e.path, e.case, prev)
        rows.append(f"({e.seq}, '{e.at}', '{who}', '{e.command}', '{e.tool_version}', '{e.sha256}', '{e.path}', "
                    f"{'NULL' if e.case is None else repr(e.case)}, '{prev}', '{hashed}')")
        prev = hashed
    _attack(path, "DELETE FROM custody", "INSERT INTO custody (seq, at, examiner, command, tool_version, sha256, "
                  "path, case_id, prev_hash, entry_hash) VALUES " + ", ".join(rows),
            f"UPDATE meta SET value = '{len(rows)}:{prev}' WHERE key = 'custody_head'",
            "DELETE FROM meta WHERE key = 'custody_checkpoint'")
    alone = invoke("custody", "--verify", "--archive", path)
    assert alone.exit_code == 0 and "intact: 6 entries" in alone.output  # a perfect chain, rebuilt
    for saved, seq in ((older, 5), (newer, 6)):
        anchored = _anchored(path, case, "--checkpoint", saved)
        assert anchored.exit_code == 9 and f"BROKEN at entry #{seq}" in anchored.output
        assert "rebuilt" in anchored.output and saved.name in anchored.output


def test_a_wiped_custody_log_is_detected_against_a_reports_recorded_head(tmp_path: Path, case: Case) -> None:
    copy = tmp_path / "copy.sqlite"
    source, target = sqlite3.connect(case.archive), sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()
    assert _anchored(copy, case, "--report", case.signed).exit_code == 0
    unsigned = _anchored(copy, case, "--report", case.unsigned)
    assert unsigned.exit_code == 11 and "not signed" in unsigned.stderr
    other = _anchored(_log(str(tmp_path / "chain.sqlite")), case, "--report", case.signed)
    assert other.exit_code == 9 and "this archive's id is" in other.output
    _attack(copy, "DELETE FROM custody", "DELETE FROM meta WHERE key = 'custody_head'")
    assert invoke("custody", "--verify", "--archive", copy).exit_code == 0
    anchored = _anchored(copy, case, "--report", case.signed)
    recorded = json.loads(case.signed.read_text(encoding="utf-8"))["custody"]["head"]["seq"]
    assert anchored.exit_code == 9 and f"report {case.signed.name} (made" in anchored.output
    assert f"recorded entry #{recorded} as its head" in anchored.output


def test_a_version_2_archive_gains_the_custody_table(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    migrations.migrate(conn, target=2)
    conn.close()
    with ArchiveStore.open(path) as store:
        assert store.stats().schema_version == migrations.LATEST_VERSION == max(v for v, _ in migrations.MIGRATIONS)
        assert verify_chain(store).ok and verify_chain(store).entries == 0


# -- RFC 3161 --------------------------------------------------------------------------------------

TSA_CONFIG = """
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ v3_tsa ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ tsa ]
default_tsa = local_tsa
[ local_tsa ]
serial = {dir}/serial
crypto_device = builtin
signer_cert = {dir}/tsa.crt
signer_key = {dir}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ess_cert_id_alg = sha256
"""


def openssl(*args: str | Path, cwd: Path) -> str:
    """Run openssl; fail the test with its message when it fails."""
    proc = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, cwd=cwd, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local time-stamping authority: a self-made CA and a TSA certificate with timeStamping usage."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed (Debian: apt-get install openssl)")
    d = tmp_path_factory.mktemp("tsa")
    (d / "tsa.cnf").write_text(TSA_CONFIG.format(dir=d))
    (d / "serial").write_text("01\n")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    openssl("req", "-x509", "-new", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "30", "-config", "tsa.cnf",
            "-extensions", "v3_ca", "-subj", "/CN=Test Evidence CA", cwd=d)
    openssl("req", "-new", *ec, "-keyout", "tsa.key", "-out", "tsa.csr", "-config", "tsa.cnf",
            "-subj", "/CN=Test TSA", cwd=d)
    openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "tsa.crt",
            "-days", "30", "-extfile", "tsa.cnf", "-extensions", "v3_tsa", cwd=d)
    openssl("req", "-x509", "-new", *ec, "-keyout", "other.key", "-out", "other-ca.crt", "-days", "30",
            "-config", "tsa.cnf", "-extensions", "v3_ca", "-subj", "/CN=Another CA", cwd=d)
    return d


def stamp(tsa: Path, query: Path, reply: Path) -> None:
    """Have the local TSA answer ``query``."""
    openssl("ts", "-reply", "-config", tsa / "tsa.cnf", "-queryfile", query, "-out", reply, cwd=tsa)


def test_timestamp_request_is_a_valid_rfc3161_query(tmp_path: Path, tsa: Path) -> None:
    digest = hashlib.sha256(b"report").digest()
    query = tmp_path / "q.tsq"
    query.write_bytes(timestamp_request_der(digest, nonce=0x8000_0000_0000_0001))
    text = openssl("ts", "-query", "-in", query, "-text", cwd=tmp_path)
    assert "Hash Algorithm: sha256" in text and "Certificate required: yes" in text
    assert "Nonce: 0x8000000000000001" in text
    dump = "".join(re.findall(r"^\s+[0-9a-f]{4} - ((?:[0-9a-f]{2}[ -]){1,16})", text, re.MULTILINE))
    assert bytes.fromhex(dump.replace("-", " ")) == digest


def test_tsq_tsr_round_trip_with_a_local_openssl_tsa(case: Case, tsa: Path, tmp_path: Path) -> None:
    report = tmp_path / "reshared.mp4.provenance.json"
    shutil.copyfile(case.signed, report)
    result = invoke("timestamp-request", report)
    assert result.exit_code == 0, result.stderr
    query = tmp_path / "reshared.mp4.provenance.tsq"
    assert query.exists()
    assert report_digest(json.loads(report.read_text())) in result.output
    stamp(tsa, query, tmp_path / "reshared.mp4.provenance.tsr")

    ok = invoke("verify", report, case.evidence, "--key", case.pub, "--tsa-ca", tsa / "ca.crt")
    assert ok.exit_code == 0, ok.output + ok.stderr
    assert "time-stamped 20" in ok.output and "token verified against ca.crt" in ok.output
    unchecked = invoke("verify", report, case.evidence, "--key", case.pub)
    assert unchecked.exit_code == 0 and "present but not checked" in unchecked.output
    wrong_ca = invoke("verify", report, case.evidence, "--key", case.pub, "--tsa-ca", tsa / "other-ca.crt")
    assert wrong_ca.exit_code == 8 and "TIMESTAMP INVALID" in wrong_ca.output


def test_timestamp_request_never_writes_through_a_link(case: Case, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    shutil.copyfile(case.signed, report)
    link, elsewhere = tmp_path / "r.tsq", tmp_path / "elsewhere.bin"
    link.symlink_to(elsewhere)
    refused = invoke("timestamp-request", report)
    assert refused.exit_code == 2 and "--overwrite" in refused.stderr and not elsewhere.exists()
    elsewhere.write_bytes(b"not to be touched")
    assert invoke("timestamp-request", report, "--overwrite").exit_code == 0
    assert not link.is_symlink() and link.read_bytes()[:1] == b"\x30"  # a DER request in its own file
    assert elsewhere.read_bytes() == b"not to be touched"


def test_a_token_for_another_report_or_no_token_is_refused(case: Case, tsa: Path, tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    shutil.copyfile(case.signed, report)
    other = tmp_path / "other.json"
    shutil.copyfile(case.unsigned, other)
    missing = invoke("verify", report, case.evidence, "--key", case.pub, "--tsa-ca", tsa / "ca.crt")
    assert missing.exit_code == 8 and "no time-stamp token" in missing.output
    assert invoke("timestamp-request", other).exit_code == 0
    stamp(tsa, tmp_path / "other.tsq", tmp_path / "r.tsr")  # the other report's token, beside this one
    mismatch = invoke("verify", report, case.evidence, "--key", case.pub, "--tsa-ca", tsa / "ca.crt")
    assert mismatch.exit_code == 8 and "other data" in mismatch.output


# -- evidence is never touched ----------------------------------------------------------------------


def test_the_evidence_file_is_unchanged_after_every_command(case: Case, tmp_path: Path) -> None:
    evidence = case.evidence
    assert snapshot(evidence) == case.before  # after the fixture's reports
    archive = tmp_path / "copy.sqlite"
    commands = [
        ("archive", "add", "--archive", archive, evidence),
        ("check", evidence),
        ("check", "--json", "--archive", archive, evidence),
        ("report", evidence, "--archive", archive, "--out", tmp_path / "r", "--sign", case.key),
        ("verify", tmp_path / "r" / "reshared.mp4.provenance.json", evidence, "--key", case.pub, "--archive", archive),
        ("verify", case.signed, evidence, "--key", case.pub),
        ("custody", "checkpoint", "--sign", case.key, "--out", tmp_path / "checkpoint.json", "--archive", archive),
        ("custody", "--verify", "--archive", archive, "--checkpoint", tmp_path / "checkpoint.json",
         "--report", tmp_path / "r" / "reshared.mp4.provenance.json", "--key", case.pub),
        ("custody", evidence, "--archive", archive),
        ("custody", "--verify", "--archive", archive),
        ("timestamp-request", tmp_path / "r" / "reshared.mp4.provenance.json"),
    ]
    for args in commands:
        result = invoke(*args)
        assert result.exit_code == 0, (args, result.output, result.stderr)
        assert snapshot(evidence) == case.before, args
    assert sorted(p.name for p in evidence.parent.iterdir()) == ["reshared.mp4"]  # nothing written beside it


# -- the page in a browser ------------------------------------------------------------------------------

PROBE = """<script>
window.addEventListener("load", () => {
  const imgs = [...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight]);
  const svgs = [...document.querySelectorAll("svg.timeline")].map(s => {
    const box = s.getBoundingClientRect();
    return [box.width, box.height, s.querySelectorAll("line.segment").length];
  });
  document.body.setAttribute("data-probe", JSON.stringify({imgs, svgs}));
});
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (/usr/bin/chromium)")
def test_html_report_renders_in_headless_chromium(case: Case, tmp_path: Path) -> None:
    import cv2

    shot = tmp_path / "report.png"
    # tall enough to reach the contact sheet below the conclusion, metadata and structure
    proc = chromium(f"--screenshot={shot}", "--window-size=1280,4000", case.html.as_uri(), profile=tmp_path / "p1")
    assert shot.exists() and shot.stat().st_size > 10_000, proc.stderr[-2000:]
    picture = cv2.imread(str(shot))
    assert picture is not None and picture.shape[:2] == (4000, 1280)
    hsv = cv2.cvtColor(picture, cv2.COLOR_BGR2HSV)
    colourful = int(np.count_nonzero((hsv[:, :, 1] > 120) & (hsv[:, :, 2] > 60)))
    assert colourful > 20_000  # the fractal contact sheet is drawn (the page itself is nearly grey)
    shutil.copyfile(shot, case.root / "report-screenshot.png")  # kept with the session's files for a look

    dom = chromium("--dump-dom", case.html.as_uri(), profile=tmp_path / "p2").stdout
    images = re.findall(r'src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', dom)
    assert images and all(len(base64.b64decode(i)) > 1000 for i in images)
    assert re.search(r'<svg[^>]*class="timeline"', dom) and 'class="segment"' in dom

    probed = tmp_path / "probed.html"
    probed.write_text(case.html.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium("--virtual-time-budget=5000", "--dump-dom", probed.as_uri(), profile=tmp_path / "p3").stdout
    found = re.search(r'data-probe="([^"]*)"', dom)
    assert found, dom[-500:]
    probe = json.loads(found.group(1).replace("&quot;", '"'))
    assert probe["imgs"] and all(done and w > 100 and h > 50 for done, w, h in probe["imgs"])  # decoded by the browser
    assert probe["svgs"] and all(w > 100 and h > 100 and n >= 1 for w, h, n in probe["svgs"])  # laid out, with lines
