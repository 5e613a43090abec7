"""Write the evidence report of one file: a (signed) JSON sidecar and a self-contained HTML page.

The JSON record (schema ``provenance.evidence``) holds the full check record (identity, metadata,
frames, shots, matches, earliest appearance, tool version and parameters, time of examination),
the examiner and case, the environment, the SHA-256 of the embedded contact sheet, each match's
durations for its timeline, the matched moments shown side by side with the archived pictures and
the SHA-256 of each of their embedded JPEGs (made from the same open file, the pictures from the
archive), the custody entry this report made (with the log's head then), and the
SHA-256 of the HTML page, and what the file says about itself (its structure, last writer, edit
indicators and C2PA, as ``check --structure`` reads them: from the same open file, once). The page is
rendered from the record first; its digest then goes into the record, which is signed last (Ed25519,
over its canonical form) when a key is given. With ``pdf``, the written page is then printed to
FILE.provenance.pdf by headless Chromium (``print_pdf``), beside the other two reports.

Evidence is never written to: the file is read by ``check`` (read-only), keyframes are decoded
into a temporary folder that is removed, and the two reports go into the folder asked for, which
may be the evidence's own folder only when ``beside`` says so.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from provenance.archive.custody import Reading, append_entries, current_examiner, custody_entries
from provenance.archive.store import ArchiveStore, shown_location
from provenance.checking import examine
from provenance.dates import parse_date
from provenance.errors import MissingToolError, UsageError
from provenance.evidence.record import (
    ContactSheet,
    CustodyHead,
    CustodyRecord,
    Environment,
    EvidenceRecord,
    PageDigest,
    Timeline,
)
from provenance.evidence.signing import key_id, load_private_key, sign_record
from provenance.files import write_all_atomic, write_atomic
from provenance.media.source import opened
from provenance.model import DateInterval, SamplingParams
from provenance.report.html import ShownMatch, render_html, shown_matches
from provenance.report.side_by_side import side_by_side
from provenance.times import utc_now

JSON_SUFFIX = ".provenance.json"
HTML_SUFFIX = ".provenance.html"
PDF_SUFFIX = ".provenance.pdf"
BROWSER_ENV = "PROVENANCE_CHROMIUM"
"""Names the browser ``--pdf`` prints with (a command on PATH or a path), instead of looking for one."""
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PRINT_TIMEOUT = 180  # seconds: a page of a long clip with many matches takes Chromium a few seconds


@dataclass(frozen=True)
class ReportFiles:
    """What ``make_report`` wrote."""

    json_path: str
    html_path: str
    sha256: str
    matches: int
    key_id: str | None  # the signing key, when signed
    custody_seq: int | None  # the custody entry this report made, when an archive was used
    pdf_path: str | None = None  # the page printed to PDF, when asked for


def report_paths(evidence: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None,
                 beside: bool) -> tuple[Path, Path]:
    """Where the JSON and HTML reports of ``evidence`` go; refuses the evidence's folder unless ``beside``."""
    source = Path(os.path.abspath(evidence))
    home = source.parent
    if beside:
        if out_dir is not None and Path(out_dir).resolve() != home.resolve():
            raise UsageError("give either --out DIR or --beside, not both")
        folder = home
    elif out_dir is None:
        raise UsageError("give --out DIR for the reports (or --beside to write them next to the evidence file)")
    else:
        folder = Path(out_dir).expanduser()
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"--out {out_dir}: not a folder")
        if folder.exists() and folder.resolve() == home.resolve():
            raise UsageError(f"--out {out_dir} is the folder that holds the evidence; nothing is written beside "
                             "evidence unless --beside is given")
    return folder / (source.name + JSON_SUFFIX), folder / (source.name + HTML_SUFFIX)


