"""Match an analysed file against an archive on disk: frame hashes first, carried on and then
supplemented by local features where they fall short.

Matching one file opens the archive, its kept frames and hash index, and (when features are
searched) its descriptor index. A process that matches many files (a triage worker) opens them once
(``MatchingArchive``) and passes that instead of the path: the matches are the same, and the items'
records and features read for one file are kept for the next (a bounded number of items).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from provenance.archive.descriptor_index import DescriptorIndex, open_descriptor_index
from provenance.archive.search import archive_frames
from provenance.archive.side_files import features_folder
from provenance.archive.store import ArchiveStore, archive_exists, refuse_url
from provenance.errors import ArchiveError
from provenance.fingerprinting import Analysis
from provenance.match.align import match_fingerprint
from provenance.match.extend import extend_match
from provenance.match.geometry import describe_geometry, geometry_matches
from provenance.match.soundtrack import with_soundtrack
from provenance.match.verdict import union_length
from provenance.model import Fingerprint, FrameHash, Match
from provenance.timings import stage

if TYPE_CHECKING:
    from provenance.vision.features import FrameFeatures

FEATURE_SEARCH_BELOW = 0.5  # share of the query the hash matches must explain before features are skipped


def needs_features(fp: Fingerprint, matches: tuple[Match, ...]) -> bool:
    """Whether to look further with local features: hashes explain less than half of the query, or
    the query is a still.

    A still is one frame, cheap to search, and a hash match explains all of it whichever item it
    matched: were the search skipped once any item matched, a crop of one archived picture would be
    missed as soon as another archived item (other footage of the same scene) came within the hash
    radius, and the answer would depend on what else is archived.
    """
    if not matches or fp.is_still:
        return True
    covered = union_length([(s.query_start, s.query_end) for m in matches for s in m.segments])
    return covered < FEATURE_SEARCH_BELOW * max(fp.duration, 1e-9)


K = TypeVar("K")
V = TypeVar("V")

KEPT_ITEMS = 16
"""Items whose record samples and feature frames a ``MatchingArchive`` keeps between files."""


class _Kept(OrderedDict[K, V]):
    """The last ``KEPT_ITEMS`` values made, by key (least recently used dropped first)."""

    def get_or_make(self, key: K, make: Callable[[K], V]) -> V:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make(key)
        while len(self) > KEPT_ITEMS:
            self.popitem(last=False)
        return value


def _file_key(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path``: another file moved over the path has another."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class MatchingArchive:
    """An archive opened for matching: its store, kept frames and hash search, and its descriptor index
    (opened when first needed), as they were when it was opened. Use as a context manager, or ``close()``.

    ``current()`` says whether the archive is still in that state (no item added or removed since).
    """

    def __init__(self, path: str) -> None:
        """Open the archive at ``path``, which must exist (``ArchiveError`` otherwise)."""
        refuse_url(path)
        if not archive_exists(path):
            raise ArchiveError(f"archive not found: {path} (create it with `provenance archive add`)")
        self.path = path
        self._file = _file_key(path)
        self.store = ArchiveStore.open(path, create=False)
        try:
            with stage("archive"):
                self.generation = self.store.generation()
                self.frames, self.search = archive_frames(self.store)
        except BaseException:
            self.store.close()
            raise
        self._index: DescriptorIndex | None = None
        self._samples: _Kept[str, Sequence[FrameHash]] = _Kept()
        self._features: _Kept[int, list[FrameFeatures]] = _Kept()

    def current(self) -> bool:
        """True while the archive holds what it held when opened, in the same file at its path."""
        return _file_key(self.path) == self._file and self.store.generation() == self.generation

    def index(self) -> DescriptorIndex:
        """The descriptor index of every archived feature frame (kept beside the archive, keyed by its state)."""
        if self._index is None:
            with stage("archive"):
                self._index = open_descriptor_index(features_folder(self.store.path),
                                                    f"{self.store.archive_id()}:{self.generation}",
                                                    self.store.feature_frames)
        return self._index

    def samples(self, sha256: str) -> Sequence[FrameHash]:
        """Every hash sample of the archived item ``sha256`` (those with no detail too), from its record."""
        return self._samples.get_or_make(sha256, self._read_samples)

    def features(self, item_id: int) -> list[FrameFeatures]:
        """The archived item's feature frames, in time order."""
        return self._features.get_or_make(item_id, self._read_features)

    def _read_samples(self, sha256: str) -> Sequence[FrameHash]:
        with stage("archive"):
            item = self.store.get(sha256)
        return item.fingerprint.frames if item is not None else ()

    def _read_features(self, item_id: int) -> list[FrameFeatures]:
        with stage("archive"):
            return self.store.feature_frames(item_id)[1]

    def close(self) -> None:
        """Close the archive."""
        self.store.close()

    def __enter__(self) -> MatchingArchive:
        """Return the opened archive itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the archive."""
        self.close()


