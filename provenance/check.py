"""``check``: the full evidence record of one file, matched against an archive when one is given."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from provenance.appearance import earliest_appearance
from provenance.archive.index import LinearIndex, SampledBitsIndex, open_sampled_index
from provenance.archive.store import ArchiveStore
from provenance.errors import ArchiveError
from provenance.feature_index import open_descriptor_index
from provenance.fingerprint import Analysis, analyse
from provenance.frame_cache import open_archive_frames
from provenance.geometry_match import describe_geometry, geometry_matches
from provenance.keyframes import write_keyframes
from provenance.match import MIN_QUALITY, ArchiveFrames, SearchFn, match_fingerprint, union_length
from provenance.model import CheckReport, Fingerprint, Match, SamplingParams

FEATURE_SEARCH_BELOW = 0.5  # share of the query the hash matches must explain before features are skipped
QUERY_FPS = 2.0  # the default sampling rate of a check (SamplingParams().fps)
LINEAR_SCAN_LIMIT = 200_000  # frames; below this a numpy scan is faster than building an index


def utc_now() -> str:
    """The current time, ISO 8601 UTC to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def archive_frames(store: ArchiveStore) -> tuple[ArchiveFrames, SearchFn]:
    """The archive's usable frames (kept beside it as ``ARCHIVE.frames``) and a search function over them."""
    kept = open_archive_frames(store)
    # the index over many frames is kept beside the archive, keyed by the archive state it was built from
    with contextlib.suppress(OSError):
        Path(f"{store.path}.idx.npz").unlink(missing_ok=True)  # where earlier versions kept it, as one file
    grown = (kept.grown_from, kept.earlier_rows) if kept.grown_from is not None else None
    return kept.frames, index_search(kept.frames.pdq, kept.frames.item_rows, Path(f"{store.path}.idx"), kept.key,
                                     grown)


