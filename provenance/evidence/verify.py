"""``verify``: is the evidence file the one that was examined, and is its report as it was written?

The checks, in this order, each with its own exit code (see ``provenance.errors``):

1. the report is read strictly (7 for ambiguous JSON, e.g. a key twice in one object) and its
   signature checked over its canonical form (7 when the report was altered or the signature is
   bad); the signing key must be trusted: the one given with ``--key`` (7 for another), else one
   listed in the trusted-keys file (``provenance.evidence.trust``; 10 when it is not). A report
   without a signature is unsigned (11), never "altered";
2. the file's SHA-256, SHA-1, MD5 and size, recomputed read-only, against those the report
   records (6 when they differ);
3. the HTML page, when it is beside the report under the name the record gives, against the
   SHA-256 the record holds (7, "page altered"; a missing page is said, not fatal);
4. an RFC 3161 token (``.tsr``) beside the report, against a CA file (8 when it does not verify).

The file is read only when the report is trustworthy enough for its hashes to mean something: not
for a report signed by an untrusted key.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from provenance.archive.custody import Reading, record_custody
from provenance.canonical import AmbiguousReportError, read_record
from provenance.errors import (
    EvidenceAlteredError,
    ReportIntegrityError,
    TimestampError,
    UnsignedReportError,
    UntrustedKeyError,
    UsageError,
)
from provenance.evidence.record import SCHEMA
from provenance.evidence.signing import SignatureInfo, check_signature, load_public_key
from provenance.evidence.timestamp import TimestampInfo, find_token, verify_timestamp
from provenance.evidence.trust import TrustedKey, load_trusted_keys, untrusted_hint
from provenance.media.identity import file_identity
from provenance.model import FileIdentity


@dataclass(frozen=True)
class Verification:
    """The outcome of ``verify_report``: an exit code and one line that says it all."""

    exit_code: int  # 0 intact; 6 file altered; 7 report or page altered; 8 time stamp; 10 untrusted; 11 unsigned
    line: str
    report_intact: bool
    file_intact: bool | None  # None when the file was not checked
    file_path: str | None
    file_sha256: str | None  # as recomputed now
    signature: SignatureInfo | None
    timestamp: TimestampInfo | None
    trusted_key: TrustedKey | None = None  # the trusted-keys entry that made the signature trusted (not --key)
    page_intact: bool | None = None  # None when the page was not checked (not beside the report, not recorded)


def _recorded_file(record: Mapping[str, object]) -> Mapping[str, object]:
    check = record.get("check")
    recorded = check.get("file") if isinstance(check, Mapping) else None
    if not isinstance(recorded, Mapping) or not all(k in recorded for k in ("sha256", "sha1", "md5", "size")):
        raise ReportIntegrityError("report altered or malformed: it does not record the file's hashes")
    if record.get("sha256") != recorded["sha256"]:
        raise ReportIntegrityError("report altered: its two records of the file's SHA-256 disagree")
    return recorded


def _failed(code: int, line: str, *, signature: SignatureInfo | None = None, file_path: str | None = None,
            file_sha256: str | None = None, file_intact: bool | None = None) -> Verification:
    report_intact = code not in (ReportIntegrityError.exit_code, UntrustedKeyError.exit_code,
                                 UnsignedReportError.exit_code)
    return Verification(code, line, report_intact, file_intact, file_path, file_sha256, signature, None)


def check_page(record: Mapping[str, object], report_path: str | os.PathLike[str]) -> tuple[bool | None, str]:
    """The HTML page beside the report against the SHA-256 the record holds: (intact, what to say).

    Intact is None when the page is not there or the record holds no digest (reports of older
    versions), False when it differs. Raises ``ReportIntegrityError`` when the record's page entry
    is malformed.
    """
    page = record.get("page")
    if page is None:
        return None, "page not checked (the report records no page digest: made by an older version)"
    name = page.get("name") if isinstance(page, Mapping) else None
    wanted = page.get("sha256") if isinstance(page, Mapping) else None
    if not isinstance(name, str) or not isinstance(wanted, str) or name in ("", ".", "..") or Path(name).name != name:
        raise ReportIntegrityError("report altered or malformed: its page entry is not a file name and a SHA-256")
    path = Path(report_path).parent / name
    if not path.is_file():
        return None, f"page {name} not beside the report (not checked)"
    try:
        found = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return None, f"page {name} could not be read ({exc.strerror or exc}): not checked"
    if found != wanted:
        return False, (f"the page {name} has SHA-256 {found}, the record says {wanted}: it was changed after the "
                       "report was made (the JSON record is authoritative)")
    return True, f"page intact ({name})"


def _differences(seen: FileIdentity, recorded: Mapping[str, object]) -> list[str]:
    """Which of the file's SHA-256, SHA-1, MD5 and size differ from what the report records."""
    found = {"SHA-256": seen.sha256, "SHA-1": seen.sha1, "MD5": seen.md5, "size": seen.size}
    wanted = {"SHA-256": recorded["sha256"], "SHA-1": recorded["sha1"], "MD5": recorded["md5"],
              "size": recorded["size"]}
    return [name for name in found if found[name] != wanted[name]]