def find_browser() -> str:
    """The headless Chromium ``--pdf`` prints with: ``$PROVENANCE_CHROMIUM``, else the first of ``BROWSERS`` on PATH.

    Raises ``MissingToolError`` (exit 3) when there is none.
    """
    named = os.environ.get(BROWSER_ENV)
    if named:
        found = shutil.which(named)
        if found is None:
            raise MissingToolError(f"{BROWSER_ENV}={named}: no such program; name Chromium's path, or unset it")
        return found
    for name in BROWSERS:
        found = shutil.which(name)
        if found is not None:
            return found
    raise MissingToolError("--pdf prints the page with headless Chromium, which is not installed (Debian: "
                           f"apt-get install chromium; or name its path in ${BROWSER_ENV})")


def print_pdf(page: str | os.PathLike[str], pdf_path: str | os.PathLike[str], browser: str | None = None) -> Path:
    """Print the HTML page ``page`` to ``pdf_path`` with headless Chromium (``find_browser`` unless named).

    Chromium runs with a throwaway profile, no network services and no sandbox (it may run as root in
    a container); it prints into that scratch folder, and the PDF is then written atomically, never
    through a link at ``pdf_path``. Raises ``MissingToolError`` when there is no browser or it
    printed no PDF.
    """
    browser = browser or find_browser()
    target = Path(pdf_path)
    with tempfile.TemporaryDirectory(prefix="provenance-pdf-") as scratch:
        printed = Path(scratch) / "page.pdf"
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                   "--disable-background-networking", "--disable-component-update", "--no-pdf-header-footer",
                   f"--user-data-dir={Path(scratch) / 'profile'}", f"--print-to-pdf={printed}",
                   Path(os.path.abspath(page)).as_uri()]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=PRINT_TIMEOUT, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            raise MissingToolError(f"{browser} could not be run to print the PDF: {exc}") from None
        data = printed.read_bytes() if printed.exists() else b""
        if not data.startswith(b"%PDF"):
            said = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
            raise MissingToolError(f"{browser} printed no PDF of the page: {said}")
    try:
        write_all_atomic([(target, data)])
    except OSError as exc:
        raise UsageError(f"cannot write the PDF {target}: {exc.strerror or exc}") from None
    return target


def ffmpeg_version() -> str | None:
    """The first line of ``ffmpeg -version`` (e.g. ``ffmpeg version 5.1.6-0+deb12u1``), or None."""
    try:
        proc = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    first = proc.stdout.splitlines()[0] if proc.stdout else ""
    found = re.match(r"ffmpeg version (\S+)", first)
    return found.group(1) if found else None


def environment() -> Environment:
    """The software the examination ran on, for the record."""
    return Environment(python=platform.python_version(), platform=platform.platform(), ffmpeg=ffmpeg_version())


