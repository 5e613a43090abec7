"""The canonical form of a JSON record: what is signed, time-stamped and hash-chained.

Keys sorted, no whitespace, UTF-8 (non-ASCII characters kept as they are, a lone surrogate as its
JSON escape), no NaN or infinity,
and the top-level ``signature`` block left out, so that a report can carry its own signature.
Python's ``json`` writes each float as the shortest text that reads back to the same number, so
parsing a report and writing it canonically again gives the very bytes that were signed, however
the file was indented. ``read_record`` parses strictly: JSON that readers may understand
differently (a key twice in one object, NaN, a number too large for a double) is refused, so the
signed meaning is the only one.
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
    # a lone surrogate (an undecodable byte of a file name) becomes its JSON escape \udcXX, as the
    # report file holds it (files.write_atomic), instead of failing: valid JSON, and the same bytes again
    return text.encode("utf-8", errors="backslashreplace")


def canonical_digest(record: Mapping[str, object], *, exclude_signature: bool = True) -> str:
    """SHA-256 (hex) of ``canonical_bytes(record)``."""
    return hashlib.sha256(canonical_bytes(record, exclude_signature=exclude_signature)).hexdigest()


class AmbiguousJSONError(ValueError):
    """The JSON text can be read two ways: a key twice in one object, or a number that is not finite."""


class AmbiguousReportError(ReportIntegrityError):
    """A report refused before any check: its JSON is ambiguous (see ``parse_json``)."""


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    seen: dict[str, object] = {}
    for key, value in pairs:
        if key in seen:
            raise AmbiguousJSONError(f"the key {key!r} appears twice in one object")
        seen[key] = value
    return seen


def _no_constant(name: str) -> object:
    raise AmbiguousJSONError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise AmbiguousJSONError(f"the number {text[:40]} is too large to be read the same everywhere")
    return value


def parse_json(text: str) -> object:
    """Parse strict JSON: ``AmbiguousJSONError`` for a duplicate key (anywhere) or NaN/Infinity/overflow.

    Readers disagree on such text: Python keeps the last of two equal keys, others the first, so a
    forger could show one reader what the signature covers and another something else.
    """
    return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=_finite)


def read_record(path: str | os.PathLike[str]) -> dict[str, object]:
    """Read a JSON report from ``path``. Raises ``ReportIntegrityError`` when it is not one unambiguous JSON object."""
    try:
        data = parse_json(Path(path).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no such report: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read the report {path}: {exc.strerror or exc}") from None
    except AmbiguousJSONError as exc:
        raise AmbiguousReportError(f"{path} is ambiguous JSON ({exc}): readers would disagree on what it says, so "
                                   "it is not checked further") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReportIntegrityError(f"report altered or not a provenance report: {path} is not valid JSON "
                                   f"({exc})") from None
    except RecursionError:
        raise ReportIntegrityError(f"report altered or not a provenance report: {path} is JSON nested too "
                                   "deeply to be one") from None
    if not isinstance(data, dict):
        raise ReportIntegrityError(f"report altered or not a provenance report: {path} is not a JSON object")
    return data