def _time_stamp(record: Mapping[str, object], report_path: str | os.PathLike[str],
                token: str | os.PathLike[str] | None,
                tsa_ca: str | os.PathLike[str] | None) -> tuple[TimestampInfo | None, str]:
    """The report's time stamp and what to say of it: checked against ``tsa_ca`` when given (then the
    token, ``token`` or the ``.tsr`` beside the report, must be there: ``TimestampError``), else only
    mentioned when present."""
    token_path = Path(token) if token is not None else find_token(report_path)
    if tsa_ca is None:
        if token_path is None:
            return None, ""
        return None, f"; time-stamp token {token_path.name} present but not checked (give --tsa-ca CAFILE)"
    if token_path is None or not token_path.is_file():
        raise TimestampError(f"no time-stamp token beside {Path(report_path).name} (expected "
                             f"{Path(report_path).with_suffix('.tsr').name})")
    stamp = verify_timestamp(record, token_path, tsa_ca)
    return stamp, f"; time-stamped {stamp.time} by {stamp.tsa or 'the TSA'}, token verified against {Path(tsa_ca).name}"


def verify_report(
    report_path: str | os.PathLike[str],
    file_path: str | os.PathLike[str] | None = None,
    *,
    public_key: str | os.PathLike[str] | None = None,
    tsa_ca: str | os.PathLike[str] | None = None,
    token: str | os.PathLike[str] | None = None,
    allow_unsigned: bool = False,
    archive: str | None = None,
    examiner: str | None = None,
    trusted_keys: str | os.PathLike[str] | None = None,
) -> Verification:
    """Verify the report at ``report_path`` and the evidence file (``file_path``, else the recorded path).

    ``public_key`` pins the signing key; without it, the signing key must be listed in the
    trusted-keys file (``trusted_keys``, default ``provenance.evidence.trust.trusted_keys_path()``).
    ``tsa_ca`` makes the ``.tsr`` beside the report (or ``token``) mandatory and checks it;
    ``allow_unsigned`` accepts a report without signature (its content then cannot be checked).
    With ``archive``, reading the file is logged in its custody log. Usage problems (missing
    files, bad key files, a bad trusted-keys line) raise ``UsageError``.
    """
    expected = load_public_key(public_key) if public_key else None
    keys = load_trusted_keys(trusted_keys) if expected is None else None
    if tsa_ca is not None and not Path(tsa_ca).is_file():
        raise UsageError(f"no such CA file: {tsa_ca}")
    try:
        record = read_record(report_path)
        if record.get("schema") != SCHEMA:
            raise ReportIntegrityError(f"{Path(report_path).name} is not a provenance evidence report "
                                       f"(schema {record.get('schema')!r})")
        signature = check_signature(record, expected)
        recorded = _recorded_file(record)
    except AmbiguousReportError as exc:
        return _failed(ReportIntegrityError.exit_code, f"REPORT REFUSED: {exc}")
    except ReportIntegrityError as exc:
        return _failed(ReportIntegrityError.exit_code, f"REPORT ALTERED: {exc}")
    if signature is None and expected is not None:
        return _failed(UnsignedReportError.exit_code, "REPORT UNSIGNED: the report carries no signature, so it "
                                                      "cannot be checked against the given key")
    trusted_key = None
    if signature is not None and keys is not None:
        trusted_key = keys.find(signature.key_id)
        if trusted_key is None:
            return _failed(UntrustedKeyError.exit_code,
                           f"UNTRUSTED KEY: signature valid but by an untrusted key {signature.key_id[:16]}: the "
                           f"report is as that key signed it, but anyone can make a key; {untrusted_hint(keys)} "
                           "(the file was not checked)", signature=signature)

    target = Path(file_path) if file_path is not None else Path(str(recorded.get("path") or ""))
    if not target.is_file():
        raise UsageError(f"the evidence file is not at {target}: give its path (provenance verify REPORT FILE)")
    seen = file_identity(target)
    if archive is not None:
        record_custody(archive, [Reading(seen.sha256, seen.path)], command="provenance verify", examiner=examiner)
    differ = _differences(seen, recorded)
    if differ:
        error = EvidenceAlteredError(
            f"FILE ALTERED: {seen.name} has SHA-256 {seen.sha256} ({seen.size:,} bytes), the report records "
            f"{recorded['sha256']} ({recorded['size']:,} bytes); {', '.join(differ)} differ"
        )
        return _failed(error.exit_code, str(error), signature=signature, file_path=seen.path,
                       file_sha256=seen.sha256, file_intact=False)

    try:
        page_intact, page_note = check_page(record, report_path)
    except ReportIntegrityError as exc:
        return _failed(exc.exit_code, f"REPORT ALTERED: {exc}", signature=signature, file_path=seen.path,
                       file_sha256=seen.sha256, file_intact=True)
    if page_intact is False:
        intact = "the file and the JSON record are intact" if signature else "the file is intact, the record unsigned"
        return Verification(ReportIntegrityError.exit_code, f"PAGE ALTERED: {page_note} ({intact})",
                            signature is not None, True, seen.path, seen.sha256, signature, None, trusted_key, False)

    try:
        stamp, stamp_note = _time_stamp(record, report_path, token, tsa_ca)
    except TimestampError as exc:
        return Verification(exc.exit_code, f"TIMESTAMP INVALID: {exc} (file and report are intact)", True, True,
                            seen.path, seen.sha256, signature, None, trusted_key, page_intact)

    file_part = f"file intact ({seen.name}, SHA-256 {seen.sha256}, {seen.size:,} bytes, as recorded)"
    if signature is None:
        line = f"{file_part}; report NOT SIGNED: its content cannot be checked; {page_note}{stamp_note}"
        if not allow_unsigned:
            return Verification(UnsignedReportError.exit_code, f"REPORT UNSIGNED: {line}", False, True, seen.path,
                                seen.sha256, None, stamp, None, page_intact)
        return Verification(0, f"OK (unsigned accepted): {line}", False, True, seen.path, seen.sha256, None, stamp,
                            None, page_intact)
    if trusted_key is None:
        whose = "the given key"
    else:
        named = f"{trusted_key.comment}, " if trusted_key.comment else ""
        whose = f"a trusted key ({named}{trusted_key.source})"
    line = (f"OK: {file_part} and report intact (Ed25519 signature by key {signature.key_id[:16]}, checked "
            f"against {whose}); {page_note}{stamp_note}")
    return Verification(0, line, True, True, seen.path, seen.sha256, signature, stamp, trusted_key, page_intact)
