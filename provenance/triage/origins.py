"""Where a triaged file came from, beyond its yt-dlp sidecar: a Telegram export's result.json, or its own name.

- A folder holding a Telegram Desktop export's ``result.json`` (``provenance.ingest.telegram``): each
  media file it names gets the sightings of the messages that posted it, with their exact UTC times
  (the thumbnail Telegram made of a posted video gets its post's, said so in ``recorded_from``).
  The walk lists ``result.json`` itself as skipped (it is not media); its reason then says it was read
  as the export's index, or why it could not be.
- A file that no export names, and whose sightings give no date, gets the date its name carries
  (``provenance.ingest.filename_dates``: a Telegram export's ``@DD-MM-YYYY_hh-mm-ss``, a yt-dlp
  ``[upload_date=...]``), said so in the sighting's ``recorded_from``.

This is applied to every path's hashed record after the pool, whether hashed in this run or taken from
the journal, so a resumed triage and a first one give the same sightings.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

from provenance.ingest.filename_dates import sighting_from_name
from provenance.ingest.telegram import INDEX_NAME, export_sightings
from provenance.match.appearance import parse_when
from provenance.model import Sighting
from provenance.triage.results import Hashed, Skipped, WalkResult

READ_INDEX = "Telegram export index, read: the sightings of its {media} media file(s) ({skipped} message(s) skipped)"
"""The skipped.csv reason of a Telegram export's result.json that was read."""
UNREAD_INDEX = "named like a Telegram export index, but not read: {why}"


@dataclass(frozen=True)
class Origins:
    """The sightings the batch's Telegram exports give, by normalised path."""

    by_path: dict[str, tuple[Sighting, ...]]


def read_exports(found: WalkResult) -> tuple[WalkResult, Origins]:
    """Read every Telegram export index the walk found; the walk result with their reasons, and their sightings."""
    by_path: dict[str, list[Sighting]] = {}
    skipped: list[Skipped] = []
    for entry in found.skipped:
        if os.path.basename(entry.path) != INDEX_NAME or not os.path.isfile(entry.path):
            skipped.append(entry)
            continue
        export, why = export_sightings(entry.path)
        if export is None:
            skipped.append(replace(entry, reason=UNREAD_INDEX.format(why=why)))
            continue
        for media in (*export.media, *export.thumbnails):
            by_path.setdefault(os.path.normpath(media.path), []).append(media.sighting)
        skipped.append(replace(entry, reason=READ_INDEX.format(media=len({m.path for m in export.media}),
                                                               skipped=len(export.skipped))))
    origins = Origins({path: tuple(found_here) for path, found_here in by_path.items()})
    return WalkResult(found.candidates, tuple(skipped)), origins


def with_origins(hashed: Sequence[Hashed], origins: Origins) -> tuple[Hashed, ...]:
    """Each path's hashed record with the sightings its export gives, else its name's date when it has no date."""
    out = []
    for h in hashed:
        posted = origins.by_path.get(os.path.normpath(h.path), ())
        if posted:
            out.append(replace(h, sightings=(*posted, *(s for s in h.sightings if s not in posted))))
            continue
        named = sighting_from_name(h.path)
        if named is not None and not any(parse_when(s.first_seen) for s in h.sightings):
            out.append(replace(h, sightings=(*h.sightings, named)))
        else:
            out.append(h)
    return tuple(out)
