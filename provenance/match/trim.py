"""The trim edit: the archived seconds that no segment of a match shows, named once they can be measured.

A match's verdict says whether the query holds (nearly) all of the item (``verdict.WHOLE_ITEM``); the trim
edit says which archived seconds are missing, which is a fact of its own: two seconds cut from the start of
a twenty-second clip leave 90% of it, a verdict of the same footage, and a trim all the same. A stretch is
named when it is longer than ``TRIM_RESOLUTION``, what the query's sampling (two a second) can tell from the
boundary's own uncertainty.
"""

from __future__ import annotations

from collections.abc import Sequence

from provenance.model import Edit, Segment

TRIM_RESOLUTION = 0.5  # seconds: a missing stretch shorter than the query's sampling step is not told apart


def missing_stretches(segments: Sequence[Segment], item_duration: float) -> list[tuple[float, float]]:
    """The (start, stop) archive seconds of the item that no segment shows, each longer than
    ``TRIM_RESOLUTION``, in time order."""
    missing, pos = [], 0.0
    for start, stop in sorted((s.archive_start, s.archive_end) for s in segments):
        if start - pos > TRIM_RESOLUTION:
            missing.append((pos, start))
        pos = max(pos, stop)
    if item_duration - pos > TRIM_RESOLUTION:
        missing.append((pos, item_duration))
    return missing


def trim_edit(segments: Sequence[Segment], item_duration: float, archive_cov: float, whole_item: float) -> Edit | None:
    """The trim edit of a match (``None`` when nothing measurable is missing): named when the segments
    cover less than ``whole_item`` of the item, or leave out a stretch longer than ``TRIM_RESOLUTION``."""
    missing = missing_stretches(segments, item_duration)
    if archive_cov >= whole_item and not missing:
        return None
    return Edit("trim", "archive seconds not in the query: "
                + (", ".join(f"{a:.1f}-{b:.1f}" for a, b in missing) or "none"))
