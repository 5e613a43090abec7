"""``verify``: is the evidence file the one that was examined, and is its report as it was written?

Three checks, in this order, each with its own exit code (see ``provenance.errors``):

1. the report's signature, over its canonical form, optionally against a key the verifier pins
   (7 when the report was altered, the signature is bad or by another key, or it is unsigned);
2. the file's SHA-256, SHA-1, MD5 and size, recomputed read-only, against those the report
   records (6 when they differ);
3. an RFC 3161 token (``.tsr``) beside the report, against a CA file (8 when it does not verify).

The file is read only when the report is trustworthy enough for its hashes to mean something.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from provenance.archive.custody import Reading, record_custody
from provenance.canonical import read_record
from provenance.errors import EvidenceAlteredError, ReportIntegrityError, TimestampError, UsageError
from provenance.evidence.record import SCHEMA
from provenance.evidence.signing import SignatureInfo, check_signature, load_public_key
from provenance.evidence.timestamp import TimestampInfo, find_token, verify_timestamp
from provenance.media.identity import file_identity


@dataclass(frozen=True)
class Verification:
    """The outcome of ``verify_report``: an exit code and one line that says it all."""

    exit_code: int  # 0 intact; 6 file altered; 7 report altered/unsigned; 8 time stamp failed
    line: str
    report_intact: bool
    file_intact: bool | None  # None when the file was not checked
    file_path: str | None
    file_sha256: str | None  # as recomputed now
    signature: SignatureInfo | None
    timestamp: TimestampInfo | None


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
    return Verification(code, line, code not in (7,), file_intact, file_path, file_sha256, signature, None)


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
) -> Verification:
    """Verify the report at ``report_path`` and the evidence file (``file_path``, else the recorded path).

    ``public_key`` pins the signing key; ``tsa_ca`` makes the ``.tsr`` beside the report (or
    ``token``) mandatory and checks it; ``allow_unsigned`` accepts a report without signature (its
    content then cannot be checked). With ``archive``, reading the file is logged in its custody
    log. Usage problems (missing files, bad key files) raise ``UsageError``.
    """
    expected = load_public_key(public_key) if public_key else None
    if tsa_ca is not None and not Path(tsa_ca).is_file():
        raise UsageError(f"no such CA file: {tsa_ca}")
    try:
        record = read_record(report_path)
        if record.get("schema") != SCHEMA:
            raise ReportIntegrityError(f"{Path(report_path).name} is not a provenance evidence report "
                                       f"(schema {record.get('schema')!r})")
        signature = check_signature(record, expected)
        if signature is None and expected is not None:
            raise ReportIntegrityError("report is not signed, but a key was given to check it against")
        recorded = _recorded_file(record)
    except ReportIntegrityError as exc:
        return _failed(7, f"REPORT ALTERED: {exc}")

    target = Path(file_path) if file_path is not None else Path(str(recorded.get("path") or ""))
    if not target.is_file():
        raise UsageError(f"the evidence file is not at {target}: give its path (provenance verify REPORT FILE)")
    seen = file_identity(target)
    if archive is not None:
        record_custody(archive, [Reading(seen.sha256, seen.path)], command="provenance verify", examiner=examiner)
    found = {"SHA-256": seen.sha256, "SHA-1": seen.sha1, "MD5": seen.md5, "size": seen.size}
    wanted = {"SHA-256": recorded["sha256"], "SHA-1": recorded["sha1"], "MD5": recorded["md5"],
              "size": recorded["size"]}
    differ = [name for name in found if found[name] != wanted[name]]
    if differ:
        error = EvidenceAlteredError(
            f"FILE ALTERED: {seen.name} has SHA-256 {seen.sha256} ({seen.size:,} bytes), the report records "
            f"{recorded['sha256']} ({recorded['size']:,} bytes); {', '.join(differ)} differ"
        )
        return _failed(error.exit_code, str(error), signature=signature, file_path=seen.path,
                       file_sha256=seen.sha256, file_intact=False)

    stamp = None
    token_path = Path(token) if token is not None else find_token(report_path)
    stamp_note = ""
    if tsa_ca is not None:
        try:
            if token_path is None or not token_path.is_file():
                raise TimestampError(f"no time-stamp token beside {Path(report_path).name} (expected "
                                     f"{Path(report_path).with_suffix('.tsr').name})")
            stamp = verify_timestamp(record, token_path, tsa_ca)
        except TimestampError as exc:
            return Verification(exc.exit_code, f"TIMESTAMP INVALID: {exc} (file and report are intact)", True, True,
                                seen.path, seen.sha256, signature, None)
        stamp_note = (f"; time-stamped {stamp.time} by {stamp.tsa or 'the TSA'}, token verified against "
                      f"{Path(tsa_ca).name}")
    elif token_path is not None:
        stamp_note = f"; time-stamp token {token_path.name} present but not checked (give --tsa-ca CAFILE)"

    file_part = f"file intact ({seen.name}, SHA-256 {seen.sha256}, {seen.size:,} bytes, as recorded)"
    if signature is None:
        line = f"{file_part}; report NOT SIGNED: its content cannot be checked{stamp_note}"
        if not allow_unsigned:
            return Verification(ReportIntegrityError.exit_code, f"REPORT UNSIGNED: {line}", False, True, seen.path,
                                seen.sha256, None, stamp)
        return Verification(0, f"OK (unsigned accepted): {line}", False, True, seen.path, seen.sha256, None, stamp)
    whose = "the given key" if signature.pinned else "the key embedded in it (give --key to pin the expected key)"
    line = (f"OK: {file_part} and report intact (Ed25519 signature by key {signature.key_id[:16]}, checked "
            f"against {whose}){stamp_note}")
    return Verification(0, line, True, True, seen.path, seen.sha256, signature, stamp)
