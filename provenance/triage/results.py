"""Frozen dataclasses that pass between the triage modules (walk, worker, journal, cluster, reports).

A triage looks at *paths* (what the walk found) and at *contents* (distinct SHA-256s): 300 byte-identical
copies are 300 paths and one content, analysed once. Paths are ``str`` as Python decodes file names
(undecodable bytes kept as surrogate escapes), so any name on disk round-trips.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from provenance.archive.custody import CustodyEntry
from provenance.archive.postgres import masked_location
from provenance.match.verdict import ARCHIVE_VERDICTS
from provenance.model import Appearance, FileIdentity, Fingerprint, Match, Sighting
from provenance.times import utc_now
from provenance.vision.features import FrameFeatures

VERDICT_TEXT = {**ARCHIVE_VERDICTS, "error": "error: the file could not be read as media"}
"""The triage verdicts, most known first: ``check``'s (``match.verdict.archive_verdict``), and ``error``,
which is not a verdict on footage."""


@dataclass(frozen=True)
class Candidate:
    """A file the walk found that is (or claims to be) media, with what its first bytes say."""

    path: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    detected: str  # e.g. "video/mp4", "image/jpeg", "empty", "unreadable", "unknown (media file name)"


@dataclass(frozen=True)
class Skipped:
    """A path the walk did not triage, and why (not media, a link loop, the report folder...)."""

    path: str
    reason: str


@dataclass(frozen=True)
class WalkResult:
    """Everything under the input folders: media candidates and skipped paths, each in walk order."""

    candidates: tuple[Candidate, ...]
    skipped: tuple[Skipped, ...]


@dataclass(frozen=True)
class HashTask:
    """Work for a process: identify one path (hashes, file times) and read its yt-dlp sidecar."""

    path: str


@dataclass(frozen=True)
class Hashed:
    """The identity of one path, or why it could not be read."""

    path: str
    identity: FileIdentity | None
    sightings: tuple[Sighting, ...]  # a yt-dlp .info.json beside the file's; after the pool, a Telegram export's or
    # the file name's too (``origins``)
    error: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnalyseTask:
    """Work for a process: fingerprint one content (through one of its paths) and match it."""

    path: str
    sha256: str
    archive: str | None  # None: no archive yet (``--add-new`` will create it), nothing to match
    archive_features: bool = False  # also compute the local features an archived item keeps (--add-new)


@dataclass(frozen=True, eq=False)
class ClusterTask:
    """Work for a process: match one content's query view against the whole batch (saved in ``frames_path``)."""

    frames_path: str
    query: Fingerprint
    variants: np.ndarray | None


@dataclass(frozen=True, eq=False)
class FeatureQuery:
    """One content to search among the batch's feature frames: its query view, its kept feature frames (upright
    and mirrored) and the contents not to report (its own cluster's)."""

    view: Fingerprint
    normal: tuple[FrameFeatures, ...]
    mirrored: tuple[FrameFeatures, ...]
    skip: frozenset[str]


@dataclass(frozen=True, eq=False)
class FeatureTask:
    """Work for a process: search one content among the batch's feature frames (saved in ``folder``)."""

    folder: str
    query: FeatureQuery


@dataclass(frozen=True)
class WorkerInfo:
    """The process that analysed a content: a Dask worker's address, or ``HOST:PID`` of a local process, and
    the versions of provenance and the packages that make its hashes (``distributed.PACKAGES``)."""

    name: str
    versions: tuple[tuple[str, str], ...]


@dataclass(frozen=True, eq=False)
class ContentResult:
    """What one distinct content is: its archive-rate fingerprint, the archive's matches, a thumbnail."""

    sha256: str
    path: str  # the copy that was analysed
    error: str | None
    fingerprint: Fingerprint | None  # sampled at ingest.ARCHIVE_FPS (what --add-new archives)
    variants: np.ndarray | None  # (N, 8 or 16, 32) uint8: turned/mirrored PDQ of the query-rate view
    features: tuple[FrameFeatures, ...]  # local features to archive with --add-new (empty when not computed)
    matches: tuple[Match, ...]
    appearance: Appearance | None
    thumbnail: bytes  # JPEG, empty when none could be made
    started_at: str
    finished_at: str
    seconds: float
    pid: int
    # the few feature frames kept to join crops and insets of this content within the batch
    # (``cluster.cluster_features``): upright, and the same moments mirrored
    cluster_features: tuple[FrameFeatures, ...] = ()
    cluster_mirrored: tuple[FrameFeatures, ...] = ()
    worker: WorkerInfo | None = None  # which process analysed it (None: journaled before this was kept)

    @classmethod
    def failed(cls, sha256: str, path: str, error: str, *, pid: int = 0,
               worker: WorkerInfo | None = None) -> ContentResult:
        """A content that could not be analysed, and why: nothing read of it, started and finished now."""
        now = utc_now()
        return cls(sha256, path, error, None, None, (), (), None, b"", now, now, 0.0, pid, worker=worker)