def match_against(analysis: Analysis, archive: str | MatchingArchive) -> tuple[Match, ...]:
    """Match an analysed file against the archive at ``archive`` (a path, which must exist, or a
    ``MatchingArchive`` already open: the same matches).

    Frame hashes first, in all 8 orientations; each hash match's segments are then carried on
    along their time lines while local features confirm them (``extend.extend_match``), and its
    geometry is described. Where the hash matches explain less than half of the query, local
    features look for crops and inset pictures among the items the hashes did not match, and align
    the items they did match afresh (the few frames the hashes agreed on may have set a wrong time
    line): of the two alignments of an item, the one that covers more of the query is kept.
    """
    if isinstance(archive, MatchingArchive):
        return _matched(analysis, archive)
    with MatchingArchive(archive) as opened:
        return _matched(analysis, opened)


def _matched(analysis: Analysis, archive: MatchingArchive) -> tuple[Match, ...]:
    fp = analysis.fingerprint
    store, frames, search = archive.store, archive.frames, archive.search
    # an item's record is decoded once, though bridging and carrying on may both ask for its samples
    samples_of = archive.samples
    with stage("alignment"):  # less the hash index search (candidates)
        matches = match_fingerprint(fp, frames, search, store.sightings, analysis.dihedral_pdq, samples_of)
    if not analysis.features:
        with stage("alignment"):  # the soundtracks compared, and matched by sound alone
            return tuple(sorted(with_soundtrack(fp, matches, store, frames, store.sightings), key=lambda m: -m.score))
    sha_number = {sha: n for n, sha in enumerate(frames.sha256)}
    # decided on the hashes' own segments: where they explain little, their time lines may be wrong too
    search_features = needs_features(fp, matches)
    realign = {m.sha256 for m in matches
               if search_features and _realignable(m, frames.stills[sha_number[m.sha256]])}
    described = []
    for m in matches:
        # only the matched items' features are read, to carry the segments on and describe the matches
        number = sha_number[m.sha256]
        item_features = archive.features(frames.ids[number])
        with stage("description"):
            m = extend_match(fp, m, analysis.features, analysis.mirrored_features, item_features,
                             float(frames.durations[number]), item_still=bool(frames.stills[number]),
                             item_samples=partial(samples_of, m.sha256))
            described.append(describe_geometry(fp, m, analysis.features, analysis.mirrored_features,
                                               item_features))
    matches = tuple(described)
    if search_features:
        # kept beside the archive like the hash index, keyed by the archive state it was built from
        index = archive.index()
        with stage("alignment"):  # less the descriptor index search (candidates) and describing (description)
            found = geometry_matches(fp, analysis.features, analysis.mirrored_features, index,
                                     archive.features, frames, store.sightings,
                                     {m.sha256 for m in matches} - realign)
        matches = tuple(sorted(better_aligned(matches, found), key=lambda m: -m.score))
    with stage("alignment"):  # the soundtracks compared, and matched by sound alone
        matches = with_soundtrack(fp, matches, store, frames, store.sightings)
    return tuple(sorted(matches, key=lambda m: -m.score))


def _realignable(match: Match, item_still: bool) -> bool:
    """Whether local features may align this hash match afresh: not an identical file, a still, or a
    turned or flipped copy (whose frames the features do not turn)."""
    return not (match.verdict == "identical" or item_still or {e.name for e in match.edits} & {"rotate", "vflip"})


def better_aligned(hashed: tuple[Match, ...], found: tuple[Match, ...]) -> tuple[Match, ...]:
    """The hash matches and the feature matches, one per item: where both matched an item, the one
    whose segments cover more of the query (the hash match when they cover the same)."""
    by_item = {m.sha256: m for m in found}
    kept = []
    for m in hashed:
        other = by_item.pop(m.sha256, None)
        kept.append(other if other is not None and other.query_coverage > m.query_coverage else m)
    return tuple(kept) + tuple(by_item.values())