def index_search(pdq: np.ndarray, groups: np.ndarray | None = None, index_file: Path | None = None,
                 key: str = "", grown_from: tuple[str, int] | None = None) -> SearchFn:
    """A search function over (N, 32) PDQ hashes: an exact numpy scan up to ``LINEAR_SCAN_LIMIT`` frames.

    Above it, a ``SampledBitsIndex`` over the items (``groups``) that finds items approximately and
    scans their frames exactly; with ``index_file`` it is loaded from there when built for ``key``, or
    built and saved there (``grown_from``: the key and row count of an earlier state whose frames are
    the first rows of these, so an index kept for it needs only the rest added).
    """
    index: LinearIndex | SampledBitsIndex
    if len(pdq) <= LINEAR_SCAN_LIMIT:
        index = LinearIndex()
        index.build(pdq)
    elif index_file is not None and groups is not None:
        index = open_sampled_index(index_file, key, pdq, groups, grown_from=grown_from)
    else:
        index = SampledBitsIndex()
        index.build(pdq, groups)

    def search(hashes: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        hits = index.search(hashes, radius)
        return hits.query_idx, hits.ref_idx, hits.distance

    return search


def frames_from_fingerprints(fingerprints: Sequence[Fingerprint]) -> tuple[ArchiveFrames, SearchFn]:
    """Searchable frames made from fingerprints in memory (e.g. to cluster a batch without an archive)."""
    from provenance.hashing.pdq import hex_to_pdq_bytes

    rows = [(n, f) for n, fp in enumerate(fingerprints) for f in fp.frames if f.pdq_quality >= MIN_QUALITY]
    pdq = np.stack([hex_to_pdq_bytes(f.pdq) for _, f in rows]) if rows else np.zeros((0, 32), dtype=np.uint8)
    frames = ArchiveFrames(
        item_rows=np.array([n for n, _ in rows], dtype=np.int64),
        times=np.array([f.time for _, f in rows], dtype=np.float64),
        pdq=pdq,
        sha256=tuple(fp.identity.sha256 for fp in fingerprints),
        names=tuple(fp.identity.name for fp in fingerprints),
        durations=tuple(fp.duration for fp in fingerprints),
        stills=tuple(fp.is_still for fp in fingerprints),
        boxes_full=tuple(fp.content_box.is_full for fp in fingerprints),
    )
    return frames, index_search(pdq)


def as_query(analysis: Analysis, fps: float = QUERY_FPS) -> Analysis:
    """The query-rate view of an analysis made at a higher rate that is a multiple of ``fps``.

    ffmpeg's fps filter shows the frame on screen at k / rate, so every 4th sample at 8 per second
    is exactly the sample at 2 per second: one decode serves both the archive and the query.
    """
    fp = analysis.fingerprint
    ratio = fp.params.fps / fps
    if fp.is_still or ratio == 1:
        return analysis
    step = round(ratio)
    if abs(ratio - step) > 1e-9 or step < 1:
        raise ValueError(f"cannot sample {fp.params.fps} per second down to {fps}")
    keep = list(range(0, len(fp.frames), step))
    frames = tuple(replace(fp.frames[i], index=n) for n, i in enumerate(keep))
    shots = tuple(replace(s, keyframe_sample=s.keyframe_sample // step) for s in fp.shots)
    query = replace(fp, params=replace(fp.params, fps=fps), frames=frames, shots=shots)
    return replace(analysis, fingerprint=query, dihedral_pdq=analysis.dihedral_pdq[keep])


def needs_features(fp: Fingerprint, matches: tuple[Match, ...]) -> bool:
    """Whether to look further with local features: hashes explain less than half of the query."""
    if not matches:
        return True
    if fp.is_still:
        return False
    covered = union_length([(s.query_start, s.query_end) for m in matches for s in m.segments])
    return covered < FEATURE_SEARCH_BELOW * max(fp.duration, 1e-9)


def match_against(analysis: Analysis, archive_path: str) -> tuple[Match, ...]:
    """Match an analysed file against the archive at ``archive_path`` (which must exist).

    Frame hashes first, in all 8 orientations; where they explain less than half of the query,
    local features look for crops and inset pictures among the items the hashes did not match.
    """
    fp = analysis.fingerprint
    if not Path(archive_path).exists():
        raise ArchiveError(f"archive not found: {archive_path} (create it with `provenance archive add`)")
    with ArchiveStore.open(archive_path, create=False) as store:
        frames, search = archive_frames(store)
        matches = match_fingerprint(fp, frames, search, store.sightings, analysis.dihedral_pdq)
        if not analysis.features:
            return matches
        sha_number = {sha: n for n, sha in enumerate(frames.sha256)}
        # only the matched items' features are read to describe the matches
        matches = tuple(
            describe_geometry(fp, m, analysis.features, analysis.mirrored_features,
                              store.feature_frames(frames.ids[sha_number[m.sha256]])[1])
            for m in matches
        )
        if needs_features(fp, matches):
            # kept beside the archive like the hash index, keyed by the archive state it was built from
            index = open_descriptor_index(Path(f"{store.path}.features"), f"{store.archive_id()}:{store.generation()}",
                                          store.feature_frames)
            found = geometry_matches(fp, analysis.features, analysis.mirrored_features, index,
                                     lambda item_id: store.feature_frames(item_id)[1], frames, store.sightings,
                                     {m.sha256 for m in matches})
            matches = tuple(sorted(matches + found, key=lambda m: -m.score))
        return matches


def check(
    path: str,
    archive: str | None = None,
    *,
    params: SamplingParams | None = None,
    claimed_date: str | None = None,
    keyframes_dir: str | None = None,
    progress: Callable[[float, float | None], None] | None = None,
) -> CheckReport:
    """Fingerprint ``path`` and, with ``archive``, find where it appeared before.

    The input is opened read-only and nothing is written beside it; keyframes go only into
    ``keyframes_dir`` when one is given.
    """
    examined_at = utc_now()
    analysis = analyse(path, params, progress, features="query" if archive is not None else "none")
    fp = analysis.fingerprint
    matches: tuple[Match, ...] = ()
    appearance = None
    if archive is not None:
        matches = match_against(analysis, archive)
        appearance = earliest_appearance(matches, fp.metadata, claimed_date)
    keyframes, sheet = ((), None)
    if keyframes_dir is not None:
        keyframes, sheet_path = write_keyframes(fp.identity.path, fp, keyframes_dir)
        sheet = sheet_path or None
    return CheckReport(
        fingerprint=fp,
        archive=archive,
        matches=matches,
        appearance=appearance,
        keyframes=keyframes,
        contact_sheet=sheet,
        examined_at=examined_at,
    )
