"""Coverage and verdicts: how much of the query and of the item a match explains, and what that makes it.

One function decides the verdict of a match (``verdict``, words in ``VERDICTS``) and one the verdict
of a file against the whole archive (``archive_verdict``, words in ``ARCHIVE_VERDICTS``), so
``check``, ``report`` and ``triage`` use the same words and thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from provenance.model import Fingerprint, Match, Segment

WHOLE_QUERY = 0.8  # coverage of the query above which the query is all archived footage
WHOLE_ITEM = 0.9  # coverage of the item above which none of it was trimmed away

VERDICTS = {
    "identical": "identical file (same SHA-256)",
    "same": "same footage, re-encoded or edited",
    "clip_of_item": "query is a clip of the archived item",
    "contains_parts": "query contains parts of the archived item (compilation)",
    "item_is_clip": "archived item is a clip of the query",
}

ARCHIVE_VERDICTS = {
    "known": "known: the archive already holds this footage",
    "partly_known": "partly known: it contains archived footage",
    "new": "new: not in the archive",
}
"""What the archive knows of a file, most known first (``archive_verdict``)."""
WHOLE_FOOTAGE = frozenset({"identical", "same", "clip_of_item"})
"""Match verdicts that hold all of the query's footage."""


def union_length(intervals: list[tuple[float, float]]) -> float:
    """Total length covered by (start, stop) intervals, overlaps counted once."""
    total, end = 0.0, -np.inf
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def coverages(segments: Sequence[Segment], query_duration: float, item_duration: float, step: float, *,
              query_still: bool, item_still: bool) -> tuple[float, float]:
    """(share of the query, share of the item) that the segments cover, each in [0, 1].

    A still query is covered whole by any match; a still item is covered whole by any match and,
    matched by a still query, sits at archive time 0 with no length.
    """
    query_span = union_length([(s.query_start, s.query_end) for s in segments])
    if query_still:
        query_cov = 1.0
    elif item_still:
        query_cov = min(1.0, query_span / max(query_duration, step))
    else:
        query_cov = min(1.0, query_span / query_duration)
    if item_still:
        archive_cov = 1.0
    elif query_still:
        archive_cov = 0.0
    else:
        archive_cov = min(1.0, union_length([(s.archive_start, s.archive_end) for s in segments])
                          / max(item_duration, step))
    return query_cov, archive_cov


def density(agreeing: int, query_cov: float, query_duration: float, step: float, samples: int | None = None) -> float:
    """The share of the covered query's samples (one each ``step`` seconds, at most ``samples``) that agree."""
    expected = max(1, round(query_cov * query_duration / step) or 1)
    if samples is not None:
        expected = max(1, min(samples, expected))
    return min(1.0, agreeing / expected)


def verdict(identical: bool, query_cov: float, archive_cov: float) -> str:
    """The verdict name (a key of ``VERDICTS``) for a match with these coverages."""
    if identical:
        return "identical"
    if query_cov >= WHOLE_QUERY and archive_cov >= WHOLE_ITEM:
        return "same"
    if query_cov >= WHOLE_QUERY:
        return "clip_of_item"
    if archive_cov >= WHOLE_ITEM:
        return "item_is_clip"
    return "contains_parts"


def archive_verdict(query: Fingerprint, matches: Sequence[Match]) -> tuple[str, float]:
    """(a key of ``ARCHIVE_VERDICTS``, share of the query the matches cover together) for one file.

    Known: one match by its pictures holds all of the query (a verdict of ``WHOLE_FOOTAGE``), or the
    matches by pictures cover ``WHOLE_QUERY`` of it together (a compilation of archived clips); partly
    known: some of it is archived, its pictures or its sound; new: nothing matched. A match by the
    soundtrack alone (``Match.matched_by`` "soundtrack") makes a file partly known at most: its sound
    is archived, its pictures are not. The share counts every match's segments. A still is covered
    whole by any match.
    """
    if not matches:
        return "new", 0.0
    query_duration = max(query.duration, max((f.time for f in query.frames), default=0.0))
    pictures = [m for m in matches if m.matched_by != "soundtrack"]

    def covered(found: Sequence[Match]) -> float:
        if query.is_still or query_duration <= 0:
            return 1.0 if found else 0.0
        return min(1.0, union_length([(s.query_start, s.query_end) for m in found for s in m.segments])
                   / query_duration)

    coverage = covered(matches)
    if covered(pictures) >= WHOLE_QUERY or any(m.verdict in WHOLE_FOOTAGE for m in pictures):
        return "known", round(coverage, 4)
    return "partly_known", round(coverage, 4)
