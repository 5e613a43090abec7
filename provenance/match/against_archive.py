"""Match an analysed file against an archive on disk: frame hashes first, carried on and then
supplemented by local features where they fall short."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING

from provenance.archive.descriptor_index import open_descriptor_index
from provenance.archive.search import archive_frames
from provenance.archive.side_files import features_folder
from provenance.archive.store import ArchiveStore
from provenance.errors import ArchiveError
from provenance.fingerprinting import Analysis
from provenance.match.align import match_fingerprint
from provenance.match.extend import extend_match
from provenance.match.geometry import describe_geometry, geometry_matches
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


def _item_samples(store: ArchiveStore, sha256: str) -> Sequence[FrameHash]:
    """Every hash sample of the archived item ``sha256`` (those with no detail too), from its record."""
    with stage("archive"):
        item = store.get(sha256)
    return item.fingerprint.frames if item is not None else ()


def match_against(analysis: Analysis, archive_path: str) -> tuple[Match, ...]:
    """Match an analysed file against the archive at ``archive_path`` (which must exist).

    Frame hashes first, in all 8 orientations; each hash match's segments are then carried on
    along their time lines while local features confirm them (``extend.extend_match``), and its
    geometry is described. Where the hash matches explain less than half of the query, local
    features look for crops and inset pictures among the items the hashes did not match, and align
    the items they did match afresh (the few frames the hashes agreed on may have set a wrong time
    line): of the two alignments of an item, the one that covers more of the query is kept.
    """
    fp = analysis.fingerprint
    if not Path(archive_path).exists():
        raise ArchiveError(f"archive not found: {archive_path} (create it with `provenance archive add`)")
    with ArchiveStore.open(archive_path, create=False) as store:
        with stage("archive"):
            frames, search = archive_frames(store)
        # an item's record is decoded once, though bridging and carrying on may both ask for its samples
        samples_of = cache(partial(_item_samples, store))
        with stage("alignment"):  # less the hash index search (candidates)
            matches = match_fingerprint(fp, frames, search, store.sightings, analysis.dihedral_pdq, samples_of)
        if not analysis.features:
            return matches
        sha_number = {sha: n for n, sha in enumerate(frames.sha256)}
        # decided on the hashes' own segments: where they explain little, their time lines may be wrong too
        search_features = needs_features(fp, matches)
        realign = {m.sha256 for m in matches
                   if search_features and _realignable(m, frames.stills[sha_number[m.sha256]])}
        described = []
        for m in matches:
            # only the matched items' features are read, to carry the segments on and describe the matches
            number = sha_number[m.sha256]
            item_features = _features_of(store, frames.ids[number])
            with stage("description"):
                m = extend_match(fp, m, analysis.features, analysis.mirrored_features, item_features,
                                 float(frames.durations[number]), item_still=bool(frames.stills[number]),
                                 item_samples=partial(samples_of, m.sha256))
                described.append(describe_geometry(fp, m, analysis.features, analysis.mirrored_features,
                                                   item_features))
        matches = tuple(described)
        if search_features:
            # kept beside the archive like the hash index, keyed by the archive state it was built from
            with stage("archive"):
                index = open_descriptor_index(features_folder(store.path),
                                              f"{store.archive_id()}:{store.generation()}", store.feature_frames)
            with stage("alignment"):  # less the descriptor index search (candidates) and describing (description)
                found = geometry_matches(fp, analysis.features, analysis.mirrored_features, index,
                                         partial(_features_of, store), frames, store.sightings,
                                         {m.sha256 for m in matches} - realign)
            matches = tuple(sorted(better_aligned(matches, found), key=lambda m: -m.score))
        return matches


def _features_of(store: ArchiveStore, item_id: int) -> list[FrameFeatures]:
    """The archived item's feature frames, in time order."""
    with stage("archive"):
        return store.feature_frames(item_id)[1]


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
