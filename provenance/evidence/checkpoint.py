"""Custody checkpoints, and checking the custody log against the heads kept outside the archive.

The custody log (``provenance.archive.custody``) is hash-chained, but whoever can write the
database can wipe it or rebuild it with recomputed hashes, and the file alone cannot show that.
What shows it is a head (entry number and hash) recorded somewhere else when the log was as it
should be:

- a checkpoint, written by ``make_checkpoint`` (``provenance custody checkpoint --sign KEY --out
  FILE``): a small signed JSON file (schema ``provenance.custody-checkpoint``) with the archive id,
  the number of entries, the head and the time; the latest is also kept in the archive's ``meta``;
- an evidence report, which records the head the log had when the report was made.

``verify_custody`` checks the log's own links, then that the log still passes through each head
given (checkpoints and reports, whose signatures must be valid and by a trusted key, see
``provenance.evidence.trust``), and through the checkpoint kept in the archive's ``meta`` (that one
only catches a careless wipe, since it sits in the same file).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from provenance.archive.custody import (
    GENESIS,
    ChainStatus,
    CustodyAnchor,
    record_checkpoint,
    recorded_checkpoint,
    verify_chain,
)
from provenance.archive.store import ArchiveStore, archive_location, shown_location
from provenance.canonical import canonical_bytes, parse_json, read_record
from provenance.errors import CustodyChainError, ReportIntegrityError, UsageError
from provenance.evidence.record import SCHEMA as REPORT_SCHEMA
from provenance.evidence.record import CustodyHead
from provenance.evidence.signing import check_signature, key_id, load_private_key, sign_record
from provenance.evidence.trust import TrustedKeys, require_trusted, trusted
from provenance.files import write_atomic
from provenance.times import utc_now
from provenance.version import __version__

SCHEMA = "provenance.custody-checkpoint"
SCHEMA_VERSION = 1

_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Checkpoint:
    """The custody log's state at one moment, as a checkpoint records it."""

    made_at: str
    archive: str  # absolute path of the archive then (for people; the id is what is compared)
    archive_id: str
    entries: int
    head: CustodyHead  # seq 0 and 64 zeros for an empty log

    def to_json(self) -> dict[str, object]:
        """The serialised checkpoint (schema ``provenance.custody-checkpoint``), before signing."""
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "made_at": self.made_at,
            "archive": self.archive,
            "archive_id": self.archive_id,
            "entries": self.entries,
            "head": {"seq": self.head.seq, "entry_hash": self.head.entry_hash},
            "tool": {"name": "provenance", "version": __version__},
        }


@dataclass(frozen=True)
class CheckpointFile:
    """What ``make_checkpoint`` wrote."""

    path: str
    checkpoint: Checkpoint
    key_id: str


