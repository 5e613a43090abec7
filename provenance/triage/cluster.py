"""Near-duplicate clusters within a batch, and the known / partly known / new verdicts.

Every content of the batch is indexed at the archive rate (its 8-per-second fingerprint, as if
the batch were an archive: ``check.frames_from_fingerprints``) and its query view (2 per second,
turned and mirrored) is matched against that index with the archive's own matcher. Two contents
whose match says they are the same footage (identical, re-encoded or edited, or one a clip of the
other) are joined (union-find), so clusters are transitive: a trim of a re-encode of a mirrored
copy lands with the original. A compilation that only contains parts of another content is not
joined to it (it would chain unrelated clips together); the overlap is kept as a ``Link``.

The matching is the costly part and each content's is independent, so the pool runs it
(``pool.cluster_in_pool``): the batch's frames go to the workers once, as a folder of ``.npy``
files that each worker opens memory-mapped (``frame_cache.save_frames``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from provenance.archive import frame_cache
from provenance.archive.search import frames_from_fingerprints, index_search
from provenance.archive.searchable import ArchiveFrames, SearchFn
from provenance.match.align import match_fingerprint
from provenance.model import Fingerprint, Sighting
from provenance.triage.results import Clustering, Link

SAME_FOOTAGE = frozenset({"identical", "same", "clip_of_item", "item_is_clip"})
"""Match verdicts that put two contents in one cluster."""
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


def batch_frames(archive_fps: Sequence[Fingerprint]) -> ArchiveFrames:
    """The batch's contents as a searchable "archive": their usable frames at the archive rate."""
    return frames_from_fingerprints(archive_fps)[0]


SCRATCH_KEY = "batch"  # the batch's frames folder is made and read within one run: no archive state to name


def save_frames(frames: ArchiveFrames, folder: Path) -> None:
    """Write ``frames`` to ``folder`` as the archive's kept frames are written, for worker processes to open."""
    frame_cache.save_frames(folder, SCRATCH_KEY, frames)


def load_frames(folder: str | Path) -> tuple[ArchiveFrames, SearchFn]:
    """Open frames written by ``save_frames`` (memory-mapped), with a search function over them."""
    frames = frame_cache.load_frames(Path(folder), SCRATCH_KEY)
    if frames is None:
        raise OSError(f"the batch's frames in {folder} are missing or damaged")
    return frames, index_search(frames.pdq)


def query_links(query: Fingerprint, variants: np.ndarray | None, frames: ArchiveFrames, search: SearchFn
                ) -> tuple[Link, ...]:
    """What one content (its query view and turned/mirrored hashes) shares with the other contents."""
    own = query.identity.sha256
    return tuple(Link(own, m.sha256, m.verdict, m.score)
                 for m in match_fingerprint(query, frames, search, _no_sightings, variants) if m.sha256 != own)


def group(shas: Sequence[str], links: Sequence[Link]) -> Clustering:
    """Clusters from the links: same-footage links join (transitively); the others are kept as links.

    Groups are returned largest first, each in the order of ``shas``; every content is in one group.
    """
    number = {sha: i for i, sha in enumerate(shas)}
    uf = _UnionFind(len(shas))
    partial = []
    for link in links:
        if link.verdict in SAME_FOOTAGE:
            uf.union(number[link.query_sha256], number[link.item_sha256])
        else:
            partial.append(link)
    members: dict[int, list[int]] = {}
    for i in range(len(shas)):
        members.setdefault(uf.find(i), []).append(i)
    groups = sorted(members.values(), key=lambda g: (-len(g), g[0]))
    return Clustering(tuple(tuple(shas[i] for i in g) for g in groups), tuple(partial))


def cluster_contents(archive_fps: Sequence[Fingerprint], queries: Sequence[Fingerprint],
                     variants: Sequence[np.ndarray | None]) -> Clustering:
    """Group contents that show the same footage, in this process.

    ``archive_fps[i]`` is content i sampled at the archive rate, ``queries[i]`` its query view and
    ``variants[i]`` the query view's turned and mirrored PDQ hashes (None: upright only).
    """
    if not (len(archive_fps) == len(queries) == len(variants)):
        raise ValueError("archive_fps, queries and variants must have one entry per content")
    links: list[Link] = []
    if archive_fps:
        frames, search = frames_from_fingerprints(archive_fps)
        for query, hashes in zip(queries, variants, strict=True):
            links.extend(query_links(query, hashes, frames, search))
    return group([fp.identity.sha256 for fp in archive_fps], links)


def most_known(verdicts: Sequence[str]) -> str:
    """The most known of some verdicts (known > partly known > new > error)."""
    return min(verdicts, key=lambda v: VERDICT_RANK[v]) if verdicts else "error"
