"""Turn what the journal holds into the triage's rows and clusters.

Each path becomes a ``FileRow``: an error row when it could not be hashed or decoded, otherwise
its content's verdict against the archive and its cluster. Clusters list their members earliest
sighting first (the yt-dlp sidecar's upload time; undated members last, by path), with the
earliest appearance the archive knows of any of their footage. The batch's own clusters are joined
through the archive (``cluster.join_through_archive``): contents that match one archived item as
the same footage share a cluster, which names the item.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from provenance.fingerprinting import Analysis, as_query
from provenance.match.appearance import earliest_appearance, parse_when
from provenance.match.verdict import archive_verdict
from provenance.model import Fingerprint, Match, Sighting
from provenance.triage.cluster import (
    FeatureSearch,
    cluster_contents,
    join_by_features,
    join_through_archive,
    most_known,
    search_here,
    searched_in_batch,
)
from provenance.triage.results import (
    Candidate,
    Cluster,
    Clustering,
    ClusterMember,
    ContentResult,
    FileRow,
    Hashed,
    Link,
    ThroughItem,
)

REPORTS_DIR = "reports"


@dataclass(frozen=True)
class Assembled:
    """Rows in walk order and clusters, most members first."""

    rows: tuple[FileRow, ...]
    clusters: tuple[Cluster, ...]


def report_name(path: str, sha256: str | None) -> str:
    """The per-file report's path inside the report folder: stable for a path and its content."""
    digest = hashlib.blake2b(os.fsencode(path), digest_size=6).hexdigest()
    return f"{REPORTS_DIR}/{(sha256 or 'error')[:16]}-{digest}.json"


def query_view(fp: Fingerprint) -> Fingerprint:
    """The 2-per-second view of an archive-rate fingerprint (what a ``check`` would have sampled)."""
    placeholder = np.empty((len(fp.frames), 0, 0), dtype=np.uint8)  # the variants are journaled apart
    return as_query(Analysis(fp, placeholder)).fingerprint


def earliest_sighting(sightings: Sequence[Sighting]) -> Sighting | None:
    """The dated sighting with the earliest ``first_seen``, or None."""
    dated = [(when, s) for s in sightings if (when := parse_when(s.first_seen)) is not None]
    return min(dated, key=lambda pair: pair[0])[1] if dated else None


def _error_row(candidate: Candidate, hashed: Hashed, error: str) -> FileRow:
    sha = hashed.identity.sha256 if hashed.identity else None
    return FileRow(path=candidate.path, identity=hashed.identity, sha256=sha, detected=candidate.detected,
                   error=error, kind=None, duration=None, verdict="error", coverage=0.0, cluster=None,
                   sightings=hashed.sightings, matches=(), appearance=None, warnings=hashed.warnings,
                   report=report_name(candidate.path, sha), fingerprint=None, thumbnail=b"")


ClusterFn = Callable[[Sequence[Fingerprint], Sequence[Fingerprint], Sequence["np.ndarray | None"]], Clustering]


