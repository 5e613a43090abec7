"""Near-duplicate clusters within a batch, and the known / partly known / new verdicts.

Every content of the batch is indexed at the archive rate (its 8-per-second fingerprint, as if
the batch were an archive: ``check.frames_from_fingerprints``) and its query view (2 per second,
turned and mirrored) is matched against that index with the archive's own matcher. Two contents
whose match says they are the same footage (identical, re-encoded or edited, or one a clip of the
other) are joined (union-find), so clusters are transitive: a trim of a re-encode of a mirrored
copy lands with the original. A compilation that only contains parts of another content is not
joined to it (it would chain unrelated clips together); the overlap is kept as a ``Link``.

Crops and insets of a batch content are found as ``check`` finds them in an archive, by local
features (``join_by_features``): each content keeps a few feature frames (``cluster_features``,
the SEARCH_FRAMES moments that ``check`` searches with, upright and mirrored), the batch's are
indexed like an archive's, and each content the archive does not know is searched in that index
for contents outside its cluster. A same-footage match joins the two clusters; a crop of a batch
file lands with it whether or not either is archived.

Clusters are then joined through the archive (``join_through_archive``): contents that match the
same archived item as the same footage, at archived moments that overlap, share one cluster, and
the cluster names the item. Two re-shares of one archived clip, a crop and a mirrored copy say, may
not match each other by their hashes, yet both match the archived clip (the crop by its local
features, which only the archive keeps); two trims of one long item from times that do not
overlap are not joined: they are not the same footage.

The matching is the costly part and each content's is independent, so the pool runs it
(``pool.cluster_in_pool``): the batch's frames go to the workers once, as a folder of ``.npy``
files that each worker opens memory-mapped (``frame_cache.save_frames``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from provenance.archive import frame_cache
from provenance.archive.descriptor_index import DescriptorIndex, FeatureTable
from provenance.archive.search import frames_from_fingerprints, index_search
from provenance.archive.searchable import ArchiveFrames, SearchFn
from provenance.match.align import match_fingerprint
from provenance.match.geometry import SEARCH_FRAMES, geometry_matches
from provenance.model import Fingerprint, Match, Sighting
from provenance.triage.journal import pack_features, unpack_features
from provenance.triage.results import Clustering, FeatureQuery, Link, ThroughItem
from provenance.vision.features import FrameFeatures
from provenance.vision.on_demand import times_of

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

    @classmethod
    def seeded(cls, order: dict[str, int], groups: Sequence[tuple[str, ...]]) -> _UnionFind:
        """Sets over the contents numbered by ``order``, each of ``groups`` already joined."""
        uf = cls(len(order))
        for g in groups:
            for sha in g[1:]:
                uf.union(order[g[0]], order[sha])
        return uf

    def groups(self, shas: Sequence[str]) -> tuple[tuple[str, ...], ...]:
        """The sets as groups of ``shas`` (content i is ``shas[i]``): largest first, each in the order of ``shas``."""
        members: dict[int, list[int]] = {}
        for i in range(len(shas)):
            members.setdefault(self.find(i), []).append(i)
        return tuple(tuple(shas[i] for i in g) for g in sorted(members.values(), key=lambda g: (-len(g), g[0])))


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
    return Clustering(uf.groups(shas), tuple(partial))


CLUSTER_FEATURE_FRAMES = SEARCH_FRAMES
"""Feature frames a content keeps for clustering: as many as ``check`` searches an archive with."""


def searched_in_batch(verdict: str) -> bool:
    """Whether triage searches a content with this archive verdict among the batch's feature frames (and so
    keeps its mirrored ones): only when the archive does not already know it (``join_by_features``)."""
    return verdict != "known"


def cluster_features(normal: Sequence[FrameFeatures], mirrored: Sequence[FrameFeatures], *, searched: bool = True
                     ) -> tuple[tuple[FrameFeatures, ...], tuple[FrameFeatures, ...]]:
    """The feature frames a content keeps for clustering, upright and mirrored, at the same moments.

    ``mirrored`` holds the query's mirrored feature frames (its query moments); ``normal`` the upright
    ones of those moments or of every feature frame (an analysis made for the archive too). Up to
    CLUSTER_FEATURE_FRAMES moments spread over the query are kept, and only those found in both.

    ``searched`` False (a content the archive knows, which ``join_by_features`` indexes but does not
    search): the upright frames only. Its mirrored ones would serve only its own search, and extracting
    them is not free (0.13 s of the 1.5 s a benchmark crop's analysis took).
    """
    if not mirrored:
        return (), ()
    times = times_of(mirrored)
    count = len(times)
    step = count / CLUSTER_FEATURE_FRAMES
    picked = [int(k * step) for k in range(CLUSTER_FEATURE_FRAMES)] if count > CLUSTER_FEATURE_FRAMES \
        else list(range(count))
    wanted = {times[k] for k in picked}
    # found by time: of features made on demand, only the picked moments' are extracted
    upright = {t: normal[k] for k, t in enumerate(times_of(normal)) if t in wanted}
    kept = [k for k in picked if times[k] in upright]
    return (tuple(upright[times[k]] for k in kept),
            tuple(mirrored[k] for k in kept) if searched else ())


def _regrouped(shas: Sequence[str], groups: Sequence[tuple[str, ...]], pairs: Sequence[tuple[str, str]]
               ) -> tuple[tuple[str, ...], ...]:
    """``groups`` (of ``shas``) with the two contents of each pair joined; largest first, each in batch order."""
    order = {sha: i for i, sha in enumerate(shas)}
    uf = _UnionFind.seeded(order, groups)
    for a, b in pairs:
        uf.union(order[a], order[b])
    return uf.groups(shas)


@dataclass(frozen=True, eq=False)
class FeatureBatch:
    """The batch's kept feature frames indexed as an archive's are, for ``join_by_features`` to search."""

    index: DescriptorIndex  # every content's kept upright feature frames (item: the content's number)
    frames: ArchiveFrames  # the contents' query views as searchable frames, ids their numbers
    features: Callable[[int], list[FrameFeatures]]  # a content's kept upright feature frames, by number


FeatureSearch = Callable[[FeatureBatch, Sequence[FeatureQuery]], Sequence[tuple[Match, ...]]]
"""Searches a ``FeatureBatch`` for each query, in their order (``search_here``, or ``pool.search_in_pool``)."""


def feature_batch(views: Sequence[Fingerprint], normal: Sequence[tuple[FrameFeatures, ...]]) -> FeatureBatch | None:
    """The ``FeatureBatch`` of the contents' query views and kept upright feature frames; None when fewer than
    two contents kept any (nothing to join)."""
    owners = [n for n, frames in enumerate(normal) for _ in frames]
    if len({*owners}) < 2:
        return None
    table = FeatureTable.of(np.array(owners, dtype=np.int64), [f for frames in normal for f in frames])
    frames = replace(frames_from_fingerprints(views)[0], ids=tuple(range(len(views))))
    return FeatureBatch(DescriptorIndex.build(table), frames, lambda item: list(normal[item]))


def search_here(batch: FeatureBatch, queries: Sequence[FeatureQuery]) -> list[tuple[Match, ...]]:
    """Each query's matches among the batch's contents, searched in this process (``check``'s matcher)."""
    return [geometry_matches(q.view, q.normal, q.mirrored, batch.index, batch.features, batch.frames, _no_sightings,
                             set(q.skip)) for q in queries]


FEATURE_KEY = "batch-features"  # a feature batch's folder is made and read within one run, as the frames' is


def save_feature_batch(batch: FeatureBatch, folder: Path) -> None:
    """Write ``batch`` into ``folder``, for worker processes to open (``load_feature_batch``)."""
    folder.mkdir(parents=True, exist_ok=True)
    batch.index.save(folder / "index", FEATURE_KEY)
    frame_cache.save_frames(folder / "frames", FEATURE_KEY, batch.frames)
    (folder / "features").mkdir(exist_ok=True)
    for n in batch.frames.ids:
        (folder / "features" / f"{n}.bin").write_bytes(pack_features(batch.features(n)))


def load_feature_batch(folder: str | Path) -> FeatureBatch:
    """Open a batch written by ``save_feature_batch`` (the index and frames memory-mapped, a content's feature
    frames read when asked for); ``OSError`` when it cannot be read."""
    folder = Path(folder)
    index = DescriptorIndex.load(folder / "index", FEATURE_KEY)
    frames = frame_cache.load_frames(folder / "frames", FEATURE_KEY)
    if index is None or frames is None:
        raise OSError(f"the batch's feature frames in {folder} cannot be read")
    return FeatureBatch(index, frames, lambda item: list(unpack_features((folder / "features" / f"{item}.bin")
                                                                        .read_bytes())))


def join_by_features(shas: Sequence[str], clustering: Clustering, views: Sequence[Fingerprint],
                     normal: Sequence[tuple[FrameFeatures, ...]], mirrored: Sequence[tuple[FrameFeatures, ...]],
                     searched: Sequence[bool] | None = None, search: FeatureSearch = search_here) -> Clustering:
    """``clustering`` with contents joined that local features find to be the same footage (crops, insets).

    ``views[i]`` is content ``shas[i]``'s query view and ``normal[i]`` / ``mirrored[i]`` the feature
    frames it kept (``cluster_features``; ``normal[i]`` empty: neither searched nor found; ``mirrored[i]``
    empty: not searched). Every content's frames are indexed as an archive's are; each content is searched
    in that index for contents outside its cluster, with the matcher ``check`` uses on an archive (by
    ``search``: here, or spread over worker processes, with the same matches). A same-footage match joins;
    any other match is kept as a link.

    ``searched[i]`` False: content i is indexed (others can find it) but not searched itself. Triage
    searches only the contents the archive does not already know: a known content joins its copies
    through the archived item, and a crop of it that the archive does not know searches and finds it.
    """
    if not (len(shas) == len(views) == len(normal) == len(mirrored)):
        raise ValueError("shas, views, normal and mirrored must have one entry per content")
    batch = feature_batch(views, normal)
    if batch is None:
        return clustering
    group_of = {sha: g for g in clustering.groups for sha in g}
    # a content that kept no mirrored frames is not searched either (``cluster_features``)
    asked = [n for n in range(len(shas)) if normal[n] and mirrored[n] and (searched is None or searched[n])]
    queries = [FeatureQuery(views[n], normal[n], mirrored[n], frozenset(group_of.get(shas[n], (shas[n],))))
               for n in asked]
    same: list[tuple[str, str]] = []
    extra: list[Link] = []
    for n, found in zip(asked, search(batch, queries), strict=True):
        for m in found:
            if m.verdict in SAME_FOOTAGE:
                same.append((shas[n], m.sha256))
            else:
                extra.append(Link(shas[n], m.sha256, m.verdict, m.score))
    return Clustering(_regrouped(shas, clustering.groups, same), clustering.links + tuple(extra), clustering.through)


def _spans_meet(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]) -> bool:
    """True when two sets of archive spans share footage: a stretch of both, or a moment (a still) inside the other."""
    for a0, a1 in a:
        for b0, b1 in b:
            low, high = max(a0, b0), min(a1, b1)
            if high > low + 1e-6 or ((a0 == a1 or b0 == b1) and high >= low):
                return True
    return False


def join_through_archive(shas: Sequence[str], clustering: Clustering, matches: dict[str, tuple[Match, ...]]
                         ) -> Clustering:
    """``clustering`` (of the contents ``shas``, in batch order) with groups joined through archived items.

    ``matches`` holds each content's matches against the archive. Two contents are joined through an
    item when both match it with a ``SAME_FOOTAGE`` verdict at archived times that overlap, by their
    pictures: a match by the soundtrack alone is other footage with the item's sound, not the same
    footage. A content that is the item itself (same SHA-256) joins every such match. Groups are
    returned as ``group`` returns them.
    """
    order = {sha: i for i, sha in enumerate(shas)}
    uf = _UnionFind.seeded(order, clustering.groups)
    by_item: dict[str, list[tuple[str, list[tuple[float, float]]]]] = {}
    names: dict[str, str] = {}
    for sha in shas:
        for m in matches.get(sha, ()):
            if m.verdict in SAME_FOOTAGE and m.sha256 != sha and m.matched_by != "soundtrack":
                spans = [(s.archive_start, s.archive_end) for s in m.segments] or [(0.0, float("inf"))]
                by_item.setdefault(m.sha256, []).append((sha, spans))
                names.setdefault(m.sha256, m.item_name)
    through = []
    for item, seen in by_item.items():
        if item in order:  # the archived item is in the batch too: all of it
            seen = [(item, [(0.0, float("inf"))]), *seen]
        joined: set[str] = set()
        for i, (a, a_spans) in enumerate(seen):
            for b, b_spans in seen[i + 1:]:
                if a != b and _spans_meet(a_spans, b_spans):
                    uf.union(order[a], order[b])
                    joined.update((a, b))
        if len(joined) > 1:
            through.append(ThroughItem(item, names[item], tuple(sorted(joined, key=order.__getitem__))))
    return Clustering(uf.groups(shas), clustering.links,
                      tuple(sorted(through, key=lambda t: order[t.contents[0]])))


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