def make_checkpoint(archive: str | os.PathLike[str], key_path: str | os.PathLike[str],
                    out: str | os.PathLike[str], *, overwrite: bool = False) -> CheckpointFile:
    """Check the custody log of ``archive``, then write its signed checkpoint to ``out`` and into its ``meta``.

    Raises ``CustodyChainError`` when the log is already broken (nothing is written), and
    ``UsageError`` when ``out`` exists (unless ``overwrite``) or the key is unusable.
    """
    target = Path(out).expanduser()
    if target.is_dir():
        raise UsageError(f"--out {out} is a folder: give the checkpoint's file name")
    if os.path.lexists(target) and not overwrite:
        raise UsageError(f"{target} exists: give --overwrite to replace it (a checkpoint is never replaced silently)")
    key = load_private_key(key_path)
    with ArchiveStore.open(archive_location(archive), create=False) as store:
        status = verify_custody(store)
        if not status.ok:
            raise CustodyChainError(f"no checkpoint written: the custody log is broken at entry #{status.broken_at}: "
                                    f"{status.reason}")
        seq, head_hash = (status.head_seq, status.head_hash) if status.head_seq else (0, GENESIS)
        checkpoint = Checkpoint(made_at=utc_now(), archive=shown_location(archive), archive_id=store.archive_id(),
                                entries=status.entries, head=CustodyHead(int(seq), str(head_hash)))
        record = sign_record(checkpoint.to_json(), key)
        try:
            write_atomic(target, json.dumps(record, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
        except OSError as exc:
            raise UsageError(f"cannot write the checkpoint {target}: {exc.strerror or exc}") from None
        record_checkpoint(store, canonical_bytes(record, exclude_signature=False).decode("utf-8"))
    return CheckpointFile(str(target), checkpoint, key_id(key.public_key()))


def _head(value: object, what: str) -> tuple[int, str]:
    seq = value.get("seq") if isinstance(value, Mapping) else None
    entry_hash = value.get("entry_hash") if isinstance(value, Mapping) else None
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0 or not isinstance(entry_hash, str) \
            or not _HASH.fullmatch(entry_hash) or (seq == 0) != (entry_hash == GENESIS):
        raise ReportIntegrityError(f"{what} is malformed: its custody head is not an entry number and a SHA-256")
    return seq, entry_hash


def checkpoint_anchor(record: Mapping[str, object], source: str) -> CustodyAnchor:
    """The head a checkpoint record (already parsed) holds, named ``source`` in messages."""
    if record.get("schema") != SCHEMA:
        raise UsageError(f"{source} is not a custody checkpoint (schema {record.get('schema')!r})")
    seq, entry_hash = _head(record.get("head"), source)
    archive_id = record.get("archive_id")
    if not isinstance(archive_id, str) or record.get("entries") != seq:
        raise ReportIntegrityError(f"{source} is malformed: its archive id or entry count is missing or wrong")
    return CustodyAnchor(seq, entry_hash, archive_id, f"{source} (made {record.get('made_at')})")


def _signed_by_trusted(record: Mapping[str, object], keys: TrustedKeys, what: str) -> None:
    try:
        signature = check_signature(record)
    except ReportIntegrityError as exc:
        raise ReportIntegrityError(f"{what}: {exc}") from None
    require_trusted(signature, keys, what)


def read_checkpoint(path: str | os.PathLike[str], keys: TrustedKeys) -> CustodyAnchor:
    """The head the checkpoint file ``path`` records, once its signature is checked and its key trusted.

    Raises ``ReportIntegrityError`` (altered, bad signature), ``UnsignedReportError``,
    ``UntrustedKeyError`` or ``UsageError`` (missing, not a checkpoint).
    """
    what = f"checkpoint {Path(path).name}"
    record = read_record(path)
    if record.get("schema") != SCHEMA:
        raise UsageError(f"{path} is not a custody checkpoint (schema {record.get('schema')!r})")
    _signed_by_trusted(record, keys, what)
    return checkpoint_anchor(record, what)


def read_report_head(path: str | os.PathLike[str], keys: TrustedKeys) -> CustodyAnchor:
    """The custody head the evidence report ``path`` records, once its signature is checked and its key trusted."""
    what = f"report {Path(path).name}"
    record = read_record(path)
    if record.get("schema") != REPORT_SCHEMA:
        raise UsageError(f"{path} is not a provenance evidence report (schema {record.get('schema')!r})")
    _signed_by_trusted(record, keys, what)
    custody = record.get("custody")
    if not isinstance(custody, Mapping):
        raise UsageError(f"{what} was made without an archive: it records no custody head")
    # reports of older versions have no "head": the entry they appended was the head then
    seq, entry_hash = _head(custody.get("head", custody.get("entry")), what)
    archive_id = custody.get("archive_id")
    if not isinstance(archive_id, str):
        raise ReportIntegrityError(f"{what} is malformed: it records no archive id")
    return CustodyAnchor(seq, entry_hash, archive_id, f"{what} (made {record.get('generated_at')})")


def kept_checkpoint(store: ArchiveStore) -> CustodyAnchor | ChainStatus | None:
    """The checkpoint kept in the archive's ``meta`` as an anchor; a broken status when it was altered; None."""
    text = recorded_checkpoint(store)
    if text is None:
        return None
    source = "the checkpoint kept in the archive"
    try:
        record = parse_json(text)
        if not isinstance(record, dict):
            raise ReportIntegrityError("it is not a JSON object")
        if check_signature(record) is None:
            raise ReportIntegrityError("it is not signed")
        return checkpoint_anchor(record, source)
    except (ValueError, ReportIntegrityError, UsageError) as exc:  # ValueError: AmbiguousJSONError, bad JSON
        return ChainStatus(False, 0, None, None, None, f"{source} was altered or replaced ({exc}): the archive's "
                                                        "meta table was written outside provenance")


def verify_custody(store: ArchiveStore, checkpoints: Sequence[str | os.PathLike[str]] = (),
                   reports: Sequence[str | os.PathLike[str]] = (),
                   keys: Sequence[str | os.PathLike[str]] = ()) -> ChainStatus:
    """Check the store's custody log: its links, and that it passes through every head kept outside it.

    ``checkpoints`` and ``reports`` are files whose signatures must be by a trusted key: one of
    ``keys`` (public key PEM files) when given, else one listed in the trusted-keys file. The
    checkpoint kept in the archive's ``meta`` is checked too. Errors reading the files given are
    raised (see ``read_checkpoint``); a log that disagrees gives a status that is not ok.
    """
    trust = trusted(keys)
    anchors = [read_checkpoint(p, trust) for p in checkpoints] + [read_report_head(p, trust) for p in reports]
    kept = kept_checkpoint(store)
    if isinstance(kept, ChainStatus):
        return kept
    if kept is not None:
        anchors.append(kept)
    return verify_chain(store, anchors)
