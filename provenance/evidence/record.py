"""The evidence record, typed: what a report says about one examination, before it is serialised and signed.

``EvidenceRecord`` is what ``make_report`` assembles; ``to_json`` gives its serialised form (schema
``provenance.evidence``), the one that is signed, time-stamped and rendered. The file's structure
report (``provenance.forensics.selfreport``: boxes, last writer, edit indicators, C2PA) sits in the
check record under "structure", as ``check --json --structure`` prints it, so it is signed with the
rest. The page is rendered from that serialised form on purpose: it shows exactly what the
signature covers. It is rendered before its own SHA-256 is added to the record (``page``) and the
record signed, so the page shows everything the record holds except its own digest and the signature value.
"side_by_side" lists, per match, the matched moments the page shows beside the archived pictures and
the SHA-256 of each JPEG it embeds (``provenance.report.html.ShownMatch``), so the record says what
was shown and the page's digest covers the pictures.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from provenance.archive.custody import CustodyEntry
from provenance.codec import to_jsonable
from provenance.forensics.selfreport import SelfReport
from provenance.model import CheckReport
from provenance.report.html import EVIDENCE_SCHEMA, ShownMatch
from provenance.report.json import check_record
from provenance.version import __version__

SCHEMA = EVIDENCE_SCHEMA  # named where the page is drawn, which tells evidence records from others
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Environment:
    """The software the examination ran on."""

    python: str
    platform: str
    ffmpeg: str | None  # the version ``ffmpeg -version`` gave, or None when it could not be run


@dataclass(frozen=True)
class ContactSheet:
    """The contact sheet the HTML page embeds, described by its hash."""

    sha256: str
    bytes: int
    embedded_in: str  # the HTML page's file name
    media_type: str = "image/jpeg"

    @classmethod
    def of(cls, jpeg: bytes, page_name: str) -> ContactSheet:
        """The description of ``jpeg``, embedded in the page named ``page_name``."""
        return cls(sha256=hashlib.sha256(jpeg).hexdigest(), bytes=len(jpeg), embedded_in=page_name)


@dataclass(frozen=True)
class Timeline:
    """The durations one match's timeline picture is drawn against."""

    sha256: str  # of the matched archived item
    query_duration: float
    archive_duration: float | None  # None when the item is no longer in the archive


@dataclass(frozen=True)
class CustodyHead:
    """The custody log's last entry when the report was made: a fixed point the log must still pass through."""

    seq: int
    entry_hash: str


@dataclass(frozen=True)
class CustodyRecord:
    """The custody entry the report made, the log's head then, and the evidence file's history in the log."""

    archive: str  # absolute path of the archive
    archive_id: str
    entry: CustodyEntry
    history: tuple[CustodyEntry, ...]
    head: CustodyHead


@dataclass(frozen=True)
class PageDigest:
    """The HTML page as written: its file name (beside the JSON record) and SHA-256."""

    name: str
    sha256: str
    bytes: int
    media_type: str = "text/html"

    @classmethod
    def of(cls, page: bytes, name: str) -> PageDigest:
        """The digest of the page bytes ``page``, written as ``name``."""
        return cls(name=name, sha256=hashlib.sha256(page).hexdigest(), bytes=len(page))


@dataclass(frozen=True)
class EvidenceRecord:
    """One examination as the report records it."""

    generated_at: str
    examiner: str
    case: str | None
    environment: Environment
    check: CheckReport  # keyframe files dropped: they were temporary
    contact_sheet: ContactSheet | None
    timelines: tuple[Timeline, ...]
    custody: CustodyRecord | None
    page: PageDigest | None = None  # None only while the page itself is being rendered
    structure: SelfReport | None = None  # what the file says about itself (``check --structure``), read with it
    side_by_side: tuple[ShownMatch, ...] = ()  # per match (with an archive), the views the page shows

    def to_json(self) -> dict[str, object]:
        """The serialised record (schema ``provenance.evidence``), in its documented key order."""
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "generated_at": self.generated_at,
            "examiner": self.examiner,
            "case": self.case,
            "tool": {"name": "provenance", "version": __version__},
            "environment": to_jsonable(self.environment),
            "sha256": self.check.fingerprint.identity.sha256,
            "check": check_record(self.check, self.structure),
            "contact_sheet": None if self.contact_sheet is None else {
                "media_type": self.contact_sheet.media_type, "sha256": self.contact_sheet.sha256,
                "bytes": self.contact_sheet.bytes, "embedded_in": self.contact_sheet.embedded_in,
            },
            "timelines": [to_jsonable(t) for t in self.timelines],
            "side_by_side": [to_jsonable(m) for m in self.side_by_side],
            "custody": to_jsonable(self.custody),
            "page": to_jsonable(self.page),
        }
