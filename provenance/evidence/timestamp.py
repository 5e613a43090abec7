"""RFC 3161 time stamps, offline part: write a request (``.tsq``) and check a token (``.tsr``).

The request asks a time-stamping authority to sign the *report digest*: SHA-256 of the canonical
form of the whole report, signature block included (see ``provenance.canonical``), so the
token vouches for the report and its signature at once; sign the report before requesting. The
request is DER built here (it is four fields); it asks for the TSA's certificate in the reply
(``certReq``) and carries a random nonce. Send it to any RFC 3161 TSA, e.g.
``curl --data-binary @r.tsq -H 'Content-Type: application/timestamp-query' URL > r.tsr``, and put the
reply beside the report. Checking the reply is left to ``openssl ts -verify`` against the CA file
the examiner trusts.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from provenance.canonical import canonical_digest, read_record
from provenance.errors import MissingToolError, TimestampError, UsageError

SHA256_ALGORITHM_ID = bytes.fromhex("300d06096086480165030402010500")
"""DER AlgorithmIdentifier of SHA-256 (OID 2.16.840.1.101.3.4.2.1, NULL parameters)."""

OPENSSL_TIMEOUT_S = 60


@dataclass(frozen=True)
class TimestampRequest:
    """A ``.tsq`` written for a report."""

    path: str
    digest: str  # the report digest (hex) the request asks to be time-stamped
    nonce: int


@dataclass(frozen=True)
class TimestampInfo:
    """A token that verified: when the TSA says the report digest existed, and who says so."""

    path: str
    time: str  # ISO 8601 UTC as the token states it (or the TSA's text when it cannot be parsed)
    tsa: str | None
    serial: str | None


def report_digest(record: Mapping[str, object]) -> str:
    """The digest a time stamp covers: SHA-256 of the canonical whole report, signature included."""
    return canonical_digest(record, exclude_signature=False)


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        length = bytes([size])
    else:
        raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def _der_integer(value: int) -> bytes:
    if value < 0:
        raise ValueError("only non-negative integers are needed here")
    raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    if raw[0] & 0x80:  # keep it positive in two's complement
        raw = b"\x00" + raw
    return _der(0x02, raw)


def timestamp_request_der(digest: bytes, nonce: int, *, cert_req: bool = True) -> bytes:
    """DER of an RFC 3161 ``TimeStampReq`` (v1) for a SHA-256 ``digest``."""
    if len(digest) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes")
    imprint = _der(0x30, SHA256_ALGORITHM_ID + _der(0x04, digest))
    body = _der_integer(1) + imprint + _der_integer(nonce)
    if cert_req:
        body += _der(0x01, b"\xff")
    return _der(0x30, body)


def sibling(report_path: str | os.PathLike[str], suffix: str) -> Path:
    """``clip.provenance.json`` -> ``clip.provenance.tsq`` (the report's name with ``suffix`` for ``.json``)."""
    path = Path(report_path)
    return path.with_suffix(suffix) if path.suffix.lower() == ".json" else path.with_name(path.name + suffix)


def write_timestamp_request(report_path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None,
                            *, overwrite: bool = False) -> TimestampRequest:
    """Write the ``.tsq`` for the report at ``report_path`` (beside it unless ``out`` is given)."""
    record = read_record(report_path)
    digest = report_digest(record)
    nonce = secrets.randbits(63) | (1 << 62)
    target = Path(out) if out is not None else sibling(report_path, ".tsq")
    if os.path.lexists(target) and not overwrite:  # a dangling link counts: writing would create its target
        raise UsageError(f"{target} exists: give --overwrite to replace it")
    # a new file renamed into place: a link at the target is replaced, never written through
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as handle:
            handle.write(timestamp_request_der(bytes.fromhex(digest), nonce))
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    return TimestampRequest(str(target), digest, nonce)


def find_token(report_path: str | os.PathLike[str]) -> Path | None:
    """The ``.tsr`` beside the report (``NAME.tsr`` or ``NAME.json.tsr``), if there is one."""
    path = Path(report_path)
    for candidate in (sibling(path, ".tsr"), path.with_name(path.name + ".tsr")):
        if candidate.is_file():
            return candidate
    return None


def _openssl() -> str:
    found = shutil.which("openssl")
    if found is None:
        raise MissingToolError("openssl is not installed; it checks time-stamp tokens (Debian: apt-get install "
                               "openssl)")
    return found


def _openssl_reason(stderr: str) -> str:
    # OpenSSL 3 error lines: <thread>:error:<code>:<library>:<function>:<reason>:<file>:<line>:...
    for line in stderr.splitlines():
        parts = line.split(":")
        if len(parts) > 5 and parts[1] == "error":
            return parts[5]
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith("Using configuration")]
    return lines[-1] if lines else "unknown reason"


def _token_text(openssl: str, token: Path) -> str:
    proc = subprocess.run([openssl, "ts", "-reply", "-in", str(token), "-text"], capture_output=True, text=True,
                          timeout=OPENSSL_TIMEOUT_S, check=False)
    return proc.stdout if proc.returncode == 0 else ""


def _parse_time(text: str) -> str:
    found = re.search(r"^Time stamp: (.+)$", text, re.MULTILINE)
    if not found:
        return "unknown"
    raw = " ".join(found.group(1).split())
    for form in ("%b %d %H:%M:%S %Y GMT", "%b %d %H:%M:%S.%f %Y GMT"):
        try:
            return datetime.strptime(raw, form).replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")
        except ValueError:
            continue
    return raw


def verify_timestamp(record: Mapping[str, object], token: str | os.PathLike[str],
                     ca_file: str | os.PathLike[str]) -> TimestampInfo:
    """Check that ``token`` (a TSA reply) time-stamps ``record``'s digest and chains to ``ca_file``.

    Raises ``TimestampError`` with OpenSSL's reason when it does not, ``MissingToolError`` without
    ``openssl``, ``UsageError`` when the CA file is missing.
    """
    if not Path(ca_file).is_file():
        raise UsageError(f"no such CA file: {ca_file}")
    openssl = _openssl()
    proc = subprocess.run(
        [openssl, "ts", "-verify", "-digest", report_digest(record), "-in", str(token), "-CAfile", str(ca_file)],
        capture_output=True, text=True, timeout=OPENSSL_TIMEOUT_S, check=False,
    )
    if proc.returncode != 0 or "Verification: OK" not in proc.stdout:
        reason = _openssl_reason(proc.stderr)
        hint = " (the token is for other data: the report was changed after it was time-stamped)" \
            if "imprint" in reason else ""
        raise TimestampError(f"time-stamp token {Path(token).name} does not verify: {reason}{hint}")
    text = _token_text(openssl, Path(token))
    tsa = re.search(r"^TSA: (.+)$", text, re.MULTILINE)
    serial = re.search(r"^Serial number: (.+)$", text, re.MULTILINE)
    return TimestampInfo(
        path=str(token),
        time=_parse_time(text),
        tsa=None if tsa is None or tsa.group(1).strip() == "unspecified" else tsa.group(1).strip(),
        serial=serial.group(1).strip() if serial else None,
    )
