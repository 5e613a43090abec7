"""The canonical form of a JSON record: what is signed, time-stamped and hash-chained.

Keys sorted, no whitespace, UTF-8 (non-ASCII characters kept as they are), no NaN or infinity,
and the top-level ``signature`` block left out, so that a report can carry its own signature.
Python's ``json`` writes each float as the shortest text that reads back to the same number, so
parsing a report and writing it canonically again gives the very bytes that were signed, however
the file was indented.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from provenance.errors import ReportIntegrityError, UsageError

SIGNATURE_KEY = "signature"
"""The top-level key of a report that holds its signature block (excluded from what is signed)."""

CANONICALIZATION = "provenance-canonical-json-1"
"""The name of this canonical form, recorded in every signature block."""


def canonical_bytes(record: Mapping[str, object], *, exclude_signature: bool = True) -> bytes:
    """The canonical UTF-8 bytes of ``record``; without its ``signature`` block unless told otherwise."""
    data = {k: v for k, v in record.items() if not (exclude_signature and k == SIGNATURE_KEY)}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def canonical_digest(record: Mapping[str, object], *, exclude_signature: bool = True) -> str:
    """SHA-256 (hex) of ``canonical_bytes(record)``."""
    return hashlib.sha256(canonical_bytes(record, exclude_signature=exclude_signature)).hexdigest()


def read_record(path: str | os.PathLike[str]) -> dict[str, object]:
    """Read a JSON report from ``path``. Raises ``ReportIntegrityError`` when it is not a JSON object."""
    try:
        data = json.loads(Path(path).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no such report: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read the report {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReportIntegrityError(f"report altered or not a provenance report: {path} is not valid JSON "
                                   f"({exc})") from None
    if not isinstance(data, dict):
        raise ReportIntegrityError(f"report altered or not a provenance report: {path} is not a JSON object")
    return data