def make_report(
    path: str,
    *,
    archive: str | None = None,
    out_dir: str | None = None,
    beside: bool = False,
    examiner: str | None = None,
    case: str | None = None,
    key_path: str | None = None,
    params: SamplingParams | None = None,
    claimed_date: str | DateInterval | None = None,
    overwrite: bool = False,
    pdf: bool = False,
) -> ReportFiles:
    """Examine ``path`` (matched against ``archive`` when given) and write its JSON and HTML reports.

    With ``archive``, an entry is appended to its custody log and recorded in the report. With
    ``key_path`` (an Ed25519 private key PEM), the JSON record is signed. With ``pdf``, the page is
    also printed to FILE.provenance.pdf beside them (``print_pdf``). Raises ``UsageError`` for a bad
    destination or key, ``DateError`` (a usage error) for a ``claimed_date`` that is no date,
    ``MissingToolError`` for ``pdf`` without Chromium (before the examination), and the errors of ``check``.
    """
    claimed = parse_date(claimed_date) if isinstance(claimed_date, str) else claimed_date
    json_path, html_path = report_paths(path, out_dir, beside)
    pdf_path = json_path.with_name(json_path.name[:-len(JSON_SUFFIX)] + PDF_SUFFIX) if pdf else None
    browser = find_browser() if pdf else None  # no browser fails before the long examination
    if not overwrite:
        for target in (json_path, html_path, *([pdf_path] if pdf_path else [])):
            if os.path.lexists(target):  # a dangling link counts: replacing it must be asked for too
                raise UsageError(f"{target} exists: give --overwrite to replace it (a signed report is never "
                                 "replaced silently)")
    key = load_private_key(key_path) if key_path else None  # a bad key fails before the long examination
    if archive is not None:  # a missing or unreachable archive fails before the report folder is made
        with ArchiveStore.open(archive, create=False):
            pass
    try:
        json_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the report folder {json_path.parent}: {exc.strerror or exc}") from None

    # one open file, as check --structure reads it: the structure judged is that of the file hashed
    with tempfile.TemporaryDirectory(prefix="provenance-keyframes-") as scratch, opened(path) as source:
        examination = examine(source, archive, structure=True, params=params, claimed_date=claimed,
                              keyframes_dir=scratch, log_custody=False)
        report, itself = examination.report, examination.itself
        sheet = Path(report.contact_sheet).read_bytes() if report.contact_sheet else None
        shown: tuple[ShownMatch, ...] = ()
        pictures: tuple[bytes, ...] = ()
        if archive is not None and report.matches:
            with ArchiveStore.open(archive, create=False) as store:
                views = side_by_side(source, report.fingerprint, report.matches, store.pictures)
            shown, pictures = shown_matches(views)
    # the keyframe files were temporary: the record keeps the contact sheet's hash, the page embeds it
    examined = replace(report, keyframes=(), contact_sheet=None)
    fp = report.fingerprint
    who = current_examiner(examiner)

    timelines: list[Timeline] = []
    custody: CustodyRecord | None = None
    entry_seq = None
    if archive is not None:
        with ArchiveStore.open(archive, create=False) as store:
            for match in report.matches:
                item = store.get(match.sha256)
                timelines.append(Timeline(match.sha256, fp.duration, float(item.duration) if item else None))
            (entry,) = append_entries(store, [Reading(fp.identity.sha256, fp.identity.path)],
                                      command="provenance report", examiner=who, case=case)
            entry_seq = entry.seq
            # the entry was appended in one write transaction, so it is the log's head at this moment
            custody = CustodyRecord(archive=shown_location(archive), archive_id=store.archive_id(), entry=entry,
                                    history=custody_entries(store, fp.identity.sha256),
                                    head=CustodyHead(entry.seq, entry.entry_hash))

    evidence = EvidenceRecord(
        generated_at=utc_now(), examiner=who, case=case, environment=environment(), check=examined,
        contact_sheet=None if sheet is None else ContactSheet.of(sheet, html_path.name),
        timelines=tuple(timelines), custody=custody, structure=itself, side_by_side=shown,
    )
    signer = key_id(key.public_key()) if key is not None else None
    page = render_html(evidence.to_json(), sheet, json_name=json_path.name, signer_key_id=signer, pictures=pictures)
    # the bytes write_atomic writes (UTF-8, undecodable name bytes as \udcXX), whose digest the record holds
    page_bytes = page.encode("utf-8", errors="backslashreplace")
    record = replace(evidence, page=PageDigest.of(page_bytes, html_path.name)).to_json()
    if key is not None:
        record = sign_record(record, key)
    try:
        write_atomic(json_path, json.dumps(record, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
        write_atomic(html_path, page)
    except OSError as exc:
        raise UsageError(f"cannot write the report into {json_path.parent}: {exc.strerror or exc}: check the "
                         "folder's permissions and free space") from None
    if pdf_path is not None:
        print_pdf(html_path, pdf_path, browser)
    return ReportFiles(str(json_path), str(html_path), fp.identity.sha256, len(report.matches), signer, entry_seq,
                       None if pdf_path is None else str(pdf_path))
