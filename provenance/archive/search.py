"""Search functions over archived frames: an exact scan for small archives, a kept index for large ones."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from provenance.archive.frame_cache import open_archive_frames
from provenance.archive.index import LinearIndex, SampledBitsIndex, open_sampled_index
from provenance.archive.searchable import ArchiveFrames, SearchFn
from provenance.archive.side_files import index_folder, legacy_index_file
from provenance.archive.store import ArchiveStore
from provenance.hashing.pdq import MIN_QUALITY, hex_to_pdq_bytes
from provenance.model import Fingerprint

LINEAR_SCAN_LIMIT = 200_000  # frames; below this a numpy scan is faster than building an index


def archive_frames(store: ArchiveStore) -> tuple[ArchiveFrames, SearchFn]:
    """The archive's usable frames (kept beside it as ``ARCHIVE.frames``) and a search function over them."""
    kept = open_archive_frames(store)
    # the index over many frames is kept beside the archive, keyed by the archive state it was built from
    with contextlib.suppress(OSError):
        legacy_index_file(store.path).unlink(missing_ok=True)  # where earlier versions kept it, as one file
    grown = (kept.grown_from, kept.earlier_rows) if kept.grown_from is not None else None
    return kept.frames, index_search(kept.frames.pdq, kept.frames.item_rows, index_folder(store.path), kept.key,
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