def assemble(candidates: Sequence[Candidate], hashed: Sequence[Hashed], contents: dict[str, ContentResult],
             cluster: ClusterFn = cluster_contents, search: FeatureSearch = search_here) -> Assembled:
    """Rows and clusters for the candidates, given each one's identity and the contents' results.

    ``cluster`` groups the contents (``cluster.cluster_contents``, or ``pool.cluster_in_pool``); ``search``
    searches their feature frames for the joins by local features (``cluster.search_here``, or
    ``pool.search_in_pool``).
    """
    ok: dict[str, ContentResult] = {}
    for h in hashed:
        if h.identity is not None:
            result = contents[h.identity.sha256]
            if result.error is None and result.fingerprint is not None:
                ok[result.sha256] = result
    order = list(ok)
    queries = {sha: query_view(ok[sha].fingerprint) for sha in order}  # type: ignore[arg-type]
    # the words and thresholds of ``check``: one function decides them
    verdicts = {sha: archive_verdict(queries[sha], ok[sha].matches) for sha in order}
    clustering = cluster([ok[sha].fingerprint for sha in order],  # type: ignore[misc]
                         [queries[sha] for sha in order], [ok[sha].variants for sha in order])
    clustering = join_by_features(order, clustering, [queries[sha] for sha in order],
                                  [ok[sha].cluster_features for sha in order],
                                  [ok[sha].cluster_mirrored for sha in order],
                                  [searched_in_batch(verdicts[sha][0]) for sha in order], search)
    clustering = join_through_archive(order, clustering, {sha: ok[sha].matches for sha in order})
    cluster_of = {sha: f"C{n + 1:04d}" for n, group in enumerate(clustering.groups) for sha in group}
    rows: list[FileRow] = []
    for candidate, h in zip(candidates, hashed, strict=True):
        if h.identity is None:
            rows.append(_error_row(candidate, h, h.error or "unreadable"))
            continue
        sha = h.identity.sha256
        if sha not in ok:
            rows.append(_error_row(candidate, h, contents[sha].error or "no result"))
            continue
        result, query = ok[sha], queries[sha]
        verdict, coverage = verdicts[sha]
        rows.append(FileRow(
            path=candidate.path, identity=h.identity, sha256=sha, detected=candidate.detected, error=None,
            kind=query.metadata.kind, duration=query.duration, verdict=verdict, coverage=coverage,
            cluster=cluster_of[sha], sightings=h.sightings, matches=result.matches, appearance=result.appearance,
            warnings=tuple(query.warnings) + h.warnings, report=report_name(candidate.path, sha),
            fingerprint=replace(query, identity=h.identity), thumbnail=result.thumbnail,
            examined_at=result.started_at, worker=result.worker))
    return Assembled(tuple(rows), _clusters(rows, clustering.groups, clustering.links, cluster_of,
                                            clustering.through))


def _clusters(rows: Sequence[FileRow], groups: Sequence[tuple[str, ...]], links: Sequence[Link],
              cluster_of: dict[str, str], through: Sequence[ThroughItem] = ()) -> tuple[Cluster, ...]:
    """One Cluster per group, its members ordered earliest sidecar sighting first (undated last, by path)."""
    by_cluster: dict[str, list[FileRow]] = {}
    for row in rows:
        if row.cluster is not None:
            by_cluster.setdefault(row.cluster, []).append(row)
    related: dict[str, set[str]] = {}
    for link in links:
        a, b = cluster_of[link.query_sha256], cluster_of[link.item_sha256]
        if a != b:
            related.setdefault(a, set()).add(b)
            related.setdefault(b, set()).add(a)
    clusters = []
    for group in groups:
        cid = cluster_of[group[0]]
        members = by_cluster[cid]

        def when(row: FileRow) -> tuple[int, str, str]:
            """Sort key: dated sightings first, oldest first; then undated, by path."""
            first = earliest_sighting(row.sightings)
            moment = parse_when(first.first_seen) if first else None
            return (0, moment.isoformat(), row.path) if moment else (1, "", row.path)

        members.sort(key=when)
        matches: dict[str, Match] = {}
        for row in members:
            for match in row.matches:
                matches.setdefault(match.sha256, match)
        appearance = earliest_appearance(tuple(matches.values()), members[0].fingerprint.metadata, None) \
            if matches and members[0].fingerprint else None
        batch_first = earliest_sighting([s for row in members for s in row.sightings])
        clusters.append(Cluster(
            id=cid, verdict=most_known([r.verdict for r in members]),
            members=tuple(ClusterMember(r.path, r.sha256 or "", r.verdict,
                                        (earliest_sighting(r.sightings) or Sighting()).first_seen, r.sightings)
                          for r in members),
            contents=group, earliest_archived=appearance.earliest if appearance else None,
            earliest_archived_sha256=appearance.earliest_sha256 if appearance else None,
            earliest_in_batch=batch_first, related=tuple(sorted(related.get(cid, ()))),
            through=tuple(t for t in through if cluster_of[t.contents[0]] == cid)))
    return tuple(clusters)