@dataclass(frozen=True, eq=False)
class StoredContent:
    """A content result as the journal holds it, with the run that produced it."""

    result: ContentResult
    run_id: int


@dataclass(frozen=True)
class StoredPath:
    """A path as the journal holds it: its identity (or error), sidecar sightings, and the run."""

    path: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    hashed: Hashed
    run_id: int


@dataclass(frozen=True)
class Link:
    """Two contents of the batch that share footage (``verdict`` as in ``match.verdict.VERDICTS``)."""

    query_sha256: str
    item_sha256: str
    verdict: str
    score: float


@dataclass(frozen=True)
class ThroughItem:
    """An archived item that two or more contents of the batch match as the same footage (joining their cluster)."""

    sha256: str
    name: str
    contents: tuple[str, ...]  # the batch's SHA-256s that match it, in batch order


@dataclass(frozen=True)
class Clustering:
    """Near-duplicate groups of contents (each a tuple of SHA-256s), and partial links between groups."""

    groups: tuple[tuple[str, ...], ...]
    links: tuple[Link, ...]  # compilation-like overlaps that did not merge two groups
    through: tuple[ThroughItem, ...] = ()  # archived items that joined contents of the batch


@dataclass(frozen=True)
class FileRow:
    """One row of the triage: a path, what it is, its verdict and cluster."""

    path: str
    identity: FileIdentity | None
    sha256: str | None
    detected: str
    error: str | None
    kind: str | None  # "video" or "still"
    duration: float | None
    verdict: str  # a key of VERDICT_TEXT
    coverage: float  # share of the file's footage found in the archive
    cluster: str | None  # e.g. "C0003"; None for error rows
    sightings: tuple[Sighting, ...]  # this path's own (yt-dlp sidecar, Telegram export, dated file name)
    matches: tuple[Match, ...]
    appearance: Appearance | None
    warnings: tuple[str, ...]
    report: str  # the per-file JSON report, relative to the report folder
    fingerprint: Fingerprint | None  # the query view (2 per second), with this path's identity
    thumbnail: bytes  # JPEG, empty when none
    added_to_archive: bool = False
    examined_at: str = ""  # when its content was fingerprinted (UTC)
    worker: WorkerInfo | None = None  # the process that analysed its content


@dataclass(frozen=True)
class ClusterMember:
    """A path in a cluster, with its earliest known sighting (batch sidecar), for ordering."""

    path: str
    sha256: str
    verdict: str
    first_seen: str | None
    sightings: tuple[Sighting, ...]


@dataclass(frozen=True)
class Cluster:
    """Near-duplicate files: one footage. Members are ordered earliest sighting first."""

    id: str
    verdict: str  # the most known verdict among the members
    members: tuple[ClusterMember, ...]
    contents: tuple[str, ...]  # distinct SHA-256s
    earliest_archived: Sighting | None  # the earliest sighting the archive knows of this footage
    earliest_archived_sha256: str | None
    earliest_in_batch: Sighting | None  # the earliest sidecar sighting among the members
    related: tuple[str, ...]  # ids of clusters sharing part of the footage (compilations)
    through: tuple[ThroughItem, ...] = ()  # archived items two or more of its contents match


@dataclass(frozen=True)
class Progress:
    """How far a triage has got: paths finished of all paths, in this run's terms."""

    done: int
    total: int
    elapsed: float
    eta: float | None  # seconds left, None until there is a rate to go by
    current: str


@dataclass(frozen=True)
class FileCustody:
    """The custody entry the triage logged for one path, and that content's history in the log then."""

    path: str
    archive: str  # absolute path of the archive
    archive_id: str
    entry: CustodyEntry
    history: tuple[CustodyEntry, ...]  # every entry for the content's SHA-256, this one included


@dataclass(frozen=True)
class TriageResult:
    """The outcome of a triage run: every row, cluster and skipped path, and what this run did."""

    out_dir: str
    archive: str | None
    rows: tuple[FileRow, ...]
    clusters: tuple[Cluster, ...]
    skipped: tuple[Skipped, ...]
    run_id: int
    analysed: int  # contents fingerprinted in this run (the rest came from the journal)
    reused: int  # contents taken from the journal, not redone
    video_seconds: float  # seconds of footage fingerprinted in this run
    elapsed: float
    added: int  # items added to the archive in this run (``--add-new``)
    custody: tuple[FileCustody, ...] = ()  # one per row whose file was read and hashed (with an archive)
    item_durations: dict[str, float] = field(default_factory=dict)  # matched archived items' durations, by SHA-256

    @property
    def shown_archive(self) -> str | None:
        """The archive as reports show it: a PostgreSQL URL with its password masked."""
        return None if self.archive is None else masked_location(self.archive)

    @property
    def errors(self) -> int:
        """How many rows are errors."""
        return sum(1 for r in self.rows if r.verdict == "error")
