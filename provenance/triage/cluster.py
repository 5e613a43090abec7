"""Near-duplicate clusters within a batch, and the known / partly known / new verdicts.

Every content of the batch is indexed at the archive rate (its 8-per-second fingerprint, as if
the batch were an archive: ``check.frames_from_fingerprints``) and its query view (2 per second,
turned and mirrored) is matched against that index with the archive's own matcher. Two contents
whose match says they are the same footage (identical, re-encoded or edited, or one a clip of the
other) are joined (union-find), so clusters are transitive: a trim of a re-encode of a mirrored
copy lands with the original. A compilation that only contains parts of another content is not
joined to it (it would chain unrelated clips together); the overlap is kept as a ``Link``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from provenance.check import frames_from_fingerprints
from provenance.match import match_fingerprint
from provenance.model import Fingerprint, Match, Sighting
from provenance.triage.results import Clustering, Link

SAME_FOOTAGE = frozenset({"identical", "same", "clip_of_item", "item_is_clip"})
"""Match verdicts that put two contents in one cluster."""
KNOWN_COVERAGE = 0.8
"""Share of a file's duration that archived footage must cover for the file to be "known"."""
VERDICT_RANK = {"known": 0, "partly_known": 1, "new": 2, "error": 3}


def _no_sightings(_sha256: str) -> tuple[Sighting, ...]:
    return ()


class _UnionFind:
    """Disjoint sets over 0..n-1, by path halving and union by size."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.size = [1] * n

    def find(self, i: int) -> int:
        """The representative of the set holding ``i``."""
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        """Join the sets holding ``a`` and ``b``."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]


def cluster_contents(archive_fps: Sequence[Fingerprint], queries: Sequence[Fingerprint],
                     variants: Sequence[np.ndarray | None]) -> Clustering:
    """Group contents that show the same footage.

    ``archive_fps[i]`` is content i sampled at the archive rate, ``queries[i]`` its query view and
    ``variants[i]`` the query view's turned and mirrored PDQ hashes (None: upright only). Groups are
    returned largest first, each in input order; every content is in exactly one group.
    """
    n = len(archive_fps)
    if not (len(queries) == len(variants) == n):
        raise ValueError("archive_fps, queries and variants must have one entry per content")
    uf = _UnionFind(n)
    links: list[Link] = []
    if n:
        frames, search = frames_from_fingerprints(archive_fps)
        number = {fp.identity.sha256: i for i, fp in enumerate(archive_fps)}
        for i, query in enumerate(queries):
            for match in match_fingerprint(query, frames, search, _no_sightings, variants[i]):
                j = number[match.sha256]
                if j == i:
                    continue
                if match.verdict in SAME_FOOTAGE:
                    uf.union(i, j)
                else:
                    links.append(Link(query.identity.sha256, match.sha256, match.verdict, match.score))
    members: dict[int, list[int]] = {}
    for i in range(n):
        members.setdefault(uf.find(i), []).append(i)
    groups = sorted(members.values(), key=lambda g: (-len(g), g[0]))
    shas = [fp.identity.sha256 for fp in archive_fps]
    return Clustering(tuple(tuple(shas[i] for i in g) for g in groups), tuple(links))


def archive_coverage(query: Fingerprint, matches: Sequence[Match]) -> float:
    """The share of the query's duration that the matched archive segments cover together (0..1)."""
    if not matches:
        return 0.0
    if query.is_still:
        return 1.0
    duration = max(query.duration, max((f.time for f in query.frames), default=0.0))
    if duration <= 0:
        return 1.0
    spans = sorted((s.query_start, s.query_end) for m in matches for s in m.segments)
    total, end = 0.0, float("-inf")
    for start, stop in spans:
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return min(1.0, total / duration)


def file_verdict(query: Fingerprint, matches: Sequence[Match]) -> tuple[str, float]:
    """("known" | "partly_known" | "new", coverage) of one content against the archive.

    Known: the archive holds (nearly) all of it, in one item or several (a compilation of archived
    clips is known too). Partly known: some of its footage is archived.
    """
    coverage = archive_coverage(query, matches)
    if not matches:
        return "new", 0.0
    if coverage >= KNOWN_COVERAGE or any(m.verdict in ("identical", "same", "clip_of_item") for m in matches):
        return "known", round(coverage, 4)
    return "partly_known", round(coverage, 4)


def most_known(verdicts: Sequence[str]) -> str:
    """The most known of some verdicts (known > partly known > new > error)."""
    return min(verdicts, key=lambda v: VERDICT_RANK[v]) if verdicts else "error"
